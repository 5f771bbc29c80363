//! The bounded drop-oldest queue between a call's media path and a sink's socket task
//! (`tap.md` §8).
//!
//! [`FrameRing`] is the counting logic, without synchronisation; [`FrameQueue`] shares one
//! between the producer (the call task: [`FrameQueue::push`] is synchronous and never waits)
//! and the consumer (the sink's task: [`FrameQueue::next`] awaits). The lock is held only for
//! the O(1) ring operation, never across an await or a syscall.
//!
//! Invariant, after every operation: `produced = sent + dropped + queued + in_flight`, where
//! `in_flight` counts frames taken by the consumer and not yet marked sent or dropped. When the
//! consumer has marked every frame it took and the queue is empty, the sink's
//! [`SinkStats`] satisfy `produced = sent + dropped` exactly.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use rtp::RtpTime;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use crate::sink::{Reason, SinkStats};

/// One queued frame: its payload, and its RTP timestamp (where it sits on the tap's timeline).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedFrame {
    /// The frame's RTP timestamp.
    pub timestamp: RtpTime,
    /// The codec payload.
    pub payload: Bytes,
}

/// A bounded ring of frames that drops its oldest when full, and counts.
#[derive(Debug)]
pub struct FrameRing {
    frames: VecDeque<QueuedFrame>,
    capacity: usize,
    produced: u64,
    sent: u64,
    dropped: u64,
    bytes_sent: u64,
    in_flight: u64,
}

impl FrameRing {
    /// A ring holding at most `capacity` frames (at least one).
    pub fn new(capacity: usize) -> FrameRing {
        let capacity = capacity.max(1);
        FrameRing {
            frames: VecDeque::with_capacity(capacity),
            capacity,
            produced: 0,
            sent: 0,
            dropped: 0,
            bytes_sent: 0,
            in_flight: 0,
        }
    }

    /// Adds a frame; when full, the oldest queued frame is dropped first. Returns whether one
    /// was dropped.
    pub fn push(&mut self, frame: QueuedFrame) -> bool {
        self.produced += 1;
        let overflow = self.frames.len() >= self.capacity;
        if overflow {
            self.frames.pop_front();
            self.dropped += 1;
        }
        self.frames.push_back(frame);
        overflow
    }

    /// Counts a frame that was produced but could not even be queued (the sink has ended).
    pub fn reject(&mut self) {
        self.produced += 1;
        self.dropped += 1;
    }

    /// Takes the oldest frame; it is in flight until [`mark_sent`](Self::mark_sent) or
    /// [`mark_dropped`](Self::mark_dropped).
    pub fn pop(&mut self) -> Option<QueuedFrame> {
        let frame = self.frames.pop_front()?;
        self.in_flight += 1;
        Some(frame)
    }

    /// An in-flight frame of `bytes` payload bytes went out in full.
    pub fn mark_sent(&mut self, bytes: usize) {
        debug_assert!(self.in_flight > 0, "mark_sent without a frame in flight");
        self.in_flight = self.in_flight.saturating_sub(1);
        self.sent += 1;
        self.bytes_sent += bytes as u64;
    }

    /// An in-flight frame was not sent.
    pub fn mark_dropped(&mut self) {
        debug_assert!(self.in_flight > 0, "mark_dropped without a frame in flight");
        self.in_flight = self.in_flight.saturating_sub(1);
        self.dropped += 1;
    }

    /// Drops every queued frame (a reconnect gap: its audio is not replayed); returns how many.
    pub fn clear(&mut self) -> u64 {
        let n = self.frames.len() as u64;
        self.frames.clear();
        self.dropped += n;
        n
    }

    /// Frames queued.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Whether no frame is queued.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// The most frames held.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Frames pushed or rejected.
    pub fn produced(&self) -> u64 {
        self.produced
    }

    /// Frames taken and not yet marked.
    pub fn in_flight(&self) -> u64 {
        self.in_flight
    }

    /// The counters so far.
    pub fn stats(&self) -> SinkStats {
        SinkStats {
            frames_sent: self.sent,
            frames_dropped: self.dropped,
            bytes_sent: self.bytes_sent,
        }
    }
}

