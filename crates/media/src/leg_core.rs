//! [`LegCore`]: the media logic of one call leg, without IO: time, randomness and datagrams
//! are inputs; packets to send and events are polled.
//!
//! ```text
//! shell ── handle_datagram(now, from, bytes) ─▶ LegCore ─▶ Received (feed taps, relay)
//!       ── handle_relay(now, &inbound) ───────▶         ── poll_transmit(now) ─▶ Transmit
//!       ── handle_timeout(now) ───────────────▶         ── poll_event() ───────▶ LegEvent
//!       ── handle_media / set_source ─────────▶         ── poll_timeout() ─────▶ next deadline
//! ```
//!
//! Invariants:
//! - The outgoing stream has one random SSRC; its sequence numbers rise by one per packet
//!   (audio and telephone-event alike, RFC 4733 §2.1); audio frame `n` is due at
//!   `start + n·ptime` and carries timestamp `ts0 + n·8·ptime_ms`, the marker on the first
//!   frame sent. Frames are produced while the leg does not send too (hold), so the grid and
//!   the source advance in real time; they just are not transmitted.
//! - Where it sends: the SDP address until the peer's first packet, then where the peer's
//!   packets come from (see [`crate::latch`]'s rule), unless latching is off. Nothing is sent
//!   when the negotiated direction does not send or the address is unspecified (RFC 2543 hold).
//! - The outgoing ptime is the negotiated one rounded to a multiple of 10 ms in 10..=120
//!   (what the tap engine frames); `a=ptime` is a preference, so a peer must cope.
//! - Telephone-events of a bridged leg are relayed at once with their payload unchanged, in
//!   this leg's stream: its SSRC and sequence, this leg's negotiated telephone-event payload
//!   type, and one timestamp per event (the audio timestamp current when the event began).
//!   Audio keeps flowing meanwhile. Without a negotiated telephone-event they are dropped.
//! - Inactivity: no RTP accepted from the peer for the configured time reports
//!   [`LegEvent::Inactive`] once per silent spell; a leg on hold (the peer's `sendonly`,
//!   `inactive` or `c=0.0.0.0`, or ours not receiving) is exempt.
//! - Nothing a peer sends panics: malformed datagrams and RTCP are counted and dropped.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use g711::Law;
use rand_core::RngCore;
use rtp::{HEADER_LEN, Header, Packet, ParseError, PayloadType, RtpTime, SeqNo, Ssrc};
use sdp::NegotiatedMedia;
use tap::RtpStart;

use crate::latch::{Latch, Verdict};
use crate::sequence::SequenceTracker;
use crate::source::{Fill, Player};
use crate::{LegConfig, LegStats, Source};

/// Longest frame the leg sends: 120 ms of G.711.
const MAX_FRAME: usize = 960;
/// Longest telephone-event payload relayed (one event is 4 bytes; RFC 4733 allows several).
const MAX_EVENT_PAYLOAD: usize = 16;
/// Telephone-event packets held until the shell drains them (it does after every input).
const EVENT_QUEUE: usize = 8;

/// What a received payload carries, by the leg's negotiated payload types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadKind {
    /// G.711 audio of this law.
    Audio(Law),
    /// An RFC 4733 telephone-event.
    TelephoneEvent,
    /// Any other payload type (comfort noise, a codec not negotiated).
    Other,
}

/// What became of a datagram given to [`LegCore::handle_datagram`].
#[derive(Debug, Clone, Copy)]
pub enum Received<'a> {
    /// An RTP packet from the accepted source: feed it to the taps (speak) and, when bridged,
    /// to the other leg's [`LegCore::handle_relay`].
    Rtp(Inbound<'a>),
    /// RTCP on the RTP port, ignored.
    Rtcp,
    /// Not RTP.
    Malformed {
        /// What was wrong.
        error: ParseError,
    },
    /// RTP from a source the leg is not latched on to, dropped.
    Foreign {
        /// Where it came from.
        from: SocketAddr,
    },
}

