//! `snconnect inventory` end to end: the real binary against snsim over real TLS. The seeded
//! integration accounts in JSON and in the human table with the migrate command; the admin
//! password from SNCONNECT_ADMIN_PASSWORD or stdin, never argv; the restriction hidden from an
//! admin without security_admin reported as unknown; the exit codes of a refused password and
//! a missing one; and the password in no output.

mod support;

use serde_json::Value;
use snsim::{RunningSim, SimConfig};
use std::io::Write;
use std::process::{Command, Stdio};
use support::{assert_not_in, haystacks, snconnect, Run};

const ADMIN_PASSWORD: &str = "Admin#1234";

struct Env {
    sim: RunningSim,
    home: tempfile::TempDir,
    config_dir: tempfile::TempDir,
    runs: Vec<Run>,
}

impl Env {
    async fn new() -> Env {
        Env {
            sim: RunningSim::start(SimConfig::default()).await.unwrap(),
            home: tempfile::tempdir().unwrap(),
            config_dir: tempfile::tempdir().unwrap(),
            runs: Vec::new(),
        }
    }

    fn command(&self, json: bool, extra: &[&str]) -> Command {
        let mut cmd = snconnect(self.home.path(), Some(self.sim.ca_file().unwrap()));
        cmd.arg("--config-dir").arg(self.config_dir.path());
        if json {
            cmd.arg("--json");
        }
        cmd.args(["inventory", "--instance", self.sim.base_url().as_str()])
            .args(extra);
        cmd
    }

    /// Runs `snconnect [--json] inventory --instance SIM EXTRA` with `envs`, and `stdin` piped
    /// in when given.
    async fn run(
        &mut self,
        json: bool,
        extra: &[&str],
        envs: &[(&str, &str)],
        stdin: Option<&str>,
    ) -> Run {
        let mut cmd = self.command(json, extra);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let what = format!("snconnect inventory {}", extra.join(" "));
        let stdin = stdin.map(str::to_string);
        let out = tokio::task::spawn_blocking(move || {
            if stdin.is_some() {
                cmd.stdin(Stdio::piped());
            }
            let mut child = cmd.spawn().unwrap();
            if let Some(text) = stdin {
                child
                    .stdin
                    .take()
                    .unwrap()
                    .write_all(text.as_bytes())
                    .unwrap();
            }
            child.wait_with_output().unwrap()
        })
        .await
        .unwrap();
        let run = Run::from_output(what, &out);
        self.runs.push(run.clone());
        run
    }
}

fn states(json: &Value) -> Vec<(String, String, Value)> {
    json["sources"]
        .as_array()
        .unwrap_or_else(|| panic!("no sources: {json}"))
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_string(),
                s["state"].as_str().unwrap().to_string(),
                s["count"].clone(),
            )
        })
        .collect()
}

fn src(id: &str, state: &str, count: Value) -> (String, String, Value) {
    (id.to_string(), state.to_string(), count)
}

