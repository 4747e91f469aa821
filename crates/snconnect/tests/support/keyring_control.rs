//! Acting on a private Secret Service (`tests/support/secret_service.rs`) from outside, as a
//! desktop session would while snconnect runs: lock its login collection (D-Bus
//! `org.freedesktop.Secret.Service.Lock`, no prompt needed), unlock it again with the login
//! password through gnome-keyring's control socket (`$XDG_RUNTIME_DIR/keyring/control`, the
//! protocol pam_gnome_keyring speaks: no prompter needed either), watch the method calls a
//! client makes (`dbus-monitor`), and a session bus with no Secret Service on it at all.
//!
//! Needs `dbus-send` and `dbus-monitor` (package `dbus`) besides what the fixture needs.

use super::secret_service::SecretService;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The fixture's login keyring password (`KEYRING_PASSWORD` in secret_service.rs).
pub const LOGIN_PASSWORD: &str = "snconnect-test-keyring-password";
const LOGIN_COLLECTION: &str = "/org/freedesktop/secrets/collection/login";
const WAIT: Duration = Duration::from_secs(10);

/// The fixture's private directory, from its bus address `unix:path=<root>/bus,guid=…`.
fn fixture_root(ss: &SecretService) -> PathBuf {
    let addr = ss.address();
    let socket = addr
        .strip_prefix("unix:path=")
        .and_then(|rest| rest.split(',').next())
        .unwrap_or_else(|| panic!("not a unix:path bus address: {addr}"));
    Path::new(socket)
        .parent()
        .expect("the bus socket lives in the fixture's directory")
        .to_path_buf()
}

/// `dbus-send --print-reply` on the bus at `address`: Ok(stdout) or Err(stderr).
pub fn dbus_send(address: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new("dbus-send")
        .env("DBUS_SESSION_BUS_ADDRESS", address)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .args(["--session", "--print-reply", "--reply-timeout=5000"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("dbus-send: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// The login collection's `Locked` property.
pub fn is_locked(ss: &SecretService) -> Result<bool, String> {
    let out = dbus_send(
        ss.address(),
        &[
            "--dest=org.freedesktop.secrets",
            LOGIN_COLLECTION,
            "org.freedesktop.DBus.Properties.Get",
            "string:org.freedesktop.Secret.Collection",
            "string:Locked",
        ],
    )?;
    if out.contains("boolean true") {
        Ok(true)
    } else if out.contains("boolean false") {
        Ok(false)
    } else {
        Err(format!("unexpected Locked answer: {out}"))
    }
}

fn wait_locked(ss: &SecretService, want: bool) -> Result<(), String> {
    let deadline = Instant::now() + WAIT;
    loop {
        let now = is_locked(ss);
        if now.as_ref() == Ok(&want) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "the login collection did not become {} within {WAIT:?} (last: {now:?})",
                if want { "locked" } else { "unlocked" }
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Locks the login collection (as a screen lock or `secret-tool lock` would).
pub fn lock(ss: &SecretService) -> Result<(), String> {
    dbus_send(
        ss.address(),
        &[
            "--dest=org.freedesktop.secrets",
            "/org/freedesktop/secrets",
            "org.freedesktop.Secret.Service.Lock",
            &format!("array:objpath:{LOGIN_COLLECTION}"),
        ],
    )?;
    wait_locked(ss, true)
}

/// Unlocks the login collection with its password over gnome-keyring's control socket:
/// `[u32 length][u32 op = 1 (unlock)][u32 n][n bytes password]`, big-endian, after one
/// credentials byte; the answer is `[u32 8][u32 result]`, 0 = ok.
pub fn unlock(ss: &SecretService) -> Result<(), String> {
    let socket = fixture_root(ss).join("runtime/keyring/control");
    let mut s = UnixStream::connect(&socket)
        .map_err(|e| format!("gnome-keyring control socket {}: {e}", socket.display()))?;
    s.set_read_timeout(Some(WAIT)).map_err(|e| e.to_string())?;
    let pw = LOGIN_PASSWORD.as_bytes();
    let mut msg = vec![0u8]; // the credentials byte (the daemon reads SO_PEERCRED)
    msg.extend_from_slice(&((8 + 4 + pw.len()) as u32).to_be_bytes());
    msg.extend_from_slice(&1u32.to_be_bytes());
    msg.extend_from_slice(&(pw.len() as u32).to_be_bytes());
    msg.extend_from_slice(pw);
    s.write_all(&msg)
        .map_err(|e| format!("writing to the control socket: {e}"))?;
    let mut answer = [0u8; 8];
    s.read_exact(&mut answer)
        .map_err(|e| format!("reading the control socket's answer: {e}"))?;
    let result = u32::from_be_bytes([answer[4], answer[5], answer[6], answer[7]]);
    if result != 0 {
        return Err(format!(
            "gnome-keyring refused the unlock (result {result})"
        ));
    }
    wait_locked(ss, false)
}

/// `dbus-monitor` on a fixture's bus, reporting the method calls named `member`.
pub struct CallWatch {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl CallWatch {
    /// Starts watching calls of `member` (e.g. `CreateItem`) and waits until the monitor is on
    /// the bus.
    pub fn start(ss: &SecretService, member: &str) -> Result<CallWatch, String> {
        let mut child = Command::new("dbus-monitor")
            .env_remove("DISPLAY")
            .args(["--address", ss.address()])
            .arg(format!("type='method_call',member='{member}'"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("dbus-monitor: {e}"))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // The monitor announces itself (NameAcquired / NameLost of BecomeMonitor) once it is
        // in place; anything printed means it is listening.
        let watch = CallWatch { child, lines };
        match watch.lines.recv_timeout(WAIT) {
            Ok(_) => {
                // Let the rest of the greeting through.
                while watch.lines.recv_timeout(Duration::from_millis(100)).is_ok() {}
                Ok(watch)
            }
            Err(_) => Err("dbus-monitor printed nothing".into()),
        }
    }

    /// Waits at most `timeout` for the next call of the watched member; true when one came.
    pub fn next_call(&self, member: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let needle = format!("member={member}");
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with("method call") && line.contains(&needle) => {
                    return true
                }
                Ok(_) => continue,
                Err(_) => return false,
            }
        }
    }
}

impl Drop for CallWatch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A private session bus with nothing on it: no Secret Service, nothing activatable.
pub struct BareBus {
    child: Child,
    pub address: String,
    _dir: tempfile::TempDir,
}

impl BareBus {
    pub fn start() -> Result<BareBus, String> {
        let dir = tempfile::Builder::new()
            .prefix("snc-bare-bus")
            .tempdir_in("/tmp")
            .map_err(|e| e.to_string())?;
        let socket = dir.path().join("bus");
        let config = dir.path().join("bus.conf");
        std::fs::write(
            &config,
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
                socket.display()
            ),
        )
        .map_err(|e| e.to_string())?;
        let mut child = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--nopidfile", "--print-address=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("dbus-daemon: {e}"))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let address = rx.recv_timeout(WAIT).unwrap_or_default().trim().to_string();
        if address.is_empty() {
            let _ = child.kill();
            let _ = child.wait();
            return Err("dbus-daemon printed no address".into());
        }
        Ok(BareBus {
            child,
            address,
            _dir: dir,
        })
    }
}

impl Drop for BareBus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
