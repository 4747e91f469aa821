//! One test per token lifecycle rule (`token.rs`): the expiry margin, single-flight refresh,
//! keeping the refresh token, one retry after a 401, revocation, the refresh token's own expiry
//! (server-side and local), "expires soon", and client-credentials renewal. Real TLS against
//! snsim; secrets in a `MemoryStore`; every request counted in the simulator's log.

mod support;

use snconnect_core::connection::Connection;
use snconnect_core::keychain::{MemoryStore, SecretStore};
use snconnect_core::oauth::{ClientRegistration, Endpoints, TokenSet};
use snconnect_core::profiles::{AuthMethod, Profile, TokenMeta};
use snconnect_core::token::{
    now_secs, Renewal, TokenManager, TokenStatus, ACCESS_TOKEN, DEFAULT_MARGIN, REFRESH_TOKEN,
};
use snconnect_core::{Code, Secret};
use snsim::{RunningSim, SimConfig, ADMIN_SYS_ID, CONFIDENTIAL_CLIENT_ID};
use std::sync::Arc;
use std::time::Duration;
use support::{
    core_http, enable_client_credentials, grants, instance, put, raw_http, start, store, stored,
    ADMIN_PASSWORD, TOKEN_PATH,
};

const DAY: u64 = 24 * 3600;

// ---- helpers ------------------------------------------------------------------------------

/// A profile for the confidential client. `OauthPassword` renews by itself (stored password);
/// `OauthCode` can only refresh (the code flows need a person), which makes refresh behaviour
/// observable without a silent re-login behind it.
fn profile(name: &str, sim: &RunningSim, auth: AuthMethod) -> Profile {
    Profile {
        username: (auth == AuthMethod::OauthPassword).then(|| "admin".to_string()),
        client_id: Some(CONFIDENTIAL_CLIENT_ID.into()),
        ..support::profile(name, sim, auth)
    }
}

/// Opens `p` with the client secret (and admin's password for the password grant) stored.
async fn open(p: Profile, sim: &RunningSim, store: &Arc<MemoryStore>) -> Connection {
    put(
        store,
        &p.name,
        "client_secret",
        sim.confidential_client_secret(),
    );
    if p.auth == AuthMethod::OauthPassword {
        put(store, &p.name, "password", ADMIN_PASSWORD);
    }
    support::open(p, sim, store).await
}

fn registration(sim: &RunningSim) -> ClientRegistration {
    ClientRegistration {
        client_id: CONFIDENTIAL_CLIENT_ID.into(),
        client_secret: Some(Secret::new(sim.confidential_client_secret())),
        endpoints: Endpoints::servicenow(&instance(sim)),
        scope: None,
    }
}

/// A password grant for admin, straight from the registration (not stored anywhere).
async fn password_tokens(sim: &RunningSim) -> TokenSet {
    registration(sim)
        .password_grant(&core_http(sim), "admin", &Secret::new(ADMIN_PASSWORD))
        .await
        .expect("password grant")
}

/// An `OauthCode` connection holding a password-grant's tokens (as after a consent).
async fn code_connection(sim: &RunningSim, name: &str, store: &Arc<MemoryStore>) -> Connection {
    let conn = open(profile(name, sim, AuthMethod::OauthCode), sim, store).await;
    conn.store_grant(password_tokens(sim).await)
        .await
        .expect("grant stored");
    conn
}

fn refreshes(sim: &RunningSim) -> usize {
    sim.count_requests(TOKEN_PATH, Some("refresh_token"))
}

/// `GET /api/now/table/sys_user` with a Bearer token, by hand: the HTTP status.
async fn bearer_status(sim: &RunningSim, token: &str) -> u16 {
    raw_http(sim)
        .get(sim.base_url().join("api/now/table/sys_user").unwrap())
        .query(&[("sysparm_limit", "1")])
        .bearer_auth(token)
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// A refresh_token grant by hand: the status and the JSON body.
async fn raw_refresh(sim: &RunningSim, refresh_token: &str) -> (u16, serde_json::Value) {
    let res = raw_http(sim)
        .post(sim.base_url().join("oauth_token.do").unwrap())
        .header("Accept", "application/json")
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", CONFIDENTIAL_CLIENT_ID),
            ("client_secret", sim.confidential_client_secret()),
            ("refresh_token", refresh_token),
        ])
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(serde_json::Value::Null))
}

