//! A private, throwaway Secret Service for tests: its own `dbus-daemon` (no service
//! directories, so nothing is auto-activated and no prompter exists) and its own
//! `gnome-keyring-daemon --components=secrets`, with a temporary HOME / XDG_DATA_HOME /
//! XDG_RUNTIME_DIR, so the real user's session bus and keyrings are never touched.
//!
//! Std only. Include it from a test file with
//! `#[path = "../../../tests/support/secret_service.rs"] mod secret_service;` (from
//! `crates/<crate>/tests/<file>.rs`; one more `../` from a `tests/support/mod.rs`).
//!
//! Needs `dbus-daemon` and `dbus-send` (package `dbus`), `gnome-keyring-daemon`
//! (`gnome-keyring`) and, for [`SecretService::stored_secrets`], `secret-tool`
//! (`libsecret-tools`); scripts/setup.sh installs them.
//!
//! Clean-up: [`Drop`] kills both daemons and removes the temp dir (also while a test
//! panics, since unwinding runs `Drop`). In addition a tiny `sh` watchdog holds a pipe from
//! the test process: if the test process dies without running `Drop` (killed, `exit`,
//! a fixture kept in a `static`), the pipe closes and the watchdog kills the daemons and
//! removes the temp dir.
//!
//! Note for users of the `keyring` crate: libdbus reads `DBUS_SESSION_BUS_ADDRESS` once per
//! process (at its first session-bus connection) and caches it, so a test process can talk to
//! only one fixture through `keyring`: set the variable from [`SecretService::env`] before the
//! first keychain call, and use one fixture per test binary.

#![allow(dead_code)]

use std::fs;
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The password of the throwaway login keyring.
const KEYRING_PASSWORD: &str = "snconnect-test-keyring-password";
/// How long the daemons get to come up (generous: CI boxes may be compiling in parallel).
const START_TIMEOUT: Duration = Duration::from_secs(30);
const LOGIN_COLLECTION: &str = "/org/freedesktop/secrets/collection/login";

/// Watchdog: collects daemon pids, one per line, from stdin. "done" means the test process
/// cleaned up itself; EOF without "done" means the test process died: kill and clean up.
const WATCHDOG: &str = r#"trap '' INT HUP
pids=
while IFS= read -r line; do
  case "$line" in
    done) exit 0 ;;
    *) pids="$pids $line" ;;
  esac
done
if [ -n "$pids" ]; then
  kill -TERM $pids 2>/dev/null
  sleep 1
  kill -KILL $pids 2>/dev/null
fi
rm -rf -- "$1"
"#;

/// A private session bus with a gnome-keyring Secret Service on it. See the module docs.
pub struct SecretService {
    root: PathBuf,
    address: String,
    dbus: Option<Child>,
    keyring: Option<Child>,
    watchdog: Option<Child>,
    watchdog_in: Option<ChildStdin>,
}

impl SecretService {
    /// Private dbus-daemon + gnome-keyring-daemon (secrets component) with an unlocked
    /// default ("login") collection.
    pub fn start_unlocked() -> io::Result<SecretService> {
        let mut ss = SecretService::start()?;
        ss.wait_for_login_locked(false)?;
        Ok(ss)
    }

    /// Same, but the collection is locked and no prompter exists (writes must fail as
    /// "locked"). The login collection is created unlocked, then locked over D-Bus
    /// (`org.freedesktop.Secret.Service.Lock`), which needs no prompt; unlocking it again
    /// would need a prompter, and the private bus has none.
    pub fn start_locked() -> io::Result<SecretService> {
        let mut ss = SecretService::start()?;
        ss.wait_for_login_locked(false)?;
        ss.dbus_send(&[
            "--dest=org.freedesktop.secrets",
            "/org/freedesktop/secrets",
            "org.freedesktop.Secret.Service.Lock",
            &format!("array:objpath:{LOGIN_COLLECTION}"),
        ])
        .map_err(|e| ss.error(format!("locking the login collection failed: {e}")))?;
        ss.wait_for_login_locked(true)?;
        Ok(ss)
    }

