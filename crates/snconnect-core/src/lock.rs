//! Cross-process advisory locks for the config dir: several processes share one profile file
//! and one refresh token (the app's background refresh, a terminal, a cron job).
//!
//! [`acquire`] takes an exclusive OS lock on a lock file (`flock` on Unix, `LockFileEx` on
//! Windows, through `fs4`), waiting at most a bounded time and then failing with
//! `config_locked` naming the holder's PID. The holder writes its PID into the file once it has
//! the lock. The OS drops the lock when its process ends, so a holder killed with `kill -9`
//! never blocks the next process.

use crate::error::{Code, Diagnosis};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a process waits for another one's lock before `config_locked`.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(15);

/// `SNCONNECT_LOCK_WAIT_MS` overrides [`DEFAULT_WAIT`] (tests, slow shared disks).
pub fn wait_from_env() -> Duration {
    std::env::var("SNCONNECT_LOCK_WAIT_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_millis)
        .unwrap_or(DEFAULT_WAIT)
}

/// A held lock; released (and the file closed) when dropped.
#[derive(Debug)]
pub struct DirLock {
    file: File,
    path: PathBuf,
}

impl DirLock {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        // No stale PID for the next waiter to blame (a killed holder leaves its own, which
        // the next taker overwrites).
        let _ = self.file.set_len(0);
        let _ = fs4::FileExt::unlock(&self.file);
    }
}

fn unwritable(path: &Path, e: &dyn std::fmt::Display) -> Diagnosis {
    Diagnosis::new(Code::ConfigUnwritable).with_detail(format!("{}: {e}", path.display()))
}

fn open(path: &Path) -> Result<File, Diagnosis> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| unwritable(dir, &e))?;
    }
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| unwritable(path, &e))
}

/// One attempt: `Ok(Some)` when taken, `Ok(None)` when another process holds it.
fn try_take(path: &Path, file: File) -> Result<Option<DirLock>, Diagnosis> {
    match fs4::FileExt::try_lock(&file) {
        Ok(()) => {
            let mut file = file;
            // Who holds it, for a waiting process's message.
            let _ = file
                .set_len(0)
                .and_then(|_| file.seek(SeekFrom::Start(0)))
                .and_then(|_| writeln!(file, "{}", std::process::id()));
            Ok(Some(DirLock {
                file,
                path: path.to_path_buf(),
            }))
        }
        Err(fs4::TryLockError::WouldBlock) => Ok(None),
        Err(fs4::TryLockError::Error(e)) => Err(unwritable(path, &e)),
    }
}

fn locked(path: &Path, what: &str, waited: Duration) -> Diagnosis {
    let mut text = String::new();
    let holder = File::open(path)
        .and_then(|mut f| f.read_to_string(&mut text))
        .ok()
        .and_then(|_| text.trim().parse::<u32>().ok());
    let who = match holder {
        Some(pid) => format!("process {pid}"),
        None => "another process".to_string(),
    };
    Diagnosis::new(Code::ConfigLocked).with_detail(format!(
        "{what}: {who} has held {} for more than {} ms",
        path.display(),
        waited.as_millis()
    ))
}

fn backoff(attempt: u32) -> Duration {
    // 5, 10, 20, 40 ms, then 50 ms: short waits stay short, long ones do not spin.
    Duration::from_millis((5u64 << attempt.min(4)).min(50))
}

/// One try: the lock, or how long to sleep before the next try, or `config_locked` once the
/// wait is over. Shared by the blocking and the async waiter.
enum Step {
    Taken(DirLock),
    Sleep(Duration),
}

fn step(
    path: &Path,
    wait: Duration,
    what: &str,
    started: Instant,
    attempt: u32,
) -> Result<Step, Diagnosis> {
    if let Some(l) = try_take(path, open(path)?)? {
        return Ok(Step::Taken(l));
    }
    if started.elapsed() >= wait {
        return Err(locked(path, what, started.elapsed()));
    }
    Ok(Step::Sleep(backoff(attempt)))
}

/// Takes the lock at `path`, waiting at most `wait` (blocking the calling thread).
pub fn acquire(path: &Path, wait: Duration, what: &str) -> Result<DirLock, Diagnosis> {
    let started = Instant::now();
    for attempt in 0.. {
        match step(path, wait, what, started, attempt)? {
            Step::Taken(l) => return Ok(l),
            Step::Sleep(d) => std::thread::sleep(d),
        }
    }
    unreachable!("the wait is bounded")
}

/// [`acquire`] for async callers: the waits are timer sleeps, not a blocked worker.
pub async fn acquire_async(path: &Path, wait: Duration, what: &str) -> Result<DirLock, Diagnosis> {
    let started = Instant::now();
    for attempt in 0.. {
        match step(path, wait, what, started, attempt)? {
            Step::Taken(l) => return Ok(l),
            Step::Sleep(d) => tokio::time::sleep(d).await,
        }
    }
    unreachable!("the wait is bounded")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_taker_waits_then_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/profiles.lock");
        let held = acquire(&path, Duration::from_millis(10), "profiles").unwrap();
        let e = acquire(&path, Duration::from_millis(60), "profiles").unwrap_err();
        assert_eq!(e.code, Code::ConfigLocked);
        let detail = e.detail.unwrap();
        assert!(
            detail.contains(&format!("process {}", std::process::id())),
            "{detail}"
        );
        drop(held);
        acquire(&path, Duration::from_millis(10), "profiles").unwrap();
    }

    #[test]
    fn a_dir_that_is_a_file_is_unwritable_not_locked() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        let e = acquire(&file.join("profiles.lock"), Duration::from_millis(10), "p").unwrap_err();
        assert_eq!(e.code, Code::ConfigUnwritable);
    }
}
