//! One test per authentication method: a `Connection` over real TLS against snsim, with the
//! secrets in a `MemoryStore`, must pass the connection test as `admin`, plus one fact that only
//! that method can show.

mod support;

use snconnect_core::conn_test::{ApiKeyIn, TestReport};
use snconnect_core::connection::Connection;
use snconnect_core::profiles::AuthMethod;
use snconnect_core::token::{ACCESS_TOKEN, REFRESH_TOKEN};
use snconnect_core::Code;
use snsim::{RunningSim, SimConfig, ADMIN_SYS_ID, CONFIDENTIAL_CLIENT_ID, PUBLIC_CLIENT_ID};
use std::time::Duration;
use support::{
    consent_with, enable_client_credentials, grants, open, profile, start,
    start_with_redirect_port, store_with, stored, BrowserLog, LoopbackBrowser, ADMIN_PASSWORD,
    TOKEN_PATH,
};

// ---- helpers ------------------------------------------------------------------------------

fn check_names(report: &TestReport) -> Vec<&str> {
    report.checks.iter().map(|c| c.name.as_str()).collect()
}

/// The report passed, as `user`, with both API checks.
fn assert_passed_as(report: &TestReport, user: &str) {
    assert!(report.ok(), "the connection test failed: {report:#?}");
    assert_eq!(
        report.identity.as_ref().map(|i| i.user_name.as_str()),
        Some(user),
        "{report:#?}"
    );
    // The last two checks are the API calls that made the verdict.
    let last: Vec<_> = report
        .checks
        .iter()
        .rev()
        .take(2)
        .map(|c| (c.name.as_str(), c.ok))
        .collect();
    assert_eq!(
        last,
        [("table_read sys_user", true), ("current_user", true)],
        "{report:#?}"
    );
}

/// Runs the browser consent for `conn`'s registration and stores the grant in `conn`.
/// Returns the authorize URL and what the browser saw.
async fn consent_and_store(
    sim: &RunningSim,
    conn: &Connection,
    port: u16,
    pkce: bool,
) -> (url::Url, BrowserLog) {
    // The browser logs the callback's status for the tests to judge.
    let browser = LoopbackBrowser::new(sim, Duration::from_secs(20));
    let (authorize_url, checks, meta) =
        consent_with(sim, conn, port, pkce, Duration::from_secs(30), &browser).await;
    let names: Vec<_> = checks.iter().map(|c| (c.name.as_str(), c.ok)).collect();
    assert_eq!(names, [("consent", true), ("token", true)]);
    let seen = browser.logs();
    assert_eq!(seen.len(), 1, "the browser is opened once: {seen:?}");
    let seen = seen.into_iter().next().unwrap().expect("the browser's job");
    assert!(meta.has_access_token && meta.has_refresh_token, "{meta:?}");
    (authorize_url, seen)
}

fn query_of(url: &url::Url) -> std::collections::HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

