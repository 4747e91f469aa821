//! One test per diagnosis code, each driving the real path: snsim over real TLS (its throwaway
//! CA trusted through `HttpConfig::extra_ca_pem`), the one configured client, `Connection`
//! with a `MemoryStore` for secrets, the loopback listener and the probes. Each asserts the
//! exact `Code` and, where the evidence matters, what `detail` names.
//!
//! `every_code_is_covered_or_listed` keeps this file honest: a new `Code` without a test here
//! (or an entry, with a reason, in `SKIPPED` / `COVERED_ELSEWHERE`) fails it.
//!
//! Nothing here contacts a non-loopback address, except the system resolver asked about a
//! `.invalid` name (RFC 6761: never resolves) for `dns_failure`.

mod support;

use snconnect_core::browser::{BrowserLauncher, NoBrowser};
use snconnect_core::conn_test::{table_query, table_read, test_connection, ApiAuth, ApiKeyIn};
use snconnect_core::connection::{AdminCredentials, Connection};
use snconnect_core::http::{build_client, HttpConfig, ProxyMode};
use snconnect_core::loopback::redirect_url;
use snconnect_core::oauth::TokenSet;
use snconnect_core::profiles::{AuthMethod, Profile, ProfileStore};
use snconnect_core::verify::{begin_consent, ConsentOptions, PendingConsent};
use snconnect_core::{Code, Diagnosis, Secret};
use snsim::{properties, RunningSim, SimConfig, CONFIDENTIAL_CLIENT_ID, PUBLIC_CLIENT_ID};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::{
    basic, free_port, http_config, instance, profile_at, start, start_with_redirect_port,
    store_with, ABEL, ADMIN, NO_ROLES,
};

// ---- helpers --------------------------------------------------------------------------------

async fn sim() -> RunningSim {
    start(SimConfig::default()).await
}

/// The HTTP settings snconnect would use against this sim: its CA trusted, no proxy, and
/// short timeouts so a hang fails fast.
fn http_cfg(sim: &RunningSim) -> HttpConfig {
    HttpConfig {
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(15),
        ..http_config(sim)
    }
}

fn plain_cfg() -> HttpConfig {
    HttpConfig {
        proxy: ProxyMode::None,
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(15),
        ..HttpConfig::default()
    }
}

fn client(cfg: &HttpConfig) -> reqwest::Client {
    build_client(cfg).expect("client builds")
}

fn profile(instance: &str, auth: AuthMethod) -> Profile {
    profile_at("diag", instance, auth)
}

fn basic_profile(instance: &str, user: &str) -> Profile {
    Profile {
        username: Some(user.to_string()),
        ..profile(instance, AuthMethod::Basic)
    }
}

fn password_grant_profile(sim: &RunningSim, user: &str) -> Profile {
    Profile {
        username: Some(user.to_string()),
        client_id: Some(CONFIDENTIAL_CLIENT_ID.into()),
        ..profile(sim.base_url().as_str(), AuthMethod::OauthPassword)
    }
}

fn client_credentials_profile(sim: &RunningSim) -> Profile {
    Profile {
        client_id: Some(CONFIDENTIAL_CLIENT_ID.into()),
        ..profile(sim.base_url().as_str(), AuthMethod::OauthClientCredentials)
    }
}

/// Opens a connection whose secrets (`(what, value)`, e.g. `("password", …)`) sit in a fresh
/// `MemoryStore`, as `verify` does.
async fn open(
    profile: Profile,
    http: &reqwest::Client,
    secrets: &[(&str, &str)],
) -> Result<Connection, Diagnosis> {
    let entries: Vec<(&str, &str, &str)> = secrets
        .iter()
        .map(|(what, value)| (profile.name.as_str(), *what, *value))
        .collect();
    let store = store_with(&entries);
    Connection::open(profile, http.clone(), store).await
}

fn admin_credentials() -> Option<AdminCredentials> {
    Some(AdminCredentials {
        username: ADMIN.0.into(),
        password: Secret::new(ADMIN.1),
    })
}

#[track_caller]
fn assert_code(d: &Diagnosis, code: Code) {
    assert_eq!(d.code, code, "expected {code}, got {d:?}");
}

#[track_caller]
fn assert_detail(d: &Diagnosis, needle: &str) {
    let detail = d.detail.as_deref().unwrap_or("");
    assert!(
        detail.contains(needle),
        "detail of [{}] should name {needle:?}: {detail:?}",
        d.code
    );
}

/// A default sim with the consent listener's port registered (`start_with_redirect_port`).
async fn sim_with_redirect_port() -> (RunningSim, u16) {
    start_with_redirect_port(SimConfig::default()).await
}

fn consent_options(port: u16, timeout: Duration) -> ConsentOptions {
    ConsentOptions {
        ports: vec![port],
        pkce: true,
        timeout,
    }
}

// ---- a browser stand-in for the consent flow --------------------------------------------------

/// Plays the user's browser against the sim: opens the authorize URL, signs in on the login
/// page, clicks Allow or Deny on the consent page and follows the redirect to the loopback
/// listener. Cookies are carried by hand (the shared client has no cookie store, on purpose).
/// The stand-in's run: the loopback redirect it followed, or where it failed.
type BrowserRun = tokio::task::JoinHandle<Result<String, String>>;

#[derive(Clone)]
struct SimBrowser {
    rt: tokio::runtime::Handle,
    http: reqwest::Client,
    user: (&'static str, &'static str),
    action: &'static str,
    /// Replace `state` before the instance sees it (an old sign-in page being reused).
    stale_state: bool,
    outcome: Arc<Mutex<Option<BrowserRun>>>,
}

