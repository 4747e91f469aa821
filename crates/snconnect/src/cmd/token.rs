//! `snconnect token status|refresh|revoke|reset NAME`: a profile's token lifecycle.

use crate::cli::{AdminArgs, TokenCmd};
use crate::ctx::{keychain_hint, open, save_meta, Ctx};
use crate::output::Outcome;
use crate::secrets::held;
use crate::views::{method_name, token_json};
use serde_json::Value;
use snconnect_core::connection::is_oauth;
use snconnect_core::Diagnosis;

pub async fn token_cmd(ctx: &Ctx, cmd: TokenCmd) -> Result<Outcome, Diagnosis> {
    let none = AdminArgs {
        admin_username: None,
    };
    let (name, admin) = match &cmd {
        TokenCmd::Status { name } => return status(ctx, name),
        TokenCmd::Revoke { name } | TokenCmd::Reset { name } => (name.clone(), none),
        TokenCmd::Refresh { name, admin } => (name.clone(), admin.clone()),
    };
    let conn = open(ctx, &name, &admin).await?;
    let result = match cmd {
        TokenCmd::Refresh { .. } => conn.refresh().await.map(|_| "refreshed"),
        TokenCmd::Revoke { .. } => conn
            .revoke()
            .await
            .map(|_| "revoked on the server and forgotten here"),
        TokenCmd::Reset { .. } => conn
            .reset()
            .await
            .map(|_| "forgotten here (not revoked on the server)"),
        TokenCmd::Status { .. } => unreachable!("handled above"),
    };
    save_meta(ctx, &conn).await?;
    let t = token_json(
        conn.token_meta()
            .await
            .filter(|m| m.has_access_token || m.has_refresh_token),
        conn.profile.auth,
    );
    let mut o = match result {
        Ok(what) => {
            let mut o = Outcome::ok();
            o.line(format!("✓ Tokens of {name} {what}"));
            o
        }
        Err(d) => Outcome::failed(keychain_hint(d)),
    };
    o.line(status_line(&name, &t));
    o.merge(t);
    Ok(o.redact(&held(&conn)))
}

/// Status reads only the profile file: no keychain prompt, no network.
fn status(ctx: &Ctx, name: &str) -> Result<Outcome, Diagnosis> {
    let p = ctx.profiles.get(name)?;
    if !is_oauth(p.auth) {
        return Err(Diagnosis::usage(
            "profile",
            format!("{name} uses {}, which has no tokens", method_name(p.auth)),
        ));
    }
    let t = token_json(p.tokens, p.auth);
    let mut o = Outcome::ok();
    o.line(status_line(name, &t));
    o.merge(t);
    Ok(o)
}

fn status_line(name: &str, t: &Value) -> String {
    let when = |k: &str| {
        t[k].as_u64()
            .map(snconnect_core::report::rfc3339)
            .unwrap_or_else(|| "—".into())
    };
    format!(
        "{name}: {} (access token until {}, refresh token until {})",
        t["status"].as_str().unwrap_or(""),
        when("access_expires_at"),
        when("refresh_expires_at")
    )
}
