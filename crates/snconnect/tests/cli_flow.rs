//! The `snconnect` CLI end to end: every auth method through `profile add`, `login`, `test`,
//! `token …`, `verify`, `report` and `profile export/import/show/list`, against snsim over real
//! TLS, with `tests/support/browser_standin.py` as `$BROWSER` and a private Secret Service
//! (`tests/support/secret_service.rs`) as the keychain.
//!
//! What these tests prove beyond the happy path: no secret the simulator ever issued (codes,
//! tokens, client secrets, the API key) nor any seeded password appears in any output, log
//! (`SNCONNECT_LOG=debug`), config file, report or export; the keychain really holds them; a
//! locked or absent keychain fails closed (exit 2, nothing saved) while `--no-keychain` still
//! works; import is atomic; exit codes follow the contract (0 ok, 1 connection failed, 2
//! usage/local); the token lifecycle (refresh after a 401, revoke, reset) is visible on the
//! simulator's side.
//!
//! Needs `python3`, and `dbus-daemon`, `gnome-keyring-daemon`, `secret-tool`
//! (scripts/setup.sh --test installs them).

mod support;

use serde_json::{json, Value};
use snsim::{RunningSim, SimConfig};
use std::path::{Path, PathBuf};
use std::time::Duration;
use support::secret_service::SecretService;
use support::{
    free_port, haystacks, keychain_locked, keychain_unlocked, loopback, names_in, sim_http, Cli,
    Run,
};

/// Bound for one CLI run (a browser sign-in included).
const CLI_TIMEOUT: Duration = Duration::from_secs(45);
/// `--consent-timeout` for the code flows: well under CLI_TIMEOUT.
const CONSENT_TIMEOUT: &str = "30";
/// Table/API calls the test itself makes to the simulator.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

// ---- the simulator -----------------------------------------------------------------------------

/// snsim over TLS on its own runtime, with `http://127.0.0.1:<port>/callback` registered.
struct Sim {
    // Declared before `rt`: the simulator is told to stop before its runtime goes.
    sim: RunningSim,
    port: u16,
    http: reqwest::Client,
    rt: tokio::runtime::Runtime,
}

impl Sim {
    fn start() -> Sim {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let port = free_port();
        let sim = rt
            .block_on(RunningSim::start(SimConfig {
                redirect_urls: vec![loopback(port)],
                ..SimConfig::default()
            }))
            .expect("start snsim");
        let http = sim_http(&sim).timeout(HTTP_TIMEOUT).build().unwrap();
        Sim {
            sim,
            port,
            http,
            rt,
        }
    }

    fn url(&self) -> String {
        self.sim.base_url().to_string()
    }

    fn ca_file(&self) -> PathBuf {
        self.sim.ca_file().unwrap().to_path_buf()
    }

    fn password(&self, user: &str) -> String {
        self.sim.user_password(user).unwrap()
    }

    /// A Table API call as admin (Basic): (status, JSON body or Null).
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

    /// `current_user` with `Authorization: Bearer <token>`: the HTTP status.
    fn bearer_status(&self, token: &str) -> u16 {
        let url = format!("{}api/now/ui/user/current_user", self.url());
        let req = self
            .http
            .get(url)
            .bearer_auth(token)
            .header("Accept", "application/json");
        self.rt
            .block_on(async move { req.send().await.expect("a call to snsim").status().as_u16() })
    }

    /// `POST /oauth_token.do` `grant_type=refresh_token` as the confidential client: the
    /// HTTP status (200 = the refresh token still works).
    fn refresh_status(&self, refresh_token: &str) -> u16 {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "refresh_token")
            .append_pair("refresh_token", refresh_token)
            .append_pair("client_id", self.sim.confidential_client_id())
            .append_pair("client_secret", self.sim.confidential_client_secret())
            .finish();
        let req = self
            .http
            .post(format!("{}oauth_token.do", self.url()))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Accept", "application/json")
            .body(body);
        self.rt
            .block_on(async move { req.send().await.expect("a call to snsim").status().as_u16() })
    }

    /// Turns on the client_credentials grant the way an admin does: the system property, and
    /// the OAuth Application User (`oauth_application_user`) on the confidential client's
    /// `oauth_entity` record, PATCHed through the Table API as admin.
    fn enable_client_credentials(&self) {
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
        let sys_id = found["result"][0]["sys_id"]
            .as_str()
            .unwrap_or_else(|| panic!("the confidential client's oauth_entity: {found}"))
            .to_string();
        let (status, patched) = self.table_as_admin(
            reqwest::Method::PATCH,
            &format!("api/now/table/oauth_entity/{sys_id}"),
            Some(json!({ "oauth_application_user": snsim::ADMIN_SYS_ID })),
        );
        assert_eq!(status, 200, "{patched}");
        assert!(
            patched["result"]["oauth_application_user"]
                .to_string()
                .contains(snsim::ADMIN_SYS_ID),
            "{patched}"
        );
    }

    /// Every secret to scan for: everything the simulator issued, plus the seeded passwords.
    fn all_secrets(&self) -> Vec<String> {
        let mut s = self.sim.issued_secrets();
        for user in snsim::SEEDED_USERS {
            s.push(self.password(user));
        }
        s.sort();
        s.dedup();
        s
    }
}

// ---- the CLI -----------------------------------------------------------------------------------