impl SimBrowser {
    fn new(
        http: &reqwest::Client,
        user: (&'static str, &'static str),
        action: &'static str,
    ) -> Self {
        SimBrowser {
            rt: tokio::runtime::Handle::current(),
            http: http.clone(),
            user,
            action,
            stale_state: false,
            outcome: Arc::new(Mutex::new(None)),
        }
    }

    /// What the stand-in did: the loopback redirect it followed, or where it failed.
    async fn outcome(&self) -> Result<String, String> {
        let handle = self.outcome.lock().unwrap().take();
        match handle {
            Some(h) => h.await.unwrap_or_else(|e| Err(e.to_string())),
            None => Err("the browser was never opened".into()),
        }
    }
}

impl BrowserLauncher for SimBrowser {
    fn open(&self, url: &str) -> Result<(), Diagnosis> {
        let me = self.clone();
        let url = url.to_string();
        let handle = self.rt.spawn(async move { me.drive(url).await });
        *self.outcome.lock().unwrap() = Some(handle);
        Ok(())
    }
}

#[derive(Default)]
struct Jar(HashMap<String, String>);

impl Jar {
    fn take(&mut self, resp: &reqwest::Response) {
        for v in resp.headers().get_all(reqwest::header::SET_COOKIE) {
            let v = v.to_str().unwrap_or("");
            let pair = v.split(';').next().unwrap_or("");
            if let Some((k, val)) = pair.split_once('=') {
                self.0.insert(k.trim().to_string(), val.trim().to_string());
            }
        }
    }

    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let needle = format!(" {name}=\"");
    let start = tag.find(&needle)? + needle.len();
    let end = tag[start..].find('"')? + start;
    Some(unescape(&tag[start..end]))
}

/// `(name, value)` of every named `<input>`, in document order.
fn inputs(html: &str) -> Vec<(String, String)> {
    html.split("<input")
        .skip(1)
        .filter_map(|rest| {
            let tag = &rest[..rest.find('>')?];
            Some((attr(tag, "name")?, attr(tag, "value").unwrap_or_default()))
        })
        .collect()
}

impl SimBrowser {
    async fn drive(self, authorize: String) -> Result<String, String> {
        let mut authorize = url::Url::parse(&authorize).map_err(|e| e.to_string())?;
        if self.stale_state {
            let pairs: Vec<(String, String)> = authorize
                .query_pairs()
                .map(|(k, v)| {
                    let v = if k == "state" {
                        "staleStateFromAnOlderSignIn".to_string()
                    } else {
                        v.into_owned()
                    };
                    (k.into_owned(), v)
                })
                .collect();
            authorize.query_pairs_mut().clear().extend_pairs(pairs);
        }
        let mut jar = Jar::default();
        let get = |url: url::Url, jar: &Jar| {
            self.http
                .get(url)
                .header(reqwest::header::ACCEPT, "text/html")
                .header(reqwest::header::COOKIE, jar.header())
                .send()
        };
        let err = |step: &str, e: &dyn std::fmt::Display| format!("{step}: {e}");

        let resp = get(authorize.clone(), &jar)
            .await
            .map_err(|e| err("authorize", &e))?;
        jar.take(&resp);
        let page = resp.text().await.map_err(|e| err("authorize body", &e))?;
        let goto = inputs(&page)
            .into_iter()
            .find(|(k, _)| k == "sysparm_goto")
            .map(|(_, v)| v)
            .ok_or_else(|| format!("no login form on the authorize page: {page}"))?;

        let resp = self
            .http
            .post(authorize.join("/login.do").unwrap())
            .header(reqwest::header::COOKIE, jar.header())
            .form(&[
                ("user_name", self.user.0),
                ("user_password", self.user.1),
                ("sysparm_goto", goto.as_str()),
            ])
            .send()
            .await
            .map_err(|e| err("login", &e))?;
        if resp.status() != 302 {
            return Err(format!("login answered {}", resp.status()));
        }
        jar.take(&resp);

        let resp = get(authorize.join(&goto).unwrap(), &jar)
            .await
            .map_err(|e| err("consent page", &e))?;
        jar.take(&resp);
        let consent = resp.text().await.map_err(|e| err("consent body", &e))?;
        if !consent.contains("<h1>Authorize</h1>") {
            return Err(format!("no consent page: {consent}"));
        }
        let mut form = inputs(&consent);
        form.push(("action".into(), self.action.into()));
        let resp = self
            .http
            .post(authorize.join("/oauth_auth.do").unwrap())
            .header(reqwest::header::COOKIE, jar.header())
            .form(&form)
            .send()
            .await
            .map_err(|e| err("consent", &e))?;
        let location = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .ok_or_else(|| format!("consent answered {} without a redirect", resp.status()))?;

        // The browser follows the redirect to snconnect's loopback listener.
        let resp = self
            .http
            .get(&location)
            .send()
            .await
            .map_err(|e| err("loopback redirect", &e))?;
        let path = url::Url::parse(&location)
            .map(|u| format!("{} -> {}", u.path(), resp.status()))
            .unwrap_or_default();
        Ok(path)
    }
}

