//! [`NodeConfig`]: what the node binds and how its calls behave; [`Config`]: the
//! configuration file and environment that make one (`docs/configuration.md`).
//!
//! Precedence, lowest first: the embedded defaults, the file, `EARSHOT_<SECTION>_<KEY>`
//! variables, then the command line's flags (applied by the `earshot` command).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use media::{LegConfig, PortPoolConfig};
use sip::EndpointConfig;

use crate::{CallFlow, ServerError};

/// The node's configuration.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// SIP listen addresses and limits.
    pub sip: EndpointConfig,
    /// Where RTP legs bind.
    pub rtp: PortPoolConfig,
    /// How legs treat their peer's media.
    pub leg: LegConfig,
    /// What an inbound call runs.
    pub flow: CallFlow,
    /// How long an inbound call rings (180) before it is answered; zero answers at once.
    pub ring: Duration,
    /// Where `file://` URLs of `play` are looked up.
    pub media_dir: std::path::PathBuf,
    /// A shell command that speaks `say:` text: run as `sh -c COMMAND earshot-tts TEXT` (the
    /// text is `$1`, never part of the command), it writes an 8 kHz mono WAV file to stdout.
    /// Without one, `say:` fails with a clear error.
    pub tts_command: Option<String>,
    /// Which tap and status-event destinations are allowed (the tap contract, section 8); the
    /// default allows everything, as a developer's laptop wants.
    pub destinations: crate::sink::policy::DestinationPolicy,
    /// How long an inbound call may wait for the ACK of an offerless INVITE's 200.
    pub ack_timeout: Duration,
    /// Tap limits, the send queue bound and what status events say of the node.
    pub taps: crate::TapRules,
    /// Calls the node runs at once; past this, new INVITEs get 503 with Retry-After while the
    /// calls up keep running. `None` (the default) sets no limit beyond the RTP ports.
    pub max_calls: Option<usize>,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            // A call waits in the queue only while the accept task is not scheduled: a burst
            // on a busy node. Past this, INVITEs get 503 with Retry-After.
            sip: EndpointConfig {
                incoming_capacity: 512,
                ..EndpointConfig::default()
            },
            rtp: PortPoolConfig::default(),
            leg: LegConfig::default(),
            flow: CallFlow::Echo,
            ring: Duration::ZERO,
            media_dir: std::path::PathBuf::from("."),
            tts_command: None,
            destinations: crate::sink::policy::DestinationPolicy::allow_all(),
            ack_timeout: Duration::from_secs(32),
            taps: crate::TapRules::default(),
            max_calls: None,
        }
    }
}

/// The node's configuration file (`earshot serve --config FILE`): every key has an embedded
/// default that works on a laptop, a file sets some, and `EARSHOT_<SECTION>_<KEY>` environment
/// variables override the file (see `docs/configuration.md`). Unknown keys are errors.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `[sip]`: listeners and limits.
    pub sip: SipSection,
    /// `[rtp]`: where legs bind and how they treat media.
    pub rtp: RtpSection,
    /// `[flow]`: what an inbound call runs.
    pub flow: FlowSection,
    /// `[taps]`: where taps and status events may go.
    pub taps: TapsSection,
    /// `[api]`: the control API and the operations endpoints.
    pub api: ApiSection,
    /// `[shutdown]`: graceful shutdown.
    pub shutdown: ShutdownSection,
    /// `[log]`: the log format and level.
    pub log: LogSection,
}

/// `[sip]`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SipSection {
    /// The UDP listen address.
    pub udp: std::net::SocketAddr,
    /// The TCP listen address: `"udp"` (the UDP address), `"off"`, or an address.
    pub tcp: String,
    /// SIP messages per second per source IP (burst twice that).
    pub rate_per_second: u32,
    /// Offered calls that may wait for their task before INVITEs get 503.
    pub incoming_capacity: usize,
    /// The `User-Agent` and `Server` text.
    pub user_agent: String,
    /// How long an offerless INVITE's 200 waits for the ACK with the answer, in seconds.
    pub ack_timeout_secs: u64,
    /// Calls the node carries at once; past it new INVITEs get 503 with Retry-After. 0 sets
    /// no limit.
    pub max_calls: usize,
}

