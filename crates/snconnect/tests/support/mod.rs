//! Harness shared by the CLI's end-to-end tests (`mod support;` in a test file): the real
//! `snconnect` binary run with a clean environment, `tests/support/browser_standin.py` as
//! `$BROWSER`, bounded in time and killed with its process group; its JSON answers; leak scans
//! over its outputs and files; and the private Secret Service fixture
//! (`tests/support/secret_service.rs`) as the keychain, locked and unlocked from outside
//! (`keyring_control`); a CLI process left running while the test acts on it (`running`).
//! Each test crate uses a subset.

#![allow(dead_code)]

#[path = "../../../../tests/support/secret_service.rs"]
pub mod secret_service;

pub mod keyring_control;
pub mod running;

use secret_service::SecretService;
use serde_json::Value;
use snsim::RunningSim;
use std::cell::RefCell;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the workspace root")
}

/// A free loopback port: bind :0, read the port, drop the listener.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// snconnect's loopback redirect URL on `port`.
pub fn loopback(port: u16) -> String {
    format!("http://127.0.0.1:{port}/callback")
}

/// A private Secret Service, unlocked.
pub fn keychain_unlocked() -> SecretService {
    keychain(SecretService::start_unlocked())
}

/// A private Secret Service whose login collection is locked.
pub fn keychain_locked() -> SecretService {
    keychain(SecretService::start_locked())
}

fn keychain(started: std::io::Result<SecretService>) -> SecretService {
    started.unwrap_or_else(|e| {
        panic!("a private Secret Service is needed (run scripts/setup.sh --test): {e}")
    })
}

/// A client builder trusting the simulator's CA, without proxies (for calls the test itself
/// makes to the simulator).
pub fn sim_http(sim: &RunningSim) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(
            reqwest::Certificate::from_pem(sim.ca_pem().unwrap().as_bytes()).unwrap(),
        )
        .no_proxy()
}

/// Every file under `dir`, recursively.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// The `name` of every object in the JSON array `v` (checks, profiles, …).
pub fn names_in(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect()
}

// ---- one run of the CLI ------------------------------------------------------------------------

/// One finished CLI run.
#[derive(Clone, Debug)]
pub struct Run {
    pub what: String,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from_output(what: impl Into<String>, out: &Output) -> Run {
        Run {
            what: what.into(),
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// The one JSON object on stdout (`--json`).
    pub fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "`{}`: stdout is not one JSON object ({e}): {}\nstderr: {}",
                self.what, self.stdout, self.stderr
            )
        })
    }

    /// As `json`, and asserts the object carries a boolean `ok` and a string `code`.
    pub fn json_with_ok_and_code(&self) -> Value {
        let json = self.json();
        assert!(
            json["ok"].is_boolean() && json["code"].is_string(),
            "`{}`: JSON without ok/code: {json}",
            self.what
        );
        json
    }
}

/// `snconnect [--ca-file CA]` with a clean environment: PATH, HOME, `SNCONNECT_LOG=debug`, the
/// browser stand-in as `$BROWSER` logging to `HOME/standin.log` (and trusting CA). stdin is
/// /dev/null, stdout and stderr are piped.
pub fn snconnect(home: &Path, ca_file: Option<&Path>) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_snconnect"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("SNCONNECT_LOG", "debug")
        .env(
            "BROWSER",
            repo_root().join("tests/support/browser_standin.py"),
        )
        .env("STANDIN_LOG", home.join("standin.log"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(ca) = ca_file {
        cmd.arg("--ca-file").arg(ca);
        cmd.env("STANDIN_CA_FILE", ca);
    }
    cmd
}

/// Runs `cmd` in its own process group, killing the group after `timeout` (the browser
/// stand-in is a grandchild). Output pipes are drained on threads.
pub fn run_bounded(mut cmd: Command, timeout: Duration, what: &str) -> Run {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut guard = ChildGuard(Some(cmd.spawn().expect("spawning snconnect")));
    let child = guard.0.as_mut().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = stdout.read_to_end(&mut b);
        b
    });
    let err_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = stderr.read_to_end(&mut b);
        b
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            drop(guard); // kills the whole group
                         // A grandchild (the browser stand-in) may hold the pipes: do not join the readers.
            panic!("`{what}` did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    guard.0 = None;
    Run {
        what: what.to_string(),
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out_t.join().unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&err_t.join().unwrap()).into_owned(),
    }
}

/// Kills a still-running child and its process group (our own `process_group(0)`) on drop,
/// so a panicking test leaves nothing behind.
struct ChildGuard(Option<Child>);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            if let Ok(None) = child.try_wait() {
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{}", child.id())])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }
}

