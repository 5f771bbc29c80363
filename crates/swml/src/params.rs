//! The parameters of the methods the shell carries out (`answer`, `hangup`, `play`, `sleep`,
//! `request`, `connect`, `tap`, `stop_tap`), as typed values, and the checks that produce
//! them. `spec/swml.md` and the tap contract (`spec/tap.md` sections 1, 2 and 7) say what is accepted.
//!
//! Each check runs at load time on the document as written (templates accepted) and again
//! when the method runs, on the substituted parameters, where it yields the typed value.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use serde_json::Value;

use crate::checker::{Checker, Mode, has_host, join_path};
use crate::document::Method;
use crate::error::ValidationError;

/// An audio codec the node speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// G.711 µ-law.
    Pcmu,
    /// G.711 A-law.
    Pcma,
}

impl Codec {
    /// The name used in SWML and SDP.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pcmu => "PCMU",
            Self::Pcma => "PCMA",
        }
    }
}

/// `answer`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerParams {
    /// How long the call may last once answered (default 4 hours).
    pub max_duration: Duration,
    /// Codecs to offer, in order of preference; empty means the node's default.
    pub codecs: Vec<Codec>,
}

/// Why `hangup` ends the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HangupReason {
    /// A normal hang-up.
    Hangup,
    /// User busy.
    Busy,
    /// Call declined.
    Decline,
}

/// One item of `play`.
#[derive(Debug, Clone, PartialEq)]
pub enum PlayUrl {
    /// `silence:SECONDS`.
    Silence(Duration),
    /// `ring:SECONDS`: ring-back tone.
    Ring(Duration),
    /// `http://…` or `https://…`: a WAV file.
    Http(String),
    /// `file://PATH`: a file under the node's media directory (no `..` segments).
    File(String),
    /// `say:TEXT`: text to speech, when the node has a TTS command.
    Say(String),
}

/// HTTP methods of `request`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpMethod {
    /// GET
    Get,
    /// POST
    Post,
    /// PUT
    Put,
    /// DELETE
    Delete,
}

/// `request`.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestParams {
    /// Where.
    pub url: String,
    /// How.
    pub method: HttpMethod,
    /// Extra request headers.
    pub headers: Vec<(String, String)>,
    /// A string is sent as it is; an object or list as JSON.
    pub body: Option<Value>,
    /// How long to wait for the answer (default 5 s).
    pub timeout: Duration,
    /// Whether a JSON answer is stored under `vars.request_response`.
    pub save_variables: bool,
}

/// `connect`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectParams {
    /// The SIP URI to call.
    pub to: String,
    /// The caller to present; the node's default when absent.
    pub from: Option<String>,
    /// How long to let it ring (default 60 s).
    pub timeout: Duration,
    /// Extra SIP headers on the INVITE.
    pub headers: Vec<(String, String)>,
    /// Codecs to offer; empty means the node's default.
    pub codecs: Vec<Codec>,
}

/// What a tap carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TapDirection {
    /// What the party says.
    Speak,
    /// What the party hears (`hear` is an alias).
    Listen,
    /// Both, mixed (or, with `stereo`, as two channels).
    Both,
}

impl TapDirection {
    /// The name used in SWML and in status events.
    pub fn name(self) -> &'static str {
        match self {
            Self::Speak => "speak",
            Self::Listen => "listen",
            Self::Both => "both",
        }
    }
}

/// Where a tap streams to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TapUri {
    /// `rtp://HOST:PORT`; HOST is an IPv4 literal, an IPv6 literal (without brackets here)
    /// or a DNS name.
    Rtp {
        /// The host as written, brackets removed.
        host: String,
        /// The UDP port.
        port: u16,
    },
    /// `ws://…` or `wss://…`, as written.
    WebSocket {
        /// The URL.
        url: String,
    },
}

/// `reconnect` (extension): WebSocket reconnection after a drop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reconnect {
    /// How many times.
    pub attempts: u32,
    /// The longest gap each attempt may take, in milliseconds.
    pub max_gap_ms: u32,
}

