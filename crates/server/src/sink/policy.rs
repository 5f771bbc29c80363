//! [`DestinationPolicy`]: which tap and status destinations a node may send to (`tap.md` §8),
//! and [`Host`]: the strict parse of a destination's host.
//!
//! The default policy allows everything (a developer laptop). With `deny_private`, as a hosted
//! node must, an address is denied when it is loopback, private (10/8, 172.16/12, 192.168/16,
//! fc00::/7, and the deprecated site-local fec0::/10), link-local (169.254/16, fe80::/10),
//! unspecified or "this network" (0/8, ::), broadcast, multicast (224/4, ff00::/8), reserved
//! (240/4), shared address space (CGNAT, 100.64/10), or one of the node's own addresses. IPv6
//! forms that embed an IPv4 address (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible `::a.b.c.d`,
//! NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) are judged by the IPv4 address they carry.
//!
//! The policy judges addresses **after** resolution, and a name is resolved once: the sink
//! then connects to the address that was judged, never to a second answer for the same name.
//! A name any of whose addresses is denied is denied as a whole (a name that mixes public and
//! private answers is the shape of a rebinding attack).
//!
//! # Numeric hosts
//!
//! Resolvers (`getaddrinfo`, `inet_aton`) accept IPv4 in forms no URI should carry:
//! `2130706433`, `0x7f.1`, `0177.0.0.1`, `127.1` all mean 127.0.0.1. The rule of [`Host::parse`]:
//! an IPv4 literal is exactly four decimal parts of 0–255 without leading zeros; any other host
//! whose last label begins with a digit is **rejected** (no top-level domain begins with a
//! digit, RFC 3696 §2), so such a string never reaches a resolver as a "name". Status URLs are
//! parsed by the WHATWG URL parser instead, which turns those forms into the IPv4 address they
//! mean; that address is then judged like any other.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Why an address is denied under `deny_private`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    /// 127/8, ::1.
    Loopback,
    /// 10/8, 172.16/12, 192.168/16, fc00::/7, fec0::/10.
    Private,
    /// 169.254/16, fe80::/10.
    LinkLocal,
    /// 0/8, ::.
    Unspecified,
    /// 255.255.255.255.
    Broadcast,
    /// 224/4, ff00::/8.
    Multicast,
    /// 240/4 (other than broadcast).
    Reserved,
    /// 100.64/10, the shared address space of carrier-grade NAT (RFC 6598).
    SharedCgnat,
    /// One of the node's own addresses.
    Own,
}

impl AddressClass {
    /// A short name for logs.
    pub const fn name(self) -> &'static str {
        match self {
            AddressClass::Loopback => "loopback",
            AddressClass::Private => "private",
            AddressClass::LinkLocal => "link-local",
            AddressClass::Unspecified => "unspecified",
            AddressClass::Broadcast => "broadcast",
            AddressClass::Multicast => "multicast",
            AddressClass::Reserved => "reserved",
            AddressClass::SharedCgnat => "shared address space",
            AddressClass::Own => "the node's own",
        }
    }
}

/// An address the policy does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("destination {addr} is denied: {} address", class.name())]
pub struct Denied {
    /// The address.
    pub addr: IpAddr,
    /// Why.
    pub class: AddressClass,
}

/// Why a destination could not be resolved to an allowed address.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// The name did not resolve.
    #[error("{host}: DNS lookup failed: {source}")]
    Lookup {
        /// The name.
        host: String,
        /// The resolver's error.
        source: std::io::Error,
    },
    /// The name resolved to no address.
    #[error("{host}: DNS lookup returned no address")]
    NoAddress {
        /// The name.
        host: String,
    },
    /// The address (or one of the name's addresses) is denied.
    #[error(transparent)]
    Denied(#[from] Denied),
}

/// The node's destination policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DestinationPolicy {
    /// Deny the address classes of [`AddressClass`].
    pub deny_private: bool,
    /// The node's own addresses, denied with `deny_private` (its public address, behind which
    /// its own SIP and RTP ports listen).
    pub own_addrs: Vec<IpAddr>,
}

