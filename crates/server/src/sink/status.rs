//! [`StatusPoster`]: the status events of a tap (`tap.md` §5), POSTed to its `status_url`.
//!
//! Bodies are the exact JSON of §5 ([`body`]), keys in the contract's order. Each tap gets a
//! [`StatusChannel`]: one queue drained by one task, so its events are delivered **in order**
//! (`finished` is never POSTed before `tapping` has been delivered or given up), and
//! [`StatusChannel::post`] only enqueues: it never blocks the call or its media.
//!
//! Delivery of one event: a 2xx ends it. A network error, no answer within
//! [`StatusConfig::timeout`] (5 s), or a 5xx is retried after 0.5 s, 1 s and 2 s (four
//! attempts in all); any other answer (4xx, and 1xx/3xx: redirects are not followed, they
//! could lead past the destination policy) ends it as failed at once. An event given up is
//! logged with its body and counted; none is silently lost.
//!
//! `user:pass@` in the URL becomes HTTP Basic auth and is stripped from the URL. With a
//! signing key, every POST carries `X-Earshot-Signature`: the lower-case hex HMAC-SHA256 of
//! the raw body. The destination policy judges an IP-literal host when the channel is made,
//! and every address a name resolves to before the connection (no proxy is used: it would
//! hide the destination from the policy).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use g711::Law;
use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use ring::hmac;
use serde::Serialize;
use tap::{Direction, Ptime};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::sink::policy::{Denied, DestinationPolicy};
use crate::sink::ws::codec_name;
use crate::sink::{Reason, SinkStats};

/// The signature header.
pub const SIGNATURE_HEADER: &str = "X-Earshot-Signature";

/// Node-level settings of status events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusConfig {
    /// `project_id` of every event.
    pub project_id: String,
    /// `space_id` of every event.
    pub space_id: String,
    /// `params.node_id` of every event.
    pub node_id: String,
    /// The HMAC-SHA256 key of `X-Earshot-Signature`; none, no header.
    pub signing_key: Option<Vec<u8>>,
    /// How long one attempt may take.
    pub timeout: Duration,
    /// The waits before the second, third, … attempts.
    pub backoff: Vec<Duration>,
}

impl Default for StatusConfig {
    fn default() -> Self {
        StatusConfig {
            project_id: String::new(),
            space_id: String::new(),
            node_id: String::new(),
            signing_key: None,
            timeout: Duration::from_secs(5),
            backoff: vec![
                Duration::from_millis(500),
                Duration::from_secs(1),
                Duration::from_secs(2),
            ],
        }
    }
}

/// The destination of a tap, as events describe it (`device`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Device {
    /// An RTP tap.
    Rtp {
        /// The destination address.
        addr: IpAddr,
        /// The destination port.
        port: u16,
        /// The tap's codec.
        codec: Law,
        /// The tap's ptime.
        ptime: Ptime,
    },
    /// An RTP tap that never started before its destination was resolved (invalid, denied or
    /// unresolvable): the host and port as written; the port is `null` when the URI had none.
    RtpUnresolved {
        /// The host as written.
        host: String,
        /// The port as written.
        port: Option<u16>,
        /// The tap's codec.
        codec: Law,
        /// The tap's ptime.
        ptime: Ptime,
    },
    /// A WebSocket tap.
    Ws {
        /// The URI as given.
        uri: String,
        /// The tap's codec.
        codec: Law,
    },
}

/// The state an event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TapState {
    /// The sink is ready.
    Tapping,
    /// The tap has ended, exactly once.
    Finished {
        /// Why.
        reason: Reason,
        /// What the sink did.
        stats: SinkStats,
    },
}

/// One status event of one tap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapEvent {
    /// The SWML session's id (`event_channel` is `swml:<it>`).
    pub session_id: String,
    /// The call's id.
    pub call_id: String,
    /// The call leg's id.
    pub segment_id: String,
    /// The tap's `tag`, reported only when set.
    pub tag: Option<String>,
    /// The tap's control id.
    pub control_id: String,
    /// The state.
    pub state: TapState,
    /// The tap's direction.
    pub direction: Direction,
    /// The destination.
    pub device: Device,
}