impl Default for SipSection {
    fn default() -> Self {
        let node = NodeConfig::default();
        SipSection {
            udp: node.sip.udp_addr,
            tcp: "udp".into(),
            rate_per_second: node.sip.rate_limit.per_second,
            incoming_capacity: node.sip.incoming_capacity,
            user_agent: node.sip.user_agent,
            ack_timeout_secs: node.ack_timeout.as_secs(),
            max_calls: node.max_calls.unwrap_or(0),
        }
    }
}

/// `[rtp]`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RtpSection {
    /// The address legs (and RTP taps) bind on and put in SDP.
    pub ip: std::net::IpAddr,
    /// The port range, `FIRST-LAST`.
    pub ports: String,
    /// End a call after this many seconds without RTP; 0 never does.
    pub inactivity_secs: u64,
    /// Send to where the peer's packets come from (symmetric RTP) rather than the SDP address.
    pub latching: bool,
    /// How late echoed or relayed audio may arrive and still be played, in ms.
    pub playout_window_ms: u32,
}

impl Default for RtpSection {
    fn default() -> Self {
        let node = NodeConfig::default();
        RtpSection {
            ip: node.rtp.ip,
            ports: format!("{}-{}", node.rtp.first, node.rtp.last),
            inactivity_secs: node.leg.inactivity_timeout.map_or(0, |d| d.as_secs()),
            latching: node.leg.latching,
            playout_window_ms: node.leg.playout_window_ms,
        }
    }
}

/// `[flow]`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FlowSection {
    /// `"echo"` (answer, play the caller its own audio), `"bridge"` (connect every call to
    /// `bridge`) or `"swml"` (run `swml`, `swml_inline` or a route's document).
    pub mode: String,
    /// The SIP URI every call is connected to in `bridge` mode.
    pub bridge: String,
    /// The default route's document: a file, or an `http(s)://` URL fetched per call.
    pub swml: String,
    /// The default route's document itself, JSON or YAML text (instead of `swml`).
    pub swml_inline: String,
    /// Documents by called user (the Request-URI's user): `alice = "alice.yaml"`.
    pub routes: BTreeMap<String, String>,
    /// Where `play`'s `file://` URLs are looked up.
    pub media_dir: PathBuf,
    /// Speaks `say:` text: `sh -c COMMAND earshot-tts TEXT`, an 8 kHz WAV on stdout; empty,
    /// none.
    pub tts_command: String,
    /// How long an inbound call rings (180) before it is answered, in ms; 0 answers at once.
    pub ring_ms: u64,
}

impl Default for FlowSection {
    fn default() -> Self {
        FlowSection {
            mode: "echo".into(),
            bridge: String::new(),
            swml: String::new(),
            swml_inline: String::new(),
            routes: BTreeMap::new(),
            media_dir: PathBuf::from("."),
            tts_command: String::new(),
            ring_ms: 0,
        }
    }
}

