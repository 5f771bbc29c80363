//! An inbound call running an SWML document: the shell around `swml::Interpreter`.
//!
//! The interpreter decides; this task does what its actions say, with the call's signalling,
//! its leg and, for `connect`, the far call, and hands the outcomes back. Everything of the
//! call stays in this one task.
//!
//! Supported here: `answer` (automatic before `play` and `connect`), `hangup`, `play` of
//! `silence:`, `ring:`, `file://` WAV under the media directory and `http(s)://` WAV, `sleep`,
//! every control flow method (the interpreter's own), `request`, `execute`/`transfer` to a
//! document fetched over HTTP, and `connect` (the caller is answered first, then bridged; the
//! script goes on when the far end hangs up), `say:` through the node's TTS command, and
//! `tap`/`stop_tap` (`taps.rs`). HTTP runs in a task of its own while this task keeps the
//! call's media paced; what a document fetches follows the node's destination policy
//! (`http.rs`).

use std::collections::BTreeMap;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use g711::Law;
use media::{Leg, LegEvent, Playback, PortLease, Source};
use sdp::SdpSession;
use sip::{InboundCall, InboundEvent, Rejection};
use swml::{Action, Document, HangupReason, Interpreter, PlayUrl};

/// What woke a call's signalling branch.
enum CallSignal {
    Command(crate::registry::CallCommand),
    Caller(Option<InboundEvent>),
    Stop,
}
use tap::Stream;
use tokio::task::JoinHandle;

use crate::bridge::{DialOutcome, RelayEnd, dial_far, relay};
use crate::call::{
    CallReport, answer_reinvite_offer, await_answer_in_ack, describe, leg_rng, reject,
    sdp_rejection,
};
use crate::node::Shared;
use crate::party::{Party, Signalling};

/// Where a routed call's document comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    /// A document loaded and validated when the node started.
    Document(Document),
    /// An `http(s)` URL, fetched for each call with a POST of `{call, vars, params}`; a call
    /// whose document does not load or validate gets 500 with a Reason.
    Url(String),
}

/// Which document an inbound call runs, by the user part of its Request-URI.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Routes {
    /// Documents by called user.
    pub by_user: BTreeMap<String, Route>,
    /// The document for every other call; without one, such calls get 404.
    pub default: Option<Route>,
}

impl Routes {
    /// The route of a call to `user`.
    pub fn route(&self, user: Option<&str>) -> Option<&Route> {
        user.and_then(|u| self.by_user.get(u))
            .or(self.default.as_ref())
    }
}

/// The document's `call` scope for `info`; the node's ids are added by [`with_node_ids`].
pub(crate) fn call_scope(info: &CallInfo) -> serde_json::Value {
    let headers: serde_json::Map<String, serde_json::Value> = info
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::from(v.clone())))
        .collect();
    serde_json::json!({
        "call_id": info.call_id,
        "segment_id": info.call_id,
        "direction": info.direction,
        "from": info.from,
        "to": info.to,
        "headers": headers,
        "type": "sip",
        "state": "created",
    })
}

/// `call` with the node's `node_id`, `project_id` and `space_id` (its configuration, the
/// same ids as its status events).
fn with_node_ids(mut call: serde_json::Value, rules: &crate::TapRules) -> serde_json::Value {
    if let Some(scope) = call.as_object_mut() {
        scope.insert("node_id".into(), rules.node_id.clone().into());
        scope.insert("project_id".into(), rules.project_id.clone().into());
        scope.insert("space_id".into(), rules.space_id.clone().into());
    }
    call
}

/// The document of `route` for a call whose `call` scope is `call`.
pub(crate) async fn resolve(
    shared: &Shared,
    route: &Route,
    call: &serde_json::Value,
) -> Result<Document, String> {
    match route {
        Route::Document(document) => Ok(document.clone()),
        Route::Url(url) => {
            let call = with_node_ids(call.clone(), &shared.config.taps);
            let body = serde_json::json!({ "call": call, "vars": {}, "params": {} });
            let text = shared.http.fetch_route_document(url, &body).await?;
            swml::check(&text).map_err(|errors| {
                let first = errors.first().map(ToString::to_string).unwrap_or_default();
                format!(
                    "the document from {} is invalid ({} errors): {first}",
                    crate::redact::uri(url),
                    errors.len()
                )
            })
        }
    }
}