#[tokio::test(flavor = "multi_thread")]
async fn inventory_lists_the_seeded_accounts_then_nothing_leaks() {
    let mut e = Env::new().await;
    let admin = [("SNCONNECT_ADMIN_PASSWORD", ADMIN_PASSWORD)];

    // --json, the password from the environment.
    let r = e
        .run(true, &["--admin-username", "admin"], &admin, None)
        .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let json = r.json_with_ok_and_code();
    assert_eq!(
        (json["ok"].as_bool(), json["code"].as_str()),
        (Some(true), Some("ok"))
    );
    assert_eq!(json["instance"], e.sim.base_url().as_str());
    assert_eq!(json["complete"], true);
    let users: Vec<&str> = json["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["user_name"].as_str().unwrap())
        .collect();
    assert_eq!(
        users,
        ["svc.boomi", "svc.legacy", "svc.qlik", "svc.reporting"]
    );
    assert_eq!(
        json["accounts"][1],
        serde_json::json!({
            "user_name": "svc.legacy",
            "sys_id": "9a6f2c4bfe5d7743d4cab5f6e7081924",
            "name": "Legacy Integration",
            "active": false,
            "web_service_access_only": true,
            "has_basic_auth_role": false,
            "allowed_by_property": false,
        })
    );
    assert_eq!(json["accounts"][3]["has_basic_auth_role"], true);
    assert_eq!(
        states(&json),
        [
            src("wsao_users", "listed", 3.into()),
            src("role_holders", "listed", 1.into()),
            src("allowed_users", "listed", 0.into()),
            src("restriction", "listed", 6.into()),
        ]
    );
    assert_eq!(json["restriction"]["readable"], true);
    assert_eq!(json["restriction"]["enforce"], false);
    assert_eq!(json["restriction"]["enforcement_date"], "2026-09-30");
    assert_eq!(json["restriction"]["default_decision"], "maintain");

    // Human output, the password on stdin and the --admin-user spelling.
    let r = e
        .run(
            false,
            &["--admin-user", "admin", "--admin-password-stdin"],
            &[],
            Some(&format!("{ADMIN_PASSWORD}\n")),
        )
        .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let out = &r.stdout;
    for needle in [
        "Basic Auth Restriction: active no, enforce no, enforcement date 2026-09-30, default decision maintain",
        "Web-service-access-only users",
        "listed (3)",
        "USER",
        "WSAO",
        "ALLOWED",
        "ACTIVE",
    ] {
        assert!(out.contains(needle), "{needle:?} missing from:\n{out}");
    }
    let row = |user: &str| {
        out.lines()
            .find(|l| l.split_whitespace().next() == Some(user))
            .unwrap_or_else(|| panic!("no row for {user}:\n{out}"))
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        row("svc.legacy"),
        ["svc.legacy", "Legacy", "Integration", "yes", "-", "-", "no"]
    );
    assert_eq!(
        row("svc.reporting"),
        [
            "svc.reporting",
            "Reporting",
            "Integration",
            "-",
            "yes",
            "-",
            "yes"
        ]
    );
    let migrate = format!(
        "migrate one: snconnect migrate --instance {} --username admin --basic-username svc.boomi --profile svc.boomi",
        e.sim.base_url()
    );
    assert!(out.contains(&migrate), "{migrate:?} missing from:\n{out}");

    // The properties need security_admin: unknown, not "off" — and still exit 0.
    e.sim
        .update_switches(|s| s.basic_auth_properties_need_security_admin = true);
    let r = e
        .run(true, &["--admin-username", "admin"], &admin, None)
        .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let json = r.json();
    assert_eq!(json["complete"], false);
    assert_eq!(json["restriction"]["readable"], false);
    assert_eq!(json["restriction"]["enforce"], Value::Null);
    assert_eq!(json["restriction"]["enforcement_date"], Value::Null);
    let s = states(&json);
    assert_eq!(s[2], src("allowed_users", "hidden", Value::Null));
    assert_eq!(s[3], src("restriction", "hidden", Value::Null));
    let r = e
        .run(false, &["--admin-username", "admin"], &admin, None)
        .await;
    assert!(
        r.stdout.contains("Basic Auth Restriction: unknown: ")
            && r.stdout.contains("security_admin"),
        "{}",
        r.stdout
    );

    let mut secrets = vec![ADMIN_PASSWORD.to_string()];
    secrets.extend(e.sim.issued_secrets());
    assert_not_in(
        &secrets,
        &haystacks(&e.runs, &[e.config_dir.path(), e.home.path()], &[]),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_and_missing_passwords_have_their_exit_codes() {
    let mut e = Env::new().await;
    let r = e
        .run(
            true,
            &["--admin-username", "admin"],
            &[("SNCONNECT_ADMIN_PASSWORD", "wrong-password")],
            None,
        )
        .await;
    assert_eq!(r.code, 1, "{}", r.stdout);
    let json = r.json_with_ok_and_code();
    assert_eq!(json["code"], "basic_auth_rejected");
    assert_eq!(json["instance"], e.sim.base_url().as_str());
    // No password anywhere (stdin is not a terminal): a usage error, nothing sent.
    e.sim.clear_requests();
    let r = e.run(true, &["--admin-username", "admin"], &[], None).await;
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert_eq!(r.json()["code"], "usage_error");
    let r = e
        .run(
            true,
            &["--admin-username", "admin", "--admin-password-stdin"],
            &[],
            Some(""),
        )
        .await;
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.json()["detail"]
        .as_str()
        .unwrap()
        .contains("--admin-password-stdin"));
    assert!(e.sim.requests().is_empty(), "{:?}", e.sim.requests());
    // A password is never an argument.
    let r = e
        .run(
            true,
            &["--admin-username", "admin", "--admin-password", "x"],
            &[],
            None,
        )
        .await;
    assert_eq!(r.code, 2);
}
