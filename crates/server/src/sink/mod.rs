//! Tap sinks: the IO that carries a tap's frames to its destination, and its status events.
//!
//! The tap core (`tap::Tap`) produces `Frame`s on a steady grid; a call task hands each one,
//! synchronously and without waiting, to the tap's sink:
//!
//! - [`rtp::RtpSink`]: one bound, connected UDP socket per tap, RTP as `tap.md` §3;
//! - [`ws::WsSink`]: a task per tap holding the WebSocket of `tap.md` §4 (and the `announce`
//!   and `reconnect` extensions of §7), fed through a bounded drop-oldest [`queue`];
//! - [`status::StatusPoster`]: the status events of §5, one ordered queue per tap.
//!
//! Every destination passes [`policy::DestinationPolicy`] (§8) after resolution. The TLS of
//! `wss://` and `https://` status URLs is rustls on the `ring` provider ([`tls`]).
//!
//! Invariant of every sink: each frame handed to it is either sent or counted as dropped, so
//! at the end `frames_produced = frames_sent + frames_dropped` exactly ([`SinkStats`]).

pub mod policy;
pub mod queue;
pub mod rtp;
pub mod status;
pub mod tls;
pub mod uri;
pub mod ws;
pub mod ws_inbound;

use serde::Serialize;

/// What a sink did with the frames it was given: the `stats` of a `finished` event (§5).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SinkStats {
    /// Frames handed to the network in full.
    pub frames_sent: u64,
    /// Frames produced but not sent (queue overflow, a send error, a reconnect gap).
    pub frames_dropped: u64,
    /// Audio payload bytes of the frames sent (RTP headers and WebSocket framing excluded, as
    /// RFC 3550's sender octet count).
    pub bytes_sent: u64,
}

impl SinkStats {
    /// Frames given to the sink: sent plus dropped.
    pub const fn frames_produced(&self) -> u64 {
        self.frames_sent + self.frames_dropped
    }
}

/// Why a tap finished: the stable codes of `tap.md` §6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// `stop_tap` or `calling.tap.stop`.
    Stopped,
    /// The call leg hung up.
    CallEnded,
    /// The `max_duration` extension limit was reached.
    MaxDuration,
    /// Validation failed; nothing was started.
    InvalidParams,
    /// The destination is not allowed by the node's policy.
    DestinationDenied,
    /// WebSocket handshake refused, DNS or TLS failure, or no answer within the connect timeout.
    ConnectFailed,
    /// The WebSocket closed or failed mid-stream.
    ConnectionLost,
    /// The RTP socket reported a fatal error.
    SendFailed,
    /// A per-call or per-node tap limit was reached; nothing was started.
    LimitReached,
}

impl Reason {
    /// The code as it appears on the wire.
    pub const fn code(self) -> &'static str {
        match self {
            Reason::Stopped => "stopped",
            Reason::CallEnded => "call_ended",
            Reason::MaxDuration => "max_duration",
            Reason::InvalidParams => "invalid_params",
            Reason::DestinationDenied => "destination_denied",
            Reason::ConnectFailed => "connect_failed",
            Reason::ConnectionLost => "connection_lost",
            Reason::SendFailed => "send_failed",
            Reason::LimitReached => "limit_reached",
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_codes_serialize_as_their_code() {
        for r in [
            Reason::Stopped,
            Reason::CallEnded,
            Reason::MaxDuration,
            Reason::InvalidParams,
            Reason::DestinationDenied,
            Reason::ConnectFailed,
            Reason::ConnectionLost,
            Reason::SendFailed,
            Reason::LimitReached,
        ] {
            let json = serde_json::to_string(&r).expect("a unit variant serializes");
            assert_eq!(json, format!("\"{}\"", r.code()));
        }
    }
}