/// `[taps]`: the node's rules for taps (the tap contract, sections 5, 8 and 9).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TapsSection {
    /// Refuse tap and status destinations that are loopback, private, link-local or the
    /// node's own (a hosted node's policy); off on a laptop.
    pub deny_private: bool,
    /// Taps one call may run at once; one more fails with `limit_reached`.
    pub per_call: usize,
    /// Taps the whole node may run at once; 0 sets no limit beyond the per-call one.
    pub per_node: usize,
    /// Each tap's send queue, in ms of audio; past it the oldest frame is dropped and counted.
    pub queue_ms: u32,
    /// How long a tap may wait for its sink (WebSocket handshake, DNS), in ms.
    pub connect_timeout_ms: u64,
    /// The alignment window of `speak` and `listen` taps, in ms.
    pub window_ms: u32,
    /// The alignment window of `both` taps, in ms.
    pub window_both_ms: u32,
    /// How long an RTP destination may refuse every packet (ICMP) before `send_failed`, in ms.
    pub rtp_refused_fatal_after_ms: u64,
    /// `space_id` of every status event (their `project_id` is `api.project_id`).
    pub space_id: String,
    /// `params.node_id` of every status event and the documents' `call.node_id`.
    pub node_id: String,
    /// The key of the `X-Earshot-Signature` HMAC-SHA256 of status events; empty, no header.
    pub signing_key: String,
    /// A PEM file of CA certificates trusted besides the built-in roots (wss taps and all of
    /// the node's HTTPS); empty, none.
    pub ca_file: String,
    /// How long one status-event POST may wait for its answer before it is retried, in ms.
    pub status_timeout_ms: u64,
    /// The kernel send buffer of each WebSocket tap's connection in bytes; 0 leaves it to the
    /// kernel. With `queue_ms` it bounds what a receiver that never reads holds of memory.
    pub ws_send_buffer: u32,
}

impl Default for TapsSection {
    fn default() -> Self {
        let rules = crate::TapRules::default();
        TapsSection {
            deny_private: false,
            per_call: rules.per_call,
            per_node: rules.per_node.unwrap_or(0),
            queue_ms: rules.queue_ms,
            connect_timeout_ms: duration_ms(rules.connect_timeout),
            window_ms: rules.window_ms,
            window_both_ms: rules.window_both_ms,
            rtp_refused_fatal_after_ms: duration_ms(rules.rtp_refused_fatal_after),
            space_id: rules.space_id,
            node_id: rules.node_id,
            signing_key: String::new(),
            ca_file: String::new(),
            status_timeout_ms: duration_ms(rules.status_timeout),
            ws_send_buffer: rules.ws_send_buffer.unwrap_or(0),
        }
    }
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// `[api]`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiSection {
    /// The control API's listen address, or `"off"`.
    pub listen: String,
    /// Where `/health`, `/ready` and `/metrics` are served without credentials: an address,
    /// `"api"` (on the API listener, still without credentials; off when it is) or `"off"`.
    pub ops_listen: String,
    /// The Basic-auth user of the API.
    pub project_id: String,
    /// The Basic-auth password of the API; empty, one is generated at start and printed.
    pub token: String,
}

impl Default for ApiSection {
    fn default() -> Self {
        ApiSection {
            listen: "127.0.0.1:8080".into(),
            ops_listen: "api".into(),
            project_id: "earshot".into(),
            token: String::new(),
        }
    }
}

/// `[shutdown]`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShutdownSection {
    /// How long a graceful shutdown may take, in seconds: ending the calls and delivering every
    /// tap's `finished` event. Past it the process exits anyway.
    pub deadline_secs: u64,
}

impl Default for ShutdownSection {
    fn default() -> Self {
        ShutdownSection { deadline_secs: 10 }
    }
}

/// `[log]`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSection {
    /// `"human"` or `"json"` (one object per line).
    pub format: String,
    /// `error`, `warn`, `info`, `debug` or `trace`.
    pub level: String,
}

impl Default for LogSection {
    fn default() -> Self {
        LogSection {
            format: "human".into(),
            level: "info".into(),
        }
    }
}

/// Where a listener binds: an address, or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listen {
    /// Not served.
    Off,
    /// Served on the API listener (only for `ops_listen`).
    OnApi,
    /// This address.
    Addr(std::net::SocketAddr),
}

/// What replaces a secret when the configuration is printed.
pub const REDACTED: &str = "<redacted>";

const PREFIX: &str = "EARSHOT_";

fn config_error(reason: impl Into<String>) -> ServerError {
    ServerError::Config {
        reason: reason.into(),
    }
}

