//! [`TapUri`]: the `uri` of a tap (`tap.md` §1): `rtp://HOST:PORT`, `ws://…` or `wss://…`.
//!
//! HOST follows [`Host::parse`](crate::sink::policy::Host::parse): a dotted-quad IPv4 literal,
//! a bracketed IPv6 literal or a DNS name; numeric forms a resolver would read as IPv4
//! (`2130706433`, `0177.0.0.1`) are rejected. User information (`user@`) is rejected: it has no
//! meaning for either scheme, and hides the real host from a reader. An `rtp://` URI has
//! nothing after the port; a WebSocket URI may have a path and a query, not a fragment.

use std::fmt;

use crate::sink::policy::{Host, HostError};

/// A parsed tap destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapUri {
    /// The scheme.
    pub scheme: Scheme,
    /// The host.
    pub host: Host,
    /// The port (explicit, or 80/443 for `ws`/`wss`).
    pub port: u16,
    /// Path and query of a WebSocket URI (`/` when absent); empty for RTP.
    pub path: String,
    port_given: bool,
    original: String,
}

/// The scheme of a [`TapUri`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `rtp://`
    Rtp,
    /// `ws://`
    Ws,
    /// `wss://`
    Wss,
}

/// Why a `uri` was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    /// Not `rtp://`, `ws://` or `wss://`.
    #[error("unsupported scheme in {uri:?}: expected rtp://, ws:// or wss://")]
    Scheme {
        /// The URI as given.
        uri: String,
    },
    /// `user@host`.
    #[error("user information is not accepted in {uri:?}")]
    UserInfo {
        /// The URI as given.
        uri: String,
    },
    /// The host is not acceptable.
    #[error("bad host in {uri:?}: {source}")]
    Host {
        /// The URI as given.
        uri: String,
        /// Why.
        source: HostError,
    },
    /// The port is missing (RTP), not a number, or 0.
    #[error("bad or missing port in {uri:?}")]
    Port {
        /// The URI as given.
        uri: String,
    },
    /// Something after the port of an `rtp://` URI, a fragment, or a character not allowed.
    #[error("unexpected characters in {uri:?}")]
    Trailing {
        /// The URI as given.
        uri: String,
    },
}