/// Runs a PKCE consent as `user` with the public client, clicking `action`.
async fn consent(
    port: u16,
    http: &reqwest::Client,
    conn: &Connection,
    user: (&'static str, &'static str),
    action: &'static str,
    stale_state: bool,
) -> (Result<TokenSet, Diagnosis>, Result<String, String>) {
    let mut browser = SimBrowser::new(http, user, action);
    browser.stale_state = stale_state;
    let reg = conn.registration().expect("an OAuth connection");
    let pending = begin_consent(
        reg,
        &consent_options(port, Duration::from_secs(20)),
        Arc::new(browser.clone()),
    )
    .await
    .expect("consent starts");
    assert!(pending.browser.is_ok(), "{:?}", pending.browser);
    let result = pending
        .finish(http, reg)
        .await
        .map(|(t, _)| t)
        .map_err(|(d, _)| d);
    (result, browser.outcome().await)
}

fn pkce_profile(sim: &RunningSim, port: u16) -> Profile {
    Profile {
        client_id: Some(PUBLIC_CLIENT_ID.into()),
        redirect_port: Some(port),
        ..profile(sim.base_url().as_str(), AuthMethod::OauthCodePkce)
    }
}

/// A connection signed in through the browser flow (login, Allow, code exchange).
async fn signed_in_pkce(sim: &RunningSim, port: u16, http: &reqwest::Client) -> Connection {
    let conn = open(pkce_profile(sim, port), http, &[]).await.unwrap();
    let (tokens, browser) = consent(port, http, &conn, ADMIN, "allow", false).await;
    let tokens = tokens.unwrap_or_else(|d| panic!("consent failed: {d:?}; browser: {browser:?}"));
    conn.store_grant(tokens).await.unwrap();
    conn
}

/// A consent whose browser never comes back: begin with no browser at all.
async fn pending_without_browser(
    conn: &Connection,
    port: u16,
    timeout: Duration,
) -> PendingConsent {
    begin_consent(
        conn.registration().unwrap(),
        &consent_options(port, timeout),
        Arc::new(NoBrowser),
    )
    .await
    .expect("consent starts")
}

// ---- ok, usage and configuration ------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn ok() {
    // The whole authorization-code + PKCE path: listener, login and Allow in the "browser",
    // redirect, code exchange, stored tokens, then the test with the Bearer token.
    let (sim, port) = sim_with_redirect_port().await;
    let http = client(&http_cfg(&sim));
    let conn = signed_in_pkce(&sim, port, &http).await;
    let report = conn.test().await;
    assert_code(&report.diagnosis, Code::Ok);
    assert!(report.ok());
    assert_eq!(report.identity.unwrap().user_name, "admin");
    assert!(report.checks.iter().all(|c| c.ok), "{:?}", report.checks);
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_error() {
    let sim = sim().await;
    let http = client(&http_cfg(&sim));
    let mut p = password_grant_profile(&sim, "admin");
    p.username = None;
    let d = open(p, &http, &[("client_secret", "x"), ("password", "y")])
        .await
        .unwrap_err();
    assert_code(&d, Code::UsageError);
    assert_detail(&d, "--username");
}

#[tokio::test(flavor = "multi_thread")]
async fn config_unreadable() {
    let dir = tempfile::tempdir().unwrap();
    let store = ProfileStore::new(dir.path());
    std::fs::write(store.path(), b"{\"schema_version\": 1, \"profiles\": [").unwrap();
    let d = store.load().unwrap_err();
    assert_code(&d, Code::ConfigUnreadable);
    assert_detail(&d, "profiles.json");
    // Never overwritten.
    let d = store
        .upsert(basic_profile("https://acme.service-now.com", "admin"))
        .unwrap_err();
    assert_code(&d, Code::ConfigUnreadable);
}

#[tokio::test(flavor = "multi_thread")]
async fn config_unwritable() {
    // A config dir whose parent is a regular file: root cannot create it either.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let store = ProfileStore::new(file.join("snconnect"));
    let d = store.save(&Default::default()).unwrap_err();
    assert_code(&d, Code::ConfigUnwritable);
    assert_detail(&d, "not-a-dir");
    // (`upsert` on that store reports config_unreadable today: `load` treats ENOTDIR as an
    // unreadable file rather than "nothing saved yet"; reported.)

    // The whole `upsert` path, into a directory that exists but where not even root may
    // create a file (procfs).
    #[cfg(target_os = "linux")]
    {
        let store = ProfileStore::new("/proc");
        let d = store
            .upsert(basic_profile("https://acme.service-now.com", "admin"))
            .unwrap_err();
        assert_code(&d, Code::ConfigUnwritable);
        assert_detail(&d, "/proc");
    }
}

// ---- the instance URL ------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn invalid_instance_url() {
    let http = client(&plain_cfg());
    let d = open(
        basic_profile("acme corp", "admin"),
        &http,
        &[("password", "x")],
    )
    .await
    .unwrap_err();
    assert_code(&d, Code::InvalidInstanceUrl);
    assert_detail(&d, "acme corp");
}

#[tokio::test(flavor = "multi_thread")]
async fn insecure_url_refused() {
    let http = client(&plain_cfg());
    let d = open(
        basic_profile("http://acme.service-now.com", "admin"),
        &http,
        &[("password", "x")],
    )
    .await
    .unwrap_err();
    assert_code(&d, Code::InsecureUrlRefused);
    assert_detail(&d, "http://");
}

// ---- transport ------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn dns_failure() {
    let http = client(&plain_cfg());
    let conn = open(
        basic_profile("https://snconnect-diagnosis-test.invalid/", "admin"),
        &http,
        &[("password", "x")],
    )
    .await
    .unwrap();
    let report = conn.test().await;
    assert_code(&report.diagnosis, Code::DnsFailure);
    assert_detail(&report.diagnosis, "dns error");
}

