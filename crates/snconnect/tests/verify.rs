//! `snconnect verify` end to end: the real binary against snsim over real TLS, with
//! `tests/support/browser_standin.py` as `$BROWSER` playing the person at the browser.

mod support;

use serde_json::Value;
use snsim::{RunningSim, SimConfig};
use std::process::{Command, Output};
use support::{assert_not_in, free_port, haystacks, loopback, names_in, snconnect, walk, Run};

struct Env {
    sim: RunningSim,
    port: u16,
    config_dir: tempfile::TempDir,
    home: tempfile::TempDir,
}

async fn env() -> Env {
    let port = free_port();
    let sim = RunningSim::start(SimConfig {
        redirect_urls: vec![loopback(port)],
        ..SimConfig::default()
    })
    .await
    .unwrap();
    Env {
        sim,
        port,
        config_dir: tempfile::tempdir().unwrap(),
        home: tempfile::tempdir().unwrap(),
    }
}

impl Env {
    /// Runs `snconnect --json --ca-file <sim CA> verify …` with the given secret env vars.
    async fn verify(&self, args: &[&str], secrets: &[(&str, &str)]) -> (i32, Value, Output) {
        let mut cmd = snconnect(self.home.path(), Some(self.sim.ca_file().unwrap()));
        cmd.arg("--json")
            .arg("verify")
            .arg("--instance")
            .arg(self.sim.base_url().as_str())
            .arg("--redirect-port")
            .arg(self.port.to_string())
            .arg("--consent-timeout")
            .arg("30")
            .args(args)
            .env("SNCONNECT_CONFIG_DIR", self.config_dir.path());
        for (k, v) in secrets {
            cmd.env(k, v);
        }
        let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap();
        let json = Run::from_output("snconnect --json verify", &out).json();
        (out.status.code().unwrap_or(-1), json, out)
    }