// ---- basic and API key --------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn basic_auth_passes_and_a_wrong_password_is_basic_auth_rejected() {
    let sim = start(SimConfig::default()).await;
    let mut p = profile("basic", &sim, AuthMethod::Basic);
    p.username = Some("admin".into());
    let store = store_with(&[("basic", "password", ADMIN_PASSWORD)]);
    let conn = open(p.clone(), &sim, &store).await;
    assert_passed_as(&conn.test().await, "admin");
    // Basic needs no OAuth at all.
    assert!(conn.token_meta().await.is_none());
    assert_eq!(sim.count_requests(TOKEN_PATH, None), 0);

    // Method-specific: the password is what authenticated.
    let wrong = store_with(&[("basic", "password", "Admin#12345")]);
    let report = open(p, &sim, &wrong).await.test().await;
    assert!(!report.ok());
    assert_eq!(
        report.diagnosis.code,
        Code::BasicAuthRejected,
        "{report:#?}"
    );
    assert!(report.identity.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn api_key_in_the_header_passes_and_is_what_authenticates() {
    let sim = start(SimConfig::default()).await;
    let mut p = profile("key-header", &sim, AuthMethod::ApiKey);
    p.api_key_in = Some(ApiKeyIn::Header);
    p.api_key_param = Some("x-sn-apikey".into());
    let store = store_with(&[("key-header", "api_key", sim.api_key())]);
    let conn = open(p.clone(), &sim, &store).await;
    assert_passed_as(&conn.test().await, "admin");
    assert_eq!(sim.count_requests(TOKEN_PATH, None), 0);

    // With the key profile off on the instance, the same connection is refused: the key was
    // the credential.
    sim.update_switches(|s| s.api_key_auth = false);
    let report = conn.test().await;
    assert_eq!(report.diagnosis.code, Code::ApiKeyRejected, "{report:#?}");
    sim.update_switches(|s| s.api_key_auth = true);

    // A wrong key: the same code.
    let wrong = store_with(&[("key-header", "api_key", "not-the-key")]);
    let report = open(p, &sim, &wrong).await.test().await;
    assert_eq!(report.diagnosis.code, Code::ApiKeyRejected, "{report:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn api_key_in_the_query_passes() {
    let sim = start(SimConfig::default()).await;
    let mut p = profile("key-query", &sim, AuthMethod::ApiKey);
    p.api_key_in = Some(ApiKeyIn::Query);
    // No param name: the default `x-sn-apikey`.
    let store = store_with(&[("key-query", "api_key", sim.api_key())]);
    let conn = open(p.clone(), &sim, &store).await;
    assert_passed_as(&conn.test().await, "admin");

    // Method-specific: in the query, a wrong key is refused as an API key.
    let wrong = store_with(&[("key-query", "api_key", "not-the-key")]);
    let report = open(p, &sim, &wrong).await.test().await;
    assert_eq!(report.diagnosis.code, Code::ApiKeyRejected, "{report:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn api_key_under_a_param_name_the_instance_does_not_know_is_api_key_rejected() {
    let sim = start(SimConfig::default()).await;
    for location in [ApiKeyIn::Header, ApiKeyIn::Query] {
        let mut p = profile("key-custom", &sim, AuthMethod::ApiKey);
        p.api_key_in = Some(location);
        p.api_key_param = Some("x-custom-apikey".into());
        // The right key, under a name snsim (like ServiceNow) does not read: no credentials,
        // so 401 "User Not Authenticated", classified as the API key being refused.
        let store = store_with(&[("key-custom", "api_key", sim.api_key())]);
        let report = open(p, &sim, &store).await.test().await;
        assert!(!report.ok(), "{location:?}: {report:#?}");
        assert_eq!(
            report.diagnosis.code,
            Code::ApiKeyRejected,
            "{location:?}: {report:#?}"
        );
        assert_eq!(report.checks.len(), 1, "stops at current_user");
        assert_eq!(report.checks[0].name, "current_user");
        assert_eq!(report.checks[0].code, Code::ApiKeyRejected);
    }
}

// ---- OAuth --------------------------------------------------------------------------------

/// A confidential client's code flow with PKCE (RFC 9700 §2.1.1), against an instance that
/// verifies the challenge or one that ignores it (snsim's UNCONFIRMED `confidential_pkce`).
async fn confidential_code_flow(confidential_pkce: snsim::ConfidentialPkce) {
    let (sim, port) = start_with_redirect_port(SimConfig {
        auto_approve: true,
        ..SimConfig::default()
    })
    .await;
    sim.update_switches(|s| s.confidential_pkce = confidential_pkce);
    let mut p = profile("code", &sim, AuthMethod::OauthCode);
    p.client_id = Some(sim.confidential_client_id().into());
    p.redirect_port = Some(port);
    let store = store_with(&[("code", "client_secret", sim.confidential_client_secret())]);
    let conn = open(p, &sim, &store).await;

    let (authorize, seen) = consent_and_store(&sim, &conn, port, true).await;
    // The browser's side: 302 straight to the registered loopback URL with code and state.
    assert_eq!(seen.authorize_status, 302, "{seen:?}");
    assert_eq!(seen.location, format!("http://127.0.0.1:{port}/callback"));
    assert!(seen.had_code && seen.had_state, "{seen:?}");
    // The callback is redirected to a clean URL (the code leaves the browser's history).
    assert_eq!(seen.callback_status, 303, "{seen:?}");
    // Method-specific: a confidential client with an S256 challenge too, and the secret never
    // in the URL. With `verify`, snsim refuses the exchange unless the verifier matches.
    let q = query_of(&authorize);
    assert_eq!(authorize.path(), "/oauth_auth.do");
    assert_eq!(q["client_id"], CONFIDENTIAL_CLIENT_ID);
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["code_challenge_method"], "S256", "{q:?}");
    assert!(!authorize
        .as_str()
        .contains(sim.confidential_client_secret()));
    assert_eq!(grants(&sim, "authorization_code", 200), 1);
    assert_eq!(sim.count_requests(TOKEN_PATH, None), 1);

    let report = conn.test().await;
    assert_passed_as(&report, "admin");
    assert_eq!(
        sim.count_requests(TOKEN_PATH, Some("refresh_token")),
        0,
        "a fresh grant needs no refresh"
    );
    assert!(stored(&store, "code", REFRESH_TOKEN).is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn oauth_code_confidential_with_pkce_verified_then_test_passes() {
    confidential_code_flow(snsim::ConfidentialPkce::Verify).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn oauth_code_confidential_with_pkce_ignored_by_the_instance_then_test_passes() {
    confidential_code_flow(snsim::ConfidentialPkce::Ignore).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn oauth_code_pkce_public_consent_then_test_passes() {
    let (sim, port) = start_with_redirect_port(SimConfig {
        auto_approve: true,
        ..SimConfig::default()
    })
    .await;
    let mut p = profile("pkce", &sim, AuthMethod::OauthCodePkce);
    p.client_id = Some(sim.public_client_id().into());
    p.redirect_port = Some(port);
    // A public client: nothing in the store but what the sign-in brings.
    let store = store_with(&[]);
    let conn = open(p, &sim, &store).await;
    assert!(conn.registration().unwrap().client_secret.is_none());

    let (authorize, seen) = consent_and_store(&sim, &conn, port, true).await;
    assert_eq!(seen.authorize_status, 302, "{seen:?}");
    assert_eq!(seen.location, format!("http://127.0.0.1:{port}/callback"));
    assert!(seen.had_code && seen.had_state, "{seen:?}");
    // Method-specific: an S256 challenge in the URL; snsim refuses the public client's
    // exchange without the matching verifier, so the stored grant proves it was sent.
    let q = query_of(&authorize);
    assert_eq!(q["client_id"], PUBLIC_CLIENT_ID);
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["code_challenge"].len(), 43, "{q:?}");
    assert_eq!(grants(&sim, "authorization_code", 200), 1);

    let report = conn.test().await;
    assert_passed_as(&report, "admin");
    assert_eq!(stored(&store, "pkce", "client_secret"), None);
    assert!(stored(&store, "pkce", ACCESS_TOKEN).is_some());
    assert!(stored(&store, "pkce", REFRESH_TOKEN).is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn oauth_password_grant_then_test_passes() {
    let sim = start(SimConfig::default()).await;
    let mut p = profile("ropc", &sim, AuthMethod::OauthPassword);
    p.username = Some("admin".into());
    p.client_id = Some(sim.confidential_client_id().into());
    let store = store_with(&[
        ("ropc", "client_secret", sim.confidential_client_secret()),
        ("ropc", "password", ADMIN_PASSWORD),
    ]);
    let conn = open(p, &sim, &store).await;
    let (meta, check) = conn.grant_without_browser().await.expect("password grant");
    assert_eq!((check.name.as_str(), check.ok), ("token", true));
    assert!(meta.has_access_token && meta.has_refresh_token, "{meta:?}");
    // Method-specific: one password grant, and the stored tokens are the ones snsim issued.
    assert_eq!(grants(&sim, "password", 200), 1);
    assert_eq!(sim.count_requests(TOKEN_PATH, None), 1);
    let issued = sim.issued_secrets();
    for what in [ACCESS_TOKEN, REFRESH_TOKEN] {
        let t = stored(&store, "ropc", what).expect(what);
        assert!(issued.contains(&t), "{what} was not issued by snsim");
    }

    assert_passed_as(&conn.test().await, "admin");
    assert_eq!(sim.count_requests(TOKEN_PATH, None), 1, "no refresh needed");
}

#[tokio::test(flavor = "multi_thread")]
async fn oauth_client_credentials_enabled_the_platform_way_has_no_refresh_token() {
    let sim = start(SimConfig::default()).await;
    let mut p = profile("cc", &sim, AuthMethod::OauthClientCredentials);
    p.client_id = Some(sim.confidential_client_id().into());
    let store = store_with(&[("cc", "client_secret", sim.confidential_client_secret())]);
    let conn = open(p, &sim, &store).await;

    // The property alone is not enough: the registry record needs an OAuth Application User.
    sim.set_property(snsim::properties::CLIENT_CREDENTIALS, "true");
    assert!(conn.grant_without_browser().await.is_err());
    assert_eq!(grants(&sim, "client_credentials", 401), 1);

    enable_client_credentials(&sim, ADMIN_SYS_ID).await;
    let (meta, check) = conn
        .grant_without_browser()
        .await
        .expect("client credentials grant");
    assert!(check.ok);
    assert_eq!(grants(&sim, "client_credentials", 200), 1);
    // Method-specific: no refresh token, in the meta and in the store.
    assert!(meta.has_access_token);
    assert!(!meta.has_refresh_token, "{meta:?}");
    assert_eq!(meta.refresh_expires_at, None);
    assert_eq!(stored(&store, "cc", REFRESH_TOKEN), None);
    assert!(stored(&store, "cc", ACCESS_TOKEN).is_some());

    // The token acts as the application user.
    assert_passed_as(&conn.test().await, "admin");
}

#[tokio::test(flavor = "multi_thread")]
async fn oauth_refresh_after_the_access_token_expired_server_side() {
    let sim = start(SimConfig::default()).await;
    let mut p = profile("refresh", &sim, AuthMethod::OauthPassword);
    p.username = Some("admin".into());
    p.client_id = Some(sim.confidential_client_id().into());
    let store = store_with(&[
        ("refresh", "client_secret", sim.confidential_client_secret()),
        ("refresh", "password", ADMIN_PASSWORD),
    ]);
    let conn = open(p, &sim, &store).await;
    conn.grant_without_browser().await.expect("password grant");
    let before = stored(&store, "refresh", ACCESS_TOKEN).unwrap();

    assert!(sim.expire_access_tokens() >= 1);
    let report = conn.test().await;
    assert_passed_as(&report, "admin");
    assert_eq!(
        sim.count_requests(TOKEN_PATH, Some("refresh_token")),
        1,
        "{:?}",
        sim.requests()
    );
    assert_eq!(grants(&sim, "refresh_token", 200), 1);
    // Renewed by the refresh token, not by a new password grant.
    assert_eq!(sim.count_requests(TOKEN_PATH, Some("password")), 1);
    let names = check_names(&report);
    assert_eq!(
        names,
        [
            "current_user",
            "token refresh after 401",
            "current_user",
            "table_read sys_user"
        ],
        "{report:#?}"
    );
    assert_eq!(report.checks[0].code, Code::AccessTokenRejected);
    assert!(report.checks[1].ok);
    let after = stored(&store, "refresh", ACCESS_TOKEN).unwrap();
    assert_ne!(before, after, "the new access token is stored");
}
