//! The RTP legs of calls: a port pool, a sans-IO media core per leg, and its tokio shell.
//!
//! # Design
//!
//! A call task owns everything of one call: its one or two [`Leg`]s, their taps and its
//! signalling, with no locks and no channels between them. Media is driven from that task:
//!
//! ```text
//! loop {
//!     let deadline = a.next_deadline().min(b.next_deadline()); // before select!: recv borrows
//!     timer.as_mut().reset(deadline);                           // only when it moved
//!     select! {
//!         r = a.recv() => if let Received::Rtp(p) = r? {        // RTP from party A
//!             taps_a.feed(Speak, p.packet);                      // what A says
//!             b.core_mut().handle_relay(p.at, &p);               // bridged: A's audio to B
//!         }
//!         r = b.recv() => …                                      // the same the other way
//!         _ = &mut timer => {}                                   // one pinned Sleep
//!         cmd = gate.run(commands.recv()) => …                   // polled only when it woke
//!     }
//!     let now = Leg::now();
//!     a.send_due(now, |tx| taps_a.feed(Listen, tx.packet()));    // what A hears
//!     b.send_due(now, |tx| taps_b.feed(Listen, tx.packet()));
//!     while let Some(event) = a.poll_event() { … }               // Inactive, Latched, …
//! }
//! ```
//!
//! Every packet a leg receives or sends is handed to the task synchronously as a parsed
//! packet borrowing the leg's buffer, so taps are fed without copies, and a leg never waits
//! for a tap: a tap is a state machine in the same task, and whatever it sends goes through
//! its own sink. The media logic itself is [`LegCore`], deterministic on time given as input,
//! which is where the tests live; [`Leg`] only adds the socket.
//!
//! - [`PortPool`]: even ports from a range on one IP; RTP only, RTCP on the RTP port ignored.
//! - [`LegCore`]: latching ([`latch`]), the paced outgoing stream, what it plays ([`Source`]:
//!   silence, a buffer, echo, relay with µ-law ↔ A-law), telephone-event relay, inactivity,
//!   counters ([`LegStats`]).
//! - [`Leg`]: the tokio UDP shell.
//! - [`Gate`]: polls one of a call task's sources only when it woke.

mod config;
mod error;
mod gate;
pub mod latch;
mod leg;
mod leg_core;
mod port_pool;
mod recv_batch;
mod sequence;
mod source;
mod stats;

pub use config::LegConfig;
pub use error::MediaError;
pub use gate::Gate;
pub use leg::Leg;
pub use leg_core::{Inbound, LegCore, LegEvent, PayloadKind, RELAY_HOLD_OFF, Received, Transmit};
pub use port_pool::{PortLease, PortPool, PortPoolConfig};
pub use source::{Playback, Source};
pub use stats::LegStats;
