//! `earshot bench`: the load tool (crate `bench`) from the command line.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use bench::suite::{self, SuiteConfig};
use bench::{Config, Variant};

pub(crate) const USAGE: &str = "\
earshot bench — N tapped calls through a node (this binary, `earshot serve`) over real SIP

Usage:
  earshot bench [OPTIONS]               one run per call count and variant, figures printed
  earshot bench --suite DIR [OPTIONS]   the runs, then the rtpengine harness for the same
                                        counts; DIR gets earshot.jsonl, harness.jsonl,
                                        tables.md and plot.svg
  earshot bench --tables DIR            tables.md and plot.svg again from DIR's results

Options:
  --calls N[,N...]      calls up during the measurement          [default: 100]
  --variant V[,V...]    rtp2 (speak + listen RTP taps), both (one mixed RTP tap),
                        ws (one mixed WebSocket tap)              [default: rtp2]
  --warmup SECS         media before the window                   [default: 3]
  --duration SECS       the measurement window                    [default: 10]
  --repeat N            runs per count and variant                [default: 1]
  --setup-extra N       after the window, place N more calls while the others stay up
  --out FILE            append each run's figures as a JSON line
  --harness FILE        rtpe_fork_bench.py for --suite  [default:
                        ../shared/bench/rtpengine/rtpe_fork_bench.py]; --no-harness skips it
  --node-cpu N|off      the node's core                           [default: 1]
  --tool-cpu N|off      the tool's core                           [default: 0]
  --base-port P         the tool's 64 UDP/TCP ports start here    [default: 13000]
  --tap-window MS       the taps' alignment window for every variant (the node's
                        taps.window_ms and taps.window_both_ms)   [default: the node's,
                        20 ms for speak/listen, 40 ms for both]
  --node-wrapper PROG   start the node as `PROG earshot serve …`: a profiler that runs
                        it in the same process (valgrind, or a script that execs one);
                        CPU and memory figures are then the profiler's too
";

fn cpu(v: &str) -> Result<Option<usize>, String> {
    if v == "off" {
        return Ok(None);
    }
    v.parse().map(Some).map_err(|_| format!("not a CPU: {v:?}"))
}

fn secs(v: &str) -> Result<Duration, String> {
    match v.parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 => Ok(Duration::from_secs_f64(s)),
        _ => Err(format!("not a positive number of seconds: {v:?}")),
    }
}

fn count(v: &str) -> Result<usize, String> {
    v.parse().map_err(|_| format!("not a count: {v:?}"))
}

struct Args {
    calls: Vec<usize>,
    variants: Vec<Variant>,
    warmup: Duration,
    duration: Duration,
    repeat: usize,
    setup_extra: usize,
    out: Option<PathBuf>,
    suite: Option<PathBuf>,
    tables: Option<PathBuf>,
    harness: Option<PathBuf>,
    node_cpu: Option<usize>,
    tool_cpu: Option<usize>,
    base_port: u16,
    tap_window: Option<Duration>,
    node_wrapper: Option<PathBuf>,
}

