//! One run: sockets, the node, the calls, the media, the window, the figures.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::calls::{self, Caller, PlacedCall};
use crate::media::{self, Shared, SourceStream};
use crate::node::{self, NodeProcess};
use crate::report::{Report, SetupReport, TapReport};
use crate::stats::Histogram;
use crate::{BenchError, Config, Variant, tag, udp, ws};

const RING_TIMEOUT: Duration = Duration::from_secs(10);

struct Ports {
    node_sip: u16,
    caller_sip: u16,
    far_sip: u16,
    ws: u16,
    tap: u16,
    caller: u16,
    far: u16,
}

impl Ports {
    fn new(base: u16) -> Ports {
        Ports {
            node_sip: base,
            caller_sip: base + 1,
            far_sip: base + 2,
            ws: base + 3,
            tap: base + 8,
            caller: base + 24,
            far: base + 44,
        }
    }
}

/// The SWML document every call runs.
fn document(variant: Variant, ports: &Ports) -> String {
    let taps = match variant {
        Variant::Rtp2 => format!(
            "    - tap:\n        uri: rtp://127.0.0.1:{p}\n        direction: speak\n        codec: PCMU\n\
             \x20   - tap:\n        uri: rtp://127.0.0.1:{p}\n        direction: listen\n        codec: PCMU\n",
            p = ports.tap
        ),
        Variant::Both => format!(
            "    - tap:\n        uri: rtp://127.0.0.1:{}\n        direction: both\n        codec: PCMU\n",
            ports.tap
        ),
        Variant::Ws => format!(
            "    - tap:\n        uri: ws://127.0.0.1:{}/tap\n        direction: both\n        codec: PCMU\n        announce: true\n",
            ports.ws
        ),
    };
    format!(
        "version: 1.0.0\nsections:\n  main:\n    - answer\n{taps}    - connect:\n        to: sip:far@127.0.0.1:{}\n    - hangup\n",
        ports.far_sip
    )
}

fn bind_all(first: u16, n: usize, timestamps: bool) -> Result<Vec<UdpSocket>, BenchError> {
    (0..n)
        .map(|i| {
            let port = first + i as u16;
            udp::bind(port, timestamps)
                .map_err(|e| BenchError::Setup(format!("UDP port {port}: {e}")))
        })
        .collect()
}

/// (busy, total) jiffies of `/proc/stat`'s line `name`.
fn cpu_line(stat: &str, name: &str) -> Option<(u64, u64)> {
    let line = stat
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4)?;
    Some((total - idle, total))
}

fn proc_stat() -> String {
    std::fs::read_to_string("/proc/stat").unwrap_or_default()
}

fn busy_pct(a: &str, b: &str, name: &str, scale: f64) -> Option<f64> {
    let (b0, t0) = cpu_line(a, name)?;
    let (b1, t1) = cpu_line(b, name)?;
    (t1 > t0).then(|| scale * 100.0 * (b1 - b0) as f64 / (t1 - t0) as f64)
}