impl DestinationPolicy {
    /// The default policy: everything allowed.
    pub fn allow_all() -> DestinationPolicy {
        DestinationPolicy::default()
    }

    /// The policy of a hosted node: private destinations and `own_addrs` denied.
    pub fn deny_private(own_addrs: Vec<IpAddr>) -> DestinationPolicy {
        DestinationPolicy {
            deny_private: true,
            own_addrs,
        }
    }

    /// Whether `addr` may be sent to.
    pub fn check(&self, addr: IpAddr) -> Result<(), Denied> {
        if !self.deny_private {
            return Ok(());
        }
        let judged = canonical(addr);
        if self.own_addrs.iter().any(|own| canonical(*own) == judged) {
            return Err(Denied {
                addr,
                class: AddressClass::Own,
            });
        }
        match classify(judged) {
            Some(class) => Err(Denied { addr, class }),
            None => Ok(()),
        }
    }

    /// Resolves `host` (once) and judges every address it yields; returns the first.
    pub async fn resolve(&self, host: &Host, port: u16) -> Result<SocketAddr, ResolveError> {
        let addrs: Vec<SocketAddr> = match host {
            Host::Ip(ip) => vec![SocketAddr::new(*ip, port)],
            Host::Name(name) => tokio::net::lookup_host((name.as_str(), port))
                .await
                .map_err(|source| ResolveError::Lookup {
                    host: name.clone(),
                    source,
                })?
                .collect(),
        };
        for addr in &addrs {
            self.check(addr.ip())?;
        }
        addrs
            .first()
            .copied()
            .ok_or_else(|| ResolveError::NoAddress {
                host: host.to_string(),
            })
    }
}

/// An IPv6 address that embeds an IPv4 address, as that IPv4 address; anything else unchanged.
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => addr,
        IpAddr::V6(v6) => embedded_v4(v6).map_or(addr, IpAddr::V4),
    }
}

fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible; not :: and ::1, judged as IPv6).
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(tail),
        [0, 0, 0, 0, 0, 0, hi, _] if hi != 0 => Some(tail),
        // NAT64 well-known prefix.
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(tail),
        // 6to4: 2002:aabb:ccdd::/48.
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::new(
            (hi >> 8) as u8,
            hi as u8,
            (lo >> 8) as u8,
            lo as u8,
        )),
        _ => None,
    }
}

fn classify(addr: IpAddr) -> Option<AddressClass> {
    match addr {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(v4: Ipv4Addr) -> Option<AddressClass> {
    let [a, b, ..] = v4.octets();
    Some(if v4.is_broadcast() {
        AddressClass::Broadcast
    } else if a == 0 {
        AddressClass::Unspecified
    } else if a == 127 {
        AddressClass::Loopback
    } else if a == 10 || (a == 172 && (16..32).contains(&b)) || (a == 192 && b == 168) {
        AddressClass::Private
    } else if a == 169 && b == 254 {
        AddressClass::LinkLocal
    } else if a == 100 && (64..128).contains(&b) {
        AddressClass::SharedCgnat
    } else if (224..240).contains(&a) {
        AddressClass::Multicast
    } else if a >= 240 {
        AddressClass::Reserved
    } else {
        return None;
    })
}

fn classify_v6(v6: Ipv6Addr) -> Option<AddressClass> {
    let first = v6.segments()[0];
    Some(if v6.is_unspecified() {
        AddressClass::Unspecified
    } else if v6.is_loopback() {
        AddressClass::Loopback
    } else if first & 0xfe00 == 0xfc00 || first & 0xffc0 == 0xfec0 {
        AddressClass::Private
    } else if first & 0xffc0 == 0xfe80 {
        AddressClass::LinkLocal
    } else if first & 0xff00 == 0xff00 {
        AddressClass::Multicast
    } else {
        return None;
    })
}

/// A destination's host, parsed by the rule of the module documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// An IPv4 literal or a bracketed IPv6 literal.
    Ip(IpAddr),
    /// A DNS name, lower-cased, without a trailing dot.
    Name(String),
}

/// Why a host was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    /// Empty.
    #[error("empty host")]
    Empty,
    /// Brackets that do not hold an IPv6 address (zone identifiers are not accepted).
    #[error("{host:?} is not an IPv6 literal")]
    BadIpv6 {
        /// The host as given.
        host: String,
    },
    /// A numeric form other than a dotted quad (`2130706433`, `0177.0.0.1`, `127.1`, `0x7f.1`).
    #[error("{host:?} is not a dotted-quad IPv4 address or a DNS name")]
    AmbiguousNumeric {
        /// The host as given.
        host: String,
    },
    /// Not a valid DNS name.
    #[error("{host:?} is not a valid DNS name")]
    BadName {
        /// The host as given.
        host: String,
    },
}

