//! Harness shared by the core's integration tests (`mod support;` in a test file): snsim over
//! real TLS with an `HttpConfig` trusting its throwaway CA, secrets in a `MemoryStore`,
//! profiles and connections for it, and a browser stand-in that follows an `auto_approve`
//! simulator's redirect to the loopback listener. Each test crate uses a subset.

#![allow(dead_code)]

use snconnect_core::browser::BrowserLauncher;
use snconnect_core::conn_test::{ApiAuth, Check};
use snconnect_core::connection::Connection;
use snconnect_core::http::{build_client, HttpConfig, ProxyMode};
use snconnect_core::keychain::{account, MemoryStore, SecretStore};
use snconnect_core::loopback::redirect_url;
use snconnect_core::profiles::{AuthMethod, Profile, TokenMeta};
use snconnect_core::verify::{begin_consent, ConsentOptions};
use snconnect_core::{Code, Diagnosis, InstanceUrl, Secret};
use snsim::{RunningSim, SimConfig, CONFIDENTIAL_CLIENT_ID};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The seeded users' credentials.
pub const ADMIN_PASSWORD: &str = "Admin#1234";
pub const ADMIN: (&str, &str) = ("admin", ADMIN_PASSWORD);
pub const ABEL: (&str, &str) = ("abel.tuter", "Abel#1234");
pub const NO_ROLES: (&str, &str) = ("no.roles", "None#1234");
pub const OAUTH_ADMIN: (&str, &str) = ("oauth.admin", "OAuth#1234");

pub const TOKEN_PATH: &str = "/oauth_token.do";

// ---- the simulator and the HTTP clients ---------------------------------------------------

pub async fn start(cfg: SimConfig) -> RunningSim {
    RunningSim::start(cfg).await.expect("snsim starts")
}

/// A loopback port that was free a moment ago (the consent listener binds it next).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A sim started from `cfg` whose seeded clients have `http://127.0.0.1:{port}/callback`
/// registered, so a consent listener on `port` gets the redirect (ServiceNow redirects an
/// unregistered URL to the first registered one).
pub async fn start_with_redirect_port(cfg: SimConfig) -> (RunningSim, u16) {
    let port = free_port();
    let sim = start(SimConfig {
        redirect_urls: vec![redirect_url(port)],
        ..cfg
    })
    .await;
    (sim, port)
}

/// The HTTP settings snconnect would use against this sim: its CA trusted, no proxy.
pub fn http_config(sim: &RunningSim) -> HttpConfig {
    HttpConfig {
        extra_ca_pem: vec![sim.ca_pem().expect("TLS").as_bytes().to_vec()],
        proxy: ProxyMode::None,
        ..HttpConfig::default()
    }
}

/// The core's one client, trusting the simulator's throwaway CA.
pub fn core_http(sim: &RunningSim) -> reqwest::Client {
    build_client(&http_config(sim)).expect("client builds")
}

/// A plain client for checks and setup done "by hand" (not through the core).
pub fn raw_http(sim: &RunningSim) -> reqwest::Client {
    reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(
            reqwest::Certificate::from_pem(sim.ca_pem().expect("TLS").as_bytes()).unwrap(),
        )
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap()
}

pub fn instance(sim: &RunningSim) -> InstanceUrl {
    InstanceUrl::parse(sim.base_url().as_str()).expect("sim URL is an instance URL")
}

/// Basic credentials for API calls made outside a `Connection`.
pub fn basic((user, password): (&str, &str)) -> ApiAuth {
    ApiAuth::Basic {
        username: user.to_string(),
        password: Secret::new(password),
    }
}

/// Token requests of one grant type that got `status`.
pub fn grants(sim: &RunningSim, grant: &str, status: u16) -> usize {
    sim.requests()
        .iter()
        .filter(|r| {
            r.path == TOKEN_PATH && r.grant_type.as_deref() == Some(grant) && r.status == status
        })
        .count()
}