// ---- the CLI with its own directories ----------------------------------------------------------

/// The CLI with its own config dir and HOME, optionally a CA to trust and extra environment
/// (the keychain fixture's bus address, …); every run is kept for the leak scan.
pub struct Cli {
    pub config_dir: tempfile::TempDir,
    pub home: tempfile::TempDir,
    pub ca_file: Option<PathBuf>,
    /// Environment for every run.
    pub env: Vec<(String, String)>,
    /// Bound for one run.
    pub timeout: Duration,
    pub runs: RefCell<Vec<Run>>,
}

impl Cli {
    pub fn in_temp_dirs(
        ca_file: Option<PathBuf>,
        env: Vec<(String, String)>,
        timeout: Duration,
    ) -> Cli {
        Cli {
            config_dir: tempfile::tempdir().unwrap(),
            home: tempfile::tempdir().unwrap(),
            ca_file,
            env,
            timeout,
            runs: RefCell::new(Vec::new()),
        }
    }

    pub fn profiles_json(&self) -> PathBuf {
        self.config_dir.path().join("profiles.json")
    }

    pub fn standin_log(&self) -> String {
        std::fs::read_to_string(self.home.path().join("standin.log")).unwrap_or_default()
    }

    /// `snconnect [--ca-file CA] [--json] --config-dir D ARGS` with a clean environment plus
    /// the CLI's own and `envs`, and what to call it in messages.
    pub fn command(&self, json: bool, args: &[&str], envs: &[(&str, &str)]) -> (Command, String) {
        let mut cmd = snconnect(self.home.path(), self.ca_file.as_deref());
        if json {
            cmd.arg("--json");
        }
        cmd.arg("--config-dir")
            .arg(self.config_dir.path())
            .args(args);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let what = format!(
            "snconnect {}{}",
            if json { "--json " } else { "" },
            args.join(" ")
        );
        (cmd, what)
    }

    /// Keeps `run` for the leak scan.
    pub fn record(&self, run: &Run) {
        self.runs.borrow_mut().push(run.clone());
    }

    /// Runs `snconnect … ARGS` (see `command`), bounded by the CLI's timeout, and keeps it.
    pub fn exec(&self, json: bool, args: &[&str], envs: &[(&str, &str)]) -> Run {
        let (cmd, what) = self.command(json, args, envs);
        let run = run_bounded(cmd, self.timeout, &what);
        self.record(&run);
        run
    }

    /// The stderr of the last run (for failure messages).
    pub fn last_stderr(&self) -> String {
        self.runs
            .borrow()
            .last()
            .map(|r| r.stderr.clone())
            .unwrap_or_default()
    }

    /// No secret in `secrets` appears in any run's stdout or stderr, or in any file under the
    /// config dir or HOME; and the config dir holds a profile (the scan covered one).
    pub fn assert_no_secret_leaked<'a>(&self, secrets: impl IntoIterator<Item = &'a String>) {
        let config_dir = self.config_dir.path();
        let haystacks = haystacks(&self.runs.borrow(), &[config_dir, self.home.path()], &[]);
        assert!(
            !walk(config_dir).is_empty(),
            "a profile should be in the config dir"
        );
        assert_not_in(secrets, &haystacks);
    }
}

// ---- leak scans --------------------------------------------------------------------------------

/// What to scan, named: the stdout and stderr of every run in `runs`, every file under `dirs`
/// (recursively) and every file in `files`.
pub fn haystacks(runs: &[Run], dirs: &[&Path], files: &[&Path]) -> Vec<(String, String)> {
    let mut haystacks: Vec<(String, String)> = Vec::new();
    for r in runs {
        haystacks.push((format!("stdout of `{}`", r.what), r.stdout.clone()));
        haystacks.push((format!("stderr of `{}`", r.what), r.stderr.clone()));
    }
    let mut paths: Vec<PathBuf> = dirs.iter().flat_map(|d| walk(d)).collect();
    paths.extend(files.iter().map(|f| f.to_path_buf()));
    for p in paths {
        let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        haystacks.push((
            p.display().to_string(),
            String::from_utf8_lossy(&bytes).into_owned(),
        ));
    }
    haystacks
}

/// No secret in `secrets` appears in any of `haystacks`.
pub fn assert_not_in<'a>(
    secrets: impl IntoIterator<Item = &'a String>,
    haystacks: &[(String, String)],
) {
    for s in secrets {
        for (name, text) in haystacks {
            assert!(
                !text.contains(s.as_str()),
                "a secret ({}…, {} chars) leaked into {name}",
                &s[..4.min(s.len())],
                s.len()
            );
        }
    }
}