impl Cli {
    /// The CLI bounded by CLI_TIMEOUT; PYENV_ROOT, when set, is passed through to every run.
    fn new(ca_file: Option<PathBuf>, mut env: Vec<(String, String)>) -> Cli {
        if let Ok(v) = std::env::var("PYENV_ROOT") {
            env.push(("PYENV_ROOT".into(), v));
        }
        Cli::in_temp_dirs(ca_file, env, CLI_TIMEOUT)
    }

    fn with_keychain(sim: Option<&Sim>, keychain: &SecretService) -> Cli {
        Cli::new(sim.map(Sim::ca_file), keychain.env())
    }

    fn run(&self, args: &[&str], envs: &[(&str, &str)]) -> Run {
        self.exec(true, args, envs)
    }

    /// As `run`; asserts exit 0, `ok: true`, `code: "ok"`, and returns the JSON.
    fn ok(&self, args: &[&str], envs: &[(&str, &str)]) -> Value {
        let r = self.run(args, envs);
        let json = r.json();
        assert_eq!(
            (r.code, &json["ok"], json["code"].as_str()),
            (0, &Value::Bool(true), Some("ok")),
            "`{}` failed: {json}\nstderr: {}\nbrowser stand-in log: {}",
            r.what,
            r.stderr,
            self.standin_log()
        );
        json
    }

    /// As `run`; asserts the exit status and the code, and returns the JSON.
    fn fails(&self, args: &[&str], envs: &[(&str, &str)], exit: i32, code: &str) -> Value {
        let r = self.run(args, envs);
        let json = r.json();
        assert_eq!(
            (r.code, json["code"].as_str(), &json["ok"]),
            (exit, Some(code), &Value::Bool(false)),
            "`{}`: {json}\nstderr: {}",
            r.what,
            r.stderr
        );
        json
    }
}

/// Every secret in `secrets` is absent from every captured stdout/stderr and every file under
/// `dirs` (recursively) and in `files`.
fn assert_nothing_leaked(secrets: &[String], runs: &[Run], dirs: &[&Path], files: &[&Path]) {
    for s in secrets {
        assert!(
            s.len() >= 8,
            "a suspiciously short secret: {} chars",
            s.len()
        );
    }
    support::assert_not_in(secrets, &haystacks(runs, dirs, files));
}

/// `profiles.json` holds plain data only: no field whose name says secret or password, and
/// strings only in the fields that are meant to be strings.
fn assert_profiles_file_is_plain(path: &Path) {
    const STRING_FIELDS: &[&str] = &[
        "name",
        "instance",
        "auth",
        "username",
        "client_id",
        "scope",
        "auth_url",
        "token_url",
        "revoke_url",
        "api_key_param",
        "api_key_in",
        // last_test: the diagnosis code and the display name the test signed in as.
        "code",
        "user",
    ];
    fn check(v: &Value, key: &str, path: &Path) {
        let k = key.to_ascii_lowercase();
        assert!(
            !k.contains("secret") && !k.contains("password"),
            "{}: a field named {key:?}",
            path.display()
        );
        match v {
            Value::String(_) => assert!(
                STRING_FIELDS.contains(&key),
                "{}: field {key:?} holds a string",
                path.display()
            ),
            Value::Array(a) => a.iter().for_each(|x| check(x, key, path)),
            Value::Object(o) => o.iter().for_each(|(k, x)| check(x, k, path)),
            _ => {}
        }
    }
    let v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    check(&v, "", path);
}

/// Keychain contents, minus unreadable markers.
fn stored(keychain: &SecretService) -> Vec<String> {
    keychain
        .stored_secrets()
        .into_iter()
        .filter(|s| s != "<unreadable>")
        .collect()
}

/// `profile add NAME --instance <sim> --auth AUTH [rest…]`.
fn add(
    cli: &Cli,
    sim: &Sim,
    name: &str,
    auth: &str,
    rest: &[&str],
    envs: &[(&str, &str)],
) -> Value {
    let url = sim.url();
    let mut args = vec!["profile", "add", name, "--instance", &url, "--auth", auth];
    args.extend_from_slice(rest);
    let json = cli.ok(&args, envs);
    assert_eq!(json["profile"]["name"], name, "{json}");
    json
}

/// `profile add NAME --auth oauth-password` for admin with the confidential client; the client
/// secret and admin's password from the environment.
fn add_admin_password_grant(cli: &Cli, sim: &Sim, name: &str) -> Value {
    let admin_pw = sim.password("admin");
    add(
        cli,
        sim,
        name,
        "oauth-password",
        &[
            "--client-id",
            sim.sim.confidential_client_id(),
            "--username",
            "admin",
        ],
        &[
            (
                "SNCONNECT_CLIENT_SECRET",
                sim.sim.confidential_client_secret(),
            ),
            ("SNCONNECT_PASSWORD", &admin_pw),
        ],
    )
}

// ---- the tests ---------------------------------------------------------------------------------

