//! What every group of the fault matrix stands on: snsim over TLS on its own runtime (its
//! switches flipped per fault and reset after), a private Secret Service, the CLI with its own
//! config dir and HOME, the "keep" profiles saved before any fault, the check that they
//! survived, and the row bookkeeping (`Check`).

use crate::support::secret_service::SecretService;
use crate::support::{keychain_unlocked, loopback, sim_http, Cli, Run};
use serde_json::{json, Value};
use snsim::{RunningSim, SimConfig, Switches};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Bound for one CLI run (a browser sign-in included).
pub const CLI_TIMEOUT: Duration = Duration::from_secs(45);
/// `--consent-timeout` of the sign-ins that are meant to complete.
pub const CONSENT: &str = "25";
pub const BIN: &str = env!("CARGO_BIN_EXE_snconnect");

// ---- the simulator -----------------------------------------------------------------------------

/// snsim over TLS on its own runtime, with `http://127.0.0.1:<port>/callback` registered for
/// each of `ports`.
pub struct Sim {
    // Declared before `rt`: the simulator is told to stop before its runtime goes.
    pub sim: RunningSim,
    pub ports: Vec<u16>,
    initial: Switches,
    http: reqwest::Client,
    rt: tokio::runtime::Runtime,
}

impl Sim {
    pub fn start(ports: usize) -> Sim {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let ports: Vec<u16> = (0..ports).map(|_| crate::support::free_port()).collect();
        let sim = rt
            .block_on(RunningSim::start(SimConfig {
                redirect_urls: ports.iter().map(|p| loopback(*p)).collect(),
                ..SimConfig::default()
            }))
            .expect("start snsim");
        let http = sim_http(&sim)
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        Sim {
            initial: sim.switches(),
            sim,
            ports,
            http,
            rt,
        }
    }

    pub fn url(&self) -> String {
        self.sim.base_url().to_string()
    }

    pub fn ca_file(&self) -> PathBuf {
        self.sim.ca_file().unwrap().to_path_buf()
    }

    pub fn port(&self) -> u16 {
        self.ports[0]
    }

    pub fn password(&self, user: &str) -> String {
        self.sim.user_password(user).unwrap()
    }

    /// The switches as at start, changed by `f` (one fault at a time).
    pub fn fault(&self, f: impl FnOnce(&mut Switches)) {
        let mut s = self.initial.clone();
        f(&mut s);
        self.sim.set_switches(s);
    }

    /// Every fault off again.
    pub fn reset(&self) {
        self.sim.set_switches(self.initial.clone());
    }

    /// The client_credentials grant on, as an admin does: the property, and an OAuth
    /// Application User on the confidential client's `oauth_entity`.
    pub fn enable_client_credentials(&self) {
        self.sim
            .set_property(snsim::properties::CLIENT_CREDENTIALS, "true");
        let (status, found) = self.table_as_admin(
            reqwest::Method::GET,
            &format!(
                "api/now/table/oauth_entity?sysparm_query=client_id={}&sysparm_fields=sys_id",
                self.sim.confidential_client_id()
            ),
            None,
        );
        assert_eq!(status, 200, "{found}");
        let sys_id = found["result"][0]["sys_id"].as_str().unwrap().to_string();
        let (status, patched) = self.table_as_admin(
            reqwest::Method::PATCH,
            &format!("api/now/table/oauth_entity/{sys_id}"),
            Some(json!({ "oauth_application_user": snsim::ADMIN_SYS_ID })),
        );
        assert_eq!(status, 200, "{patched}");
    }

    fn table_as_admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let url = format!("{}{}", self.url(), path.trim_start_matches('/'));
        let mut req = self
            .http
            .request(method, url)
            .basic_auth("admin", Some(self.password("admin")))
            .header("Accept", "application/json");
        if let Some(b) = body {
            req = req.json(&b);
        }
        self.rt.block_on(async move {
            let resp = req.send().await.expect("a Table API call to snsim");
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap_or_default();
            (status, serde_json::from_str(&text).unwrap_or(Value::Null))
        })
    }

    /// Every secret to scan for: everything the simulator issued, plus the seeded passwords.
    pub fn all_secrets(&self) -> Vec<String> {
        let mut s = self.sim.issued_secrets();
        for user in snsim::SEEDED_USERS {
            s.push(self.password(user));
        }
        s.sort();
        s.dedup();
        s
    }
}

