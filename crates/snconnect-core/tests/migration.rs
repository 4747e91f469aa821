//! The migration assistant, in process against snsim over real TLS (its CA trusted through
//! `HttpConfig::extra_ca_pem`): preflight in every state of every check, automated
//! registration (confidential and public) read back through the Table API and used for a real
//! consent, refusal for non-admins, removal, the redirect read-back (and a consent timeout
//! explained as a redirect mismatch), the parity test, and each preset's hand-off card.

mod support;

use snconnect_core::conn_test::ApiAuth;
use snconnect_core::connection::{AdminCredentials, Connection, CLIENT_SECRET};
use snconnect_core::loopback::redirect_url;
use snconnect_core::parity::{self, ParityReport};
use snconnect_core::preflight::{self, CheckState, PreflightCheck, PreflightReport};
use snconnect_core::presets::{
    handoff_card, HandoffCard, PresetInputs, Target, AUTOMATE365_CALLBACK, POSTMAN_CALLBACK,
};
use snconnect_core::profiles::{AuthMethod, Profile};
use snconnect_core::register::{self, Created, NewEndpoint};
use snconnect_core::verify::{begin_consent, ConsentOptions};
use snconnect_core::{Code, Diagnosis, Secret};
use snsim::{properties as props, InstanceState, RunningSim, SimConfig};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use support::{
    basic, consent_with, core_http, free_port, instance, profile, put, start, store,
    LoopbackBrowser, ABEL, ADMIN, NO_ROLES, OAUTH_ADMIN,
};

const OAUTH_PLUGIN: &str = "com.snc.platform.security.oauth";
const BASIC_RESTRICTION_ACTIVE: &str = "glide.authenticate.basic_auth.restriction.active";
const NEXT_EXPERIENCE: &str = "/now/nav/ui/classic/params/target/";

/// Every preflight check, in the order `preflight::run` runs them.
const CHECK_IDS: [&str; 10] = [
    "reachable",
    "release",
    "roles",
    "oauth_plugin",
    "oauth_active",
    "state_required",
    "post_body_only",
    "client_credentials",
    "ropc",
    "basic_auth_restriction",
];

// ---- helpers ------------------------------------------------------------------------------

fn admin() -> ApiAuth {
    basic(ADMIN)
}

fn abel() -> ApiAuth {
    basic(ABEL)
}

fn no_roles() -> ApiAuth {
    basic(NO_ROLES)
}

fn oauth_admin() -> ApiAuth {
    basic(OAUTH_ADMIN)
}

/// Runs preflight and records what the callback saw: (id, state) per call, in call order.
async fn run_preflight(
    sim: &RunningSim,
    auth: &ApiAuth,
    grant: Option<snconnect_core::oauth::Grant>,
) -> (PreflightReport, Vec<(&'static str, CheckState)>) {
    let mut seen = Vec::new();
    let mut sink = |c: &PreflightCheck| seen.push((c.id, c.state));
    let report = preflight::run(&core_http(sim), &instance(sim), auth, grant, &mut sink).await;
    (report, seen)
}

fn check<'a>(r: &'a PreflightReport, id: &str) -> &'a PreflightCheck {
    r.checks
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no check {id} in {:?}", r.checks))
}

