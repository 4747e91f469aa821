//! `snconnect preflight`, `register` and `migrate` end to end: the real binary against snsim
//! over real TLS, `tests/support/browser_standin.py` as `$BROWSER` playing the person at the
//! consent page, and a private Secret Service (`tests/support/secret_service.rs`) as the
//! keychain of every CLI process.

mod support;

use serde_json::Value;
use snsim::{InstanceState, RunningSim, SimConfig, Switches};
use std::collections::BTreeMap;
use std::time::Duration;
use support::secret_service::SecretService;
use support::{free_port, keychain_unlocked, loopback, names_in, run_bounded, sim_http, Cli};

const POSTMAN_CALLBACK: &str = "https://oauth.pstmn.io/v1/callback";
const CLI_TIMEOUT: Duration = Duration::from_secs(90);

struct Env {
    sim: RunningSim,
    keychain: SecretService,
    /// snconnect's loopback port for this test (registered by `migrate`/`register`).
    port: u16,
    /// Its own config dir and HOME, the sim's CA, the keychain's bus; every run, for the leak
    /// scan.
    cli: Cli,
}

async fn env(cfg: SimConfig) -> Env {
    let keychain = tokio::task::spawn_blocking(keychain_unlocked)
        .await
        .unwrap();
    let sim = RunningSim::start(cfg).await.expect("snsim starts");
    let cli = Cli::in_temp_dirs(
        Some(sim.ca_file().unwrap().to_path_buf()),
        keychain.env(),
        CLI_TIMEOUT,
    );
    Env {
        sim,
        keychain,
        port: free_port(),
        cli,
    }
}

impl Env {
    fn base(&self) -> String {
        self.sim.base_url().to_string()
    }

    fn password(&self, user: &str) -> String {
        self.sim.user_password(user).unwrap()
    }

    /// `snconnect --json --config-dir D --ca-file CA ARGS` with the keychain's bus, the
    /// stand-in as $BROWSER, and `envs`. Returns (exit code, the one JSON object on stdout).
    async fn run(&self, args: &[&str], envs: &[(&str, &str)]) -> (i32, Value) {
        let (cmd, what) = self.cli.command(true, args, envs);
        let timeout = self.cli.timeout;
        let run = tokio::task::spawn_blocking(move || run_bounded(cmd, timeout, &what))
            .await
            .unwrap();
        self.cli.record(&run);
        (run.code, run.json_with_ok_and_code())
    }

    /// The stderr of the last run (for failure messages).
    fn last_stderr(&self) -> String {
        self.cli.last_stderr()
    }

    async fn run_ok(&self, args: &[&str], envs: &[(&str, &str)]) -> Value {
        let (code, json) = self.run(args, envs).await;
        assert_eq!(
            (code, json["code"].as_str()),
            (0, Some("ok")),
            "`snconnect {}`: {json}\nstderr: {}",
            args.join(" "),
            self.last_stderr()
        );
        assert_eq!(json["ok"], true);
        json
    }

    /// A Table API GET as admin, outside the CLI: (status, body).
    async fn table_get(&self, path: &str, query: &[(&str, &str)]) -> (u16, Value) {
        let client = sim_http(&self.sim).build().unwrap();
        let resp = client
            .get(
                self.sim
                    .base_url()
                    .join(&format!("api/now/table/{path}"))
                    .unwrap(),
            )
            .query(query)
            .basic_auth("admin", Some(self.password("admin")))
            .header("Accept", "application/json")
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// Every oauth_entity record (all fields), ordered by sys_id.
    async fn entities(&self) -> Vec<Value> {
        let (status, body) = self
            .table_get("oauth_entity", &[("sysparm_query", "ORDERBYsys_id")])
            .await;
        assert_eq!(status, 200, "{body}");
        body["result"].as_array().unwrap().clone()
    }

    /// No code, token, client secret or API key the simulator ever issued appears in any
    /// CLI output or any file under the config dir or HOME.
    fn assert_no_issued_secret_leaked(&self, at_least: usize) {
        let secrets = self.sim.issued_secrets();
        assert!(
            secrets.len() >= at_least,
            "the simulator should have issued secrets: {}",
            secrets.len()
        );
        self.cli.assert_no_secret_leaked(&secrets);
    }

    /// The keychain's readable items.
    fn stored(&self) -> Vec<String> {
        let items = self.keychain.stored_secrets();
        assert!(
            !items.iter().any(|s| s == "<unreadable>"),
            "the keychain is unlocked: {} items",
            items.len()
        );
        items
    }
}

fn check<'a>(checks: &'a Value, id: &str) -> &'a Value {
    checks
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} in {checks}"))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn hidden_user_fields() -> Switches {
    let hidden: BTreeMap<String, Vec<String>> =
        [("sys_user".to_string(), vec!["email".into(), "title".into()])].into();
    Switches {
        hidden_fields: hidden,
        ..Switches::default()
    }
}

