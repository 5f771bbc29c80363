//! `POST /api/calling/calls`: the body `{"command", "id", "params"}` read, checked and carried
//! out: `dial` places a call; `calling.tap`, `calling.tap.stop` and `calling.end` go to the
//! call's task through its command queue.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use tokio::sync::oneshot;

use super::{ApiError, ApiState};
use crate::dial::{PlaceError, Placement};
use crate::registry::{CallCommand, CallView, Entry, TapOutcome};

/// How long a command may wait for room in a call's queue.
const QUEUE_WAIT: Duration = Duration::from_secs(5);
/// How long `calling.tap` waits for a WebSocket handshake before answering 503 (the tap goes
/// on; its status events say how it ends).
const HANDSHAKE_WAIT: Duration = Duration::from_secs(30);
/// The ring timeout of a `dial` without `timeout`, in seconds.
const DEFAULT_RING_SECS: u64 = 30;

pub(super) async fn command(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(e) = state.authorize(&headers) {
        return e.into_response();
    }
    match run(&state, &body).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

/// A command body, read and checked for its shape: nothing is carried out yet.
#[derive(Debug)]
pub(crate) struct Envelope {
    /// `command`.
    pub(crate) command: String,
    /// `id`, the call's id: present for every command but `dial`.
    pub(crate) id: Option<String>,
    /// `params` (an empty object when absent or null).
    pub(crate) params: Map<String, Value>,
}

/// Reads a body as `{"command", "id", "params"}`; every refusal names its attribute.
pub(crate) fn envelope(body: &[u8]) -> Result<Envelope, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::malformed(format!("the body is not JSON: {e}")))?;
    let Value::Object(mut map) = value else {
        return Err(ApiError::malformed("the body must be a JSON object"));
    };
    if let Some(key) = map
        .keys()
        .find(|k| !["command", "id", "params"].contains(&k.as_str()))
    {
        return Err(ApiError::malformed(format!(
            "unknown key {key:?}; a command has command, id and params"
        ))
        .at(key.clone()));
    }
    let command = match map.remove("command") {
        Some(Value::String(c)) => c,
        Some(_) => return Err(ApiError::malformed("command must be a string").at("command")),
        None => return Err(ApiError::malformed("command is required").at("command")),
    };
    let params = match map.remove("params") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(p)) => p,
        Some(_) => return Err(ApiError::malformed("params must be an object").at("params")),
    };
    if command == "dial" {
        return Ok(Envelope {
            command,
            id: None,
            params,
        });
    }
    if !["calling.tap", "calling.tap.stop", "calling.end"].contains(&command.as_str()) {
        return Err(ApiError::invalid(
            "command",
            format!(
                "unknown command {command:?}; expected dial, calling.tap, calling.tap.stop or \
                 calling.end"
            ),
        ));
    }
    let id = match map.remove("id") {
        Some(Value::String(id)) if !id.is_empty() => id,
        Some(_) => return Err(ApiError::malformed("id must be a call id (a string)").at("id")),
        None => return Err(ApiError::malformed(format!("{command} needs the call's id")).at("id")),
    };
    Ok(Envelope {
        command,
        id: Some(id),
        params,
    })
}

async fn run(state: &ApiState, body: &[u8]) -> Result<Response, ApiError> {
    let Envelope {
        command,
        id,
        params,
    } = envelope(body)?;
    let params = &params;
    let Some(id) = id else {
        return dial(state, params).await;
    };
    let id = id.as_str();
    let command = command.as_str();
    let entry = state
        .shared
        .registry
        .get(id)
        .ok_or_else(|| ApiError::not_found(format!("no call {id:?}")).at("id"))?;
    match command {
        "calling.tap" => tap(&entry, params).await,
        "calling.tap.stop" => stop_tap(&entry, params).await,
        _ => end(&entry, params).await,
    }
}

/// Hands `command` to the call's task.
async fn send(entry: &Entry, command: CallCommand) -> Result<(), ApiError> {
    match entry.commands.send_timeout(command, QUEUE_WAIT).await {
        Ok(()) => Ok(()),
        Err(tokio::sync::mpsc::error::SendTimeoutError::Closed(_)) => {
            Err(ApiError::not_found("the call has ended").at("id"))
        }
        Err(tokio::sync::mpsc::error::SendTimeoutError::Timeout(_)) => {
            Err(ApiError::busy("the call did not take the command in time"))
        }
    }
}

