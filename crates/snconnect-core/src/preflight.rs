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

/// A check's stable id and its title.
type CheckId = (&'static str, &'static str);

const REACHABLE: CheckId = ("reachable", "Instance reachable and awake");
const RELEASE: CheckId = ("release", "Release");
const ROLES: CheckId = ("roles", "Roles of this account");
const PLUGIN: CheckId = ("oauth_plugin", "OAuth 2.0 plugin");
const OAUTH_ACTIVE: CheckId = ("oauth_active", "OAuth switched on");
const STATE_REQUIRED: CheckId = ("state_required", "State parameter");
const POST_BODY_ONLY: CheckId = ("post_body_only", "Token parameters in the POST body");
const CLIENT_CREDENTIALS: CheckId = ("client_credentials", "Client credentials grant");
const ROPC: CheckId = ("ropc", "Password grant (ROPC)");
const BASIC_AUTH_RESTRICTION: CheckId = ("basic_auth_restriction", "Basic Auth Restriction");

/// The checks after `reachable`, in the order they run (each reported unknown when the
/// instance cannot be reached).
const AFTER_REACHABLE: [CheckId; 9] = [
    RELEASE,
    ROLES,
    PLUGIN,
    OAUTH_ACTIVE,
    STATE_REQUIRED,
    POST_BODY_ONLY,
    CLIENT_CREDENTIALS,
    ROPC,
    BASIC_AUTH_RESTRICTION,
];

/// What one check found: its state, the finding, the code and the fix.
struct Verdict {
    state: CheckState,
    finding: String,
    code: Code,
    fix: Option<String>,
}

impl Verdict {
    fn pass(finding: impl Into<String>) -> Verdict {
        Verdict {
            state: CheckState::Pass,
            finding: finding.into(),
            code: Code::Ok,
            fix: None,
        }
    }

    /// A failure whose fix is the code's own remediation.
    fn fail(code: Code, finding: impl Into<String>) -> Verdict {
        Verdict {
            state: CheckState::Fail,
            finding: finding.into(),
            code,
            fix: code.remediation().map(str::to_string),
        }
    }

    fn unknown(code: Code, finding: impl Into<String>, fix: &str) -> Verdict {
        Verdict {
            state: CheckState::Unknown,
            finding: finding.into(),
            code,
            fix: Some(fix.into()),
        }
    }

    /// Unknown because the read failed: its message (or `finding`), code and remediation.
    fn unknown_after(d: &Diagnosis, finding: String) -> Verdict {
        Verdict {
            state: CheckState::Unknown,
            finding,
            code: d.code,
            fix: d.remediation.clone(),
        }
    }

    fn with_fix(mut self, fix: &str) -> Verdict {
        self.fix = Some(fix.into());
        self
    }
}

/// One preflight run: what every check reads with, and the checks so far (each streamed to
/// `on_check` as it is recorded).
struct Preflight<'a> {
    http: &'a reqwest::Client,
    instance: &'a InstanceUrl,
    auth: &'a ApiAuth,
    grant: Grant,
    checks: Vec<PreflightCheck>,
    on_check: &'a mut (dyn FnMut(&PreflightCheck) + Send),
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
    let mut p = Preflight {
        http,
        instance,
        auth,
        grant: grant.unwrap_or(Grant::AuthorizationCode),
        checks: Vec::new(),
        on_check,
    };
    let user = match p.reachable().await {
        Ok(user) => user,
        Err(d) => return p.unreachable(d),
    };
    let release = p.release().await;
    let roles = p.roles(&user).await;
    p.oauth_plugin().await;
    p.oauth_active().await;
    p.state_required().await;
    p.post_body_only().await;
    p.client_credentials().await;
    p.ropc().await;
    p.basic_auth_restriction().await;
    p.finish(user, roles, release)
}

