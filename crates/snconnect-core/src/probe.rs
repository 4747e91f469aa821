//! Probes that split ServiceNow's generic token refusal into its real cause.
//!
//! `oauth_token.do` answers almost every failure with the same
//! `401 {"error_description":"access_denied","error":"server_error"}`. After such an answer
//! [`refine_token_denied`] runs the probes it can, in order, and names the failing layer:
//! 1. the same user over basic auth (password grant): refused → `invalid_user_credentials`,
//!    MFA → `mfa_required`, an instance-level problem (hibernating, unreachable) → that;
//! 2. with admin credentials (given, or the user's own when they turn out to be an admin): the
//!    OAuth plugin (`plugin_inactive`), `com.snc.platform.security.oauth.is.active`
//!    (`oauth_property_disabled`), the grant's property (`password_grant_disabled`,
//!    `client_credentials_disabled`), and the registry record for the client ID (missing or
//!    inactive → `invalid_client`; client credentials without an OAuth Application User →
//!    `client_credentials_disabled`). When every layer checks out, the client secret is what is
//!    left → `invalid_client`.
//!
//! Only when no probe can decide does the answer stay `token_request_denied`, with the probes'
//! findings in the detail. The readers here are also what preflight uses.

use crate::conn_test::{current_user, table_query, ApiAuth};
use crate::error::{Code, Diagnosis};
use crate::instance::InstanceUrl;
use crate::oauth::Grant;
use crate::secret::Secret;

pub const OAUTH_PLUGIN: &str = "com.snc.platform.security.oauth";
pub const PROP_OAUTH_ACTIVE: &str = "com.snc.platform.security.oauth.is.active";
pub const PROP_CLIENT_CREDENTIALS: &str =
    "glide.oauth.inbound.client.credential.grant_type.enabled";
pub const PROP_ROPC_DISABLED: &str = "glide.oauth.inbound.ropc.grant_type.disabled";

/// A value read from the instance, or why it could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading<T> {
    Known(T),
    /// The account may not read it (403 or rows hidden by ACL).
    NotAllowed,
}

/// A `sys_properties` value: `Some(value)`, `None` when the property does not exist.
pub async fn read_property(
    http: &reqwest::Client,
    instance: &InstanceUrl,
    auth: &ApiAuth,
    name: &str,
) -> Result<Reading<Option<String>>, Diagnosis> {
    match table_query(
        http,
        instance,
        auth,
        "sys_properties",
        &format!("name={name}"),
        "name,value",
        1,
    )
    .await
    {
        Ok(r) => Ok(match r.rows.first() {
            Some(row) => Reading::Known(Some(str_field(row, "value"))),
            // ServiceNow counts before ACLs: rows exist but are hidden from this account.
            None if r.total.unwrap_or(0) > 0 => Reading::NotAllowed,
            None => Reading::Known(None),
        }),
        Err(d) if d.code == Code::AclForbidden => Ok(Reading::NotAllowed),
        Err(d) => Err(d),
    }
}

/// Whether a plugin is active, from `sys_plugins` (by `source`) or the `v_plugin` view (by
/// `id`). `active` reads "true"/"active" or "false"/"inactive" (which one a release uses is
/// unconfirmed, so both count). `Known(None)` = no such plugin.
pub async fn read_plugin_active_in(
    http: &reqwest::Client,
    instance: &InstanceUrl,
    auth: &ApiAuth,
    table: &str,
    id: &str,
) -> Result<Reading<Option<bool>>, Diagnosis> {
    let key = if table == "v_plugin" { "id" } else { "source" };
    match table_query(
        http,
        instance,
        auth,
        table,
        &format!("{key}={id}"),
        &format!("{key},active"),
        1,
    )
    .await
    {
        Ok(r) => Ok(match r.rows.first() {
            Some(row) => Reading::Known(Some(is_truthy(&str_field(row, "active")))),
            None if r.total.unwrap_or(0) > 0 => Reading::NotAllowed,
            None => Reading::Known(None),
        }),
        Err(d) if d.code == Code::AclForbidden => Ok(Reading::NotAllowed),
        Err(d) => Err(d),
    }
}