/// Enables client_credentials the platform way: the system property, and an OAuth
/// Application User on the confidential client's `oauth_entity` record (PATCH as admin).
pub async fn enable_client_credentials(sim: &RunningSim, app_user: &str) {
    sim.set_property(snsim::properties::CLIENT_CREDENTIALS, "true");
    let http = raw_http(sim);
    let base = sim.base_url();
    let list: serde_json::Value = http
        .get(base.join("api/now/table/oauth_entity").unwrap())
        .query(&[
            (
                "sysparm_query",
                format!("client_id={CONFIDENTIAL_CLIENT_ID}"),
            ),
            ("sysparm_fields", "sys_id,client_id".to_string()),
        ])
        .basic_auth("admin", Some(ADMIN_PASSWORD))
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rows = list["result"].as_array().expect("result array");
    assert_eq!(rows.len(), 1, "{list}");
    let sys_id = rows[0]["sys_id"].as_str().unwrap().to_string();
    let res = http
        .patch(
            base.join(&format!("api/now/table/oauth_entity/{sys_id}"))
                .unwrap(),
        )
        .basic_auth("admin", Some(ADMIN_PASSWORD))
        .header("Accept", "application/json")
        .json(&serde_json::json!({ "oauth_application_user": app_user }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        200,
        "{}",
        res.text().await.unwrap_or_default()
    );
}

// ---- secrets, profiles, connections -------------------------------------------------------

pub fn store() -> Arc<MemoryStore> {
    Arc::new(MemoryStore::default())
}

/// A fresh store holding `(profile, what, value)` entries.
pub fn store_with(entries: &[(&str, &str, &str)]) -> Arc<MemoryStore> {
    let store = store();
    for (profile, what, value) in entries {
        put(&store, profile, what, value);
    }
    store
}

pub fn put(store: &MemoryStore, profile: &str, what: &str, value: &str) {
    store
        .set(&account(profile, what), &Secret::new(value))
        .unwrap();
}

pub fn stored(store: &MemoryStore, profile: &str, what: &str) -> Option<String> {
    store
        .get(&account(profile, what))
        .unwrap()
        .map(|s| s.expose().to_string())
}

/// A profile named `name` for `instance`, nothing else set.
pub fn profile_at(name: &str, instance: &str, auth: AuthMethod) -> Profile {
    Profile {
        name: name.into(),
        instance: instance.to_string(),
        auth,
        ..Profile::default()
    }
}

/// A profile named `name` for the simulator, nothing else set.
pub fn profile(name: &str, sim: &RunningSim, auth: AuthMethod) -> Profile {
    profile_at(name, sim.base_url().as_str(), auth)
}

/// Opens `p` through the core's client with the secrets already in `store`.
pub async fn open(p: Profile, sim: &RunningSim, store: &Arc<MemoryStore>) -> Connection {
    let dyn_store: Arc<dyn SecretStore> = store.clone();
    Connection::open(p, core_http(sim), dyn_store)
        .await
        .expect("connection opens")
}

// ---- a browser that does its job ----------------------------------------------------------

/// What the stand-in browser saw (no secrets: the code and state are not kept).
#[derive(Debug, Default, Clone)]
pub struct BrowserLog {
    pub authorize_status: u16,
    /// The redirect target without its query.
    pub location: String,
    pub had_code: bool,
    pub had_state: bool,
    pub callback_status: u16,
}

/// Plays the person at the browser for an `auto_approve` simulator: GET the authorize URL (no
/// redirects followed), read `Location`, then GET that URL (the loopback listener, or wherever
/// the instance sent it) like the browser would. Logs, per open, what it saw or where it
/// failed.
#[derive(Clone)]
pub struct LoopbackBrowser {
    ca_pem: Vec<u8>,
    /// Bound for each request the browser makes.
    timeout: Duration,
    /// Whether a callback that answers other than 2xx is a failed open (logged as an error,
    /// `BrowserUnavailable` to the caller) rather than logged for the test to judge.
    pub callback_must_succeed: bool,
    log: Arc<Mutex<Vec<Result<BrowserLog, String>>>>,
}

impl LoopbackBrowser {
    pub fn new(sim: &RunningSim, timeout: Duration) -> Self {
        LoopbackBrowser {
            ca_pem: sim.ca_pem().unwrap().as_bytes().to_vec(),
            timeout,
            callback_must_succeed: false,
            log: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Per open, what the browser saw, or where it failed.
    pub fn logs(&self) -> Vec<Result<BrowserLog, String>> {
        self.log.lock().unwrap().clone()
    }

    /// Per open, the redirect target without its query, or where it failed.
    pub fn runs(&self) -> Vec<Result<String, String>> {
        self.logs()
            .into_iter()
            .map(|r| r.map(|l| l.location))
            .collect()
    }

    async fn browse(self, url: String) -> Result<BrowserLog, String> {
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .add_root_certificate(
                reqwest::Certificate::from_pem(&self.ca_pem).map_err(|e| e.to_string())?,
            )
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(self.timeout)
            .build()
            .map_err(|e| e.to_string())?;
        let res = client.get(&url).send().await.map_err(|e| e.to_string())?;
        let authorize_status = res.status().as_u16();
        let location = res
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| format!("authorize answered {authorize_status} without Location"))?
            .to_string();
        let loc = url::Url::parse(&location).map_err(|e| e.to_string())?;
        let has = |k: &str| loc.query_pairs().any(|(n, v)| n == k && !v.is_empty());
        let mut log = BrowserLog {
            authorize_status,
            location: format!("{}://{}{}", loc.scheme(), loc.authority(), loc.path()),
            had_code: has("code"),
            had_state: has("state"),
            callback_status: 0,
        };
        let cb = client
            .get(&location)
            .send()
            .await
            .map_err(|e| format!("GET {}: {e}", log.location))?;
        // The listener answers its own callback with a redirect to a clean end page, which a
        // browser follows.
        let end = cb
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let ok = match (cb.status().as_u16(), end) {
            (303, Some(path)) => {
                let page = format!("http://127.0.0.1:{}{path}", cb.url().port().unwrap_or(80));
                client
                    .get(&page)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            }
            (s, _) => (200..300).contains(&s),
        };
        if self.callback_must_succeed && !ok {
            return Err(format!("GET {} answered {}", log.location, cb.status()));
        }
        log.callback_status = cb.status().as_u16();
        Ok(log)
    }
}

impl BrowserLauncher for LoopbackBrowser {
    fn open(&self, url: &str) -> Result<(), Diagnosis> {
        let (me, url) = (self.clone(), url.to_string());
        // `open` runs inside spawn_blocking: a thread of its own with a small runtime.
        let outcome = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(me.browse(url))
        })
        .join()
        .unwrap_or_else(|_| Err("browser thread panicked".into()));
        self.log.lock().unwrap().push(outcome.clone());
        outcome
            .map(|_| ())
            .map_err(|e| Diagnosis::new(Code::BrowserUnavailable).with_detail(e))
    }
}

/// Runs the browser consent for `conn`'s registration on `port` with `browser` (the simulator
/// must auto-approve), waiting up to `timeout`, and stores the grant in `conn`. Returns the
/// authorize URL, the checks the consent reported and the stored grant's facts.
pub async fn consent_with(
    sim: &RunningSim,
    conn: &Connection,
    port: u16,
    pkce: bool,
    timeout: Duration,
    browser: &LoopbackBrowser,
) -> (url::Url, Vec<Check>, TokenMeta) {
    let reg = conn.registration().expect("an OAuth profile").clone();
    let opts = ConsentOptions {
        ports: vec![port],
        pkce,
        timeout,
    };
    let pending = begin_consent(&reg, &opts, Arc::new(browser.clone()))
        .await
        .expect("consent starts");
    assert_eq!(pending.redirect_url, redirect_url(port));
    let authorize_url = pending.authorize_url.clone();
    let (tokens, checks) =
        pending
            .finish(&core_http(sim), &reg)
            .await
            .unwrap_or_else(|(d, checks)| {
                panic!(
                    "consent failed: {d} {checks:?}; browser: {:?}",
                    browser.logs()
                )
            });
    let meta = conn.store_grant(tokens).await.expect("grant stored");
    (authorize_url, checks, meta)
}
