//! SIPp as a real peer: spawned bounded in time and count, in a working directory of its own.
//!
//! Every run is bound to loopback (`-i/-mi/-ci 127.0.0.1`), has its own signalling and media
//! ports, places or takes exactly the calls asked for (`-m`) and stops by itself
//! (`-timeout … -timeout_error`). The working directory holds `pcap -> /usr/share/sip-tester`
//! (what `uac_pcap` plays), the screen, the error log and the statistics CSV; the screen and
//! the errors are printed when a run fails.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::process::{Child, Command};

/// Where SIPp's shipped pcap files live (Debian package sip-tester).
pub(crate) const SIPP_PCAP_DIR: &str = "/usr/share/sip-tester";

/// What to run.
#[derive(Debug, Clone)]
pub(crate) struct SippRun<'a> {
    /// A name for the working directory.
    pub(crate) name: &'a str,
    /// `-p`: SIPp's signalling port.
    pub(crate) local_port: u16,
    /// `-mp`: SIPp's media port.
    pub(crate) media_port: u16,
    /// `-m`: calls to place or take before exiting.
    pub(crate) calls: u32,
    /// `-timeout`: SIPp's own deadline for the whole run.
    pub(crate) timeout: Duration,
    /// The scenario and the rest: `-sn uac`, `-sf file`, `-t t1`, the target…
    pub(crate) args: &'a [&'a str],
}

/// A running SIPp.
pub(crate) struct Sipp {
    child: Child,
    dir: PathBuf,
    timeout: Duration,
}

/// How a SIPp run ended.
#[derive(Debug)]
pub(crate) struct SippOutcome {
    pub(crate) status: ExitStatus,
    /// The last line of the statistics CSV, by column name.
    pub(crate) stats: Vec<(String, String)>,
}

impl SippOutcome {
    /// A cumulative counter of the statistics CSV, e.g. `SuccessfulCall(C)`.
    pub(crate) fn counter(&self, column: &str) -> u64 {
        let (_, value) = self
            .stats
            .iter()
            .find(|(name, _)| name == column)
            .unwrap_or_else(|| panic!("no column {column} in SIPp's statistics"));
        value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("column {column} holds {value:?}, not a count"))
    }
}

impl Sipp {
    /// Starts SIPp for `run`.
    pub(crate) fn spawn(run: &SippRun<'_>) -> Sipp {
        Sipp::spawn_with_files(run, &[])
    }

    /// Starts SIPp for `run` with `files` (name, bytes) written into its working directory,
    /// e.g. a pcap its scenario plays.
    pub(crate) fn spawn_with_files(run: &SippRun<'_>, files: &[(&str, &[u8])]) -> Sipp {
        let dir = std::env::temp_dir().join(format!(
            "earshot-sipp-{}-{}-{}",
            run.name,
            std::process::id(),
            run.local_port
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a working directory for SIPp");
        std::os::unix::fs::symlink(SIPP_PCAP_DIR, dir.join("pcap"))
            .expect("a pcap symlink in SIPp's working directory");
        for (name, bytes) in files {
            std::fs::write(dir.join(name), bytes).expect("a file in SIPp's working directory");
        }
        let screen = std::fs::File::create(dir.join("screen.log")).expect("SIPp's screen file");
        let err = screen
            .try_clone()
            .expect("a second handle on SIPp's screen");
        let timeout = format!("{}s", run.timeout.as_secs().max(1));
        let child = Command::new("sipp")
            .current_dir(&dir)
            .args(["-i", "127.0.0.1", "-mi", "127.0.0.1", "-ci", "127.0.0.1"])
            .args(["-p", &run.local_port.to_string()])
            .args(["-mp", &run.media_port.to_string()])
            .args(["-m", &run.calls.to_string()])
            .args(["-timeout", &timeout, "-timeout_error"])
            .args(["-nostdin", "-trace_err", "-error_file", "errors.log"])
            .args(["-trace_stat", "-stf", "stats.csv", "-fd", "1"])
            .args(run.args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(screen))
            .stderr(Stdio::from(err))
            .kill_on_drop(true)
            .spawn()
            .expect("sipp to start (Debian package sip-tester: apt-get install -y sip-tester)");
        Sipp {
            child,
            dir,
            timeout: run.timeout,
        }
    }

    /// Waits for SIPp to exit by itself; prints its screen and errors unless it exited 0.
    pub(crate) async fn wait(mut self) -> SippOutcome {
        let grace = self.timeout + Duration::from_secs(10);
        let status = tokio::time::timeout(grace, self.child.wait())
            .await
            .expect("sipp to exit within its own -timeout")
            .expect("sipp's exit status");
        if !status.success() {
            self.dump();
        }
        SippOutcome {
            status,
            stats: last_stats(&self.dir.join("stats.csv")),
        }
    }

    /// Waits for SIPp and asserts that it exited 0: every call of its scenario succeeded.
    pub(crate) async fn expect_success(self) -> SippOutcome {
        let outcome = self.wait().await;
        assert!(outcome.status.success(), "sipp failed: {}", outcome.status);
        outcome
    }

    /// Waits for SIPp and asserts that it exited 0 having completed exactly one call.
    pub(crate) async fn expect_one_call(self) -> SippOutcome {
        let outcome = self.expect_success().await;
        assert_eq!(outcome.counter("SuccessfulCall(C)"), 1, "{outcome:?}");
        outcome
    }

    fn dump(&self) {
        for name in ["screen.log", "errors.log"] {
            if let Ok(text) = std::fs::read_to_string(self.dir.join(name)) {
                let start = text.len().saturating_sub(6000);
                let start = (start..text.len())
                    .find(|&i| text.is_char_boundary(i))
                    .unwrap_or(text.len());
                eprintln!("--- SIPp {name} ---\n{}", &text[start..]);
            }
        }
    }
}

/// The header and the last row of SIPp's `;`-separated statistics file.
fn last_stats(path: &Path) -> Vec<(String, String)> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let (Some(header), Some(last)) = (lines.first(), lines.get(1..).and_then(<[_]>::last)) else {
        return Vec::new();
    };
    header
        .split(';')
        .zip(last.split(';'))
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}
