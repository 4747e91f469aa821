//! Checklist items 1-3 (servicenow.md "Simulator checklist"): `oauth_token.do` grants and
//! switches, `oauth_auth.do` switches, revocation. Real TLS throughout.

mod common;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::*;
use snsim::{properties, DenyMode, SimConfig, CONFIDENTIAL_CLIENT_ID, PUBLIC_CLIENT_ID};

fn basic(user: &str, pw: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{pw}")))
}

async fn assert_generic_401(res: reqwest::Response) {
    assert_eq!(res.status(), 401);
    assert_json_headers(res.headers(), false);
    assert_eq!(res.text().await.unwrap(), GENERIC_TOKEN_ERROR);
}

fn password_form(secret: &str) -> Vec<(&str, &str)> {
    vec![
        ("grant_type", "password"),
        ("client_id", CONFIDENTIAL_CLIENT_ID),
        ("client_secret", secret),
        ("username", "admin"),
        ("password", "Admin#1234"),
    ]
}

async fn api_get(sim: &snsim::RunningSim, path: &str, auth: &str) -> reqwest::Response {
    client(sim)
        .get(url(sim, path))
        .header("accept", "application/json")
        .header("authorization", auth)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn json_body_status_is_a_switch() {
    let sim = start(SimConfig {
        json_token_body_status: 500,
        ..SimConfig::default()
    })
    .await;
    let res = client(&sim)
        .post(url(&sim, "/oauth_token.do"))
        .header("content-type", "application/json")
        .body(r#"{"grant_type":"password"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 500);
    assert_eq!(res.text().await.unwrap(), GENERIC_TOKEN_ERROR);
}

#[tokio::test(flavor = "multi_thread")]
async fn query_parameters_refused_until_the_post_body_only_property_is_false() {
    let sim = start_default().await;
    let secret = sim.confidential_client_secret().to_string();
    let q = format!(
        "/oauth_token.do?grant_type=password&client_id={CONFIDENTIAL_CLIENT_ID}&client_secret={secret}&username=admin&password=Admin%231234"
    );
    let post = |sim: &snsim::RunningSim| {
        client(sim)
            .post(url(sim, &q))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("")
            .send()
    };
    assert_generic_401(post(&sim).await.unwrap()).await;
    // An admin flips the property through the Table API, like on the platform.
    let props: serde_json::Value = api_get(
        &sim,
        &format!(
            "/api/now/table/sys_properties?sysparm_query=name={}&sysparm_fields=sys_id,value",
            properties::POST_BODY_ONLY
        ),
        &basic("admin", "Admin#1234"),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(props["result"][0]["value"], "true");
    let sys_id = props["result"][0]["sys_id"].as_str().unwrap();
    let res = client(&sim)
        .patch(url(
            &sim,
            &format!("/api/now/table/sys_properties/{sys_id}"),
        ))
        .header("accept", "application/json")
        .header("authorization", basic("admin", "Admin#1234"))
        .json(&serde_json::json!({"value": "false"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = post(&sim).await.unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn password_grant_refused_when_ropc_is_disabled() {
    let sim = start_default().await;
    let secret = sim.confidential_client_secret().to_string();
    assert_eq!(token(&sim, &password_form(&secret)).await.status(), 200);
    sim.set_property(properties::ROPC_DISABLED, "true");
    assert_generic_401(token(&sim, &password_form(&secret)).await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn client_credentials_needs_the_property_and_an_application_user() {
    let sim = start_default().await;
    let secret = sim.confidential_client_secret().to_string();
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", CONFIDENTIAL_CLIENT_ID),
        ("client_secret", secret.as_str()),
    ];
    // Fresh instance: the property does not exist.
    assert_eq!(sim.property(properties::CLIENT_CREDENTIALS), None);
    assert_generic_401(token(&sim, &form).await).await;
    // Property true but no OAuth Application User on the entity.
    sim.set_property(properties::CLIENT_CREDENTIALS, "true");
    assert_generic_401(token(&sim, &form).await).await;
    // The admin sets the application user on the entity through the Table API.
    let admin = basic("admin", "Admin#1234");
    let entity: serde_json::Value = api_get(
        &sim,
        &format!("/api/now/table/oauth_entity?sysparm_query=client_id={CONFIDENTIAL_CLIENT_ID}&sysparm_fields=sys_id"),
        &admin,
    )
    .await
    .json()
    .await
    .unwrap();
    let sys_id = entity["result"][0]["sys_id"].as_str().unwrap();
    let res = client(&sim)
        .patch(url(&sim, &format!("/api/now/table/oauth_entity/{sys_id}")))
        .header("accept", "application/json")
        .header("authorization", &admin)
        .json(&serde_json::json!({"oauth_application_user": "62826bf03710200044e0bfc8bcbe5df1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = token(&sim, &form).await;
    assert_eq!(res.status(), 200);
    let v: serde_json::Value = res.json().await.unwrap();
    assert!(v.get("refresh_token").is_none(), "no refresh token: {v}");
    assert_eq!(v["scope"], "useraccount");
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 1799);
    let me: serde_json::Value = api_get(
        &sim,
        "/api/now/ui/user/current_user",
        &format!("Bearer {}", v["access_token"].as_str().unwrap()),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(me["result"]["user_name"], "abel.tuter");
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_echo_is_a_switch() {
    let sim = start_default().await;
    let first = password_grant(&sim).await;
    let rt = first["refresh_token"].as_str().unwrap().to_string();
    let secret = sim.confidential_client_secret().to_string();
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", CONFIDENTIAL_CLIENT_ID),
        ("client_secret", secret.as_str()),
        ("refresh_token", rt.as_str()),
    ];
    let v: serde_json::Value = token(&sim, &form).await.json().await.unwrap();
    assert!(v.get("refresh_token").is_none());
    sim.update_switches(|s| s.refresh_echo = true);
    let res = token(&sim, &form).await;
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["refresh_token"], rt.as_str());
    assert!(text.starts_with(r#"{"access_token":""#));
    // The control API counts the refresh requests.
    assert_eq!(
        sim.count_requests("/oauth_token.do", Some("refresh_token")),
        2
    );
    let n: serde_json::Value = client(&sim)
        .get(url(
            &sim,
            "/__snsim/requests/count?path=/oauth_token.do&grant_type=refresh_token",
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(n, serde_json::json!({"count": 2}));
}

#[tokio::test(flavor = "multi_thread")]
async fn basic_client_authentication_can_be_switched_off() {
    let sim = start_default().await;
    sim.update_switches(|s| s.basic_client_auth = false);
    let secret = sim.confidential_client_secret().to_string();
    let res = client(&sim)
        .post(url(&sim, "/oauth_token.do"))
        .header("authorization", basic(CONFIDENTIAL_CLIENT_ID, &secret))
        .form(&[
            ("grant_type", "password"),
            ("username", "admin"),
            ("password", "Admin#1234"),
        ])
        .send()
        .await
        .unwrap();
    assert_generic_401(res).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn oauth_inactive_property_or_plugin_refuses_tokens() {
    let sim = start_default().await;
    sim.set_property(properties::OAUTH_ACTIVE, "false");
    let secret = sim.confidential_client_secret().to_string();
    assert_generic_401(token(&sim, &password_form(&secret)).await).await;
    sim.set_property(properties::OAUTH_ACTIVE, "true");
    assert_eq!(token(&sim, &password_form(&secret)).await.status(), 200);
    // Deactivating the plugin through sys_plugins (v_plugin is a view of it).
    let admin = basic("admin", "Admin#1234");
    let v: serde_json::Value = api_get(
        &sim,
        "/api/now/table/sys_plugins?sysparm_query=source=com.snc.platform.security.oauth&sysparm_fields=sys_id",
        &admin,
    )
    .await
    .json()
    .await
    .unwrap();
    let sys_id = v["result"][0]["sys_id"].as_str().unwrap();
    let res = client(&sim)
        .patch(url(&sim, &format!("/api/now/table/sys_plugins/{sys_id}")))
        .header("accept", "application/json")
        .header("authorization", &admin)
        .json(&serde_json::json!({"active": "false"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let v: serde_json::Value = api_get(
        &sim,
        "/api/now/table/v_plugin?sysparm_query=id=com.snc.platform.security.oauth&sysparm_fields=active",
        &admin,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(v["result"][0]["active"], "false");
    assert_generic_401(token(&sim, &password_form(&secret)).await).await;
    assert!(sim.set_plugin_active("com.snc.platform.security.oauth", true));
    assert_eq!(token(&sim, &password_form(&secret)).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn public_client_refresh_is_a_switch() {
    let sim = start_default().await;
    sim.update_switches(|s| s.public_client_refresh = false);
    let res = token(
        &sim,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", PUBLIC_CLIENT_ID),
            ("refresh_token", "whatever"),
        ],
    )
    .await;
    assert_generic_401(res).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn state_not_required_when_the_property_is_false() {
    let sim = start_default().await;
    let authorize = authorize_url(&sim, CONFIDENTIAL_CLIENT_ID, &[("redirect_uri", REDIRECT)]);
    let page = client(&sim).get(&authorize).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page
        .text()
        .await
        .unwrap()
        .contains("Missing State parameter in request."));
    sim.set_property(properties::STATE_REQUIRED, "false");
    let loc = browser_flow(&sim, &authorize, "allow").await;
    let params = location_params(&loc);
    assert!(get_param(&params, "code").is_some());
    assert!(get_param(&params, "state").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn strict_redirect_switch_refuses_unregistered_urls() {
    let sim = start_default().await;
    sim.update_switches(|s| s.redirect_strict = true);
    let authorize = authorize_url(
        &sim,
        CONFIDENTIAL_CLIENT_ID,
        &[("redirect_uri", "http://127.0.0.1:9/evil"), ("state", "s")],
    );
    let res = client(&sim).get(&authorize).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("Invalid redirect_uri"));
}

#[tokio::test(flavor = "multi_thread")]
async fn deny_can_show_a_page_instead_of_redirecting() {
    let sim = start_default().await;
    assert_eq!(sim.switches().deny, DenyMode::Redirect);
    sim.update_switches(|s| s.deny = DenyMode::Page);
    let authorize = authorize_url(
        &sim,
        CONFIDENTIAL_CLIENT_ID,
        &[("redirect_uri", REDIRECT), ("state", "d2")],
    );
    let res = browser_flow_response(&sim, &authorize, "deny").await;
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("location").is_none());
    assert!(res.text().await.unwrap().contains("<h1>Access denied</h1>"));
}

#[tokio::test(flavor = "multi_thread")]
async fn implicit_grant_redirect_carries_the_access_token() {
    let sim = start(SimConfig {
        auto_approve: true,
        ..SimConfig::default()
    })
    .await;
    let mut u = sim.base_url().join("oauth_auth.do").unwrap();
    u.query_pairs_mut()
        .append_pair("response_type", "token")
        .append_pair("client_id", CONFIDENTIAL_CLIENT_ID)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("state", "i1");
    let res = client(&sim).get(u.as_str()).send().await.unwrap();
    assert_eq!(res.status(), 302);
    let loc = header(res.headers(), "location").to_string();
    assert!(loc.starts_with("http://127.0.0.1:8765/callback?access_token="));
    let params = location_params(&loc);
    assert_eq!(get_param(&params, "state"), Some("i1"));
    assert!(get_param(&params, "refresh_token").is_none());
    let at = get_param(&params, "access_token").unwrap();
    let res = api_get(
        &sim,
        "/api/now/ui/user/current_user",
        &format!("Bearer {at}"),
    )
    .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn codes_are_short_lived() {
    let sim = start(SimConfig {
        auto_approve: true,
        ..SimConfig::default()
    })
    .await;
    let authorize = authorize_url(
        &sim,
        CONFIDENTIAL_CLIENT_ID,
        &[("redirect_uri", REDIRECT), ("state", "c1")],
    );
    let res = client(&sim).get(&authorize).send().await.unwrap();
    let loc = header(res.headers(), "location").to_string();
    let code = get_param(&location_params(&loc), "code")
        .unwrap()
        .to_string();
    sim.advance_clock(std::time::Duration::from_secs(61));
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
    assert_generic_401(res).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn revoke_endpoints_expire_tokens_without_authentication() {
    let sim = start_default().await;
    let v = password_grant(&sim).await;
    let at = v["access_token"].as_str().unwrap().to_string();
    let rt = v["refresh_token"].as_str().unwrap().to_string();
    let bearer = format!("Bearer {at}");
    assert_eq!(
        api_get(&sim, "/api/now/ui/user/current_user", &bearer)
            .await
            .status(),
        200
    );
    let res = client(&sim)
        .get(url(&sim, &format!("/oauth_revoke_token.do?token={at}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(header(res.headers(), "server"), "snow_adc");
    assert_eq!(res.text().await.unwrap(), "");
    assert_eq!(
        api_get(&sim, "/api/now/ui/user/current_user", &bearer)
            .await
            .status(),
        401
    );
    // POST form on the other path, for the refresh token.
    let res = client(&sim)
        .post(url(&sim, "/oauth_revoke.do"))
        .form(&[("token", rt.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let secret = sim.confidential_client_secret().to_string();
    let res = token(
        &sim,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", CONFIDENTIAL_CLIENT_ID),
            ("client_secret", &secret),
            ("refresh_token", &rt),
        ],
    )
    .await;
    assert_generic_401(res).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn new_oauth_entity_is_immediately_usable() {
    let sim = start_default().await;
    let admin = basic("admin", "Admin#1234");
    let res = client(&sim)
        .post(url(&sim, "/api/now/table/oauth_entity"))
        .header("accept", "application/json")
        .header("authorization", &admin)
        .json(&serde_json::json!({
            "name": "my integration",
            "type": "client",
            "redirect_url": "http://127.0.0.1:7777/cb,http://127.0.0.1:7778/cb",
            "active": true
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert_json_headers(res.headers(), true);
    let v: serde_json::Value = res.json().await.unwrap();
    let client_id = v["result"]["client_id"].as_str().unwrap().to_string();
    let secret = v["result"]["client_secret"].as_str().unwrap().to_string();
    assert_eq!(client_id.len(), 32);
    assert!(client_id.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(!secret.is_empty());
    assert!(sim.issued_secrets().contains(&secret));
    assert_eq!(v["result"]["access_token_lifespan"], "1800");
    assert_eq!(v["result"]["refresh_token_lifespan"], "8640000");
    // Password grant with the new client.
    let res = token(
        &sim,
        &[
            ("grant_type", "password"),
            ("client_id", &client_id),
            ("client_secret", &secret),
            ("username", "abel.tuter"),
            ("password", "Abel#1234"),
        ],
    )
    .await;
    assert_eq!(res.status(), 200);
    // Authorization: an unregistered redirect falls back to its first URL.
    let sim_auto = &sim;
    let authorize = authorize_url(
        sim_auto,
        &client_id,
        &[("redirect_uri", "http://127.0.0.1:1/x"), ("state", "n1")],
    );
    let loc = browser_flow(&sim, &authorize, "allow").await;
    assert!(loc.starts_with("http://127.0.0.1:7777/cb?code="), "{loc}");
    // Non-admins get 403.
    let res = client(&sim)
        .post(url(&sim, "/api/now/table/oauth_entity"))
        .header("accept", "application/json")
        .header("authorization", basic("abel.tuter", "Abel#1234"))
        .json(&serde_json::json!({"name": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(
        res.text().await.unwrap(),
        r#"{"error":{"message":"User Not Authorized","detail":"Failed API level ACL Validation"},"status":"failure"}"#
    );
    // oauth_admin may create entities.
    let res = client(&sim)
        .post(url(&sim, "/api/now/table/oauth_entity"))
        .header("accept", "application/json")
        .header("authorization", basic("oauth.admin", "OAuth#1234"))
        .json(&serde_json::json!({"name": "by oauth admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    // The control API lists the new clients.
    let clients: serde_json::Value = client(&sim)
        .get(url(&sim, "/__snsim/clients"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(clients["clients"].as_array().unwrap().len(), 4);
}

/// ASN.1 ECDSA signature → JOSE `r||s`.
fn der_to_raw(der: &[u8]) -> Vec<u8> {
    assert_eq!(der[0], 0x30);
    let mut i = 2;
    let mut out = Vec::new();
    for _ in 0..2 {
        assert_eq!(der[i], 0x02);
        let len = der[i + 1] as usize;
        let v = &der[i + 2..i + 2 + len];
        let v: Vec<u8> = v.iter().copied().skip_while(|b| *b == 0).collect();
        out.extend(std::iter::repeat_n(0u8, 32 - v.len()));
        out.extend(v);
        i += 2 + len;
    }
    out
}

fn es256_jwt(key: &rcgen::KeyPair, claims: serde_json::Value) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use rcgen::SigningKey;
    let h = URL_SAFE_NO_PAD.encode(r#"{"alg":"ES256","typ":"JWT"}"#);
    let c = URL_SAFE_NO_PAD.encode(claims.to_string());
    let sig = key.sign(format!("{h}.{c}").as_bytes()).unwrap();
    format!("{h}.{c}.{}", URL_SAFE_NO_PAD.encode(der_to_raw(&sig)))
}

#[tokio::test(flavor = "multi_thread")]
async fn jwt_bearer_grant_has_no_refresh_token() {
    let sim = start_default().await;
    let key = rcgen::KeyPair::generate().unwrap();
    assert!(sim.set_jwt_verifier(CONFIDENTIAL_CLIENT_ID, &key.public_key_pem()));
    let secret = sim.confidential_client_secret().to_string();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let grant = |assertion: String| {
        let secret = secret.clone();
        let sim = &sim;
        async move {
            token(
                sim,
                &[
                    ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                    ("client_id", CONFIDENTIAL_CLIENT_ID),
                    ("client_secret", &secret),
                    ("assertion", &assertion),
                ],
            )
            .await
        }
    };
    let good = es256_jwt(
        &key,
        serde_json::json!({"aud": CONFIDENTIAL_CLIENT_ID, "iss": CONFIDENTIAL_CLIENT_ID, "sub": "abel.tuter", "exp": now + 300}),
    );
    let res = grant(good).await;
    assert_eq!(res.status(), 200);
    let v: serde_json::Value = res.json().await.unwrap();
    assert!(v.get("refresh_token").is_none(), "{v}");
    let me: serde_json::Value = api_get(
        &sim,
        "/api/now/ui/user/current_user",
        &format!("Bearer {}", v["access_token"].as_str().unwrap()),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(me["result"]["user_name"], "abel.tuter");
    // Wrong audience, expired beyond the 300 s skew, a foreign key: the generic 401.
    let wrong_aud = es256_jwt(
        &key,
        serde_json::json!({"aud": "someone-else", "sub": "abel.tuter", "exp": now + 300}),
    );
    assert_generic_401(grant(wrong_aud).await).await;
    let expired = es256_jwt(
        &key,
        serde_json::json!({"aud": CONFIDENTIAL_CLIENT_ID, "sub": "abel.tuter", "exp": now - 400}),
    );
    assert_generic_401(grant(expired).await).await;
    let other = rcgen::KeyPair::generate().unwrap();
    let forged = es256_jwt(
        &other,
        serde_json::json!({"aud": CONFIDENTIAL_CLIENT_ID, "sub": "admin", "exp": now + 300}),
    );
    assert_generic_401(grant(forged).await).await;
}