// ---- the tests ------------------------------------------------------------------------------

/// preflight → register → consent → parity → save; then the profile, the keychain, `test`,
/// and no issued secret anywhere it should not be.
#[tokio::test(flavor = "multi_thread")]
async fn migrate_end_to_end_saves_a_working_profile_and_leaks_nothing() {
    let e = env(SimConfig::default()).await;
    let (base, port) = (e.base(), e.port.to_string());
    let before = e.entities().await;
    let json = e
        .run_ok(
            &[
                "migrate",
                "--instance",
                &base,
                "--username",
                "admin",
                "--profile",
                "mig",
                "--redirect-port",
                &port,
                "--consent-timeout",
                "30",
            ],
            &[("SNCONNECT_PASSWORD", &e.password("admin"))],
        )
        .await;

    // Preflight: ten checks, all passing.
    let checks = &json["preflight"]["checks"];
    assert_eq!(checks.as_array().unwrap().len(), 10, "{json}");
    assert!(
        checks
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["state"] == "pass"),
        "{checks}"
    );
    // Registered: one new record with our loopback URL.
    let created = &json["created"];
    let client_id = json["client_id"].as_str().unwrap().to_string();
    assert_eq!(created["client_id"], client_id.as_str());
    assert_eq!(created["public_client"], false);
    assert_eq!(strings(&created["redirect_urls"]), [loopback(e.port)]);
    let sys_id = created["sys_id"].as_str().unwrap().to_string();
    let after = e.entities().await;
    assert_eq!(after.len(), before.len() + 1);
    // Consent, token, parity.
    let names = names_in(&json["checks"]);
    assert_eq!(names, ["consent", "token", "parity"], "{json}");
    assert!(json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["ok"] == true));
    assert!(json["authorize_url"].as_str().unwrap().contains(&client_id));
    let parity = &json["parity"];
    assert_eq!(parity["safe"], true, "{parity}");
    assert_eq!(parity["basic_user"], "admin");
    assert_eq!(parity["oauth_user"], "admin");
    assert_eq!(json["profile"], "mig");
    assert_eq!(json["handoff"]["target"], "snconnect");

    // The profile is saved, with its tokens' facts.
    let show = e.run_ok(&["profile", "show", "mig"], &[]).await;
    let p = &show["profile"];
    assert_eq!(p["auth"], "oauth-code", "{show}");
    assert_eq!(p["client_id"], client_id.as_str());
    assert_eq!(p["instance"], base.as_str());
    assert_eq!(p["redirect_port"], e.port);
    assert_eq!(p["registered_sys_id"], sys_id.as_str());
    assert_eq!(show["token"]["has_access_token"], true, "{show}");
    assert_eq!(show["token"]["has_refresh_token"], true, "{show}");

    // The client secret (and the tokens) are in the keychain, nowhere else.
    let stored = e.stored();
    assert!(!stored.is_empty());
    let issued = e.sim.issued_secrets();
    assert!(
        stored.iter().any(|s| issued.contains(s)),
        "the keychain holds the client secret the instance knows"
    );

    // The saved connection works.
    let t = e.run_ok(&["test", "mig"], &[]).await;
    assert_eq!(t["user"], "admin", "{t}");

    e.assert_no_issued_secret_leaked(4);
}

