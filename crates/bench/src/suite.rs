//! The same-run comparison: earshot's runs for a list of call counts, the rtpengine harness
//! (`rtpe_fork_bench.py`: rtpengine and the minimal C forwarder) for the same counts, then
//! the table of ratios (Markdown) and the plot (SVG) from the two result files.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::plot::{self, Panel, Series};
use crate::{BenchError, Config, Report, Variant};

/// CPU per input packet of the physical floor (recvmmsg + sendmmsg, two copies out), µs, as
/// measured by the harness's `phys_limit.py` on this machine.
pub const FLOOR_US_PER_IN_PKT: f64 = 7.8;

/// What a suite runs.
#[derive(Debug, Clone)]
pub struct SuiteConfig {
    /// The binary that runs the node.
    pub earshot: PathBuf,
    /// Call counts.
    pub calls: Vec<usize>,
    /// earshot's variants.
    pub variants: Vec<Variant>,
    /// Runs per count and system.
    pub repeat: usize,
    /// Warm-up before each window.
    pub warmup: Duration,
    /// Each window.
    pub duration: Duration,
    /// `rtpe_fork_bench.py`, when the comparison runs.
    pub harness: Option<PathBuf>,
    /// Where the results, the table and the plot go.
    pub out_dir: PathBuf,
    /// Extra calls placed under load in each earshot run (0: none).
    pub setup_extra: usize,
    /// The taps' alignment window for earshot's runs; `None`: the node's defaults.
    pub tap_window: Option<Duration>,
}

/// One point of one system: medians over its runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Point {
    /// Runs.
    pub runs: usize,
    /// µs of target CPU per input packet.
    pub us_per_in_pkt: f64,
    /// % of one core per call.
    pub cpu_pct_per_call: f64,
    /// Tap (fork) latency p99, ms.
    pub p99_ms: f64,
    /// Worst tap (fork) audio loss over the runs, as a share (< 0.1 % counts as none in the
    /// ratios, which compare only runs where every system did all the work).
    pub loss: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// One run's (µs per input packet, % core per call, p99 ms, loss).
type Run = (f64, f64, f64, f64);

/// Points by system name, then by calls.
pub type Points = BTreeMap<String, BTreeMap<usize, Point>>;

/// Reads earshot's JSONL results (one [`Report`] a line) and the harness's.
pub fn load(earshot: &Path, harness: Option<&Path>) -> Result<Points, BenchError> {
    let mut raw: BTreeMap<String, BTreeMap<usize, Vec<Run>>> = BTreeMap::new();
    let read = |p: &Path| {
        std::fs::read_to_string(p).map_err(|e| BenchError::Results(format!("{}: {e}", p.display())))
    };
    for line in read(earshot)?.lines().filter(|l| !l.trim().is_empty()) {
        let r: Report = serde_json::from_str(line)
            .map_err(|e| BenchError::Results(format!("{}: {e}", earshot.display())))?;
        // A tap keeps its grid when audio does not reach it and sends silence instead, so
        // audio lost on the way counts as silent frames, not as gaps: both are loss here.
        let produced = r.tap.frames_received + r.tap.frames_missing;
        let loss = if produced > 0 {
            (r.tap.frames_missing + r.tap.frames_silent) as f64 / produced as f64
        } else {
            1.0
        };
        raw.entry(format!("earshot {}", r.variant))
            .or_default()
            .entry(r.calls)
            .or_default()
            .push((
                r.us_per_in_pkt,
                r.cpu_pct_per_call,
                r.tap.latency.p99_ms,
                loss,
            ));
    }
    if let Some(h) = harness {
        for line in read(h)?.lines().filter(|l| !l.trim().is_empty()) {
            let v: Value = serde_json::from_str(line)
                .map_err(|e| BenchError::Results(format!("{}: {e}", h.display())))?;
            if v["fork"] != "both" {
                continue;
            }
            let (Some(target), Some(calls)) = (v["target"].as_str(), v["calls"].as_u64()) else {
                continue;
            };
            raw.entry(target.to_string())
                .or_default()
                .entry(calls as usize)
                .or_default()
                .push((
                    v["us_per_in_pkt"].as_f64().unwrap_or(f64::NAN),
                    v["cpu_pct_per_100_calls"].as_f64().unwrap_or(f64::NAN) / 100.0,
                    v["fork_lat_ms"]["p99"].as_f64().unwrap_or(f64::NAN),
                    v["fork_loss"].as_f64().unwrap_or(f64::NAN),
                ));
        }
    }
    Ok(raw
        .into_iter()
        .map(|(name, by)| {
            let by = by
                .into_iter()
                .map(|(n, runs)| {
                    let point = Point {
                        runs: runs.len(),
                        us_per_in_pkt: median(runs.iter().map(|r| r.0).collect()),
                        cpu_pct_per_call: median(runs.iter().map(|r| r.1).collect()),
                        p99_ms: median(runs.iter().map(|r| r.2).collect()),
                        loss: runs.iter().map(|r| r.3).fold(0.0, f64::max),
                    };
                    (n, point)
                })
                .collect();
            (name, by)
        })
        .collect())
}

