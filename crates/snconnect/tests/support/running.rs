//! A CLI process left running while the test acts on it (sends callbacks to its listener, locks
//! the keychain under it, signals it, kills it with `kill -9`): its own process group, its
//! output drained on threads, bounded waits, and the whole group killed on drop.

use super::Run;
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub struct Running {
    child: Option<Child>,
    pub what: String,
    pub pid: u32,
    pub started: Instant,
    out: mpsc::Receiver<Vec<u8>>,
    err: mpsc::Receiver<Vec<u8>>,
}

/// How a [`Running`] process ended.
#[derive(Debug, Clone)]
pub struct Finished {
    pub run: Run,
    pub status: ExitStatus,
}

impl Finished {
    /// The signal that ended the process, if one did.
    pub fn signal(&self) -> Option<i32> {
        self.status.signal()
    }

    /// `exit N` or `signal N`, for tables and messages.
    pub fn describe(&self) -> String {
        match (self.status.code(), self.status.signal()) {
            (Some(c), _) => format!("exit {c}"),
            (None, Some(s)) => format!("signal {s}"),
            _ => "unknown status".into(),
        }
    }
}

fn drain(mut r: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = r.read_to_end(&mut b);
        let _ = tx.send(b);
    });
    rx
}

impl Running {
    /// Spawns `cmd` (stdin /dev/null, stdout and stderr piped) in a new process group.
    pub fn spawn(mut cmd: Command, what: impl Into<String>) -> Running {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let what = what.into();
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawning `{what}`: {e}"));
        let pid = child.id();
        let out = drain(child.stdout.take().expect("piped stdout"));
        let err = drain(child.stderr.take().expect("piped stderr"));
        Running {
            child: Some(child),
            what,
            pid,
            started: Instant::now(),
            out,
            err,
        }
    }

    /// Still running (not exited, or exited but not reaped yet is reported as exited).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(Child::try_wait), Some(Ok(None)))
    }

    /// Sends `signal` (e.g. "INT", "STOP", "CONT") to the process itself.
    pub fn signal(&self, signal: &str) -> bool {
        Command::new("kill")
            .args([format!("-{signal}"), self.pid.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// `kill -9` of the process itself (not its group), at once.
    pub fn kill9(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
        }
    }

    fn kill_group(&self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.pid)])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// Waits at most `timeout` for the process to end, then collects its output. On timeout the
    /// whole group is killed and `Err` says so (with what it printed so far).
    pub fn wait(mut self, timeout: Duration) -> Result<Finished, String> {
        let deadline = Instant::now() + timeout;
        let mut child = self.child.take().expect("a child");
        let status = loop {
            match child.try_wait() {
                Ok(Some(s)) => break Some(s),
                Ok(None) if Instant::now() >= deadline => break None,
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Err(e) => return Err(format!("`{}`: waiting failed: {e}", self.what)),
            }
        };
        if status.is_none() {
            self.kill_group();
            let _ = child.kill();
            let _ = child.wait();
        } else {
            // Grandchildren (the browser stand-in) go with the group.
            self.kill_group();
        }
        let grace = Duration::from_secs(3);
        let stdout = self.out.recv_timeout(grace).unwrap_or_default();
        let stderr = self.err.recv_timeout(grace).unwrap_or_default();
        let stdout = String::from_utf8_lossy(&stdout).into_owned();
        let stderr = String::from_utf8_lossy(&stderr).into_owned();
        match status {
            Some(status) => Ok(Finished {
                run: Run {
                    what: self.what.clone(),
                    code: status.code().unwrap_or(-1),
                    stdout,
                    stderr,
                },
                status,
            }),
            None => Err(format!(
                "`{}` did not finish within {timeout:?}\nstdout: {stdout}\nstderr: {stderr}",
                self.what
            )),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            if let Ok(None) = c.try_wait() {
                self.kill_group();
                let _ = c.kill();
            }
            let _ = c.wait();
        }
    }
}