impl Config {
    /// The embedded defaults, then `file` if given, then the `EARSHOT_*` variables of `env`.
    pub fn load(
        file: Option<&std::path::Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ServerError> {
        let mut table = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| config_error(format!("{}: cannot read: {e}", path.display())))?;
                let config = Config::parse(&text)
                    .map_err(|e| config_error(format!("{}: {e}", path.display())))?;
                config.to_table()?
            }
            None => Config::default().to_table()?,
        };
        let mut env: Vec<(String, String)> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with(PREFIX))
            .collect();
        env.sort();
        let mut config = Config::try_from(table.clone())?;
        for (name, value) in env {
            apply_env(&mut table, &name, &value)?;
            // Read after each variable, so that a bad value is blamed on its variable.
            config = Config::try_from(table.clone()).map_err(|e| match e {
                ServerError::Config { reason } => config_error(format!("{name}: {reason}")),
                other => other,
            })?;
        }
        config.validate()?;
        Ok(config)
    }

    /// Parses a configuration file's text over the defaults.
    pub fn parse(text: &str) -> Result<Config, String> {
        let config: Config = toml::from_str(text).map_err(|e| e.to_string().trim().to_owned())?;
        config.validate().map_err(|e| match e {
            ServerError::Config { reason } => reason,
            other => other.to_string(),
        })?;
        Ok(config)
    }

    fn try_from(table: toml::Table) -> Result<Config, ServerError> {
        table
            .try_into()
            .map_err(|e: toml::de::Error| config_error(e.message().to_owned()))
    }

    fn to_table(&self) -> Result<toml::Table, ServerError> {
        toml::Table::try_from(self).map_err(|e| config_error(e.to_string()))
    }

    /// The configuration as TOML, secrets redacted (`--print-config`).
    pub fn to_toml_redacted(&self) -> String {
        let mut shown = self.clone();
        if !shown.api.token.is_empty() {
            shown.api.token = REDACTED.into();
        }
        if !shown.taps.signing_key.is_empty() {
            shown.taps.signing_key = REDACTED.into();
        }
        // Serializing plain structs of strings, numbers, booleans and string maps cannot fail.
        toml::to_string(&shown).unwrap_or_else(|e| format!("# cannot print: {e}\n"))
    }

    /// Checks the values serde cannot: ranges, addresses, names.
    pub fn validate(&self) -> Result<(), ServerError> {
        self.tcp()?;
        self.port_range()?;
        self.api_listen()?;
        self.ops_listen()?;
        if !["echo", "bridge", "swml"].contains(&self.flow.mode.as_str()) {
            return Err(config_error(format!(
                "flow.mode: expected one of echo, bridge, swml, found {:?}",
                self.flow.mode
            )));
        }
        match self.flow.mode.as_str() {
            "bridge" if self.flow.bridge.is_empty() => {
                return Err(config_error("flow.mode is bridge but flow.bridge is empty"));
            }
            "swml"
                if self.flow.swml.is_empty()
                    && self.flow.swml_inline.is_empty()
                    && self.flow.routes.is_empty() =>
            {
                return Err(config_error(
                    "flow.mode is swml but none of flow.swml, flow.swml_inline, flow.routes is set",
                ));
            }
            _ => {}
        }
        if self.taps.per_call == 0 {
            return Err(config_error("taps.per_call: must be at least 1"));
        }
        if self.taps.window_ms > 1000 || self.taps.window_both_ms > 1000 {
            return Err(config_error(
                "taps.window_ms and taps.window_both_ms: at most 1000 (ms)",
            ));
        }
        if self.taps.queue_ms < 20 {
            return Err(config_error(
                "taps.queue_ms: must be at least 20 (one frame)",
            ));
        }
        if self.taps.connect_timeout_ms == 0 {
            return Err(config_error("taps.connect_timeout_ms: must be at least 1"));
        }
        if !self.flow.swml.is_empty() && !self.flow.swml_inline.is_empty() {
            return Err(config_error(
                "flow.swml and flow.swml_inline both name the default route",
            ));
        }
        if !["human", "json"].contains(&self.log.format.as_str()) {
            return Err(config_error(format!(
                "log.format: expected human or json, found {:?}",
                self.log.format
            )));
        }
        self.log_level()?;
        if self.rtp.playout_window_ms > tap::MAX_WINDOW_MS {
            return Err(config_error(format!(
                "rtp.playout_window_ms: at most {}, found {}",
                tap::MAX_WINDOW_MS,
                self.rtp.playout_window_ms
            )));
        }
        if self.rate_is_zero() {
            return Err(config_error("sip.rate_per_second: must be at least 1"));
        }
        if self.api.project_id.is_empty() {
            return Err(config_error("api.project_id: must not be empty"));
        }
        Ok(())
    }

    fn rate_is_zero(&self) -> bool {
        self.sip.rate_per_second == 0
    }

    /// The TCP listen address, if any.
    pub fn tcp(&self) -> Result<Option<std::net::SocketAddr>, ServerError> {
        match self.sip.tcp.as_str() {
            "udp" => Ok(Some(self.sip.udp)),
            "off" => Ok(None),
            other => other.parse().map(Some).map_err(|_| {
                config_error(format!(
                    "sip.tcp: expected \"udp\", \"off\" or an address, found {other:?}"
                ))
            }),
        }
    }

    /// The RTP port range.
    pub fn port_range(&self) -> Result<(u16, u16), ServerError> {
        let bad = || {
            config_error(format!(
                "rtp.ports: expected FIRST-LAST with 0 < FIRST <= LAST, found {:?}",
                self.rtp.ports
            ))
        };
        let (a, b) = self.rtp.ports.split_once('-').ok_or_else(bad)?;
        let a: u16 = a.trim().parse().map_err(|_| bad())?;
        let b: u16 = b.trim().parse().map_err(|_| bad())?;
        if a == 0 || a > b {
            return Err(bad());
        }
        Ok((a, b))
    }

    /// The control API's listener.
    pub fn api_listen(&self) -> Result<Listen, ServerError> {
        listen("api.listen", &self.api.listen, false)
    }

    /// The operations endpoints' listener.
    pub fn ops_listen(&self) -> Result<Listen, ServerError> {
        listen("api.ops_listen", &self.api.ops_listen, true)
    }

    /// The log level.
    pub fn log_level(&self) -> Result<tracing::Level, ServerError> {
        self.log.level.parse().map_err(|_| {
            config_error(format!(
                "log.level: expected error, warn, info, debug or trace, found {:?}",
                self.log.level
            ))
        })
    }

    /// The node's configuration: listeners, legs, and the call flow with its documents
    /// loaded and validated.
    pub fn node_config(&self) -> Result<NodeConfig, ServerError> {
        let mut node = NodeConfig::default();
        node.sip.udp_addr = self.sip.udp;
        node.sip.tcp_addr = self.tcp()?;
        node.sip.rate_limit = sip::RateLimit {
            per_second: self.sip.rate_per_second,
            burst: self.sip.rate_per_second.saturating_mul(2),
        };
        node.sip.incoming_capacity = self.sip.incoming_capacity;
        node.sip.user_agent = self.sip.user_agent.clone();
        node.ack_timeout = Duration::from_secs(self.sip.ack_timeout_secs);
        node.max_calls = (self.sip.max_calls > 0).then_some(self.sip.max_calls);
        let (first, last) = self.port_range()?;
        node.rtp = PortPoolConfig {
            ip: self.rtp.ip,
            first,
            last,
        };
        node.leg.inactivity_timeout =
            (self.rtp.inactivity_secs > 0).then(|| Duration::from_secs(self.rtp.inactivity_secs));
        node.leg.latching = self.rtp.latching;
        node.leg.playout_window_ms = self.rtp.playout_window_ms;
        node.ring = Duration::from_millis(self.flow.ring_ms);
        node.media_dir = self.flow.media_dir.clone();
        node.tts_command = Some(self.flow.tts_command.clone()).filter(|c| !c.is_empty());
        node.taps = crate::TapRules {
            per_call: self.taps.per_call,
            per_node: (self.taps.per_node > 0).then_some(self.taps.per_node),
            queue_ms: self.taps.queue_ms,
            connect_timeout: Duration::from_millis(self.taps.connect_timeout_ms),
            window_ms: self.taps.window_ms,
            window_both_ms: self.taps.window_both_ms,
            rtp_refused_fatal_after: Duration::from_millis(self.taps.rtp_refused_fatal_after_ms),
            project_id: self.api.project_id.clone(),
            space_id: self.taps.space_id.clone(),
            node_id: self.taps.node_id.clone(),
            signing_key: Some(self.taps.signing_key.as_bytes().to_vec())
                .filter(|key| !key.is_empty()),
            ca_file: Some(PathBuf::from(&self.taps.ca_file))
                .filter(|_| !self.taps.ca_file.is_empty()),
            status_timeout: Duration::from_millis(self.taps.status_timeout_ms),
            ws_send_buffer: (self.taps.ws_send_buffer > 0).then_some(self.taps.ws_send_buffer),
        };
        if self.taps.deny_private {
            node.destinations = crate::sink::policy::DestinationPolicy::deny_private(vec![
                node.rtp.ip,
                node.sip.udp_addr.ip(),
            ]);
        }
        node.flow = match self.flow.mode.as_str() {
            "bridge" => CallFlow::Bridge(self.flow.bridge.clone()),
            "swml" => {
                let default = Some(std::path::Path::new(&self.flow.swml))
                    .filter(|_| !self.flow.swml.is_empty());
                let routes: Vec<(String, PathBuf)> = self
                    .flow
                    .routes
                    .iter()
                    .map(|(user, file)| (user.clone(), PathBuf::from(file)))
                    .collect();
                let mut routes = crate::load_routes(default, &routes).map_err(config_error)?;
                if !self.flow.swml_inline.is_empty() {
                    let document = swml::check(&self.flow.swml_inline).map_err(|errors| {
                        config_error(
                            errors
                                .iter()
                                .map(|e| format!("flow.swml_inline: {e}"))
                                .collect::<Vec<_>>()
                                .join("\n"),
                        )
                    })?;
                    routes.default = Some(crate::Route::Document(document));
                }
                CallFlow::Swml(std::sync::Arc::new(routes))
            }
            _ => CallFlow::Echo,
        };
        Ok(node)
    }
}