/// What the call is, for the document's `call` scope.
pub(crate) struct CallInfo {
    pub(crate) call_id: String,
    /// `inbound` or `outbound`.
    pub(crate) direction: &'static str,
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) headers: Vec<(String, String)>,
}

enum Media {
    Pending(Option<(UdpSocket, PortLease)>),
    Up(Box<Leg>),
}

/// HTTP under way for the script, in a task of its own.
enum Pending {
    Request(JoinHandle<Result<crate::http::Answer, String>>),
    Document(JoinHandle<Result<String, String>>),
    Play {
        urls: Vec<PlayUrl>,
        fetched: JoinHandle<Result<Vec<Vec<u8>>, String>>,
    },
}

enum Done {
    Request(Result<crate::http::Answer, String>),
    Document(Result<String, String>),
    Play(Vec<PlayUrl>, Result<Vec<Vec<u8>>, String>),
}

/// A task's result, or why the task itself failed.
fn joined<T>(r: Result<Result<T, String>, tokio::task::JoinError>) -> Result<T, String> {
    r.unwrap_or_else(|e| Err(e.to_string()))
}

impl Pending {
    async fn wait(&mut self) -> Done {
        match self {
            Pending::Request(h) => Done::Request(joined(h.await)),
            Pending::Document(h) => Done::Document(joined(h.await)),
            Pending::Play { urls, fetched } => {
                let result = joined(fetched.await);
                Done::Play(std::mem::take(urls), result)
            }
        }
    }
}

struct Script<'a> {
    call: Party,
    /// When the call must end (`answer`'s `max_duration`, 4 hours unless set).
    hangup_at: Option<tokio::time::Instant>,
    call_id: String,
    taps: crate::taps::Taps,
    pending: Option<Pending>,
    offer: Option<Bytes>,
    sdp: SdpSession,
    media: Media,
    shared: &'a Shared,
    report: &'a mut CallReport,
    control: &'a mut crate::registry::CallControl,
}

/// Runs `document` on an inbound call until the script or the call ends.
#[allow(
    clippy::too_many_arguments,
    reason = "the parts of one offered call, taken apart once"
)]
pub(crate) async fn run(
    call: InboundCall,
    offer: Option<Bytes>,
    sdp: SdpSession,
    bound: (UdpSocket, PortLease),
    document: Document,
    info: CallInfo,
    shared: &Shared,
    report: &mut CallReport,
    control: &mut crate::registry::CallControl,
) -> String {
    let script = Script {
        call: Party::Inbound(call),
        offer,
        sdp,
        media: Media::Pending(Some(bound)),
        hangup_at: None,
        call_id: info.call_id.clone(),
        taps: crate::taps::Taps::default(),
        pending: None,
        shared,
        report,
        control,
    };
    script.run(document, &info).await
}

/// Runs `document` on an outbound call its callee has answered, with its `leg` up and the
/// `taps` started while it rang.
#[allow(
    clippy::too_many_arguments,
    reason = "the parts of one answered call, handed over once"
)]
pub(crate) async fn run_outbound(
    call: sip::OutboundCall,
    sdp: SdpSession,
    leg: Leg,
    taps: crate::taps::Taps,
    document: Document,
    info: CallInfo,
    shared: &Shared,
    report: &mut CallReport,
    control: &mut crate::registry::CallControl,
) -> String {
    let script = Script {
        call: Party::Outbound(call),
        offer: None,
        sdp,
        media: Media::Up(Box::new(leg)),
        // SWML's default call limit: 4 hours.
        hangup_at: Some(tokio::time::Instant::now() + Duration::from_secs(14_400)),
        call_id: info.call_id.clone(),
        taps,
        pending: None,
        shared,
        report,
        control,
    };
    script.run(document, &info).await
}

/// Refuses the call if it is inbound and not answered; an outbound call is hung up.
async fn refuse(call: &Party, report: &mut CallReport, rejection: Rejection) -> String {
    match call {
        Party::Inbound(call) => reject(call, report, rejection).await,
        Party::Outbound(_) => {
            let _ = call.reject(rejection).await;
            "hung up by the script".into()
        }
    }
}

