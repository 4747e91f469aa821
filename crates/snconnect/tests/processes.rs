//! Several real `snconnect` processes sharing one config dir, one keychain and one refresh
//! token (the app's background refresh, a terminal, a cron job): nothing saved is lost, a
//! refresh happens once however many processes need it, and a holder killed with `kill -9`
//! never blocks the next process.

mod support;

use serde_json::Value;
use snsim::{RunningSim, SimConfig};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::secret_service::SecretService;
use support::{free_port, keychain_unlocked, loopback, snconnect, Run};

/// One process's bound (a slow shared machine included).
const RUN: Duration = Duration::from_secs(60);

struct Shared {
    sim: RunningSim,
    _keychain: SecretService,
    bus: Vec<(String, String)>,
    config: tempfile::TempDir,
    home: tempfile::TempDir,
}

impl Shared {
    async fn start() -> Shared {
        let port = free_port();
        let sim = RunningSim::start(SimConfig {
            redirect_urls: vec![loopback(port)],
            ..SimConfig::default()
        })
        .await
        .unwrap();
        let keychain = keychain_unlocked();
        Shared {
            bus: keychain.env(),
            sim,
            _keychain: keychain,
            config: tempfile::tempdir().unwrap(),
            home: tempfile::tempdir().unwrap(),
        }
    }

    fn cmd(&self, args: &[&str], envs: &[(&str, &str)]) -> Command {
        let mut cmd = snconnect(self.home.path(), self.sim.ca_file());
        cmd.arg("--json")
            .arg("--config-dir")
            .arg(self.config.path());
        cmd.args(args);
        for (k, v) in &self.bus {
            cmd.env(k, v);
        }
        for (k, v) in envs {
            cmd.env(k, v);
        }
        cmd
    }

    fn run(&self, args: &[&str], envs: &[(&str, &str)]) -> Run {
        let cmd = self.cmd(args, envs);
        support::run_bounded(cmd, RUN, &args.join(" "))
    }

    fn profiles(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.config.path().join("profiles.json")).unwrap())
            .unwrap()
    }

    /// A password-grant profile signed in, its refresh token in the shared keychain.
    fn signed_in(&self, name: &str) {
        let conf = self.sim.confidential_client_id().to_string();
        let secret = self.sim.confidential_client_secret().to_string();
        let pw = self.sim.user_password("admin").unwrap();
        let envs = [
            ("SNCONNECT_CLIENT_SECRET", secret.as_str()),
            ("SNCONNECT_PASSWORD", pw.as_str()),
        ];
        let url = self.sim.base_url().to_string();
        let add = [
            "profile",
            "add",
            name,
            "--instance",
            &url,
            "--auth",
            "oauth-password",
            "--username",
            "admin",
            "--client-id",
            &conf,
        ];
        assert_eq!(self.run(&add, &envs).code, 0);
        let login = self.run(&["login", name, "--no-test"], &[]);
        assert_eq!(login.code, 0, "{}", login.stderr);
    }

    /// As if the access token's hour had passed: the server refuses it and every process
    /// sees it as expired in the shared profile file.
    fn expire_access_token(&self, name: &str) {
        self.sim.expire_access_tokens();
        let path = self.config.path().join("profiles.json");
        let mut file = self.profiles();
        for p in file["profiles"].as_array_mut().unwrap() {
            if p["name"] == name {
                p["tokens"]["access_expires_at"] = Value::from(1);
            }
        }
        std::fs::write(&path, serde_json::to_vec_pretty(&file).unwrap()).unwrap();
    }

    fn refresh_requests(&self) -> usize {
        self.sim
            .count_requests("/oauth_token.do", Some("refresh_token"))
    }
}

fn spawn(mut cmd: Command) -> Child {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(child: Child, what: &str) -> Run {
    let out = child.wait_with_output().unwrap();
    Run::from_output(what, &out)
}

fn names(file: &Value) -> Vec<String> {
    file["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect()
}

/// 40 concurrent `profile add` of different names, three rounds: every one is saved.
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_profile_adds_lose_nothing() {
    let s = Shared::start().await;
    for round in 0..3 {
        let children: Vec<(String, Child)> = (0..40)
            .map(|i| {
                let name = format!("r{round}-p{i:02}");
                let cmd = s.cmd(
                    &[
                        "--no-keychain",
                        "profile",
                        "add",
                        &name,
                        "--instance",
                        "acme",
                        "--auth",
                        "basic",
                        "--username",
                        "svc",
                    ],
                    &[("SNCONNECT_PASSWORD", "pw")],
                );
                (name, spawn(cmd))
            })
            .collect();
        for (name, child) in children {
            let run = finish(child, &name);
            assert_eq!(run.code, 0, "profile add {name}: {}", run.stderr);
        }
        let saved = names(&s.profiles());
        assert_eq!(saved.len(), 40 * (round + 1), "round {round}: {saved:?}");
    }
}

/// 20 processes test one connection whose access token expired: one refresh request in all,
/// every test passes, and the connection still works afterwards.
#[tokio::test(flavor = "multi_thread")]
async fn twenty_processes_share_one_refresh() {
    let s = Shared::start().await;
    s.signed_in("shared");
    s.expire_access_token("shared");
    let before = s.refresh_requests();
    let children: Vec<Child> = (0..20)
        .map(|_| spawn(s.cmd(&["test", "shared"], &[])))
        .collect();
    for (i, child) in children.into_iter().enumerate() {
        let run = finish(child, &format!("test shared #{i}"));
        assert_eq!(run.code, 0, "test #{i}: {}\n{}", run.stdout, run.stderr);
    }
    assert_eq!(
        s.refresh_requests() - before,
        1,
        "refresh requests for 20 processes"
    );
    let again = s.run(&["test", "shared"], &[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(s.refresh_requests() - before, 1);
}

fn lock_holder(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// A process holding the refresh lock (its token request hangs) makes others wait, then fail
/// with `config_locked` naming it; killed with `kill -9`, it blocks no one.
#[tokio::test(flavor = "multi_thread")]
async fn a_killed_lock_holder_blocks_no_one() {
    let s = Shared::start().await;
    s.signed_in("held");
    s.expire_access_token("held");
    s.sim.update_switches(|sw| {
        sw.faults.latency_ms = 60_000;
        sw.faults.path_prefix = "/oauth_token.do".into();
    });
    let lock: PathBuf = s.config.path().join("locks/held.refresh.lock");
    let mut holder = spawn(s.cmd(&["test", "held"], &[]));
    let pid = holder.id();
    let started = Instant::now();
    while lock_holder(&lock) != Some(pid) {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the first process never took the lock"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let waiting = s.run(&["test", "held"], &[("SNCONNECT_LOCK_WAIT_MS", "400")]);
    let json = waiting.json();
    assert_eq!(json["code"], "config_locked", "{json}");
    assert!(
        json["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("process {pid}")),
        "{json}"
    );

    // kill -9: the OS drops the lock with the process.
    let killed = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let _ = holder.wait();
    s.sim.update_switches(|sw| sw.faults = Default::default());
    let started = Instant::now();
    let next = s.run(&["test", "held"], &[]);
    assert_eq!(next.code, 0, "{}\n{}", next.stdout, next.stderr);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the next process waited {:?} for a dead holder",
        started.elapsed()
    );
}
