//! [`NodeConfig`]: what the node binds and how its calls behave.

use std::time::Duration;

use media::{LegConfig, PortPoolConfig};
use sip::EndpointConfig;

use crate::CallFlow;

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