/// `tap`, after substitution (the tap contract, sections 1 and 7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapParams {
    /// The destination as given.
    pub uri_text: String,
    /// The destination.
    pub uri: TapUri,
    /// The id given; the shell generates one when absent.
    pub control_id: Option<String>,
    /// What is tapped (default `speak`).
    pub direction: TapDirection,
    /// The tap's codec (default PCMU).
    pub codec: Codec,
    /// Audio per packet or message, in ms (default 20).
    pub rtp_ptime_ms: u16,
    /// Where status events go.
    pub status_url: Option<String>,
    /// Two channels instead of a mix (only with `both`).
    pub stereo: bool,
    /// Start and stop text messages (WebSocket only).
    pub announce: bool,
    /// Carried in the `start` message (only with `announce`).
    pub custom_parameters: Vec<(String, String)>,
    /// Extra handshake headers.
    pub headers: Vec<(String, String)>,
    /// Shorthand for an `Authorization: Bearer …` handshake header.
    pub authorization_bearer_token: Option<String>,
    /// Reconnection after a drop; none by default.
    pub reconnect: Option<Reconnect>,
    /// When the tap finishes by itself.
    pub max_duration: Option<Duration>,
}

/// The typed parameters of one method, ready for the shell.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum MethodParams {
    Answer(AnswerParams),
    Hangup(HangupReason),
    Play(Vec<PlayUrl>),
    Sleep(Duration),
    Request(RequestParams),
    Connect(ConnectParams),
    Tap(Box<TapParams>),
    StopTap(Option<String>),
}

/// Checks a shell method's parameters; `Some` only when every value is known and valid.
pub(crate) fn check(
    c: &mut Checker,
    method: Method,
    path: &str,
    v: &Value,
) -> Option<MethodParams> {
    let before = c.errors.len();
    let params = match method {
        Method::Answer => answer(c, path, v).map(MethodParams::Answer),
        Method::Hangup => hangup(c, path, v).map(MethodParams::Hangup),
        Method::Play => play(c, path, v).map(MethodParams::Play),
        Method::Sleep => sleep(c, path, v).map(MethodParams::Sleep),
        Method::Request => request(c, path, v).map(MethodParams::Request),
        Method::Connect => connect(c, path, v).map(MethodParams::Connect),
        Method::Tap => tap(c, path, v).map(|t| MethodParams::Tap(Box::new(t))),
        Method::StopTap => stop_tap(c, path, v).map(MethodParams::StopTap),
    };
    params.filter(|_| c.errors.len() == before)
}

/// Runs `f` on a value if present; `Ok(default)` if absent; `Err(())` if invalid or deferred.
fn optional<T>(
    c: &mut Checker,
    map: &serde_json::Map<String, Value>,
    path: &str,
    key: &str,
    default: T,
    f: impl FnOnce(&mut Checker, &str, &Value) -> Option<T>,
) -> Option<T> {
    match map.get(key) {
        None | Some(Value::Null) => Some(default),
        Some(v) => f(c, &join_path(path, key), v),
    }
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

/// Parameterless methods may be written bare or with `null` parameters.
fn params_object(v: &Value) -> std::borrow::Cow<'_, Value> {
    match v {
        Value::Null => std::borrow::Cow::Owned(empty_object()),
        other => std::borrow::Cow::Borrowed(other),
    }
}

fn codecs(c: &mut Checker, path: &str, v: &Value) -> Option<Vec<Codec>> {
    if c.deferred(v) {
        return None;
    }
    let names: Vec<(String, String)> = match v {
        Value::String(s) => s
            .split(',')
            .map(|n| (n.trim().to_owned(), path.to_owned()))
            .collect(),
        Value::Array(items) => {
            let mut names = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let item_path = format!("{path}[{i}]");
                names.push((c.string(&item_path, item)?, item_path));
            }
            names
        }
        other => {
            c.expected(path, "a comma-separated list of codecs", other);
            return None;
        }
    };
    let mut out = Vec::new();
    for (name, at) in names {
        match &*name.to_ascii_uppercase() {
            "PCMU" => out.push(Codec::Pcmu),
            "PCMA" => out.push(Codec::Pcma),
            _ => {
                c.expected(&at, "codecs among PCMU, PCMA", &Value::String(name));
                return None;
            }
        }
    }
    Some(out)
}