/// RFC 3339 UTC for a Unix time.
pub(crate) fn utc(unix_s: i64) -> String {
    let days = unix_s.div_euclid(86_400);
    let secs = unix_s.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

fn setup_report(placed: &[Option<PlacedCall>], took: Duration, while_up: usize) -> SetupReport {
    let mut h = Histogram::default();
    for p in placed.iter().flatten() {
        h.record(p.setup.as_nanos() as i64);
    }
    let ok = placed.iter().flatten().count();
    let s = h.summary();
    SetupReport {
        calls: placed.len(),
        while_up,
        failed: placed.len() - ok,
        per_second: ok as f64 / took.as_secs_f64().max(1e-9),
        setup_ms_p50: s.p50_ms,
        setup_ms_p99: s.p99_ms,
    }
}

/// Runs `config` once and returns its figures; every process it started is stopped.
pub fn run(config: &Config, command: &str) -> Result<Report, BenchError> {
    if config.calls == 0 || config.calls * 2 > usize::from(tag::MAX_STREAM) {
        return Err(BenchError::Setup(format!(
            "calls must be 1 to {}, not {}",
            tag::MAX_STREAM / 2,
            config.calls
        )));
    }
    if config.shards == 0 || config.shards > 16 {
        return Err(BenchError::Setup("shards must be 1 to 16".into()));
    }
    if let Some(cpu) = config.tool_cpu {
        node::pin_self(cpu)?;
    }
    std::fs::create_dir_all(&config.log_dir)
        .map_err(|e| BenchError::Setup(format!("{}: {e}", config.log_dir.display())))?;
    let ports = Ports::new(config.base_port);
    let sockets = media::Sockets {
        caller: bind_all(ports.caller, config.shards, false)?,
        far: bind_all(ports.far, config.shards, false)?,
        tap: bind_all(ports.tap, 1, true)?,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| BenchError::Setup(format!("runtime: {e}")))?;
    let shared = Arc::new(Shared::new(config.calls * 2 + 2));
    let mut ws_rx = if config.variant == Variant::Ws {
        Some(runtime.block_on(ws::listen(ports.ws, Arc::clone(&shared)))?)
    } else {
        None
    };
    let doc = document(config.variant, &ports);
    let args: Vec<String> = [
        "serve",
        "--sip",
        &format!("127.0.0.1:{}", ports.node_sip),
        "--sip-tcp",
        "off",
        "--sip-rate",
        "1000000",
        "--inactivity",
        "off",
        "--log-level",
        "warn",
        "--swml-inline",
        &doc,
    ]
    .map(String::from)
    .to_vec();
    let env: Vec<(String, String)> = config
        .tap_window
        .map(|w| {
            let ms = w.as_millis().to_string();
            vec![
                ("EARSHOT_TAPS_WINDOW_MS".to_string(), ms.clone()),
                ("EARSHOT_TAPS_WINDOW_BOTH_MS".to_string(), ms),
            ]
        })
        .unwrap_or_default();
    let log = config.log_dir.join(format!(
        "node-{}-{}.log",
        config.variant.name(),
        config.calls
    ));
    let node = NodeProcess::start(
        &config.earshot,
        config.node_wrapper.as_deref(),
        &args,
        &env,
        config.node_cpu,
        &log,
    )?;
    // Let the node's first allocations settle before the idle figure.
    std::thread::sleep(Duration::from_millis(300));
    let rss_idle = node.rss_bytes()?;
    let node_sip = SocketAddr::from(([127, 0, 0, 1], ports.node_sip));
    let caller_ports: Vec<u16> = (0..config.shards as u16)
        .map(|i| ports.caller + i)
        .collect();
    let far_ports: Vec<u16> = (0..config.shards as u16).map(|i| ports.far + i).collect();
    let (far_endpoint, mut far_rx) = runtime.block_on(calls::far_end(ports.far_sip, far_ports))?;
    let mut caller = runtime.block_on(Caller::bind(ports.caller_sip, node_sip, caller_ports))?;
    let (placed, took, failures) =
        runtime.block_on(caller.place(config.calls, config.setup_concurrency, RING_TIMEOUT));
    let setup = setup_report(&placed, took, 0);
    if let Some(first) = failures.first() {
        return Err(BenchError::Sip(format!(
            "{} of {} calls failed, the first: {first}",
            failures.len(),
            config.calls
        )));
    }
    let placed: Vec<PlacedCall> = placed.into_iter().flatten().collect();
    // Every far leg the node opened, as the far end answered them.
    let mut far_legs = Vec::with_capacity(config.calls);
    let deadline = Instant::now() + Duration::from_secs(10);
    while far_legs.len() < config.calls {
        let left = deadline.saturating_duration_since(Instant::now());
        match runtime.block_on(async { tokio::time::timeout(left, far_rx.recv()).await }) {
            Ok(Some(Ok(leg))) => far_legs.push(leg),
            Ok(Some(Err(e))) => return Err(e),
            Ok(None) | Err(_) => {
                return Err(BenchError::Sip(format!(
                    "only {} of {} far legs answered",
                    far_legs.len(),
                    config.calls
                )));
            }
        }
    }
    let tagged_far = config.variant == Variant::Rtp2;
    let caller_streams: Vec<SourceStream> = placed
        .iter()
        .enumerate()
        .map(|(c, p)| SourceStream {
            socket: c % config.shards,
            to: p.node_rtp,
            id: (2 * c) as u16,
            tagged: true,
        })
        .collect();
    let far_streams: Vec<SourceStream> = far_legs
        .iter()
        .enumerate()
        .map(|(f, leg)| SourceStream {
            socket: f % config.shards,
            to: leg.node_rtp,
            id: (2 * f + 1) as u16,
            tagged: tagged_far,
        })
        .collect();
    let media_shared = Arc::clone(&shared);
    let media = std::thread::scope(|scope| {
        let thread =
            scope.spawn(|| media::run(&sockets, &caller_streams, &far_streams, &media_shared));
        std::thread::sleep(config.warmup);
        let stat0 = proc_stat();
        let cpu0 = node.cpu_seconds();
        let w0 = Instant::now();
        let started = udp::realtime_ns();
        shared.window_start.store(started, Ordering::Relaxed);
        std::thread::sleep(config.duration);
        shared
            .window_end
            .store(udp::realtime_ns(), Ordering::Relaxed);
        let cpu1 = node.cpu_seconds();
        let window = w0.elapsed();
        let stat1 = proc_stat();
        let rss = node.rss_bytes();
        let extra = if config.setup_extra > 0 {
            let (more, took, _) = runtime.block_on(caller.place(
                config.setup_extra,
                config.setup_concurrency,
                RING_TIMEOUT,
            ));
            Some((setup_report(&more, took, config.calls), more))
        } else {
            None
        };
        shared.stop.store(true, Ordering::Relaxed);
        let result = thread.join();
        (
            result, cpu0, cpu1, window, stat0, stat1, rss, started, extra,
        )
    });
    let (result, cpu0, cpu1, window, stat0, stat1, rss, started, extra) = media;
    let result = result.map_err(|_| BenchError::Setup("the media thread panicked".into()))?;
    let (setup_under_load, extra_calls) = match extra {
        Some((report, calls)) => (Some(report), calls.into_iter().flatten().collect()),
        None => (None, Vec::new()),
    };
    runtime.block_on(calls::hang_up(placed, config.setup_concurrency));
    runtime.block_on(calls::hang_up(extra_calls, config.setup_concurrency));
    let mut tap = result.tap;
    let mut node_sent = None;
    if let Some(rx) = ws_rx.as_mut() {
        let mut taps = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        let want = config.calls + setup_under_load.as_ref().map_or(0, |s| s.calls);
        while taps.len() < want {
            let left = deadline.saturating_duration_since(Instant::now());
            match runtime.block_on(async { tokio::time::timeout(left, rx.recv()).await }) {
                Ok(Some(t)) => taps.push(t),
                _ => break,
            }
        }
        let (t, dropped, sent, reported) = ws::tally(&taps);
        tap = t;
        tap.missing = dropped;
        if reported > 0 {
            node_sent = Some(sent);
        }
    }
    node.stop();
    far_endpoint.shutdown();
    let (cpu0, cpu1) = (cpu0?, cpu1?);
    let rss = rss?;
    let w = window.as_secs_f64();
    let node_cpu = (cpu1 - cpu0) / w;
    let in_pps = result.sent_in_window as f64 / w;
    let machine = busy_pct(&stat0, &stat1, "cpu", num_cpus_online() as f64).unwrap_or(0.0);
    let node_core = config
        .node_cpu
        .and_then(|c| busy_pct(&stat0, &stat1, &format!("cpu{c}"), 1.0));
    let calls = config.calls as f64;
    Ok(Report {
        target: "earshot".into(),
        variant: config.variant.name().into(),
        calls: config.calls,
        started_utc: utc(started / 1_000_000_000),
        command: command.to_string(),
        window_s: w,
        tap_window_ms: config.tap_window.map(|w| w.as_millis() as u64),
        in_pps,
        node_cpu_pct: 100.0 * node_cpu,
        us_per_in_pkt: if in_pps > 0.0 {
            1e6 * node_cpu / in_pps
        } else {
            0.0
        },
        cpu_pct_per_call: 100.0 * node_cpu / calls,
        calls_per_core: if node_cpu > 0.0 {
            calls / node_cpu
        } else {
            0.0
        },
        rss_idle_bytes: rss_idle,
        rss_bytes: rss,
        rss_per_call_bytes: (rss as f64 - rss_idle as f64) / calls,
        relay_sent: result.sent_in_window,
        relay_received: result.relay_received,
        tool_send_refused: result.refused,
        tool_slot_lag: result.slot_lag.summary(),
        tap: TapReport {
            streams: tap.streams,
            frames_received: tap.received,
            frames_missing: tap.missing,
            node_frames_sent: node_sent,
            frames_silent: tap.silent,
            latency: tap.latency.summary(),
            latency_speak: tap.latency_by_side[0].summary(),
            latency_listen: tap.latency_by_side[1].summary(),
            pacing: tap.pacing.summary(),
        },
        setup,
        setup_under_load,
        machine_busy_pct: machine,
        node_core_busy_pct: node_core,
    })
}

fn num_cpus_online() -> usize {
    proc_stat()
        .lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .count()
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates_are_civil() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc(1_796_129_254), "2026-12-01T12:47:34Z");
    }

    #[test]
    fn proc_stat_lines_give_busy_shares() {
        let a = "cpu  100 0 100 800 0 0 0 0 0 0\ncpu1 50 0 50 400 0 0 0 0 0 0\n";
        let b = "cpu  200 0 200 1400 0 0 0 0 0 0\ncpu1 150 0 50 400 0 0 0 0 0 0\n";
        assert_eq!(busy_pct(a, b, "cpu1", 1.0), Some(100.0));
        assert_eq!(busy_pct(a, b, "cpu", 2.0), Some(50.0));
        assert_eq!(busy_pct(a, b, "cpu7", 1.0), None);
    }

    #[test]
    fn the_document_names_the_variant_taps() {
        let p = Ports::new(13000);
        let d = document(Variant::Rtp2, &p);
        assert_eq!(d.matches("- tap:").count(), 2);
        assert!(d.contains("direction: listen") && d.contains("to: sip:far@127.0.0.1:13002"));
        assert!(document(Variant::Ws, &p).contains("uri: ws://127.0.0.1:13003/tap"));
    }
}