#[tokio::test(flavor = "multi_thread")]
async fn connection_refused() {
    let port = free_port();
    let http = client(&plain_cfg());
    let conn = open(
        basic_profile(&format!("https://127.0.0.1:{port}/"), "admin"),
        &http,
        &[("password", "x")],
    )
    .await
    .unwrap();
    let report = conn.test().await;
    assert_code(&report.diagnosis, Code::ConnectionRefused);
}

#[tokio::test(flavor = "multi_thread")]
async fn connect_timeout() {
    // A loopback listener with the smallest backlog that never accepts: once its accept queue
    // is full, Linux drops further SYNs, so a connect hangs until the connect timeout.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    let filled = tokio::task::spawn_blocking(move || {
        for _ in 0..64 {
            match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                Ok(s) => fillers.push(s),
                Err(_) => return Some(fillers),
            }
        }
        None
    })
    .await
    .unwrap();
    let fillers = filled.expect("the accept queue of a backlog-0 listener filled up");
    let cfg = HttpConfig {
        connect_timeout: Duration::from_millis(300),
        ..plain_cfg()
    };
    let http = client(&cfg);
    let conn = open(
        basic_profile(&format!("https://{addr}/"), "admin"),
        &http,
        &[("password", "x")],
    )
    .await
    .unwrap();
    let report = conn.test().await;
    assert_code(&report.diagnosis, Code::ConnectTimeout);
    drop((fillers, listener));
}

#[tokio::test(flavor = "multi_thread")]
async fn request_timeout() {
    let sim = sim().await;
    sim.update_switches(|s| s.faults.latency_ms = 3_000);
    let cfg = HttpConfig {
        request_timeout: Duration::from_millis(400),
        ..http_cfg(&sim)
    };
    let http = client(&cfg);
    let conn = open(
        basic_profile(sim.base_url().as_str(), ADMIN.0),
        &http,
        &[("password", ADMIN.1)],
    )
    .await
    .unwrap();
    let report = conn.test().await;
    assert_code(&report.diagnosis, Code::RequestTimeout);
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_untrusted_certificate() {
    let sim = sim().await;
    let conn_for = |cfg: HttpConfig| {
        let http = client(&cfg);
        let p = basic_profile(sim.base_url().as_str(), ADMIN.0);
        async move { open(p, &http, &[("password", ADMIN.1)]).await.unwrap() }
    };
    // The sim's CA not trusted (a corporate proxy re-signing HTTPS looks like this).
    let report = conn_for(plain_cfg()).await.test().await;
    assert_code(&report.diagnosis, Code::TlsUntrustedCertificate);
    // The CA trusted, but the server presents a leaf from another CA.
    sim.update_switches(|s| s.untrusted_certificate = true);
    let report = conn_for(http_cfg(&sim)).await.test().await;
    assert_code(&report.diagnosis, Code::TlsUntrustedCertificate);
}

/// A loopback TCP server that reads what the client sends and answers `reply`, then closes.
async fn tcp_answering(reply: &'static [u8]) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(reply).await;
                let _ = s.shutdown().await;
            });
        }
    });
    addr
}

async fn basic_test_at(url: &str) -> Diagnosis {
    let http = client(&plain_cfg());
    let conn = open(basic_profile(url, ADMIN.0), &http, &[("password", ADMIN.1)])
        .await
        .unwrap();
    conn.test().await.diagnosis
}

/// A TLS alert record: fatal handshake_failure (what a server with no protocol version or
/// cipher suite in common answers to the ClientHello).
const TLS_HANDSHAKE_FAILURE_ALERT: &[u8] = &[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28];

#[tokio::test(flavor = "multi_thread")]
async fn tls_handshake_failed() {
    let addr = tcp_answering(TLS_HANDSHAKE_FAILURE_ALERT).await;
    let d = basic_test_at(&format!("https://{addr}/")).await;
    assert_code(&d, Code::TlsHandshakeFailed);
    assert_detail(&d, "HandshakeFailure");
    // A server that closes during the handshake.
    let addr = tcp_answering(b"").await;
    let d = basic_test_at(&format!("https://{addr}/")).await;
    assert_code(&d, Code::TlsHandshakeFailed);
}

/// https:// to a port that speaks plain HTTP: rustls says "received corrupt message of type
/// InvalidContentType" and reqwest marks the error `is_connect()`; still a TLS failure.
#[tokio::test(flavor = "multi_thread")]
async fn tls_handshake_failed_on_a_plain_http_port() {
    let sim = start(SimConfig {
        tls: false,
        ..SimConfig::default()
    })
    .await;
    let d = basic_test_at(&format!("https://{}/", sim.local_addr())).await;
    assert_code(&d, Code::TlsHandshakeFailed);
    let addr = tcp_answering(b"SSH-2.0-OpenSSH_9.6\r\n").await;
    let d = basic_test_at(&format!("https://{addr}/")).await;
    assert_code(&d, Code::TlsHandshakeFailed);
}

// ---- instance states and odd answers ----------------------------------------------------------

async fn basic_test_as(sim: &RunningSim, user: (&str, &str)) -> Diagnosis {
    let http = client(&http_cfg(sim));
    let conn = open(
        basic_profile(sim.base_url().as_str(), user.0),
        &http,
        &[("password", user.1)],
    )
    .await
    .unwrap();
    conn.test().await.diagnosis
}

