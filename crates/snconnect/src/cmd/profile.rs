//! `snconnect profile add|secret|list|show|remove|export|import`: named connections.

use crate::cli::{ConnArgs, ProfileCmd};
use crate::ctx::{keychain_hint, store_secrets, write_file, Ctx};
use crate::output::Outcome;
use crate::secrets::read_profile_secrets;
use crate::views::{profile_json, token_json};
use serde_json::{json, Value};
use snconnect_core::connection::{is_oauth, validate_profile};
use snconnect_core::profiles::Profile;
use snconnect_core::signin::{save_profile, TOKEN_ENTRIES};
use snconnect_core::Diagnosis;
use std::path::{Path, PathBuf};

pub async fn profile_cmd(ctx: &Ctx, cmd: ProfileCmd) -> Result<Outcome, Diagnosis> {
    match cmd {
        ProfileCmd::Add { name, conn } => add(ctx, &name, &conn).await,
        ProfileCmd::Secret { name } => secret(ctx, &name).await,
        ProfileCmd::List => list(ctx),
        ProfileCmd::Show { name } => show(ctx, &name),
        ProfileCmd::Remove { name } => remove(ctx, &name).await,
        ProfileCmd::Export { names, out } => export(ctx, &names, out),
        ProfileCmd::Import { file } => import(ctx, &file),
    }
}

async fn add(ctx: &Ctx, name: &str, conn: &ConnArgs) -> Result<Outcome, Diagnosis> {
    let mut profile = conn.profile(name);
    validate_profile(&profile)?;
    let secrets = read_profile_secrets(&profile)?;
    // A changed connection invalidates stored tokens; the same grant keeps them.
    let keep: &'static [&'static str] = match same_grant(ctx, &profile)? {
        Some(old) => {
            profile.tokens = old.tokens;
            TOKEN_ENTRIES
        }
        None => &[],
    };
    let stored = save_profile(
        &ctx.profiles,
        ctx.store.clone(),
        profile.clone(),
        secrets,
        keep,
    )
    .await
    .map_err(keychain_hint)?;
    let kind = ctx.store.kind();
    let mut o = Outcome::ok();
    o.field("profile", profile_json(&profile));
    o.field("stored_secrets", json!(stored));
    o.field("secret_store", json!(kind));
    o.line(format!(
        "✓ Saved profile {name} ({}) in {}",
        profile.instance,
        ctx.profiles.path().display()
    ));
    if !stored.is_empty() {
        o.line(format!(
            "  secrets ({}) stored in the {kind}",
            stored.join(", ")
        ));
    }
    if kind == "session" && !stored.is_empty() {
        o.line("  (--no-keychain: they are gone when this command ends; give them through the environment again with --no-keychain on each run)");
    }
    if is_oauth(profile.auth) {
        o.line(format!("  next: snconnect login {name}"));
    }
    Ok(o)
}

/// The saved profile of the same name when it is the same grant (instance, method, client,
/// user), whose tokens stay valid.
fn same_grant(ctx: &Ctx, profile: &Profile) -> Result<Option<Profile>, Diagnosis> {
    let old = ctx
        .profiles
        .load()?
        .profiles
        .into_iter()
        .find(|p| p.name == profile.name);
    Ok(old.filter(|o| {
        o.instance == profile.instance
            && o.auth == profile.auth
            && o.client_id == profile.client_id
            && o.username == profile.username
    }))
}

async fn secret(ctx: &Ctx, name: &str) -> Result<Outcome, Diagnosis> {
    let profile = ctx.profiles.get(name)?;
    let secrets = read_profile_secrets(&profile)?;
    let stored = store_secrets(ctx, name, secrets).await?;
    let mut o = Outcome::ok();
    o.field("stored_secrets", json!(stored));
    o.line(format!(
        "✓ Stored {} for {name} in the {}",
        if stored.is_empty() {
            "nothing (this method needs no secret)".to_string()
        } else {
            stored.join(", ")
        },
        ctx.store.kind()
    ));
    Ok(o)
}

fn list(ctx: &Ctx) -> Result<Outcome, Diagnosis> {
    let file = ctx.profiles.load()?;
    let mut o = Outcome::ok();
    let rows: Vec<Value> = file
        .profiles
        .iter()
        .map(|p| {
            let mut v = json!({
                "name": p.name, "instance": p.instance, "auth": p.auth,
                "client_id": p.client_id, "username": p.username,
            });
            if is_oauth(p.auth) {
                v["token"] = token_json(p.tokens, p.auth);
            }
            v
        })
        .collect();
    if rows.is_empty() {
        o.line("No profiles yet: snconnect profile add NAME --instance URL --auth METHOD …");
    }
    for (p, r) in file.profiles.iter().zip(&rows) {
        o.line(format!(
            "{:<20} {:<18} {:<40} {}",
            p.name,
            r["auth"].as_str().unwrap_or(""),
            p.instance,
            r["token"]["status"].as_str().unwrap_or("")
        ));
    }
    o.field("profiles", Value::Array(rows));
    Ok(o)
}

fn show(ctx: &Ctx, name: &str) -> Result<Outcome, Diagnosis> {
    let p = ctx.profiles.get(name)?;
    let mut o = Outcome::ok();
    let pretty = serde_json::to_string_pretty(&profile_json(&p)).unwrap_or_default();
    o.lines.extend(pretty.lines().map(str::to_string));
    o.field("profile", profile_json(&p));
    if is_oauth(p.auth) {
        let t = token_json(p.tokens, p.auth);
        o.line(format!(
            "token status: {}",
            t["status"].as_str().unwrap_or("")
        ));
        o.field("token", t);
    }
    Ok(o)
}

async fn remove(ctx: &Ctx, name: &str) -> Result<Outcome, Diagnosis> {
    snconnect_core::signin::remove_profile(&ctx.profiles, ctx.store.clone(), name).await?;
    let mut o = Outcome::ok();
    o.field("removed", json!(name));
    o.line(format!("✓ Removed {name} and its keychain entries (tokens were not revoked on the server; use `token revoke` for that)"));
    Ok(o)
}

fn export(ctx: &Ctx, names: &[String], out: Option<PathBuf>) -> Result<Outcome, Diagnosis> {
    let doc = ctx.profiles.export(names)?;
    let text = serde_json::to_string_pretty(&doc).expect("profiles are plain data") + "\n";
    let mut o = Outcome::ok();
    match out {
        Some(path) => {
            write_file(&path, text.as_bytes())?;
            o.field("file", json!(path.display().to_string()));
            o.field("profiles", json!(doc.profiles.len()));
            o.line(format!(
                "✓ Exported {} profile(s) to {} (no secrets)",
                doc.profiles.len(),
                path.display()
            ));
        }
        None => {
            o.field("export", serde_json::to_value(&doc).expect("plain data"));
            o.raw = Some(text);
        }
    }
    Ok(o)
}

fn import(ctx: &Ctx, file: &Path) -> Result<Outcome, Diagnosis> {
    let origin = file.display().to_string();
    let bytes = std::fs::read(file)
        .map_err(|e| Diagnosis::usage(&origin, format!("cannot read it: {e}")))?;
    let names = ctx.profiles.import(&bytes, &origin)?;
    let mut o = Outcome::ok();
    o.line(format!("✓ Imported {}", names.join(", ")));
    o.line("  add secrets with `snconnect profile secret NAME` (they are never exported), then `snconnect login NAME`");
    o.field("imported", json!(names));
    Ok(o)
}
