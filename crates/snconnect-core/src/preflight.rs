//! Preflight: is this instance ready for OAuth, and may this account set it up?
//!
//! Runs with the admin's existing basic credentials and reports each check as it finishes (the
//! `on_check` callback), so a UI can show them one by one. Every check is pass, fail or
//! **unknown**: a 403 or an ACL-hidden result is not a "no", it means this account may not
//! look. Each carries the exact fix and deep links (classic and Next Experience forms).

use crate::conn_test::{current_user, ApiAuth, Identity};
use crate::error::{Code, Diagnosis};
use crate::guide::{both_forms, Link};
use crate::instance::InstanceUrl;
use crate::oauth::Grant;
use crate::probe::{
    is_truthy, read_plugin_active, read_plugin_active_in, read_property, Reading, OAUTH_PLUGIN,
    PROP_CLIENT_CREDENTIALS, PROP_OAUTH_ACTIVE, PROP_ROPC_DISABLED,
};
use serde::Serialize;
use std::time::Instant;

pub const PROP_BUILDNAME: &str = "glide.buildname";
pub const PROP_STATE_REQUIRED: &str = "glide.oauth.state.parameter.required";
pub const PROP_POST_BODY_ONLY: &str = "glide.oauth.allow.parameters.in.post.body.only";
pub const PROP_BASIC_RESTRICTION_ACTIVE: &str = "glide.authenticate.basic_auth.restriction.active";
pub const PROP_BASIC_RESTRICTION_ENFORCE: &str =
    "glide.authenticate.basic_auth.restriction.enforce";

/// The roles that may register an OAuth endpoint.
pub const SETUP_ROLES: &[&str] = &["admin", "oauth_admin", "mi_admin"];

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckState {
    Pass,
    Fail,
    Unknown,
}

/// One preflight check as a UI shows it.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct PreflightCheck {
    /// Stable identifier (`reachable`, `oauth_plugin`, …).
    pub id: &'static str,
    pub title: &'static str,
    pub state: CheckState,
    /// What was found, in a sentence.
    pub finding: String,
    /// The diagnosis code behind a failure (`ok` for a pass, the reason for an unknown).
    pub code: Code,
    /// What to do (for fail and unknown).
    pub fix: Option<String>,
    pub links: Vec<Link>,
    pub ms: u64,
}

/// Everything preflight found.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct PreflightReport {
    pub instance: String,
    pub user: Option<Identity>,
    pub roles: Vec<String>,
    pub release: Option<String>,
    pub checks: Vec<PreflightCheck>,
    /// May this account register an endpoint (admin, oauth_admin or mi_admin)?
    pub can_register: bool,
    /// The first failure, or `ok`.
    pub diagnosis: Diagnosis,
}

impl PreflightReport {
    pub fn ok(&self) -> bool {
        self.checks.iter().all(|c| c.state != CheckState::Fail)
    }
}

fn links(instance: &InstanceUrl, label: &str, page: &str) -> Vec<Link> {
    both_forms(instance, label, page).to_vec()
}

fn prop_links(instance: &InstanceUrl, name: &str) -> Vec<Link> {
    links(
        instance,
        &format!("System property {name}"),
        &format!("sys_properties_list.do?sysparm_query=name={name}"),
    )
}

struct Runner<'a> {
    instance: &'a InstanceUrl,
    checks: Vec<PreflightCheck>,
    on_check: &'a mut (dyn FnMut(&PreflightCheck) + Send),
}

impl Runner<'_> {
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        id: &'static str,
        title: &'static str,
        state: CheckState,
        finding: String,
        code: Code,
        fix: Option<String>,
        links: Vec<Link>,
        started: Instant,
    ) {
        let c = PreflightCheck {
            id,
            title,
            state,
            finding,
            code,
            fix,
            links,
            ms: started.elapsed().as_millis() as u64,
        };
        (self.on_check)(&c);
        self.checks.push(c);
    }

    fn unknown_for(&mut self, id: &'static str, title: &'static str, why: &Diagnosis) {
        let c = PreflightCheck {
            id,
            title,
            state: CheckState::Unknown,
            finding: format!("not checked: {}", why.message),
            code: why.code,
            fix: why.remediation.clone(),
            links: Vec::new(),
            ms: 0,
        };
        (self.on_check)(&c);
        self.checks.push(c);
    }
}