#[tokio::test(flavor = "multi_thread")]
async fn instance_hibernating() {
    let sim = sim().await;
    sim.update_switches(|s| s.instance_state = snsim::InstanceState::Hibernating);
    let d = basic_test_as(&sim, ADMIN).await;
    assert_code(&d, Code::InstanceHibernating);
    assert_detail(&d, "HTTP 200");
}

#[tokio::test(flavor = "multi_thread")]
async fn instance_unavailable() {
    let sim = sim().await;
    sim.update_switches(|s| s.instance_state = snsim::InstanceState::Edge502);
    let d = basic_test_as(&sim, ADMIN).await;
    assert_code(&d, Code::InstanceUnavailable);
    assert_detail(&d, "HTTP 502");
}

#[tokio::test(flavor = "multi_thread")]
async fn unexpected_html() {
    let sim = sim().await;
    sim.update_switches(|s| s.instance_state = snsim::InstanceState::ApiLoginPage);
    let d = basic_test_as(&sim, ADMIN).await;
    assert_code(&d, Code::UnexpectedHtml);
    assert_detail(&d, "text/html");
}

#[tokio::test(flavor = "multi_thread")]
async fn unexpected_response() {
    let sim = sim().await;
    sim.update_switches(|s| s.faults.malformed_json = true);
    let d = basic_test_as(&sim, ADMIN).await;
    assert_code(&d, Code::UnexpectedResponse);
    assert_detail(&d, "application/json");
}

// ---- API credentials ------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn basic_auth_rejected() {
    let sim = sim().await;
    let d = basic_test_as(&sim, (ADMIN.0, "wrong-password")).await;
    assert_code(&d, Code::BasicAuthRejected);
    assert_detail(&d, "HTTP 401");
}

#[tokio::test(flavor = "multi_thread")]
async fn mfa_required() {
    let sim = sim().await;
    sim.update_switches(|s| s.mfa = true);
    let d = basic_test_as(&sim, ADMIN).await;
    assert_code(&d, Code::MfaRequired);
    assert_detail(&d, "X-MFA_TOKEN");
}

#[tokio::test(flavor = "multi_thread")]
async fn api_key_rejected() {
    let sim = sim().await;
    let http = client(&http_cfg(&sim));
    for location in [ApiKeyIn::Header, ApiKeyIn::Query] {
        let p = Profile {
            api_key_in: Some(location),
            ..profile(sim.base_url().as_str(), AuthMethod::ApiKey)
        };
        // The right key works; a wrong one is refused.
        let conn = open(p.clone(), &http, &[("api_key", sim.api_key())])
            .await
            .unwrap();
        assert_code(&conn.test().await.diagnosis, Code::Ok);
        let conn = open(p, &http, &[("api_key", "not-the-key")]).await.unwrap();
        let d = conn.test().await.diagnosis;
        assert_code(&d, Code::ApiKeyRejected);
        assert_detail(&d, "HTTP 401");
    }
}

