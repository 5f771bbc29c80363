//! [`Metrics`]: the node's counters, rendered as Prometheus text (`GET /metrics`).
//!
//! Every field is a relaxed atomic. Nothing here is touched per packet: a call adds its legs'
//! counters when it ends, a tap adds its sink's counters when it finishes, and the SIP and
//! status-event counters live where they are counted (`sip::EndpointStats`,
//! `StatusPoster::counters`) and are read only when the page is rendered.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use media::LegStats;

use crate::sink::status::StatusCounters;
use crate::sink::{Reason, SinkStats};

/// A tap's transport, the label of the tap metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    Rtp,
    Ws,
}

impl Transport {
    fn index(self) -> usize {
        match self {
            Transport::Rtp => 0,
            Transport::Ws => 1,
        }
    }
}

const TRANSPORTS: [&str; 2] = ["rtp", "ws"];

/// The node's counters.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    calls_total: [AtomicU64; 2],
    taps_active: [AtomicU64; 2],
    taps_started: [AtomicU64; 2],
    taps_failed: [AtomicU64; 2],
    tap_frames_sent: AtomicU64,
    tap_frames_dropped: AtomicU64,
    rtp_packets_in: AtomicU64,
    rtp_packets_out: AtomicU64,
    rtp_lost: AtomicU64,
    rtp_late: AtomicU64,
    rtp_malformed: AtomicU64,
}