// ---- one group's world -------------------------------------------------------------------------

/// A simulator, a keychain and the CLI (its own config dir and HOME) for one group of faults.
/// Declared so that the CLI's dirs go first and the simulator last.
pub struct Env {
    pub cli: Cli,
    pub keychain: SecretService,
    pub sim: Sim,
    /// Browser stand-in mode files and captured addresses (outside HOME: a captured address
    /// holds a code, and HOME is leak-scanned).
    pub scratch: tempfile::TempDir,
}

/// The CLI against `sim`, its secrets in `keychain`; PYENV_ROOT is passed through (the
/// browser stand-in's `python3` may be a pyenv shim).
pub fn new_cli(sim: &Sim, keychain: &SecretService) -> Cli {
    let mut env = keychain.env();
    if let Ok(v) = std::env::var("PYENV_ROOT") {
        env.push(("PYENV_ROOT".into(), v));
    }
    Cli::in_temp_dirs(Some(sim.ca_file()), env, CLI_TIMEOUT)
}

impl Env {
    /// A fresh world; `ports` loopback ports registered on the simulator's clients.
    pub fn start(ports: usize) -> Env {
        let keychain = keychain_unlocked();
        let sim = Sim::start(ports);
        let cli = new_cli(&sim, &keychain);
        Env {
            cli,
            keychain,
            sim,
            scratch: tempfile::tempdir().unwrap(),
        }
    }

    pub fn exec(&self, args: &[&str], envs: &[(&str, &str)]) -> Run {
        self.cli.exec(true, args, envs)
    }

    /// "keep": basic auth as admin, its password in the keychain.
    pub fn add_keep(&self) {
        add_keep(&self.cli, &self.sim);
    }

    /// "keep-pkce": code + PKCE on the first port (then `fallbacks` of the registered ports),
    /// signed in through the browser stand-in: its tokens in the keychain.
    pub fn add_keep_pkce(&self, fallbacks: &[u16]) {
        let url = self.sim.url();
        let port = self.sim.port().to_string();
        let fallbacks: Vec<String> = fallbacks.iter().map(u16::to_string).collect();
        let mut args = vec![
            "profile",
            "add",
            "keep-pkce",
            "--instance",
            &url,
            "--auth",
            "oauth-code-pkce",
            "--client-id",
            self.sim.sim.public_client_id(),
            "--redirect-port",
            &port,
        ];
        for f in &fallbacks {
            args.extend(["--fallback-port", f.as_str()]);
        }
        must(&self.exec(&args, &[]), "profile add keep-pkce");
        must(
            &self.exec(&["login", "keep-pkce", "--consent-timeout", CONSENT], &[]),
            "login keep-pkce",
        );
    }

    /// The keep profiles still there and still working (see [`after_keep`]).
    pub fn after(&self, pkce: bool) -> Result<String, String> {
        after_keep(&self.cli, pkce)
    }

    /// A mode file for the browser stand-in (`STANDIN_MODE_FILE`) saying `mode`.
    pub fn standin_mode(&self, name: &str, mode: &str) -> PathBuf {
        let p = self.scratch.path().join(format!("mode-{name}"));
        std::fs::write(&p, format!("{mode}\n")).unwrap();
        p
    }

    /// No secret the simulator issued (nor a seeded password) in any output or file.
    pub fn leak_scan(&self) {
        let secrets = self.sim.all_secrets();
        let runs = self.cli.runs.borrow();
        let hay = crate::support::haystacks(
            &runs,
            &[self.cli.config_dir.path(), self.cli.home.path()],
            &[],
        );
        crate::support::assert_not_in(&secrets, &hay);
    }
}