/// The callback was called once per check, in order, with the same states as the report.
fn assert_callback_order(r: &PreflightReport, seen: &[(&'static str, CheckState)]) {
    let ids: Vec<&str> = seen.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, CHECK_IDS, "callback order");
    let report_ids: Vec<&str> = r.checks.iter().map(|c| c.id).collect();
    assert_eq!(report_ids, CHECK_IDS, "report order");
    let states: Vec<CheckState> = r.checks.iter().map(|c| c.state).collect();
    let seen_states: Vec<CheckState> = seen.iter().map(|(_, s)| *s).collect();
    assert_eq!(seen_states, states, "callback states = report states");
}

/// A failing or unknown check says what to do; its links (when the check has any) come in
/// both forms: the classic page and the Next Experience wrapper of the same page.
fn assert_actionable(c: &PreflightCheck, base: &str, expect_links: bool) {
    assert_ne!(c.state, CheckState::Pass, "{c:?}");
    assert_ne!(c.code, Code::Ok, "a non-pass check names its code: {c:?}");
    let fix = c.fix.as_deref().unwrap_or_else(|| panic!("no fix: {c:?}"));
    assert!(fix.len() > 20, "a fix that says what to do: {c:?}");
    if !expect_links {
        return;
    }
    assert_eq!(c.links.len(), 2, "classic + Next Experience: {c:?}");
    let classic = &c.links[0];
    let next = &c.links[1];
    assert!(classic.label.contains("(classic)"), "{c:?}");
    assert!(next.label.contains("(Next Experience)"), "{c:?}");
    assert!(
        classic.url.starts_with(base) && !classic.url.contains(NEXT_EXPERIENCE),
        "{c:?}"
    );
    let target = next
        .url
        .strip_prefix(&format!(
            "{}{}",
            base.trim_end_matches('/'),
            NEXT_EXPERIENCE
        ))
        .unwrap_or_else(|| panic!("Next Experience form of the link: {c:?}"));
    let decoded: String = url::form_urlencoded::parse(format!("x={target}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap();
    assert_eq!(
        format!("{base}{decoded}"),
        classic.url,
        "both links open the same page: {c:?}"
    );
}

/// The browser stand-in for `auto_approve` simulators (see `support::LoopbackBrowser`), with a
/// callback that does not answer 2xx counted as a failed open, so `runs()` is `Ok` only for a
/// redirect the loopback listener took.
fn loopback_browser(sim: &RunningSim) -> LoopbackBrowser {
    let mut browser = LoopbackBrowser::new(sim, Duration::from_secs(10));
    browser.callback_must_succeed = true;
    browser
}

/// A connection for a created client (secret, if any, in a fresh memory store).
async fn connection_for(
    sim: &RunningSim,
    name: &str,
    created: &Created,
    secret: Option<&Secret>,
    port: u16,
) -> Connection {
    let store = store();
    if let Some(s) = secret {
        put(&store, name, CLIENT_SECRET, s.expose());
    }
    let auth = if created.public_client {
        AuthMethod::OauthCodePkce
    } else {
        AuthMethod::OauthCode
    };
    let profile = Profile {
        client_id: Some(created.client_id.clone()),
        redirect_port: Some(port),
        registered_sys_id: Some(created.sys_id.clone()),
        ..profile(name, sim, auth)
    };
    support::open(profile, sim, &store).await
}

/// A browser consent through `begin_consent` on `port`, tokens stored in `conn`.
async fn consent(sim: &RunningSim, conn: &Connection, port: u16) -> LoopbackBrowser {
    let browser = loopback_browser(sim);
    let pkce = conn.profile.auth == AuthMethod::OauthCodePkce;
    let (_, checks, _) =
        consent_with(sim, conn, port, pkce, Duration::from_secs(20), &browser).await;
    assert!(checks.iter().all(|c| c.ok), "{checks:?}");
    browser
}

/// A fresh OAuth endpoint for `port` and a consent with it (as the sim's auto-approve user);
/// the bearer credentials for API calls.
async fn consented_bearer(sim: &RunningSim, name: &str) -> ApiAuth {
    let port = free_port();
    let (created, secret) = register::create(
        &core_http(sim),
        &instance(sim),
        &admin(),
        &NewEndpoint::new(name, vec![redirect_url(port)], false),
    )
    .await
    .expect("created");
    let conn = connection_for(
        sim,
        &name.replace(' ', "-"),
        &created,
        secret.as_ref(),
        port,
    )
    .await;
    consent(sim, &conn, port).await;
    let token = conn.tokens().unwrap().access_token().await.expect("token");
    ApiAuth::Bearer(token)
}

/// Table API GET as `auth`, outside the core: (status, JSON body).
async fn table_get(
    sim: &RunningSim,
    auth: &ApiAuth,
    path: &str,
    query: &[(&str, &str)],
) -> (u16, serde_json::Value) {
    let url = sim
        .base_url()
        .join(&format!("api/now/table/{path}"))
        .unwrap();
    let resp = auth
        .apply(
            core_http(sim)
                .get(url)
                .query(query)
                .header(reqwest::header::ACCEPT, "application/json"),
        )
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(serde_json::Value::Null))
}

/// Every oauth_entity record, every field, as admin (ordered by sys_id).
async fn all_entities(sim: &RunningSim) -> Vec<serde_json::Value> {
    let (status, body) = table_get(
        sim,
        &admin(),
        "oauth_entity",
        &[("sysparm_query", "ORDERBYsys_id")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["result"].as_array().unwrap().clone()
}

fn field<'a>(row: &'a serde_json::Value, name: &str) -> &'a str {
    row[name]
        .as_str()
        .unwrap_or_else(|| panic!("{name} in {row}"))
}

fn parity_all_differences(r: &ParityReport) -> Vec<String> {
    r.differences
        .iter()
        .chain(r.tables.iter().flat_map(|t| t.differences.iter()))
        .cloned()
        .collect()
}

// ---- preflight ----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn preflight_every_check_passes_for_admin_on_a_default_instance() {
    let sim = start(SimConfig::default()).await;
    let (r, seen) = run_preflight(&sim, &admin(), None).await;
    assert_callback_order(&r, &seen);
    for c in &r.checks {
        assert_eq!(c.state, CheckState::Pass, "{c:?}");
        assert_eq!(c.code, Code::Ok, "{c:?}");
        assert!(c.fix.is_none(), "{c:?}");
        assert!(!c.finding.is_empty(), "{c:?}");
    }
    assert!(r.ok());
    assert!(r.can_register);
    assert_eq!(r.diagnosis.code, Code::Ok);
    assert_eq!(r.user.as_ref().unwrap().user_name, "admin");
    assert!(r.roles.iter().any(|x| x == "admin"), "{:?}", r.roles);
    assert_eq!(
        r.release.as_deref(),
        sim.property(props::BUILDNAME).as_deref()
    );

    assert!(check(&r, "reachable").finding.contains("(admin)"));
    assert_eq!(
        check(&r, "release").finding,
        format!("release {}", sim.property(props::BUILDNAME).unwrap())
    );
    assert_eq!(check(&r, "roles").finding, "admin has admin");
    assert!(check(&r, "oauth_plugin").finding.contains("is active"));
    assert!(check(&r, "oauth_active")
        .finding
        .contains(&format!("{} = \"true\"", props::OAUTH_ACTIVE)));
    // The informational checks name the value they found.
    assert!(
        check(&r, "state_required")
            .finding
            .contains(&format!("{} = true", props::STATE_REQUIRED)),
        "{:?}",
        check(&r, "state_required")
    );
    assert!(
        check(&r, "post_body_only")
            .finding
            .contains(&format!("{} = true", props::POST_BODY_ONLY)),
        "{:?}",
        check(&r, "post_body_only")
    );
    assert!(check(&r, "client_credentials").finding.contains("is off"));
    assert_eq!(check(&r, "ropc").finding, "the password grant is allowed");
    assert!(
        check(&r, "basic_auth_restriction")
            .finding
            .starts_with("not active"),
        "{:?}",
        check(&r, "basic_auth_restriction")
    );
    // Pass checks that have pages to open keep their links in both forms too.
    for id in [
        "roles",
        "oauth_plugin",
        "oauth_active",
        "basic_auth_restriction",
    ] {
        assert_eq!(check(&r, id).links.len(), 2, "{id}");
    }

    // Each grant's own property, switched on: still all pass.
    sim.set_property(props::CLIENT_CREDENTIALS, "true");
    let (r, _) = run_preflight(
        &sim,
        &admin(),
        Some(snconnect_core::oauth::Grant::ClientCredentials),
    )
    .await;
    assert!(
        r.checks.iter().all(|c| c.state == CheckState::Pass),
        "{r:?}"
    );
    assert!(check(&r, "client_credentials")
        .finding
        .contains(&format!("{} = true", props::CLIENT_CREDENTIALS)));
    let (r, _) = run_preflight(&sim, &admin(), Some(snconnect_core::oauth::Grant::Password)).await;
    assert!(
        r.checks.iter().all(|c| c.state == CheckState::Pass),
        "{r:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn preflight_informational_checks_name_the_value_and_follow_it() {
    let sim = start(SimConfig::default()).await;

    sim.set_property(props::STATE_REQUIRED, "false");
    sim.set_property(props::POST_BODY_ONLY, "false");
    let (r, seen) = run_preflight(&sim, &admin(), None).await;
    assert_callback_order(&r, &seen);
    let state = check(&r, "state_required");
    assert_eq!(state.state, CheckState::Pass);
    assert!(
        state
            .finding
            .contains(&format!("{} = false", props::STATE_REQUIRED)),
        "{state:?}"
    );
    let body = check(&r, "post_body_only");
    assert_eq!(body.state, CheckState::Pass);
    assert!(
        body.finding
            .contains(&format!("{} = false", props::POST_BODY_ONLY)),
        "{body:?}"
    );

    let not_active = check(&r, "basic_auth_restriction").finding.clone();
    sim.set_property(BASIC_RESTRICTION_ACTIVE, "true");
    let (r, _) = run_preflight(&sim, &admin(), None).await;
    let active = check(&r, "basic_auth_restriction");
    assert_eq!(active.state, CheckState::Pass);
    assert!(
        active.finding.starts_with("active but not enforced"),
        "{active:?}"
    );

    // Enforced, and the admin running preflight is not exempt: its basic credentials are
    // refused, and the fix says why that may be.
    sim.set_property(props::BASIC_AUTH_ENFORCE, "true");
    let (r, seen) = run_preflight(&sim, &admin(), None).await;
    assert_callback_order(&r, &seen);
    let c = check(&r, "reachable");
    assert_eq!(
        (c.state, c.code),
        (CheckState::Fail, Code::BasicAuthRejected),
        "{c:?}"
    );
    assert!(c.fix.as_deref().unwrap().contains("Basic Auth Restriction"));

    // Enforced, with the admin exempt (an allowed user): informational, and it says so.
    sim.set_property("glide.authenticate.basic_auth.allowed_users", "admin");
    let (r, seen) = run_preflight(&sim, &admin(), None).await;
    assert_callback_order(&r, &seen);
    let enforced = check(&r, "basic_auth_restriction");
    assert_eq!(
        enforced.state,
        CheckState::Pass,
        "informational: {enforced:?}"
    );
    assert!(enforced.finding.starts_with("enforced"), "{enforced:?}");
    assert!(enforced.finding.contains("Move integrations to OAuth"));
    assert_ne!(enforced.finding, not_active);
    assert_ne!(enforced.finding, active.finding);
    // Enforcement does not lock out the admin's own preflight.
    assert!(r.ok(), "{r:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn preflight_fail_states_each_with_code_fix_and_links() {
    use snconnect_core::oauth::Grant;
    let sim = start(SimConfig::default()).await;
    let base = sim.base_url().to_string();

    // Only `id` fails; the report's diagnosis is its code.
    let only_fail = |r: &PreflightReport, id: &str, code: Code| {
        let failed: Vec<&str> = r
            .checks
            .iter()
            .filter(|c| c.state == CheckState::Fail)
            .map(|c| c.id)
            .collect();
        assert_eq!(failed, [id], "{r:?}");
        let c = check(r, id);
        assert_eq!(c.code, code, "{c:?}");
        assert!(!r.ok());
        assert_eq!(r.diagnosis.code, code);
        assert!(
            r.diagnosis.detail.as_deref().unwrap().starts_with(c.title),
            "{:?}",
            r.diagnosis
        );
    };

    // The OAuth plugin, inactive.
    assert!(sim.set_plugin_active(OAUTH_PLUGIN, false));
    let (r, seen) = run_preflight(&sim, &admin(), None).await;
    assert_callback_order(&r, &seen);
    only_fail(&r, "oauth_plugin", Code::PluginInactive);
    let c = check(&r, "oauth_plugin");
    assert!(c.finding.contains("installed but not active"), "{c:?}");
    assert!(c.fix.as_deref().unwrap().contains("Application Manager"));
    assert!(c.links[0].url.contains("v_plugin_list.do"), "{c:?}");
    assert_actionable(c, &base, true);
    // Also when the platform spells it "inactive".
    sim.update_switches(|s| s.plugin_active_format = snsim::PluginActiveFormat::Active);
    let (r, _) = run_preflight(&sim, &admin(), None).await;
    only_fail(&r, "oauth_plugin", Code::PluginInactive);
    assert!(sim.set_plugin_active(OAUTH_PLUGIN, true));
    let (r, _) = run_preflight(&sim, &admin(), None).await;
    assert!(r.ok(), "\"active\" reads as active: {r:?}");
    sim.update_switches(|s| s.plugin_active_format = snsim::PluginActiveFormat::True);

    // com.snc.platform.security.oauth.is.active = false.
    sim.set_property(props::OAUTH_ACTIVE, "false");
    let (r, seen) = run_preflight(&sim, &admin(), None).await;
    assert_callback_order(&r, &seen);
    only_fail(&r, "oauth_active", Code::OauthPropertyDisabled);
    let c = check(&r, "oauth_active");
    assert!(c.finding.contains("\"false\""), "{c:?}");
    assert!(c.fix.as_deref().unwrap().contains(props::OAUTH_ACTIVE));
    assert!(c.links[0].url.contains(props::OAUTH_ACTIVE), "{c:?}");
    assert_actionable(c, &base, true);
    sim.set_property(props::OAUTH_ACTIVE, "true");

    // Client credentials wanted, property absent.
    assert_eq!(sim.property(props::CLIENT_CREDENTIALS), None);
    let (r, seen) = run_preflight(&sim, &admin(), Some(Grant::ClientCredentials)).await;
    assert_callback_order(&r, &seen);
    only_fail(&r, "client_credentials", Code::ClientCredentialsDisabled);
    let c = check(&r, "client_credentials");
    assert!(c.finding.contains("not set"), "{c:?}");
    assert!(c
        .fix
        .as_deref()
        .unwrap()
        .contains(props::CLIENT_CREDENTIALS));
    assert_actionable(c, &base, true);
    // …and explicitly "false".
    sim.set_property(props::CLIENT_CREDENTIALS, "false");
    let (r, _) = run_preflight(&sim, &admin(), Some(Grant::ClientCredentials)).await;
    only_fail(&r, "client_credentials", Code::ClientCredentialsDisabled);
    assert!(check(&r, "client_credentials")
        .finding
        .contains("\"false\""));

    // ROPC disabled, password grant wanted; the code flow does not care.
    sim.set_property(props::ROPC_DISABLED, "true");
    let (r, seen) = run_preflight(&sim, &admin(), Some(Grant::Password)).await;
    assert_callback_order(&r, &seen);
    only_fail(&r, "ropc", Code::PasswordGrantDisabled);
    let c = check(&r, "ropc");
    assert!(c.finding.contains(props::ROPC_DISABLED), "{c:?}");
    assert_actionable(c, &base, true);
    let (r, _) = run_preflight(&sim, &admin(), None).await;
    assert!(r.ok(), "{r:?}");
    assert!(check(&r, "ropc").finding.contains("not affected"));

    // Roles: abel.tuter (itil) and no.roles may not register.
    for (auth, user, has) in [
        (abel(), "abel.tuter", "itil"),
        (no_roles(), "no.roles", "no roles"),
    ] {
        let (r, seen) = run_preflight(&sim, &auth, None).await;
        assert_callback_order(&r, &seen);
        let c = check(&r, "roles");
        assert_eq!(c.state, CheckState::Fail, "{c:?}");
        assert_eq!(c.code, Code::InsufficientRole);
        assert!(
            c.finding
                .starts_with(&format!("{user} has {has} but none of admin")),
            "{c:?}"
        );
        assert!(c.links[0].url.contains("sys_user_has_role_list.do"));
        assert_actionable(c, &base, true);
        assert!(!r.can_register);
        assert_eq!(r.diagnosis.code, Code::InsufficientRole);
    }

    // Hibernating: reachable fails, and every other check is unknown with the reason.
    sim.update_switches(|s| s.instance_state = InstanceState::Hibernating);
    let (r, seen) = run_preflight(&sim, &admin(), None).await;
    assert_callback_order(&r, &seen);
    let c = check(&r, "reachable");
    assert_eq!(c.state, CheckState::Fail, "{c:?}");
    assert_eq!(c.code, Code::InstanceHibernating);
    assert!(c
        .fix
        .as_deref()
        .unwrap()
        .contains("developer.servicenow.com"));
    assert_actionable(c, &base, false);
    for c in &r.checks[1..] {
        assert_eq!(c.state, CheckState::Unknown, "{c:?}");
        assert_eq!(c.code, Code::InstanceHibernating, "{c:?}");
        assert!(c.finding.starts_with("not checked"), "{c:?}");
        assert_actionable(c, &base, false);
    }
    assert_eq!(r.diagnosis.code, Code::InstanceHibernating);
    assert!(r.user.is_none() && r.release.is_none() && !r.can_register);
    assert!(!r.ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn preflight_unknown_when_the_account_may_not_look() {
    let sim = start(SimConfig::default()).await;
    let base = sim.base_url().to_string();
    // An existing ROPC property, so it is hidden (not absent) from non-admins.
    sim.set_property(props::ROPC_DISABLED, "false");

    for (auth, user) in [(abel(), "abel.tuter"), (no_roles(), "no.roles")] {
        let (r, seen) = run_preflight(&sim, &auth, None).await;
        assert_callback_order(&r, &seen);
        assert_eq!(check(&r, "reachable").state, CheckState::Pass);
        assert_eq!(r.user.as_ref().unwrap().user_name, user);

        // 403 on v_plugin and sys_plugins: not a "no", an unknown.
        let plugin = check(&r, "oauth_plugin");
        assert_eq!(plugin.state, CheckState::Unknown, "{plugin:?}");
        assert_eq!(plugin.code, Code::InsufficientRole);
        assert!(plugin.finding.contains("403"), "{plugin:?}");
        assert_actionable(plugin, &base, true);

        // Hidden properties (rows exist, ACLs hide them): unknown.
        for id in [
            "release",
            "oauth_active",
            "state_required",
            "post_body_only",
            "ropc",
            "basic_auth_restriction",
        ] {
            let c = check(&r, id);
            assert_eq!(c.state, CheckState::Unknown, "{c:?}");
            assert_eq!(c.code, Code::InsufficientRole, "{c:?}");
            assert!(c.finding.contains("may not read"), "{c:?}");
            assert!(c.fix.as_deref().unwrap().contains("admin"), "{c:?}");
            assert_actionable(c, &base, true);
        }
        // An absent property is counted as absent (X-Total-Count 0), not hidden.
        assert_eq!(check(&r, "client_credentials").state, CheckState::Pass);
        // The release is unknown, so no release is reported.
        assert_eq!(r.release, None);
        // The roles check is the one failure.
        assert_eq!(r.diagnosis.code, Code::InsufficientRole);
        assert!(!r.can_register);
    }

    // oauth_admin may register without being admin; the plugin and properties stay unknown.
    let (r, seen) = run_preflight(&sim, &oauth_admin(), None).await;
    assert_callback_order(&r, &seen);
    assert_eq!(check(&r, "roles").state, CheckState::Pass);
    assert!(check(&r, "roles").finding.contains("oauth_admin"));
    assert!(r.can_register);
    assert_eq!(check(&r, "oauth_plugin").state, CheckState::Unknown);
    assert_eq!(check(&r, "oauth_active").state, CheckState::Unknown);
    assert!(r.ok(), "unknowns are not failures: {r:?}");
    assert_eq!(r.diagnosis.code, Code::Ok);
}

// ---- registration -------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn admin_registers_confidential_and_public_endpoints_that_work_for_consent() {
    let sim = start(SimConfig {
        auto_approve: true,
        ..SimConfig::default()
    })
    .await;
    let (h, inst) = (core_http(&sim), instance(&sim));

    for public in [false, true] {
        let port = free_port();
        let ours = redirect_url(port);
        let target_cb = "https://integration.example.com/oauth/callback".to_string();
        let name = if public {
            "mig public"
        } else {
            "mig confidential"
        };
        let (created, secret) = register::create(
            &h,
            &inst,
            &admin(),
            &NewEndpoint::new(name, vec![target_cb.clone(), ours.clone()], public),
        )
        .await
        .expect("admin may create an endpoint");

        assert_eq!(created.name, name);
        assert_eq!(created.public_client, public);
        assert_eq!(created.redirect_urls, [target_cb.clone(), ours.clone()]);
        assert_eq!(created.client_id.len(), 32, "{created:?}");
        assert!(created.client_id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(
            created.record_url,
            format!(
                "{}oauth_entity.do?sys_id={}",
                sim.base_url(),
                created.sys_id
            )
        );
        assert!(created.fields_set.iter().any(|f| f == "redirect_url"));
        assert_eq!(
            created.fields_set.iter().any(|f| f == "client_secret"),
            !public,
            "{:?}",
            created.fields_set
        );
        match (&secret, public) {
            (Some(s), false) => assert_eq!(s.expose().len(), 40),
            (None, true) => {}
            other => panic!("secret for public={public}: {:?}", other.0.is_some()),
        }

        // Read back through the Table API.
        let (status, body) = table_get(
            &sim,
            &admin(),
            &format!("oauth_entity/{}", created.sys_id),
            &[],
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let row = &body["result"];
        assert_eq!(field(row, "client_id"), created.client_id);
        assert_eq!(field(row, "name"), name);
        assert_eq!(
            register::split_redirects(field(row, "redirect_url")),
            [target_cb.clone(), ours.clone()]
        );
        assert_eq!(field(row, "public_client"), public.to_string());
        assert_eq!(field(row, "active"), "true");
        if let Some(s) = &secret {
            // The secret snconnect generated is the one the instance holds.
            assert_eq!(field(row, "client_secret"), s.expose());
        }
        // The read-back the core itself uses agrees.
        assert_eq!(
            register::check_redirect(&h, &inst, &admin(), &created.client_id, &ours).await,
            Ok(true)
        );

        // A real consent with the new client, then the one-click test.
        let conn = connection_for(&sim, "mig", &created, secret.as_ref(), port).await;
        let browser = consent(&sim, &conn, port).await;
        assert_eq!(browser.runs(), [Ok(ours.clone())]);
        let report = conn.test().await;
        assert!(report.ok(), "{report:?}");
        assert_eq!(report.identity.as_ref().unwrap().user_name, "admin");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn non_admins_are_refused_with_what_to_do_and_nothing_is_created() {
    let sim = start(SimConfig::default()).await;
    let (h, inst) = (core_http(&sim), instance(&sim));
    let before = all_entities(&sim).await;
    let req = NewEndpoint::new("not allowed", vec![redirect_url(free_port())], false);

    for auth in [abel(), no_roles()] {
        let d = register::create(&h, &inst, &auth, &req)
            .await
            .expect_err("a non-admin may not create an endpoint");
        assert_eq!(d.code, Code::InsufficientRole, "{d:?}");
        let detail = d.detail.as_deref().unwrap();
        assert!(detail.contains("admin or oauth_admin"), "{detail}");
        assert!(detail.contains("register --guided"), "{detail}");
        assert!(detail.contains("client ID"), "{detail}");
        assert!(d.remediation.as_deref().unwrap().contains("admin"), "{d:?}");
    }
    assert_eq!(all_entities(&sim).await, before, "nothing was created");

    // oauth_admin is enough.
    let (created, _) = register::create(&h, &inst, &oauth_admin(), &req)
        .await
        .expect("oauth_admin may create an endpoint");
    assert_eq!(all_entities(&sim).await.len(), before.len() + 1);
    register::remove(&h, &inst, &oauth_admin(), &created.sys_id)
        .await
        .unwrap();

    // Usage errors name the field and send nothing.
    sim.clear_requests();
    let d = register::create(&h, &inst, &admin(), &NewEndpoint::new(" ", vec![], false))
        .await
        .unwrap_err();
    assert_eq!(d.code, Code::UsageError);
    assert!(d.detail.unwrap().starts_with("--name"));
    let d = register::create(&h, &inst, &admin(), &NewEndpoint::new("x", vec![], false))
        .await
        .unwrap_err();
    assert!(d.detail.unwrap().starts_with("--redirect-url"));
    let d = register::create(
        &h,
        &inst,
        &admin(),
        &NewEndpoint::new("x", vec!["not a url".into()], false),
    )
    .await
    .unwrap_err();
    assert!(d.detail.unwrap().starts_with("--redirect-url"));
    assert!(sim.requests().is_empty(), "{:?}", sim.requests());
}

#[tokio::test(flavor = "multi_thread")]
async fn remove_deletes_exactly_the_created_record() {
    let sim = start(SimConfig::default()).await;
    let (h, inst) = (core_http(&sim), instance(&sim));
    let before = all_entities(&sim).await;
    assert_eq!(before.len(), 2, "the two seeded clients");

    let (created, _) = register::create(
        &h,
        &inst,
        &admin(),
        &NewEndpoint::new("to remove", vec![redirect_url(free_port())], false),
    )
    .await
    .unwrap();
    let during = all_entities(&sim).await;
    assert_eq!(during.len(), 3);
    assert!(during.iter().any(|r| field(r, "sys_id") == created.sys_id));

    // A non-admin may not remove it (nor anything else).
    let d = register::remove(&h, &inst, &abel(), &created.sys_id)
        .await
        .unwrap_err();
    assert_eq!(d.code, Code::InsufficientRole, "{d:?}");
    // A malformed sys_id is refused before any request.
    sim.clear_requests();
    let d = register::remove(&h, &inst, &admin(), "../sys_user")
        .await
        .unwrap_err();
    assert_eq!(d.code, Code::UsageError);
    assert!(sim.requests().is_empty());

    register::remove(&h, &inst, &admin(), &created.sys_id)
        .await
        .expect("removed");
    let (status, body) = table_get(
        &sim,
        &admin(),
        &format!("oauth_entity/{}", created.sys_id),
        &[],
    )
    .await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = table_get(
        &sim,
        &admin(),
        "oauth_entity",
        &[("sysparm_query", &format!("client_id={}", created.client_id))],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["result"], serde_json::json!([]), "{body}");
    // No other record changed, field by field.
    assert_eq!(all_entities(&sim).await, before);

    // Removing it again is an error, not a silent success.
    let d = register::remove(&h, &inst, &admin(), &created.sys_id)
        .await
        .unwrap_err();
    assert_ne!(d.code, Code::Ok);
    assert_eq!(all_entities(&sim).await, before);
}

// ---- redirect read-back -------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn redirect_read_back_and_a_consent_timeout_explained_as_a_mismatch() {
    let sim = start(SimConfig {
        auto_approve: true,
        ..SimConfig::default()
    })
    .await;
    let (h, inst) = (core_http(&sim), instance(&sim));
    let registered_port = free_port();
    let registered = redirect_url(registered_port);
    let (created, secret) = register::create(
        &h,
        &inst,
        &admin(),
        &NewEndpoint::new("redirect check", vec![registered.clone()], false),
    )
    .await
    .unwrap();
    let id = created.client_id.as_str();

    assert_eq!(
        register::check_redirect(&h, &inst, &admin(), id, &registered).await,
        Ok(true)
    );
    assert_eq!(
        register::check_redirect(&h, &inst, &oauth_admin(), id, &registered).await,
        Ok(true)
    );
    let other_port = loop {
        let p = free_port();
        if p != registered_port {
            break p;
        }
    };
    let other = redirect_url(other_port);
    let d = register::check_redirect(&h, &inst, &admin(), id, &other)
        .await
        .unwrap_err();
    assert_eq!(d.code, Code::RedirectUriMismatch);
    let detail = d.detail.unwrap();
    assert!(detail.contains(&other), "{detail}");
    assert!(
        detail.contains(&format!("first one ({registered})")),
        "{detail}"
    );
    // A non-admin cannot look: "could not check", not a verdict.
    assert_eq!(
        register::check_redirect(&h, &inst, &abel(), id, &other).await,
        Ok(false)
    );
    // An unknown client ID.
    let d = register::check_redirect(&h, &inst, &admin(), &"0".repeat(32), &registered)
        .await
        .unwrap_err();
    assert_eq!(d.code, Code::InvalidClient);

    // explain_callback_timeout: only with admin credentials, only for a timeout.
    let timeout = Diagnosis::new(Code::CallbackTimeout);
    let conn = connection_for(&sim, "redir", &created, secret.as_ref(), other_port).await;
    assert_eq!(
        conn.explain_callback_timeout(timeout.clone(), &other).await,
        timeout,
        "without admin credentials the timeout stays a timeout"
    );
    let conn = conn.with_admin(Some(AdminCredentials {
        username: "admin".into(),
        password: Secret::new("Admin#1234"),
    }));
    let d = conn.explain_callback_timeout(timeout.clone(), &other).await;
    assert_eq!(d.code, Code::RedirectUriMismatch, "{d:?}");
    assert!(d.detail.as_deref().unwrap().contains(&registered));
    assert_eq!(
        conn.explain_callback_timeout(timeout.clone(), &registered)
            .await,
        timeout,
        "a registered URL: nothing to explain"
    );
    let denied = Diagnosis::new(Code::ConsentDenied);
    assert_eq!(
        conn.explain_callback_timeout(denied.clone(), &other).await,
        denied
    );

    // The real thing: a consent on an unregistered port. The instance sends the browser to
    // the first registered URL (where nothing listens), snconnect times out, and the read-back
    // names the cause.
    let browser = loopback_browser(&sim);
    let reg = conn.registration().unwrap().clone();
    let pending = begin_consent(
        &reg,
        &ConsentOptions {
            ports: vec![other_port],
            pkce: false,
            timeout: Duration::from_secs(2),
        },
        Arc::new(browser.clone()),
    )
    .await
    .unwrap();
    let (d, checks) = pending.finish(&h, &reg).await.unwrap_err();
    assert_eq!(d.code, Code::CallbackTimeout, "{d:?}");
    assert_eq!(checks[0].code, Code::CallbackTimeout);
    let runs = browser.runs();
    assert_eq!(runs.len(), 1);
    let went = runs[0].as_ref().unwrap_err();
    assert!(
        went.contains(&registered),
        "the browser went to the first registered URL: {went}"
    );
    let explained = conn.explain_callback_timeout(d, &other).await;
    assert_eq!(explained.code, Code::RedirectUriMismatch, "{explained:?}");
}

// ---- parity -------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn parity_same_user_over_basic_and_oauth_is_safe() {
    let sim = start(SimConfig {
        auto_approve: true,
        ..SimConfig::default()
    })
    .await;
    let bearer = consented_bearer(&sim, "parity admin").await;
    let r = parity::run(&core_http(&sim), &instance(&sim), &admin(), &bearer, &[], 5).await;
    assert!(r.safe, "{r:?}");
    assert!(parity_all_differences(&r).is_empty(), "{r:?}");
    assert!(
        r.verdict.starts_with("Safe to switch off basic auth"),
        "{r:?}"
    );
    assert_eq!(r.basic_user.as_deref(), Some("admin"));
    assert_eq!(r.oauth_user.as_deref(), Some("admin"));
    let tables: Vec<&str> = r.tables.iter().map(|t| t.table.as_str()).collect();
    assert_eq!(tables, parity::DEFAULT_TABLES);
    for t in &r.tables {
        assert_eq!(t.basic, t.oauth, "{t:?}");
        assert_eq!(t.basic.code, Code::Ok);
        assert!(t.basic.rows > 0 && !t.basic.fields.is_empty(), "{t:?}");
    }
    assert!(r.tables[0].basic.fields.contains("email"));
}

#[tokio::test(flavor = "multi_thread")]
async fn parity_names_hidden_fields_and_the_identity_difference() {
    let hidden: BTreeMap<String, Vec<String>> =
        [("sys_user".to_string(), vec!["email".into(), "title".into()])].into();
    let sim = start(SimConfig {
        auto_approve: true,
        auto_approve_user: "abel.tuter".into(),
        switches: snsim::Switches {
            hidden_fields: hidden,
            ..snsim::Switches::default()
        },
        ..SimConfig::default()
    })
    .await;
    // The consent is given as abel.tuter (a non-admin): the endpoint is created by admin.
    let bearer = consented_bearer(&sim, "parity abel").await;
    let (h, inst) = (core_http(&sim), instance(&sim));

    // Basic as admin, OAuth as abel.tuter: not safe.
    let r = parity::run(&h, &inst, &admin(), &bearer, &[], 5).await;
    assert!(!r.safe, "{r:?}");
    assert_eq!(r.basic_user.as_deref(), Some("admin"));
    assert_eq!(r.oauth_user.as_deref(), Some("abel.tuter"));
    assert_eq!(r.differences.len(), 1, "{r:?}");
    assert!(
        r.differences[0].contains("basic auth signs in as admin, OAuth as abel.tuter"),
        "{r:?}"
    );
    let users = &r.tables[0];
    assert_eq!(users.table, "sys_user");
    assert!(users.basic.fields.contains("email") && users.basic.fields.contains("title"));
    assert!(!users.oauth.fields.contains("email") && !users.oauth.fields.contains("title"));
    assert!(
        users
            .differences
            .iter()
            .any(|d| d.contains("missing over OAuth: email, title")),
        "{users:?}"
    );
    assert!(r.verdict.starts_with("Not yet"), "{r:?}");
    let n = parity_all_differences(&r).len();
    assert!(r.verdict.contains(&format!("{n} difference(s)")), "{r:?}");

    // Basic and OAuth as the same non-admin: both miss the same fields → safe.
    let r = parity::run(&h, &inst, &abel(), &bearer, &[], 5).await;
    assert!(r.safe, "{r:?}");
    assert_eq!(r.basic_user.as_deref(), Some("abel.tuter"));
    assert_eq!(r.oauth_user.as_deref(), Some("abel.tuter"));
    assert!(!r.tables[0].basic.fields.contains("email"));
    assert_eq!(r.tables[0].basic, r.tables[0].oauth);

    // Explicit tables and a row count are honoured.
    let r = parity::run(&h, &inst, &abel(), &bearer, &["incident".to_string()], 2).await;
    assert!(r.safe, "{r:?}");
    assert_eq!(r.tables.len(), 1);
    assert_eq!(r.tables[0].basic.rows, 2);
}

// ---- presets ------------------------------------------------------------------------------

fn value<'a>(card: &'a HandoffCard, label: &str) -> &'a str {
    card.fields
        .iter()
        .find(|f| f.label == label)
        .and_then(|f| f.value.as_deref())
        .unwrap_or_else(|| panic!("no value for {label:?} in {card:?}"))
}

/// The card's secret field: present (with no value) exactly for confidential clients.
fn assert_secret_field(card: &HandoffCard, public: bool, secret: Option<&Secret>) {
    let secrets: Vec<_> = card.fields.iter().filter(|f| f.secret).collect();
    if public {
        assert!(secrets.is_empty(), "{card:?}");
    } else {
        assert_eq!(secrets.len(), 1, "{card:?}");
        assert!(secrets[0].value.is_none(), "{card:?}");
        assert!(secrets[0].label.starts_with("Client Secret"), "{card:?}");
    }
    let json = serde_json::to_string(card).unwrap();
    if let Some(s) = secret {
        assert!(!json.contains(s.expose()), "the card carries the secret");
    }
    for f in serde_json::from_str::<serde_json::Value>(&json).unwrap()["fields"]
        .as_array()
        .unwrap()
    {
        if f["secret"] == true {
            assert!(f["value"].is_null(), "{f}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn each_preset_registers_its_callback_and_hands_off_the_right_card() {
    let sim = start(SimConfig::default()).await;
    let (h, inst) = (core_http(&sim), instance(&sim));
    let base = sim.base_url().to_string(); // https://127.0.0.1:PORT/
    let origin = base.trim_end_matches('/').to_string();
    let auth_url = format!("{base}oauth_auth.do");
    let token_url = format!("{base}oauth_token.do");
    let ours = redirect_url(free_port());

    // Registers the target's callbacks plus ours, reads them back, builds the card.
    let register_for = |target: Target, public: bool| {
        let (h, inst, ours) = (h.clone(), inst.clone(), ours.clone());
        async move {
            let mut urls = target.redirect_urls();
            urls.push(ours.clone());
            let (created, secret) = register::create(
                &h,
                &inst,
                &admin(),
                &NewEndpoint::new(&format!("preset {}", target.id()), urls.clone(), public),
            )
            .await
            .unwrap();
            for u in &urls {
                assert_eq!(
                    register::check_redirect(&h, &inst, &admin(), &created.client_id, u).await,
                    Ok(true),
                    "{u}"
                );
            }
            let card = handoff_card(&target, &inst, &created.client_id, public);
            assert_eq!(card.target, target.id());
            assert_eq!(value(&card, "Client ID"), created.client_id);
            assert_secret_field(&card, public, secret.as_ref());
            (card, created)
        }
    };
    let preset = |name: &str, inputs: PresetInputs| Target::from_preset(name, &inputs).unwrap();

    // Qlik: its callback from --redirect-url; the instance domain with a trailing slash.
    let qlik_cb = "https://qlik.example.com/oauth/callback".to_string();
    let qlik = preset(
        "qlik",
        PresetInputs {
            redirect_urls: vec![qlik_cb.clone()],
            ..Default::default()
        },
    );
    assert_eq!(qlik.redirect_urls(), std::slice::from_ref(&qlik_cb));
    let (card, created) = register_for(qlik, false).await;
    assert_eq!(created.redirect_urls, [qlik_cb, ours.clone()]);
    assert_eq!(card.target_name, "Qlik Automate");
    assert_eq!(value(&card, "ServiceNow instance domain"), base);

    // Boomi: the account decides the callback; the base URL is /api/now/v2.
    let boomi = preset(
        "boomi",
        PresetInputs {
            boomi_account_id: Some("acct-4711".into()),
            ..Default::default()
        },
    );
    let (card, created) = register_for(boomi, false).await;
    assert_eq!(
        created.redirect_urls[0],
        "https://platform.boomi.com/account/acct-4711/oauth2/callback"
    );
    assert_eq!(value(&card, "Base URL"), format!("{origin}/api/now/v2"));
    assert_eq!(value(&card, "Authentication Type"), "OAuth 2.0");
    assert_eq!(value(&card, "Grant Type"), "Authorization Code");
    assert_eq!(value(&card, "Authorization Token URL"), auth_url);
    assert_eq!(value(&card, "Access Token URL"), token_url);
    assert!(card
        .fields
        .iter()
        .any(|f| f.label == "Client Secret (Click to Set)" && f.secret));
    let d = Target::from_preset("boomi", &PresetInputs::default()).unwrap_err();
    assert!(d.detail.unwrap().starts_with("--boomi-account"));

    // Alchemer (tray.io): one callback per region.
    for (region, cb) in [
        ("us", "https://auth.tray.io/oauth2/token"),
        ("eu", "https://auth.eu1.tray.io/oauth2/token"),
        ("au", "https://api.ap1.tray.io/oauth2/token"),
    ] {
        let t = preset(
            "alchemer",
            PresetInputs {
                region: Some(region.into()),
                ..Default::default()
            },
        );
        let (card, created) = register_for(t, false).await;
        assert_eq!(created.redirect_urls, [cb.to_string(), ours.clone()]);
        assert_eq!(value(&card, "ServiceNow Instance URL"), origin);
    }

    // Automate365.
    let (card, created) = register_for(preset("automate365", PresetInputs::default()), false).await;
    assert_eq!(created.redirect_urls[0], AUTOMATE365_CALLBACK);
    assert_eq!(value(&card, "Connection Name"), "ServiceNow");
    assert_eq!(value(&card, "Instance URL"), origin);

    // Postman, confidential and public.
    for public in [false, true] {
        let (card, created) =
            register_for(preset("postman", PresetInputs::default()), public).await;
        assert_eq!(created.redirect_urls[0], POSTMAN_CALLBACK);
        assert_eq!(value(&card, "Callback URL"), POSTMAN_CALLBACK);
        assert_eq!(value(&card, "Auth URL"), auth_url);
        assert_eq!(value(&card, "Access Token URL"), token_url);
        assert_eq!(
            value(&card, "Client Authentication"),
            "Send client credentials in body"
        );
        assert_eq!(
            value(&card, "Grant type"),
            if public {
                "Authorization Code (With PKCE)"
            } else {
                "Authorization Code"
            }
        );
    }

    // Custom: its own redirect URLs.
    let custom_urls = vec![
        "https://a.example.com/cb".to_string(),
        "https://b.example.com/cb".to_string(),
    ];
    let (card, created) = register_for(
        preset(
            "custom",
            PresetInputs {
                redirect_urls: custom_urls.clone(),
                ..Default::default()
            },
        ),
        false,
    )
    .await;
    assert_eq!(created.redirect_urls[..2], custom_urls[..]);
    assert_eq!(value(&card, "Instance URL"), origin);
    assert_eq!(value(&card, "Authorization URL"), auth_url);
    assert_eq!(value(&card, "Token URL"), token_url);
    assert_eq!(
        value(&card, "Redirect URL"),
        "https://a.example.com/cb, https://b.example.com/cb"
    );
}

// ---- edge cases that must not read as success -----------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn preflight_unknown_release_still_names_a_reason_and_a_fix() {
    let sim = start(SimConfig::default()).await;
    sim.set_property(props::BUILDNAME, "");
    let (r, seen) = run_preflight(&sim, &admin(), None).await;
    assert_callback_order(&r, &seen);
    let c = check(&r, "release");
    assert_eq!(c.state, CheckState::Unknown, "{c:?}");
    assert_actionable(c, sim.base_url().as_str(), true);
    assert_eq!(r.release, None, "an empty build name is no release");
}

#[tokio::test(flavor = "multi_thread")]
async fn parity_is_not_safe_when_neither_side_could_read_anything() {
    let sim = start(SimConfig {
        auto_approve: true,
        ..SimConfig::default()
    })
    .await;
    let bearer = consented_bearer(&sim, "parity-asleep").await;
    sim.update_switches(|s| s.instance_state = InstanceState::Hibernating);
    let r = parity::run(&core_http(&sim), &instance(&sim), &admin(), &bearer, &[], 5).await;
    assert!(
        r.tables
            .iter()
            .all(|t| t.basic.code == Code::InstanceHibernating && t.basic.rows == 0),
        "{r:?}"
    );
    assert!(
        !r.safe,
        "nothing was read over either credential, yet the verdict is {:?}",
        r.verdict
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn explain_callback_timeout_keeps_the_timeout_when_the_admin_read_back_fails() {
    let sim = start(SimConfig::default()).await;
    let (h, inst) = (core_http(&sim), instance(&sim));
    let port = free_port();
    let (created, secret) = register::create(
        &h,
        &inst,
        &admin(),
        &NewEndpoint::new("explain", vec![redirect_url(port)], false),
    )
    .await
    .unwrap();
    let conn = connection_for(&sim, "explain", &created, secret.as_ref(), port)
        .await
        .with_admin(Some(AdminCredentials {
            username: "admin".into(),
            password: Secret::new("not-the-password"),
        }));
    let timeout = Diagnosis::new(Code::CallbackTimeout);
    let d = conn
        .explain_callback_timeout(timeout.clone(), &redirect_url(port + 1))
        .await;
    // The read-back could not run: the sign-in still timed out; the admin password being
    // wrong is not why the browser did not come back.
    assert_eq!(d.code, Code::CallbackTimeout, "{d:?}");
}