impl Script<'_> {
    async fn run(mut self, document: Document, info: &CallInfo) -> String {
        let call_scope = with_node_ids(call_scope(info), &self.shared.config.taps);
        let mut interpreter =
            Interpreter::new(document, call_scope, serde_json::json!({}), Leg::now());
        let script = &mut self;
        let ended = script.drive(&mut interpreter).await;
        // Taps belong to the call: they finish with it, and their `finished` events are
        // delivered by tasks of their own.
        script
            .taps
            .stop_all(crate::sink::Reason::CallEnded, Leg::now());
        if let Media::Up(leg) = &script.media {
            script.report.stats = leg.stats();
        }
        ended
    }

    async fn drive(&mut self, interpreter: &mut Interpreter) -> String {
        let mut shutdown = self.shared.shutdown();
        // One branch for the API's commands, the caller's dialog and the shutdown signal
        // (pinned across turns), polled only when one of them woke (`media::Gate`).
        let stop = crate::node::stopped(&mut shutdown);
        tokio::pin!(stop);
        let mut signalling = media::Gate::new();
        // One timer for the whole loop, moved only when the next deadline does.
        let far_future = || tokio::time::Instant::now() + Duration::from_secs(3600);
        let timer = tokio::time::sleep_until(far_future());
        tokio::pin!(timer);
        loop {
            if let Some(ended) = self.act(interpreter).await {
                return ended;
            }
            let wake = interpreter
                .poll_timeout()
                .map(tokio::time::Instant::from_std);
            let leg_deadline = match &self.media {
                Media::Up(leg) => Some(leg.next_deadline()),
                Media::Pending(_) => None,
            };
            let taps_due = self.taps.deadline().map(tokio::time::Instant::from_std);
            // A WebSocket tap that is connecting is checked on every turn.
            let connecting = self
                .taps
                .connecting()
                .then(|| tokio::time::Instant::now() + Duration::from_millis(10));
            let deadline = [wake, leg_deadline, taps_due, connecting]
                .into_iter()
                .flatten()
                .min();
            match deadline {
                Some(due) if timer.deadline() != due => timer.as_mut().reset(due),
                Some(_) => {}
                // Nothing due: the timer is left where it is, or pushed far out if it is at
                // hand (a turn on its own is harmless, but not one per loop).
                None if timer.deadline()
                    <= tokio::time::Instant::now() + Duration::from_secs(60) =>
                {
                    timer.as_mut().reset(far_future());
                }
                None => {}
            }
            tokio::select! {
                received = async {
                    match &mut self.media {
                        Media::Up(leg) => match leg.recv().await {
                            Ok(media::Received::Rtp(inbound)) => {
                                self.taps.feed(inbound.at, Stream::Speak, inbound.packet);
                                Ok(())
                            }
                            Ok(_) => Ok(()),
                            Err(error) => Err(error),
                        },
                        Media::Pending(_) => std::future::pending().await,
                    }
                } => {
                    if let Err(error) = received {
                        tracing::warn!(%error, "RTP receive failed");
                    }
                }
                () = &mut timer => {}
                done = async {
                    match &mut self.pending {
                        Some(pending) => pending.wait().await,
                        None => std::future::pending().await,
                    }
                } => {
                    self.pending = None;
                    self.handle_done(interpreter, done);
                }
                signal = signalling.run(async {
                    tokio::select! {
                        command = self.control.next() => CallSignal::Command(command),
                        event = self.call.next_event() => CallSignal::Caller(event),
                        () = &mut stop => CallSignal::Stop,
                    }
                }) => match signal {
                    CallSignal::Command(command) => {
                        let (state, rtp) = match &self.media {
                            Media::Up(leg) => ("answered", Some(leg.stats())),
                            Media::Pending(_) => ("created", None),
                        };
                        let step = self
                            .control
                            .handle(command, &mut self.taps, self.shared, state, rtp)
                            .await;
                        if let crate::registry::Step::End(reason) = step {
                            interpreter.handle_hangup();
                            let _ = self.call.hangup().await;
                            return format!("ended by the API: {reason}");
                        }
                    }
                    CallSignal::Caller(Some(InboundEvent::Bye) | None) => {
                        interpreter.handle_hangup();
                        return "caller hung up".into();
                    }
                    CallSignal::Caller(Some(InboundEvent::Cancelled)) => {
                        interpreter.handle_hangup();
                        return "caller cancelled".into();
                    }
                    CallSignal::Caller(Some(InboundEvent::Terminated { reason })) => {
                        interpreter.handle_hangup();
                        return describe(&reason);
                    }
                    CallSignal::Caller(Some(InboundEvent::ReInvite(reinvite))) => {
                        let leg = match &mut self.media {
                            Media::Up(leg) => Some(&mut **leg),
                            Media::Pending(_) => None,
                        };
                        answer_reinvite_offer(reinvite, &mut self.sdp, leg, self.report).await;
                    }
                    CallSignal::Caller(Some(InboundEvent::Acked { .. })) => {}
                    CallSignal::Stop => {
                        interpreter.handle_hangup();
                        let _ = self.call.hangup().await;
                        return "node shut down".into();
                    }
                },
            }
            if self
                .hangup_at
                .is_some_and(|at| tokio::time::Instant::now() >= at)
            {
                interpreter.handle_hangup();
                let _ = self.call.hangup().await;
                return "max_duration reached".into();
            }
            let now = Leg::now();
            interpreter.handle_timeout(now);
            for started in self.control.resolve(self.taps.poll_ws_events(now)) {
                interpreter.handle_tap_started(started);
            }
            if let Media::Up(leg) = &mut self.media {
                let taps = &mut self.taps;
                leg.send_due(now, |sent| taps.feed(now, Stream::Listen, sent.packet()));
                taps.drive(now);
                while let Some(event) = leg.poll_event() {
                    match event {
                        LegEvent::PlaybackFinished => {
                            leg.core_mut().set_source(Source::Silence);
                            interpreter.handle_play_done(true);
                        }
                        LegEvent::Inactive { silent_for } => {
                            interpreter.handle_hangup();
                            let _ = self.call.hangup().await;
                            return format!("no RTP for {} s", silent_for.as_secs());
                        }
                        LegEvent::Latched { .. } | LegEvent::Relatched { .. } => {}
                    }
                }
            }
        }
    }

    /// Carries out actions until the interpreter waits; `Some` when the call is over.
    async fn act(&mut self, interpreter: &mut Interpreter) -> Option<String> {
        loop {
            match interpreter.poll_action() {
                Action::Wait => return None,
                Action::Finished => {
                    return Some(match self.media {
                        Media::Up(_) => {
                            let _ = self.call.hangup().await;
                            "the script ended".into()
                        }
                        Media::Pending(_) => {
                            refuse(&self.call, self.report, Rejection::new(480)).await
                        }
                    });
                }
                Action::Answer(params) => {
                    if matches!(self.media, Media::Pending(_)) {
                        if !params.codecs.is_empty() {
                            let mut local = self.sdp.local().clone();
                            local.codecs =
                                params.codecs.iter().map(|&c| crate::taps::law(c)).collect();
                            self.sdp.set_local(local);
                        }
                        self.hangup_at = Some(tokio::time::Instant::now() + params.max_duration);
                    }
                    if let Err(ended) = self.answer().await {
                        return Some(ended);
                    }
                }
                Action::Hangup { reason } => {
                    interpreter.handle_hangup();
                    return Some(match self.media {
                        Media::Up(_) => {
                            let _ = self.call.hangup().await;
                            "hung up by the script".into()
                        }
                        Media::Pending(_) => {
                            let code = match reason {
                                HangupReason::Busy => 486,
                                HangupReason::Decline => 603,
                                HangupReason::Hangup => 480,
                            };
                            refuse(&self.call, self.report, Rejection::new(code)).await
                        }
                    });
                }
                Action::Play { urls } => {
                    if let Err(ended) = self.answer().await {
                        return Some(ended);
                    }
                    let Media::Up(leg) = &mut self.media else {
                        unreachable!("answered above");
                    };
                    let remote: Vec<PlayUrl> = urls
                        .iter()
                        .filter(|u| matches!(u, PlayUrl::Http(_) | PlayUrl::Say(_)))
                        .cloned()
                        .collect();
                    if remote.is_empty() {
                        match playback(&urls, leg.core().law(), &self.shared.config.media_dir, &[])
                        {
                            Ok(audio) => leg.core_mut().set_source(Source::Play(audio)),
                            Err(error) => {
                                tracing::warn!(%error, "play failed");
                                interpreter.handle_play_done(false);
                            }
                        }
                    } else {
                        let http = self.shared.http.clone();
                        let tts = self.shared.config.tts_command.clone();
                        let fetched = tokio::spawn(fetch_audio(http, tts, remote));
                        self.pending = Some(Pending::Play { urls, fetched });
                    }
                }
                Action::Sleep { .. } => {}
                Action::Connect(params) => {
                    if let Err(ended) = self.answer().await {
                        return Some(ended);
                    }
                    let caller_media = match &mut self.media {
                        Media::Up(leg) => Some(crate::bridge::CallerMedia {
                            leg,
                            taps: &mut self.taps,
                        }),
                        Media::Pending(_) => None,
                    };
                    let outcome = dial_far(
                        self.shared,
                        &mut self.call,
                        caller_media,
                        &params.to,
                        params.from.as_deref(),
                        params.timeout,
                        params.headers.clone(),
                    )
                    .await;
                    match outcome {
                        DialOutcome::Answered {
                            call: mut far,
                            leg: mut far_leg,
                        } => {
                            let Media::Up(leg) = &mut self.media else {
                                unreachable!("answered above");
                            };
                            let end = relay(
                                &mut self.call,
                                &mut far,
                                leg,
                                &mut far_leg,
                                &mut self.sdp,
                                &mut self.taps,
                                self.shared,
                                self.report,
                                self.control,
                            )
                            .await;
                            self.shared.metrics.leg_ended(&far_leg.stats());
                            leg.core_mut().set_source(Source::Silence);
                            match end {
                                RelayEnd::Far(_) => interpreter.handle_connect_done(true, None),
                                RelayEnd::Caller(ended) | RelayEnd::Both(ended) => {
                                    interpreter.handle_hangup();
                                    return Some(ended);
                                }
                            }
                        }
                        DialOutcome::Failed { reason, .. } => {
                            interpreter.handle_connect_done(false, Some(&reason));
                        }
                        DialOutcome::CallerGone(ended) => {
                            interpreter.handle_hangup();
                            return Some(ended);
                        }
                    }
                }
                Action::Request(params) => {
                    let http = self.shared.http.clone();
                    let method = format!("{:?}", params.method).to_ascii_uppercase();
                    self.pending = Some(Pending::Request(tokio::spawn(async move {
                        http.send(
                            &method,
                            &params.url,
                            &params.headers,
                            params.body.as_ref(),
                            params.timeout,
                            crate::http::MAX_BODY,
                        )
                        .await
                    })));
                }
                Action::StartTap(params) => {
                    let started = self
                        .taps
                        .start(self.shared, &self.call_id, &params, Leg::now())
                        .await;
                    if let Some(started) = started {
                        interpreter.handle_tap_started(started);
                    }
                }
                Action::StopTap { control_id } => {
                    let stopped = self.taps.stop(&control_id, Leg::now());
                    interpreter.handle_tap_stopped(stopped);
                }
                Action::FetchDocument { url, body } => {
                    let http = self.shared.http.clone();
                    self.pending = Some(Pending::Document(tokio::spawn(async move {
                        http.fetch_document(&url, &body).await
                    })));
                }
                Action::StepFailed { path, error } => {
                    let error = crate::redact::text(&error.to_string());
                    tracing::warn!(%path, %error, "step failed");
                }
                Action::TapInvalid {
                    path,
                    error,
                    params,
                } => {
                    let error = crate::redact::text(&error.to_string());
                    tracing::warn!(%path, %error, "invalid_params: the tap was not started");
                    crate::taps::report_invalid(self.shared, &self.call_id, &params);
                }
                Action::Failed { error } => {
                    let error = crate::redact::text(&error.to_string());
                    tracing::warn!(%error, "the script failed");
                }
            }
        }
    }

    /// Hands the outcome of finished HTTP to the interpreter.
    fn handle_done(&mut self, interpreter: &mut Interpreter, done: Done) {
        match done {
            Done::Request(Ok(answer)) => {
                let body = String::from_utf8_lossy(&answer.body);
                interpreter.handle_request_done(Some(answer.status), &body);
            }
            Done::Request(Err(error)) => {
                tracing::warn!(%error, "request failed");
                interpreter.handle_request_done(None, "");
            }
            Done::Document(result) => {
                interpreter.handle_document_fetched(result.as_deref().map_err(Clone::clone))
            }
            Done::Play(urls, fetched) => {
                let played = fetched.and_then(|files| match &mut self.media {
                    Media::Up(leg) => {
                        let audio = playback(
                            &urls,
                            leg.core().law(),
                            &self.shared.config.media_dir,
                            &files,
                        )?;
                        leg.core_mut().set_source(Source::Play(audio));
                        Ok(())
                    }
                    Media::Pending(_) => Err("the call is not answered".into()),
                });
                if let Err(error) = played {
                    tracing::warn!(%error, "play failed");
                    interpreter.handle_play_done(false);
                }
            }
        }
    }

    /// Answers the call if it is not yet answered.
    async fn answer(&mut self) -> Result<(), String> {
        let Media::Pending(bound) = &mut self.media else {
            return Ok(());
        };
        let Some(bound) = bound.take() else {
            return Err("the call could not be answered".into());
        };
        let media = match &self.offer {
            Some(offer) => match self.sdp.answer_offer(offer) {
                Ok(answer) => {
                    self.call
                        .answer(Bytes::from(answer.sdp))
                        .map_err(|e| format!("answer failed: {e}"))?;
                    answer.media
                }
                Err(error) => {
                    return Err(refuse(&self.call, self.report, sdp_rejection(&error)).await);
                }
            },
            None => {
                let offer = self
                    .sdp
                    .create_offer()
                    .map_err(|e| format!("no offer: {e}"))?;
                self.call
                    .answer(Bytes::from(offer))
                    .map_err(|e| format!("answer failed: {e}"))?;
                let call = self
                    .call
                    .inbound_mut()
                    .ok_or("an outbound call is answered by its callee")?;
                await_answer_in_ack(call, &mut self.sdp, self.shared.config.ack_timeout).await?
            }
        };
        self.report.answered = true;
        tracing::info!(call_id = %self.call_id, "call answered");
        // SWML's default call limit when `answer` did not set one: 4 hours.
        self.hangup_at
            .get_or_insert_with(|| tokio::time::Instant::now() + Duration::from_secs(14_400));
        let ip = self.shared.pool.config().ip;
        let mut rng = leg_rng();
        let leg = Leg::from_bound(
            bound,
            ip,
            self.shared.config.leg,
            &media,
            Source::Silence,
            &mut rng,
        )
        .map_err(|e| format!("RTP leg failed: {e}"))?;
        self.report.rtp_local = Some(leg.local_addr());
        self.report.media = Some(media);
        self.media = Media::Up(Box::new(leg));
        Ok(())
    }
}