/// Basic auth as abel.tuter (fields hidden from him) but consent as admin: not safe, and the
/// differences say why.
#[tokio::test(flavor = "multi_thread")]
async fn migrate_with_a_different_basic_user_is_a_parity_mismatch() {
    let e = env(SimConfig {
        switches: hidden_user_fields(),
        ..SimConfig::default()
    })
    .await;
    let (base, port) = (e.base(), e.port.to_string());
    let (admin_pw, abel_pw) = (e.password("admin"), e.password("abel.tuter"));
    let (code, json) = e
        .run(
            &[
                "migrate",
                "--instance",
                &base,
                "--username",
                "admin",
                "--profile",
                "abel-mig",
                "--basic-username",
                "abel.tuter",
                "--redirect-port",
                &port,
                "--consent-timeout",
                "30",
            ],
            &[
                ("SNCONNECT_PASSWORD", &admin_pw),
                ("SNCONNECT_BASIC_PASSWORD", &abel_pw),
                ("STANDIN_USER", "admin"),
                ("STANDIN_PASSWORD", &admin_pw),
            ],
        )
        .await;
    assert_eq!(
        (code, json["code"].as_str()),
        (1, Some("parity_mismatch")),
        "{json}\nstderr: {}",
        e.last_stderr()
    );
    assert_eq!(json["ok"], false);
    let parity = &json["parity"];
    assert_eq!(parity["safe"], false);
    assert_eq!(parity["basic_user"], "abel.tuter");
    assert_eq!(parity["oauth_user"], "admin");
    let identity = strings(&parity["differences"]);
    assert!(
        identity
            .iter()
            .any(|d| d.contains("basic auth signs in as abel.tuter, OAuth as admin")),
        "{parity}"
    );
    let users = parity["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "sys_user")
        .unwrap();
    let diffs = strings(&users["differences"]);
    assert!(
        diffs
            .iter()
            .any(|d| d.contains("appear only over OAuth: email, title")),
        "{users}"
    );
    assert!(
        json["detail"].as_str().unwrap().starts_with("Not yet"),
        "{json}"
    );
    assert!(json["remediation"]
        .as_str()
        .unwrap()
        .contains("integration account"));
    let last = json["checks"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["name"].as_str(), &last["ok"], last["code"].as_str()),
        (Some("parity"), &Value::Bool(false), Some("parity_mismatch"))
    );
}

/// A non-admin cannot register: exit 1, insufficient_role, and the JSON carries the guided
/// steps for an admin. Nothing is created or saved.
#[tokio::test(flavor = "multi_thread")]
async fn migrate_as_a_non_admin_gives_the_guided_steps() {
    let e = env(SimConfig::default()).await;
    let (base, port) = (e.base(), e.port.to_string());
    let before = e.entities().await;
    let (code, json) = e
        .run(
            &[
                "migrate",
                "--instance",
                &base,
                "--username",
                "abel.tuter",
                "--profile",
                "abel",
                "--redirect-port",
                &port,
            ],
            &[("SNCONNECT_PASSWORD", &e.password("abel.tuter"))],
        )
        .await;
    assert_eq!(
        (code, json["code"].as_str()),
        (1, Some("insufficient_role")),
        "{json}"
    );
    let steps = strings(&json["steps"]);
    assert!(steps.len() >= 5, "{json}");
    assert!(
        steps
            .iter()
            .any(|s| s.contains(&format!("exactly {}", loopback(e.port)))),
        "{steps:?}"
    );
    let detail = json["detail"].as_str().unwrap();
    assert!(
        detail.contains("abel.tuter") && detail.contains("--client-id"),
        "{detail}"
    );
    let pf = &json["preflight"]["checks"];
    assert_eq!(check(pf, "roles")["state"], "fail");
    assert_eq!(check(pf, "oauth_plugin")["state"], "unknown");
    assert_eq!(json["preflight"]["can_register"], false);

    assert_eq!(e.entities().await, before, "nothing created");
    let (code, show) = e.run(&["profile", "show", "abel"], &[]).await;
    assert_ne!(code, 0, "no profile saved: {show}");
    assert!(e.stored().is_empty(), "nothing in the keychain");
}