/// `profile add keep --auth basic --username admin` (password in the keychain).
pub fn add_keep(cli: &Cli, sim: &Sim) {
    let url = sim.url();
    let pw = sim.password("admin");
    must(
        &cli.exec(
            true,
            &[
                "profile",
                "add",
                "keep",
                "--instance",
                &url,
                "--auth",
                "basic",
                "--username",
                "admin",
            ],
            &[("SNCONNECT_PASSWORD", &pw)],
        ),
        "profile add keep",
    );
}

/// Panics unless `run` succeeded (setup steps, before any fault).
pub fn must(run: &Run, what: &str) -> Value {
    let j: Value = serde_json::from_str(run.stdout.trim()).unwrap_or(Value::Null);
    assert!(
        run.code == 0 && j["ok"] == true,
        "setup step `{what}` failed: exit {}\n{}\n{}",
        run.code,
        run.stdout,
        run.stderr
    );
    j
}

/// The code a run printed (`--json`), or "-" when stdout is not one JSON object.
pub fn code_of(run: &Run) -> String {
    serde_json::from_str::<Value>(run.stdout.trim())
        .ok()
        .and_then(|j| j["code"].as_str().map(str::to_string))
        .unwrap_or_else(|| "-".into())
}

fn ok(run: &Run) -> bool {
    run.code == 0 && code_of(run) == "ok"
}

/// After a fault, with the fault off: `profile list` still lists "keep" (and "keep-pkce"),
/// `test keep` still signs in with the password read back from the keychain, and `token
/// refresh keep-pkce` still renews with the refresh token read back from the keychain.
pub fn after_keep(cli: &Cli, pkce: bool) -> Result<String, String> {
    let list = cli.exec(true, &["profile", "list"], &[]);
    if !ok(&list) {
        return Err(format!(
            "`profile list` fails: {} (exit {})",
            code_of(&list),
            list.code
        ));
    }
    let names = profile_names(&list);
    let mut want = vec!["keep"];
    if pkce {
        want.push("keep-pkce");
    }
    for w in &want {
        if !names.iter().any(|n| n == w) {
            return Err(format!("profile {w} is gone (listed: {names:?})"));
        }
    }
    let test = cli.exec(true, &["test", "keep"], &[]);
    if !ok(&test) {
        return Err(format!(
            "`test keep` fails: {} (exit {})",
            code_of(&test),
            test.code
        ));
    }
    if !pkce {
        return Ok("keep: test ok".into());
    }
    let refresh = cli.exec(true, &["token", "refresh", "keep-pkce"], &[]);
    if !ok(&refresh) {
        return Err(format!(
            "`token refresh keep-pkce` fails: {} (exit {})",
            code_of(&refresh),
            refresh.code
        ));
    }
    Ok("keep: test ok · keep-pkce: refresh ok".into())
}

/// The profile names in a `profile list --json` run.
pub fn profile_names(list: &Run) -> Vec<String> {
    serde_json::from_str::<Value>(list.stdout.trim())
        .ok()
        .and_then(|j| {
            j["profiles"].as_array().map(|a| {
                a.iter()
                    .filter_map(|p| p["name"].as_str().map(str::to_string))
                    .collect()
            })
        })
        .unwrap_or_default()
}

/// The CLI (`--json`, config dir `dir`, the CA, the clean environment of `support::snconnect`,
/// the CLI's own and `envs`) run through `wrapper` (`setpriv …`, `nsenter …`, `sh -c …`).
pub fn wrapped(
    cli: &Cli,
    dir: &Path,
    wrapper: &[&str],
    args: &[&str],
    envs: &[(&str, &str)],
) -> Command {
    let (program, rest) = wrapper.split_first().expect("a wrapper program");
    let mut cmd = Command::new(program);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", cli.home.path())
        .env("SNCONNECT_LOG", "debug")
        .env(
            "BROWSER",
            crate::support::repo_root().join("tests/support/browser_standin.py"),
        )
        .env("STANDIN_LOG", cli.home.path().join("standin.log"));
    cmd.args(rest).arg(BIN).arg("--json");
    if let Some(ca) = &cli.ca_file {
        cmd.arg("--ca-file").arg(ca).env("STANDIN_CA_FILE", ca);
    }
    cmd.arg("--config-dir").arg(dir).args(args);
    for (k, v) in &cli.env {
        cmd.env(k, v);
    }
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd
}