// ---- token requests and the probes ------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn token_request_denied() {
    // Client credentials with a wrong secret and no admin credentials: no probe can decide.
    let sim = sim().await;
    let http = client(&http_cfg(&sim));
    let conn = open(
        client_credentials_profile(&sim),
        &http,
        &[("client_secret", "wrong-secret")],
    )
    .await
    .unwrap();
    let d = conn.grant_without_browser().await.unwrap_err();
    assert_code(&d, Code::TokenRequestDenied);
    assert_detail(&d, "access_denied");
    assert_detail(&d, "no admin credentials");
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_user_credentials() {
    let sim = sim().await;
    let http = client(&http_cfg(&sim));
    let conn = open(
        password_grant_profile(&sim, ABEL.0),
        &http,
        &[
            ("client_secret", sim.confidential_client_secret()),
            ("password", "wrong-password"),
        ],
    )
    .await
    .unwrap();
    let d = conn.grant_without_browser().await.unwrap_err();
    assert_code(&d, Code::InvalidUserCredentials);
    assert_detail(&d, "basic auth as abel.tuter was refused");
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_client() {
    // The user's password is right and the user is an admin, so the probe checks every layer
    // and finds them fine: the client secret is what is left.
    let sim = sim().await;
    let http = client(&http_cfg(&sim));
    let conn = open(
        password_grant_profile(&sim, ADMIN.0),
        &http,
        &[("client_secret", "wrong-secret"), ("password", ADMIN.1)],
    )
    .await
    .unwrap();
    let d = conn.grant_without_browser().await.unwrap_err();
    assert_code(&d, Code::InvalidClient);
    assert_detail(&d, "client secret");
}

#[tokio::test(flavor = "multi_thread")]
async fn client_credentials_disabled() {
    // A fresh instance: the enabling property is absent. Admin credentials let the probe see it.
    let sim = sim().await;
    assert_eq!(sim.property(properties::CLIENT_CREDENTIALS), None);
    let http = client(&http_cfg(&sim));
    let conn = open(
        client_credentials_profile(&sim),
        &http,
        &[("client_secret", sim.confidential_client_secret())],
    )
    .await
    .unwrap()
    .with_admin(admin_credentials());
    let d = conn.grant_without_browser().await.unwrap_err();
    assert_code(&d, Code::ClientCredentialsDisabled);
    assert_detail(&d, properties::CLIENT_CREDENTIALS);
}

#[tokio::test(flavor = "multi_thread")]
async fn password_grant_disabled() {
    let sim = sim().await;
    sim.set_property(properties::ROPC_DISABLED, "true");
    let http = client(&http_cfg(&sim));
    let conn = open(
        password_grant_profile(&sim, ADMIN.0),
        &http,
        &[
            ("client_secret", sim.confidential_client_secret()),
            ("password", ADMIN.1),
        ],
    )
    .await
    .unwrap();
    let d = conn.grant_without_browser().await.unwrap_err();
    assert_code(&d, Code::PasswordGrantDisabled);
    assert_detail(&d, properties::ROPC_DISABLED);
}

#[tokio::test(flavor = "multi_thread")]
async fn plugin_inactive() {
    let sim = sim().await;
    sim.update_switches(|s| {
        s.plugin_active_format = snsim::PluginActiveFormat::Active;
    });
    assert!(sim.set_plugin_active(snconnect_core::probe::OAUTH_PLUGIN, false));
    sim.set_property(properties::CLIENT_CREDENTIALS, "true");
    let http = client(&http_cfg(&sim));
    let conn = open(
        client_credentials_profile(&sim),
        &http,
        &[("client_secret", sim.confidential_client_secret())],
    )
    .await
    .unwrap()
    .with_admin(admin_credentials());
    let d = conn.grant_without_browser().await.unwrap_err();
    assert_code(&d, Code::PluginInactive);
    assert_detail(&d, snconnect_core::probe::OAUTH_PLUGIN);
}

#[tokio::test(flavor = "multi_thread")]
async fn oauth_property_disabled() {
    // The resource owner is not an admin; the given admin credentials name the property.
    let sim = sim().await;
    sim.set_property(properties::OAUTH_ACTIVE, "false");
    let http = client(&http_cfg(&sim));
    let conn = open(
        password_grant_profile(&sim, ABEL.0),
        &http,
        &[
            ("client_secret", sim.confidential_client_secret()),
            ("password", ABEL.1),
        ],
    )
    .await
    .unwrap()
    .with_admin(admin_credentials());
    let d = conn.grant_without_browser().await.unwrap_err();
    assert_code(&d, Code::OauthPropertyDisabled);
    assert_detail(&d, properties::OAUTH_ACTIVE);
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_token_expired() {
    // A browser sign-in, then 100 days and a minute pass on the instance.
    let (sim, port) = sim_with_redirect_port().await;
    let http = client(&http_cfg(&sim));
    let conn = signed_in_pkce(&sim, port, &http).await;
    conn.refresh().await.expect("a fresh refresh token works");
    sim.advance_clock(Duration::from_secs(8_640_000 + 60));
    let d = conn.refresh().await.unwrap_err();
    assert_code(&d, Code::RefreshTokenExpired);
    assert_detail(&d, "access_denied");
    assert_eq!(
        sim.count_requests("/oauth_token.do", Some("refresh_token")),
        2
    );
}

// ---- the browser consent --------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn state_mismatch() {
    // The browser comes back with a sign-in that is not the one snconnect started (its state
    // differs): the listener answers 400 and keeps waiting — any web page could send that — so
    // the sign-in ends at its timeout, saying what was refused.
    let (sim, port) = sim_with_redirect_port().await;
    let http = client(&http_cfg(&sim));
    let conn = open(pkce_profile(&sim, port), &http, &[]).await.unwrap();
    let mut browser = SimBrowser::new(&http, ADMIN, "allow");
    browser.stale_state = true;
    let reg = conn.registration().expect("an OAuth connection");
    let pending = begin_consent(
        reg,
        &consent_options(port, Duration::from_secs(3)),
        Arc::new(browser.clone()),
    )
    .await
    .expect("consent starts");
    let d = pending.finish(&http, reg).await.map(|_| ()).unwrap_err().0;
    assert_code(&d, Code::CallbackTimeout);
    assert_detail(
        &d,
        "1 callback(s) without the state snconnect sent were refused",
    );
    assert_eq!(
        browser.outcome().await.as_deref(),
        Ok("/callback -> 400 Bad Request")
    );

    // The same address pasted by the user (their own act) is named at once.
    let pending = pending_without_browser(&conn, port, Duration::from_secs(20)).await;
    pending
        .paste_sender()
        .send(format!(
            "http://127.0.0.1:{port}/callback?code=abc&state=not-ours"
        ))
        .await
        .unwrap();
    let d = pending.finish(&http, reg).await.map(|_| ()).unwrap_err().0;
    assert_code(&d, Code::StateMismatch);
}

#[tokio::test(flavor = "multi_thread")]
async fn consent_denied() {
    let (sim, port) = sim_with_redirect_port().await;
    let http = client(&http_cfg(&sim));
    let conn = open(pkce_profile(&sim, port), &http, &[]).await.unwrap();
    let (result, browser) = consent(port, &http, &conn, ADMIN, "deny", false).await;
    let d = result.unwrap_err();
    assert_code(&d, Code::ConsentDenied);
    assert_detail(&d, "error=access_denied");
    assert_eq!(browser.as_deref(), Ok("/callback -> 303 See Other"));
}

#[tokio::test(flavor = "multi_thread")]
async fn callback_timeout() {
    let sim = sim().await;
    let http = client(&http_cfg(&sim));
    let port = free_port();
    let conn = open(pkce_profile(&sim, port), &http, &[]).await.unwrap();
    let pending = pending_without_browser(&conn, port, Duration::from_millis(300)).await;
    let (d, checks) = pending
        .finish(&http, conn.registration().unwrap())
        .await
        .unwrap_err();
    assert_code(&d, Code::CallbackTimeout);
    assert_detail(&d, &redirect_url(port));
    assert_eq!(checks[0].code, Code::CallbackTimeout);
}

#[tokio::test(flavor = "multi_thread")]
async fn callback_port_in_use() {
    let sim = sim().await;
    let http = client(&http_cfg(&sim));
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let conn = open(pkce_profile(&sim, port), &http, &[]).await.unwrap();
    let d = begin_consent(
        conn.registration().unwrap(),
        &consent_options(port, Duration::from_secs(5)),
        Arc::new(NoBrowser),
    )
    .await
    .unwrap_err();
    assert_code(&d, Code::CallbackPortInUse);
    assert_detail(&d, &format!("127.0.0.1:{port}"));
    drop(taken);
}

#[tokio::test(flavor = "multi_thread")]
async fn browser_unavailable() {
    let sim = sim().await;
    let http = client(&http_cfg(&sim));
    let port = free_port();
    let conn = open(pkce_profile(&sim, port), &http, &[]).await.unwrap();
    let pending = pending_without_browser(&conn, port, Duration::from_secs(5)).await;
    let d = pending.browser.as_ref().unwrap_err();
    assert_code(d, Code::BrowserUnavailable);
    // The sign-in still waits for the URL to be opened by hand.
    assert_eq!(pending.authorize_url.path(), "/oauth_auth.do");
}

#[tokio::test(flavor = "multi_thread")]
async fn cancelled() {
    let sim = sim().await;
    let http = client(&http_cfg(&sim));
    let port = free_port();
    let conn = open(pkce_profile(&sim, port), &http, &[]).await.unwrap();
    let mut pending = pending_without_browser(&conn, port, Duration::from_secs(20)).await;
    pending.cancel_switch().expect("a cancel switch").cancel();
    let (d, _) = pending
        .finish(&http, conn.registration().unwrap())
        .await
        .unwrap_err();
    assert_code(&d, Code::Cancelled);
}

// ---- registering the endpoint ---------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn redirect_uri_mismatch() {
    // The registry record has 8765 registered; snconnect listens elsewhere. ServiceNow would
    // silently redirect to 8765, so the read-back is what names the mismatch.
    let sim = sim().await;
    let http = client(&http_cfg(&sim));
    let ours = redirect_url(free_port());
    let ok = snconnect_core::register::check_redirect(
        &http,
        &instance(&sim),
        &basic(ADMIN),
        CONFIDENTIAL_CLIENT_ID,
        snsim::DEFAULT_REDIRECT_URL,
    )
    .await;
    assert_eq!(ok, Ok(true));
    let d = snconnect_core::register::check_redirect(
        &http,
        &instance(&sim),
        &basic(ADMIN),
        CONFIDENTIAL_CLIENT_ID,
        &ours,
    )
    .await
    .unwrap_err();
    assert_code(&d, Code::RedirectUriMismatch);
    assert_detail(&d, snsim::DEFAULT_REDIRECT_URL);
    assert_detail(&d, &ours);
}