/// register → guided read-back (match and mismatch) → remove.
#[tokio::test(flavor = "multi_thread")]
async fn register_guided_read_back_and_remove() {
    let e = env(SimConfig::default()).await;
    let (base, port) = (e.base(), e.port.to_string());
    let admin_pw = e.password("admin");
    let admin = [("SNCONNECT_PASSWORD", admin_pw.as_str())];
    let before = e.entities().await;

    let json = e
        .run_ok(
            &[
                "register",
                "--instance",
                &base,
                "--username",
                "admin",
                "--name",
                "CLI app",
                "--target",
                "postman",
                "--redirect-port",
                &port,
            ],
            &admin,
        )
        .await;
    let created = &json["created"];
    let sys_id = created["sys_id"].as_str().unwrap().to_string();
    let client_id = json["client_id"].as_str().unwrap().to_string();
    assert_eq!(created["client_id"], client_id.as_str());
    let urls = [POSTMAN_CALLBACK.to_string(), loopback(e.port)];
    assert_eq!(strings(&created["redirect_urls"]), urls);
    assert_eq!(json["profile"], "CLI-app");
    assert_eq!(json["handoff"]["target"], "postman");
    assert_eq!(e.entities().await.len(), before.len() + 1);
    assert_eq!(e.stored().len(), 1, "the client secret is in the keychain");
    let (status, body) = e.table_get(&format!("oauth_entity/{sys_id}"), &[]).await;
    assert_eq!(status, 200);
    assert_eq!(body["result"]["client_id"], client_id.as_str());

    // Guided read-back: every URL registered.
    let json = e
        .run_ok(
            &[
                "register",
                "--instance",
                &base,
                "--username",
                "admin",
                "--guided",
                "--client-id",
                &client_id,
                "--target",
                "postman",
                "--redirect-port",
                &port,
            ],
            &admin,
        )
        .await;
    let results = json["redirect_check"].as_array().unwrap();
    let checked: Vec<&str> = results.iter().map(|r| r["url"].as_str().unwrap()).collect();
    assert_eq!(checked, urls, "{json}");
    assert!(results.iter().all(|r| r["registered"] == true), "{json}");
    assert_eq!(strings(&json["redirect_urls"]), urls);
    assert!(strings(&json["steps"]).len() >= 5);
    assert_eq!(json["links"].as_array().unwrap().len(), 6);
    let id_field = json["handoff"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["label"] == "Client ID")
        .unwrap()
        .clone();
    assert_eq!(id_field["value"], client_id.as_str());

    // Guided with a port that is not registered: a mismatch naming what is registered.
    let other = loop {
        let p = free_port();
        if p != e.port {
            break p;
        }
    };
    let (code, json) = e
        .run(
            &[
                "register",
                "--instance",
                &base,
                "--username",
                "admin",
                "--guided",
                "--client-id",
                &client_id,
                "--target",
                "postman",
                "--redirect-port",
                &other.to_string(),
            ],
            &admin,
        )
        .await;
    assert_eq!(
        (code, json["code"].as_str()),
        (1, Some("redirect_uri_mismatch")),
        "{json}"
    );
    // The target's callback is still registered; our loopback URL on the other port is not.
    assert_eq!(json["redirect_check"][0]["url"], POSTMAN_CALLBACK);
    assert_eq!(json["redirect_check"][0]["registered"], true);
    assert_eq!(json["redirect_check"][1]["url"], loopback(other).as_str());
    assert_eq!(json["redirect_check"][1]["registered"], false);
    assert!(json["detail"].as_str().unwrap().contains(&loopback(e.port)));

    // A non-admin can neither read the registry (unknown, not a mismatch) nor remove.
    let abel_pw = e.password("abel.tuter");
    let abel = [("SNCONNECT_PASSWORD", abel_pw.as_str())];
    let json = e
        .run_ok(
            &[
                "register",
                "--instance",
                &base,
                "--username",
                "abel.tuter",
                "--guided",
                "--client-id",
                &client_id,
                "--target",
                "postman",
                "--redirect-port",
                &port,
            ],
            &abel,
        )
        .await;
    let results = json["redirect_check"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert!(results.iter().all(|r| r["registered"].is_null()), "{json}");
    let (code, json) = e
        .run(
            &[
                "register",
                "--instance",
                &base,
                "--username",
                "abel.tuter",
                "--remove",
                &sys_id,
            ],
            &abel,
        )
        .await;
    assert_eq!(
        (code, json["code"].as_str()),
        (1, Some("insufficient_role")),
        "{json}"
    );

    // Remove: the record is gone, nothing else changed, the profile forgets it.
    let json = e
        .run_ok(
            &[
                "register",
                "--instance",
                &base,
                "--username",
                "admin",
                "--remove",
                &sys_id,
            ],
            &admin,
        )
        .await;
    assert_eq!(json["removed"], sys_id.as_str());
    let (status, _) = e.table_get(&format!("oauth_entity/{sys_id}"), &[]).await;
    assert_eq!(status, 404);
    assert_eq!(e.entities().await, before);
    let show = e.run_ok(&["profile", "show", "CLI-app"], &[]).await;
    assert!(show["profile"]["registered_sys_id"].is_null(), "{show}");

    e.assert_no_issued_secret_leaked(1);
}

/// preflight: ready (exit 0), a non-admin (exit 1, insufficient_role, unknowns), and a
/// hibernating instance (exit 1, instance_hibernating, everything else unknown).
#[tokio::test(flavor = "multi_thread")]
async fn preflight_ready_non_admin_and_hibernating() {
    let e = env(SimConfig::default()).await;
    let base = e.base();
    let admin_pw = e.password("admin");
    let args = ["preflight", "--instance", &base, "--username", "admin"];

    let json = e.run_ok(&args, &[("SNCONNECT_PASSWORD", &admin_pw)]).await;
    let checks = json["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 10);
    assert!(checks.iter().all(|c| c["state"] == "pass"), "{json}");
    assert_eq!(json["can_register"], true);
    assert_eq!(json["user"], "admin");

    let (code, json) = e
        .run(
            &["preflight", "--instance", &base, "--username", "abel.tuter"],
            &[("SNCONNECT_PASSWORD", &e.password("abel.tuter"))],
        )
        .await;
    assert_eq!(
        (code, json["code"].as_str()),
        (1, Some("insufficient_role")),
        "{json}"
    );
    assert_eq!(check(&json["checks"], "oauth_plugin")["state"], "unknown");
    assert_eq!(check(&json["checks"], "roles")["state"], "fail");

    let (code, json) = e
        .run(
            &[
                "preflight",
                "--instance",
                &base,
                "--username",
                "admin",
                "--grant",
                "client-credentials",
            ],
            &[("SNCONNECT_PASSWORD", &admin_pw)],
        )
        .await;
    assert_eq!(
        (code, json["code"].as_str()),
        (1, Some("client_credentials_disabled")),
        "{json}"
    );

    e.sim
        .update_switches(|s| s.instance_state = InstanceState::Hibernating);
    let (code, json) = e.run(&args, &[("SNCONNECT_PASSWORD", &admin_pw)]).await;
    assert_eq!(
        (code, json["code"].as_str()),
        (1, Some("instance_hibernating")),
        "{json}"
    );
    let checks = json["checks"].as_array().unwrap();
    assert_eq!(checks[0]["id"], "reachable");
    assert_eq!(checks[0]["state"], "fail");
    assert!(
        checks[1..].iter().all(|c| c["state"] == "unknown"),
        "{json}"
    );
    assert!(json["remediation"]
        .as_str()
        .unwrap()
        .contains("developer.servicenow.com"));
}

/// A preset's hand-off card in `register --json`: Boomi's callback and base URL, the secret
/// field without a value, and the secret nowhere in the output even with --reveal-secret.
#[tokio::test(flavor = "multi_thread")]
async fn register_boomi_prints_its_handoff_card() {
    let e = env(SimConfig::default()).await;
    let (base, port) = (e.base(), e.port.to_string());
    let origin = base.trim_end_matches('/').to_string();
    let json = e
        .run_ok(
            &[
                "register",
                "--instance",
                &base,
                "--username",
                "admin",
                "--name",
                "Boomi prod",
                "--target",
                "boomi",
                "--boomi-account",
                "acct-4711",
                "--redirect-port",
                &port,
                "--reveal-secret",
            ],
            &[("SNCONNECT_PASSWORD", &e.password("admin"))],
        )
        .await;
    let client_id = json["client_id"].as_str().unwrap();
    assert_eq!(
        strings(&json["created"]["redirect_urls"]),
        [
            "https://platform.boomi.com/account/acct-4711/oauth2/callback".to_string(),
            loopback(e.port)
        ]
    );
    let card = &json["handoff"];
    assert_eq!(card["target"], "boomi");
    assert_eq!(card["target_name"], "Boomi");
    let value = |label: &str| {
        card["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["label"] == label)
            .unwrap_or_else(|| panic!("no {label} in {card}"))
            .clone()
    };
    assert_eq!(
        value("Base URL")["value"],
        format!("{origin}/api/now/v2").as_str()
    );
    assert_eq!(value("Client ID")["value"], client_id);
    assert_eq!(value("Grant Type")["value"], "Authorization Code");
    assert_eq!(
        value("Authorization Token URL")["value"],
        format!("{base}oauth_auth.do").as_str()
    );
    assert_eq!(
        value("Access Token URL")["value"],
        format!("{base}oauth_token.do").as_str()
    );
    let secret = value("Client Secret (Click to Set)");
    assert_eq!(secret["secret"], true);
    assert!(secret["value"].is_null(), "{secret}");
    assert!(!strings(&card["steps"]).is_empty());

    // The profile is named after the endpoint; its secret is in the keychain only.
    let show = e.run_ok(&["profile", "show", "Boomi-prod"], &[]).await;
    assert_eq!(show["profile"]["client_id"], client_id);
    assert_eq!(e.stored().len(), 1);
    e.assert_no_issued_secret_leaked(1);
}