/// The audio of `urls`, one after the other, in `law`; `fetched` holds the files of the
/// `http(s)://` ones, in order.
fn playback(
    urls: &[PlayUrl],
    law: Law,
    media_dir: &Path,
    fetched: &[Vec<u8>],
) -> Result<Playback, String> {
    let mut playback = Playback::empty(law);
    let mut fetched = fetched.iter();
    for url in urls {
        match url {
            PlayUrl::Silence(d) => playback.push_silence(samples_of(*d)),
            PlayUrl::Ring(d) => playback.push_repeated(ringback_cadence(law), samples_of(*d)),
            PlayUrl::File(path) => {
                let file = media_dir.join(path.trim_start_matches('/'));
                let bytes = std::fs::read(&file)
                    .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
                let audio = crate::wav::decode(&bytes, law)
                    .map_err(|e| format!("{}: {e}", file.display()))?;
                playback.append(audio);
            }
            PlayUrl::Http(url) => {
                let bytes = fetched
                    .next()
                    .ok_or_else(|| format!("{} was not fetched", crate::redact::uri(url)))?;
                let audio = crate::wav::decode(bytes, law)
                    .map_err(|e| format!("{}: {e}", crate::redact::uri(url)))?;
                playback.append(audio);
            }
            PlayUrl::Say(_) => {
                let bytes = fetched.next().ok_or("the speech was not made")?;
                let audio = crate::wav::decode(bytes, law).map_err(|e| format!("say: {e}"))?;
                playback.append(audio);
            }
        }
    }
    Ok(playback)
}

