//! Demo mode: a simulated instance — the `snsim` binary, its own process — on loopback,
//! started only when the demo is chosen (the start screen's "Try the demo instance", or
//! `--demo`). Plain http on 127.0.0.1 so that a person's own browser can sign in without a
//! certificate warning (the core accepts http for loopback only). The app links no simulator
//! code: its normal path cannot touch one.

use crate::dto::DemoInfo;
use snconnect_core::connection::AdminCredentials;
use snconnect_core::{Code, Diagnosis, InstanceUrl, Secret};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};

pub struct Demo {
    /// The simulator: killed when the demo is dropped; should this app die first, it exits
    /// when the pipe to its stdin (held here) closes (`--exit-with-stdin`).
    _sim: Child,
    pub info: DemoInfo,
    pub instance: InstanceUrl,
    pub admin: AdminCredentials,
}

/// The demo account every simulated instance seeds (its login page shows it too).
const DEMO_ADMIN: &str = "admin";
/// Where the packages put the simulator (scripts/package.sh).
const INSTALLED: &str = "/usr/lib/snconnect/snsim";
/// How long the simulator may take to say `ready`.
const STARTUP: Duration = Duration::from_secs(20);

/// The simulator binary: `SNCONNECT_SNSIM`, else `snsim` beside this executable (a cargo
/// build puts both in one target dir), else the installed one.
fn locate() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SNCONNECT_SNSIM") {
        return Some(PathBuf::from(p));
    }
    let exe = format!("snsim{}", std::env::consts::EXE_SUFFIX);
    let beside = std::env::current_exe().ok().map(|e| e.with_file_name(exe));
    beside
        .into_iter()
        .chain([PathBuf::from(INSTALLED)])
        .find(|p| p.is_file())
}

/// Whether the start screen can offer the demo.
pub fn available() -> bool {
    locate().is_some()
}

fn not_started(detail: impl Into<String>) -> Diagnosis {
    Diagnosis::new(Code::InstanceUnavailable)
        .with_detail(format!("demo instance did not start: {}", detail.into()))
}

pub async fn start(redirect_port: u16) -> Result<Demo, Diagnosis> {
    let bin = locate().ok_or_else(|| {
        not_started(format!(
            "no snsim beside snconnect-app or at {INSTALLED}; build it (cargo build -p snsim) or set SNCONNECT_SNSIM"
        ))
    })?;
    let redirect = snconnect_core::loopback::redirect_url(redirect_port);
    let mut child = Command::new(&bin)
        .args(["--http", "--demo-hint", "--exit-with-stdin", "--port", "0"])
        .arg("--redirect-url")
        .arg(redirect.as_str())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        // Its log would carry the tokens it issues; the app's log must not.
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| not_started(format!("{}: {e}", bin.display())))?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let facts = match tokio::time::timeout(STARTUP, read_facts(stdout)).await {
        Ok(Ok(facts)) => facts,
        Ok(Err(why)) => {
            let status = child.try_wait().ok().flatten();
            return Err(not_started(match status {
                Some(s) => format!("{why} ({} exited: {s})", bin.display()),
                None => why,
            }));
        }
        Err(_) => return Err(not_started(format!("no `ready` in {STARTUP:?}"))),
    };
    let base = facts
        .get("base_url")
        .ok_or_else(|| not_started("no base_url"))?;
    let instance = InstanceUrl::parse(base)?;
    let password = match facts.get("admin_password_file") {
        Some(f) => tokio::fs::read_to_string(f)
            .await
            .map_err(|e| not_started(format!("{f}: {e}")))?,
        None => return Err(not_started("no admin_password_file")),
    };
    tracing::info!(%instance, "demo mode: simulated ServiceNow instance started");
    let info = DemoInfo {
        instance: instance.to_string(),
        admin_username: DEMO_ADMIN.into(),
        note: format!(
            "Demo mode: a simulated ServiceNow instance runs beside this app at {instance}. Its admin account is prefilled (the password is held by snconnect); sign in on its login page with the demo account it shows. Start snconnect with --instance to use a real instance."
        ),
    };
    Ok(Demo {
        _sim: child,
        info,
        instance,
        admin: AdminCredentials {
            username: DEMO_ADMIN.into(),
            password: Secret::new(password.trim_end().to_string()),
        },
    })
}

/// The simulator's `key=value` lines up to `ready`.
async fn read_facts(stdout: ChildStdout) -> Result<HashMap<String, String>, String> {
    let mut lines = BufReader::new(stdout).lines();
    let mut facts = HashMap::new();
    while let Some(line) = lines.next_line().await.map_err(|e| e.to_string())? {
        if line == "ready" {
            return Ok(facts);
        }
        if let Some((k, v)) = line.split_once('=') {
            facts.insert(k.to_string(), v.to_string());
        }
    }
    Err("the simulator stopped before it was ready".into())
}
