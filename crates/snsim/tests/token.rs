//! `/oauth_token.do` over real TLS.

mod common;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use common::*;
use sha2::{Digest, Sha256};
use snsim::{SimConfig, CONFIDENTIAL_CLIENT_ID, PUBLIC_CLIENT_ID};

fn is_token(s: &str) -> bool {
    s.len() == 86
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

async fn assert_generic_401(res: reqwest::Response) {
    assert_eq!(res.status(), 401);
    assert_json_headers(res.headers(), false);
    assert_eq!(res.text().await.unwrap(), GENERIC_TOKEN_ERROR);
}

/// Returns a fresh authorization code for the confidential client, via login + consent.
async fn confidential_code(sim: &snsim::RunningSim) -> String {
    let authorize = authorize_url(
        sim,
        CONFIDENTIAL_CLIENT_ID,
        &[("redirect_uri", REDIRECT), ("state", "st1")],
    );
    let loc = browser_flow(sim, &authorize, "allow").await;
    get_param(&location_params(&loc), "code")
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn password_grant_success_shape_and_field_order() {
    let sim = start_default().await;
    let secret = sim.confidential_client_secret().to_string();
    let res = token(
        &sim,
        &[
            ("grant_type", "password"),
            ("client_id", CONFIDENTIAL_CLIENT_ID),
            ("client_secret", &secret),
            ("username", "admin"),
            ("password", "Admin#1234"),
        ],
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_json_headers(res.headers(), false);
    let body = res.text().await.unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let access = v["access_token"].as_str().unwrap();
    let refresh = v["refresh_token"].as_str().unwrap();
    assert!(is_token(access) && is_token(refresh));
    assert_eq!(
        body,
        format!(
            r#"{{"access_token":"{access}","refresh_token":"{refresh}","scope":"useraccount","token_type":"Bearer","expires_in":1799}}"#
        )
    );
    let issued = sim.issued_secrets();
    assert!(issued.contains(&access.to_string()));
    assert!(issued.contains(&refresh.to_string()));
    assert!(issued.contains(&secret));
    let log = sim.requests();
    let last = log.last().unwrap();
    assert_eq!(last.path, "/oauth_token.do");
    assert_eq!(last.grant_type.as_deref(), Some("password"));
    assert_eq!(last.status, 200);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn same_access_token_while_valid_then_new_after_expiry() {
    let sim = start_default().await;
    let a = password_grant(&sim).await;
    let b = password_grant(&sim).await;
    assert_eq!(a["access_token"], b["access_token"]);
    assert_eq!(a["refresh_token"], b["refresh_token"]);
    assert_eq!(b["expires_in"], 1799);
    // Expire via the control API, then a new token is issued.
    let res = client(&sim)
        .post(url(&sim, "/__snsim/expire_tokens"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let c = password_grant(&sim).await;
    assert_ne!(a["access_token"], c["access_token"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_grant_returns_only_an_access_token() {
    let sim = start_default().await;
    let first = password_grant(&sim).await;
    sim.expire_access_tokens();
    let secret = sim.confidential_client_secret().to_string();
    let res = token(
        &sim,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", CONFIDENTIAL_CLIENT_ID),
            ("client_secret", &secret),
            ("refresh_token", first["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let access = v["access_token"].as_str().unwrap();
    assert_ne!(access, first["access_token"].as_str().unwrap());
    assert_eq!(
        body,
        format!(
            r#"{{"access_token":"{access}","scope":"useraccount","token_type":"Bearer","expires_in":1799}}"#
        )
    );
    assert_eq!(
        sim.requests().last().unwrap().grant_type.as_deref(),
        Some("refresh_token")
    );

    // A bad refresh token, and an expired one, get the generic 401.
    let bad = token(
        &sim,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", CONFIDENTIAL_CLIENT_ID),
            ("client_secret", &secret),
            ("refresh_token", "nope"),
        ],
    )
    .await;
    assert_generic_401(bad).await;
    sim.advance_clock(std::time::Duration::from_secs(8_640_001));
    let expired = token(
        &sim,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", CONFIDENTIAL_CLIENT_ID),
            ("client_secret", &secret),
            ("refresh_token", first["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_generic_401(expired).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_failure_is_the_generic_401() {
    let sim = start_default().await;
    let secret = sim.confidential_client_secret().to_string();
    // Wrong client secret.
    assert_generic_401(
        token(
            &sim,
            &[
                ("grant_type", "password"),
                ("client_id", CONFIDENTIAL_CLIENT_ID),
                ("client_secret", "wrong"),
                ("username", "admin"),
                ("password", "Admin#1234"),
            ],
        )
        .await,
    )
    .await;
    // Wrong user password.
    assert_generic_401(
        token(
            &sim,
            &[
                ("grant_type", "password"),
                ("client_id", CONFIDENTIAL_CLIENT_ID),
                ("client_secret", &secret),
                ("username", "admin"),
                ("password", "wrong"),
            ],
        )
        .await,
    )
    .await;
    // Unknown client, unsupported grant, no client at all.
    assert_generic_401(
        token(
            &sim,
            &[
                ("grant_type", "password"),
                ("client_id", "0000"),
                ("client_secret", &secret),
                ("username", "admin"),
                ("password", "Admin#1234"),
            ],
        )
        .await,
    )
    .await;
    assert_generic_401(
        token(
            &sim,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", CONFIDENTIAL_CLIENT_ID),
                ("client_secret", &secret),
            ],
        )
        .await,
    )
    .await;
    assert_generic_401(token(&sim, &[("grant_type", "password")]).await).await;
    // The public client cannot use the password grant.
    assert_generic_401(
        token(
            &sim,
            &[
                ("grant_type", "password"),
                ("client_id", PUBLIC_CLIENT_ID),
                ("username", "admin"),
                ("password", "Admin#1234"),
            ],
        )
        .await,
    )
    .await;
    // Parameters in the query string (post-body-only).
    let res = client(&sim)
        .post(url(
            &sim,
            &format!("/oauth_token.do?client_id={CONFIDENTIAL_CLIENT_ID}"),
        ))
        .form(&[
            ("grant_type", "password"),
            ("client_id", CONFIDENTIAL_CLIENT_ID),
            ("client_secret", secret.as_str()),
            ("username", "admin"),
            ("password", "Admin#1234"),
        ])
        .send()
        .await
        .unwrap();
    assert_generic_401(res).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn json_body_is_rejected_with_400() {
    let sim = start_default().await;
    let res = client(&sim)
        .post(url(&sim, "/oauth_token.do"))
        .json(&serde_json::json!({
            "grant_type": "password",
            "client_id": CONFIDENTIAL_CLIENT_ID,
            "client_secret": sim.confidential_client_secret(),
            "username": "admin",
            "password": "Admin#1234",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_json_headers(res.headers(), false);
    assert_eq!(res.text().await.unwrap(), GENERIC_TOKEN_ERROR);
}

#[tokio::test(flavor = "multi_thread")]
async fn http_basic_client_authentication_is_accepted() {
    let sim = start_default().await;
    let basic = STANDARD.encode(format!(
        "{CONFIDENTIAL_CLIENT_ID}:{}",
        sim.confidential_client_secret()
    ));
    let res = client(&sim)
        .post(url(&sim, "/oauth_token.do"))
        .header("authorization", format!("Basic {basic}"))
        .form(&[
            ("grant_type", "password"),
            ("username", "abel.tuter"),
            ("password", "Abel#1234"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // Switched off: the same call fails.
    let sim = start(SimConfig {
        accept_basic_client_auth: false,
        ..SimConfig::default()
    })
    .await;
    let basic = STANDARD.encode(format!(
        "{CONFIDENTIAL_CLIENT_ID}:{}",
        sim.confidential_client_secret()
    ));
    let res = client(&sim)
        .post(url(&sim, "/oauth_token.do"))
        .header("authorization", format!("Basic {basic}"))
        .form(&[
            ("grant_type", "password"),
            ("username", "abel.tuter"),
            ("password", "Abel#1234"),
        ])
        .send()
        .await
        .unwrap();
    assert_generic_401(res).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn confidential_code_exchange_once_only() {
    let sim = start_default().await;
    let secret = sim.confidential_client_secret().to_string();
    let code = confidential_code(&sim).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("client_id", CONFIDENTIAL_CLIENT_ID),
        ("client_secret", secret.as_str()),
    ];
    let res = token(&sim, &form).await;
    assert_eq!(res.status(), 200);
    let v: serde_json::Value = res.json().await.unwrap();
    assert!(v["refresh_token"].is_string());
    assert_eq!(v["expires_in"], 1799);
    assert!(sim.issued_secrets().contains(&code));
    // Reused code.
    assert_generic_401(token(&sim, &form).await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn code_exchange_failures() {
    let sim = start_default().await;
    let secret = sim.confidential_client_secret().to_string();
    // Wrong secret.
    let code = confidential_code(&sim).await;
    assert_generic_401(
        token(
            &sim,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("client_id", CONFIDENTIAL_CLIENT_ID),
                ("client_secret", "wrong"),
            ],
        )
        .await,
    )
    .await;
    // Different redirect_uri from the one used at authorize.
    let code = confidential_code(&sim).await;
    assert_generic_401(
        token(
            &sim,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "http://127.0.0.1:9999/other"),
                ("client_id", CONFIDENTIAL_CLIENT_ID),
                ("client_secret", &secret),
            ],
        )
        .await,
    )
    .await;
    // Expired code (60 s on the sim clock).
    let code = confidential_code(&sim).await;
    sim.advance_clock(std::time::Duration::from_secs(61));
    assert_generic_401(
        token(
            &sim,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("client_id", CONFIDENTIAL_CLIENT_ID),
                ("client_secret", &secret),
            ],
        )
        .await,
    )
    .await;
    // Code issued to the confidential client, redeemed by the public one.
    let code = confidential_code(&sim).await;
    assert_generic_401(
        token(
            &sim,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("client_id", PUBLIC_CLIENT_ID),
            ],
        )
        .await,
    )
    .await;
}

fn pkce_pair() -> (String, String) {
    let verifier = "a-very-long-verifier-with-enough-entropy_0123456789abcdefABCDEF".to_string();
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

#[tokio::test(flavor = "multi_thread")]
async fn public_client_pkce_success_and_wrong_verifier() {
    let sim = start_default().await;
    let (verifier, challenge) = pkce_pair();
    let authorize = authorize_url(
        &sim,
        PUBLIC_CLIENT_ID,
        &[
            ("redirect_uri", REDIRECT),
            ("state", "pk1"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    let loc = browser_flow(&sim, &authorize, "allow").await;
    let code = get_param(&location_params(&loc), "code")
        .unwrap()
        .to_string();
    let res = token(
        &sim,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", PUBLIC_CLIENT_ID),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(res.status(), 200);
    let v: serde_json::Value = res.json().await.unwrap();
    assert!(v["access_token"].is_string() && v["refresh_token"].is_string());

    // Wrong verifier.
    let loc = browser_flow(&sim, &authorize, "allow").await;
    let code = get_param(&location_params(&loc), "code")
        .unwrap()
        .to_string();
    let wrong = format!("{verifier}x");
    assert_generic_401(
        token(
            &sim,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("client_id", PUBLIC_CLIENT_ID),
                ("code_verifier", &wrong),
            ],
        )
        .await,
    )
    .await;
    // Missing verifier.
    let loc = browser_flow(&sim, &authorize, "allow").await;
    let code = get_param(&location_params(&loc), "code")
        .unwrap()
        .to_string();
    assert_generic_401(
        token(
            &sim,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("client_id", PUBLIC_CLIENT_ID),
            ],
        )
        .await,
    )
    .await;
}