impl<'a> Received<'a> {
    /// The packet, if it is one to use.
    pub fn rtp(&self) -> Option<&Inbound<'a>> {
        match self {
            Received::Rtp(inbound) => Some(inbound),
            _ => None,
        }
    }
}

/// An accepted RTP packet from the peer.
#[derive(Debug, Clone, Copy)]
pub struct Inbound<'a> {
    /// Where it came from.
    pub from: SocketAddr,
    /// When it was received.
    pub at: Instant,
    /// The packet, borrowing the receive buffer.
    pub packet: Packet<'a>,
    /// What it carries.
    pub kind: PayloadKind,
}

/// A packet to send now.
#[derive(Debug, Clone, Copy)]
pub struct Transmit<'a> {
    /// Where to send it.
    pub destination: SocketAddr,
    /// The datagram.
    pub bytes: &'a [u8],
    /// Its header.
    pub header: Header,
    /// When it was due: on the frame grid for audio, when relayed for a telephone-event.
    pub due: Instant,
    /// What it carries.
    pub kind: PayloadKind,
}

impl<'a> Transmit<'a> {
    /// The packet, as a tap's listen stream takes it.
    pub fn packet(&self) -> Packet<'a> {
        Packet {
            header: self.header,
            payload: self.bytes.get(HEADER_LEN..).unwrap_or_default(),
        }
    }
}

/// Something the call layer should know about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegEvent {
    /// The peer's first packet: the leg sends to `from` from now on.
    Latched {
        /// The peer's address.
        from: SocketAddr,
        /// The peer's SSRC.
        ssrc: Ssrc,
    },
    /// The leg moved to a new source.
    Relatched {
        /// The new address.
        from: SocketAddr,
        /// The address it sent to before.
        previous: SocketAddr,
        /// The new SSRC.
        ssrc: Ssrc,
    },
    /// No RTP from the peer for the inactivity timeout.
    Inactive {
        /// How long since the last packet (or since the leg or its media began).
        silent_for: Duration,
    },
    /// A [`Source::Play`] buffer has been played to its end.
    PlaybackFinished,
}

#[derive(Debug, Clone, Copy)]
struct PendingEvent {
    marker: bool,
    timestamp: RtpTime,
    payload: [u8; MAX_EVENT_PAYLOAD],
    len: u8,
    due: Instant,
}

/// Maps a bridged leg's event timestamps onto ours: the packets of one event share one.
#[derive(Debug, Clone, Copy)]
struct EventClock {
    ssrc: Ssrc,
    theirs: RtpTime,
    ours: RtpTime,
}

/// The media logic of one leg: see the module documentation.
#[derive(Debug)]
pub struct LegCore {
    config: LegConfig,
    law: Law,
    payload_type: PayloadType,
    telephone_event: Option<PayloadType>,
    ptime: tap::Ptime,
    sends: bool,
    hold_exempt: bool,
    sdp_remote: Option<SocketAddr>,
    latch: Latch,
    sequence: SequenceTracker,
    stats: LegStats,
    ssrc: Ssrc,
    next_seq: SeqNo,
    grid_start: Instant,
    grid_ts: RtpTime,
    next_frame: u64,
    marker_pending: bool,
    player: Player,
    out: Box<[u8]>,
    pending_events: VecDeque<PendingEvent>,
    event_clock: Option<EventClock>,
    events: VecDeque<LegEvent>,
    last_activity: Instant,
    inactive_reported: bool,
}