fn codec(c: &mut Checker, path: &str, v: &Value) -> Option<Codec> {
    let i = c.one_of(path, v, &["PCMU", "PCMA"], &["PCMU", "PCMA"])?;
    Some(if i == 0 { Codec::Pcmu } else { Codec::Pcma })
}

fn answer(c: &mut Checker, path: &str, v: &Value) -> Option<AnswerParams> {
    let v = params_object(v);
    let map = c.object(path, &v, &["max_duration", "codecs"])?;
    let max_duration = optional(c, map, path, "max_duration", 14_400, |c, p, v| {
        c.integer(p, v, 1, 14_400)
    });
    let codecs = optional(c, map, path, "codecs", Vec::new(), codecs);
    Some(AnswerParams {
        max_duration: Duration::from_secs(u64::try_from(max_duration?).ok()?),
        codecs: codecs?,
    })
}

fn hangup(c: &mut Checker, path: &str, v: &Value) -> Option<HangupReason> {
    let v = params_object(v);
    let map = c.object(path, &v, &["reason"])?;
    optional(c, map, path, "reason", HangupReason::Hangup, |c, p, v| {
        let reasons = ["hangup", "busy", "decline"];
        let i = c.one_of(p, v, &reasons, &reasons)?;
        Some(
            [
                HangupReason::Hangup,
                HangupReason::Busy,
                HangupReason::Decline,
            ][i],
        )
    })
}

const MAX_MEDIA_SECONDS: f64 = 86_400.0;

fn play_url(c: &mut Checker, path: &str, v: &Value) -> Option<PlayUrl> {
    let s = c.string(path, v)?;
    let lower = s.to_ascii_lowercase();
    let seconds = |c: &mut Checker, rest: &str| {
        c.seconds(path, &Value::String(rest.to_owned()), MAX_MEDIA_SECONDS)
            .map(Duration::from_secs_f64)
    };
    let expected = "silence:SECONDS, ring:SECONDS, an http(s):// URL, file://PATH or say:TEXT";
    if let Some(rest) = lower.strip_prefix("silence:") {
        seconds(c, rest).map(PlayUrl::Silence)
    } else if let Some(rest) = lower.strip_prefix("ring:") {
        seconds(c, rest).map(PlayUrl::Ring)
    } else if lower.starts_with("http://") || lower.starts_with("https://") {
        c.http_url(path, v).map(PlayUrl::Http)
    } else if lower.starts_with("file://") {
        let file = &s["file://".len()..];
        if file.is_empty() || file.split(['/', '\\']).any(|seg| seg == "..") {
            c.expected(path, "file://PATH inside the media directory", v);
            return None;
        }
        Some(PlayUrl::File(file.to_owned()))
    } else if lower.starts_with("say:") && s.len() > "say:".len() {
        Some(PlayUrl::Say(s["say:".len()..].to_owned()))
    } else {
        c.expected(path, expected, v);
        None
    }
}