/// [`read_plugin_active_in`] `sys_plugins`.
pub async fn read_plugin_active(
    http: &reqwest::Client,
    instance: &InstanceUrl,
    auth: &ApiAuth,
    id: &str,
) -> Result<Reading<Option<bool>>, Diagnosis> {
    read_plugin_active_in(http, instance, auth, "sys_plugins", id).await
}

/// The registry record (`oauth_entity`) for a client ID, as raw JSON, `None` when absent.
pub async fn read_oauth_entity(
    http: &reqwest::Client,
    instance: &InstanceUrl,
    auth: &ApiAuth,
    client_id: &str,
) -> Result<Reading<Option<serde_json::Value>>, Diagnosis> {
    match table_query(
        http,
        instance,
        auth,
        "oauth_entity",
        &format!("client_id={client_id}"),
        "sys_id,name,client_id,active,type,public_client,redirect_url,access_token_lifespan,refresh_token_lifespan,oauth_application_user",
        1,
    )
    .await
    {
        Ok(r) => Ok(match r.rows.into_iter().next() {
            Some(row) => Reading::Known(Some(row)),
            None => Reading::Known(None),
        }),
        Err(d) if d.code == Code::AclForbidden => Ok(Reading::NotAllowed),
        Err(d) => Err(d),
    }
}

/// The client's Refresh Token Lifespan (seconds) from its registry record, when this account
/// may read it.
pub async fn read_refresh_lifespan(
    http: &reqwest::Client,
    instance: &InstanceUrl,
    auth: &ApiAuth,
    client_id: &str,
) -> Option<u64> {
    match read_oauth_entity(http, instance, auth, client_id).await {
        Ok(Reading::Known(Some(row))) => str_field(&row, "refresh_token_lifespan")
            .trim()
            .parse()
            .ok()
            .filter(|l| *l > 0),
        _ => None,
    }
}

/// A string field of a Table API row (plain or `{"value": …}` display form).
/// The role names of a user (`sys_user_has_role`); `Ok(None)` when ACLs hide the rows.
pub async fn roles_of(
    http: &reqwest::Client,
    instance: &InstanceUrl,
    auth: &ApiAuth,
    user_sys_id: &str,
) -> Result<Option<Vec<String>>, Diagnosis> {
    let rows = table_query(
        http,
        instance,
        auth,
        "sys_user_has_role",
        &format!("user={user_sys_id}"),
        "role.name",
        1000,
    )
    .await?;
    if rows.rows.is_empty() && rows.total.unwrap_or(0) > 0 {
        return Ok(None);
    }
    let mut roles: Vec<String> = rows
        .rows
        .iter()
        .map(|row| str_field(row, "role.name"))
        .filter(|s| !s.is_empty())
        .collect();
    roles.sort();
    roles.dedup();
    Ok(Some(roles))
}

pub fn str_field(row: &serde_json::Value, name: &str) -> String {
    match &row[name] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Object(o) => o
            .get("value")
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string(),
        serde_json::Value::Bool(b) => b.to_string(),
        serde_json::Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

pub fn is_truthy(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "true" | "active" | "1" | "yes"
    )
}

/// What the probes may use.
#[derive(Debug, Clone, Copy)]
pub struct ProbeInput<'a> {
    pub grant: Grant,
    pub client_id: &'a str,
    /// The resource owner (password grant): probed over basic auth.
    pub user: Option<(&'a str, &'a Secret)>,
    /// An admin account for reading properties, plugins and the registry.
    pub admin: Option<(&'a str, &'a Secret)>,
}

fn basic(user: &str, password: &Secret) -> ApiAuth {
    ApiAuth::Basic {
        username: user.to_string(),
        password: password.clone(),
    }
}

