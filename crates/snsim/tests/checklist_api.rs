//! Checklist items 4-8 (servicenow.md "Simulator checklist"): Table API breadth, ACLs, API
//! authentication (Basic, Bearer, x-sn-apikey, session cookie, MFA, Basic Auth Restriction),
//! rate limiting, seed data. Real TLS throughout.

mod common;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::*;
use snsim::{properties, PluginActiveFormat, SimConfig, ADMIN_SYS_ID};

const NOT_AUTHORIZED: &str = r#"{"error":{"message":"User Not Authorized","detail":"Failed API level ACL Validation"},"status":"failure"}"#;
const NOT_AUTHENTICATED: &str = r#"{"error":{"message":"User Not Authenticated","detail":"Required to provide Auth information"},"status":"failure"}"#;
const ABEL: &str = "62826bf03710200044e0bfc8bcbe5df1";

fn basic(user: &str, pw: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{pw}")))
}

fn admin() -> String {
    basic("admin", "Admin#1234")
}

async fn get(sim: &snsim::RunningSim, path: &str, auth: &str) -> reqwest::Response {
    client(sim)
        .get(url(sim, path))
        .header("accept", "application/json")
        .header("authorization", auth)
        .send()
        .await
        .unwrap()
}

async fn body(res: reqwest::Response) -> String {
    res.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn link_header_and_pagination() {
    let sim = start_default().await;
    let res = get(
        &sim,
        "/api/now/table/incident?sysparm_limit=1&sysparm_offset=1&sysparm_fields=number",
        &admin(),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(res.headers(), "x-total-count"), "3");
    let base = sim.base_url().as_str().trim_end_matches('/').to_string();
    let u = |off: u32| {
        format!("<{base}/api/now/table/incident?sysparm_fields=number&sysparm_limit=1&sysparm_offset={off}>")
    };
    assert_eq!(
        header(res.headers(), "link"),
        format!(
            "{};rel=\"first\",{};rel=\"prev\",{};rel=\"next\",{};rel=\"last\"",
            u(0),
            u(0),
            u(2),
            u(2)
        )
    );
    assert_eq!(body(res).await, r#"{"result":[{"number":"INC0010002"}]}"#);
    let res = get(
        &sim,
        "/api/now/table/incident?sysparm_limit=1&sysparm_suppress_pagination_header=true&sysparm_no_count=true",
        &admin(),
    )
    .await;
    assert!(res.headers().get("link").is_none());
    assert!(res.headers().get("x-total-count").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn dot_walk_references_and_display_values() {
    let sim = start_default().await;
    let res = get(
        &sim,
        &format!("/api/now/table/sys_user_has_role?sysparm_query=user={ADMIN_SYS_ID}&sysparm_fields=role.name,user.name"),
        &admin(),
    )
    .await;
    assert_eq!(
        body(res).await,
        r#"{"result":[{"role.name":"admin","user.name":"System Administrator"}]}"#
    );
    // Dot-walk in the query too.
    let res = get(
        &sim,
        "/api/now/table/sys_user_has_role?sysparm_query=user.user_name=abel.tuter&sysparm_fields=role.name",
        &admin(),
    )
    .await;
    assert_eq!(body(res).await, r#"{"result":[{"role.name":"itil"}]}"#);
    let base = sim.base_url().as_str().trim_end_matches('/').to_string();
    let res = get(
        &sim,
        "/api/now/table/incident?sysparm_query=number=INC0010001&sysparm_fields=caller_id,state",
        &admin(),
    )
    .await;
    assert_eq!(
        body(res).await,
        format!(
            r#"{{"result":[{{"caller_id":{{"link":"{base}/api/now/table/sys_user/{ABEL}","value":"{ABEL}"}},"state":"1"}}]}}"#
        )
    );
    let res = get(
        &sim,
        "/api/now/table/incident?sysparm_query=number=INC0010001&sysparm_fields=caller_id,state&sysparm_display_value=true",
        &admin(),
    )
    .await;
    assert_eq!(
        body(res).await,
        r#"{"result":[{"caller_id":"Abel Tuter","state":"New"}]}"#
    );
    let res = get(
        &sim,
        "/api/now/table/incident?sysparm_query=number=INC0010001&sysparm_fields=caller_id,state&sysparm_display_value=all&sysparm_exclude_reference_link=true",
        &admin(),
    )
    .await;
    assert_eq!(
        body(res).await,
        format!(
            r#"{{"result":[{{"caller_id":{{"display_value":"Abel Tuter","value":"{ABEL}"}},"state":{{"display_value":"New","value":"1"}}}}]}}"#
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn query_operators_and_dropped_terms() {
    let sim = start_default().await;
    let q = |q: &str| format!("/api/now/table/incident?sysparm_fields=number&sysparm_query={q}");
    let cases = [
        (
            "short_descriptionSTARTSWITHemail",
            r#"[{"number":"INC0010002"}]"#,
        ),
        (
            "short_descriptionLIKEprinter",
            r#"[{"number":"INC0010003"}]"#,
        ),
        (
            "number=INC0010001^ORnumber=INC0010003",
            r#"[{"number":"INC0010001"},{"number":"INC0010003"}]"#,
        ),
        ("state=1^priority!=2", r#"[{"number":"INC0010003"}]"#),
        ("bogus_field=1^state=2", r#"[{"number":"INC0010002"}]"#),
        (
            "ORDERBYDESCnumber",
            r#"[{"number":"INC0010003"},{"number":"INC0010002"},{"number":"INC0010001"}]"#,
        ),
    ];
    for (query, want) in cases {
        let res = get(&sim, &q(&query.replace('^', "%5E")), &admin()).await;
        assert_eq!(
            body(res).await,
            format!(r#"{{"result":{want}}}"#),
            "{query}"
        );
    }
    // glide.invalid_query.returns_no_rows=true: the bad term empties the result instead.
    sim.set_property("glide.invalid_query.returns_no_rows", "true");
    let res = get(&sim, &q("bogus_field=1%5Estate=2"), &admin()).await;
    assert_eq!(body(res).await, r#"{"result":[]}"#);
}

#[tokio::test(flavor = "multi_thread")]
async fn post_patch_delete_incident() {
    let sim = start_default().await;
    let itil = basic("abel.tuter", "Abel#1234");
    let c = client(&sim);
    let res = c
        .post(url(
            &sim,
            "/api/now/table/incident?sysparm_fields=number,short_description,state",
        ))
        .header("accept", "application/json")
        .header("authorization", &itil)
        .json(&serde_json::json!({"short_description": "Created by a test"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert_json_headers(res.headers(), true);
    let loc = header(res.headers(), "location").to_string();
    assert_eq!(
        body(res).await,
        r#"{"result":{"number":"INC0010004","short_description":"Created by a test","state":"1"}}"#
    );
    let sys_id = loc.rsplit('/').next().unwrap().to_string();
    let res = c
        .patch(url(
            &sim,
            &format!("/api/now/v2/table/incident/{sys_id}?sysparm_fields=state"),
        ))
        .header("accept", "application/json")
        .header("authorization", &itil)
        .json(&serde_json::json!({"state": "2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(body(res).await, r#"{"result":{"state":"2"}}"#);
    let res = c
        .delete(url(&sim, &format!("/api/now/table/incident/{sys_id}")))
        .header("accept", "application/json")
        .header("authorization", &itil)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(body(res).await, "");
    let res = get(&sim, &format!("/api/now/table/incident/{sys_id}"), &itil).await;
    assert_eq!(res.status(), 404);
    assert_eq!(
        body(res).await,
        r#"{"error":{"message":"No Record found","detail":"Record doesn't exist or ACL restricts the record retrieval"},"status":"failure"}"#
    );
    // A user without roles cannot write incidents.
    let res = c
        .post(url(&sim, "/api/now/table/incident"))
        .header("accept", "application/json")
        .header("authorization", basic("no.roles", "None#1234"))
        .json(&serde_json::json!({"short_description": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(body(res).await, NOT_AUTHORIZED);
}

#[tokio::test(flavor = "multi_thread")]
async fn acl_403_for_plugins_db_objects_and_oauth_tables() {
    let sim = start_default().await;
    let itil = basic("abel.tuter", "Abel#1234");
    let none = basic("no.roles", "None#1234");
    for (path, auth) in [
        ("/api/now/table/sys_plugins", &itil),
        ("/api/now/table/v_plugin", &itil),
        ("/api/now/table/sys_db_object", &none),
        ("/api/now/table/oauth_entity", &itil),
    ] {
        let res = get(&sim, path, auth).await;
        assert_eq!(res.status(), 403, "{path}");
        assert_json_headers(res.headers(), true);
        assert_eq!(body(res).await, NOT_AUTHORIZED, "{path}");
    }
    // itil may read sys_db_object; admin reads everything.
    assert_eq!(
        get(&sim, "/api/now/table/sys_db_object", &itil)
            .await
            .status(),
        200
    );
    assert_eq!(
        get(&sim, "/api/now/table/sys_plugins", &admin())
            .await
            .status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sys_properties_rows_are_hidden_from_non_admins_but_counted() {
    let sim = start_default().await;
    let res = get(
        &sim,
        "/api/now/table/sys_properties?sysparm_query=name=com.snc.platform.security.oauth.is.active&sysparm_fields=name,value",
        &basic("abel.tuter", "Abel#1234"),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(res.headers(), "x-total-count"), "1");
    assert_eq!(body(res).await, r#"{"result":[]}"#);
    let res = get(
        &sim,
        "/api/now/table/sys_properties?sysparm_query=name=com.snc.platform.security.oauth.is.active&sysparm_fields=name,value",
        &admin(),
    )
    .await;
    assert_eq!(
        body(res).await,
        r#"{"result":[{"name":"com.snc.platform.security.oauth.is.active","value":"true"}]}"#
    );
    // glide.buildname for version detection.
    let res = get(
        &sim,
        "/api/now/table/sys_properties?sysparm_query=name=glide.buildname&sysparm_fields=value",
        &admin(),
    )
    .await;
    assert_eq!(body(res).await, r#"{"result":[{"value":"Zurich"}]}"#);
}

#[tokio::test(flavor = "multi_thread")]
async fn field_level_acl_switch_hides_fields_from_non_admins() {
    let sim = start_default().await;
    sim.update_switches(|s| {
        s.hidden_fields
            .insert("sys_user".into(), vec!["email".into()]);
    });
    let path = format!("/api/now/table/sys_user/{ADMIN_SYS_ID}?sysparm_fields=user_name,email");
    let res = get(&sim, &path, &basic("abel.tuter", "Abel#1234")).await;
    assert_eq!(body(res).await, r#"{"result":{"user_name":"admin"}}"#);
    let res = get(&sim, &path, &admin()).await;
    assert_eq!(
        body(res).await,
        r#"{"result":{"user_name":"admin","email":"admin@example.com"}}"#
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn plugin_active_format_is_a_switch() {
    let sim = start_default().await;
    let path = "/api/now/table/v_plugin?sysparm_query=id=com.snc.platform.security.oauth&sysparm_fields=id,name,active";
    assert_eq!(
        body(get(&sim, path, &admin()).await).await,
        r#"{"result":[{"id":"com.snc.platform.security.oauth","name":"OAuth 2.0","active":"true"}]}"#
    );
    sim.update_switches(|s| s.plugin_active_format = PluginActiveFormat::Active);
    assert_eq!(
        body(get(&sim, path, &admin()).await).await,
        r#"{"result":[{"id":"com.snc.platform.security.oauth","name":"OAuth 2.0","active":"active"}]}"#
    );
    let res = get(
        &sim,
        "/api/now/table/sys_plugins?sysparm_query=source=com.snc.platform.security.oauth&sysparm_fields=source,active",
        &admin(),
    )
    .await;
    assert_eq!(
        body(res).await,
        r#"{"result":[{"source":"com.snc.platform.security.oauth","active":"active"}]}"#
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn scope_restricted_bearer_gets_403() {
    let sim = start_default().await;
    sim.update_switches(|s| s.scope_restricted = true);
    let v = password_grant(&sim).await;
    let bearer = format!("Bearer {}", v["access_token"].as_str().unwrap());
    let res = get(&sim, "/api/now/table/sys_user?sysparm_limit=1", &bearer).await;
    assert_eq!(res.status(), 403);
    assert_eq!(
        body(res).await,
        r#"{"error":{"message":"Missing required api access scope","detail":null},"status":"failure"}"#
    );
    // Basic is not subject to auth scopes.
    assert_eq!(
        get(&sim, "/api/now/table/sys_user?sysparm_limit=1", &admin())
            .await
            .status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn duplicate_authorization_headers_get_400() {
    let sim = start_default().await;
    let res = client(&sim)
        .get(url(&sim, "/api/now/table/sys_user"))
        .header("accept", "application/json")
        .header("authorization", admin())
        .header("authorization", "Bearer x")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn api_key_in_header_or_query() {
    let sim = start_default().await;
    let key = sim.api_key().to_string();
    assert!(sim.issued_secrets().contains(&key));
    let c = client(&sim);
    let res = c
        .get(url(&sim, "/api/now/ui/user/current_user"))
        .header("accept", "application/json")
        .header("x-sn-apikey", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let v: serde_json::Value = res.json().await.unwrap();
    assert_eq!(v["result"]["user_name"], "admin");
    let res = c
        .get(url(
            &sim,
            &format!("/api/now/table/sys_user?sysparm_limit=1&x-sn-apikey={key}"),
        ))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = c
        .get(url(&sim, "/api/now/table/sys_user"))
        .header("accept", "application/json")
        .header("x-sn-apikey", "wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(body(res).await, NOT_AUTHENTICATED);
    sim.update_switches(|s| s.api_key_auth = false);
    let res = c
        .get(url(&sim, "/api/now/table/sys_user"))
        .header("accept", "application/json")
        .header("x-sn-apikey", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_keeps_cookies_is_caught_by_the_session() {
    let sim = start_default().await;
    let b = browser(&sim);
    let res = b
        .get(url(&sim, "/api/now/table/sys_user?sysparm_limit=1"))
        .header("accept", "application/json")
        .header("authorization", admin())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // Wrong credentials, but the JSESSIONID from the first call still authenticates.
    let res = b
        .get(url(&sim, "/api/now/ui/user/current_user"))
        .header("accept", "application/json")
        .header("authorization", basic("admin", "wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let v: serde_json::Value = res.json().await.unwrap();
    assert_eq!(v["result"]["user_name"], "admin");
    // A cookie-less client is not fooled.
    let res = get(
        &sim,
        "/api/now/ui/user/current_user",
        &basic("admin", "wrong"),
    )
    .await;
    assert_eq!(res.status(), 401);
    // Switch off: the session no longer counts.
    sim.update_switches(|s| s.session_cookie_auth = false);
    let res = b
        .get(url(&sim, "/api/now/ui/user/current_user"))
        .header("accept", "application/json")
        .header("authorization", basic("admin", "wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn mfa_mode_needs_the_one_time_code() {
    let sim = start_default().await;
    sim.update_switches(|s| s.mfa = true);
    let res = get(&sim, "/api/now/table/sys_user?sysparm_limit=1", &admin()).await;
    assert_eq!(res.status(), 401);
    assert_eq!(header(res.headers(), "x-mfa_token"), "invalid");
    assert_eq!(
        header(res.headers(), "www-authenticate"),
        r#"BASIC realm="Service-now""#
    );
    assert_eq!(body(res).await, NOT_AUTHENTICATED);
    let res = get(
        &sim,
        "/api/now/table/sys_user?sysparm_limit=1",
        &basic("admin", "Admin#1234123456"),
    )
    .await;
    assert_eq!(res.status(), 200);
    // A wrong password is a plain 401.
    let res = get(&sim, "/api/now/table/sys_user", &basic("admin", "nope")).await;
    assert_eq!(res.status(), 401);
    assert!(res.headers().get("x-mfa_token").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn basic_auth_restriction_property() {
    let sim = start_default().await;
    let abel = basic("abel.tuter", "Abel#1234");
    let path = "/api/now/table/incident?sysparm_limit=1";
    assert_eq!(get(&sim, path, &abel).await.status(), 200);
    sim.set_property(properties::BASIC_AUTH_ENFORCE, "true");
    let res = get(&sim, path, &abel).await;
    assert_eq!(res.status(), 401);
    assert_eq!(body(res).await, NOT_AUTHENTICATED);
    // An admin grants snc_basic_auth_api_access through sys_user_has_role ("Maintain").
    sim.set_property(properties::BASIC_AUTH_ENFORCE, "false");
    let res = client(&sim)
        .post(url(&sim, "/api/now/table/sys_user_has_role"))
        .header("accept", "application/json")
        .header("authorization", admin())
        .json(&serde_json::json!({"user": ABEL, "role": "snc_basic_auth_api_access"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    sim.set_property(properties::BASIC_AUTH_ENFORCE, "true");
    assert_eq!(get(&sim, path, &abel).await.status(), 200);
    // OAuth is not affected.
    let v = password_grant(&sim).await;
    let bearer = format!("Bearer {}", v["access_token"].as_str().unwrap());
    assert_eq!(get(&sim, path, &bearer).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_bearer_gets_401() {
    let sim = start_default().await;
    let v = password_grant(&sim).await;
    let bearer = format!("Bearer {}", v["access_token"].as_str().unwrap());
    assert_eq!(
        get(&sim, "/api/now/table/sys_user", &bearer).await.status(),
        200
    );
    sim.advance_clock(std::time::Duration::from_secs(1800));
    let res = get(&sim, "/api/now/table/sys_user", &bearer).await;
    assert_eq!(res.status(), 401);
    assert_eq!(body(res).await, NOT_AUTHENTICATED);
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limit_429_with_headers_and_reset() {
    let sim = start(SimConfig {
        switches: snsim::Switches {
            rate_limit_per_hour: Some(2),
            ..snsim::Switches::default()
        },
        ..SimConfig::default()
    })
    .await;
    let path = "/api/now/table/sys_user?sysparm_limit=1";
    let ok = get(&sim, path, &admin()).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(header(ok.headers(), "x-ratelimit-limit"), "2");
    let reset: u64 = header(ok.headers(), "x-ratelimit-reset").parse().unwrap();
    assert_eq!(header(ok.headers(), "x-ratelimit-rule").len(), 32);
    assert_eq!(get(&sim, path, &admin()).await.status(), 200);
    let res = get(&sim, path, &admin()).await;
    assert_eq!(res.status(), 429);
    assert_json_headers(res.headers(), true);
    assert_eq!(header(res.headers(), "x-ratelimit-limit"), "2");
    assert_eq!(
        header(res.headers(), "x-ratelimit-reset"),
        reset.to_string()
    );
    let retry: u64 = header(res.headers(), "retry-after").parse().unwrap();
    assert!((3590..=3600).contains(&retry), "{retry}");
    assert_eq!(
        body(res).await,
        r#"{"error":{"message":"Rate limit exceeded","detail":"Rate limit of 2 requests per hour for Table API exceeded"},"status":"failure"}"#
    );
    // Another user has their own counter; the clock resets the window.
    assert_eq!(
        get(&sim, path, &basic("abel.tuter", "Abel#1234"))
            .await
            .status(),
        200
    );
    sim.advance_clock(std::time::Duration::from_secs(3600));
    assert_eq!(get(&sim, path, &admin()).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn seed_data_like_a_fresh_developer_instance() {
    let sim = start_default().await;
    let count = |table: &'static str| {
        let sim = &sim;
        async move {
            let res = get(
                sim,
                &format!("/api/now/table/{table}?sysparm_limit=1"),
                &admin(),
            )
            .await;
            assert_eq!(res.status(), 200, "{table}");
            header(res.headers(), "x-total-count")
                .parse::<usize>()
                .unwrap()
        }
    };
    // Four people and four integration accounts (svc.*).
    assert_eq!(count("sys_user").await, 8);
    assert!(count("sys_user_role").await >= 4);
    // admin, itil ×5 (abel.tuter and the svc.* accounts), oauth_admin, snc_basic_auth_api_access.
    assert_eq!(count("sys_user_has_role").await, 8);
    assert!(count("sys_properties").await >= 8);
    assert!(count("v_plugin").await >= 3);
    assert!(count("sys_plugins").await >= 3);
    assert_eq!(count("oauth_entity").await, 2);
    assert_eq!(count("oauth_entity_profile").await, 2);
    assert_eq!(count("oauth_entity_scope").await, 2);
    assert_eq!(count("oauth_credential").await, 0);
    assert_eq!(count("sys_db_object").await, 12);
    assert_eq!(count("incident").await, 3);
    // Tokens appear in oauth_credential (never their values).
    let v = password_grant(&sim).await;
    let res = get(
        &sim,
        "/api/now/table/oauth_credential?sysparm_fields=type,token",
        &admin(),
    )
    .await;
    let text = body(res).await;
    assert_eq!(
        text,
        r#"{"result":[{"type":"access_token","token":"********"},{"type":"refresh_token","token":"********"}]}"#
    );
    assert!(!text.contains(v["access_token"].as_str().unwrap()));
    let res = get(
        &sim,
        &format!("/api/now/table/sys_user/{ADMIN_SYS_ID}?sysparm_fields=user_name,roles"),
        &admin(),
    )
    .await;
    assert_eq!(
        body(res).await,
        r#"{"result":{"user_name":"admin","roles":"admin"}}"#
    );
}
