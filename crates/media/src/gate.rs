//! [`Gate`]: a future is polled again only once its waker has fired.
//!
//! A call task waits on several sources at once (`select!` over its legs' sockets, its timer,
//! its signalling channels and the node's shutdown signal) and `select!` polls every branch on
//! every turn, although a turn is almost always for one RTP packet or one frame due. Each
//! needless poll of an idle source costs its own atomics and, for a socket, the reactor's
//! waiter lock. A gate gives a source a waker of its own: the source is polled on the first
//! turn, on a turn after it was woken, and on the turn after it was ready (it may hold more);
//! on any other turn the gate answers `Pending` at the cost of one waker registration and one
//! atomic swap.
//!
//! The source must keep the gate's waker when the future that registered it is dropped
//! (`tokio::sync::mpsc::Receiver::recv`, a socket's readiness) or be one future pinned across
//! turns. A future that deregisters on drop (`watch::Receiver::changed`, `Notify::notified`)
//! must be pinned outside the loop, or it would never be woken again.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use futures_util::task::AtomicWaker;

/// The waker a gated source is polled with: marks the gate open and wakes the task.
#[derive(Debug, Default)]
struct Signal {
    open: AtomicBool,
    task: AtomicWaker,
}

impl Wake for Signal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.open.store(true, Ordering::Release);
        self.task.wake();
    }
}

/// One source's gate. Open when made.
#[derive(Debug)]
pub struct Gate {
    signal: Arc<Signal>,
    waker: Waker,
    /// The task waker (its data and vtable addresses) known to be stored in `signal.task`:
    /// registered, and no wake has taken it since. A closed gate polled with that waker
    /// needs no registration.
    registered: Option<(usize, usize)>,
}

impl Default for Gate {
    fn default() -> Self {
        Gate::new()
    }
}

impl Gate {
    /// A gate, open: the first poll goes through.
    pub fn new() -> Gate {
        let signal = Arc::new(Signal {
            open: AtomicBool::new(true),
            task: AtomicWaker::new(),
        });
        let waker = Waker::from(Arc::clone(&signal));
        Gate {
            signal,
            waker,
            registered: None,
        }
    }

    /// Polls `source` with the gate's waker if the gate is open, else answers `Pending`. The
    /// task's waker (in `cx`) is woken when the gate's is. After `Ready` the gate stays open,
    /// so a source holding more is polled on the next turn.
    pub fn poll<T>(
        &mut self,
        cx: &mut Context<'_>,
        source: impl FnOnce(&mut Context<'_>) -> Poll<T>,
    ) -> Poll<T> {
        let task = cx.waker();
        let id = (
            task.data() as usize,
            std::ptr::from_ref(task.vtable()) as usize,
        );
        // The common case: closed, and this task's waker is still stored (a wake marks the
        // gate open before it takes the waker, so "closed" means nothing took it since).
        if !self.signal.open.load(Ordering::Acquire) && self.registered == Some(id) {
            return Poll::Pending;
        }
        // Register before looking at the flag: a wake in between is then not lost.
        self.signal.task.register(task);
        if !self.signal.open.swap(false, Ordering::AcqRel) {
            self.registered = Some(id);
            return Poll::Pending;
        }
        // A wake came: it may have taken the waker just registered, so the next closed poll
        // registers again.
        self.registered = None;
        let mut own = Context::from_waker(&self.waker);
        let polled = source(&mut own);
        if polled.is_ready() {
            self.signal.open.store(true, Ordering::Release);
        }
        polled
    }

    /// `future`, polled through the gate: for a future made afresh on every turn, such as
    /// `receiver.recv()`, whose source keeps the waker (see the module's rules).
    pub async fn run<F: Future>(&mut self, future: F) -> F::Output {
        let mut future = pin!(future);
        std::future::poll_fn(|cx| self.poll(cx, |own| future.as_mut().poll(own))).await
    }

    /// Opens the gate: the source is polled on the next turn whether or not it woke.
    pub fn open(&mut self) {
        self.signal.open.store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// Counts the task's wake-ups.
    #[derive(Default)]
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// A source that counts its polls and is ready when told.
    struct Source {
        polls: usize,
        ready: bool,
        waker: Option<Waker>,
    }

    impl Source {
        fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
            self.polls += 1;
            if self.ready {
                self.ready = false;
                Poll::Ready(())
            } else {
                self.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    #[test]
    fn a_source_is_polled_only_when_it_woke_or_was_ready() {
        let count = Arc::new(Count::default());
        let task = Waker::from(Arc::clone(&count));
        let mut cx = Context::from_waker(&task);
        let mut gate = Gate::new();
        let mut source = Source {
            polls: 0,
            ready: false,
            waker: None,
        };
        // The first poll goes through and registers the gate's waker.
        assert!(gate.poll(&mut cx, |cx| source.poll(cx)).is_pending());
        assert_eq!(source.polls, 1);
        // Idle turns do not reach the source.
        for _ in 0..10 {
            assert!(gate.poll(&mut cx, |cx| source.poll(cx)).is_pending());
        }
        assert_eq!(source.polls, 1);
        // Its wake opens the gate and wakes the task.
        source.ready = true;
        source.waker.take().expect("registered").wake();
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert!(gate.poll(&mut cx, |cx| source.poll(cx)).is_ready());
        assert_eq!(source.polls, 2);
        // After Ready the next turn polls again (it may hold more), then the gate closes.
        assert!(gate.poll(&mut cx, |cx| source.poll(cx)).is_pending());
        assert!(gate.poll(&mut cx, |cx| source.poll(cx)).is_pending());
        assert_eq!(source.polls, 3);
        gate.open();
        assert!(gate.poll(&mut cx, |cx| source.poll(cx)).is_pending());
        assert_eq!(source.polls, 4);
    }

    /// Wakes from another thread race the task's polls: none may be lost.
    #[tokio::test]
    async fn wakes_from_another_thread_are_never_lost() {
        const MESSAGES: u32 = 20_000;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<u32>(4);
        let sender = std::thread::spawn(move || {
            for i in 0..MESSAGES {
                tx.blocking_send(i).expect("receiver lives");
            }
        });
        let mut gate = Gate::new();
        let mut next = 0;
        // Only the gate's wakes poll this loop (no timer branch, which would poll it anyway
        // and hide a lost wake).
        let received = tokio::time::timeout(std::time::Duration::from_secs(20), async {
            while next < MESSAGES {
                if let Some(i) = gate.run(rx.recv()).await {
                    assert_eq!(i, next);
                    next += 1;
                }
            }
        });
        // A lost wake leaves the sender blocked on a full channel and the loop waiting.
        assert!(received.await.is_ok(), "stuck after {next} messages");
        sender.join().expect("the sender ran");
    }

    #[tokio::test]
    async fn a_channel_through_a_gate_delivers_every_message() {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<u32>(8);
        let mut gate = Gate::new();
        let sender = tokio::spawn(async move {
            for i in 0..100 {
                tx.send(i).await.expect("receiver lives");
                if i % 7 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        });
        let mut got = Vec::new();
        // Other turns of the loop (a timer) meet a closed gate; a lost wake would hang here.
        let mut ticks = tokio::time::interval(std::time::Duration::from_millis(1));
        let received = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            while got.len() < 100 {
                tokio::select! {
                    Some(i) = gate.run(rx.recv()) => got.push(i),
                    _ = ticks.tick() => {}
                }
            }
        });
        assert!(
            received.await.is_ok(),
            "a message was not delivered: {got:?}"
        );
        sender.await.expect("sender ran");
        assert_eq!(got, (0..100).collect::<Vec<_>>());
    }
}