/// Refines a `token_request_denied` (see the module docs). Other codes pass through.
pub async fn refine_token_denied(
    http: &reqwest::Client,
    instance: &InstanceUrl,
    input: ProbeInput<'_>,
    denied: Diagnosis,
) -> Diagnosis {
    if denied.code != Code::TokenRequestDenied {
        return denied;
    }
    let base = denied
        .detail
        .clone()
        .unwrap_or_else(|| "token request refused".into());
    let mut notes: Vec<String> = Vec::new();
    let with = |code: Code, notes: &[String], why: String| {
        let mut detail = base.clone();
        for n in notes {
            detail.push_str("; ");
            detail.push_str(n);
        }
        detail.push_str("; ");
        detail.push_str(&why);
        Diagnosis::new(code).with_detail(detail)
    };

    // 1. The user, over basic auth.
    let mut admin = input.admin.map(|(u, p)| (basic(u, p), u.to_string(), true));
    if let (Grant::Password, Some((u, p))) = (input.grant, input.user) {
        match current_user(http, instance, &basic(u, p)).await {
            Ok(_) => {
                notes.push(format!(
                    "probe: basic auth as {u} works, so the user name and password are right"
                ));
                if admin.is_none() {
                    admin = Some((basic(u, p), u.to_string(), false));
                }
            }
            Err(d) if d.code == Code::BasicAuthRejected => {
                return with(
                    Code::InvalidUserCredentials,
                    &notes,
                    format!("probe: basic auth as {u} was refused too"),
                )
            }
            Err(d) if d.code == Code::MfaRequired => {
                return with(
                    Code::MfaRequired,
                    &notes,
                    format!(
                        "probe: basic auth as {u} needs a one-time code (X-MFA_TOKEN: invalid)"
                    ),
                )
            }
            Err(d) if is_instance_level(d.code) => return d,
            Err(d) => notes.push(format!("probe: basic auth as {u}: {}", d.code)),
        }
    }

    // 2. Admin reads.
    if let Some((auth, who, given)) = admin {
        match admin_checks(http, instance, &auth, &input).await {
            Ok(AdminVerdict::Found(code, why)) => return with(code, &notes, why),
            Ok(AdminVerdict::AllFine) if input.grant == Grant::AuthorizationCode => notes.push(
                format!("probe (as {who}): OAuth is active and the client ID exists and is active"),
            ),
            Ok(AdminVerdict::AllFine) => {
                return with(
                    Code::InvalidClient,
                    &notes,
                    format!("probe (as {who}): OAuth is active, the grant is enabled and the client ID exists, so the client secret is what was refused"),
                )
            }
            Ok(AdminVerdict::NotAllowed) => notes.push(if given {
                format!("probe: {who} may not read the OAuth settings (not an admin)")
            } else {
                format!("probe: {who} is not an admin, so the OAuth settings could not be checked (give admin credentials to narrow this down)")
            }),
            Err(d) if is_instance_level(d.code) => return d,
            Err(d) => notes.push(format!("probe (as {who}): {}", d.code)),
        }
    } else {
        notes
            .push("no admin credentials were given, so the OAuth settings were not checked".into());
    }
    let mut detail = base;
    for n in &notes {
        detail.push_str("; ");
        detail.push_str(n);
    }
    Diagnosis::new(Code::TokenRequestDenied).with_detail(detail)
}

fn is_instance_level(code: Code) -> bool {
    matches!(
        code,
        Code::DnsFailure
            | Code::ConnectionRefused
            | Code::ConnectTimeout
            | Code::RequestTimeout
            | Code::TlsUntrustedCertificate
            | Code::TlsHandshakeFailed
            | Code::InstanceHibernating
            | Code::InstanceUnavailable
            | Code::RateLimited
    )
}

enum AdminVerdict {
    Found(Code, String),
    AllFine,
    NotAllowed,
}