async fn tap(entry: &Entry, params: &Map<String, Value>) -> Result<Response, ApiError> {
    let tap = super::tap::params(params)?;
    let codec = tap.codec;
    let ptime = tap.rtp_ptime_ms;
    let is_rtp = matches!(tap.uri, swml::TapUri::Rtp { .. });
    let (reply, answer) = oneshot::channel();
    send(
        entry,
        CallCommand::Tap {
            params: Box::new(tap),
            reply,
        },
    )
    .await?;
    let outcome = match tokio::time::timeout(HANDSHAKE_WAIT, answer).await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(_)) => return Err(ApiError::not_found("the call has ended").at("id")),
        Err(_) => {
            return Err(ApiError::busy(
                "the tap's WebSocket handshake has not completed; its status events will say \
                 how it ends",
            ));
        }
    };
    let started = match outcome {
        TapOutcome::Started(started) => started,
        TapOutcome::Duplicate => {
            return Err(
                ApiError::conflict("a tap with this control_id is running on the call")
                    .at("params.control_id"),
            );
        }
        TapOutcome::Failed => {
            return Err(ApiError::upstream(
                "the tap did not start (its destination was refused or did not answer); its \
                 finished event says why",
            )
            .at("params.device"));
        }
    };
    let source_device = match (is_rtp, &started.rtp_source) {
        (true, Some((addr, port))) => json!({
            "type": "rtp",
            "params": {"addr": addr, "port": port, "codec": codec.name(), "ptime": ptime, "rate": 8000},
        }),
        _ => json!({"type": "ws", "params": {"codec": codec.name(), "rate": 8000}}),
    };
    Ok(axum::Json(json!({
        "code": "200",
        "message": "Tapping call",
        "call_id": entry.summary.id,
        "control_id": started.control_id,
        "source_device": source_device,
    }))
    .into_response())
}

async fn stop_tap(entry: &Entry, params: &Map<String, Value>) -> Result<Response, ApiError> {
    if let Some(key) = params.keys().find(|k| *k != "control_id") {
        return Err(ApiError::invalid(format!("params.{key}"), "unknown key"));
    }
    let control_id = match params.get("control_id") {
        Some(Value::String(c)) if !c.is_empty() => c.clone(),
        Some(_) => {
            return Err(ApiError::invalid(
                "params.control_id",
                "expected a non-empty string",
            ));
        }
        None => return Err(ApiError::invalid("params.control_id", "is required")),
    };
    let (reply, answer) = oneshot::channel();
    send(
        entry,
        CallCommand::StopTap {
            control_id: control_id.clone(),
            reply,
        },
    )
    .await?;
    match answer.await {
        Ok(true) => Ok(axum::Json(json!({
            "code": "200",
            "message": "Stopping tap",
            "call_id": entry.summary.id,
            "control_id": control_id,
        }))
        .into_response()),
        Ok(false) => Err(
            ApiError::not_found(format!("no tap {control_id:?} runs on the call"))
                .at("params.control_id"),
        ),
        Err(_) => Err(ApiError::not_found("the call has ended").at("id")),
    }
}

async fn end(entry: &Entry, params: &Map<String, Value>) -> Result<Response, ApiError> {
    if let Some(key) = params.keys().find(|k| *k != "reason") {
        return Err(ApiError::invalid(format!("params.{key}"), "unknown key"));
    }
    let reason = match params.get("reason") {
        None | Some(Value::Null) => "hangup".to_owned(),
        Some(Value::String(r)) if ["hangup", "busy", "cancel"].contains(&r.as_str()) => r.clone(),
        Some(other) => {
            return Err(ApiError::invalid(
                "params.reason",
                format!("expected hangup, busy or cancel, found {other}"),
            ));
        }
    };
    send(entry, CallCommand::End { reason }).await?;
    Ok(axum::Json(json!({
        "code": "200",
        "message": "Ending call",
        "call_id": entry.summary.id,
    }))
    .into_response())
}

fn sip_uri(params: &Map<String, Value>, key: &str) -> Result<Option<String>, ApiError> {
    let attribute = format!("params.{key}");
    match params.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(uri))
            if (uri.starts_with("sip:") || uri.starts_with("sips:")) && uri.len() > 4 =>
        {
            Ok(Some(uri.clone()))
        }
        Some(other) => Err(ApiError::invalid(
            attribute,
            format!("expected a SIP URI (sip:user@host), found {other}"),
        )),
    }
}