fn parse(args: &[String]) -> Result<Option<Args>, String> {
    let mut a = Args {
        calls: vec![100],
        variants: vec![Variant::Rtp2],
        warmup: Duration::from_secs(3),
        duration: Duration::from_secs(10),
        repeat: 1,
        setup_extra: 0,
        out: None,
        suite: None,
        tables: None,
        harness: Some("../shared/bench/rtpengine/rtpe_fork_bench.py".into()),
        node_cpu: Some(1),
        tool_cpu: Some(0),
        base_port: 13000,
        tap_window: None,
        node_wrapper: None,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--calls" => {
                a.calls = value()?.split(',').map(count).collect::<Result<_, _>>()?;
            }
            "--variant" => {
                a.variants = value()?
                    .split(',')
                    .map(|v| Variant::parse(v).ok_or_else(|| format!("unknown variant {v:?}")))
                    .collect::<Result<_, _>>()?;
            }
            "--warmup" => a.warmup = secs(value()?)?,
            "--duration" => a.duration = secs(value()?)?,
            "--repeat" => a.repeat = count(value()?)?.max(1),
            "--setup-extra" => a.setup_extra = count(value()?)?,
            "--out" => a.out = Some(value()?.into()),
            "--suite" => a.suite = Some(value()?.into()),
            "--tables" => a.tables = Some(value()?.into()),
            "--harness" => a.harness = Some(value()?.into()),
            "--no-harness" => a.harness = None,
            "--node-cpu" => a.node_cpu = cpu(value()?)?,
            "--tool-cpu" => a.tool_cpu = cpu(value()?)?,
            "--base-port" => {
                a.base_port = value()?
                    .parse()
                    .map_err(|_| "--base-port: not a port".to_string())?;
            }
            "--tap-window" => {
                let ms: u64 = value()?
                    .parse()
                    .map_err(|_| "--tap-window: not a number of milliseconds".to_string())?;
                if ms > 1000 {
                    return Err("--tap-window: at most 1000 (ms)".into());
                }
                a.tap_window = Some(Duration::from_millis(ms));
            }
            "--node-wrapper" => a.node_wrapper = Some(value()?.into()),
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    if a.calls.contains(&0) {
        return Err("--calls: every count must be at least 1".into());
    }
    if a.base_port == 0 || a.base_port > 65535 - 64 {
        return Err("--base-port: the tool needs 64 ports from there".into());
    }
    Ok(Some(a))
}

/// Runs `earshot bench ARGS`.
pub(crate) fn main(args: &[String]) -> ExitCode {
    let a = match parse(args) {
        Ok(Some(a)) => a,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("earshot bench: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let command = format!("earshot bench {}", args.join(" "));
    let earshot = match std::env::current_exe() {
        Ok(path) => path,
        Err(e) => {
            eprintln!("earshot bench: cannot find this binary: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = if let Some(dir) = &a.tables {
        let harness = dir.join("harness.jsonl");
        suite::load(
            &dir.join("earshot.jsonl"),
            harness.exists().then_some(harness.as_path()),
        )
        .and_then(|points| {
            let md = suite::tables(&points);
            std::fs::write(dir.join("tables.md"), &md)
                .and_then(|()| std::fs::write(dir.join("plot.svg"), suite::chart(&points)))
                .map_err(|e| bench::BenchError::Results(e.to_string()))?;
            println!("{md}");
            Ok(())
        })
    } else if let Some(dir) = &a.suite {
        let config = SuiteConfig {
            earshot,
            calls: a.calls.clone(),
            variants: a.variants.clone(),
            repeat: a.repeat,
            warmup: a.warmup,
            duration: a.duration,
            harness: a.harness.clone(),
            out_dir: dir.clone(),
            setup_extra: a.setup_extra,
            tap_window: a.tap_window,
        };
        suite::run(&config, &command).map(|md| println!("\n{md}"))
    } else {
        let mut result = Ok(());
        'runs: for &n in &a.calls {
            for _ in 0..a.repeat {
                for &variant in &a.variants {
                    let mut c = Config::new(earshot.clone(), n, variant);
                    c.warmup = a.warmup;
                    c.duration = a.duration;
                    c.setup_extra = a.setup_extra;
                    c.node_cpu = a.node_cpu;
                    c.tool_cpu = a.tool_cpu;
                    c.base_port = a.base_port;
                    c.tap_window = a.tap_window;
                    c.node_wrapper = a.node_wrapper.clone();
                    match bench::run(&c, &command) {
                        Ok(report) => {
                            println!("{}", report.text());
                            if let Some(out) = &a.out
                                && let Err(e) = suite::append(out, &report)
                            {
                                result = Err(e);
                                break 'runs;
                            }
                        }
                        Err(e) => {
                            result = Err(e);
                            break 'runs;
                        }
                    }
                }
            }
        }
        result
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("earshot bench: {e}");
            ExitCode::FAILURE
        }
    }
}
