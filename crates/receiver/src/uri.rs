//! [`ListenUri`]: what a receiver listens on, and what it is told to expect.
//!
//! `rtp://HOST:PORT`, `ws://HOST:PORT[/PATH]` or `http://HOST:PORT[/PATH]` (status events).
//! HOST is an IP literal (IPv6 in brackets) or `localhost`; PORT 0 lets the system pick one.
//! The query may say what the stream holds, for what the wire does not carry:
//! `codec=PCMU|PCMA`, `ptime=MS`, `channels=1|2` (an RTP stream names its codec in its
//! payload type and its ptime in its timestamps; a WebSocket stream without `announce` names
//! neither). A WebSocket connection's own request query is read the same way, so a tap URI
//! such as `ws://receiver:9000/audio?channels=2` tells the receiver per connection.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use g711::Law;

use crate::ReceiverError;

/// What a receiver listens for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Plain RTP over UDP: one socket, streams split by source and SSRC.
    Rtp,
    /// WebSocket over TCP (no TLS): each connection is one stream.
    Ws,
    /// HTTP POSTs of status events.
    Http,
}

impl Transport {
    /// The URI scheme.
    pub fn scheme(self) -> &'static str {
        match self {
            Transport::Rtp => "rtp",
            Transport::Ws => "ws",
            Transport::Http => "http",
        }
    }
}

/// What the sender does not say on the wire; `None` means "find out from the stream".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Expect {
    /// The codec (WebSocket audio carries no payload type).
    pub codec: Option<Law>,
    /// The packetization time in ms.
    pub ptime_ms: Option<u32>,
    /// 1, or 2 for a `stereo` tap.
    pub channels: Option<u16>,
}

impl Expect {
    /// Reads `codec`, `ptime` and `channels` from a URI query (`a=b&c=d`); other keys are an
    /// error naming them.
    pub fn from_query(query: &str) -> Result<Expect, String> {
        let mut expect = Expect::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "codec" => {
                    expect.codec =
                        Some(Law::from_name(value).ok_or_else(|| {
                            format!("codec: expected PCMU or PCMA, found {value:?}")
                        })?);
                }
                "ptime" => {
                    let ms: u32 = value
                        .parse()
                        .map_err(|_| format!("ptime: expected milliseconds, found {value:?}"))?;
                    if !valid_ptime(ms) {
                        return Err(format!(
                            "ptime: expected 10 to 120, a multiple of 10, found {ms}"
                        ));
                    }
                    expect.ptime_ms = Some(ms);
                }
                "channels" => {
                    expect.channels = Some(match value {
                        "1" => 1,
                        "2" => 2,
                        _ => return Err(format!("channels: expected 1 or 2, found {value:?}")),
                    });
                }
                other => {
                    return Err(format!(
                        "unknown query key {other:?} (known: codec, ptime, channels)"
                    ));
                }
            }
        }
        Ok(expect)
    }
}

/// Whether `ms` is a ptime the tap contract allows: 10 to 120, a multiple of 10.
pub fn valid_ptime(ms: u32) -> bool {
    (10..=120).contains(&ms) && ms.is_multiple_of(10)
}

/// A parsed listen URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenUri {
    /// RTP, WebSocket or HTTP.
    pub transport: Transport,
    /// The address to bind.
    pub addr: SocketAddr,
    /// What the streams are expected to hold.
    pub expect: Expect,
}

impl ListenUri {
    /// Parses `uri`; every error says what is wrong.
    pub fn parse(uri: &str) -> Result<ListenUri, ReceiverError> {
        let bad = |reason: String| ReceiverError::BadUri {
            uri: uri.to_string(),
            reason,
        };
        let (scheme, rest) = uri.split_once("://").ok_or_else(|| {
            bad("expected rtp://HOST:PORT, ws://HOST:PORT or http://HOST:PORT".into())
        })?;
        let transport = match scheme.to_ascii_lowercase().as_str() {
            "rtp" => Transport::Rtp,
            "ws" => Transport::Ws,
            "http" => Transport::Http,
            "wss" | "https" => {
                return Err(bad(format!(
                    "{scheme}: this receiver speaks no TLS; put a TLS-terminating proxy in \
                     front of a ws:// or http:// receiver"
                )));
            }
            other => return Err(bad(format!("unknown scheme {other:?}"))),
        };
        let (authority, tail) = match rest.find(['/', '?']) {
            Some(at) => rest.split_at(at),
            None => (rest, ""),
        };
        let query = tail.split_once('?').map_or("", |(_, q)| q);
        if transport == Transport::Rtp && tail.starts_with('/') && tail.len() > 1 {
            return Err(bad("an rtp:// URI has no path".into()));
        }
        let (host, port) = authority
            .rsplit_once(':')
            .ok_or_else(|| bad("expected HOST:PORT".into()))?;
        let port: u16 = port
            .parse()
            .map_err(|_| bad(format!("{port:?} is not a port")))?;
        let ip: IpAddr = if host.eq_ignore_ascii_case("localhost") {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            v6.parse()
                .map_err(|_| bad(format!("{host:?} is not an IPv6 address")))?
        } else {
            host.parse()
                .map_err(|_| bad(format!("{host:?} is not an IP address (or localhost)")))?
        };
        let expect = Expect::from_query(query).map_err(bad)?;
        Ok(ListenUri {
            transport,
            addr: SocketAddr::new(ip, port),
            expect,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_parse_with_their_expectations() {
        let u = ListenUri::parse("rtp://127.0.0.1:4000").expect("rtp");
        assert_eq!(u.transport, Transport::Rtp);
        assert_eq!(u.addr, SocketAddr::from(([127, 0, 0, 1], 4000)));
        assert_eq!(u.expect, Expect::default());
        let u = ListenUri::parse("ws://[::1]:0/audio?codec=pcma&ptime=30&channels=2").expect("ws");
        assert_eq!(u.transport, Transport::Ws);
        assert_eq!(u.addr.port(), 0);
        assert!(u.addr.ip().is_ipv6());
        assert_eq!(u.expect.codec, Some(Law::Alaw));
        assert_eq!(u.expect.ptime_ms, Some(30));
        assert_eq!(u.expect.channels, Some(2));
        let u = ListenUri::parse("http://localhost:8080/events").expect("http");
        assert_eq!(u.transport, Transport::Http);
        assert_eq!(u.addr.ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
    }

    #[test]
    fn bad_uris_say_what_is_wrong() {
        let err = |s: &str| match ListenUri::parse(s) {
            Err(ReceiverError::BadUri { reason, .. }) => reason,
            other => panic!("{s}: expected a BadUri, got {other:?}"),
        };
        assert!(err("udp://1.2.3.4:5").contains("unknown scheme"));
        assert!(err("wss://1.2.3.4:5").contains("no TLS"));
        assert!(err("rtp://1.2.3.4").contains("HOST:PORT"));
        assert!(err("rtp://example.com:5").contains("not an IP address"));
        assert!(err("rtp://1.2.3.4:70000").contains("not a port"));
        assert!(err("ws://1.2.3.4:5/?ptime=25").contains("multiple of 10"));
        assert!(err("ws://1.2.3.4:5/?rate=16000").contains("unknown query key"));
        assert!(err("rtp://1.2.3.4:5/x").contains("no path"));
    }
}