    /// Every token, code and client secret the simulator ever issued, checked against all
    /// outputs and every file under the config dir and HOME.
    fn assert_no_secret_leaked(&self, outputs: &[&Output]) {
        let secrets = self.sim.issued_secrets();
        assert!(
            secrets.len() >= 3,
            "the simulator should have issued tokens: {}",
            secrets.len()
        );
        let runs: Vec<Run> = outputs
            .iter()
            .enumerate()
            .map(|(i, o)| Run::from_output(format!("run {i}"), o))
            .collect();
        assert_not_in(
            &secrets,
            &haystacks(&runs, &[self.config_dir.path(), self.home.path()], &[]),
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_pkce_confidential_basic_and_password_then_nothing_leaks() {
    let e = env().await;
    let public_id = e.sim.public_client_id().to_string();
    let conf_id = e.sim.confidential_client_id().to_string();
    let conf_secret = e.sim.confidential_client_secret().to_string();
    let admin_pw = e.sim.user_password("admin").unwrap();

    let (code, json, out_pkce) = e
        .verify(
            &["--auth", "oauth-code-pkce", "--client-id", &public_id],
            &[],
        )
        .await;
    assert_eq!(
        code,
        0,
        "{json}\n{}",
        String::from_utf8_lossy(&out_pkce.stderr)
    );
    assert_eq!(json["ok"], true);
    assert_eq!(json["code"], "ok");
    assert_eq!(json["user"], "admin");
    assert_eq!(json["instance"], e.sim.base_url().as_str());
    let names = names_in(&json["checks"]);
    assert_eq!(
        names,
        ["consent", "token", "current_user", "table_read sys_user"]
    );
    assert!(json["authorize_url"]
        .as_str()
        .unwrap()
        .contains("code_challenge_method=S256"));

    let (code, json, out_conf) = e
        .verify(
            &["--auth", "oauth-code", "--client-id", &conf_id],
            &[("SNCONNECT_CLIENT_SECRET", &conf_secret)],
        )
        .await;
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["user_display_name"], "System Administrator");

    let (code, json, out_basic) = e
        .verify(
            &["--auth", "basic", "--username", "admin"],
            &[("SNCONNECT_PASSWORD", &admin_pw)],
        )
        .await;
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["user"], "admin");

    let (code, json, out_pw) = e
        .verify(
            &[
                "--auth",
                "oauth-password",
                "--client-id",
                &conf_id,
                "--username",
                "admin",
            ],
            &[
                ("SNCONNECT_CLIENT_SECRET", &conf_secret),
                ("SNCONNECT_PASSWORD", &admin_pw),
            ],
        )
        .await;
    assert_eq!(code, 0, "{json}");

    // verify writes nothing: no profile, no config dir content.
    assert!(
        walk(e.config_dir.path()).is_empty(),
        "verify wrote {:?}",
        walk(e.config_dir.path())
    );
    e.assert_no_secret_leaked(&[&out_pkce, &out_conf, &out_basic, &out_pw]);
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_client_secret_exits_1_with_a_token_code() {
    let e = env().await;
    let conf_id = e.sim.confidential_client_id().to_string();
    let (code, json, _) = e
        .verify(
            &["--auth", "oauth-code", "--client-id", &conf_id],
            &[("SNCONNECT_CLIENT_SECRET", "wrong-secret")],
        )
        .await;
    assert_eq!(code, 1, "{json}");
    // The consent succeeded, so the instance accepted the client ID: the secret is what failed.
    assert_eq!(json["code"], "invalid_client", "{json}");
    assert!(
        json["detail"]
            .as_str()
            .unwrap()
            .contains("client secret was refused"),
        "{json}"
    );
    assert_eq!(json["ok"], false);
    assert!(json["remediation"].as_str().unwrap().len() > 20);
    let consent = &json["checks"][0];
    assert_eq!(consent["name"], "consent");
    assert_eq!(consent["ok"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_password_and_denied_consent_are_diagnosed() {
    let e = env().await;
    let (code, json, _) = e
        .verify(
            &["--auth", "basic", "--username", "admin"],
            &[("SNCONNECT_PASSWORD", "nope")],
        )
        .await;
    assert_eq!(
        (code, json["code"].as_str().unwrap()),
        (1, "basic_auth_rejected"),
        "{json}"
    );

    let public_id = e.sim.public_client_id().to_string();
    let (code, json, _) = e
        .verify(
            &["--auth", "oauth-code-pkce", "--client-id", &public_id],
            &[("STANDIN_ACTION", "deny")],
        )
        .await;
    assert_eq!(
        (code, json["code"].as_str().unwrap()),
        (1, "consent_denied"),
        "{json}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_errors_exit_2_and_name_the_field() {
    let e = env().await;
    let (code, json, _) = e.verify(&["--auth", "oauth-code-pkce"], &[]).await;
    assert_eq!(
        (code, json["code"].as_str().unwrap()),
        (2, "usage_error"),
        "{json}"
    );
    assert!(
        json["detail"].as_str().unwrap().starts_with("--client-id"),
        "{json}"
    );

    let (code, json, _) = e
        .verify(&["--auth", "basic", "--username", "admin"], &[])
        .await;
    assert_eq!(code, 2, "{json}");
    assert!(
        json["detail"]
            .as_str()
            .unwrap()
            .starts_with("SNCONNECT_PASSWORD"),
        "{json}"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_snconnect"))
        .args([
            "--json",
            "verify",
            "--instance",
            "http://acme.example.com",
            "--auth",
            "basic",
            "--username",
            "a",
        ])
        .env("SNCONNECT_PASSWORD", "x")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["code"], "insecure_url_refused");

    let out = Command::new(env!("CARGO_BIN_EXE_snconnect"))
        .args(["verify", "--bogus"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread")]
async fn untrusted_certificate_without_ca_file() {
    let e = env().await;
    let out = Command::new(env!("CARGO_BIN_EXE_snconnect"))
        .args([
            "--json",
            "verify",
            "--instance",
            e.sim.base_url().as_str(),
            "--auth",
            "basic",
            "--username",
            "admin",
        ])
        .env("SNCONNECT_PASSWORD", "x")
        .env_remove("SNCONNECT_CA_FILE")
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (out.status.code(), json["code"].as_str().unwrap()),
        (Some(1), "tls_untrusted_certificate"),
        "{json}"
    );
}

/// `--table T`: the read that proves the connection is the integration's own table, so ACLs
/// that hide its rows are named (`rows_hidden_by_acl`) where a sys_user read would pass.
#[tokio::test(flavor = "multi_thread")]
async fn table_flag_reads_the_integrations_table() {
    let e = env().await;
    let user = "abel.tuter";
    let pw = e.sim.user_password(user).unwrap();
    let basic = ["--auth", "basic", "--username", user];
    let (code, json, _) = e.verify(&basic, &[("SNCONNECT_PASSWORD", &pw)]).await;
    assert_eq!(code, 0, "{json}");
    let with = [
        &basic[..],
        &["--table", "incident", "--table", "sys_properties"],
    ]
    .concat();
    let (code, json, _) = e.verify(&with, &[("SNCONNECT_PASSWORD", &pw)]).await;
    assert_eq!(
        (code, json["code"].as_str()),
        (1, Some("rows_hidden_by_acl")),
        "{json}"
    );
    assert_eq!(
        names_in(&json["checks"]),
        [
            "current_user",
            "table_read incident",
            "table_read sys_properties"
        ],
        "{json}"
    );
    let bad = [&basic[..], &["--table", "Bad Name"]].concat();
    let (code, json, _) = e.verify(&bad, &[("SNCONNECT_PASSWORD", &pw)]).await;
    assert_eq!(
        (code, json["code"].as_str()),
        (2, Some("usage_error")),
        "{json}"
    );
    assert!(
        json["detail"].as_str().unwrap().starts_with("--table"),
        "{json}"
    );
}