impl Preflight<'_> {
    fn record(&mut self, (id, title): CheckId, v: Verdict, links: Vec<Link>, ms: u64) {
        let c = PreflightCheck {
            id,
            title,
            state: v.state,
            finding: v.finding,
            code: v.code,
            fix: v.fix,
            links,
            ms,
        };
        (self.on_check)(&c);
        self.checks.push(c);
    }

    fn push(&mut self, check: CheckId, v: Verdict, links: Vec<Link>, started: Instant) {
        self.record(check, v, links, started.elapsed().as_millis() as u64);
    }

    /// The report: the first failure is its diagnosis.
    fn finish(
        self,
        user: Identity,
        roles: Vec<String>,
        release: Option<String>,
    ) -> PreflightReport {
        let diagnosis = self
            .checks
            .iter()
            .find(|c| c.state == CheckState::Fail)
            .map(|c| Diagnosis::new(c.code).with_detail(format!("{}: {}", c.title, c.finding)))
            .unwrap_or_else(|| Diagnosis::new(Code::Ok));
        PreflightReport {
            instance: self.instance.to_string(),
            user: Some(user),
            can_register: SETUP_ROLES.iter().any(|s| roles.iter().any(|x| x == s)),
            roles,
            release,
            checks: self.checks,
            diagnosis,
        }
    }

    /// 1. Reachable, awake, and the credentials work.
    async fn reachable(&mut self) -> Result<Identity, Diagnosis> {
        let started = Instant::now();
        match current_user(self.http, self.instance, self.auth).await {
            Ok(u) => {
                let finding = format!("signed in as {} ({})", u.user_display_name, u.user_name);
                self.push(REACHABLE, Verdict::pass(finding), Vec::new(), started);
                Ok(u)
            }
            Err(d) => {
                let v = Verdict {
                    state: CheckState::Fail,
                    finding: d.detail.clone().unwrap_or_else(|| d.message.clone()),
                    code: d.code,
                    fix: d.remediation.clone(),
                };
                self.push(REACHABLE, v, Vec::new(), started);
                Err(d)
            }
        }
    }

    /// Every other check unknown for the reason the instance could not be reached.
    fn unreachable(mut self, d: Diagnosis) -> PreflightReport {
        for check in AFTER_REACHABLE {
            let finding = format!("not checked: {}", d.message);
            self.record(check, Verdict::unknown_after(&d, finding), Vec::new(), 0);
        }
        PreflightReport {
            instance: self.instance.to_string(),
            user: None,
            roles: Vec::new(),
            release: None,
            checks: self.checks,
            can_register: false,
            diagnosis: d,
        }
    }

    /// A property check: its reading, turned into pass / fail / unknown by `judge`.
    async fn property(
        &mut self,
        check: CheckId,
        name: &'static str,
        judge: impl Fn(Option<&str>) -> Verdict,
    ) -> Option<String> {
        let started = Instant::now();
        let links = prop_links(self.instance, name);
        match read_property(self.http, self.instance, self.auth, name).await {
            Ok(Reading::Known(v)) => {
                self.push(check, judge(v.as_deref()), links, started);
                v
            }
            Ok(Reading::NotAllowed) => {
                let v = Verdict::unknown(
                    Code::InsufficientRole,
                    format!("{name}: this account may not read system properties"),
                    "Run preflight with an admin account to check this.",
                );
                self.push(check, v, links, started);
                None
            }
            Err(d) => {
                let finding = format!("{name}: {}", d.message);
                self.push(check, Verdict::unknown_after(&d, finding), links, started);
                None
            }
        }
    }

    /// 2. Release.
    async fn release(&mut self) -> Option<String> {
        self.property(RELEASE, PROP_BUILDNAME, |v| match v {
            Some(v) if !v.is_empty() => Verdict::pass(format!("release {v}")),
            _ => Verdict::unknown(
                Code::UnexpectedResponse,
                format!("{PROP_BUILDNAME} is not set"),
                "The release is informational: read it on the instance's stats.do page (or System Diagnostics) if you need it.",
            ),
        })
        .await
        .filter(|v| !v.is_empty())
    }

    /// 3. Roles: may this account register an endpoint?
    async fn roles(&mut self, user: &Identity) -> Vec<String> {
        let started = Instant::now();
        match crate::probe::roles_of(self.http, self.instance, self.auth, &user.user_sys_id).await {
            Ok(Some(roles)) => {
                let links = links(
                    self.instance,
                    "User roles",
                    &format!(
                        "sys_user_has_role_list.do?sysparm_query=user={}",
                        user.user_sys_id
                    ),
                );
                self.push(ROLES, judge_roles(user, &roles), links, started);
                roles
            }
            Ok(None) => {
                let v = Verdict::unknown(
                    Code::InsufficientRole,
                    "the account's role assignments are hidden from it",
                    "Ask an admin which roles this account has (admin, oauth_admin or mi_admin are needed to register).",
                );
                self.push(ROLES, v, Vec::new(), started);
                Vec::new()
            }
            Err(d) => {
                let v = Verdict::unknown_after(&d, d.message.clone());
                self.push(ROLES, v, Vec::new(), started);
                Vec::new()
            }
        }
    }

    /// 4. The OAuth plugin (v_plugin first, then sys_plugins; "true" or "active").
    async fn oauth_plugin(&mut self) {
        let started = Instant::now();
        let plugin_links = links(
            self.instance,
            "OAuth 2.0 plugin",
            &format!("v_plugin_list.do?sysparm_query=id={OAUTH_PLUGIN}"),
        );
        let (http, instance, auth) = (self.http, self.instance, self.auth);
        let plugin =
            match read_plugin_active_in(http, instance, auth, "v_plugin", OAUTH_PLUGIN).await {
                Ok(Reading::NotAllowed) | Err(_) => {
                    read_plugin_active(http, instance, auth, OAUTH_PLUGIN).await
                }
                other => other,
            };
        let v = match plugin {
            Ok(Reading::Known(Some(true))) => Verdict::pass(format!("{OAUTH_PLUGIN} is active")),
            Ok(Reading::Known(found)) => Verdict::fail(
                Code::PluginInactive,
                if found.is_none() {
                    format!("{OAUTH_PLUGIN} is not installed")
                } else {
                    format!("{OAUTH_PLUGIN} is installed but not active")
                },
            )
            .with_fix("All > Application Manager (Admin Center): search \"OAuth\", install or activate OAuth 2.0 (com.snc.platform.security.oauth), wait for it to finish."),
            Ok(Reading::NotAllowed) => Verdict::unknown(
                Code::InsufficientRole,
                "this account may not read the plugin list (403)",
                "Run preflight with an admin account, or ask an admin to confirm OAuth 2.0 is active in Application Manager.",
            ),
            Err(d) => Verdict::unknown_after(&d, d.message.clone()),
        };
        self.push(PLUGIN, v, plugin_links, started);
    }

    /// 5. com.snc.platform.security.oauth.is.active
    async fn oauth_active(&mut self) {
        self.property(OAUTH_ACTIVE, PROP_OAUTH_ACTIVE, |v| match v {
            Some(v) if !is_truthy(v) => Verdict::fail(
                Code::OauthPropertyDisabled,
                format!("{PROP_OAUTH_ACTIVE} = {v:?}"),
            ),
            Some(v) => Verdict::pass(format!("{PROP_OAUTH_ACTIVE} = {v:?}")),
            None => Verdict::pass(format!(
                "{PROP_OAUTH_ACTIVE} is not set (OAuth follows the plugin)"
            )),
        })
        .await;
    }

    /// 6. State parameter (snconnect always sends one).
    async fn state_required(&mut self) {
        self.property(STATE_REQUIRED, PROP_STATE_REQUIRED, |v| {
            Verdict::pass(format!(
                "{PROP_STATE_REQUIRED} = {} (snconnect always sends a state; clients that do not get \"Missing State parameter in request.\")",
                v.unwrap_or("not set")
            ))
        })
        .await;
    }

    /// 7. Post-body-only (snconnect sends every parameter in the body).
    async fn post_body_only(&mut self) {
        self.property(POST_BODY_ONLY, PROP_POST_BODY_ONLY, |v| {
            Verdict::pass(format!(
                "{PROP_POST_BODY_ONLY} = {} (snconnect sends token parameters in the body; clients that put them in the URL get access_denied)",
                v.unwrap_or("not set")
            ))
        })
        .await;
    }

    /// 8. Client credentials property (matters only for that grant).
    async fn client_credentials(&mut self) {
        let grant = self.grant;
        self.property(CLIENT_CREDENTIALS, PROP_CLIENT_CREDENTIALS, |v| {
            match (v.is_some_and(is_truthy), grant) {
                (true, _) => Verdict::pass(format!("{PROP_CLIENT_CREDENTIALS} = true")),
                (false, Grant::ClientCredentials) => Verdict::fail(
                    Code::ClientCredentialsDisabled,
                    format!(
                        "{PROP_CLIENT_CREDENTIALS} is {}",
                        v.map(|v| format!("{v:?}")).unwrap_or("not set".into())
                    ),
                ),
                (false, _) => Verdict::pass(format!(
                    "{PROP_CLIENT_CREDENTIALS} is off (only the client credentials grant needs it)"
                )),
            }
        })
        .await;
    }

    /// 9. ROPC disabled (matters only for the password grant).
    async fn ropc(&mut self) {
        let grant = self.grant;
        self.property(ROPC, PROP_ROPC_DISABLED, |v| {
            match (v.is_some_and(is_truthy), grant) {
                (true, Grant::Password) => Verdict::fail(
                    Code::PasswordGrantDisabled,
                    format!("{PROP_ROPC_DISABLED} = true"),
                ),
                (true, _) => Verdict::pass(format!(
                    "{PROP_ROPC_DISABLED} = true (the password grant is off; the authorization code flow is not affected)"
                )),
                (false, _) => Verdict::pass("the password grant is allowed"),
            }
        })
        .await;
    }

    /// 10. Basic Auth Restriction.
    async fn basic_auth_restriction(&mut self) {
        let started = Instant::now();
        let (http, instance, auth) = (self.http, self.instance, self.auth);
        let active = read_property(http, instance, auth, PROP_BASIC_RESTRICTION_ACTIVE).await;
        let enforce = read_property(http, instance, auth, PROP_BASIC_RESTRICTION_ENFORCE).await;
        let restriction_links = links(
            instance,
            "Basic Auth Restriction properties",
            "sys_properties_list.do?sysparm_query=nameSTARTSWITHglide.authenticate.basic_auth.restriction",
        );
        let v = match (active, enforce) {
            (Ok(Reading::Known(a)), Ok(Reading::Known(e))) => {
                Verdict::pass(restriction_finding(a.as_deref(), e.as_deref()))
            }
            (Err(d), _) | (_, Err(d)) => Verdict::unknown_after(&d, d.message.clone()),
            _ => Verdict::unknown(
                Code::InsufficientRole,
                "this account may not read system properties",
                "Run preflight with an admin account (security_admin sees All > Basic Auth Restriction > Properties).",
            ),
        };
        self.push(BASIC_AUTH_RESTRICTION, v, restriction_links, started);
    }
}