#[tokio::test(flavor = "multi_thread")]
async fn insufficient_role() {
    // An itil user may not create an OAuth endpoint (403 on oauth_entity).
    let sim = sim().await;
    let http = client(&http_cfg(&sim));
    let req = snconnect_core::register::NewEndpoint::new(
        "snconnect diagnosis",
        vec![snsim::DEFAULT_REDIRECT_URL.to_string()],
        true,
    );
    let d = snconnect_core::register::create(&http, &instance(&sim), &basic(ABEL), &req)
        .await
        .unwrap_err();
    assert_code(&d, Code::InsufficientRole);
    assert_detail(&d, "HTTP 403");
}

// ---- API calls with a token, ACLs, limits -----------------------------------------------------

/// A connection holding a token from the password grant as `user`.
async fn password_granted(
    sim: &RunningSim,
    http: &reqwest::Client,
    user: (&str, &str),
) -> Connection {
    let conn = open(
        password_grant_profile(sim, user.0),
        http,
        &[
            ("client_secret", sim.confidential_client_secret()),
            ("password", user.1),
        ],
    )
    .await
    .unwrap();
    conn.grant_without_browser().await.expect("password grant");
    conn
}

#[tokio::test(flavor = "multi_thread")]
async fn access_token_rejected() {
    // A revoked token, sent by test_connection directly so that nothing refreshes it.
    let sim = sim().await;
    let http = client(&http_cfg(&sim));
    let conn = password_granted(&sim, &http, ADMIN).await;
    let token = conn.tokens().unwrap().access_token().await.unwrap();
    let bearer = ApiAuth::Bearer(token.clone());
    assert_code(
        &test_connection(&http, &instance(&sim), &bearer)
            .await
            .diagnosis,
        Code::Ok,
    );
    assert!(sim.revoke_token(token.expose()));
    let report = test_connection(&http, &instance(&sim), &bearer).await;
    assert_code(&report.diagnosis, Code::AccessTokenRejected);
    assert_detail(&report.diagnosis, "HTTP 401");
    assert_eq!(report.checks[0].name, "current_user");
}

#[tokio::test(flavor = "multi_thread")]
async fn acl_forbidden() {
    // no.roles may not read sys_db_object at all (403).
    let sim = sim().await;
    let http = client(&http_cfg(&sim));
    let d = table_query(
        &http,
        &instance(&sim),
        &basic(NO_ROLES),
        "sys_db_object",
        "",
        "name",
        1,
    )
    .await
    .unwrap_err();
    assert_code(&d, Code::AclForbidden);
    assert_detail(&d, "HTTP 403");
}