/// What the rendered page reads besides [`Metrics`].
pub(crate) struct Live {
    pub(crate) calls_active: u64,
    pub(crate) draining: bool,
    pub(crate) sip: sip::EndpointStats,
    pub(crate) status: StatusCounters,
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

fn get(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

impl Metrics {
    /// A call was admitted; `outbound` when we placed it.
    pub(crate) fn call_started(&self, outbound: bool) {
        add(&self.calls_total[usize::from(outbound)], 1);
    }

    /// A call's leg ended with `stats`.
    pub(crate) fn leg_ended(&self, stats: &LegStats) {
        add(&self.rtp_packets_in, stats.packets_in);
        add(&self.rtp_packets_out, stats.packets_out);
        add(&self.rtp_lost, stats.lost);
        add(&self.rtp_late, stats.late);
        add(&self.rtp_malformed, stats.malformed);
    }

    /// A tap joined a call's list (ready or connecting).
    pub(crate) fn tap_added(&self, transport: Transport) {
        add(&self.taps_active[transport.index()], 1);
    }

    /// A tap's sink became ready: RTP at once, WebSocket after its handshake.
    pub(crate) fn tap_started(&self, transport: Transport) {
        add(&self.taps_started[transport.index()], 1);
    }

    /// A tap was refused before it joined a call (bad parameters, denied destination, limit).
    pub(crate) fn tap_refused(&self, transport: Transport) {
        add(&self.taps_failed[transport.index()], 1);
    }

    /// A tap left its call's list with `reason`; `started` if its sink had become ready.
    pub(crate) fn tap_removed(&self, transport: Transport, reason: Reason, started: bool) {
        self.taps_active[transport.index()].fetch_sub(1, Ordering::Relaxed);
        let ended_well = matches!(
            reason,
            Reason::Stopped | Reason::CallEnded | Reason::MaxDuration
        );
        if !started || !ended_well {
            add(&self.taps_failed[transport.index()], 1);
        }
    }

    /// A tap's sink is done: what it sent and dropped.
    pub(crate) fn tap_sink_done(&self, stats: &SinkStats) {
        add(&self.tap_frames_sent, stats.frames_sent);
        add(&self.tap_frames_dropped, stats.frames_dropped);
    }

    /// The Prometheus text exposition (version 0.0.4) of every metric.
    pub(crate) fn render(&self, live: &Live) -> String {
        let mut out = String::with_capacity(4096);
        let mut family = |name: &str, kind: &str, help: &str, samples: &[(String, u64)]| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        let plain = |v: u64| vec![(String::new(), v)];
        let by_transport = |counters: &[AtomicU64; 2]| -> Vec<(String, u64)> {
            TRANSPORTS
                .iter()
                .zip(counters)
                .map(|(t, c)| (format!("{{transport=\"{t}\"}}"), get(c)))
                .collect()
        };
        family(
            "earshot_ready",
            "gauge",
            "1 while the node takes calls, 0 while it drains.",
            &plain(u64::from(!live.draining)),
        );
        family(
            "earshot_calls_active",
            "gauge",
            "Calls whose task is running.",
            &plain(live.calls_active),
        );
        family(
            "earshot_calls_total",
            "counter",
            "Calls offered to the node (inbound) or placed by it (outbound).",
            &[
                ("{direction=\"inbound\"}".into(), get(&self.calls_total[0])),
                ("{direction=\"outbound\"}".into(), get(&self.calls_total[1])),
            ],
        );
        family(
            "earshot_taps_active",
            "gauge",
            "Taps running or connecting.",
            &by_transport(&self.taps_active),
        );
        family(
            "earshot_taps_started_total",
            "counter",
            "Taps whose sink became ready.",
            &by_transport(&self.taps_started),
        );
        family(
            "earshot_taps_failed_total",
            "counter",
            "Taps refused, never started, or ended by a failure (not stopped, call_ended or max_duration).",
            &by_transport(&self.taps_failed),
        );
        family(
            "earshot_tap_frames_sent_total",
            "counter",
            "Tap frames handed to the network, over finished taps.",
            &plain(get(&self.tap_frames_sent)),
        );
        family(
            "earshot_tap_frames_dropped_total",
            "counter",
            "Tap frames produced but not sent, over finished taps.",
            &plain(get(&self.tap_frames_dropped)),
        );
        family(
            "earshot_status_events_total",
            "counter",
            "Tap status events by outcome: delivered (ok) or given up (failed).",
            &[
                ("{outcome=\"ok\"}".into(), live.status.ok),
                ("{outcome=\"failed\"}".into(), live.status.failed),
            ],
        );
        family(
            "earshot_status_retries_total",
            "counter",
            "Status event attempts after a first one.",
            &plain(live.status.retried),
        );
        let requests: Vec<(String, u64)> = sip::METHODS
            .iter()
            .zip(live.sip.requests)
            .filter(|(_, n)| *n > 0)
            .map(|(m, n)| (format!("{{method=\"{m}\"}}"), n))
            .collect();
        family(
            "earshot_sip_requests_total",
            "counter",
            "New SIP requests received (retransmissions absorbed), by method.",
            &requests,
        );
        let mut answers = Vec::new();
        for (method, classes) in sip::METHODS.iter().zip(live.sip.answers) {
            for (class, n) in classes.iter().enumerate() {
                if *n > 0 {
                    answers.push((
                        format!("{{method=\"{method}\",code=\"{}xx\"}}", class + 1),
                        *n,
                    ));
                }
            }
        }
        family(
            "earshot_sip_answers_total",
            "counter",
            "Final SIP answers given by the node, by request method and status class.",
            &answers,
        );
        family(
            "earshot_sip_refused_total",
            "counter",
            "SIP messages refused before the stack: malformed, rate limited, unknown method.",
            &[
                ("{why=\"malformed\"}".into(), live.sip.malformed),
                ("{why=\"rate_limited\"}".into(), live.sip.rate_limited),
                ("{why=\"unknown_method\"}".into(), live.sip.unknown_method),
            ],
        );
        family(
            "earshot_rtp_packets_total",
            "counter",
            "RTP packets of the calls' legs, over ended calls.",
            &[
                ("{direction=\"in\"}".into(), get(&self.rtp_packets_in)),
                ("{direction=\"out\"}".into(), get(&self.rtp_packets_out)),
            ],
        );
        family(
            "earshot_rtp_lost_total",
            "counter",
            "RTP packets never received (gaps in the peers' sequence numbers), over ended calls.",
            &plain(get(&self.rtp_lost)),
        );
        family(
            "earshot_rtp_late_total",
            "counter",
            "RTP packets that arrived after a later one, over ended calls.",
            &plain(get(&self.rtp_late)),
        );
        family(
            "earshot_rtp_malformed_total",
            "counter",
            "Datagrams on RTP ports that were not RTP, over ended calls.",
            &plain(get(&self.rtp_malformed)),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live() -> Live {
        Live {
            calls_active: 2,
            draining: false,
            sip: sip::EndpointStats::default(),
            status: StatusCounters::default(),
        }
    }

    /// Each sample line is `name{labels} value` under its own `# TYPE`.
    fn sample(page: &str, line_start: &str) -> u64 {
        page.lines()
            .find_map(|l| l.strip_prefix(line_start).and_then(|r| r.strip_prefix(' ')))
            .unwrap_or_else(|| panic!("no {line_start} in\n{page}"))
            .parse()
            .expect("a number")
    }

    #[test]
    fn taps_are_counted_by_transport_and_outcome() {
        let m = Metrics::default();
        m.tap_added(Transport::Rtp);
        m.tap_started(Transport::Rtp);
        m.tap_added(Transport::Ws);
        m.tap_refused(Transport::Ws);
        let page = m.render(&live());
        assert_eq!(sample(&page, "earshot_taps_active{transport=\"rtp\"}"), 1);
        assert_eq!(sample(&page, "earshot_taps_active{transport=\"ws\"}"), 1);
        assert_eq!(
            sample(&page, "earshot_taps_failed_total{transport=\"ws\"}"),
            1
        );
        m.tap_removed(Transport::Rtp, Reason::CallEnded, true);
        m.tap_removed(Transport::Ws, Reason::ConnectFailed, false);
        m.tap_sink_done(&SinkStats {
            frames_sent: 50,
            frames_dropped: 2,
            bytes_sent: 8000,
        });
        let page = m.render(&live());
        assert_eq!(sample(&page, "earshot_taps_active{transport=\"rtp\"}"), 0);
        assert_eq!(
            sample(&page, "earshot_taps_started_total{transport=\"rtp\"}"),
            1
        );
        assert_eq!(
            sample(&page, "earshot_taps_failed_total{transport=\"rtp\"}"),
            0
        );
        assert_eq!(
            sample(&page, "earshot_taps_failed_total{transport=\"ws\"}"),
            2
        );
        assert_eq!(sample(&page, "earshot_tap_frames_sent_total"), 50);
        assert_eq!(sample(&page, "earshot_tap_frames_dropped_total"), 2);
        assert_eq!(sample(&page, "earshot_calls_active"), 2);
    }

    #[test]
    fn every_family_has_help_and_type() {
        let page = Metrics::default().render(&live());
        let types = page.lines().filter(|l| l.starts_with("# TYPE ")).count();
        let helps = page.lines().filter(|l| l.starts_with("# HELP ")).count();
        assert_eq!(types, helps);
        assert!(types >= 16, "{page}");
        for line in page.lines().filter(|l| !l.starts_with('#')) {
            let (name, value) = line.rsplit_once(' ').expect("name value");
            assert!(name.starts_with("earshot_"), "{line}");
            value.parse::<u64>().expect("an integer value");
        }
    }
}
