//! The JSON views of profiles and token facts that several commands print.

use serde_json::{json, Value};
use snconnect_core::profiles::{AuthMethod, Profile, TokenMeta};
use snconnect_core::token::status_of;

/// The CLI name of a method (`oauth-code-pkce`).
pub fn method_name(m: AuthMethod) -> String {
    serde_json::to_value(m)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

pub fn profile_json(p: &Profile) -> Value {
    serde_json::to_value(p.for_export()).expect("profiles are plain data")
}

pub fn token_json(meta: Option<TokenMeta>, conn_auth: AuthMethod) -> Value {
    let m = meta.unwrap_or_default();
    let renewable = matches!(
        conn_auth,
        AuthMethod::OauthClientCredentials | AuthMethod::OauthPassword
    );
    let status = status_of(meta.as_ref(), snconnect_core::token::now_secs(), renewable);
    json!({
        "status": status.as_str(),
        "has_access_token": m.has_access_token,
        "has_refresh_token": m.has_refresh_token,
        "obtained_at": meta.map(|m| m.obtained_at),
        "access_expires_at": m.access_expires_at,
        "refresh_expires_at": m.refresh_expires_at,
    })
}