/// Runs a [`wrapped`] command in the CLI's own config dir, bounded, and keeps it.
pub fn exec_wrapped(cli: &Cli, wrapper: &[&str], args: &[&str], envs: &[(&str, &str)]) -> Run {
    exec_wrapped_in(cli, cli.config_dir.path(), wrapper, args, envs)
}

/// As [`exec_wrapped`] with config dir `dir`.
pub fn exec_wrapped_in(
    cli: &Cli,
    dir: &Path,
    wrapper: &[&str],
    args: &[&str],
    envs: &[(&str, &str)],
) -> Run {
    let cmd = wrapped(cli, dir, wrapper, args, envs);
    let what = format!("{} snconnect {}", wrapper.join(" "), args.join(" "));
    let run = crate::support::run_bounded(cmd, CLI_TIMEOUT, &what);
    cli.record(&run);
    run
}

/// Whether this test runs as root (chmod does not stop root's writes).
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// The files in `dir` whose name starts with `.tmp` (NamedTempFile's), for litter checks.
pub fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(".tmp"))
                .collect()
        })
        .unwrap_or_default()
}

// ---- one row's bookkeeping ---------------------------------------------------------------------

/// What one fault produced: what the CLI answered, the state after, and what was wrong.
#[derive(Debug, Default)]
pub struct Check {
    pub got: String,
    pub after: String,
    pub problems: Vec<String>,
    /// Set when the fault could not be injected here (the row is skipped, with the reason).
    pub skipped: Option<String>,
}

impl Check {
    /// The run ended as documented: no panic, not exit 101, exit `exit` with code `code`.
    pub fn outcome(&mut self, run: &Run, exit: i32, code: &str) {
        let got = code_of(run);
        self.got = format!("{got} (exit {})", run.code);
        if run.stderr.contains("panicked") || run.code == 101 {
            self.problem(format!("`{}` panicked: {}", run.what, tail(&run.stderr, 5)));
        }
        if run.code != exit || got != code {
            let detail = serde_json::from_str::<Value>(run.stdout.trim())
                .ok()
                .and_then(|j| j["detail"].as_str().map(str::to_string))
                .unwrap_or_default();
            self.problem(format!(
                "expected {code} (exit {exit}), got {} — detail: {detail}; stderr: {}",
                self.got,
                tail(&run.stderr, 3)
            ));
        }
    }

    /// The state after (see [`after_keep`]): kept as the row's "state after", a loss is a
    /// problem.
    pub fn after(&mut self, state: Result<String, String>) {
        let text = match state {
            Ok(s) => s,
            Err(e) => {
                self.problem(format!("state after: {e}"));
                format!("LOST: {e}")
            }
        };
        self.note(text);
    }

    /// Adds to the "state after" column.
    pub fn note(&mut self, s: impl Into<String>) {
        let s = s.into();
        if self.after.is_empty() {
            self.after = s;
        } else {
            self.after = format!("{}; {s}", self.after);
        }
    }

    pub fn problem(&mut self, s: impl Into<String>) {
        self.problems.push(s.into());
    }

    /// Requires `cond`, else `why` is a problem.
    pub fn require(&mut self, cond: bool, why: impl Into<String>) {
        if !cond {
            self.problem(why);
        }
    }

    pub fn skip(&mut self, why: impl Into<String>) {
        self.skipped = Some(why.into());
    }
}

/// The last `n` lines of `s` that say something (not the debug log), without colour codes.
pub fn tail(s: &str, n: usize) -> String {
    let plain = strip_ansi(s);
    let lines: Vec<&str> = plain
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter(|l| !l.contains(" DEBUG ") && !l.contains(" TRACE ") && !l.contains(" INFO "))
        .collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(ch) = chars.next() {
        if ch == '\u{1b}' {
            // CSI: ESC [ … final byte in @..~
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
        } else {
            out.push(ch);
        }
    }
    out
}
