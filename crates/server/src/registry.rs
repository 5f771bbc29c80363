//! [`Registry`]: the node's live calls, for the control API; [`CallControl`]: a call task's
//! end of it.
//!
//! The registry holds, per call, what never changes (id, direction, parties, start time) and
//! the sender of the call's command queue. Everything that changes (state, taps, counters)
//! stays in the call's task, which answers [`CallCommand::Show`] from its own state: the API
//! never reaches into a call, and the media path takes no lock. The registry's one mutex is
//! taken when a call starts or ends and when the API looks a call up.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use media::LegStats;
use serde::Serialize;
use swml::{TapParams, TapStarted};
use tokio::sync::{mpsc, oneshot};

use crate::node::Shared;
use crate::taps::{TapView, Taps};

/// Commands that may wait for a call's task; the API waits for room past that.
const QUEUE: usize = 16;

/// What the API asks of a call.
#[derive(Debug)]
pub(crate) enum CallCommand {
    /// Start a tap (`calling.tap`).
    Tap {
        params: Box<TapParams>,
        reply: oneshot::Sender<TapOutcome>,
    },
    /// Stop a tap (`calling.tap.stop`); the reply says whether it was running.
    StopTap {
        control_id: String,
        reply: oneshot::Sender<bool>,
    },
    /// End the call (`calling.end`).
    End { reason: String },
    /// Describe the call as it is now.
    Show { reply: oneshot::Sender<CallView> },
}

/// What became of a `calling.tap`.
#[derive(Debug)]
pub(crate) enum TapOutcome {
    /// The tap runs (a WebSocket tap: its handshake completed).
    Started(TapStarted),
    /// A tap with this control id runs on the call.
    Duplicate,
    /// The tap did not start; its `finished` event says why.
    Failed,
}

/// What never changes about a call.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CallSummary {
    pub(crate) id: String,
    pub(crate) direction: &'static str,
    pub(crate) from: String,
    pub(crate) to: String,
    /// Seconds since the Unix epoch.
    pub(crate) started_at: f64,
}

impl CallSummary {
    pub(crate) fn new(id: &str, direction: &'static str, from: &str, to: &str) -> CallSummary {
        CallSummary {
            id: id.to_owned(),
            direction,
            from: from.to_owned(),
            to: to.to_owned(),
            started_at: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
        }
    }
}

/// A call as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CallView {
    #[serde(flatten)]
    pub(crate) summary: CallSummary,
    /// `created` (offered, not answered), `answered`, or `ending`.
    pub(crate) state: &'static str,
    pub(crate) taps: Vec<TapView>,
    /// The call's leg counters so far, once it has a leg.
    pub(crate) rtp: Option<RtpView>,
}

/// A leg's counters, as the API shows them.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct RtpView {
    pub(crate) packets_in: u64,
    pub(crate) packets_out: u64,
    pub(crate) lost: u64,
    pub(crate) late: u64,
}

impl From<LegStats> for RtpView {
    fn from(s: LegStats) -> RtpView {
        RtpView {
            packets_in: s.packets_in,
            packets_out: s.packets_out,
            lost: s.lost,
            late: s.late,
        }
    }
}

/// One live call in the registry.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) summary: Arc<CallSummary>,
    pub(crate) commands: mpsc::Sender<CallCommand>,
}

/// The node's live calls, by id.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    calls: Mutex<BTreeMap<String, Entry>>,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Entry>> {
        // The map holds no invariant a panicking holder could break half-way.
        self.calls.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Enters a call; it leaves when the returned control drops.
    pub(crate) fn register(self: &Arc<Self>, summary: CallSummary) -> CallControl {
        let (tx, rx) = mpsc::channel(QUEUE);
        let summary = Arc::new(summary);
        self.lock().insert(
            summary.id.clone(),
            Entry {
                summary: Arc::clone(&summary),
                commands: tx,
            },
        );
        CallControl {
            commands: rx,
            pending: Vec::new(),
            summary,
            registry: Arc::clone(self),
        }
    }

    /// The call `id`, if it is live.
    pub(crate) fn get(&self, id: &str) -> Option<Entry> {
        self.lock().get(id).cloned()
    }

    /// Every live call, by id.
    pub(crate) fn all(&self) -> Vec<Entry> {
        self.lock().values().cloned().collect()
    }
}

/// What the call task does after a command.
pub(crate) enum Step {
    /// Go on.
    Continue,
    /// End the call, with this reason for its report.
    End(String),
}

/// A call task's end of the registry: its command queue and the `calling.tap` answers that
/// wait for a WebSocket handshake.
pub(crate) struct CallControl {
    commands: mpsc::Receiver<CallCommand>,
    pending: Vec<(String, oneshot::Sender<TapOutcome>)>,
    summary: Arc<CallSummary>,
    registry: Arc<Registry>,
}

impl Drop for CallControl {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.summary.id);
    }
}

impl CallControl {
    /// The next command; never resolves once the queue is closed.
    pub(crate) async fn next(&mut self) -> CallCommand {
        match self.commands.recv().await {
            Some(command) => command,
            None => std::future::pending().await,
        }
    }

    /// Carries out `command` on the call's `taps`. `state` and `rtp` describe the call for
    /// [`CallCommand::Show`].
    pub(crate) async fn handle(
        &mut self,
        command: CallCommand,
        taps: &mut Taps,
        shared: &Shared,
        state: &'static str,
        rtp: Option<LegStats>,
    ) -> Step {
        match command {
            CallCommand::Tap { params, reply } => {
                if let Some(id) = &params.control_id
                    && taps.contains(id)
                {
                    let _ = reply.send(TapOutcome::Duplicate);
                    return Step::Continue;
                }
                let now = media::Leg::now();
                match taps.start(shared, &self.summary.id, &params, now).await {
                    Some(started) if started.succeeded => {
                        let _ = reply.send(TapOutcome::Started(started));
                    }
                    Some(_) => {
                        let _ = reply.send(TapOutcome::Failed);
                    }
                    // A WebSocket tap: answered when its handshake ends.
                    None => {
                        let id = taps.last_control_id().unwrap_or_default();
                        self.pending.push((id, reply));
                    }
                }
                Step::Continue
            }
            CallCommand::StopTap { control_id, reply } => {
                let stopped = taps.stop(&control_id, media::Leg::now());
                let _ = reply.send(stopped);
                Step::Continue
            }
            CallCommand::End { reason } => Step::End(reason),
            CallCommand::Show { reply } => {
                let _ = reply.send(CallView {
                    summary: (*self.summary).clone(),
                    state,
                    taps: taps.views(),
                    rtp: rtp.map(RtpView::from),
                });
                Step::Continue
            }
        }
    }

    /// Answers the `calling.tap`s among handshakes that ended; returns the others (the
    /// document's own taps).
    pub(crate) fn resolve(&mut self, started: Vec<TapStarted>) -> Vec<TapStarted> {
        let mut rest = Vec::new();
        for s in started {
            match self.pending.iter().position(|(id, _)| *id == s.control_id) {
                Some(i) => {
                    let (_, reply) = self.pending.swap_remove(i);
                    let _ = reply.send(if s.succeeded {
                        TapOutcome::Started(s)
                    } else {
                        TapOutcome::Failed
                    });
                }
                None => rest.push(s),
            }
        }
        rest
    }
}