/// The exact JSON body of `event` at `at` (`tap.md` §5).
pub fn body(config: &StatusConfig, event: &TapEvent, at: SystemTime) -> String {
    #[derive(Serialize)]
    struct Body<'a> {
        event_type: &'static str,
        event_channel: String,
        timestamp: f64,
        project_id: &'a str,
        space_id: &'a str,
        params: Params<'a>,
    }
    #[derive(Serialize)]
    struct Params<'a> {
        call_id: &'a str,
        node_id: &'a str,
        segment_id: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        tag: Option<&'a str>,
        control_id: &'a str,
        state: &'static str,
        tap: TapJson,
        device: DeviceJson,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<Reason>,
        #[serde(skip_serializing_if = "Option::is_none")]
        stats: Option<SinkStats>,
    }
    #[derive(Serialize)]
    struct TapJson {
        r#type: &'static str,
        params: DirectionJson,
    }
    #[derive(Serialize)]
    struct DirectionJson {
        direction: &'static str,
    }
    #[derive(Serialize)]
    #[serde(tag = "type", content = "params", rename_all = "lowercase")]
    enum DeviceJson {
        Rtp {
            addr: String,
            port: Option<u16>,
            codec: &'static str,
            ptime: u32,
        },
        Ws {
            uri: String,
            codec: &'static str,
        },
    }
    let millis = at
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let (state, reason, stats) = match event.state {
        TapState::Tapping => ("tapping", None, None),
        TapState::Finished { reason, stats } => ("finished", Some(reason), Some(stats)),
    };
    let device = match &event.device {
        Device::Rtp {
            addr,
            port,
            codec,
            ptime,
        } => DeviceJson::Rtp {
            addr: addr.to_string(),
            port: Some(*port),
            codec: codec_name(*codec),
            ptime: ptime.ms(),
        },
        Device::RtpUnresolved {
            host,
            port,
            codec,
            ptime,
        } => DeviceJson::Rtp {
            addr: host.clone(),
            port: *port,
            codec: codec_name(*codec),
            ptime: ptime.ms(),
        },
        Device::Ws { uri, codec } => DeviceJson::Ws {
            uri: uri.clone(),
            codec: codec_name(*codec),
        },
    };
    let body = Body {
        event_type: "calling.call.tap",
        event_channel: format!("swml:{}", event.session_id),
        timestamp: millis as f64 / 1000.0,
        project_id: &config.project_id,
        space_id: &config.space_id,
        params: Params {
            call_id: &event.call_id,
            node_id: &config.node_id,
            segment_id: &event.segment_id,
            tag: event.tag.as_deref(),
            control_id: &event.control_id,
            state,
            tap: TapJson {
                r#type: "audio",
                params: DirectionJson {
                    direction: event.direction.name(),
                },
            },
            device,
            reason,
            stats,
        },
    };
    // Plain structs of strings and numbers: serialization cannot fail.
    serde_json::to_string(&body).unwrap_or_default()
}

/// The lower-case hex HMAC-SHA256 of `body` under `key`.
pub fn signature(key: &[u8], body: &[u8]) -> String {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), body);
    tag.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Why the poster could not be made.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// The HTTP client could not be built.
    #[error("HTTP client: {source}")]
    Client {
        /// reqwest's error.
        #[from]
        source: reqwest::Error,
    },
}

/// Why a `status_url` was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatusUrlError {
    /// Not a URL.
    #[error("status_url {url:?} is not a URL: {reason}")]
    Invalid {
        /// The URL as given.
        url: String,
        /// The parser's word.
        reason: String,
    },
    /// Not `http` or `https`.
    #[error("status_url {url:?} is not http(s)")]
    Scheme {
        /// The URL as given.
        url: String,
    },
    /// The host is an address the policy denies.
    #[error("status_url: {0}")]
    Denied(Denied),
}

/// Delivery counters of a poster, over all its channels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatusCounters {
    /// Events delivered (2xx).
    pub ok: u64,
    /// Attempts after a first one.
    pub retried: u64,
    /// Events given up.
    pub failed: u64,
}

#[derive(Debug, Default)]
struct Counters {
    ok: AtomicU64,
    retried: AtomicU64,
    failed: AtomicU64,
}