// ---- expiry margin ------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_token_with_less_than_the_60s_margin_left_is_refreshed_before_use() {
    // expires_in 29 < the 60 s margin.
    let sim = start(SimConfig {
        access_token_lifespan: 30,
        ..SimConfig::default()
    })
    .await;
    let store = store();
    let conn = open(
        profile("margin", &sim, AuthMethod::OauthPassword),
        &sim,
        &store,
    )
    .await;
    let (meta, _) = conn.grant_without_browser().await.unwrap();
    let left = meta.access_expires_at.unwrap() as i64 - now_secs() as i64;
    assert!((0..=30).contains(&left), "{left}");
    let tokens = conn.tokens().unwrap();
    assert_eq!(tokens.refresh_count(), 0);
    assert_eq!(refreshes(&sim), 0);

    tokens.access_token().await.expect("a token");
    assert_eq!(tokens.refresh_count(), 1);
    assert_eq!(refreshes(&sim), 1);
    assert_eq!(grants(&sim, "refresh_token", 200), 1);
    // Refreshed, not re-granted.
    assert_eq!(sim.count_requests(TOKEN_PATH, Some("password")), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_with_30_minutes_left_is_used_as_is() {
    let sim = start(SimConfig::default()).await;
    let store = store();
    let conn = open(
        profile("nomargin", &sim, AuthMethod::OauthPassword),
        &sim,
        &store,
    )
    .await;
    conn.grant_without_browser().await.unwrap();
    let tokens = conn.tokens().unwrap();
    let token = tokens.access_token().await.expect("a token");
    assert_eq!(
        Some(token.expose().to_string()),
        stored(&store, "nomargin", ACCESS_TOKEN)
    );
    assert_eq!(tokens.refresh_count(), 0);
    assert_eq!(refreshes(&sim), 0);
    assert_eq!(sim.count_requests(TOKEN_PATH, None), 1);
}

// ---- single flight ------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn fifty_concurrent_callers_share_one_refresh() {
    let sim = start(SimConfig::default()).await;
    let store = store();
    // Tokens as a previous run left them: in the store, the access token expired locally...
    let grant = password_tokens(&sim).await;
    let old_access = grant.access_token.expose().to_string();
    put(&store, "sf", ACCESS_TOKEN, &old_access);
    put(
        &store,
        "sf",
        REFRESH_TOKEN,
        grant.refresh_token.as_ref().unwrap().expose(),
    );
    let now = now_secs();
    let meta = TokenMeta {
        obtained_at: now - 3600,
        access_expires_at: Some(now - 1),
        refresh_expires_at: Some(now + 50 * DAY),
        has_access_token: true,
        has_refresh_token: true,
    };
    // ... and server-side, so the refresh brings a different token.
    assert!(sim.expire_access_tokens() >= 1);
    // A slow token endpoint: every caller arrives while the one refresh is in flight, so a
    // refresh made outside the lock would be sent many times.
    sim.update_switches(|s| {
        s.faults.latency_ms = 300;
        s.faults.path_prefix = TOKEN_PATH.into();
    });
    sim.clear_requests();
    let dyn_store: Arc<dyn SecretStore> = store.clone();
    let tm = Arc::new(
        TokenManager::load(
            "sf",
            registration(&sim),
            Renewal::None,
            core_http(&sim),
            dyn_store,
            Some(meta),
            None,
            DEFAULT_MARGIN,
        )
        .await
        .unwrap(),
    );

    let gate = Arc::new(tokio::sync::Barrier::new(50));
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (tm, gate) = (tm.clone(), gate.clone());
            tokio::spawn(async move {
                gate.wait().await;
                tm.access_token().await
            })
        })
        .collect();
    let mut values = Vec::new();
    for t in tasks {
        let token = t.await.unwrap().expect("every caller gets a token");
        values.push(token.expose().to_string());
    }
    assert_eq!(values.len(), 50);
    assert!(
        values.iter().all(|v| *v == values[0]),
        "all callers get the same token"
    );
    assert_ne!(
        values[0], old_access,
        "the refreshed token, not the old one"
    );
    assert_eq!(refreshes(&sim), 1, "{:?}", sim.requests());
    assert_eq!(tm.refresh_count(), 1);
    assert_eq!(sim.requests().len(), 1, "nothing else was sent");
    assert_eq!(stored(&store, "sf", ACCESS_TOKEN), Some(values[0].clone()));
    assert_eq!(bearer_status(&sim, &values[0]).await, 200);
}