/// What [`FrameQueue::next`] yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// The oldest queued frame (now in flight).
    Frame(QueuedFrame),
    /// The producer stopped the sink and every frame queued before has been taken.
    Stopped(Reason),
}

#[derive(Debug)]
struct State {
    ring: FrameRing,
    stop: Option<Reason>,
    /// The consumer has ended: pushes are counted as dropped at once.
    ended: bool,
    /// The timestamp of the first frame produced: the origin of the tap's timeline.
    first_timestamp: Option<RtpTime>,
}

/// A [`FrameRing`] shared by a synchronous producer and one async consumer.
#[derive(Debug)]
pub struct FrameQueue {
    state: Mutex<State>,
    frames: Notify,
    stop: watch::Sender<Option<(Reason, Instant)>>,
}

impl FrameQueue {
    /// A queue of at most `capacity` frames.
    pub fn new(capacity: usize) -> FrameQueue {
        FrameQueue {
            state: Mutex::new(State {
                ring: FrameRing::new(capacity),
                stop: None,
                ended: false,
                first_timestamp: None,
            }),
            frames: Notify::new(),
            stop: watch::Sender::new(None),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is a ring and counters, consistent after every operation; a panic
        // elsewhere while holding the lock cannot leave it half-updated.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Producer: queues a copy of `payload`. Never waits. After [`stop`](Self::stop) or the
    /// consumer's end, the frame is counted as produced and dropped.
    pub fn push(&self, timestamp: RtpTime, payload: &[u8]) {
        {
            let mut state = self.lock();
            state.first_timestamp.get_or_insert(timestamp);
            if state.ended || state.stop.is_some() {
                state.ring.reject();
                return;
            }
            state.ring.push(QueuedFrame {
                timestamp,
                payload: Bytes::copy_from_slice(payload),
            });
        }
        self.frames.notify_one();
    }

    /// Producer: no more frames; the consumer takes what is queued, then sees `reason`. The
    /// first stop wins.
    pub fn stop(&self, reason: Reason) {
        {
            let mut state = self.lock();
            if state.stop.is_some() {
                return;
            }
            state.stop = Some(reason);
        }
        self.stop.send_replace(Some((reason, Instant::now())));
        self.frames.notify_one();
    }

    /// The reason given to [`stop`](Self::stop), if it was called.
    pub fn stop_reason(&self) -> Option<Reason> {
        self.lock().stop
    }

    /// Resolves once [`stop`](Self::stop) has been called: its reason, and when.
    pub async fn stopped(&self) -> (Reason, Instant) {
        let mut rx = self.stop.subscribe();
        loop {
            if let Some(stop) = *rx.borrow_and_update() {
                return stop;
            }
            if rx.changed().await.is_err() {
                // The sender lives in `self`, which outlives this borrow.
                std::future::pending::<()>().await;
            }
        }
    }

    /// Consumer: the next frame, or the stop once the queue is empty.
    pub async fn next(&self) -> Next {
        loop {
            {
                let mut state = self.lock();
                if let Some(frame) = state.ring.pop() {
                    return Next::Frame(frame);
                }
                if let Some(reason) = state.stop {
                    return Next::Stopped(reason);
                }
            }
            self.frames.notified().await;
        }
    }

    /// Consumer: an in-flight frame of `bytes` payload bytes was sent.
    pub fn mark_sent(&self, bytes: usize) {
        self.lock().ring.mark_sent(bytes);
    }

    /// Consumer: an in-flight frame was not sent.
    pub fn mark_dropped(&self) {
        self.lock().ring.mark_dropped();
    }

    /// Consumer: drops what is queued (a reconnect gap).
    pub fn clear(&self) -> u64 {
        self.lock().ring.clear()
    }

    /// Consumer: it has ended; what is queued and what comes later is dropped.
    pub fn end(&self) -> SinkStats {
        let mut state = self.lock();
        state.ended = true;
        state.ring.clear();
        state.ring.stats()
    }

    /// The counters so far.
    pub fn stats(&self) -> SinkStats {
        self.lock().ring.stats()
    }

    /// The RTP timestamp of the first frame pushed.
    pub fn first_timestamp(&self) -> Option<RtpTime> {
        self.lock().first_timestamp
    }

    /// Frames produced so far.
    pub fn produced(&self) -> u64 {
        self.lock().ring.produced()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn frame(n: u32) -> QueuedFrame {
        QueuedFrame {
            timestamp: RtpTime(n),
            payload: Bytes::from(vec![n as u8; 4]),
        }
    }

    #[test]
    fn drops_the_oldest_when_full() {
        let mut ring = FrameRing::new(3);
        for n in 0..5 {
            ring.push(frame(n));
        }
        let kept: Vec<u32> = std::iter::from_fn(|| ring.pop().map(|f| f.timestamp.0)).collect();
        assert_eq!(kept, [2, 3, 4]);
        assert_eq!(ring.stats().frames_dropped, 2);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Push,
        Reject,
        Pop,
        Sent,
        Dropped,
        Clear,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => Just(Op::Push),
            1 => Just(Op::Reject),
            4 => Just(Op::Pop),
            3 => Just(Op::Sent),
            1 => Just(Op::Dropped),
            1 => Just(Op::Clear),
        ]
    }

    proptest! {
        #[test]
        fn produced_is_sent_plus_dropped(cap in 1usize..8, ops in proptest::collection::vec(op(), 0..300)) {
            let mut ring = FrameRing::new(cap);
            let mut next = 0u32;
            let mut in_flight = 0u64;
            for op in ops {
                match op {
                    Op::Push => { ring.push(frame(next)); next += 1; }
                    Op::Reject => ring.reject(),
                    Op::Pop => if ring.pop().is_some() { in_flight += 1 },
                    Op::Sent if in_flight > 0 => { ring.mark_sent(4); in_flight -= 1 }
                    Op::Dropped if in_flight > 0 => { ring.mark_dropped(); in_flight -= 1 }
                    Op::Sent | Op::Dropped => {}
                    Op::Clear => { ring.clear(); }
                }
                let s = ring.stats();
                prop_assert!(ring.len() <= cap);
                prop_assert_eq!(ring.in_flight(), in_flight);
                prop_assert_eq!(ring.produced(), s.frames_sent + s.frames_dropped + ring.len() as u64 + in_flight);
                prop_assert_eq!(s.bytes_sent, 4 * s.frames_sent);
            }
            // Drain as a sink does at its end: send what is left, then nothing is unaccounted.
            for _ in 0..in_flight { ring.mark_sent(4); }
            while ring.pop().is_some() { ring.mark_sent(4); }
            let s = ring.stats();
            prop_assert_eq!(ring.produced(), s.frames_produced());
        }
    }

    #[tokio::test]
    async fn shared_queue_yields_frames_then_the_stop() {
        let q = FrameQueue::new(2);
        q.push(RtpTime(1), b"a");
        q.push(RtpTime(2), b"b");
        q.push(RtpTime(3), b"c");
        q.stop(Reason::Stopped);
        q.push(RtpTime(4), b"d");
        q.stop(Reason::CallEnded);
        let mut got = vec![];
        loop {
            match q.next().await {
                Next::Frame(f) => {
                    got.push(f.timestamp.0);
                    q.mark_sent(f.payload.len());
                }
                Next::Stopped(r) => {
                    assert_eq!(r, Reason::Stopped);
                    break;
                }
            }
        }
        assert_eq!(got, [2, 3]);
        assert_eq!(q.stopped().await.0, Reason::Stopped);
        assert_eq!(q.first_timestamp(), Some(RtpTime(1)));
        let s = q.end();
        assert_eq!((s.frames_sent, s.frames_dropped, s.bytes_sent), (2, 2, 2));
        q.push(RtpTime(5), b"e");
        assert_eq!(q.stats().frames_produced(), q.produced());
        assert_eq!(q.produced(), 5);
    }
}