#[derive(Debug)]
struct Inner {
    client: reqwest::Client,
    config: StatusConfig,
    policy: DestinationPolicy,
    counters: Counters,
    /// Channels whose task has not ended: events posted or still to be posted.
    open: std::sync::atomic::AtomicUsize,
    idle: tokio::sync::Notify,
}

/// The node's status event poster: one HTTP client, counters, and a channel per tap.
#[derive(Debug, Clone)]
pub struct StatusPoster {
    inner: Arc<Inner>,
}

/// Resolves names, then judges every address by the policy (also used by the call flows'
/// HTTP client).
#[derive(Debug)]
pub(crate) struct PolicyResolver(DestinationPolicy);

impl PolicyResolver {
    pub(crate) fn new(policy: DestinationPolicy) -> PolicyResolver {
        PolicyResolver(policy)
    }
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.0.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            for addr in &addrs {
                policy.check(addr.ip())?;
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

impl StatusPoster {
    /// A poster whose HTTPS uses `tls` (see [`tls::client_config`](crate::sink::tls)).
    pub fn new(
        config: StatusConfig,
        policy: DestinationPolicy,
        tls: &rustls::ClientConfig,
    ) -> Result<StatusPoster, StatusError> {
        let mut builder = reqwest::Client::builder()
            .tls_backend_preconfigured(tls.clone())
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(crate::sink::ws::USER_AGENT);
        if policy.deny_private {
            builder = builder.dns_resolver(PolicyResolver(policy.clone()));
        }
        Ok(StatusPoster {
            inner: Arc::new(Inner {
                client: builder.build()?,
                config,
                policy,
                counters: Counters::default(),
                open: std::sync::atomic::AtomicUsize::new(0),
                idle: tokio::sync::Notify::new(),
            }),
        })
    }

    /// A channel for one tap's events to `status_url`; its task runs on the current runtime.
    pub fn channel(&self, status_url: &str) -> Result<StatusChannel, StatusUrlError> {
        let target = Target::parse(status_url, &self.inner.policy)?;
        let (tx, mut rx) = mpsc::unbounded_channel::<String>();
        let inner = Arc::clone(&self.inner);
        inner.open.fetch_add(1, Ordering::Relaxed);
        let task = tokio::spawn(async move {
            while let Some(body) = rx.recv().await {
                inner.deliver(&target, body).await;
            }
            if inner.open.fetch_sub(1, Ordering::Relaxed) == 1 {
                inner.idle.notify_waiters();
            }
        });
        Ok(StatusChannel {
            tx,
            task,
            config: Arc::clone(&self.inner),
        })
    }

    /// Channels that may still deliver: their tap runs, or their last events are on their
    /// way (delivered or given up by the retry rule).
    pub fn open_channels(&self) -> usize {
        self.inner.open.load(Ordering::Relaxed)
    }

    /// Waits until no channel is open.
    pub async fn idle(&self) {
        loop {
            let notified = self.inner.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.open_channels() == 0 {
                return;
            }
            notified.await;
        }
    }

    /// The counters so far.
    pub fn counters(&self) -> StatusCounters {
        let c = &self.inner.counters;
        StatusCounters {
            ok: c.ok.load(Ordering::Relaxed),
            retried: c.retried.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
        }
    }
}

/// A parsed `status_url`: credentials taken out.
#[derive(Debug, Clone)]
struct Target {
    url: Url,
    auth: Option<(String, Option<String>)>,
}

impl Target {
    fn parse(status_url: &str, policy: &DestinationPolicy) -> Result<Target, StatusUrlError> {
        let mut url = Url::parse(status_url).map_err(|e| StatusUrlError::Invalid {
            url: status_url.to_owned(),
            reason: e.to_string(),
        })?;
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(StatusUrlError::Scheme {
                url: status_url.to_owned(),
            });
        }
        // The WHATWG parser has already turned numeric forms (`2130706433`) into addresses.
        let literal = match url.host() {
            Some(url::Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
            Some(url::Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
            _ => None,
        };
        if let Some(ip) = literal {
            policy.check(ip).map_err(StatusUrlError::Denied)?;
        }
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let auth = (!url.username().is_empty() || url.password().is_some())
            .then(|| (decode(url.username()), url.password().map(decode)));
        if auth.is_some() {
            // Cannot fail for an http(s) URL with a host.
            let _ = url.set_username("");
            let _ = url.set_password(None);
        }
        Ok(Target { url, auth })
    }
}

/// What one attempt came to.
enum Attempt {
    Delivered,
    Retry(String),
    GiveUp(String),
}

impl Inner {
    async fn deliver(&self, target: &Target, body: String) {
        let signature = self
            .config
            .signing_key
            .as_ref()
            .map(|key| signature(key, body.as_bytes()));
        let mut last = String::new();
        for attempt in 0..=self.config.backoff.len() {
            if attempt > 0 {
                tokio::time::sleep(self.config.backoff[attempt - 1]).await;
                self.counters.retried.fetch_add(1, Ordering::Relaxed);
            }
            match self.attempt(target, &body, signature.as_deref()).await {
                Attempt::Delivered => {
                    self.counters.ok.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Attempt::Retry(why) => last = why,
                Attempt::GiveUp(why) => {
                    last = why;
                    break;
                }
            }
        }
        self.counters.failed.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            url = %crate::redact::uri(target.url.as_str()),
            "status event undeliverable ({}): {}",
            crate::redact::text(&last),
            crate::redact::text(&body)
        );
    }

    async fn attempt(&self, target: &Target, body: &str, signature: Option<&str>) -> Attempt {
        let mut request = self
            .client
            .post(target.url.clone())
            .timeout(self.config.timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_owned());
        if let Some((user, pass)) = &target.auth {
            request = request.basic_auth(user, pass.as_deref());
        }
        if let Some(sig) = signature {
            request = request.header(SIGNATURE_HEADER, sig);
        }
        match request.send().await {
            Ok(response) if response.status().is_success() => Attempt::Delivered,
            Ok(response) if response.status().is_server_error() => {
                Attempt::Retry(format!("answer {}", response.status()))
            }
            Ok(response) => Attempt::GiveUp(format!("answer {}", response.status())),
            Err(e) if is_denied(&e) => Attempt::GiveUp(format!("{e}: destination denied")),
            Err(e) => Attempt::Retry(e.to_string()),
        }
    }
}

fn is_denied(e: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<Denied>() {
            return true;
        }
        source = err.source();
    }
    false
}

/// One tap's queue of status events.
#[derive(Debug)]
pub struct StatusChannel {
    tx: mpsc::UnboundedSender<String>,
    task: JoinHandle<()>,
    config: Arc<Inner>,
}

impl StatusChannel {
    /// Enqueues `event`, stamped now. Never blocks; delivery is in the order of posting.
    pub fn post(&self, event: &TapEvent) {
        self.post_at(event, SystemTime::now());
    }

    /// Enqueues `event` stamped `at`.
    pub fn post_at(&self, event: &TapEvent, at: SystemTime) {
        let body = body(&self.config.config, event, at);
        if let Err(lost) = self.tx.send(body) {
            // The task only ends when this channel is dropped; kept for the invariant.
            self.config.counters.failed.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("status event undeliverable (queue closed): {}", lost.0);
        }
    }

    /// Waits until every event posted has been delivered or given up.
    pub async fn finish(self) {
        let StatusChannel { tx, task, .. } = self;
        drop(tx);
        // A panic in delivery is a bug; the events' fate is then in the log.
        let _ = task.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> StatusConfig {
        StatusConfig {
            project_id: "p-1".into(),
            space_id: "s-1".into(),
            node_id: "n-1".into(),
            ..StatusConfig::default()
        }
    }

    fn at() -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(1_732_384_791_482)
    }

    #[test]
    fn rtp_tapping_body_is_exact() {
        let event = TapEvent {
            session_id: "sess".into(),
            call_id: "call".into(),
            segment_id: "seg".into(),
            tag: None,
            control_id: "ctl".into(),
            state: TapState::Tapping,
            direction: Direction::Both,
            device: Device::Rtp {
                addr: "203.0.113.5".parse().expect("ip"),
                port: 4000,
                codec: Law::Ulaw,
                ptime: Ptime::DEFAULT,
            },
        };
        assert_eq!(
            body(&config(), &event, at()),
            r#"{"event_type":"calling.call.tap","event_channel":"swml:sess","timestamp":1732384791.482,"project_id":"p-1","space_id":"s-1","params":{"call_id":"call","node_id":"n-1","segment_id":"seg","control_id":"ctl","state":"tapping","tap":{"type":"audio","params":{"direction":"both"}},"device":{"type":"rtp","params":{"addr":"203.0.113.5","port":4000,"codec":"PCMU","ptime":20}}}}"#
        );
    }

    #[test]
    fn an_unresolved_rtp_device_names_the_host_as_written() {
        let device = |port| TapEvent {
            session_id: "sess".into(),
            call_id: "call".into(),
            segment_id: "seg".into(),
            tag: None,
            control_id: "ctl".into(),
            state: TapState::Finished {
                reason: Reason::InvalidParams,
                stats: SinkStats::default(),
            },
            direction: Direction::Listen,
            device: Device::RtpUnresolved {
                host: "rec.example.com".into(),
                port,
                codec: Law::Alaw,
                ptime: Ptime::DEFAULT,
            },
        };
        let text = body(&config(), &device(Some(4000)), at());
        assert!(
            text.contains(r#""device":{"type":"rtp","params":{"addr":"rec.example.com","port":4000,"codec":"PCMA","ptime":20}},"reason":"invalid_params""#),
            "{text}"
        );
        let text = body(&config(), &device(None), at());
        assert!(
            text.contains(r#""addr":"rec.example.com","port":null,"#),
            "{text}"
        );
    }

    #[test]
    fn ws_finished_body_is_exact() {
        let event = TapEvent {
            session_id: "sess".into(),
            call_id: "call".into(),
            segment_id: "seg".into(),
            tag: Some("t\"1".into()),
            control_id: "ctl".into(),
            state: TapState::Finished {
                reason: Reason::ConnectionLost,
                stats: SinkStats {
                    frames_sent: 7,
                    frames_dropped: 1,
                    bytes_sent: 1120,
                },
            },
            direction: Direction::Speak,
            device: Device::Ws {
                uri: "wss://tap.example.com/x".into(),
                codec: Law::Alaw,
            },
        };
        assert_eq!(
            body(
                &config(),
                &event,
                UNIX_EPOCH + Duration::from_secs(1_700_000_000)
            ),
            r#"{"event_type":"calling.call.tap","event_channel":"swml:sess","timestamp":1700000000.0,"project_id":"p-1","space_id":"s-1","params":{"call_id":"call","node_id":"n-1","segment_id":"seg","tag":"t\"1","control_id":"ctl","state":"finished","tap":{"type":"audio","params":{"direction":"speak"}},"device":{"type":"ws","params":{"uri":"wss://tap.example.com/x","codec":"PCMA"}},"reason":"connection_lost","stats":{"frames_sent":7,"frames_dropped":1,"bytes_sent":1120}}}"#
        );
    }

    #[test]
    fn signature_is_hex_hmac_sha256() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn credentials_leave_the_url_for_basic_auth() {
        let open = DestinationPolicy::allow_all();
        let t =
            Target::parse("https://us%40er:p%3Ass@example.com/ev?x=1", &open).expect("valid url");
        assert_eq!(t.url.as_str(), "https://example.com/ev?x=1");
        assert_eq!(t.auth, Some(("us@er".into(), Some("p:ss".into()))));
        let t = Target::parse("http://example.com/", &open).expect("valid url");
        assert_eq!(t.auth, None);
    }

    #[test]
    fn status_urls_are_judged() {
        let hosted = DestinationPolicy::deny_private(vec![]);
        for denied in [
            "http://127.0.0.1/",
            "http://2130706433/",
            "http://0177.0.0.1/",
            "http://0x7f.1/",
            "http://[::ffff:10.0.0.1]/",
            "http://169.254.169.254/latest",
        ] {
            assert!(
                matches!(
                    Target::parse(denied, &hosted),
                    Err(StatusUrlError::Denied(_))
                ),
                "{denied}"
            );
        }
        assert!(matches!(
            Target::parse("ftp://example.com/", &hosted),
            Err(StatusUrlError::Scheme { .. })
        ));
        assert!(Target::parse("https://203.0.113.9/ev", &hosted).is_ok());
    }
}