fn play(c: &mut Checker, path: &str, v: &Value) -> Option<Vec<PlayUrl>> {
    let map = c.object(path, v, &["url", "urls"])?;
    match (map.get("url"), map.get("urls")) {
        (Some(url), None) => Some(vec![play_url(c, &join_path(path, "url"), url)?]),
        (None, Some(urls)) => {
            let urls_path = join_path(path, "urls");
            if c.deferred(urls) {
                return None;
            }
            match urls {
                Value::Array(items) if !items.is_empty() && items.len() <= 100 => {
                    let out: Vec<Option<PlayUrl>> = items
                        .iter()
                        .enumerate()
                        .map(|(i, item)| play_url(c, &format!("{urls_path}[{i}]"), item))
                        .collect();
                    out.into_iter().collect()
                }
                other => {
                    c.expected(&urls_path, "a list of 1 to 100 URLs", other);
                    None
                }
            }
        }
        (Some(_), Some(_)) => {
            c.error(path, "expected url or urls, found both");
            None
        }
        (None, None) => {
            c.error(
                &join_path(path, "url"),
                "required key is missing (url or urls)",
            );
            None
        }
    }
}

fn sleep(c: &mut Checker, path: &str, v: &Value) -> Option<Duration> {
    let ms = if let Value::Object(_) = v {
        let map = c.object(path, v, &["duration"])?;
        let d = c.required(path, map, "duration")?;
        c.integer(&join_path(path, "duration"), d, 0, 86_400_000)?
    } else {
        c.integer(path, v, 0, 86_400_000)?
    };
    Some(Duration::from_millis(u64::try_from(ms).ok()?))
}

fn headers(c: &mut Checker, path: &str, v: &Value) -> Option<Vec<(String, String)>> {
    if c.deferred(v) {
        return None;
    }
    if let Value::Array(items) = v {
        // The upstream form of `connect`: [{name, value}, …].
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let item_path = format!("{path}[{i}]");
            let map = c.object(&item_path, item, &["name", "value"])?;
            let name = c.required(&item_path, map, "name");
            let value = c.required(&item_path, map, "value");
            let name = name.and_then(|n| c.non_empty_string(&join_path(&item_path, "name"), n));
            let value = value.and_then(|n| c.string(&join_path(&item_path, "value"), n));
            out.push((name?, value?));
        }
        return Some(out);
    }
    c.string_map(path, v)
}

fn request(c: &mut Checker, path: &str, v: &Value) -> Option<RequestParams> {
    let keys = [
        "url",
        "method",
        "headers",
        "body",
        "timeout",
        "save_variables",
    ];
    let map = c.object(path, v, &keys)?;
    let url = c
        .required(path, map, "url")
        .and_then(|u| c.http_url(&join_path(path, "url"), u));
    let method = c.required(path, map, "method").and_then(|m| {
        let methods = ["GET", "POST", "PUT", "DELETE"];
        let i = c.one_of(&join_path(path, "method"), m, &methods, &methods)?;
        Some(
            [
                HttpMethod::Get,
                HttpMethod::Post,
                HttpMethod::Put,
                HttpMethod::Delete,
            ][i],
        )
    });
    let headers = optional(c, map, path, "headers", Vec::new(), headers);
    let body = match map.get("body") {
        None | Some(Value::Null) => Some(None),
        Some(b @ (Value::String(_) | Value::Object(_) | Value::Array(_))) => Some(Some(b.clone())),
        Some(other) => {
            c.expected(&join_path(path, "body"), "a string or an object", other);
            None
        }
    };
    let timeout = optional(c, map, path, "timeout", 5.0, |c, p, v| {
        c.seconds(p, v, 300.0)
    });
    let save = optional(c, map, path, "save_variables", false, Checker::boolean);
    Some(RequestParams {
        url: url?,
        method: method?,
        headers: headers?,
        body: body?,
        timeout: Duration::from_secs_f64(timeout?),
        save_variables: save?,
    })
}

