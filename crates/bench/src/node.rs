//! The node under test as a child process: `earshot serve` pinned to its own core, killed
//! when the tool ends (also when the tool dies: the child is started with a parent-death
//! signal), and read from `/proc` for CPU time and resident memory.
#![allow(
    unsafe_code,
    reason = "pre_exec sets the parent-death signal and the CPU affinity"
)]

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::BenchError;

/// A running node; dropping it kills the process.
pub(crate) struct NodeProcess {
    child: Child,
}

/// Pins the calling process (and the threads it starts later) to `cpu`.
pub(crate) fn pin_self(cpu: usize) -> Result<(), BenchError> {
    pin(0, cpu).map_err(|e| BenchError::Setup(format!("cannot pin the tool to CPU {cpu}: {e}")))
}

fn pin(pid: libc::pid_t, cpu: usize) -> std::io::Result<()> {
    // SAFETY: cpu_set_t is plain old data; CPU_SET writes inside it.
    let r = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(pid, size_of::<libc::cpu_set_t>(), &raw const set)
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

impl NodeProcess {
    /// Starts `earshot` with `args` and the environment variables `env` added, on `cpu`
    /// (under `wrapper`, given the node's command line, if set), and waits (up to 10 s, 120 s
    /// under a wrapper) for its "listening" line.
    pub(crate) fn start(
        earshot: &Path,
        wrapper: Option<&Path>,
        args: &[String],
        env: &[(String, String)],
        cpu: Option<usize>,
        log: &Path,
    ) -> Result<NodeProcess, BenchError> {
        let stderr = std::fs::File::create(log)
            .map_err(|e| BenchError::Setup(format!("cannot write {}: {e}", log.display())))?;
        let mut command = match wrapper {
            Some(wrapper) => {
                let mut c = Command::new(wrapper);
                c.arg(earshot);
                c
            }
            None => Command::new(earshot),
        };
        command
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr);
        // SAFETY: only async-signal-safe calls (prctl, sched_setaffinity) between fork and exec.
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if let Some(cpu) = cpu {
                    pin(0, cpu)?;
                }
                Ok(())
            });
        }
        let mut child = command
            .spawn()
            .map_err(|e| BenchError::Setup(format!("cannot start {}: {e}", earshot.display())))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| BenchError::Setup("the node's stdout".into()))?;
        let (ready_tx, ready_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut ready = Some(ready_tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.contains("listening")
                    && let Some(tx) = ready.take()
                {
                    let _ = tx.send(());
                }
            }
        });
        let node = NodeProcess { child };
        let patience = Duration::from_secs(if wrapper.is_some() { 120 } else { 10 });
        ready_rx.recv_timeout(patience).map_err(|_| {
            BenchError::Setup(format!(
                "the node did not start listening within {} s (see {})",
                patience.as_secs(),
                log.display()
            ))
        })?;
        Ok(node)
    }

    /// The node's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// utime + stime of all the node's threads, in seconds.
    pub(crate) fn cpu_seconds(&self) -> Result<f64, BenchError> {
        cpu_seconds(self.pid())
    }

    /// Resident memory, in bytes.
    pub(crate) fn rss_bytes(&self) -> Result<u64, BenchError> {
        rss_bytes(self.pid())
    }

    /// Stops the node with SIGTERM and waits up to 5 s, then kills it.
    pub(crate) fn stop(mut self) {
        if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
            // SAFETY: signalling our own child by its id.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read(path: &str) -> Result<String, BenchError> {
    std::fs::read_to_string(path).map_err(|e| BenchError::Proc(format!("{path}: {e}")))
}

/// utime + stime of process `pid` (all threads), seconds.
pub(crate) fn cpu_seconds(pid: u32) -> Result<f64, BenchError> {
    let path = format!("/proc/{pid}/stat");
    let stat = read(&path)?;
    parse_stat_cpu(&stat).ok_or_else(|| BenchError::Proc(format!("{path}: unexpected format")))
}

/// The CPU seconds (utime + stime) in a `/proc/PID/stat` line.
pub(crate) fn parse_stat_cpu(stat: &str) -> Option<f64> {
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the command: state is field 3; utime and stime are fields 14 and 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = if hz > 0 { hz as f64 } else { 100.0 };
    Some((utime + stime) as f64 / hz)
}

/// VmRSS of process `pid`, bytes.
pub(crate) fn rss_bytes(pid: u32) -> Result<u64, BenchError> {
    let path = format!("/proc/{pid}/status");
    let status = read(&path)?;
    parse_rss(&status).ok_or_else(|| BenchError::Proc(format!("{path}: no VmRSS")))
}

/// The VmRSS of a `/proc/PID/status` text, in bytes.
pub(crate) fn parse_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_and_status_lines_parse() {
        let stat = "1234 (earshot (x)) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 50 0 0 20 0 3 0";
        let s = parse_stat_cpu(stat).expect("utime and stime");
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        assert!((s - 300.0 / hz).abs() < 1e-9);
        assert_eq!(
            parse_rss("Name:\tearshot\nVmRSS:\t  2048 kB\n"),
            Some(2 << 20)
        );
        assert_eq!(parse_rss("Name: x\n"), None);
        assert_eq!(parse_stat_cpu("garbage"), None);
    }

    #[test]
    fn our_own_process_reads_from_proc() {
        let me = std::process::id();
        assert!(cpu_seconds(me).expect("our CPU time") >= 0.0);
        assert!(rss_bytes(me).expect("our RSS") > 0);
    }
}