/// Fetches the WAV files of `http(s)://` items and speaks `say:` items, in order.
async fn fetch_audio(
    http: crate::http::FlowHttp,
    tts: Option<String>,
    items: Vec<PlayUrl>,
) -> Result<Vec<Vec<u8>>, String> {
    let mut files = Vec::new();
    for item in items {
        match item {
            PlayUrl::Http(url) => {
                let answer = http
                    .send(
                        "GET",
                        &url,
                        &[],
                        None,
                        crate::http::FETCH_TIMEOUT,
                        crate::http::MAX_WAV,
                    )
                    .await?;
                if !(200..300).contains(&answer.status) {
                    return Err(format!(
                        "{} answered {}",
                        crate::redact::uri(&url),
                        answer.status
                    ));
                }
                files.push(answer.body);
            }
            PlayUrl::Say(text) => {
                let Some(command) = &tts else {
                    return Err(
                        "say: needs a TTS command (--tts-command), and none is configured".into(),
                    );
                };
                let run = tokio::process::Command::new("sh")
                    .args(["-c", command, "earshot-tts", &text])
                    .stdin(std::process::Stdio::null())
                    .kill_on_drop(true)
                    .output();
                let output = tokio::time::timeout(crate::http::FETCH_TIMEOUT, run)
                    .await
                    .map_err(|_| "the TTS command took longer than 10 s".to_string())?
                    .map_err(|e| format!("the TTS command did not start: {e}"))?;
                if !output.status.success() {
                    return Err(format!(
                        "the TTS command failed ({}): {}",
                        output.status,
                        String::from_utf8_lossy(&output.stderr).trim()
                    ));
                }
                files.push(output.stdout);
            }
            _ => {}
        }
    }
    Ok(files)
}