fn connect(c: &mut Checker, path: &str, v: &Value) -> Option<ConnectParams> {
    let map = c.object(path, v, &["to", "from", "timeout", "headers", "codecs"])?;
    let to = c.required(path, map, "to").and_then(|t| {
        let p = join_path(path, "to");
        let s = c.string(&p, t)?;
        let lower = s.to_ascii_lowercase();
        let ok = ["sip:", "sips:"].iter().any(|scheme| {
            lower
                .strip_prefix(scheme)
                .is_some_and(|rest| !rest.is_empty() && !rest.contains(char::is_whitespace))
        });
        if !ok {
            c.expected(&p, "a sip: or sips: URI", t);
            return None;
        }
        Some(s)
    });
    let from = optional(c, map, path, "from", None, |c, p, v| {
        c.non_empty_string(p, v).map(Some)
    });
    let timeout = optional(c, map, path, "timeout", 60, |c, p, v| {
        c.integer(p, v, 1, 600)
    });
    let headers = optional(c, map, path, "headers", Vec::new(), headers);
    let codecs = optional(c, map, path, "codecs", Vec::new(), codecs);
    Some(ConnectParams {
        to: to?,
        from: from?,
        timeout: Duration::from_secs(u64::try_from(timeout?).ok()?),
        headers: headers?,
        codecs: codecs?,
    })
}

fn dns_name(host: &str) -> bool {
    host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
        // A name whose last label is all digits would be a malformed IPv4 literal.
        && host
            .rsplit('.')
            .next()
            .is_some_and(|last| !last.chars().all(|c| c.is_ascii_digit()))
}

fn tap_uri(c: &mut Checker, path: &str, v: &Value) -> Option<TapUri> {
    let s = c.string(path, v)?;
    let lower = s.to_ascii_lowercase();
    if lower.starts_with("ws://") || lower.starts_with("wss://") {
        if has_host(&s, &["ws://", "wss://"]) {
            return Some(TapUri::WebSocket { url: s });
        }
    } else if let Some(rest) = s
        .get("rtp://".len()..)
        .filter(|_| lower.starts_with("rtp://"))
    {
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let split = if let Some(v6) = rest.strip_prefix('[') {
            v6.split_once("]:")
                .filter(|(h, _)| h.parse::<Ipv6Addr>().is_ok())
        } else {
            rest.rsplit_once(':')
                .filter(|(h, _)| h.parse::<Ipv4Addr>().is_ok() || dns_name(h))
        };
        if let Some((host, port)) = split
            && let Ok(port @ 1..) = port.parse::<u16>()
        {
            return Some(TapUri::Rtp {
                host: host.to_owned(),
                port,
            });
        }
    }
    c.expected(path, "rtp://HOST:PORT, ws://… or wss://…", v);
    None
}

