//! `/oauth_auth.do`, `/login.do` and the consent page over real TLS.

mod common;

use common::*;
use snsim::{SimConfig, CONFIDENTIAL_CLIENT_ID, PUBLIC_CLIENT_ID};

#[tokio::test(flavor = "multi_thread")]
async fn missing_state_shows_the_servicenow_page_and_no_code() {
    let sim = start_default().await;
    for extra in [vec![("redirect_uri", REDIRECT)], vec![("state", "")]] {
        let res = browser(&sim)
            .get(authorize_url(&sim, CONFIDENTIAL_CLIENT_ID, &extra))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert!(res.headers().get("location").is_none());
        assert_eq!(header(res.headers(), "server"), "snow_adc");
        assert!(header(res.headers(), "content-type").starts_with("text/html"));
        let body = res.text().await.unwrap();
        assert!(
            body.contains("Missing State parameter in request."),
            "{body}"
        );
        assert!(!body.contains("code="));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn not_logged_in_shows_the_login_form() {
    let sim = start(SimConfig {
        demo_hint: true,
        ..SimConfig::default()
    })
    .await;
    let authorize = authorize_url(
        &sim,
        CONFIDENTIAL_CLIENT_ID,
        &[("redirect_uri", REDIRECT), ("state", "abc")],
    );
    let res = browser(&sim).get(&authorize).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    for needle in [
        r#"<form method="post" action="/login.do" id="loginForm">"#,
        r#"<input name="user_name" id="user_name">"#,
        r#"<input type="password" name="user_password" id="user_password">"#,
        r#"<button type="submit" id="sysverb_login">Log in</button>"#,
        "Demo instance: sign in as admin / Admin#1234",
    ] {
        assert!(page.contains(needle), "missing {needle} in {page}");
    }
    let goto = get_param(&inputs(&page), "sysparm_goto")
        .unwrap()
        .to_string();
    let expected = authorize
        .strip_prefix(sim.base_url().as_str().trim_end_matches('/'))
        .unwrap();
    assert_eq!(goto, expected);

    // sysparm_goto keeps the original path and query byte for byte.
    let raw = format!(
        "/oauth_auth.do?state=a%20b&response_type=code&client_id={CONFIDENTIAL_CLIENT_ID}&redirect_uri=http%3a%2f%2f127.0.0.1%3a8765%2fcallback"
    );
    let page = browser(&sim)
        .get(url(&sim, &raw))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        get_param(&inputs(&page), "sysparm_goto"),
        Some(raw.as_str())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_login_shows_the_error_and_keeps_goto() {
    let sim = start_default().await;
    let b = browser(&sim);
    let res = b
        .post(url(&sim, "/login.do"))
        .form(&[
            ("user_name", "admin"),
            ("user_password", "wrong"),
            ("sysparm_goto", "/oauth_auth.do?x=1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(header(res.headers(), "x-is-logged-in"), "false");
    let page = res.text().await.unwrap();
    assert!(page.contains("User name or password invalid"));
    assert_eq!(
        get_param(&inputs(&page), "sysparm_goto"),
        Some("/oauth_auth.do?x=1")
    );
    // An absolute goto is replaced by "/".
    let res = b
        .post(url(&sim, "/login.do"))
        .form(&[
            ("user_name", "admin"),
            ("user_password", "Admin#1234"),
            ("sysparm_goto", "https://evil.example/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    assert_eq!(header(res.headers(), "location"), "/");
    let cookies: Vec<_> = res.headers().get_all("set-cookie").iter().collect();
    assert!(cookies
        .iter()
        .any(|c| c.to_str().unwrap().starts_with("JSESSIONID=")));
}

#[tokio::test(flavor = "multi_thread")]
async fn login_consent_allow_redirects_with_code_and_state() {
    let sim = start_default().await;
    let b = browser(&sim);
    let authorize = authorize_url(
        &sim,
        CONFIDENTIAL_CLIENT_ID,
        &[
            ("redirect_uri", REDIRECT),
            ("state", "s t&1"),
            ("scope", "useraccount"),
        ],
    );
    let page = b
        .get(&authorize)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let goto = get_param(&inputs(&page), "sysparm_goto")
        .unwrap()
        .to_string();
    login(&sim, &b, "admin", "Admin#1234", &goto).await;

    let res = b.get(url(&sim, &goto)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(header(res.headers(), "x-is-logged-in"), "true");
    let consent = res.text().await.unwrap();
    for needle in [
        "<h1>Authorize</h1>",
        "snconnect (confidential) would like to connect to your ServiceNow instance",
        "Not You?",
        r#"<form method="post" action="/oauth_auth.do">"#,
        r#"<button type="submit" name="action" value="allow" id="allow">Allow</button>"#,
        r#"<button type="submit" name="action" value="deny" id="deny">Deny</button>"#,
    ] {
        assert!(consent.contains(needle), "missing {needle} in {consent}");
    }
    let form = inputs(&consent);
    for (k, v) in [
        ("response_type", "code"),
        ("client_id", CONFIDENTIAL_CLIENT_ID),
        ("redirect_uri", REDIRECT),
        ("state", "s t&1"),
        ("scope", "useraccount"),
    ] {
        assert_eq!(get_param(&form, k), Some(v), "{k}");
    }
    let mut post = form.clone();
    post.push(("action".into(), "allow".into()));
    let res = b
        .post(url(&sim, "/oauth_auth.do"))
        .form(&post)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    let loc = header(res.headers(), "location").to_string();
    assert!(
        loc.starts_with("http://127.0.0.1:8765/callback?code="),
        "{loc}"
    );
    assert!(loc.ends_with("&state=s+t%261"), "{loc}");
    let params = location_params(&loc);
    let code = get_param(&params, "code").unwrap();
    assert_eq!(code.len(), 86);
    assert_eq!(get_param(&params, "state"), Some("s t&1"));

    // Posting the consent form without the session's sysparm_ck is refused.
    let mut forged = post.clone();
    forged.retain(|(k, _)| k != "sysparm_ck");
    let res = b
        .post(url(&sim, "/oauth_auth.do"))
        .form(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    // Posting without a session shows the login page again, no code.
    let res = client(&sim)
        .post(url(&sim, "/oauth_auth.do"))
        .form(&post)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains(r#"id="loginForm""#));
}

#[tokio::test(flavor = "multi_thread")]
async fn deny_redirects_with_access_denied() {
    let sim = start_default().await;
    let authorize = authorize_url(
        &sim,
        CONFIDENTIAL_CLIENT_ID,
        &[("redirect_uri", REDIRECT), ("state", "d1")],
    );
    let loc = browser_flow(&sim, &authorize, "deny").await;
    let params = location_params(&loc);
    assert!(loc.starts_with("http://127.0.0.1:8765/callback?error=access_denied"));
    assert_eq!(get_param(&params, "error"), Some("access_denied"));
    assert_eq!(get_param(&params, "state"), Some("d1"));
    assert!(get_param(&params, "code").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn unregistered_redirect_falls_back_to_the_first_registered_url() {
    let sim = start(SimConfig {
        redirect_urls: vec![
            "http://127.0.0.1:7001/first".into(),
            "http://127.0.0.1:7002/second?x=1".into(),
        ],
        ..SimConfig::default()
    })
    .await;
    let authorize = authorize_url(
        &sim,
        CONFIDENTIAL_CLIENT_ID,
        &[
            ("redirect_uri", "http://127.0.0.1:9999/unregistered"),
            ("state", "f1"),
        ],
    );
    let loc = browser_flow(&sim, &authorize, "allow").await;
    assert!(
        loc.starts_with("http://127.0.0.1:7001/first?code="),
        "{loc}"
    );

    // A registered non-first URL is used as is (with `&` after its own query).
    let authorize = authorize_url(
        &sim,
        CONFIDENTIAL_CLIENT_ID,
        &[
            ("redirect_uri", "http://127.0.0.1:7002/second?x=1"),
            ("state", "f2"),
        ],
    );
    let loc = browser_flow(&sim, &authorize, "allow").await;
    assert!(
        loc.starts_with("http://127.0.0.1:7002/second?x=1&code="),
        "{loc}"
    );

    // The code is bound to the URL actually used.
    let code = get_param(&location_params(&loc), "code")
        .unwrap()
        .to_string();
    let secret = sim.confidential_client_secret().to_string();
    let res = token(
        &sim,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:7002/second?x=1"),
            ("client_id", CONFIDENTIAL_CLIENT_ID),
            ("client_secret", &secret),
        ],
    )
    .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_client_and_public_client_without_pkce_get_400_pages() {
    let sim = start_default().await;
    let res = browser(&sim)
        .get(authorize_url(
            &sim,
            "ffffffffffffffffffffffffffffffff",
            &[("redirect_uri", REDIRECT), ("state", "x")],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("Invalid client_id"));

    let res = browser(&sim)
        .get(authorize_url(
            &sim,
            PUBLIC_CLIENT_ID,
            &[("redirect_uri", REDIRECT), ("state", "x")],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(header(res.headers(), "content-type").starts_with("text/html"));

    // plain is not accepted.
    let res = browser(&sim)
        .get(authorize_url(
            &sim,
            PUBLIC_CLIENT_ID,
            &[
                ("redirect_uri", REDIRECT),
                ("state", "x"),
                ("code_challenge", &"a".repeat(43)),
                ("code_challenge_method", "plain"),
            ],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn auto_approve_redirects_immediately() {
    let sim = start(SimConfig {
        auto_approve: true,
        ..SimConfig::default()
    })
    .await;
    let res = client(&sim)
        .get(authorize_url(
            &sim,
            CONFIDENTIAL_CLIENT_ID,
            &[("redirect_uri", REDIRECT), ("state", "auto")],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    let loc = header(res.headers(), "location").to_string();
    let params = location_params(&loc);
    assert_eq!(get_param(&params, "state"), Some("auto"));
    let code = get_param(&params, "code").unwrap().to_string();
    let secret = sim.confidential_client_secret().to_string();
    let res = token(
        &sim,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", CONFIDENTIAL_CLIENT_ID),
            ("client_secret", &secret),
        ],
    )
    .await;
    assert_eq!(res.status(), 200);
    let v: serde_json::Value = res.json().await.unwrap();
    // The token belongs to admin.
    let me: serde_json::Value = client(&sim)
        .get(url(&sim, "/api/now/ui/user/current_user"))
        .header("accept", "application/json")
        .bearer_auth(v["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["result"]["user_name"], "admin");
}

#[tokio::test(flavor = "multi_thread")]
async fn not_you_logs_out_and_returns_to_the_login_page() {
    let sim = start_default().await;
    let b = browser(&sim);
    let authorize = authorize_url(
        &sim,
        CONFIDENTIAL_CLIENT_ID,
        &[("redirect_uri", REDIRECT), ("state", "n1")],
    );
    let page = b
        .get(&authorize)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let goto = get_param(&inputs(&page), "sysparm_goto")
        .unwrap()
        .to_string();
    login(&sim, &b, "abel.tuter", "Abel#1234", &goto).await;
    let consent = b
        .get(url(&sim, &goto))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(consent.contains("Abel Tuter"));
    let start = consent.find(r#"<a href=""#).unwrap() + 9;
    let href = unescape(&consent[start..start + consent[start..].find('"').unwrap()]);
    assert!(href.starts_with("/logout.do?"));
    let res = b.get(url(&sim, &href)).send().await.unwrap();
    assert_eq!(res.status(), 302);
    let back = header(res.headers(), "location").to_string();
    assert_eq!(back, goto);
    let page = b
        .get(url(&sim, &back))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(r#"id="loginForm""#));
}