// ---- keep the refresh token ---------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn the_refresh_token_is_kept_when_a_refresh_returns_none() {
    let sim = start(SimConfig::default()).await;
    let store = store();
    // Tokens from a consent 50 days ago (as a saved profile records them): the refresh
    // token has 50 days left, which a refresh must neither extend nor forget.
    let grant = password_tokens(&sim).await;
    let rt = grant.refresh_token.as_ref().unwrap().expose().to_string();
    put(&store, "keep", ACCESS_TOKEN, grant.access_token.expose());
    put(&store, "keep", REFRESH_TOKEN, &rt);
    let now = now_secs();
    let recorded = TokenMeta {
        obtained_at: now - 50 * DAY,
        access_expires_at: Some(now + 1000),
        refresh_expires_at: Some(now + 50 * DAY),
        has_access_token: true,
        has_refresh_token: true,
    };
    let mut p = profile("keep", &sim, AuthMethod::OauthCode);
    p.tokens = Some(recorded);
    let conn = open(p, &sim, &store).await;

    // The premise: snsim (like ServiceNow, refresh_echo off) answers a refresh with an
    // access token only.
    let (status, body) = raw_refresh(&sim, &rt).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("access_token").is_some(), "{body}");
    assert!(body.get("refresh_token").is_none(), "{body}");

    // Two refreshes in a row through the core (an OauthCode connection: only the refresh
    // token can renew it, nothing would paper over a lost one).
    let first = conn.refresh().await.expect("first refresh");
    let second = conn.refresh().await.expect("second refresh still works");
    assert_eq!(grants(&sim, "refresh_token", 200), 3);
    assert_eq!(refreshes(&sim), 3);
    assert_eq!(sim.count_requests(TOKEN_PATH, Some("password")), 1);
    assert_eq!(conn.tokens().unwrap().refresh_count(), 2);
    assert_eq!(stored(&store, "keep", REFRESH_TOKEN), Some(rt));
    for m in [first, second] {
        assert!(m.has_refresh_token, "{m:?}");
        // Not extended by a refresh: ServiceNow keeps the grant's expiry.
        assert_eq!(m.refresh_expires_at, recorded.refresh_expires_at);
        assert_eq!(m.obtained_at, recorded.obtained_at);
    }
    assert_eq!(conn.token_status().await, Some(TokenStatus::Connected));
}

// ---- one retry after a 401 ----------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_401_with_a_locally_valid_token_refreshes_once_and_retries() {
    let sim = start(SimConfig::default()).await;
    let store = store();
    let conn = open(
        profile("retry", &sim, AuthMethod::OauthPassword),
        &sim,
        &store,
    )
    .await;
    let (meta, _) = conn.grant_without_browser().await.unwrap();
    assert!(meta.access_expires_at.unwrap() > now_secs() + 1000);
    let old = stored(&store, "retry", ACCESS_TOKEN).unwrap();
    // Revoked on the instance behind our back; locally it has ~30 minutes left.
    assert!(sim.revoke_token(&old));

    let report = conn.test().await;
    assert!(report.ok(), "{report:#?}");
    assert_eq!(report.identity.as_ref().unwrap().user_name, "admin");
    let names: Vec<_> = report.checks.iter().map(|c| c.name.as_str()).collect();
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
    assert_eq!(refreshes(&sim), 1);
    assert_eq!(sim.count_requests(TOKEN_PATH, Some("password")), 1);
    assert_eq!(conn.tokens().unwrap().refresh_count(), 1);
    let new = stored(&store, "retry", ACCESS_TOKEN).unwrap();
    assert_ne!(new, old);
}