/// `uri` with the user information of its authority, if any, replaced by `***`.
fn masked(uri: &str) -> String {
    let Some(start) = uri.find("://").map(|i| i + 3) else {
        return uri.to_owned();
    };
    let rest = &uri[start..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    match authority.rfind('@') {
        Some(at) => format!("{}***{}", &uri[..start], &rest[at..]),
        None => uri.to_owned(),
    }
}

impl TapUri {
    /// Parses a tap `uri`.
    pub fn parse(uri: &str) -> Result<TapUri, UriError> {
        // Errors are logged: they show the URI with any user information masked, since that
        // is where a password would be.
        let err_uri = || masked(uri);
        let (scheme, rest) = if let Some(r) = strip_prefix_ci(uri, "rtp://") {
            (Scheme::Rtp, r)
        } else if let Some(r) = strip_prefix_ci(uri, "wss://") {
            (Scheme::Wss, r)
        } else if let Some(r) = strip_prefix_ci(uri, "ws://") {
            (Scheme::Ws, r)
        } else {
            return Err(UriError::Scheme { uri: err_uri() });
        };
        if uri
            .bytes()
            .any(|b| b <= b' ' || b == 0x7f || b == b'#' || b == b'\\' || !b.is_ascii())
        {
            return Err(UriError::Trailing { uri: err_uri() });
        }
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        if authority.contains('@') {
            return Err(UriError::UserInfo { uri: err_uri() });
        }
        // The port is after the last ':' outside brackets.
        let (host, port) = match authority.rfind(':') {
            Some(i) if !authority[i..].contains(']') => {
                (&authority[..i], Some(&authority[i + 1..]))
            }
            _ => (authority, None),
        };
        let host = Host::parse(host).map_err(|source| UriError::Host {
            uri: err_uri(),
            source,
        })?;
        let port_given = port.is_some();
        let port = match (port, scheme) {
            (Some(p), _) => parse_port(p).ok_or_else(|| UriError::Port { uri: err_uri() })?,
            (None, Scheme::Ws) => 80,
            (None, Scheme::Wss) => 443,
            (None, Scheme::Rtp) => return Err(UriError::Port { uri: err_uri() }),
        };
        let path = match scheme {
            Scheme::Rtp if !path.is_empty() => return Err(UriError::Trailing { uri: err_uri() }),
            Scheme::Rtp => String::new(),
            _ if path.is_empty() => "/".to_owned(),
            _ if path.starts_with('?') => format!("/{path}"),
            _ => path.to_owned(),
        };
        Ok(TapUri {
            scheme,
            host,
            port,
            path,
            port_given,
            original: uri.to_owned(),
        })
    }

    /// The URI as given (what `tap_uri` and a WebSocket device's `uri` report).
    pub fn as_str(&self) -> &str {
        &self.original
    }

    /// The URI a WebSocket client requests: scheme, host, the port if one was given, path;
    /// scheme and host lower-cased.
    pub fn request_uri(&self) -> String {
        let scheme = match self.scheme {
            Scheme::Rtp => "rtp",
            Scheme::Ws => "ws",
            Scheme::Wss => "wss",
        };
        if self.port_given {
            format!("{scheme}://{}:{}{}", self.host, self.port, self.path)
        } else {
            format!("{scheme}://{}{}", self.host, self.path)
        }
    }
}

impl fmt::Display for TapUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

fn parse_port(p: &str) -> Option<u16> {
    if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    p.parse::<u16>().ok().filter(|&p| p != 0)
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;

    fn ok(uri: &str) -> TapUri {
        TapUri::parse(uri).expect("a valid tap uri")
    }

    #[test]
    fn a_rejected_uri_never_shows_its_password() {
        for uri in [
            "ws://user:s3cret@example.com/x",
            "wss://s3cret@example.com:443",
            "rtp://u:s3cret@10.0.0.1:4000",
            "ws://user:s3cret@exa mple.com/",
        ] {
            let error = TapUri::parse(uri).expect_err("user information is rejected");
            let shown = error.to_string();
            assert!(!shown.contains("s3cret"), "{shown}");
            assert!(shown.contains("***@"), "{shown}");
        }
        assert_eq!(masked("ws://a:b@h/p?q=x@y"), "ws://***@h/p?q=x@y");
        assert_eq!(masked("ws://h/p@x"), "ws://h/p@x");
    }

    #[test]
    fn rtp_uris() {
        let u = ok("rtp://203.0.113.5:4000");
        assert_eq!(u.scheme, Scheme::Rtp);
        assert_eq!(
            u.host,
            Host::Ip("203.0.113.5".parse::<IpAddr>().expect("ip"))
        );
        assert_eq!(u.port, 4000);
        assert_eq!(ok("RTP://[2001:db8::1]:5004").port, 5004);
        assert_eq!(
            ok("rtp://media.example.com:4000").host,
            Host::Name("media.example.com".into())
        );
    }

    #[test]
    fn ws_uris() {
        let u = ok("wss://tap.example.com/stream?id=7");
        assert_eq!(
            (u.scheme, u.port, u.path.as_str()),
            (Scheme::Wss, 443, "/stream?id=7")
        );
        assert_eq!(u.request_uri(), "wss://tap.example.com/stream?id=7");
        assert_eq!(
            ok("WS://Tap.Example.com:8080").request_uri(),
            "ws://tap.example.com:8080/"
        );
        let u = ok("ws://127.0.0.1:9000");
        assert_eq!((u.port, u.path.as_str()), (9000, "/"));
        assert_eq!(ok("ws://[::1]:81?x=1").path, "/?x=1");
        assert_eq!(u.as_str(), "ws://127.0.0.1:9000");
    }

    #[test]
    fn rejected_uris() {
        for bad in [
            "rtp://2130706433:4000",
            "rtp://0177.0.0.1:4000",
            "rtp://0x7f.1:4000",
            "ws://127.1/",
            "rtp://203.0.113.5",
            "rtp://203.0.113.5:0",
            "rtp://203.0.113.5:65536",
            "rtp://203.0.113.5:+40",
            "rtp://203.0.113.5:4000/x",
            "rtp://user@203.0.113.5:4000",
            "ws://a@evil.example.com@good.example.com/",
            "ws://example.com/#frag",
            "ws://exa mple.com/",
            "http://example.com/",
            "udp://203.0.113.5:4000",
            "rtp://:4000",
            "rtp://[::1:4000",
        ] {
            assert!(TapUri::parse(bad).is_err(), "{bad}");
        }
    }
}