fn listen(key: &str, value: &str, on_api: bool) -> Result<Listen, ServerError> {
    match value {
        "off" => Ok(Listen::Off),
        "api" if on_api => Ok(Listen::OnApi),
        other => other.parse().map(Listen::Addr).map_err(|_| {
            config_error(format!(
                "{key}: expected {}\"off\" or an address, found {other:?}",
                if on_api { "\"api\", " } else { "" }
            ))
        }),
    }
}

/// Sets the key an `EARSHOT_<SECTION>_<KEY>` variable names. A value is taken as text where
/// the key is text, else read as a TOML value (`5070`, `true`, `{ alice = "a.yaml" }`).
fn apply_env(table: &mut toml::Table, name: &str, value: &str) -> Result<(), ServerError> {
    let rest = name[PREFIX.len()..].to_ascii_lowercase();
    let unknown = || {
        config_error(format!(
            "{name}: no such setting (EARSHOT_<SECTION>_<KEY>, e.g. EARSHOT_SIP_UDP)"
        ))
    };
    let (section, key) = table
        .keys()
        .find_map(|s| {
            rest.strip_prefix(s.as_str())
                .and_then(|r| r.strip_prefix('_'))
                .map(|k| (s.clone(), k.to_owned()))
        })
        .ok_or_else(unknown)?;
    let Some(toml::Value::Table(section)) = table.get_mut(&section) else {
        return Err(unknown());
    };
    let current = section.get(&key).ok_or_else(unknown)?;
    let parsed = if current.is_str() {
        toml::Value::String(value.to_owned())
    } else {
        let doc: toml::Table = toml::from_str(&format!("v = {value}"))
            .map_err(|_| config_error(format!("{name}: cannot read {value:?} as a TOML value")))?;
        doc.get("v").cloned().ok_or_else(unknown)?
    };
    section.insert(key, parsed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_make_the_echo_node_on_loopback() {
        let config = Config::load(None, env(&[])).expect("defaults load");
        assert_eq!(config, Config::default());
        let node = config.node_config().expect("defaults build");
        assert_eq!(node.sip.udp_addr.to_string(), "127.0.0.1:5060");
        assert_eq!(node.sip.tcp_addr, Some(node.sip.udp_addr));
        assert_eq!((node.rtp.first, node.rtp.last), (16384, 32767));
        assert_eq!(node.flow, CallFlow::Echo);
        assert_eq!(
            config.api_listen().expect("valid"),
            Listen::Addr("127.0.0.1:8080".parse().expect("an address"))
        );
    }

    #[test]
    fn the_environment_overrides_the_file() {
        let dir = std::env::temp_dir().join(format!("earshot-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("node.toml");
        std::fs::write(
            &file,
            "[sip]\nudp = \"127.0.0.1:5070\"\n[api]\ntoken = \"from-file\"\n",
        )
        .expect("write");
        let config = Config::load(
            Some(&file),
            env(&[
                ("EARSHOT_API_TOKEN", "from-env"),
                ("EARSHOT_RTP_INACTIVITY_SECS", "0"),
                ("EARSHOT_FLOW_ROUTES", "{ alice = \"a.yaml\" }"),
                ("HOME", "/elsewhere"),
            ]),
        )
        .expect("loads");
        assert_eq!(config.sip.udp.port(), 5070);
        assert_eq!(config.api.token, "from-env");
        assert_eq!(config.rtp.inactivity_secs, 0);
        assert_eq!(
            config.flow.routes.get("alice").map(String::as_str),
            Some("a.yaml")
        );
        let printed = config.to_toml_redacted();
        assert!(!printed.contains("from-env"), "{printed}");
        assert!(printed.contains(REDACTED), "{printed}");
        assert_eq!(
            Config::parse(&printed.replace(REDACTED, "x"))
                .expect("reparses")
                .sip
                .udp
                .port(),
            5070
        );
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn mistakes_are_named() {
        let err = |text: &str| Config::parse(text).expect_err("an error");
        assert!(err("[sip]\nudpp = \"x\"\n").contains("unknown field `udpp`"));
        assert!(err("[rtp]\nports = \"9-3\"\n").contains("rtp.ports"));
        assert!(err("[flow]\nmode = \"swml\"\n").contains("flow.mode is swml"));
        assert!(err("[log]\nformat = \"xml\"\n").contains("log.format"));
        assert!(err("[api]\nlisten = \"nowhere\"\n").contains("api.listen"));
        let env_err = |k: &str, v: &str| {
            Config::load(None, env(&[(k, v)]))
                .expect_err("an error")
                .to_string()
        };
        assert!(env_err("EARSHOT_SIP_NOPE", "1").contains("EARSHOT_SIP_NOPE: no such setting"));
        assert!(env_err("EARSHOT_SIP_RATE_PER_SECOND", "many").contains("cannot read"));
        assert!(
            env_err("EARSHOT_SIP_UDP", "here").contains("EARSHOT_SIP_UDP: invalid socket address")
        );
        assert!(
            env_err("EARSHOT_RTP_LATCHING", "5").contains("EARSHOT_RTP_LATCHING: invalid type")
        );
    }
}