// ---- revoke -------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn revoke_kills_both_tokens_on_the_instance_and_forgets_them_here() {
    let sim = start(SimConfig::default()).await;
    let store = store();
    let conn = code_connection(&sim, "revoke", &store).await;
    let at = stored(&store, "revoke", ACCESS_TOKEN).unwrap();
    let rt = stored(&store, "revoke", REFRESH_TOKEN).unwrap();
    // Both work before.
    assert_eq!(bearer_status(&sim, &at).await, 200);

    conn.revoke().await.expect("revocation");
    assert_eq!(
        sim.requests()
            .iter()
            .filter(|r| r.path == "/oauth_revoke_token.do" && r.status == 200)
            .count(),
        2,
        "{:?}",
        sim.requests()
    );
    // On the instance: the access token gets 401, the refresh token is refused.
    assert_eq!(bearer_status(&sim, &at).await, 401);
    let refused = registration(&sim)
        .refresh(&core_http(&sim), &Secret::new(rt.clone()))
        .await
        .unwrap_err();
    assert_eq!(refused.code, Code::RefreshTokenExpired, "{refused}");
    assert_eq!(grants(&sim, "refresh_token", 401), 1);
    // Here: nothing left, and the connection says so.
    assert_eq!(stored(&store, "revoke", ACCESS_TOKEN), None);
    assert_eq!(stored(&store, "revoke", REFRESH_TOKEN), None);
    let meta = conn.token_meta().await.unwrap();
    assert!(
        !meta.has_access_token && !meta.has_refresh_token,
        "{meta:?}"
    );
    assert_eq!(conn.token_status().await, Some(TokenStatus::NeedsReauth));
    let before = sim.requests().len();
    let err = conn.tokens().unwrap().access_token().await.unwrap_err();
    assert_eq!(err.code, Code::RefreshTokenExpired, "{err}");
    assert_eq!(sim.requests().len(), before, "nothing to send");
}