/// A property check: its reading, turned into pass / fail / unknown by `judge`.
async fn property_check(
    http: &reqwest::Client,
    r: &mut Runner<'_>,
    auth: &ApiAuth,
    spec: (&'static str, &'static str, &'static str),
    judge: impl Fn(Option<&str>) -> (CheckState, String, Code, Option<String>),
) -> Option<String> {
    let (id, title, name) = spec;
    let started = Instant::now();
    let links = prop_links(r.instance, name);
    match read_property(http, r.instance, auth, name).await {
        Ok(Reading::Known(v)) => {
            let (state, finding, code, fix) = judge(v.as_deref());
            r.push(id, title, state, finding, code, fix, links, started);
            v
        }
        Ok(Reading::NotAllowed) => {
            r.push(
                id,
                title,
                CheckState::Unknown,
                format!("{name}: this account may not read system properties"),
                Code::InsufficientRole,
                Some("Run preflight with an admin account to check this.".into()),
                links,
                started,
            );
            None
        }
        Err(d) => {
            r.push(
                id,
                title,
                CheckState::Unknown,
                format!("{name}: {}", d.message),
                d.code,
                d.remediation.clone(),
                links,
                started,
            );
            None
        }
    }
}

/// Runs every check in order. `grant` is the grant the target will use (it decides whether
/// the client-credentials and ROPC properties matter); `None` = authorization code.
pub async fn run(
    http: &reqwest::Client,
    instance: &InstanceUrl,
    auth: &ApiAuth,
    grant: Option<Grant>,
    on_check: &mut (dyn FnMut(&PreflightCheck) + Send),
) -> PreflightReport {
    let grant = grant.unwrap_or(Grant::AuthorizationCode);
    let mut r = Runner {
        instance,
        checks: Vec::new(),
        on_check,
    };

    // 1. Reachable, awake, and the credentials work.
    let started = Instant::now();
    let user = match current_user(http, instance, auth).await {
        Ok(u) => {
            r.push(
                "reachable",
                "Instance reachable and awake",
                CheckState::Pass,
                format!("signed in as {} ({})", u.user_display_name, u.user_name),
                Code::Ok,
                None,
                Vec::new(),
                started,
            );
            u
        }
        Err(d) => {
            r.push(
                "reachable",
                "Instance reachable and awake",
                CheckState::Fail,
                d.detail.clone().unwrap_or_else(|| d.message.clone()),
                d.code,
                d.remediation.clone(),
                Vec::new(),
                started,
            );
            let rest: [(&'static str, &'static str); 9] = [
                ("release", "Release"),
                ("roles", "Roles of this account"),
                ("oauth_plugin", "OAuth 2.0 plugin"),
                ("oauth_active", "OAuth switched on"),
                ("state_required", "State parameter"),
                ("post_body_only", "Token parameters in the POST body"),
                ("client_credentials", "Client credentials grant"),
                ("ropc", "Password grant (ROPC)"),
                ("basic_auth_restriction", "Basic Auth Restriction"),
            ];
            for (id, title) in rest {
                r.unknown_for(id, title, &d);
            }
            return PreflightReport {
                instance: instance.to_string(),
                user: None,
                roles: Vec::new(),
                release: None,
                checks: r.checks,
                can_register: false,
                diagnosis: d,
            };
        }
    };

    // 2. Release.
    let release = property_check(
        http,
        &mut r,
        auth,
        ("release", "Release", PROP_BUILDNAME),
        |v| match v {
            Some(v) if !v.is_empty() => (CheckState::Pass, format!("release {v}"), Code::Ok, None),
            _ => (
                CheckState::Unknown,
                format!("{PROP_BUILDNAME} is not set"),
                Code::UnexpectedResponse,
                Some("The release is informational: read it on the instance's stats.do page (or System Diagnostics) if you need it.".into()),
            ),
        },
    )
    .await
    .filter(|v| !v.is_empty());

    // 3. Roles.
    let started = Instant::now();
    let roles = match crate::probe::roles_of(http, instance, auth, &user.user_sys_id).await {
        Ok(Some(roles)) => {
            let setup: Vec<&str> = SETUP_ROLES
                .iter()
                .copied()
                .filter(|r| roles.iter().any(|x| x == r))
                .collect();
            let links = links(
                instance,
                "User roles",
                &format!(
                    "sys_user_has_role_list.do?sysparm_query=user={}",
                    user.user_sys_id
                ),
            );
            if setup.is_empty() {
                r.push(
                    "roles",
                    "Roles of this account",
                    CheckState::Fail,
                    format!(
                        "{} has {} but none of admin, oauth_admin, mi_admin",
                        user.user_name,
                        if roles.is_empty() {
                            "no roles".to_string()
                        } else {
                            roles.join(", ")
                        }
                    ),
                    Code::InsufficientRole,
                    Code::InsufficientRole.remediation().map(str::to_string),
                    links,
                    started,
                );
            } else {
                r.push(
                    "roles",
                    "Roles of this account",
                    CheckState::Pass,
                    format!("{} has {}", user.user_name, setup.join(", ")),
                    Code::Ok,
                    None,
                    links,
                    started,
                );
            }
            roles
        }
        Ok(None) => {
            r.push(
                "roles",
                "Roles of this account",
                CheckState::Unknown,
                "the account's role assignments are hidden from it".into(),
                Code::InsufficientRole,
                Some("Ask an admin which roles this account has (admin, oauth_admin or mi_admin are needed to register).".into()),
                Vec::new(),
                started,
            );
            Vec::new()
        }
        Err(d) => {
            r.push(
                "roles",
                "Roles of this account",
                CheckState::Unknown,
                d.message.clone(),
                d.code,
                d.remediation.clone(),
                Vec::new(),
                started,
            );
            Vec::new()
        }
    };
    let can_register = SETUP_ROLES.iter().any(|s| roles.iter().any(|x| x == s));

    // 4. The OAuth plugin (v_plugin first, then sys_plugins; "true" or "active").
    let started = Instant::now();
    let plugin_links = links(
        instance,
        "OAuth 2.0 plugin",
        &format!("v_plugin_list.do?sysparm_query=id={OAUTH_PLUGIN}"),
    );
    let plugin = match read_plugin_active_in(http, instance, auth, "v_plugin", OAUTH_PLUGIN).await {
        Ok(Reading::NotAllowed) | Err(_) => {
            read_plugin_active(http, instance, auth, OAUTH_PLUGIN).await
        }
        other => other,
    };
    match plugin {
        Ok(Reading::Known(Some(true))) => r.push(
            "oauth_plugin",
            "OAuth 2.0 plugin",
            CheckState::Pass,
            format!("{OAUTH_PLUGIN} is active"),
            Code::Ok,
            None,
            plugin_links,
            started,
        ),
        Ok(Reading::Known(found)) => r.push(
            "oauth_plugin",
            "OAuth 2.0 plugin",
            CheckState::Fail,
            if found.is_none() {
                format!("{OAUTH_PLUGIN} is not installed")
            } else {
                format!("{OAUTH_PLUGIN} is installed but not active")
            },
            Code::PluginInactive,
            Some("All > Application Manager (Admin Center): search \"OAuth\", install or activate OAuth 2.0 (com.snc.platform.security.oauth), wait for it to finish.".into()),
            plugin_links,
            started,
        ),
        Ok(Reading::NotAllowed) => r.push(
            "oauth_plugin",
            "OAuth 2.0 plugin",
            CheckState::Unknown,
            "this account may not read the plugin list (403)".into(),
            Code::InsufficientRole,
            Some("Run preflight with an admin account, or ask an admin to confirm OAuth 2.0 is active in Application Manager.".into()),
            plugin_links,
            started,
        ),
        Err(d) => r.push(
            "oauth_plugin",
            "OAuth 2.0 plugin",
            CheckState::Unknown,
            d.message.clone(),
            d.code,
            d.remediation.clone(),
            plugin_links,
            started,
        ),
    }

    // 5. com.snc.platform.security.oauth.is.active
    property_check(
        http,
        &mut r,
        auth,
        ("oauth_active", "OAuth switched on", PROP_OAUTH_ACTIVE),
        |v| match v {
            Some(v) if !is_truthy(v) => (
                CheckState::Fail,
                format!("{PROP_OAUTH_ACTIVE} = {v:?}"),
                Code::OauthPropertyDisabled,
                Code::OauthPropertyDisabled
                    .remediation()
                    .map(str::to_string),
            ),
            Some(v) => (
                CheckState::Pass,
                format!("{PROP_OAUTH_ACTIVE} = {v:?}"),
                Code::Ok,
                None,
            ),
            None => (
                CheckState::Pass,
                format!("{PROP_OAUTH_ACTIVE} is not set (OAuth follows the plugin)"),
                Code::Ok,
                None,
            ),
        },
    )
    .await;

    // 6. State parameter (snconnect always sends one).
    property_check(
        http,
        &mut r,
        auth,
        ("state_required", "State parameter", PROP_STATE_REQUIRED),
        |v| {
            (
                CheckState::Pass,
                format!(
                    "{PROP_STATE_REQUIRED} = {} (snconnect always sends a state; clients that do not get \"Missing State parameter in request.\")",
                    v.unwrap_or("not set")
                ),
                Code::Ok,
                None,
            )
        },
    )
    .await;

    // 7. Post-body-only (snconnect sends every parameter in the body).
    property_check(
        http,
        &mut r,
        auth,
        ("post_body_only", "Token parameters in the POST body", PROP_POST_BODY_ONLY),
        |v| {
            (
                CheckState::Pass,
                format!(
                    "{PROP_POST_BODY_ONLY} = {} (snconnect sends token parameters in the body; clients that put them in the URL get access_denied)",
                    v.unwrap_or("not set")
                ),
                Code::Ok,
                None,
            )
        },
    )
    .await;

    // 8. Client credentials property (matters only for that grant).
    property_check(
        http,
        &mut r,
        auth,
        ("client_credentials", "Client credentials grant", PROP_CLIENT_CREDENTIALS),
        |v| {
            let on = v.is_some_and(is_truthy);
            match (on, grant) {
                (true, _) => (CheckState::Pass, format!("{PROP_CLIENT_CREDENTIALS} = true"), Code::Ok, None),
                (false, Grant::ClientCredentials) => (
                    CheckState::Fail,
                    format!("{PROP_CLIENT_CREDENTIALS} is {}", v.map(|v| format!("{v:?}")).unwrap_or("not set".into())),
                    Code::ClientCredentialsDisabled,
                    Code::ClientCredentialsDisabled.remediation().map(str::to_string),
                ),
                (false, _) => (
                    CheckState::Pass,
                    format!("{PROP_CLIENT_CREDENTIALS} is off (only the client credentials grant needs it)"),
                    Code::Ok,
                    None,
                ),
            }
        },
    )
    .await;

    // 9. ROPC disabled (matters only for the password grant).
    property_check(
        http,
        &mut r,
        auth,
        ("ropc", "Password grant (ROPC)", PROP_ROPC_DISABLED),
        |v| {
            let disabled = v.is_some_and(is_truthy);
            match (disabled, grant) {
                (true, Grant::Password) => (
                    CheckState::Fail,
                    format!("{PROP_ROPC_DISABLED} = true"),
                    Code::PasswordGrantDisabled,
                    Code::PasswordGrantDisabled.remediation().map(str::to_string),
                ),
                (true, _) => (
                    CheckState::Pass,
                    format!("{PROP_ROPC_DISABLED} = true (the password grant is off; the authorization code flow is not affected)"),
                    Code::Ok,
                    None,
                ),
                (false, _) => (CheckState::Pass, "the password grant is allowed".into(), Code::Ok, None),
            }
        },
    )
    .await;

    // 10. Basic Auth Restriction.
    let started = Instant::now();
    let active = read_property(http, instance, auth, PROP_BASIC_RESTRICTION_ACTIVE).await;
    let enforce = read_property(http, instance, auth, PROP_BASIC_RESTRICTION_ENFORCE).await;
    let restriction_links = links(
        instance,
        "Basic Auth Restriction properties",
        "sys_properties_list.do?sysparm_query=nameSTARTSWITHglide.authenticate.basic_auth.restriction",
    );
    match (active, enforce) {
        (Ok(Reading::Known(a)), Ok(Reading::Known(e))) => {
            let enforced = e.as_deref().is_some_and(is_truthy);
            let finding = if enforced {
                "enforced: basic auth API calls are refused unless the account is web-service-only, has snc_basic_auth_api_access, or sends an MFA code. Move integrations to OAuth now.".to_string()
            } else if a.as_deref().is_some_and(is_truthy) {
                "active but not enforced yet: basic auth still works; plan the move to OAuth before enforcement.".to_string()
            } else {
                "not active: basic auth API calls still work.".to_string()
            };
            r.push(
                "basic_auth_restriction",
                "Basic Auth Restriction",
                CheckState::Pass,
                finding,
                Code::Ok,
                None,
                restriction_links,
                started,
            );
        }
        (Err(d), _) | (_, Err(d)) => r.push(
            "basic_auth_restriction",
            "Basic Auth Restriction",
            CheckState::Unknown,
            d.message.clone(),
            d.code,
            d.remediation.clone(),
            restriction_links,
            started,
        ),
        _ => r.push(
            "basic_auth_restriction",
            "Basic Auth Restriction",
            CheckState::Unknown,
            "this account may not read system properties".into(),
            Code::InsufficientRole,
            Some("Run preflight with an admin account (security_admin sees All > Basic Auth Restriction > Properties).".into()),
            restriction_links,
            started,
        ),
    }

    let diagnosis = r
        .checks
        .iter()
        .find(|c| c.state == CheckState::Fail)
        .map(|c| Diagnosis::new(c.code).with_detail(format!("{}: {}", c.title, c.finding)))
        .unwrap_or_else(|| Diagnosis::new(Code::Ok));
    PreflightReport {
        instance: instance.to_string(),
        user: Some(user),
        roles,
        release,
        checks: r.checks,
        can_register,
        diagnosis,
    }
}
