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
//! - Relayed audio ([`Source::Relay`]) is forwarded as it arrives, with no playout buffer:
//!   a packet of one ptime of the bridged leg is sent at once in this leg's stream (its
//!   SSRC and sequence, its payload type, transcoded when the laws differ), its timestamp
//!   the bridged stream's plus an offset fixed so that it continues this leg's last
//!   timestamp; gaps and reordering in the bridged stream stay visible in the timestamps.
//!   While relayed audio flows, the leg's own frames are not sent; when none has come for
//!   one ptime plus [`RELAY_HOLD_OFF`] (or the playout window, if longer) they resume
//!   (silence, continuing the timestamps). The hold-off is long so that a shell that falls
//!   behind its socket does not send silence and the late relayed packets both. A bridged
//!   leg sending another ptime is re-framed on the grid through the playout window instead.
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
/// How long after the end of the last forwarded packet a relaying leg sends its own frames
/// again, at least.
pub const RELAY_HOLD_OFF: Duration = Duration::from_millis(200);

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
    /// When it was due: on the frame grid for the leg's own audio, when received for
    /// forwarded audio and relayed telephone-events.
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

/// The state of a leg playing [`Source::Relay`].
#[derive(Debug, Clone, Copy, Default)]
struct Relay {
    /// The bridged stream's SSRC and the offset from its timestamps to ours, fixed by the
    /// first packet forwarded after one of the leg's own frames (or from a new SSRC).
    anchor: Option<(Ssrc, u32)>,
    /// Until when forwarded audio stands in for the leg's own frames.
    covered_until: Option<Instant>,
}