/// Every method, every command, then a leak scan of everything the CLI printed or wrote.
#[test]
fn full_flow_leaves_no_secret_anywhere() {
    let keychain = keychain_unlocked();
    let sim = Sim::start();
    sim.enable_client_credentials();
    let cli = Cli::with_keychain(Some(&sim), &keychain);
    let out = tempfile::tempdir().unwrap();
    let port = sim.port.to_string();
    let conf_id = sim.sim.confidential_client_id().to_string();
    let conf_secret = sim.sim.confidential_client_secret().to_string();
    let public_id = sim.sim.public_client_id().to_string();
    let admin_pw = sim.password("admin");
    let api_key = sim.sim.api_key().to_string();
    let consent = ["--consent-timeout", CONSENT_TIMEOUT];

    // profile add, one per method; secrets from the environment only.
    let j = add(
        &cli,
        &sim,
        "m-basic",
        "basic",
        &["--username", "admin"],
        &[("SNCONNECT_PASSWORD", &admin_pw)],
    );
    assert_eq!(j["stored_secrets"], json!(["password"]), "{j}");
    assert_eq!(j["secret_store"], "keychain", "{j}");
    let j = add(
        &cli,
        &sim,
        "m-key",
        "api-key",
        &[],
        &[("SNCONNECT_API_KEY", &api_key)],
    );
    assert_eq!(j["stored_secrets"], json!(["api_key"]), "{j}");
    let j = add(
        &cli,
        &sim,
        "m-code",
        "oauth-code",
        &["--client-id", &conf_id, "--redirect-port", &port],
        &[("SNCONNECT_CLIENT_SECRET", &conf_secret)],
    );
    assert_eq!(j["stored_secrets"], json!(["client_secret"]), "{j}");
    let j = add(
        &cli,
        &sim,
        "m-pkce",
        "oauth-code-pkce",
        &["--client-id", &public_id, "--redirect-port", &port],
        &[],
    );
    assert_eq!(j["stored_secrets"], json!([]), "{j}");
    let j = add(
        &cli,
        &sim,
        "m-pw",
        "oauth-password",
        &["--client-id", &conf_id, "--username", "admin"],
        &[
            ("SNCONNECT_CLIENT_SECRET", &conf_secret),
            ("SNCONNECT_PASSWORD", &admin_pw),
        ],
    );
    assert_eq!(
        j["stored_secrets"],
        json!(["client_secret", "password"]),
        "{j}"
    );
    let j = add(
        &cli,
        &sim,
        "m-cc",
        "oauth-client-credentials",
        &["--client-id", &conf_id],
        &[("SNCONNECT_CLIENT_SECRET", &conf_secret)],
    );
    assert_eq!(j["stored_secrets"], json!(["client_secret"]), "{j}");
    let names = ["m-basic", "m-cc", "m-code", "m-key", "m-pkce", "m-pw"];

    // login (browser stand-in for the code flows; it also runs the connection test).
    for name in names {
        let mut args = vec!["login", name];
        args.extend_from_slice(&consent);
        let j = cli.ok(&args, &[]);
        assert_eq!(j["user"], "admin", "login {name}: {j}");
        if name.starts_with("m-code") || name.starts_with("m-pkce") {
            assert!(
                j["authorize_url"]
                    .as_str()
                    .unwrap()
                    .contains("oauth_auth.do"),
                "{j}"
            );
        }
        if ["m-cc", "m-code", "m-pkce", "m-pw"].contains(&name) {
            assert_eq!(j["token"]["status"], "connected", "login {name}: {j}");
        }
    }
    assert_eq!(
        sim.sim
            .count_requests("/oauth_token.do", Some("authorization_code")),
        2
    );
    assert_eq!(
        sim.sim.count_requests("/oauth_token.do", Some("password")),
        1
    );
    assert_eq!(
        sim.sim
            .count_requests("/oauth_token.do", Some("client_credentials")),
        1
    );

    // test, one by one and all at once.
    for name in names {
        let j = cli.ok(&["test", name], &[]);
        assert_eq!(j["user"], "admin", "test {name}: {j}");
        assert_eq!(j["profile"], name, "{j}");
    }
    let r = cli.run(&["test", "--all"], &[]);
    let j = r.json();
    assert_eq!((r.code, &j["ok"]), (0, &Value::Bool(true)), "{j}");
    let results = j["results"].as_array().unwrap();
    assert_eq!(results.len(), 6, "{j}");
    assert!(results.iter().all(|x| x["ok"] == true), "{j}");

    // token status and refresh on an OAuth profile.
    let j = cli.ok(&["token", "status", "m-code"], &[]);
    assert_eq!(
        (j["status"].as_str(), &j["has_refresh_token"]),
        (Some("connected"), &Value::Bool(true)),
        "{j}"
    );
    let before = sim
        .sim
        .count_requests("/oauth_token.do", Some("refresh_token"));
    let j = cli.ok(&["token", "refresh", "m-code"], &[]);
    assert_eq!(j["status"], "connected", "{j}");
    assert_eq!(
        sim.sim
            .count_requests("/oauth_token.do", Some("refresh_token")),
        before + 1
    );

    // verify, nothing written (no profile change, no keychain item).
    let profiles_before = std::fs::read(cli.profiles_json()).unwrap();
    let items_before = keychain.stored_secrets().len();
    let url = sim.url();
    let verify = |extra: &[&str], envs: &[(&str, &str)]| {
        let mut args = vec![
            "verify",
            "--instance",
            &url,
            "--redirect-port",
            &port,
            "--consent-timeout",
            CONSENT_TIMEOUT,
        ];
        args.extend_from_slice(extra);
        cli.ok(&args, envs)
    };
    let j = verify(
        &["--auth", "basic", "--username", "admin"],
        &[("SNCONNECT_PASSWORD", &admin_pw)],
    );
    assert_eq!(j["user"], "admin", "{j}");
    let j = verify(
        &["--auth", "oauth-code-pkce", "--client-id", &public_id],
        &[],
    );
    assert_eq!(j["user"], "admin", "{j}");
    assert_eq!(
        std::fs::read(cli.profiles_json()).unwrap(),
        profiles_before,
        "verify changed profiles.json"
    );
    assert_eq!(
        keychain.stored_secrets().len(),
        items_before,
        "verify wrote to the keychain"
    );

    // report: Markdown on stdout; JSON to a file with --json.
    let r = cli.exec(false, &["report", "m-code"], &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.starts_with("# snconnect support report")
            && r.stdout.contains("**Connection works**")
            && r.stdout.contains("| Profile | m-code |"),
        "not the Markdown report: {}",
        r.stdout
    );
    let report_file = out.path().join("report.json");
    let j = cli.ok(
        &["report", "m-pw", "--out", report_file.to_str().unwrap()],
        &[],
    );
    assert_eq!(j["file"], report_file.display().to_string(), "{j}");
    let report: Value = serde_json::from_slice(&std::fs::read(&report_file).unwrap()).unwrap();
    assert_eq!(report["profile"], "m-pw", "{report}");
    assert_eq!(report["ok"], true, "{report}");

    // export (stdout, and a file), show, list.
    let j = cli.ok(&["profile", "export"], &[]);
    assert_eq!(j["export"]["profiles"].as_array().unwrap().len(), 6, "{j}");
    let r = cli.exec(false, &["profile", "export"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc: Value = serde_json::from_str(&r.stdout).expect("a plain export is the document");
    assert_eq!(doc["profiles"].as_array().unwrap().len(), 6, "{doc}");
    let export_file = out.path().join("export.json");
    let j = cli.ok(
        &["profile", "export", "--out", export_file.to_str().unwrap()],
        &[],
    );
    assert_eq!(j["profiles"], 6, "{j}");
    let j = cli.ok(&["profile", "show", "m-pw"], &[]);
    assert_eq!(j["profile"]["username"], "admin", "{j}");
    assert_eq!(j["token"]["status"], "connected", "{j}");
    let j = cli.ok(&["profile", "list"], &[]);
    let listed = names_in(&j["profiles"]);
    assert_eq!(listed, names, "{j}");

    // The scan: everything issued (2+ codes, tokens, the client secret, the API key) and
    // every seeded password, nowhere.
    let secrets = sim.all_secrets();
    assert!(secrets.contains(&conf_secret) && secrets.contains(&api_key));
    assert!(secrets.len() >= 10, "{} secrets issued", secrets.len());
    let runs = cli.runs.borrow().clone();
    assert!(runs.len() >= 30, "{} runs", runs.len());
    assert_nothing_leaked(
        &secrets,
        &runs,
        &[cli.config_dir.path(), cli.home.path(), out.path()],
        &[&report_file, &export_file],
    );
    assert!(
        cli.home.path().join("standin.log").is_file(),
        "the browser stand-in ran (and its log was scanned)"
    );

    // The secrets went to the keychain: the API key, the client secret, the password, and
    // tokens the simulator issued.
    let held = stored(&keychain);
    assert!(!held.is_empty(), "the keychain is empty");
    for (what, s) in [
        ("API key", &api_key),
        ("client secret", &conf_secret),
        ("password", &admin_pw),
    ] {
        assert!(held.contains(s), "the {what} is not in the keychain");
    }
    let issued = sim.sim.issued_secrets();
    assert!(
        held.iter()
            .filter(|s| issued.contains(s) && **s != conf_secret && **s != api_key)
            .count()
            >= 2,
        "no tokens in the keychain"
    );
    assert_profiles_file_is_plain(&cli.profiles_json());
}

/// A locked keychain: `profile add` with a secret, and a browser `login` whose tokens cannot
/// be stored, fail closed (exit 2, keychain_locked, the detail names --no-keychain) and save
/// nothing; --no-keychain still works.
#[test]
fn keychain_locked_fails_closed_and_no_keychain_works() {
    let keychain = keychain_locked();
    let sim = Sim::start();
    let cli = Cli::with_keychain(Some(&sim), &keychain);
    let admin_pw = sim.password("admin");
    let pw = [("SNCONNECT_PASSWORD", admin_pw.as_str())];

    // Nothing saved at all.
    let j = cli.fails(
        &[
            "profile",
            "add",
            "x",
            "--instance",
            &sim.url(),
            "--auth",
            "basic",
            "--username",
            "admin",
        ],
        &pw,
        2,
        "keychain_locked",
    );
    assert!(
        j["detail"].as_str().unwrap().contains("--no-keychain"),
        "{j}"
    );
    assert!(
        j["remediation"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("unlock"),
        "{j}"
    );
    assert!(
        !cli.profiles_json().exists(),
        "a profile was saved without its secret"
    );

    // A profile without secrets needs no keychain; then a failed add leaves the file as it was.
    add(
        &cli,
        &sim,
        "p",
        "oauth-code-pkce",
        &["--client-id", sim.sim.public_client_id()],
        &[],
    );
    let before = std::fs::read(cli.profiles_json()).unwrap();
    cli.fails(
        &[
            "profile",
            "add",
            "x",
            "--instance",
            &sim.url(),
            "--auth",
            "basic",
            "--username",
            "admin",
        ],
        &pw,
        2,
        "keychain_locked",
    );
    assert_eq!(
        std::fs::read(cli.profiles_json()).unwrap(),
        before,
        "profiles.json changed"
    );

    // A browser sign-in whose tokens cannot be stored: exit 2 keychain_locked, nothing saved.
    add(
        &cli,
        &sim,
        "q",
        "oauth-code-pkce",
        &[
            "--client-id",
            sim.sim.public_client_id(),
            "--redirect-port",
            &sim.port.to_string(),
        ],
        &[],
    );
    let before = std::fs::read(cli.profiles_json()).unwrap();
    let j = cli.fails(
        &["login", "q", "--consent-timeout", CONSENT_TIMEOUT],
        &[],
        2,
        "keychain_locked",
    );
    assert!(
        j["detail"].as_str().unwrap().contains("--no-keychain"),
        "{j}"
    );
    assert_eq!(
        std::fs::read(cli.profiles_json()).unwrap(),
        before,
        "a failed login recorded token facts"
    );
    assert_eq!(
        cli.ok(&["token", "status", "q"], &[])["status"],
        "needs_reauth"
    );

    // --no-keychain: verify works, and profile add keeps its secret for this run only.
    let j = cli.ok(
        &[
            "--no-keychain",
            "verify",
            "--instance",
            &sim.url(),
            "--auth",
            "basic",
            "--username",
            "admin",
        ],
        &pw,
    );
    assert_eq!(j["user"], "admin", "{j}");
    let r = cli.run(
        &[
            "--no-keychain",
            "profile",
            "add",
            "y",
            "--instance",
            &sim.url(),
            "--auth",
            "basic",
            "--username",
            "admin",
        ],
        &pw,
    );
    let j = r.json();
    assert_eq!(
        (r.code, &j["ok"]),
        (0, &Value::Bool(true)),
        "{j}\n{}",
        r.stderr
    );
    assert_eq!(j["secret_store"], "session", "{j}");
    assert_eq!(j["stored_secrets"], json!(["password"]), "{j}");
    assert!(
        keychain.stored_secrets().is_empty(),
        "{:?}",
        keychain.stored_secrets()
    );

    // --no-keychain with the secrets in the environment: a password-grant profile obtains its
    // token on each run (nothing is stored to refresh), here with the keychain still locked.
    let grant_env = [
        ("SNCONNECT_PASSWORD", admin_pw.as_str()),
        (
            "SNCONNECT_CLIENT_SECRET",
            sim.sim.confidential_client_secret(),
        ),
    ];
    let z = [
        "--no-keychain",
        "profile",
        "add",
        "z",
        "--instance",
        &sim.url(),
        "--auth",
        "oauth-password",
        "--client-id",
        sim.sim.confidential_client_id(),
        "--username",
        "admin",
    ];
    let r = cli.run(&z, &grant_env);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let grants = || sim.sim.count_requests("/oauth_token.do", Some("password"));
    let before = grants();
    for _ in 0..2 {
        let j = cli.ok(&["--no-keychain", "test", "z"], &grant_env);
        assert_eq!(j["user"], "admin", "{j}");
    }
    assert_eq!(grants(), before + 2, "one password grant per run");

    assert_nothing_leaked(
        &sim.all_secrets(),
        &cli.runs.borrow(),
        &[cli.config_dir.path(), cli.home.path()],
        &[],
    );
}

/// No Secret Service on the bus (and no DISPLAY to autolaunch one): exit 2,
/// keychain_unavailable, nothing saved.
#[test]
fn keychain_absent_fails_closed() {
    let cli = Cli::new(
        None,
        vec![(
            "DBUS_SESSION_BUS_ADDRESS".into(),
            "unix:path=/nonexistent/snconnect-no-bus".into(),
        )],
    );
    let pw = [("SNCONNECT_PASSWORD", "absent-keychain-password")];
    let add = [
        "profile",
        "add",
        "x",
        "--instance",
        "https://acme.service-now.com",
        "--auth",
        "basic",
        "--username",
        "admin",
    ];
    let j = cli.fails(&add, &pw, 2, "keychain_unavailable");
    assert!(
        j["detail"].as_str().unwrap().contains("--no-keychain"),
        "{j}"
    );
    assert!(
        !cli.profiles_json().exists(),
        "a profile was saved without its secret"
    );

    let mut args = vec!["--no-keychain"];
    args.extend_from_slice(&add);
    let j = cli.ok(&args, &pw);
    assert_eq!(j["secret_store"], "session", "{j}");
    assert_nothing_leaked(
        &["absent-keychain-password".to_string()],
        &cli.runs.borrow(),
        &[cli.config_dir.path(), cli.home.path()],
        &[],
    );
}

/// Export from one config dir, import into another: the same profiles (minus token facts), no
/// secret in the file; a bad import file changes nothing.
#[test]
fn export_import_round_trip_without_secrets() {
    let keychain = keychain_unlocked();
    let sim = Sim::start();
    let a = Cli::with_keychain(Some(&sim), &keychain);
    let b = Cli::with_keychain(Some(&sim), &keychain);
    let port = sim.port.to_string();
    let admin_pw = sim.password("admin");
    let conf_secret = sim.sim.confidential_client_secret().to_string();
    add(
        &a,
        &sim,
        "ex-basic",
        "basic",
        &["--username", "admin"],
        &[("SNCONNECT_PASSWORD", &admin_pw)],
    );
    add(
        &a,
        &sim,
        "ex-code",
        "oauth-code",
        &[
            "--client-id",
            sim.sim.confidential_client_id(),
            "--redirect-port",
            &port,
            "--scope",
            "useraccount",
        ],
        &[("SNCONNECT_CLIENT_SECRET", &conf_secret)],
    );
    add(
        &a,
        &sim,
        "ex-pkce",
        "oauth-code-pkce",
        &[
            "--client-id",
            sim.sim.public_client_id(),
            "--redirect-port",
            &port,
            "--fallback-port",
            "18766",
        ],
        &[],
    );
    a.ok(
        &["login", "ex-pkce", "--consent-timeout", CONSENT_TIMEOUT],
        &[],
    );
    let text = std::fs::read_to_string(a.profiles_json()).unwrap();
    assert!(
        text.contains("\"tokens\""),
        "token facts recorded after login: {text}"
    );

    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("profiles-export.json");
    a.ok(&["profile", "export", "--out", file.to_str().unwrap()], &[]);
    let exported = std::fs::read_to_string(&file).unwrap();
    assert!(
        !exported.contains("\"tokens\""),
        "token facts exported: {exported}"
    );
    assert_profiles_file_is_plain(&file);

    // b already has a profile of its own: import keeps it.
    add(
        &b,
        &sim,
        "b-own",
        "oauth-code-pkce",
        &["--client-id", sim.sim.public_client_id()],
        &[],
    );
    let j = b.ok(&["profile", "import", file.to_str().unwrap()], &[]);
    assert_eq!(
        j["imported"],
        json!(["ex-basic", "ex-code", "ex-pkce"]),
        "{j}"
    );
    for name in ["ex-basic", "ex-code", "ex-pkce"] {
        let ja = a.ok(&["profile", "show", name], &[]);
        let jb = b.ok(&["profile", "show", name], &[]);
        assert_eq!(ja["profile"], jb["profile"], "{name}");
        assert!(ja["profile"].get("tokens").is_none(), "{ja}");
    }
    assert_eq!(
        a.ok(&["profile", "show", "ex-pkce"], &[])["token"]["status"],
        "connected"
    );
    assert_eq!(
        b.ok(&["profile", "show", "ex-pkce"], &[])["token"]["status"],
        "needs_reauth"
    );
    let names: Vec<String> = b.ok(&["profile", "list"], &[])["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["b-own", "ex-basic", "ex-code", "ex-pkce"]);

    // Malformed files: exit 2, profiles.json byte-identical, no temp file left behind.
    let before = std::fs::read(b.profiles_json()).unwrap();
    let bad_files: [(&str, &[u8]); 4] = [
        ("not-json.json", b"{ not json"),
        ("truncated.json", &exported.as_bytes()[..exported.len() / 2]),
        (
            "half-valid.json",
            br#"{"schema_version":1,"profiles":[{"name":"fine","instance":"acme","auth":"basic"},{"name":"evil","instance":"http://evil.example.com","auth":"basic"}]}"#,
        ),
        ("future.json", br#"{"schema_version":99,"profiles":[]}"#),
    ];
    for (name, bytes) in bad_files {
        let path = out.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let j = b.fails(
            &["profile", "import", path.to_str().unwrap()],
            &[],
            2,
            "usage_error",
        );
        assert!(
            j["detail"].as_str().unwrap().contains(name),
            "the detail names the file: {j}"
        );
        assert_eq!(
            std::fs::read(b.profiles_json()).unwrap(),
            before,
            "import of {name} changed profiles.json"
        );
    }
    let mut left: Vec<String> = std::fs::read_dir(b.config_dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    // No temp file left behind; the lock file of the cross-process lock stays (empty).
    assert_eq!(
        left,
        ["profiles.json", "profiles.lock"],
        "stray files in the config dir"
    );
    let lock = std::fs::read(b.config_dir.path().join("profiles.lock")).unwrap();
    assert!(lock.is_empty(), "a released lock names no holder");

    let mut runs = a.runs.borrow().clone();
    runs.extend(b.runs.borrow().iter().cloned());
    assert_nothing_leaked(
        &sim.all_secrets(),
        &runs,
        &[
            a.config_dir.path(),
            b.config_dir.path(),
            a.home.path(),
            b.home.path(),
        ],
        &[&file],
    );
}

/// The exit-status contract: 2 for usage/local errors, 1 for a failed connection.
#[test]
fn exit_codes_and_usage_errors() {
    let keychain = keychain_unlocked();
    let sim = Sim::start();
    let cli = Cli::with_keychain(Some(&sim), &keychain);
    let admin_pw = sim.password("admin");

    let j = cli.fails(&["login", "nope"], &[], 2, "usage_error");
    assert!(j["detail"].as_str().unwrap().contains("\"nope\""), "{j}");
    let j = cli.fails(
        &[
            "profile",
            "add",
            "bad/name",
            "--instance",
            &sim.url(),
            "--auth",
            "basic",
            "--username",
            "admin",
        ],
        &[("SNCONNECT_PASSWORD", &admin_pw)],
        2,
        "usage_error",
    );
    assert!(j["detail"].as_str().unwrap().contains("bad/name"), "{j}");
    cli.fails(
        &[
            "profile",
            "add",
            "x",
            "--instance",
            "http://example.com",
            "--auth",
            "basic",
            "--username",
            "admin",
        ],
        &[("SNCONNECT_PASSWORD", &admin_pw)],
        2,
        "insecure_url_refused",
    );
    // A usage error from clap itself (no JSON): still 2.
    let r = cli.run(&["profile", "add", "x", "--auth", "basic"], &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        !cli.profiles_json().exists(),
        "a refused add saved something"
    );
    assert!(
        stored(&keychain).is_empty(),
        "a refused add stored a secret"
    );

    // A connection that fails: 1, with the diagnosis.
    add(
        &cli,
        &sim,
        "good",
        "basic",
        &["--username", "admin"],
        &[("SNCONNECT_PASSWORD", &admin_pw)],
    );
    add(
        &cli,
        &sim,
        "wrong",
        "basic",
        &["--username", "admin"],
        &[("SNCONNECT_PASSWORD", "not-the-password")],
    );
    cli.ok(&["test", "good"], &[]);
    let j = cli.fails(&["test", "wrong"], &[], 1, "basic_auth_rejected");
    assert_eq!(j["profile"], "wrong", "{j}");
    let r = cli.run(&["test", "--all"], &[]);
    let j = r.json();
    assert_eq!((r.code, &j["ok"]), (1, &Value::Bool(false)), "{j}");
    let results = j["results"].as_array().unwrap();
    assert_eq!(results.len(), 2, "{j}");
    assert_eq!(
        results
            .iter()
            .map(|x| (x["profile"].as_str().unwrap(), x["ok"].as_bool().unwrap()))
            .collect::<Vec<_>>(),
        [("good", true), ("wrong", false)],
        "{j}"
    );
    // A profile whose instance is down: 1 too (a connection failure, not a usage error).
    let dead = format!("https://127.0.0.1:{}/", free_port());
    cli.ok(
        &[
            "profile",
            "add",
            "dead",
            "--instance",
            &dead,
            "--auth",
            "basic",
            "--username",
            "admin",
        ],
        &[("SNCONNECT_PASSWORD", &admin_pw)],
    );
    cli.fails(&["test", "dead"], &[], 1, "connection_refused");

    let mut secrets = sim.all_secrets();
    secrets.push("not-the-password".into());
    assert_nothing_leaked(
        &secrets,
        &cli.runs.borrow(),
        &[cli.config_dir.path(), cli.home.path()],
        &[],
    );
}

/// oauth-password: login, refresh after a server-side expiry (exactly one refresh grant),
/// revoke (tokens dead on the server, gone from the keychain), reset (local only).
#[test]
fn token_lifecycle_via_cli() {
    let keychain = keychain_unlocked();
    let sim = Sim::start();
    let cli = Cli::with_keychain(Some(&sim), &keychain);
    let admin_pw = sim.password("admin");
    let conf_secret = sim.sim.confidential_client_secret().to_string();
    add_admin_password_grant(&cli, &sim, "life");
    let j = cli.ok(&["login", "life"], &[]);
    assert_eq!(j["user"], "admin", "{j}");
    let st = cli.ok(&["token", "status", "life"], &[]);
    assert_eq!(
        (
            st["status"].as_str(),
            &st["has_refresh_token"],
            &st["has_access_token"]
        ),
        (Some("connected"), &Value::Bool(true), &Value::Bool(true)),
        "{st}"
    );
    // Tokens held now: the keychain items that are neither the password nor the secret.
    let tokens = |keychain: &SecretService| -> Vec<String> {
        stored(keychain)
            .into_iter()
            .filter(|s| *s != admin_pw && *s != conf_secret)
            .collect()
    };
    let held = tokens(&keychain);
    assert_eq!(held.len(), 2, "access + refresh token in the keychain");
    for t in &held {
        assert!(
            sim.sim.issued_secrets().contains(t),
            "a keychain item the simulator never issued"
        );
    }

    // The server expires the access token; `test` gets a 401, refreshes once, retries.
    sim.sim.clear_requests();
    assert!(sim.sim.expire_access_tokens() >= 1);
    let j = cli.ok(&["test", "life"], &[]);
    assert_eq!(j["user"], "admin", "{j}");
    assert_eq!(
        sim.sim
            .count_requests("/oauth_token.do", Some("refresh_token")),
        1,
        "{:?}",
        sim.sim.requests()
    );
    assert_eq!(
        sim.sim.count_requests("/oauth_token.do", Some("password")),
        0,
        "{:?}",
        sim.sim.requests()
    );
    let checks = names_in(&j["checks"]);
    assert!(checks.contains(&"token refresh after 401"), "{j}");

    // Revoke: the tokens die on the server and leave the keychain.
    let held = tokens(&keychain);
    assert_eq!(held.len(), 2, "access + refresh token after the refresh");
    let (access, refresh): (Vec<&String>, Vec<&String>) =
        held.iter().partition(|t| sim.bearer_status(t) == 200);
    assert_eq!(
        (access.len(), refresh.len()),
        (1, 1),
        "one live access token and one refresh token in the keychain"
    );
    let revokes = sim.sim.count_requests("/oauth_revoke_token.do", None);
    let j = cli.ok(&["token", "revoke", "life"], &[]);
    assert_eq!(j["status"], "needs_reauth", "{j}");
    assert!(
        sim.sim.count_requests("/oauth_revoke_token.do", None) > revokes,
        "no revocation reached the server: {:?}",
        sim.sim.requests()
    );
    assert_eq!(
        sim.bearer_status(access[0]),
        401,
        "the access token still works after `token revoke`"
    );
    assert_eq!(
        sim.refresh_status(refresh[0]),
        401,
        "the refresh token still works after `token revoke`"
    );
    assert!(
        tokens(&keychain).is_empty(),
        "tokens left in the keychain after revoke"
    );
    let st = cli.ok(&["token", "status", "life"], &[]);
    assert_eq!(
        (st["status"].as_str(), &st["has_refresh_token"]),
        (Some("needs_reauth"), &Value::Bool(false)),
        "{st}"
    );

    // (`test` right after the revoke is `revoked_renewable_profile_needs_login`, ignored
    // until the CLI stops renewing a revoked grant behind the user's back.)

    // Reset after a fresh login: forgotten here, nothing sent to the server.
    cli.ok(&["login", "life"], &[]);
    let held = tokens(&keychain);
    assert_eq!(held.len(), 2, "tokens after the second login");
    let revokes = sim.sim.count_requests("/oauth_revoke_token.do", None);
    let j = cli.ok(&["token", "reset", "life"], &[]);
    assert_eq!(j["status"], "needs_reauth", "{j}");
    assert_eq!(
        sim.sim.count_requests("/oauth_revoke_token.do", None),
        revokes,
        "reset sent a revocation"
    );
    assert!(
        tokens(&keychain).is_empty(),
        "tokens left in the keychain after reset"
    );
    let (access, refresh): (Vec<&String>, Vec<&String>) =
        held.iter().partition(|t| sim.bearer_status(t) == 200);
    assert_eq!(
        access.len(),
        1,
        "the access token must still work on the server after a local reset"
    );
    assert_eq!(
        sim.refresh_status(refresh[0]),
        200,
        "the refresh token must still work on the server after a local reset"
    );
    let st = cli.ok(&["token", "status", "life"], &[]);
    assert_eq!(st["status"], "needs_reauth", "{st}");

    assert_nothing_leaked(
        &sim.all_secrets(),
        &cli.runs.borrow(),
        &[cli.config_dir.path(), cli.home.path()],
        &[],
    );
}

/// After `token revoke`, `test` (and `report`, `token refresh`) of an oauth-password profile
/// must not quietly obtain a new grant with the stored password: it asks for a login.
#[test]
fn revoked_renewable_profile_needs_login() {
    let keychain = keychain_unlocked();
    let sim = Sim::start();
    let cli = Cli::with_keychain(Some(&sim), &keychain);
    add_admin_password_grant(&cli, &sim, "rev");
    cli.ok(&["login", "rev", "--no-test"], &[]);
    cli.ok(&["token", "revoke", "rev"], &[]);
    assert_eq!(
        cli.ok(&["token", "status", "rev"], &[])["status"],
        "needs_reauth"
    );
    let grants = sim.sim.count_requests("/oauth_token.do", Some("password"));
    let r = cli.run(&["test", "rev"], &[]);
    let j = r.json();
    assert_eq!(
        (r.code, &j["ok"]),
        (1, &Value::Bool(false)),
        "`test` after `token revoke` must ask for a login, not sign in again silently: {j}"
    );
    assert!(
        j["code"] == "refresh_token_expired" || j["detail"].to_string().contains("login"),
        "{j}"
    );
    assert_eq!(
        sim.sim.count_requests("/oauth_token.do", Some("password")),
        grants,
        "`test` sent a new password grant after the revoke"
    );
    assert_eq!(
        cli.ok(&["token", "status", "rev"], &[])["status"],
        "needs_reauth"
    );
}

/// With admin access, `login` reads the client's Refresh Token Lifespan from its registry
/// record, and the refresh token's expiry follows it (not the 100-day default).
#[test]
fn refresh_token_lifespan_is_read_from_the_instance() {
    let keychain = keychain_unlocked();
    let sim = Sim::start();
    let cli = Cli::with_keychain(Some(&sim), &keychain);
    let admin_pw = sim.password("admin");
    // The registry record says 1000 s.
    let (status, entity) = sim.table_as_admin(
        reqwest::Method::GET,
        &format!(
            "api/now/table/oauth_entity?sysparm_query=client_id={}&sysparm_fields=sys_id",
            sim.sim.confidential_client_id()
        ),
        None,
    );
    assert_eq!(status, 200, "{entity}");
    let sys_id = entity["result"][0]["sys_id"].as_str().unwrap().to_string();
    let (status, patched) = sim.table_as_admin(
        reqwest::Method::PATCH,
        &format!("api/now/table/oauth_entity/{sys_id}"),
        Some(serde_json::json!({"refresh_token_lifespan": "1000"})),
    );
    assert_eq!(status, 200, "{patched}");
    add_admin_password_grant(&cli, &sim, "span");
    // Without admin access the default applies.
    cli.ok(&["login", "span", "--no-test"], &[]);
    let st = cli.ok(&["token", "status", "span"], &[]);
    let span = |st: &Value| {
        st["refresh_expires_at"].as_u64().unwrap() - st["obtained_at"].as_u64().unwrap()
    };
    assert_eq!(span(&st), 8_640_000, "{st}");
    // With it, the record's lifespan is used and recorded.
    cli.ok(
        &["login", "span", "--no-test", "--admin-username", "admin"],
        &[("SNCONNECT_ADMIN_PASSWORD", &admin_pw)],
    );
    let st = cli.ok(&["token", "status", "span"], &[]);
    assert_eq!(span(&st), 1000, "{st}");
    let shown = cli.ok(&["profile", "show", "span"], &[]);
    assert_eq!(shown["profile"]["refresh_token_lifespan"], 1000, "{shown}");
}

/// Two config dirs with a same-named profile use separate keychain entries: neither sees,
/// overwrites nor deletes the other's secrets.
#[test]
fn config_dirs_do_not_share_keychain_entries() {
    let keychain = keychain_unlocked();
    let sim = Sim::start();
    let a = Cli::with_keychain(Some(&sim), &keychain);
    let b = Cli::with_keychain(Some(&sim), &keychain);
    let admin_pw = sim.password("admin");
    add(
        &a,
        &sim,
        "same",
        "basic",
        &["--username", "admin"],
        &[("SNCONNECT_PASSWORD", &admin_pw)],
    );
    add(
        &b,
        &sim,
        "same",
        "basic",
        &["--username", "admin"],
        &[("SNCONNECT_PASSWORD", "not-the-password")],
    );
    a.ok(&["test", "same"], &[]);
    b.fails(&["test", "same"], &[], 1, "basic_auth_rejected");
    b.ok(&["profile", "remove", "same"], &[]);
    a.ok(&["test", "same"], &[]);
}