impl LegCore {
    /// A leg for `media` whose first frame is due at `now`, numbered from `rng`.
    pub fn new(
        config: LegConfig,
        media: &NegotiatedMedia,
        source: Source,
        now: Instant,
        rng: &mut impl RngCore,
    ) -> LegCore {
        let start = RtpStart::random(rng);
        let ptime = frame_ptime(media.ptime);
        let mut core = LegCore {
            config,
            law: media.codec,
            payload_type: media.payload_type,
            telephone_event: media.telephone_event,
            ptime,
            sends: false,
            hold_exempt: false,
            sdp_remote: None,
            latch: Latch::new(config.latching),
            sequence: SequenceTracker::default(),
            stats: LegStats::default(),
            ssrc: start.ssrc,
            next_seq: start.seq,
            grid_start: now,
            grid_ts: start.timestamp,
            next_frame: 0,
            marker_pending: true,
            player: Player::Silence,
            out: vec![0; HEADER_LEN + MAX_FRAME].into_boxed_slice(),
            pending_events: VecDeque::with_capacity(EVENT_QUEUE),
            event_clock: None,
            events: VecDeque::with_capacity(4),
            last_activity: now,
            inactive_reported: false,
        };
        core.apply_direction(media);
        core.sdp_remote = usable(media.remote_rtp);
        core.set_source(source);
        core
    }

    /// Takes the outcome of a new offer/answer (re-INVITE, hold, resume). A new SDP address
    /// drops the latch; a new codec or ptime starts a new frame grid where the old one would
    /// have continued, with timestamps continuing.
    pub fn handle_media(&mut self, now: Instant, media: &NegotiatedMedia) {
        let remote = usable(media.remote_rtp);
        if remote != self.sdp_remote && remote.is_some() {
            self.latch.reset();
        }
        self.sdp_remote = remote;
        self.apply_direction(media);
        self.telephone_event = media.telephone_event;
        self.payload_type = media.payload_type;
        let ptime = frame_ptime(media.ptime);
        if ptime != self.ptime || media.codec != self.law {
            let next_due = self.due(self.next_frame);
            self.grid_ts = self.frame_ts(self.next_frame);
            self.grid_start = next_due;
            self.next_frame = 0;
            self.ptime = ptime;
            self.law = media.codec;
            // Echo and relay audio is placed on the grid, so their playout starts afresh; a
            // playback goes on where it was.
            if self.player.is_echo() || self.player.is_relay() {
                let source = self.player.source();
                self.set_source(source);
            }
        }
        self.last_activity = self.last_activity.max(now);
        self.inactive_reported = false;
    }

    /// Plays `source` from the next frame on.
    pub fn set_source(&mut self, source: Source) {
        self.player = Player::new(
            source,
            self.law,
            self.ptime,
            self.config.playout_window_ms,
            self.due(self.next_frame),
        );
    }