/// A forwarded audio packet whose payload is in the output buffer, waiting for
/// [`LegCore::poll_transmit`].
#[derive(Debug, Clone, Copy)]
struct Forward {
    timestamp: RtpTime,
    len: usize,
    due: Instant,
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
    next_frame: u64,
    /// The timestamp of the next audio frame produced: one ptime per frame, and after a
    /// forwarded packet the end of the newest one.
    next_ts: RtpTime,
    relay: Option<Relay>,
    forward: Option<Forward>,
    marker_pending: bool,
    /// Whether the last audio frame handed out carried the marker (re-armed if it failed).
    last_marker: bool,
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
            next_frame: 0,
            next_ts: start.timestamp,
            relay: None,
            forward: None,
            marker_pending: true,
            last_marker: false,
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
            self.grid_start = next_due;
            self.next_frame = 0;
            self.ptime = ptime;
            self.law = media.codec;
            // Echo and relay audio is placed on the grid, so their playout starts afresh; a
            // playback goes on where it was.
            if self.player.is_echo() || self.relay.is_some() {
                self.set_source(self.source());
            }
        }
        self.last_activity = self.last_activity.max(now);
        self.inactive_reported = false;
    }

    /// Plays `source` from the next frame on.
    pub fn set_source(&mut self, source: Source) {
        self.relay = matches!(source, Source::Relay).then(Relay::default);
        self.forward = None;
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
            // A receiver report without report blocks is 8 bytes, shorter than an RTP header.
            Err(ParseError::MessageTooShort { len })
                if len >= 8 && bytes[0] >> 6 == 2 && (200..=211).contains(&bytes[1]) =>
            {
                self.stats.rtcp_ignored += 1;
                return Received::Rtcp;
            }
            Err(error) => {
                self.stats.malformed += 1;
                return Received::Malformed { error };
            }
        };
        let ssrc = packet.header.ssrc;
        match self.latch.check(now, from, ssrc) {
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
            PayloadKind::Audio(law) if self.relay.is_some() => {
                self.forward_audio(now, law, &inbound.packet);
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
        // The stream's first packet never left: the next one is the first the peer sees.
        if std::mem::take(&mut self.last_marker) {
            self.marker_pending = true;
        }
    }

    /// The socket reported an ICMP error (a peer's port unreachable): counted, otherwise
    /// ignored.
    pub fn handle_icmp_error(&mut self) {
        self.stats.icmp_errors += 1;
    }

    /// The next packet to send by `now`: a forwarded packet first, then queued
    /// telephone-events, then audio frames due. Call until it returns `None` after every
    /// input.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Transmit<'_>> {
        if let Some(forward) = self.forward.take()
            && let Some(destination) = self.destination()
        {
            let header = Header {
                marker: std::mem::take(&mut self.marker_pending),
                payload_type: self.payload_type,
                seq: self.take_seq(),
                timestamp: forward.timestamp,
                ssrc: self.ssrc,
            };
            self.last_marker = header.marker;
            self.write_header(&header);
            let len = HEADER_LEN + forward.len;
            self.stats.packets_out += 1;
            self.stats.bytes_out += len as u64;
            return Some(Transmit {
                destination,
                bytes: &self.out[..len],
                header,
                due: forward.due,
                kind: PayloadKind::Audio(self.law),
            });
        }
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
            if let Some(until) = self.relay.and_then(|r| r.covered_until)
                && due < until
            {
                // Forwarded audio stands in for this frame.
                continue;
            }
            let fill = self.player.fill(
                due,
                self.law,
                &mut self.out[HEADER_LEN..HEADER_LEN + samples],
            );
            if fill == Fill::Finished {
                self.events.push_back(LegEvent::PlaybackFinished);
            }
            let timestamp = self.next_ts;
            self.next_ts = timestamp.wrapping_add(samples as u32);
            if let Some(relay) = &mut self.relay {
                // The next forwarded packet continues from this frame.
                relay.anchor = None;
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
                timestamp,
                ssrc: self.ssrc,
            };
            self.last_marker = header.marker;
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
        let mut frame = self.due(self.next_frame);
        if let Some(until) = self.relay.and_then(|r| r.covered_until)
            && until > frame
        {
            // The first frame forwarded audio does not stand in for.
            let ahead = (until - frame)
                .as_nanos()
                .div_ceil(self.ptime.duration().as_nanos());
            frame = self.due(self.next_frame + ahead as u64);
        }
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

    /// What the leg plays.
    fn source(&self) -> Source {
        if self.relay.is_some() {
            Source::Relay
        } else {
            self.player.source()
        }
    }

    /// Forwards relayed audio of `law`: at once when it is one ptime of this leg, else
    /// re-framed on the grid through the playout window.
    fn forward_audio(&mut self, now: Instant, law: Law, packet: &Packet<'_>) {
        let samples = self.ptime.samples();
        let hold_off =
            Duration::from_millis(u64::from(self.config.playout_window_ms)).max(RELAY_HOLD_OFF);
        if packet.payload.len() != samples {
            if !self.player.is_relay() {
                self.player = Player::relay(
                    self.law,
                    self.ptime,
                    self.config.playout_window_ms,
                    self.due(self.next_frame),
                );
            }
            self.player.feed(now, law, packet);
            return;
        }
        let Some(relay) = &mut self.relay else {
            return;
        };
        if self.forward.is_some() {
            // The shell did not drain the previous one (it does after every input).
            self.stats.frames_skipped += 1;
        }
        let (ssrc, theirs) = (packet.header.ssrc, packet.header.timestamp);
        let offset = match relay.anchor {
            Some((anchored, offset)) if anchored == ssrc => offset,
            _ => {
                let offset = self.next_ts.0.wrapping_sub(theirs.0);
                relay.anchor = Some((ssrc, offset));
                offset
            }
        };
        relay.covered_until = Some(now + self.ptime.duration() + hold_off);
        let timestamp = theirs.wrapping_add(offset);
        let end = timestamp.wrapping_add(samples as u32);
        // A reordered packet keeps its place in the timestamps; the newest end is next.
        if (end.0.wrapping_sub(self.next_ts.0) as i32) > 0 {
            self.next_ts = end;
        }
        let out = &mut self.out[HEADER_LEN..HEADER_LEN + samples];
        if law == self.law {
            out.copy_from_slice(packet.payload);
        } else {
            for (o, &s) in out.iter_mut().zip(packet.payload) {
                *o = self.law.transcode_from(law, s);
            }
        }
        self.forward = Some(Forward {
            timestamp,
            len: samples,
            due: now,
        });
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
                let ours = self.next_ts;
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

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use rand::SeedableRng;
    use rand::rngs::SmallRng;
    use sdp::{Direction, Ptime};

    use super::*;
    use crate::Playback;

    const SDP_PEER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 4000);
    const NAT_PEER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7)), 9);
    const STRAY: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 3)), 666);

    fn media(codec: Law, pt: u8, te: Option<u8>, ptime_ms: u16) -> NegotiatedMedia {
        NegotiatedMedia {
            remote_rtp: SDP_PEER,
            codec,
            payload_type: PayloadType::new(pt).expect("7 bits"),
            telephone_event: te.map(|pt| PayloadType::new(pt).expect("7 bits")),
            ptime: Ptime::from_ms(ptime_ms).expect("not zero"),
            direction: Direction::SendRecv,
            on_hold: false,
        }
    }

    fn core(media: &NegotiatedMedia, source: Source, t0: Instant) -> LegCore {
        LegCore::new(
            LegConfig::default(),
            media,
            source,
            t0,
            &mut SmallRng::seed_from_u64(7),
        )
    }

    fn rtp(ssrc: u32, seq: u16, ts: u32, pt: u8, marker: bool, payload: &[u8]) -> Vec<u8> {
        let header = Header {
            marker,
            payload_type: PayloadType::new(pt).expect("7 bits"),
            seq: SeqNo(seq),
            timestamp: RtpTime(ts),
            ssrc: Ssrc(ssrc),
        };
        let mut buf = vec![0; HEADER_LEN + payload.len()];
        Packet::write(&header, payload, &mut buf).expect("sized");
        buf
    }

    #[derive(Debug)]
    struct Sent {
        to: SocketAddr,
        header: Header,
        payload: Vec<u8>,
        due: Instant,
    }

    fn drain(core: &mut LegCore, now: Instant) -> Vec<Sent> {
        let mut out = Vec::new();
        while let Some(tx) = core.poll_transmit(now) {
            let p = tx.packet();
            assert_eq!(Packet::parse(tx.bytes).expect("we write RTP"), p);
            out.push(Sent {
                to: tx.destination,
                header: tx.header,
                payload: p.payload.to_vec(),
                due: tx.due,
            });
        }
        out
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Non-silent A-law bytes that differ from packet to packet.
    fn audio(k: usize, len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| match ((k * 31 + i * 7) % 251) as u8 {
                0xD5 | 0xFF => 0x2A,
                b => b,
            })
            .collect()
    }

    fn assert_one_stream(sent: &[Sent], samples: u32) {
        for w in sent.windows(2) {
            assert_eq!(w[1].header.ssrc, w[0].header.ssrc);
            assert_eq!(w[1].header.seq, w[0].header.seq.wrapping_add(1));
            assert_eq!(
                w[1].header.timestamp,
                w[0].header.timestamp.wrapping_add(samples)
            );
            assert!(!w[1].header.marker);
        }
    }

    #[test]
    fn frames_go_out_on_the_grid_with_continuous_numbering() {
        let t0 = Instant::now();
        let m = media(Law::Ulaw, 96, None, 20);
        let mut leg = core(&m, Source::Silence, t0);
        let first = drain(&mut leg, t0);
        assert_eq!(first.len(), 1);
        assert!(first[0].header.marker);
        assert!(drain(&mut leg, t0 + ms(10)).is_empty());
        assert_eq!(leg.poll_timeout(), t0 + ms(20));
        // A late timer sends every frame due, each stamped with its place on the grid.
        let late = drain(&mut leg, t0 + ms(75));
        assert_eq!(
            late.iter().map(|s| s.due).collect::<Vec<_>>(),
            vec![t0 + ms(20), t0 + ms(40), t0 + ms(60)]
        );
        let all: Vec<Sent> = first.into_iter().chain(late).collect();
        assert_one_stream(&all, 160);
        for s in &all {
            assert_eq!(s.to, SDP_PEER);
            assert_eq!(s.header.payload_type.get(), 96);
            assert_eq!(s.header.ssrc, leg.ssrc());
            assert_eq!(s.payload, [0xFF; 160]);
        }
        assert_eq!(leg.poll_timeout(), t0 + ms(80));
        let st = leg.stats();
        assert_eq!((st.packets_out, st.bytes_out), (4, 4 * 172));
    }

    #[test]
    fn a_stalled_shell_sends_at_most_a_burst_and_skips_the_rest() {
        let t0 = Instant::now();
        let mut leg = core(&media(Law::Alaw, 8, None, 20), Source::Silence, t0);
        let first = drain(&mut leg, t0);
        let burst = drain(&mut leg, t0 + ms(1000));
        assert_eq!(burst.len(), LegConfig::DEFAULT_MAX_BURST as usize);
        assert_eq!(burst[0].due, t0 + ms(920));
        assert_eq!(leg.stats().frames_skipped, 45);
        // Timestamps tell the receiver how much time the skipped frames took; seq goes on.
        assert_eq!(burst[0].header.seq, first[0].header.seq.wrapping_add(1));
        assert_eq!(
            burst[0].header.timestamp,
            first[0].header.timestamp.wrapping_add(46 * 160)
        );
        assert_one_stream(&burst, 160);
    }

    #[test]
    fn negotiated_ptime_is_rounded_to_the_frame_grid() {
        let t0 = Instant::now();
        assert_eq!(
            core(&media(Law::Ulaw, 0, None, 30), Source::Silence, t0)
                .ptime()
                .ms(),
            30
        );
        assert_eq!(
            core(&media(Law::Ulaw, 0, None, 25), Source::Silence, t0)
                .ptime()
                .ms(),
            30
        );
        assert_eq!(
            core(&media(Law::Ulaw, 0, None, 3), Source::Silence, t0)
                .ptime()
                .ms(),
            10
        );
        assert_eq!(
            core(&media(Law::Ulaw, 0, None, 500), Source::Silence, t0)
                .ptime()
                .ms(),
            120
        );
    }

    #[test]
    fn latches_on_the_first_packet_and_resists_a_stray_one() {
        let t0 = Instant::now();
        let mut leg = core(&media(Law::Ulaw, 0, None, 20), Source::Silence, t0);
        assert_eq!(leg.destination(), Some(SDP_PEER));
        let p = rtp(1, 1, 0, 0, false, &[0; 160]);
        assert!(leg.handle_datagram(t0, NAT_PEER, &p).rtp().is_some());
        assert_eq!(
            leg.poll_event(),
            Some(LegEvent::Latched {
                from: NAT_PEER,
                ssrc: Ssrc(1)
            })
        );
        assert_eq!(leg.destination(), Some(NAT_PEER));
        assert!(drain(&mut leg, t0).iter().all(|s| s.to == NAT_PEER));

        // One stray packet: dropped, nothing moves.
        let stray = rtp(99, 500, 0, 0, false, &[0x11; 160]);
        assert!(matches!(
            leg.handle_datagram(t0, STRAY, &stray),
            Received::Foreign { from: STRAY }
        ));
        // The latched SSRC from elsewhere never moves the leg.
        let copy = rtp(1, 2, 160, 0, false, &[0; 160]);
        for _ in 0..5 {
            assert!(matches!(
                leg.handle_datagram(t0, STRAY, &copy),
                Received::Foreign { .. }
            ));
        }
        assert_eq!(leg.destination(), Some(NAT_PEER));
        assert_eq!(leg.poll_event(), None);

        // A new source that keeps sending while the old one is quiet takes over, once its run
        // has lasted RELATCH_SPAN.
        for (seq, ms) in [(501u16, 50u64), (502, 100)] {
            let p = rtp(99, seq, 0, 0, false, &[0x11; 160]);
            let at = t0 + Duration::from_millis(ms);
            assert!(leg.handle_datagram(at, STRAY, &p).rtp().is_some() == (seq == 502));
        }
        assert_eq!(leg.destination(), Some(STRAY));
        assert_eq!(
            leg.poll_event(),
            Some(LegEvent::Relatched {
                from: STRAY,
                previous: NAT_PEER,
                ssrc: Ssrc(99)
            })
        );
        let st = leg.stats();
        assert_eq!((st.foreign, st.relatches, st.packets_in), (7, 1, 2));
    }

    #[test]
    fn without_latching_the_leg_sends_to_the_sdp_address() {
        let t0 = Instant::now();
        let config = LegConfig {
            latching: false,
            ..LegConfig::default()
        };
        let m = media(Law::Ulaw, 0, None, 20);
        let mut leg = LegCore::new(
            config,
            &m,
            Source::Silence,
            t0,
            &mut SmallRng::seed_from_u64(1),
        );
        let p = rtp(1, 1, 0, 0, false, &[0; 160]);
        assert!(leg.handle_datagram(t0, NAT_PEER, &p).rtp().is_some());
        assert!(leg.handle_datagram(t0, STRAY, &p).rtp().is_some());
        assert_eq!(leg.destination(), Some(SDP_PEER));
        assert_eq!(leg.poll_event(), None);
    }

    #[test]
    fn a_new_sdp_address_drops_the_latch() {
        let t0 = Instant::now();
        let mut m = media(Law::Ulaw, 0, None, 20);
        let mut leg = core(&m, Source::Silence, t0);
        leg.handle_datagram(t0, NAT_PEER, &rtp(1, 1, 0, 0, false, &[0; 160]));
        assert_eq!(leg.destination(), Some(NAT_PEER));
        m.remote_rtp = STRAY;
        leg.handle_media(t0, &m);
        assert_eq!(leg.destination(), Some(STRAY));
    }

    /// Feeds `packets` (arrival time, bytes) to `leg` and drains it every millisecond until
    /// `end`, returning what it sent.
    fn run(
        leg: &mut LegCore,
        t0: Instant,
        packets: &[(Duration, Vec<u8>)],
        end: Duration,
    ) -> Vec<Sent> {
        let mut sent = Vec::new();
        let mut next = 0;
        for t in 0..=end.as_millis() as u64 {
            let now = t0 + ms(t);
            while next < packets.len() && packets[next].0 <= ms(t) {
                leg.handle_datagram(now, NAT_PEER, &packets[next].1);
                next += 1;
            }
            sent.extend(drain(leg, now));
        }
        sent
    }

    fn audio_after_silence(sent: &[Sent], silence: u8) -> Vec<u8> {
        let all: Vec<u8> = sent.iter().flat_map(|s| s.payload.clone()).collect();
        let start = all.iter().position(|&b| b != silence).expect("some audio");
        let end = all.iter().rposition(|&b| b != silence).expect("some audio");
        all[start..=end].to_vec()
    }

    #[test]
    fn echo_plays_30_ms_packets_back_in_20_ms_frames_byte_for_byte() {
        let t0 = Instant::now();
        let mut leg = core(&media(Law::Alaw, 8, None, 20), Source::Echo, t0);
        let mut said = Vec::new();
        let packets: Vec<(Duration, Vec<u8>)> = (0..50u16)
            .map(|k| {
                let payload = audio(usize::from(k), 240);
                said.extend_from_slice(&payload);
                // Up to 7 ms of jitter, inside the playout window.
                let at = ms(5 + 30 * u64::from(k) + u64::from(k * 7 % 8));
                (
                    at,
                    rtp(
                        0xABCD,
                        1000 + k,
                        77 + 240 * u32::from(k),
                        8,
                        k == 0,
                        &payload,
                    ),
                )
            })
            .collect();
        let sent = run(&mut leg, t0, &packets, ms(1700));
        assert!(
            sent.iter()
                .all(|s| s.payload.len() == 160 && s.header.payload_type.get() == 8)
        );
        assert_one_stream(&sent, 160);
        assert_eq!(audio_after_silence(&sent, 0xD5), said);
        let st = leg.stats();
        assert_eq!((st.packets_in, st.lost, st.late), (50, 0, 0));
    }

    #[test]
    fn relay_transcodes_a_law_to_mu_law() {
        let t0 = Instant::now();
        let mut a = core(&media(Law::Alaw, 8, None, 20), Source::Silence, t0);
        let mut b = core(&media(Law::Ulaw, 0, None, 20), Source::Relay, t0);
        let mut heard = Vec::new();
        let mut sent = Vec::new();
        for t in 0..=600u64 {
            let now = t0 + ms(t);
            if t % 20 == 3 && t < 400 {
                let k = (t / 20) as usize;
                let payload = audio(k, 160);
                heard.extend(payload.iter().map(|&c| g711::alaw_to_ulaw(c)));
                let p = rtp(5, k as u16, 160 * k as u32, 8, false, &payload);
                if let Received::Rtp(inbound) = a.handle_datagram(now, NAT_PEER, &p) {
                    b.handle_relay(now, &inbound);
                }
            }
            drain(&mut a, now);
            sent.extend(drain(&mut b, now));
        }
        assert!(
            sent.iter()
                .all(|s| s.header.payload_type == PayloadType::PCMU)
        );
        assert_eq!(audio_after_silence(&sent, 0xFF), heard);
    }

    #[test]
    fn relayed_audio_is_forwarded_at_once_continuing_the_legs_stream() {
        let t0 = Instant::now();
        let mut a = core(&media(Law::Alaw, 8, None, 20), Source::Silence, t0);
        let mut b = core(&media(Law::Ulaw, 0, None, 20), Source::Relay, t0);
        // Before anything is relayed, B sends its own silence on its grid.
        let mut sent = drain(&mut b, t0);
        sent.extend(drain(&mut b, t0 + ms(20)));
        assert_eq!(sent.len(), 2);
        let mut heard = Vec::new();
        for k in 0..10u32 {
            // Off B's grid by 7 ms, from a stream numbered its own way.
            let now = t0 + ms(27 + 20 * u64::from(k));
            let payload = audio(k as usize, 160);
            heard.push(
                payload
                    .iter()
                    .map(|&c| g711::alaw_to_ulaw(c))
                    .collect::<Vec<u8>>(),
            );
            let p = rtp(5, 900 + k as u16, 40_000 + 160 * k, 8, k == 0, &payload);
            let Received::Rtp(inbound) = a.handle_datagram(now, NAT_PEER, &p) else {
                panic!("accepted");
            };
            b.handle_relay(now, &inbound);
            let out = drain(&mut b, now);
            // Exactly the relayed packet, sent when it came: B's own frames stand aside.
            assert_eq!(out.len(), 1, "packet {k}");
            assert_eq!(out[0].due, now);
            assert_eq!(out[0].payload, heard[k as usize]);
            assert_eq!(out[0].header.payload_type, PayloadType::PCMU);
            sent.extend(out);
            // No wake-up for frames the forwarded audio stands in for.
            assert!(b.poll_timeout() > now + ms(20), "packet {k}");
        }
        // The relayed stream stops: one ptime plus the hold-off later, B's silence resumes on
        // its grid, the timestamps still continuing.
        let last = t0 + ms(27 + 20 * 9);
        let resume = b.poll_timeout();
        let gap = ms(20) + RELAY_HOLD_OFF;
        assert!(
            resume >= last + gap && resume < last + gap + ms(20),
            "{resume:?}"
        );
        assert!(drain(&mut b, resume - ms(1)).is_empty());
        let after = drain(&mut b, resume);
        assert_eq!(after.len(), 1);
        assert!(after[0].payload.iter().all(|&c| c == 0xFF));
        sent.extend(after);
        assert!(sent[0].header.marker);
        assert_one_stream(&sent, 160);
        let forwarded: Vec<Vec<u8>> = sent[2..12].iter().map(|s| s.payload.clone()).collect();
        assert_eq!(forwarded, heard);
    }

    #[test]
    fn relayed_gaps_and_reordering_stay_in_the_timestamps() {
        let t0 = Instant::now();
        let mut a = core(&media(Law::Ulaw, 0, None, 20), Source::Silence, t0);
        let mut b = core(&media(Law::Ulaw, 0, None, 20), Source::Relay, t0);
        let first = drain(&mut b, t0);
        let ts0 = first[0].header.timestamp;
        // Packets 0, 1, 3, 2 (2 arrives late), then 5 (4 lost).
        let mut got = Vec::new();
        for (i, k) in [0u32, 1, 3, 2, 5].into_iter().enumerate() {
            let now = t0 + ms(5 + 20 * i as u64);
            let p = rtp(
                8,
                k as u16,
                1000 + 160 * k,
                0,
                false,
                &audio(k as usize, 160),
            );
            let Received::Rtp(inbound) = a.handle_datagram(now, NAT_PEER, &p) else {
                panic!("accepted");
            };
            b.handle_relay(now, &inbound);
            got.extend(drain(&mut b, now));
        }
        let ts: Vec<u32> = got
            .iter()
            .map(|s| s.header.timestamp.0.wrapping_sub(ts0.0) / 160)
            .collect();
        assert_eq!(ts, [1, 2, 4, 3, 6]);
        for w in got.windows(2) {
            assert_eq!(w[1].header.seq, w[0].header.seq.wrapping_add(1));
        }
    }

    #[test]
    fn relayed_30_ms_packets_are_reframed_into_20_ms_frames_byte_for_byte() {
        let t0 = Instant::now();
        let mut a = core(&media(Law::Alaw, 8, None, 30), Source::Silence, t0);
        let mut b = core(&media(Law::Alaw, 8, None, 20), Source::Relay, t0);
        let mut said = Vec::new();
        let mut sent = Vec::new();
        for t in 0..=1200u64 {
            let now = t0 + ms(t);
            if t % 30 == 4 && t < 900 {
                let k = (t / 30) as usize;
                let payload = audio(k, 240);
                said.extend_from_slice(&payload);
                let p = rtp(5, k as u16, 240 * k as u32, 8, false, &payload);
                if let Received::Rtp(inbound) = a.handle_datagram(now, NAT_PEER, &p) {
                    b.handle_relay(now, &inbound);
                }
            }
            drain(&mut a, now);
            sent.extend(drain(&mut b, now));
        }
        assert!(sent.iter().all(|s| s.payload.len() == 160));
        assert_one_stream(&sent, 160);
        assert_eq!(audio_after_silence(&sent, 0xD5), said);
    }

    #[test]
    fn telephone_events_are_relayed_with_the_other_legs_payload_type() {
        let t0 = Instant::now();
        let mut a = core(&media(Law::Ulaw, 0, Some(101), 20), Source::Silence, t0);
        let mut b = core(&media(Law::Ulaw, 0, Some(96), 20), Source::Relay, t0);
        let mut no_te = core(&media(Law::Ulaw, 0, None, 20), Source::Relay, t0);
        let audio_before = drain(&mut b, t0);
        // Digit 5: start (marker), an update, then the end packet three times (RFC 4733 §2.5).
        let events = [
            (true, [5, 0x0A, 0x00, 0xA0]),
            (false, [5, 0x0A, 0x01, 0x40]),
            (false, [5, 0x8A, 0x01, 0xE0]),
            (false, [5, 0x8A, 0x01, 0xE0]),
            (false, [5, 0x8A, 0x01, 0xE0]),
        ];
        let mut relayed = Vec::new();
        for (i, (marker, payload)) in events.iter().enumerate() {
            let now = t0 + ms(5 + 10 * i as u64);
            let p = rtp(42, 300 + i as u16, 123_456, 101, *marker, payload);
            let Received::Rtp(inbound) = a.handle_datagram(now, NAT_PEER, &p) else {
                panic!("accepted");
            };
            assert_eq!(inbound.kind, PayloadKind::TelephoneEvent);
            b.handle_relay(now, &inbound);
            no_te.handle_relay(now, &inbound);
            relayed.extend(drain(&mut b, now));
        }
        let events_out: Vec<&Sent> = relayed
            .iter()
            .filter(|s| s.header.payload_type.get() == 96)
            .collect();
        assert_eq!(events_out.len(), 5);
        for (sent, (marker, payload)) in events_out.iter().zip(&events) {
            assert_eq!(&sent.payload[..], payload);
            assert_eq!(sent.header.marker, *marker);
            assert_eq!(sent.header.ssrc, b.ssrc());
            // One event, one timestamp: that of the audio current when it began.
            assert_eq!(
                sent.header.timestamp,
                audio_before[0].header.timestamp.wrapping_add(160)
            );
        }
        // Events and audio share one sequence.
        let all: Vec<Sent> = audio_before.into_iter().chain(relayed).collect();
        for w in all.windows(2) {
            assert_eq!(w[1].header.seq, w[0].header.seq.wrapping_add(1));
        }
        assert_eq!((a.stats().events_in, b.stats().events_out), (5, 5));
        assert_eq!(no_te.stats().events_dropped, 5);
        assert!(
            drain(&mut no_te, t0 + ms(50))
                .iter()
                .all(|s| s.header.payload_type.get() == 0)
        );
    }

    #[test]
    fn inactivity_is_reported_once_per_silent_spell() {
        let t0 = Instant::now();
        let mut leg = core(&media(Law::Ulaw, 0, None, 20), Source::Silence, t0);
        leg.handle_timeout(t0 + ms(29_999));
        assert_eq!(leg.poll_event(), None);
        leg.handle_timeout(t0 + ms(30_000));
        assert_eq!(
            leg.poll_event(),
            Some(LegEvent::Inactive {
                silent_for: ms(30_000)
            })
        );
        leg.handle_timeout(t0 + ms(40_000));
        assert_eq!(leg.poll_event(), None);
        // Media comes back, then stops again.
        leg.handle_datagram(
            t0 + ms(41_000),
            NAT_PEER,
            &rtp(1, 1, 0, 0, false, &[0; 160]),
        );
        leg.poll_event(); // latched
        let mut config_deadline = None;
        for t in (41_000..=71_000).step_by(20) {
            let now = t0 + ms(t);
            leg.handle_timeout(now);
            drain(&mut leg, now);
            if let Some(e) = leg.poll_event() {
                config_deadline = Some((t, e));
                break;
            }
        }
        assert_eq!(
            config_deadline,
            Some((
                71_000,
                LegEvent::Inactive {
                    silent_for: ms(30_000)
                }
            ))
        );
        assert_eq!(leg.stats().last_packet_at, Some(t0 + ms(41_000)));
    }

    #[test]
    fn the_inactivity_deadline_is_part_of_the_next_timeout() {
        let t0 = Instant::now();
        let config = LegConfig {
            inactivity_timeout: Some(ms(5)),
            ..LegConfig::default()
        };
        let m = media(Law::Ulaw, 0, None, 20);
        let mut leg = LegCore::new(
            config,
            &m,
            Source::Silence,
            t0,
            &mut SmallRng::seed_from_u64(3),
        );
        drain(&mut leg, t0);
        assert_eq!(leg.poll_timeout(), t0 + ms(5));
        leg.handle_timeout(t0 + ms(5));
        assert!(matches!(leg.poll_event(), Some(LegEvent::Inactive { .. })));
        assert_eq!(leg.poll_timeout(), t0 + ms(20));
    }

    #[test]
    fn a_leg_on_hold_is_exempt_from_inactivity_and_does_not_send_when_told_not_to() {
        let t0 = Instant::now();
        // The peer put us on hold (its sendonly): we receive, may send nothing.
        let mut held = media(Law::Ulaw, 0, None, 20);
        held.on_hold = true;
        held.direction = Direction::RecvOnly;
        // We put the peer on hold (our sendonly): we send, expect nothing.
        let mut holding = media(Law::Ulaw, 0, None, 20);
        holding.direction = Direction::SendOnly;
        for (m, sends) in [(held, false), (holding, true)] {
            let mut leg = core(&m, Source::Silence, t0);
            let sent = drain(&mut leg, t0 + ms(60_000));
            assert_eq!(!sent.is_empty(), sends);
            leg.handle_timeout(t0 + ms(60_000));
            assert_eq!(leg.poll_event(), None);
        }
        // Resuming re-arms the timer from the resume.
        let mut leg = core(&held_media(), Source::Silence, t0);
        leg.handle_media(t0 + ms(60_000), &media(Law::Ulaw, 0, None, 20));
        leg.handle_timeout(t0 + ms(89_999));
        assert_eq!(leg.poll_event(), None);
        leg.handle_timeout(t0 + ms(90_000));
        assert!(matches!(leg.poll_event(), Some(LegEvent::Inactive { .. })));
    }

    fn held_media() -> NegotiatedMedia {
        let mut m = media(Law::Ulaw, 0, None, 20);
        m.on_hold = true;
        m.direction = Direction::Inactive;
        m.remote_rtp = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 4000);
        m
    }

    #[test]
    fn counters_count_what_the_peer_sent() {
        let t0 = Instant::now();
        let mut leg = core(&media(Law::Ulaw, 0, Some(101), 20), Source::Silence, t0);
        let mut rtcp = rtp(1, 0, 0, 0, false, &[0; 8]);
        rtcp[1] = 201; // RR
        assert!(matches!(
            leg.handle_datagram(t0, NAT_PEER, &rtcp),
            Received::Rtcp
        ));
        let empty_rr = [0x80, 201, 0, 1, 0, 0, 0, 1];
        assert!(matches!(
            leg.handle_datagram(t0, NAT_PEER, &empty_rr),
            Received::Rtcp
        ));
        assert!(matches!(
            leg.handle_datagram(t0, NAT_PEER, b"hello"),
            Received::Malformed {
                error: ParseError::MessageTooShort { len: 5 }
            }
        ));
        for (i, seq) in [1u16, 2, 4, 3, 7].into_iter().enumerate() {
            let p = rtp(1, seq, 160 * u32::from(seq), 0, false, &[0; 160]);
            leg.handle_datagram(t0 + ms(20 * i as u64), NAT_PEER, &p);
        }
        let cn = rtp(1, 8, 0, 13, false, &[40]);
        assert_eq!(
            leg.handle_datagram(t0 + ms(200), NAT_PEER, &cn)
                .rtp()
                .map(|i| i.kind),
            Some(PayloadKind::Other)
        );
        let st = leg.stats();
        assert_eq!(st.rtcp_ignored, 2);
        assert_eq!(st.malformed, 1);
        assert_eq!(st.packets_in, 6);
        assert_eq!(st.bytes_in, 5 * 172 + 13);
        assert_eq!((st.lost, st.late), (2, 1)); // 5 and 6 missing, 3 after 4
        assert_eq!(st.last_packet_at, Some(t0 + ms(200)));
    }

    #[test]
    fn a_playback_is_transcoded_padded_and_reported_finished() {
        let t0 = Instant::now();
        let samples = audio(3, 400);
        let mut leg = core(
            &media(Law::Ulaw, 0, None, 20),
            Source::Play(Playback::new(Law::Alaw, samples.clone())),
            t0,
        );
        let sent = drain(&mut leg, t0 + ms(60));
        assert_eq!(sent.len(), 4);
        let played: Vec<u8> = sent.iter().flat_map(|s| s.payload.clone()).collect();
        let expected: Vec<u8> = samples.iter().map(|&c| g711::alaw_to_ulaw(c)).collect();
        assert_eq!(&played[..400], &expected[..]);
        assert!(played[400..].iter().all(|&b| b == 0xFF));
        assert_eq!(leg.poll_event(), Some(LegEvent::PlaybackFinished));
        assert_eq!(leg.poll_event(), None);
    }
}
