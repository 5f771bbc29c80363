//! `calling.tap` parameters → the SWML `tap` method's parameters, checked by the same code
//! (`swml::check_tap`), so that a tap started by the API is the tap a document would start.
//!
//! The API names the destination as a `device` (`rtp` with `addr`/`port`, or `ws` with
//! `uri`); the document names it as one `uri`. Every other key of `device.params` is passed to
//! the tap as it is (`stereo`, `announce`, `headers`, …), and every finding is reported with
//! the API's own attribute path.

use serde_json::{Map, Value};
use swml::TapParams;

use crate::api::error::ApiError;

const DEVICE: &str = "params.device.params";

/// Which kind of device the request named, for mapping findings back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Rtp,
    Ws,
}

fn object<'a>(v: Option<&'a Value>, attribute: &str) -> Result<&'a Map<String, Value>, ApiError> {
    match v {
        Some(Value::Object(map)) => Ok(map),
        Some(_) => Err(ApiError::invalid(attribute, "expected an object")),
        None => Err(ApiError::invalid(attribute, "is required")),
    }
}

fn text<'a>(map: &'a Map<String, Value>, key: &str, attribute: &str) -> Result<&'a str, ApiError> {
    match map.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(_) => Err(ApiError::invalid(attribute, "expected a non-empty string")),
        None => Err(ApiError::invalid(attribute, "is required")),
    }
}

/// The tap of a `calling.tap` command's `params`.
pub(crate) fn params(params: &Map<String, Value>) -> Result<TapParams, ApiError> {
    const KNOWN: [&str; 4] = ["control_id", "tap", "device", "status_url"];
    if let Some(key) = params.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(ApiError::invalid(
            format!("params.{key}"),
            format!("unknown key; expected one of {}", KNOWN.join(", ")),
        ));
    }
    let mut swml = Map::new();
    let tap = object(params.get("tap"), "params.tap")?;
    if let Some(key) = tap.keys().find(|k| *k != "type" && *k != "params") {
        return Err(ApiError::invalid(
            format!("params.tap.{key}"),
            "unknown key",
        ));
    }
    if text(tap, "type", "params.tap.type")? != "audio" {
        return Err(ApiError::invalid("params.tap.type", "expected \"audio\""));
    }
    if let Some(tap_params) = tap.get("params") {
        let tap_params = object(Some(tap_params), "params.tap.params")?;
        if let Some(key) = tap_params.keys().find(|k| *k != "direction") {
            return Err(ApiError::invalid(
                format!("params.tap.params.{key}"),
                "unknown key",
            ));
        }
        if let Some(direction) = tap_params.get("direction") {
            swml.insert("direction".into(), direction.clone());
        }
    }
    let device = object(params.get("device"), "params.device")?;
    if let Some(key) = device.keys().find(|k| *k != "type" && *k != "params") {
        return Err(ApiError::invalid(
            format!("params.device.{key}"),
            "unknown key",
        ));
    }
    let kind = match text(device, "type", "params.device.type")? {
        "rtp" => Kind::Rtp,
        "ws" => Kind::Ws,
        other => {
            return Err(ApiError::invalid(
                "params.device.type",
                format!("expected \"rtp\" or \"ws\", found {other:?}"),
            ));
        }
    };
    let device_params = object(device.get("params"), DEVICE)?;
    for (key, value) in device_params {
        match (kind, key.as_str()) {
            (Kind::Rtp, "addr" | "port") | (Kind::Ws, "uri") => {}
            (Kind::Rtp, "ptime") => {
                swml.insert("rtp_ptime".into(), value.clone());
            }
            (Kind::Rtp, "uri") | (Kind::Rtp, "rtp_ptime") | (Kind::Ws, "addr" | "port") => {
                return Err(ApiError::invalid(
                    format!("{DEVICE}.{key}"),
                    format!(
                        "unknown key for a {} device",
                        if kind == Kind::Rtp { "rtp" } else { "ws" }
                    ),
                ));
            }
            _ => {
                swml.insert(key.clone(), value.clone());
            }
        }
    }
    let uri = match kind {
        Kind::Rtp => {
            let addr = text(device_params, "addr", &format!("{DEVICE}.addr"))?;
            let port = match device_params.get("port") {
                Some(Value::Number(n)) => n
                    .as_u64()
                    .filter(|p| (1..=65535).contains(p))
                    .ok_or_else(|| {
                        ApiError::invalid(
                            format!("{DEVICE}.port"),
                            format!("expected a port from 1 to 65535, found {n}"),
                        )
                    })?,
                Some(_) => {
                    return Err(ApiError::invalid(
                        format!("{DEVICE}.port"),
                        "expected a port from 1 to 65535",
                    ));
                }
                None => return Err(ApiError::invalid(format!("{DEVICE}.port"), "is required")),
            };
            if addr.contains(':') && !addr.starts_with('[') {
                format!("rtp://[{addr}]:{port}")
            } else {
                format!("rtp://{addr}:{port}")
            }
        }
        Kind::Ws => text(device_params, "uri", &format!("{DEVICE}.uri"))?.to_owned(),
    };
    swml.insert("uri".into(), uri.into());
    for key in ["control_id", "status_url"] {
        if let Some(v) = params.get(key) {
            swml.insert(key.into(), v.clone());
        }
    }
    swml::check_tap(&Value::Object(swml)).map_err(|errors| {
        // The first finding; the message names what was expected and found.
        let first = errors.into_iter().next();
        let (path, message) = first.map_or_else(
            || (String::new(), "invalid tap".to_owned()),
            |e| (e.path, e.message),
        );
        ApiError::invalid(attribute(kind, &path), message)
    })
}