fn cell(v: Option<f64>, digits: usize) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{v:.digits$}"),
        _ => "–".into(),
    }
}

/// The Markdown tables: per system and count, then earshot's ratios to the others.
pub fn tables(points: &Points) -> String {
    let mut s = String::from(
        "| system | calls | runs | µs CPU / input packet | % core / call | tap p99 ms | tap audio loss (worst run) |\n\
         |---|---:|---:|---:|---:|---:|---:|\n",
    );
    for (name, by) in points {
        for (n, p) in by {
            s.push_str(&format!(
                "| {name} | {n} | {} | {} | {} | {} | {} |\n",
                p.runs,
                cell(Some(p.us_per_in_pkt), 2),
                cell(Some(p.cpu_pct_per_call), 4),
                cell(Some(p.p99_ms), 1),
                if p.loss.is_finite() {
                    format!("{:.1e}", p.loss)
                } else {
                    "–".into()
                },
            ));
        }
    }
    let base = "earshot rtp2";
    if let Some(ours) = points.get(base) {
        s.push_str(&format!(
            "\nRatios of `{base}`'s CPU per input packet (lower is better for earshot):\n\n\
             | calls | earshot ÷ rtpengine | earshot ÷ C forwarder | earshot ÷ floor ({FLOOR_US_PER_IN_PKT} µs) | all three lost < 0.1 % of tap audio |\n\
             |---:|---:|---:|---:|---|\n"
        ));
        for (n, p) in ours {
            let other = |name: &str| {
                points
                    .get(name)
                    .and_then(|b| b.get(n))
                    .map(|o| o.us_per_in_pkt)
            };
            let clean = |name: &str| {
                points
                    .get(name)
                    .and_then(|b| b.get(n))
                    .is_some_and(|o| o.loss < 1e-3)
            };
            let valid = p.loss < 1e-3 && clean("rtpengine") && clean("cfwd");
            s.push_str(&format!(
                "| {n} | {} | {} | {} | {} |\n",
                cell(other("rtpengine").map(|o| p.us_per_in_pkt / o), 2),
                cell(other("cfwd").map(|o| p.us_per_in_pkt / o), 2),
                cell(Some(p.us_per_in_pkt / FLOOR_US_PER_IN_PKT), 2),
                if valid {
                    "yes"
                } else {
                    "no: 0.1 % or more lost (loss column)"
                },
            ));
        }
    }
    s
}

/// The plot: CPU per call and p99 tap latency against calls, one line per system.
pub fn chart(points: &Points) -> String {
    let series = |f: fn(&Point) -> f64| -> Vec<Series> {
        points
            .iter()
            .map(|(name, by)| Series {
                name: name.clone(),
                points: by
                    .iter()
                    .filter(|(_, p)| f(p).is_finite())
                    .map(|(n, p)| (*n as f64, f(p)))
                    .collect(),
            })
            .collect()
    };
    plot::svg(&[
        Panel {
            title: "CPU per call (relay + fork of both directions)".into(),
            y_label: "% of one core per call".into(),
            series: series(|p| p.cpu_pct_per_call),
            log_y: false,
        },
        Panel {
            title: "p99 tap / fork latency (log scale)".into(),
            y_label: "ms".into(),
            series: series(|p| p.p99_ms),
            log_y: true,
        },
    ])
}