impl Host {
    /// Parses the host part of a URI: `a.b.c.d`, `[v6]` or a DNS name.
    pub fn parse(host: &str) -> Result<Host, HostError> {
        if host.is_empty() {
            return Err(HostError::Empty);
        }
        if let Some(inner) = host.strip_prefix('[') {
            return inner
                .strip_suffix(']')
                .and_then(|v6| v6.parse::<Ipv6Addr>().ok())
                .map(|v6| Host::Ip(IpAddr::V6(v6)))
                .ok_or_else(|| HostError::BadIpv6 {
                    host: host.to_owned(),
                });
        }
        // Rust's parser takes exactly four decimal parts, no leading zeros.
        if let Ok(v4) = host.parse::<Ipv4Addr>() {
            return Ok(Host::Ip(IpAddr::V4(v4)));
        }
        let name = host.strip_suffix('.').unwrap_or(host);
        let last = name.rsplit('.').next().unwrap_or(name);
        if last.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(HostError::AmbiguousNumeric {
                host: host.to_owned(),
            });
        }
        let label_ok = |l: &str| {
            (1..=63).contains(&l.len())
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if name.len() > 253 || !name.split('.').all(label_ok) {
            return Err(HostError::BadName {
                host: host.to_owned(),
            });
        }
        Ok(Host::Name(name.to_ascii_lowercase()))
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Ip(IpAddr::V6(v6)) => write!(f, "[{v6}]"),
            Host::Ip(ip) => write!(f, "{ip}"),
            Host::Name(name) => f.write_str(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address literal")
    }

    fn class(s: &str) -> Option<AddressClass> {
        DestinationPolicy::deny_private(vec![])
            .check(ip(s))
            .err()
            .map(|d| d.class)
    }

    #[test]
    fn allow_all_allows_everything() {
        let p = DestinationPolicy::allow_all();
        for a in ["127.0.0.1", "10.0.0.1", "::1", "169.254.169.254", "0.0.0.0"] {
            assert_eq!(p.check(ip(a)), Ok(()), "{a}");
        }
    }

    #[test]
    fn ipv4_classes() {
        use AddressClass::*;
        let cases = [
            ("127.0.0.1", Some(Loopback)),
            ("127.255.255.254", Some(Loopback)),
            ("10.1.2.3", Some(Private)),
            ("172.16.0.1", Some(Private)),
            ("172.31.255.255", Some(Private)),
            ("172.32.0.1", None),
            ("172.15.255.255", None),
            ("192.168.1.1", Some(Private)),
            ("192.169.0.1", None),
            ("169.254.169.254", Some(LinkLocal)),
            ("0.0.0.0", Some(Unspecified)),
            ("0.1.2.3", Some(Unspecified)),
            ("255.255.255.255", Some(Broadcast)),
            ("224.0.0.1", Some(Multicast)),
            ("239.255.255.255", Some(Multicast)),
            ("240.0.0.1", Some(Reserved)),
            ("100.64.0.1", Some(SharedCgnat)),
            ("100.127.255.255", Some(SharedCgnat)),
            ("100.128.0.1", None),
            ("100.63.255.255", None),
            ("203.0.113.5", None),
            ("8.8.8.8", None),
        ];
        for (a, want) in cases {
            assert_eq!(class(a), want, "{a}");
        }
    }

    #[test]
    fn ipv6_classes() {
        use AddressClass::*;
        let cases = [
            ("::1", Some(Loopback)),
            ("::", Some(Unspecified)),
            ("fc00::1", Some(Private)),
            ("fdff:ffff::1", Some(Private)),
            ("fec0::1", Some(Private)),
            ("fe80::1", Some(LinkLocal)),
            ("febf::1", Some(LinkLocal)),
            ("ff02::1", Some(Multicast)),
            ("2001:db8::1", None),
            ("2606:4700::1111", None),
        ];
        for (a, want) in cases {
            assert_eq!(class(a), want, "{a}");
        }
    }

    #[test]
    fn ipv6_forms_of_ipv4_are_judged_as_ipv4() {
        use AddressClass::*;
        let cases = [
            ("::ffff:127.0.0.1", Some(Loopback)),
            ("::ffff:7f00:1", Some(Loopback)),
            ("::ffff:10.0.0.1", Some(Private)),
            ("::ffff:169.254.169.254", Some(LinkLocal)),
            ("::ffff:100.64.1.1", Some(SharedCgnat)),
            ("::ffff:0.0.0.0", Some(Unspecified)),
            ("::127.0.0.1", Some(Loopback)),
            ("64:ff9b::10.0.0.1", Some(Private)),
            ("64:ff9b::7f00:1", Some(Loopback)),
            ("2002:7f00:1::", Some(Loopback)),
            ("2002:c0a8:101::1", Some(Private)),
            ("::ffff:203.0.113.5", None),
            ("64:ff9b::8.8.8.8", None),
        ];
        for (a, want) in cases {
            assert_eq!(class(a), want, "{a}");
        }
    }

    #[test]
    fn own_addresses_are_denied_in_every_form() {
        let p = DestinationPolicy::deny_private(vec![ip("203.0.113.7")]);
        for a in ["203.0.113.7", "::ffff:203.0.113.7"] {
            assert_eq!(
                p.check(ip(a)).map_err(|d| d.class),
                Err(AddressClass::Own),
                "{a}"
            );
        }
        assert_eq!(p.check(ip("203.0.113.8")), Ok(()));
    }

    #[test]
    fn hosts_parse_strictly() {
        assert_eq!(Host::parse("203.0.113.5"), Ok(Host::Ip(ip("203.0.113.5"))));
        assert_eq!(Host::parse("[::1]"), Ok(Host::Ip(ip("::1"))));
        assert_eq!(
            Host::parse("Media.Example.COM."),
            Ok(Host::Name("media.example.com".into()))
        );
        assert_eq!(
            Host::parse("a-1.b_c.io"),
            Ok(Host::Name("a-1.b_c.io".into()))
        );
        for numeric in [
            "2130706433",
            "0177.0.0.1",
            "0x7f.0.0.1",
            "0x7f000001",
            "127.1",
            "127.0.1",
            "127.000.000.001",
            "1.2.3.4.5",
            "017700000001",
            "10.0.0.01",
        ] {
            assert!(
                matches!(
                    Host::parse(numeric),
                    Err(HostError::AmbiguousNumeric { .. })
                ),
                "{numeric}"
            );
        }
        for bad in [
            "",
            "[::1",
            "[fe80::1%eth0]",
            "[127.0.0.1]",
            "-a.com",
            "a..b",
            "a b",
        ] {
            assert!(Host::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn display_round_trips() {
        for h in ["203.0.113.5", "[2001:db8::1]", "media.example.com"] {
            assert_eq!(Host::parse(h).expect("valid host").to_string(), h);
        }
    }

    #[tokio::test]
    async fn resolve_judges_literals_and_names() {
        let p = DestinationPolicy::deny_private(vec![]);
        let loopback = Host::parse("127.0.0.1").expect("literal");
        assert!(matches!(
            p.resolve(&loopback, 4000).await,
            Err(ResolveError::Denied(Denied {
                class: AddressClass::Loopback,
                ..
            }))
        ));
        let name = Host::parse("localhost").expect("name");
        assert!(matches!(
            p.resolve(&name, 4000).await,
            Err(ResolveError::Denied(_))
        ));
        let open = DestinationPolicy::allow_all();
        let addr = open.resolve(&loopback, 4000).await.expect("allowed");
        assert_eq!(addr, "127.0.0.1:4000".parse().expect("addr"));
    }
}