// ---- refresh token expiry -----------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_refresh_token_past_its_lifespan_on_the_instance_is_refresh_token_expired() {
    let sim = start(SimConfig::default()).await;
    let store = store();
    let conn = code_connection(&sim, "server-exp", &store).await;
    sim.advance_clock(Duration::from_secs(8_640_000 + 10));

    // The access token died with the clock too: the test gets a 401, then the one refresh
    // is refused.
    let report = conn.test().await;
    assert!(!report.ok());
    assert_eq!(
        report.diagnosis.code,
        Code::RefreshTokenExpired,
        "{report:#?}"
    );
    let last = report.checks.last().unwrap();
    assert_eq!(
        (last.name.as_str(), last.code),
        ("token refresh after 401", Code::RefreshTokenExpired)
    );
    assert_eq!(grants(&sim, "refresh_token", 401), 1);

    let err = conn.refresh().await.unwrap_err();
    assert_eq!(err.code, Code::RefreshTokenExpired, "{err}");
    assert_eq!(grants(&sim, "refresh_token", 401), 2);
    assert_eq!(grants(&sim, "refresh_token", 200), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refresh_token_past_its_recorded_lifespan_is_not_even_sent() {
    let sim = start(SimConfig::default()).await;
    let store = store();
    // Real, working tokens in the store...
    let grant = password_tokens(&sim).await;
    let rt = grant.refresh_token.as_ref().unwrap().expose().to_string();
    put(
        &store,
        "local-exp",
        ACCESS_TOKEN,
        grant.access_token.expose(),
    );
    put(&store, "local-exp", REFRESH_TOKEN, &rt);
    // ... but the profile says the refresh token's lifespan ended.
    let now = now_secs();
    let mut p = profile("local-exp", &sim, AuthMethod::OauthCode);
    p.tokens = Some(TokenMeta {
        obtained_at: now - 101 * DAY,
        access_expires_at: Some(now - 10),
        refresh_expires_at: Some(now - 5),
        has_access_token: true,
        has_refresh_token: true,
    });
    let conn = open(p, &sim, &store).await;
    sim.clear_requests();

    assert_eq!(conn.token_status().await, Some(TokenStatus::NeedsReauth));
    let err = conn.tokens().unwrap().access_token().await.unwrap_err();
    assert_eq!(err.code, Code::RefreshTokenExpired, "{err}");
    let report = conn.test().await;
    assert_eq!(
        report.diagnosis.code,
        Code::RefreshTokenExpired,
        "{report:#?}"
    );
    assert_eq!(refreshes(&sim), 0);
    assert!(sim.requests().is_empty(), "{:?}", sim.requests());
    assert_eq!(conn.tokens().unwrap().refresh_count(), 0);

    // Had it been sent, the instance would have accepted it: the refusal was local.
    let (status, _) = raw_refresh(&sim, &rt).await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_profiles_refresh_token_lifespan_sets_the_recorded_expiry() {
    let sim = start(SimConfig::default()).await;
    let store = store();
    let mut p = profile("lifespan", &sim, AuthMethod::OauthPassword);
    p.refresh_token_lifespan = Some(1000);
    let conn = open(p, &sim, &store).await;
    let (meta, _) = conn.grant_without_browser().await.unwrap();
    assert_eq!(meta.refresh_expires_at, Some(meta.obtained_at + 1000));
    // A refresh does not move it.
    let refreshed = conn.refresh().await.unwrap();
    assert_eq!(refreshed.refresh_expires_at, Some(meta.obtained_at + 1000));

    // Without the profile field: ServiceNow's default, 100 days.
    let conn = open(
        profile("default-lifespan", &sim, AuthMethod::OauthPassword),
        &sim,
        &store,
    )
    .await;
    let (meta, _) = conn.grant_without_browser().await.unwrap();
    assert_eq!(meta.refresh_expires_at, Some(meta.obtained_at + 8_640_000));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refresh_token_with_less_than_15_days_left_expires_soon() {
    let sim = start(SimConfig::default()).await;
    let store = store();
    // Through the lifespan: 10 days → expires soon; 16 days → connected.
    for (name, days, want) in [
        ("soon", 10, TokenStatus::ExpiresSoon),
        ("later", 16, TokenStatus::Connected),
    ] {
        let mut p = profile(name, &sim, AuthMethod::OauthCode);
        p.refresh_token_lifespan = Some(days * DAY);
        let conn = open(p, &sim, &store).await;
        conn.store_grant(password_tokens(&sim).await).await.unwrap();
        assert_eq!(conn.token_status().await, Some(want), "{name}");
    }
    // Through recorded facts, as a saved profile holds them: 14 days left.
    let grant = password_tokens(&sim).await;
    put(
        &store,
        "recorded",
        ACCESS_TOKEN,
        grant.access_token.expose(),
    );
    put(
        &store,
        "recorded",
        REFRESH_TOKEN,
        grant.refresh_token.as_ref().unwrap().expose(),
    );
    let now = now_secs();
    let mut p = profile("recorded", &sim, AuthMethod::OauthCode);
    p.tokens = Some(TokenMeta {
        obtained_at: now - 86 * DAY,
        access_expires_at: Some(now + 1000),
        refresh_expires_at: Some(now + 14 * DAY),
        has_access_token: true,
        has_refresh_token: true,
    });
    let conn = open(p, &sim, &store).await;
    assert_eq!(conn.token_status().await, Some(TokenStatus::ExpiresSoon));
    // Still usable meanwhile.
    assert!(conn.test().await.ok());
}

// ---- client credentials -------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn client_credentials_without_a_refresh_token_are_renewed_by_a_new_grant() {
    let sim = start(SimConfig::default()).await;
    enable_client_credentials(&sim, ADMIN_SYS_ID).await;
    let store = store();
    let first = open(
        profile("cc", &sim, AuthMethod::OauthClientCredentials),
        &sim,
        &store,
    )
    .await;
    let (meta, _) = first.grant_without_browser().await.expect("first grant");
    assert!(!meta.has_refresh_token);
    let old = stored(&store, "cc", ACCESS_TOKEN).unwrap();

    // Later: the access token has expired, here and on the instance.
    let mut p = profile("cc", &sim, AuthMethod::OauthClientCredentials);
    p.tokens = Some(TokenMeta {
        access_expires_at: Some(now_secs() - 1),
        ..meta
    });
    let conn = open(p, &sim, &store).await;
    assert!(sim.expire_access_tokens() >= 1);
    sim.clear_requests();
    // Renewable without a person: not "expired".
    assert_eq!(conn.token_status().await, Some(TokenStatus::Connected));

    let report = conn.test().await;
    assert!(report.ok(), "{report:#?}");
    assert_eq!(report.identity.as_ref().unwrap().user_name, "admin");
    assert_eq!(report.checks[0].name, "token refresh");
    assert!(report.checks[0].ok);
    assert_eq!(grants(&sim, "client_credentials", 200), 1);
    assert_eq!(sim.count_requests(TOKEN_PATH, None), 1, "one grant only");
    assert_eq!(refreshes(&sim), 0);
    assert_eq!(conn.tokens().unwrap().refresh_count(), 1);
    let new = stored(&store, "cc", ACCESS_TOKEN).unwrap();
    assert_ne!(new, old);
    assert_eq!(stored(&store, "cc", REFRESH_TOKEN), None);
}