async fn admin_checks(
    http: &reqwest::Client,
    instance: &InstanceUrl,
    auth: &ApiAuth,
    input: &ProbeInput<'_>,
) -> Result<AdminVerdict, Diagnosis> {
    match read_plugin_active(http, instance, auth, OAUTH_PLUGIN).await? {
        Reading::NotAllowed => return Ok(AdminVerdict::NotAllowed),
        Reading::Known(Some(false)) | Reading::Known(None) => {
            return Ok(AdminVerdict::Found(
                Code::PluginInactive,
                format!("probe: the plugin {OAUTH_PLUGIN} is not active"),
            ))
        }
        Reading::Known(Some(true)) => {}
    }
    if let Reading::Known(Some(v)) = read_property(http, instance, auth, PROP_OAUTH_ACTIVE).await? {
        if !is_truthy(&v) {
            return Ok(AdminVerdict::Found(
                Code::OauthPropertyDisabled,
                format!("probe: {PROP_OAUTH_ACTIVE} = {v:?}"),
            ));
        }
    }
    match input.grant {
        Grant::Password => {
            if let Reading::Known(Some(v)) =
                read_property(http, instance, auth, PROP_ROPC_DISABLED).await?
            {
                if is_truthy(&v) {
                    return Ok(AdminVerdict::Found(
                        Code::PasswordGrantDisabled,
                        format!("probe: {PROP_ROPC_DISABLED} = {v:?}"),
                    ));
                }
            }
        }
        Grant::ClientCredentials => {
            match read_property(http, instance, auth, PROP_CLIENT_CREDENTIALS).await? {
                Reading::Known(Some(v)) if is_truthy(&v) => {}
                Reading::Known(v) => {
                    return Ok(AdminVerdict::Found(
                        Code::ClientCredentialsDisabled,
                        format!(
                            "probe: {PROP_CLIENT_CREDENTIALS} is {}",
                            v.map(|v| format!("{v:?}"))
                                .unwrap_or_else(|| "not set".into())
                        ),
                    ))
                }
                Reading::NotAllowed => return Ok(AdminVerdict::NotAllowed),
            }
        }
        Grant::AuthorizationCode | Grant::Refresh => {}
    }
    match read_oauth_entity(http, instance, auth, input.client_id).await? {
        Reading::NotAllowed => Ok(AdminVerdict::NotAllowed),
        Reading::Known(None) => Ok(AdminVerdict::Found(
            Code::InvalidClient,
            format!(
                "probe: no OAuth application on the instance has client ID {}",
                input.client_id
            ),
        )),
        Reading::Known(Some(row)) => {
            if !is_truthy(&str_field(&row, "active")) {
                return Ok(AdminVerdict::Found(
                    Code::InvalidClient,
                    format!(
                        "probe: the OAuth application {:?} is inactive",
                        str_field(&row, "name")
                    ),
                ));
            }
            if input.grant == Grant::ClientCredentials
                && str_field(&row, "oauth_application_user").is_empty()
            {
                return Ok(AdminVerdict::Found(
                    Code::ClientCredentialsDisabled,
                    format!(
                        "probe: the OAuth application {:?} has no OAuth Application User (add the field to the form and choose the user the token acts as)",
                        str_field(&row, "name")
                    ),
                ));
            }
            Ok(AdminVerdict::AllFine)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_truthiness() {
        let row = serde_json::json!({"a": "x", "b": {"value": "y", "link": "z"}, "c": true});
        assert_eq!(str_field(&row, "a"), "x");
        assert_eq!(str_field(&row, "b"), "y");
        assert_eq!(str_field(&row, "c"), "true");
        assert_eq!(str_field(&row, "missing"), "");
        for t in ["true", "active", " TRUE "] {
            assert!(is_truthy(t), "{t}");
        }
        for f in ["false", "inactive", ""] {
            assert!(!is_truthy(f), "{f}");
        }
    }
}