    /// Handles one datagram received at `now` from `from`.
    pub fn handle_datagram<'a>(
        &mut self,
        now: Instant,
        from: SocketAddr,
        bytes: &'a [u8],
    ) -> Received<'a> {
        let packet = match Packet::parse(bytes) {
            Ok(packet) => packet,
            Err(ParseError::Rtcp { .. }) => {
                self.stats.rtcp_ignored += 1;
                return Received::Rtcp;
            }
            Err(error) => {
                self.stats.malformed += 1;
                return Received::Malformed { error };
            }
        };
        let ssrc = packet.header.ssrc;
        match self.latch.check(from, ssrc) {
            Verdict::Accept => {}
            Verdict::Latched => {
                tracing::debug!(%from, ssrc = ssrc.0, "RTP latched");
                self.events.push_back(LegEvent::Latched { from, ssrc });
            }
            Verdict::Relatched { previous } => {
                tracing::info!(%from, %previous, ssrc = ssrc.0, "RTP re-latched");
                self.stats.relatches += 1;
                self.events.push_back(LegEvent::Relatched {
                    from,
                    previous,
                    ssrc,
                });
            }
            Verdict::Foreign => {
                self.stats.foreign += 1;
                return Received::Foreign { from };
            }
        }
        self.stats.packets_in += 1;
        self.stats.bytes_in += bytes.len() as u64;
        self.stats.last_packet_at = Some(now);
        self.last_activity = self.last_activity.max(now);
        self.inactive_reported = false;
        self.sequence.record(ssrc, packet.header.seq);
        let kind = self.classify(packet.header.payload_type);
        match kind {
            PayloadKind::Audio(law) if self.player.is_echo() => {
                self.player.feed(now, law, &packet);
            }
            PayloadKind::TelephoneEvent => self.stats.events_in += 1,
            _ => {}
        }
        Received::Rtp(Inbound {
            from,
            at: now,
            packet,
            kind,
        })
    }

    /// Takes a packet the bridged leg received: audio for [`Source::Relay`], telephone-events
    /// to relay at once.
    pub fn handle_relay(&mut self, now: Instant, inbound: &Inbound<'_>) {
        match inbound.kind {
            PayloadKind::Audio(law) if self.player.is_relay() => {
                self.player.feed(now, law, &inbound.packet);
            }
            PayloadKind::TelephoneEvent => self.queue_event(now, &inbound.packet),
            PayloadKind::Audio(_) | PayloadKind::Other => {}
        }
    }

    /// Time has passed: reports inactivity when it is due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(deadline) = self.inactivity_deadline()
            && now >= deadline
        {
            self.inactive_reported = true;
            self.events.push_back(LegEvent::Inactive {
                silent_for: now.saturating_duration_since(self.last_activity),
            });
        }
    }

    /// The shell failed to send the last [`Transmit`] of `bytes` bytes: it is counted as
    /// failed instead of sent.
    pub fn handle_send_failure(&mut self, bytes: usize) {
        self.stats.packets_out = self.stats.packets_out.saturating_sub(1);
        self.stats.bytes_out = self.stats.bytes_out.saturating_sub(bytes as u64);
        self.stats.send_failed += 1;
    }

    /// The socket reported an ICMP error (a peer's port unreachable): counted, otherwise
    /// ignored.
    pub fn handle_icmp_error(&mut self) {
        self.stats.icmp_errors += 1;
    }

    /// The next packet to send by `now`: queued telephone-events first, then audio frames due.
    /// Call until it returns `None` after every input.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Transmit<'_>> {
        while let Some(event) = self.pending_events.pop_front() {
            let (Some(destination), Some(pt)) = (self.destination(), self.telephone_event) else {
                self.stats.events_dropped += 1;
                continue;
            };
            let header = Header {
                marker: event.marker,
                payload_type: pt,
                seq: self.take_seq(),
                timestamp: event.timestamp,
                ssrc: self.ssrc,
            };
            let len = HEADER_LEN + usize::from(event.len);
            self.write_header(&header);
            self.out[HEADER_LEN..len].copy_from_slice(&event.payload[..usize::from(event.len)]);
            self.stats.packets_out += 1;
            self.stats.bytes_out += len as u64;
            self.stats.events_out += 1;
            return Some(Transmit {
                destination,
                bytes: &self.out[..len],
                header,
                due: event.due,
                kind: PayloadKind::TelephoneEvent,
            });
        }
        let samples = self.ptime.samples();
        let burst = self.ptime.duration() * self.config.max_burst.max(1);
        loop {
            let n = self.next_frame;
            let due = self.due(n);
            if due > now {
                return None;
            }
            self.next_frame += 1;
            let fill = self.player.fill(
                due,
                self.law,
                &mut self.out[HEADER_LEN..HEADER_LEN + samples],
            );
            if fill == Fill::Finished {
                self.events.push_back(LegEvent::PlaybackFinished);
            }
            if now.saturating_duration_since(due) >= burst {
                self.stats.frames_skipped += 1;
                continue;
            }
            let Some(destination) = self.destination() else {
                continue;
            };
            let header = Header {
                marker: std::mem::take(&mut self.marker_pending),
                payload_type: self.payload_type,
                seq: self.take_seq(),
                timestamp: self.frame_ts(n),
                ssrc: self.ssrc,
            };
            self.write_header(&header);
            let len = HEADER_LEN + samples;
            self.stats.packets_out += 1;
            self.stats.bytes_out += len as u64;
            return Some(Transmit {
                destination,
                bytes: &self.out[..len],
                header,
                due,
                kind: PayloadKind::Audio(self.law),
            });
        }
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<LegEvent> {
        self.events.pop_front()
    }

    /// When the core next needs [`LegCore::handle_timeout`] and [`LegCore::poll_transmit`]:
    /// the next frame or the inactivity deadline, whichever is first.
    pub fn poll_timeout(&self) -> Instant {
        let frame = self.due(self.next_frame);
        self.inactivity_deadline()
            .map_or(frame, |deadline| deadline.min(frame))
    }

    /// The counters.
    pub fn stats(&self) -> LegStats {
        LegStats {
            lost: self.sequence.lost(),
            late: self.sequence.late(),
            ..self.stats
        }
    }

    /// Where the leg sends now, if it sends.
    pub fn destination(&self) -> Option<SocketAddr> {
        if !self.sends {
            return None;
        }
        self.latch.address().or(self.sdp_remote)
    }

    /// The outgoing stream's SSRC.
    pub fn ssrc(&self) -> Ssrc {
        self.ssrc
    }

    /// The leg's codec.
    pub fn law(&self) -> Law {
        self.law
    }

    /// The ptime the leg sends with.
    pub fn ptime(&self) -> tap::Ptime {
        self.ptime
    }

    fn apply_direction(&mut self, media: &NegotiatedMedia) {
        self.sends = media.direction.sends();
        self.hold_exempt = media.on_hold || !media.direction.receives();
    }

    fn classify(&self, pt: PayloadType) -> PayloadKind {
        if pt == self.payload_type {
            PayloadKind::Audio(self.law)
        } else if Some(pt) == self.telephone_event {
            PayloadKind::TelephoneEvent
        } else {
            PayloadKind::Other
        }
    }

    fn queue_event(&mut self, now: Instant, packet: &Packet<'_>) {
        let len = packet.payload.len();
        if self.telephone_event.is_none()
            || self.destination().is_none()
            || len == 0
            || len > MAX_EVENT_PAYLOAD
            || self.pending_events.len() >= EVENT_QUEUE
        {
            self.stats.events_dropped += 1;
            return;
        }
        let (ssrc, theirs) = (packet.header.ssrc, packet.header.timestamp);
        let ours = match self.event_clock {
            Some(c) if c.ssrc == ssrc && c.theirs == theirs => c.ours,
            _ => {
                let ours = self.frame_ts(self.next_frame);
                self.event_clock = Some(EventClock { ssrc, theirs, ours });
                ours
            }
        };
        let mut payload = [0; MAX_EVENT_PAYLOAD];
        payload[..len].copy_from_slice(packet.payload);
        self.pending_events.push_back(PendingEvent {
            marker: packet.header.marker,
            timestamp: ours,
            payload,
            len: len as u8,
            due: now,
        });
    }

    fn inactivity_deadline(&self) -> Option<Instant> {
        if self.hold_exempt || self.inactive_reported {
            return None;
        }
        self.config
            .inactivity_timeout
            .map(|timeout| self.last_activity + timeout)
    }

    fn due(&self, n: u64) -> Instant {
        self.grid_start + Duration::from_millis(n * u64::from(self.ptime.ms()))
    }

    fn frame_ts(&self, n: u64) -> RtpTime {
        self.grid_ts
            .wrapping_add((n as u32).wrapping_mul(self.ptime.samples() as u32))
    }

    fn take_seq(&mut self) -> SeqNo {
        let seq = self.next_seq;
        self.next_seq = seq.wrapping_add(1);
        seq
    }

    fn write_header(&mut self, header: &Header) {
        if header.write(&mut self.out).is_err() {
            unreachable!("the output buffer is longer than a header by construction");
        }
    }
}

/// The ptime the leg frames with: the negotiated one, rounded to the tap engine's grid.
fn frame_ptime(ptime: sdp::Ptime) -> tap::Ptime {
    let ms = (u32::from(ptime.as_ms()) + 5) / 10 * 10;
    tap::Ptime::from_ms(ms.clamp(10, 120)).unwrap_or(tap::Ptime::DEFAULT)
}

/// The SDP address, unless it says "do not send" (unspecified IP or port 0).
fn usable(addr: SocketAddr) -> Option<SocketAddr> {
    (!addr.ip().is_unspecified() && addr.port() != 0).then_some(addr)
}