fn samples_of(d: Duration) -> u64 {
    (d.as_millis() as u64).saturating_mul(8)
}

/// One cadence of ring-back tone (ITU-T E.180, North American): 440 + 480 Hz for 2 s, then
/// 4 s of silence; both tones complete whole cycles in it, so it repeats seamlessly.
fn ringback_cadence(law: Law) -> Vec<u8> {
    (0..48_000)
        .map(|i| {
            if i < 16_000 {
                let t = f64::from(i) / 8000.0;
                let v = 2000.0
                    * ((2.0 * std::f64::consts::PI * 440.0 * t).sin()
                        + (2.0 * std::f64::consts::PI * 480.0 * t).sin());
                law.encode(v as i16)
            } else {
                law.silence()
            }
        })
        .collect()
}

/// Loads and validates every routed document at start, so that a bad one stops the node
/// before it takes calls rather than failing them.
pub fn load_routes(
    default: Option<&Path>,
    by_user: &[(String, PathBuf)],
) -> Result<Routes, String> {
    let load = |path: &Path| -> Result<Route, String> {
        if let Some(url) = path
            .to_str()
            .filter(|p| p.starts_with("http://") || p.starts_with("https://"))
        {
            return Ok(Route::Url(url.to_string()));
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        swml::check(&text).map(Route::Document).map_err(|errors| {
            errors
                .iter()
                .map(|e| format!("{}: {e}", path.display()))
                .collect::<Vec<_>>()
                .join("\n")
        })
    };
    let mut routes = Routes {
        default: default.map(load).transpose()?,
        ..Routes::default()
    };
    for (user, path) in by_user {
        routes.by_user.insert(user.clone(), load(path)?);
    }
    Ok(routes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_hour_of_silence_or_ring_back_is_ready_at_once_in_constant_memory() {
        let hour = Duration::from_secs(3600);
        let dir = Path::new(".");
        let silence = playback(&[PlayUrl::Silence(hour)], Law::Ulaw, dir, &[]).expect("silence");
        assert_eq!(silence.len(), 28_800_000);
        assert_eq!(silence.held_bytes(), 1, "one sample, not 28.8 MB");
        let ring = playback(&[PlayUrl::Ring(hour)], Law::Alaw, dir, &[]).expect("ring-back");
        assert_eq!(ring.len(), 28_800_000);
        assert_eq!(ring.held_bytes(), 48_000, "one 6 s cadence");
        // Ten hours cost no more than one.
        let long = playback(&[PlayUrl::Ring(hour * 10)], Law::Alaw, dir, &[]).expect("ring-back");
        assert_eq!(long.held_bytes(), ring.held_bytes());
    }

    #[test]
    fn ring_back_is_two_seconds_of_tone_then_four_of_silence_seamlessly() {
        let one = playback(
            &[PlayUrl::Ring(Duration::from_secs(12))],
            Law::Ulaw,
            Path::new("."),
            &[],
        )
        .expect("ring-back")
        .samples();
        assert_eq!(one.len(), 96_000);
        assert!(
            one[16_000..48_000]
                .iter()
                .all(|&s| s == Law::Ulaw.silence())
        );
        assert!(
            one[..16_000]
                .iter()
                .filter(|&&s| s != Law::Ulaw.silence())
                .count()
                > 15_000
        );
        assert_eq!(one[..48_000], one[48_000..], "the cadence repeats");
    }
}