/// Pass with the setup roles the account has, fail when it has none of them.
fn judge_roles(user: &Identity, roles: &[String]) -> Verdict {
    let setup: Vec<&str> = SETUP_ROLES
        .iter()
        .copied()
        .filter(|r| roles.iter().any(|x| x == r))
        .collect();
    if !setup.is_empty() {
        return Verdict::pass(format!("{} has {}", user.user_name, setup.join(", ")));
    }
    Verdict::fail(
        Code::InsufficientRole,
        format!(
            "{} has {} but none of admin, oauth_admin, mi_admin",
            user.user_name,
            if roles.is_empty() {
                "no roles".to_string()
            } else {
                roles.join(", ")
            }
        ),
    )
}

/// What the restriction's `active` and `enforce` properties mean for basic auth today.
fn restriction_finding(active: Option<&str>, enforce: Option<&str>) -> String {
    if enforce.is_some_and(is_truthy) {
        "enforced: basic auth API calls are refused unless the account is web-service-only, has snc_basic_auth_api_access, or sends an MFA code. Move integrations to OAuth now.".to_string()
    } else if active.is_some_and(is_truthy) {
        "active but not enforced yet: basic auth still works; plan the move to OAuth before enforcement.".to_string()
    } else {
        "not active: basic auth API calls still work.".to_string()
    }
}