/// `dial`'s parameters, checked: the callee, the caller if given, the document and the ring
/// timeout.
pub(crate) struct DialRequest {
    to: String,
    from: Option<String>,
    document: crate::Route,
    ring_timeout: Duration,
}

/// Checks `dial`'s parameters without placing anything.
pub(crate) fn dial_checks(params: &Map<String, Value>) -> Result<(), ApiError> {
    dial_request(params).map(drop)
}

fn dial_request(params: &Map<String, Value>) -> Result<DialRequest, ApiError> {
    const KNOWN: [&str; 5] = ["from", "to", "url", "swml", "timeout"];
    if let Some(key) = params.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(ApiError::invalid(
            format!("params.{key}"),
            format!("unknown key; expected one of {}", KNOWN.join(", ")),
        ));
    }
    let to = sip_uri(params, "to")?.ok_or_else(|| ApiError::invalid("params.to", "is required"))?;
    let from = sip_uri(params, "from")?;
    let document = match (params.get("url"), params.get("swml")) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "params.url",
                "give url or swml, not both",
            ));
        }
        (Some(Value::String(url)), None)
            if url.starts_with("http://") || url.starts_with("https://") =>
        {
            crate::Route::Url(url.clone())
        }
        (Some(other), None) => {
            return Err(ApiError::invalid(
                "params.url",
                format!("expected an http(s) URL, found {other}"),
            ));
        }
        (None, Some(swml)) => {
            let text = match swml {
                Value::String(text) => text.clone(),
                Value::Object(_) => swml.to_string(),
                other => {
                    return Err(ApiError::invalid(
                        "params.swml",
                        format!(
                            "expected a document (an object, or JSON or YAML text), found {other}"
                        ),
                    ));
                }
            };
            let document = swml::check(&text).map_err(|errors| {
                let first = errors.first().map(ToString::to_string).unwrap_or_default();
                ApiError::invalid(
                    "params.swml",
                    format!("the document is invalid ({} errors): {first}", errors.len()),
                )
            })?;
            crate::Route::Document(document)
        }
        (None, None) => {
            return Err(ApiError::invalid(
                "params.swml",
                "a dial needs the document to run: url or swml",
            ));
        }
    };
    let ring_timeout = match params.get("timeout") {
        None | Some(Value::Null) => Duration::from_secs(DEFAULT_RING_SECS),
        Some(Value::Number(n)) => match n.as_f64().filter(|s| (1.0..=600.0).contains(s)) {
            Some(secs) => Duration::from_secs_f64(secs),
            None => {
                return Err(ApiError::invalid(
                    "params.timeout",
                    format!("expected seconds from 1 to 600, found {n}"),
                ));
            }
        },
        Some(other) => {
            return Err(ApiError::invalid(
                "params.timeout",
                format!("expected seconds from 1 to 600, found {other}"),
            ));
        }
    };
    Ok(DialRequest {
        to,
        from,
        document,
        ring_timeout,
    })
}

async fn dial(state: &ApiState, params: &Map<String, Value>) -> Result<Response, ApiError> {
    let DialRequest {
        to,
        from,
        document,
        ring_timeout,
    } = dial_request(params)?;
    if state.shared.draining() {
        return Err(ApiError::draining());
    }
    let from = from.unwrap_or_else(|| format!("sip:earshot@{}", state.shared.endpoint.udp_addr()));
    let placement = Placement {
        to,
        from,
        document,
        ring_timeout,
    };
    let summary = crate::dial::place(std::sync::Arc::clone(&state.shared), placement)
        .await
        .map_err(|e| match e {
            PlaceError::Sip(sip::SipError::InvalidUri { uri, reason }) => {
                ApiError::invalid("params.to", format!("invalid SIP URI {uri:?}: {reason}"))
            }
            PlaceError::Sip(sip::SipError::EndpointClosed) => ApiError::draining(),
            PlaceError::Sip(other) => ApiError::upstream(other.to_string()),
            PlaceError::NoMedia(why) => ApiError::busy(why),
        })?;
    let view = CallView {
        summary,
        state: "ringing",
        taps: Vec::new(),
        rtp: None,
    };
    Ok((StatusCode::CREATED, axum::Json(view)).into_response())
}