fn tap(c: &mut Checker, path: &str, v: &Value) -> Option<TapParams> {
    let keys = [
        "uri",
        "control_id",
        "direction",
        "codec",
        "rtp_ptime",
        "status_url",
        "stereo",
        "announce",
        "custom_parameters",
        "headers",
        "authorization_bearer_token",
        "reconnect",
        "max_duration",
    ];
    let map = c.object(path, v, &keys)?;
    let uri_value = c.required(path, map, "uri");
    let uri_text = uri_value.and_then(Value::as_str).map(str::to_owned);
    let uri = uri_value.and_then(|u| tap_uri(c, &join_path(path, "uri"), u));
    let control_id = optional(c, map, path, "control_id", None, |c, p, v| {
        c.non_empty_string(p, v).map(Some)
    });
    let direction = optional(c, map, path, "direction", TapDirection::Speak, |c, p, v| {
        let i = c.one_of(
            p,
            v,
            &["speak", "listen", "both", "hear"],
            &["speak", "listen", "both"],
        )?;
        Some(
            [
                TapDirection::Speak,
                TapDirection::Listen,
                TapDirection::Both,
                TapDirection::Listen,
            ][i],
        )
    });
    let codec = optional(c, map, path, "codec", Codec::Pcmu, codec);
    let ptime = optional(c, map, path, "rtp_ptime", 20, |c, p, v| {
        let n = c.integer(p, v, 10, 120)?;
        if n % 10 != 0 {
            c.expected(p, "a multiple of 10 from 10 to 120", v);
            return None;
        }
        u16::try_from(n).ok()
    });
    let status_url = optional(c, map, path, "status_url", None, |c, p, v| {
        c.http_url(p, v).map(Some)
    });
    let stereo = optional(c, map, path, "stereo", false, Checker::boolean);
    let announce = optional(c, map, path, "announce", false, Checker::boolean);
    let custom = optional(
        c,
        map,
        path,
        "custom_parameters",
        Vec::new(),
        Checker::string_map,
    );
    let headers = optional(c, map, path, "headers", Vec::new(), |c, p, v| {
        let h = c.string_map(p, v)?;
        let bytes: usize = h.iter().map(|(k, v)| k.len() + v.len()).sum();
        if h.len() > 16 || bytes > 512 {
            c.error(
                p,
                format!(
                    "expected at most 16 headers and 512 bytes, found {} headers and {bytes} bytes",
                    h.len()
                ),
            );
            return None;
        }
        Some(h)
    });
    let token = optional(
        c,
        map,
        path,
        "authorization_bearer_token",
        None,
        |c, p, v| c.non_empty_string(p, v).map(Some),
    );
    let reconnect = optional(c, map, path, "reconnect", None, |c, p, v| {
        let m = c.object(p, v, &["attempts", "max_gap_ms"])?;
        let attempts = c.required(p, m, "attempts");
        let gap = c.required(p, m, "max_gap_ms");
        let attempts = attempts.and_then(|a| c.integer(&join_path(p, "attempts"), a, 0, 100));
        let gap = gap.and_then(|g| c.integer(&join_path(p, "max_gap_ms"), g, 1, 600_000));
        Some(Some(Reconnect {
            attempts: u32::try_from(attempts?).ok()?,
            max_gap_ms: u32::try_from(gap?).ok()?,
        }))
    });
    let max_duration = optional(c, map, path, "max_duration", None, |c, p, v| {
        let n = c.integer(p, v, 1, 86_400)?;
        Some(Some(Duration::from_secs(u64::try_from(n).ok()?)))
    });
    // Rules between keys, checked when both values are known.
    if let (Some(true), Some(d)) = (stereo, direction)
        && d != TapDirection::Both
    {
        c.error(
            &join_path(path, "stereo"),
            format!("stereo needs direction both, found {}", d.name()),
        );
    }
    if let (Some(true), Some(TapUri::Rtp { .. })) = (announce, &uri) {
        c.error(
            &join_path(path, "announce"),
            "announce needs a ws:// or wss:// uri, found an rtp:// uri",
        );
    }
    if let (Some(false), Some(custom)) = (announce, &custom)
        && !custom.is_empty()
    {
        c.error(
            &join_path(path, "custom_parameters"),
            "custom_parameters need announce: true",
        );
    }
    Some(TapParams {
        uri_text: uri_text?,
        uri: uri?,
        control_id: control_id?,
        direction: direction?,
        codec: codec?,
        rtp_ptime_ms: ptime?,
        status_url: status_url?,
        stereo: stereo?,
        announce: announce?,
        custom_parameters: custom?,
        headers: headers?,
        authorization_bearer_token: token?,
        reconnect: reconnect?,
        max_duration: max_duration?,
    })
}

/// Checks the parameters of a `tap` given outside a document (the control API's
/// `calling.tap`): the same rules as the method's, every value known. Findings' paths are
/// relative to the parameters (`codec`, `uri`, `reconnect.attempts`).
pub fn check_tap(v: &Value) -> Result<TapParams, Vec<ValidationError>> {
    let mut c = Checker::new(Mode::Run);
    match tap(&mut c, "", v) {
        Some(params) if c.errors.is_empty() => Ok(params),
        _ if c.errors.is_empty() => Err(vec![ValidationError::new("", "invalid tap parameters")]),
        _ => Err(c.errors),
    }
}

fn stop_tap(c: &mut Checker, path: &str, v: &Value) -> Option<Option<String>> {
    let v = params_object(v);
    let map = c.object(path, &v, &["control_id"])?;
    optional(c, map, path, "control_id", None, |c, p, v| {
        c.non_empty_string(p, v).map(Some)
    })
}