#[tokio::test(flavor = "multi_thread")]
async fn scope_forbidden() {
    let sim = sim().await;
    let http = client(&http_cfg(&sim));
    let conn = password_granted(&sim, &http, ADMIN).await;
    sim.update_switches(|s| s.scope_restricted = true);
    let report = conn.test().await;
    assert_code(&report.diagnosis, Code::ScopeForbidden);
    assert_detail(&report.diagnosis, "Missing required api access scope");
    // current_user is not a Table API call: the table read is what failed.
    assert!(report.checks[0].ok, "{:?}", report.checks);
}

#[tokio::test(flavor = "multi_thread")]
async fn rows_hidden_by_acl() {
    let sim = sim().await;
    let http = client(&http_cfg(&sim));
    let d = table_read(&http, &instance(&sim), &basic(ABEL), "sys_properties")
        .await
        .unwrap_err();
    assert_code(&d, Code::RowsHiddenByAcl);
    assert_detail(&d, "X-Total-Count");
    // The admin sees the same rows.
    assert_eq!(
        table_read(&http, &instance(&sim), &basic(ADMIN), "sys_properties")
            .await
            .unwrap(),
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limited() {
    let sim = sim().await;
    sim.update_switches(|s| s.rate_limit_per_hour = Some(1));
    let http = client(&http_cfg(&sim));
    let auth = basic(ADMIN);
    // The first Table API call of the hour passes; the second is over the limit.
    assert_code(
        &test_connection(&http, &instance(&sim), &auth)
            .await
            .diagnosis,
        Code::Ok,
    );
    let d = test_connection(&http, &instance(&sim), &auth)
        .await
        .diagnosis;
    assert_code(&d, Code::RateLimited);
    assert_detail(&d, "Retry-After");
    assert_detail(&d, "HTTP 429");
}

// ---- the list ---------------------------------------------------------------------------------

/// Codes with a test in this file (the test is named after the code).
const TESTED: &[&str] = &[
    "ok",
    "usage_error",
    "cancelled",
    "config_unreadable",
    "config_unwritable",
    "invalid_instance_url",
    "insecure_url_refused",
    "dns_failure",
    "connection_refused",
    "connect_timeout",
    "request_timeout",
    "tls_untrusted_certificate",
    "tls_handshake_failed",
    "instance_hibernating",
    "instance_unavailable",
    "unexpected_html",
    "unexpected_response",
    "basic_auth_rejected",
    "mfa_required",
    "api_key_rejected",
    "token_request_denied",
    "invalid_user_credentials",
    "invalid_client",
    "client_credentials_disabled",
    "password_grant_disabled",
    "plugin_inactive",
    "oauth_property_disabled",
    "refresh_token_expired",
    "state_mismatch",
    "consent_denied",
    "callback_timeout",
    "callback_port_in_use",
    "browser_unavailable",
    "access_token_rejected",
    "acl_forbidden",
    "scope_forbidden",
    "rows_hidden_by_acl",
    "rate_limited",
    "redirect_uri_mismatch",
    "insufficient_role",
    "parity_mismatch",
];

#[tokio::test(flavor = "multi_thread")]
async fn parity_mismatch() {
    let sim = sim().await;
    sim.update_switches(|s| {
        s.hidden_fields
            .insert("sys_user".into(), vec!["email".into()]);
    });
    let http = client(&http_cfg(&sim));
    // Basic as admin, "OAuth" as a non-admin: another identity, and a hidden field.
    let report =
        snconnect_core::parity::run(&http, &instance(&sim), &basic(ADMIN), &basic(ABEL), &[], 5)
            .await;
    let d = report.diagnosis();
    assert_code(&d, Code::ParityMismatch);
    assert_detail(&d, "email");
    assert_detail(&d, "abel.tuter");
    let same =
        snconnect_core::parity::run(&http, &instance(&sim), &basic(ADMIN), &basic(ADMIN), &[], 5)
            .await;
    assert_code(&same.diagnosis(), Code::Ok);
}

/// Codes tested in their own test binary (process-wide environment they must own).
const COVERED_ELSEWHERE: &[(&str, &str)] = &[
    // Points DBUS_SESSION_BUS_ADDRESS at nothing; libdbus reads it once per process.
    ("keychain_unavailable", "tests/keychain_absent.rs"),
    // Starts a private, locked Secret Service and points the session bus at it.
    ("keychain_locked", "tests/keychain_locked.rs"),
    // Needs a second process holding the lock: real processes, and the unit test in lock.rs.
    ("config_locked", "../snconnect/tests/processes.rs"),
];

/// Codes nothing in the core produces yet. Remove an entry (and add a test) when one does.
const SKIPPED: &[(&str, &str)] = &[];

#[test]
fn every_code_is_covered_or_listed() {
    let known: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
    let mut listed: Vec<&str> = TESTED.to_vec();
    listed.extend(COVERED_ELSEWHERE.iter().map(|(c, _)| *c));
    listed.extend(SKIPPED.iter().map(|(c, _)| *c));
    for code in &known {
        let n = listed.iter().filter(|l| *l == code).count();
        assert!(
            n == 1,
            "code {code:?} must appear exactly once in TESTED, COVERED_ELSEWHERE or SKIPPED (found {n} times): add a test to tests/diagnosis.rs"
        );
    }
    for l in &listed {
        assert!(known.contains(l), "{l:?} is listed but is not a Code");
    }
    for (code, file) in COVERED_ELSEWHERE {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
        assert!(path.exists(), "{code} is said to be covered by {file}");
    }
}