/// The API attribute of a finding at `path` in the SWML `tap` parameters.
fn attribute(kind: Kind, path: &str) -> String {
    let (key, rest) = match path.split_once('.') {
        Some((k, r)) => (k, Some(r)),
        None => (path, None),
    };
    let base = match (kind, key) {
        (_, "") => "params".to_owned(),
        (_, "direction") => "params.tap.params.direction".to_owned(),
        (_, "control_id") => "params.control_id".to_owned(),
        (_, "status_url") => "params.status_url".to_owned(),
        (Kind::Rtp, "uri") => format!("{DEVICE}.addr"),
        (Kind::Rtp, "rtp_ptime") => format!("{DEVICE}.ptime"),
        (_, other) => format!("{DEVICE}.{other}"),
    };
    match rest {
        Some(rest) => format!("{base}.{rest}"),
        None => base,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: Value) -> Result<TapParams, ApiError> {
        params(v.as_object().expect("an object"))
    }

    #[test]
    fn an_rtp_device_becomes_an_rtp_uri() {
        let t = parse(serde_json::json!({
            "control_id": "t1",
            "tap": {"type": "audio", "params": {"direction": "both"}},
            "device": {"type": "rtp", "params": {"addr": "127.0.0.1", "port": 4000, "codec": "PCMA", "ptime": 30}},
            "status_url": "http://127.0.0.1:9/s",
        }))
        .expect("valid");
        assert_eq!(t.uri_text, "rtp://127.0.0.1:4000");
        assert_eq!(t.control_id.as_deref(), Some("t1"));
        assert_eq!(t.direction, swml::TapDirection::Both);
        assert_eq!(t.codec, swml::Codec::Pcma);
        assert_eq!(t.rtp_ptime_ms, 30);
        assert_eq!(t.status_url.as_deref(), Some("http://127.0.0.1:9/s"));
    }

    #[test]
    fn findings_name_the_api_attribute() {
        let attr = |v: Value| parse(v).expect_err("invalid").attribute;
        let rtp = |p: Value| serde_json::json!({"tap": {"type": "audio"}, "device": {"type": "rtp", "params": p}});
        assert_eq!(
            attr(rtp(serde_json::json!({"addr": "127.0.0.1", "port": 70000}))).as_deref(),
            Some("params.device.params.port")
        );
        assert_eq!(
            attr(rtp(
                serde_json::json!({"addr": "127.0.0.1", "port": 4000, "ptime": 25})
            ))
            .as_deref(),
            Some("params.device.params.ptime")
        );
        assert_eq!(
            attr(rtp(
                serde_json::json!({"addr": "127.0.0.1", "port": 4000, "codec": "G729"})
            ))
            .as_deref(),
            Some("params.device.params.codec")
        );
        assert_eq!(
            attr(
                serde_json::json!({"tap": {"type": "audio", "params": {"direction": "sideways"}},
                "device": {"type": "ws", "params": {"uri": "ws://127.0.0.1:9/"}}})
            )
            .as_deref(),
            Some("params.tap.params.direction")
        );
        assert_eq!(
            attr(serde_json::json!({"tap": {"type": "video"}, "device": {"type": "ws", "params": {"uri": "ws://h/"}}}))
                .as_deref(),
            Some("params.tap.type")
        );
        assert_eq!(
            attr(serde_json::json!({"tap": {"type": "audio"}, "device": {"type": "ws", "params": {"uri": "ftp://h/"}}}))
                .as_deref(),
            Some("params.device.params.uri")
        );
        assert_eq!(
            attr(serde_json::json!({"tap": {"type": "audio"}})).as_deref(),
            Some("params.device")
        );
    }
}