/// Runs the harness for `calls` (rtpengine and the C forwarder, interleaved), appending to
/// `out`.
pub fn run_harness(
    harness: &Path,
    calls: &[usize],
    repeat: usize,
    warmup: Duration,
    duration: Duration,
    out: &Path,
) -> Result<(), BenchError> {
    let list: Vec<String> = calls.iter().map(ToString::to_string).collect();
    let status = Command::new("python3")
        .arg(harness)
        .args(["--target", "rtpengine,cfwd", "--fork", "both", "--calls"])
        .arg(list.join(","))
        .args(["--repeat", &repeat.to_string()])
        .args(["--warmup", &warmup.as_secs_f64().to_string()])
        .args(["--duration", &duration.as_secs_f64().to_string()])
        .arg("--out")
        .arg(out)
        .status()
        .map_err(|e| BenchError::Compare(format!("python3 {}: {e}", harness.display())))?;
    if status.success() {
        Ok(())
    } else {
        Err(BenchError::Compare(format!(
            "{} exited with {status}",
            harness.display()
        )))
    }
}

/// Runs a whole suite; returns the Markdown tables. Writes `earshot.jsonl`, `harness.jsonl`,
/// `tables.md` and `plot.svg` into `out_dir`.
pub fn run(config: &SuiteConfig, command: &str) -> Result<String, BenchError> {
    std::fs::create_dir_all(&config.out_dir)
        .map_err(|e| BenchError::Results(format!("{}: {e}", config.out_dir.display())))?;
    let ours = config.out_dir.join("earshot.jsonl");
    let theirs = config.out_dir.join("harness.jsonl");
    // Per call count, earshot's runs then the harness's, so that the machine's load drifts
    // alike for all systems of one count.
    for &n in &config.calls {
        for rep in 0..config.repeat {
            for &variant in &config.variants {
                let mut c = Config::new(config.earshot.clone(), n, variant);
                c.warmup = config.warmup;
                c.duration = config.duration;
                c.setup_extra = config.setup_extra;
                c.tap_window = config.tap_window;
                let report = crate::run(&c, command)?;
                println!("[{rep}] {}", report.text());
                append(&ours, &report)?;
            }
        }
        if let Some(harness) = &config.harness {
            run_harness(
                harness,
                &[n],
                config.repeat,
                config.warmup,
                config.duration,
                &theirs,
            )?;
        }
    }
    let points = load(&ours, config.harness.as_ref().map(|_| theirs.as_path()))?;
    let md = tables(&points);
    write(&config.out_dir.join("tables.md"), &md)?;
    write(&config.out_dir.join("plot.svg"), &chart(&points))?;
    Ok(md)
}

/// Appends one report as a JSON line.
pub fn append(path: &Path, report: &Report) -> Result<(), BenchError> {
    let line = serde_json::to_string(report).map_err(|e| BenchError::Results(e.to_string()))?;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| BenchError::Results(format!("{}: {e}", path.display())))?;
    writeln!(f, "{line}").map_err(|e| BenchError::Results(format!("{}: {e}", path.display())))
}

fn write(path: &Path, text: &str) -> Result<(), BenchError> {
    std::fs::write(path, text).map_err(|e| BenchError::Results(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_ratios_come_from_both_files() {
        let dir = std::env::temp_dir().join(format!("earshot-bench-suite-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let harness = dir.join("h.jsonl");
        std::fs::write(
            &harness,
            "{\"target\":\"rtpengine\",\"fork\":\"both\",\"calls\":100,\"us_per_in_pkt\":20.0,\
             \"cpu_pct_per_100_calls\":20.0,\"fork_lat_ms\":{\"p99\":1.5},\"fork_loss\":0.0}\n\
             {\"target\":\"rtpengine\",\"fork\":\"both\",\"calls\":100,\"us_per_in_pkt\":30.0,\
             \"cpu_pct_per_100_calls\":30.0,\"fork_lat_ms\":{\"p99\":2.5},\"fork_loss\":0.01}\n\
             {\"target\":\"cfwd\",\"fork\":\"none\",\"calls\":100,\"us_per_in_pkt\":1.0}\n",
        )
        .expect("harness results");
        let ours = dir.join("e.jsonl");
        std::fs::write(&ours, "").expect("empty earshot results");
        let points = load(&ours, Some(&harness)).expect("both files");
        let p = points["rtpengine"][&100];
        assert_eq!(p.runs, 2);
        assert!((p.us_per_in_pkt - 25.0).abs() < 1e-9);
        assert!((p.cpu_pct_per_call - 0.25).abs() < 1e-9);
        assert!((p.p99_ms - 2.0).abs() < 1e-9);
        assert!((p.loss - 0.01).abs() < 1e-12);
        assert!(
            !points.contains_key("cfwd"),
            "relay-only runs are not the fork comparison"
        );
        assert!(tables(&points).contains("| rtpengine | 100 | 2 | 25.00 |"));
        assert!(chart(&points).contains("<polyline"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