    /// Environment to set on a child process (or the test process) so it talks to this bus.
    /// Only `DBUS_SESSION_BUS_ADDRESS` is needed: prompts cannot appear whatever `DISPLAY`
    /// says, because the private bus cannot activate a prompter.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![("DBUS_SESSION_BUS_ADDRESS".to_string(), self.address.clone())]
    }

    /// The private bus address (`unix:path=…,guid=…`).
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Every secret stored under `service=snconnect` in this keyring, read with
    /// `secret-tool search --all --unlock service snconnect`. An item whose secret cannot be
    /// read (locked collection) appears as `"<unreadable>"`, so `is_empty()` still means
    /// "nothing stored at all". One line per secret: a secret containing a newline comes back
    /// cut at its first newline.
    pub fn stored_secrets(&self) -> Vec<String> {
        self.stored_secrets_for("snconnect")
    }

    /// As [`SecretService::stored_secrets`], for any `service` attribute.
    pub fn stored_secrets_for(&self, service: &str) -> Vec<String> {
        let out = self
            .command("secret-tool")
            .args(["search", "--all", "--unlock", "service", service])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("{}", missing_or(e, "secret-tool", "libsecret-tools")));
        // secret-tool prints "[/path]", "label = …", "secret = …", "created = …" on stdout
        // (attributes go to stderr). Each item starts with its "[…]" header line.
        let stdout = String::from_utf8_lossy(&out.stdout);
        let mut items: Vec<Option<String>> = Vec::new();
        for line in stdout.lines() {
            if line.starts_with('[') && line.ends_with(']') {
                items.push(None);
            } else if let Some(secret) = line.strip_prefix("secret = ") {
                match items.last_mut() {
                    Some(slot) => *slot = Some(secret.to_string()),
                    None => items.push(Some(secret.to_string())),
                }
            }
        }
        items
            .into_iter()
            .map(|s| s.unwrap_or_else(|| "<unreadable>".to_string()))
            .collect()
    }

    fn start() -> io::Result<SecretService> {
        for (program, package) in [
            ("dbus-daemon", "dbus"),
            ("dbus-send", "dbus"),
            ("gnome-keyring-daemon", "gnome-keyring"),
        ] {
            if find_program(program).is_none() {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!(
                        "`{program}` is not on PATH: install the `{package}` package \
                         (scripts/setup.sh installs gnome-keyring, dbus, dbus-x11, libsecret-tools)"
                    ),
                ));
            }
        }
        let root = make_private_dir()?;
        // From here on, `Drop` cleans up whatever was started, on every error path.
        let mut ss = SecretService {
            root,
            address: String::new(),
            dbus: None,
            keyring: None,
            watchdog: None,
            watchdog_in: None,
        };
        ss.start_watchdog()?;
        for dir in ["home", "data", "config", "cache", "runtime"] {
            fs::DirBuilder::new()
                .mode(0o700)
                .create(ss.root.join(dir))?;
        }
        ss.start_dbus()?;
        ss.start_keyring()?;
        Ok(ss)
    }

    fn start_watchdog(&mut self) -> io::Result<()> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(WATCHDOG)
            .arg("sh")
            .arg(&self.root)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("starting the sh watchdog: {e}")))?;
        self.watchdog_in = child.stdin.take();
        self.watchdog = Some(child);
        Ok(())
    }

    fn watch(&mut self, pid: u32) {
        if let Some(w) = self.watchdog_in.as_mut() {
            let _ = writeln!(w, "{pid}");
            let _ = w.flush();
        }
    }

    fn start_dbus(&mut self) -> io::Result<()> {
        let socket = self.root.join("bus");
        let config = self.root.join("bus.conf");
        fs::write(&config, bus_config(&socket))?;
        let stderr = fs::File::create(self.root.join("dbus-daemon.log"))?;
        let mut child = self
            .daemon_command("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--nopidfile", "--print-address=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(|e| missing_or(e, "dbus-daemon", "dbus"))?;
        self.watch(child.id());
        let stdout = child.stdout.take().expect("piped stdout");
        self.dbus = Some(child);
        // dbus-daemon prints its address once it listens. Read it on a thread so a daemon
        // that neither prints nor exits cannot hang the test.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let res = BufReader::new(stdout).read_line(&mut line).map(|_| line);
            let _ = tx.send(res);
        });
        let line = match rx.recv_timeout(START_TIMEOUT) {
            Ok(Ok(line)) => line,
            Ok(Err(e)) => return Err(self.error(format!("reading dbus-daemon's address: {e}"))),
            Err(_) => {
                return Err(self.error(format!(
                    "dbus-daemon printed no address within {START_TIMEOUT:?}"
                )))
            }
        };
        let address = line.trim();
        if address.is_empty() {
            return Err(self.error("dbus-daemon exited without printing its address".into()));
        }
        self.address = address.to_string();
        Ok(())
    }

    fn start_keyring(&mut self) -> io::Result<()> {
        let stdout = fs::File::create(self.root.join("gnome-keyring-daemon.out"))?;
        let stderr = fs::File::create(self.root.join("gnome-keyring-daemon.log"))?;
        let mut child = self
            .daemon_command("gnome-keyring-daemon")
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .args(["--foreground", "--components=secrets", "--unlock"])
            .stdin(Stdio::piped())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .map_err(|e| missing_or(e, "gnome-keyring-daemon", "gnome-keyring"))?;
        self.watch(child.id());
        // --unlock reads the login password from stdin up to EOF; it creates
        // $XDG_DATA_HOME/keyrings/login.keyring with that password.
        let stdin = child.stdin.take();
        self.keyring = Some(child);
        let mut stdin = stdin.expect("piped stdin");
        let written = stdin.write_all(KEYRING_PASSWORD.as_bytes());
        drop(stdin);
        written.map_err(|e| self.error(format!("giving gnome-keyring-daemon its password: {e}")))
    }

    /// Kills gnome-keyring-daemon and starts a new one on the same bus (its login keyring file
    /// kept): what a desktop session does when the keyring daemon crashes or is restarted.
    /// A client's Secret Service session dies with the old daemon.
    #[allow(dead_code)] // used by some of the test binaries that include this module
    pub fn restart_keyring(&mut self) -> io::Result<()> {
        if let Some(mut old) = self.keyring.take() {
            let _ = old.kill();
            let _ = old.wait();
        }
        self.start_keyring()?;
        self.wait_for_login_locked(false)
    }

    /// Polls the login collection's `Locked` property until it equals `locked`.
    fn wait_for_login_locked(&mut self, locked: bool) -> io::Result<()> {
        let want = format!("boolean {locked}");
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            for (name, status) in [
                ("dbus-daemon", self.dbus.as_mut().map(Child::try_wait)),
                (
                    "gnome-keyring-daemon",
                    self.keyring.as_mut().map(Child::try_wait),
                ),
            ] {
                if let Some(Ok(Some(status))) = status {
                    return Err(self.error(format!("{name} exited early ({status})")));
                }
            }
            let last = match self.dbus_send(&[
                "--dest=org.freedesktop.secrets",
                LOGIN_COLLECTION,
                "org.freedesktop.DBus.Properties.Get",
                "string:org.freedesktop.Secret.Collection",
                "string:Locked",
            ]) {
                Ok(out) if out.contains(&want) => return Ok(()),
                Ok(out) => out,
                Err(e) => e,
            };
            if Instant::now() >= deadline {
                return Err(self.error(format!(
                    "the Secret Service's login collection did not become {} within \
                     {START_TIMEOUT:?}; last answer: {}",
                    if locked { "locked" } else { "unlocked" },
                    last.trim()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Runs `dbus-send --print-reply` on the private bus; Ok(stdout) or Err(stderr).
    fn dbus_send(&self, args: &[&str]) -> Result<String, String> {
        let out = self
            .command("dbus-send")
            .args(["--session", "--print-reply", "--reply-timeout=5000"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| missing_or(e, "dbus-send", "dbus").to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// A client command on the private bus (inherits the rest of the environment).
    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .env("LC_ALL", "C");
        c
    }

    /// A daemon command with a clean environment pointing only at the temp dir.
    fn daemon_command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env_clear()
            .env(
                "PATH",
                std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()),
            )
            .env("LC_ALL", "C")
            .env("HOME", self.root.join("home"))
            .env("XDG_DATA_HOME", self.root.join("data"))
            .env("XDG_CONFIG_HOME", self.root.join("config"))
            .env("XDG_CACHE_HOME", self.root.join("cache"))
            .env("XDG_RUNTIME_DIR", self.root.join("runtime"))
            .current_dir(&self.root);
        c
    }

    /// An error that carries both daemons' logs, for diagnosing a failed start.
    fn error(&self, what: String) -> io::Error {
        let mut msg = format!("private Secret Service ({}): {what}", self.root.display());
        for log in ["dbus-daemon.log", "gnome-keyring-daemon.log"] {
            if let Ok(text) = fs::read_to_string(self.root.join(log)) {
                if !text.trim().is_empty() {
                    msg.push_str(&format!("\n--- {log} ---\n{}", text.trim()));
                }
            }
        }
        io::Error::other(msg)
    }
}

impl Drop for SecretService {
    fn drop(&mut self) {
        // Keyring first (it exits on its own when the bus goes, but do not rely on that).
        for child in [self.keyring.take(), self.dbus.take()]
            .into_iter()
            .flatten()
        {
            let mut child = child;
            let _ = child.kill();
            let _ = child.wait();
        }
        // Both daemons are reaped: tell the watchdog not to kill anything.
        if let Some(mut w) = self.watchdog_in.take() {
            let _ = w.write_all(b"done\n");
        }
        if let Some(mut w) = self.watchdog.take() {
            let _ = w.wait();
        }
        let _ = fs::remove_dir_all(&self.root);
    }
}

fn bus_config(socket: &Path) -> String {
    // No <servicedir>: nothing can be auto-activated (no second keyring, no prompter).
    format!(
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
        xml_escape(&socket.display().to_string())
    )
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A fresh 0700 directory, unique across threads and processes. Falls back to /tmp when
/// $TMPDIR is so long that the bus socket path would not fit in `sun_path` (108 bytes).
fn make_private_dir() -> io::Result<PathBuf> {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let mut base = std::env::temp_dir();
    if base.as_os_str().len() > 60 {
        base = PathBuf::from("/tmp");
    }
    let pid = std::process::id();
    for _ in 0..100 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = base.join(format!("snc-ss-{pid}-{n}-{nanos:x}"));
        match fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("creating a temp dir under {}: {e}", base.display()),
                ))
            }
        }
    }
    Err(io::Error::other("could not create a unique temp dir"))
}

fn find_program(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

fn missing_or(e: io::Error, program: &str, package: &str) -> io::Error {
    if e.kind() == io::ErrorKind::NotFound {
        io::Error::new(
            e.kind(),
            format!(
                "`{program}` is not on PATH: install the `{package}` package (scripts/setup.sh)"
            ),
        )
    } else {
        io::Error::new(e.kind(), format!("running `{program}`: {e}"))
    }
}
