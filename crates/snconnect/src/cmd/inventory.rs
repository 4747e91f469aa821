//! `snconnect inventory`: the accounts that still depend on basic auth (issue 10), from the
//! core's `inventory::basic_auth_inventory`, with the command that migrates one of them.

use crate::cli::InventoryArgs;
use crate::ctx::Ctx;
use crate::output::Outcome;
use crate::secrets::read_secret;
use serde_json::json;
use snconnect_core::connection::AdminCredentials;
use snconnect_core::inventory::{
    basic_auth_inventory, BasicAuthAccount, BasicAuthInventory, InventorySource, SourceState,
};
use snconnect_core::{Diagnosis, InstanceUrl, Secret};
use std::io::BufRead;

/// The environment variable the admin password comes from (as for the diagnosis probes).
pub const ADMIN_PASSWORD_ENV: &str = "SNCONNECT_ADMIN_PASSWORD";

impl InventoryArgs {
    fn admin(&self) -> Result<AdminCredentials, Diagnosis> {
        let user = self.admin_username.trim();
        if user.is_empty() {
            return Err(Diagnosis::usage(
                "--admin-username",
                "the admin account is needed",
            ));
        }
        let password = if self.admin_password_stdin {
            password_from_stdin()?
        } else {
            read_secret(ADMIN_PASSWORD_ENV, &format!("Password for {user}"))?
        };
        Ok(AdminCredentials {
            username: user.to_string(),
            password,
        })
    }
}

/// The first line of stdin, without its line ending (nothing else is trimmed).
fn password_from_stdin() -> Result<Secret, Diagnosis> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|e| {
        Diagnosis::usage(
            "--admin-password-stdin",
            format!("could not read stdin: {e}"),
        )
    })?;
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if password.is_empty() {
        return Err(Diagnosis::usage(
            "--admin-password-stdin",
            "stdin held no password (the first line is read)",
        ));
    }
    Ok(Secret::new(password))
}

pub async fn inventory(ctx: &Ctx, a: InventoryArgs) -> Result<Outcome, Diagnosis> {
    let instance = InstanceUrl::parse(&a.instance)?;
    let admin = a.admin()?;
    ctx.say(format!(
        "Basic-auth inventory of {instance} as {}",
        admin.username
    ));
    let inv = match basic_auth_inventory(ctx.http()?, &instance, &admin).await {
        Ok(inv) => inv,
        Err(d) => {
            let mut o = Outcome::failed(d.redact(&[&admin.password]));
            o.instance = Some(instance.to_string());
            return Ok(o);
        }
    };
    let mut o = Outcome::ok();
    o.instance = Some(inv.instance.clone());
    o.merge(serde_json::to_value(&inv).expect("plain data"));
    o.field("complete", json!(inv.complete()));
    for line in human(&inv, &admin.username) {
        o.line(line);
    }
    Ok(o)
}

fn yes_no(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "yes",
        Some(false) => "no",
        None => "not set",
    }
}

fn mark(s: &InventorySource) -> &'static str {
    match (s.state, &s.detail) {
        (SourceState::Listed, None) => "✓",
        (SourceState::Listed, Some(_)) => "!",
        _ => "?",
    }
}

fn state_text(s: &InventorySource) -> String {
    match (s.state, s.count) {
        (SourceState::Listed, Some(n)) => format!("listed ({n})"),
        (SourceState::Listed, None) => "listed".into(),
        (SourceState::Hidden, _) => "unknown: hidden by ACLs".into(),
        (SourceState::Denied, _) => "unknown: access denied (403)".into(),
    }
}

fn flag(v: bool) -> &'static str {
    if v {
        "yes"
    } else {
        "-"
    }
}

/// A profile name for `user` (profile names are letters, digits, '-', '_' and '.').
fn profile_name(user: &str) -> String {
    let name: String = user
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    if name.is_empty() {
        "migrated".into()
    } else {
        name
    }
}

/// The command that migrates `user` (its basic-auth password: SNCONNECT_BASIC_PASSWORD).
pub fn migrate_command(instance: &str, admin: &str, user: &str) -> String {
    format!(
        "snconnect migrate --instance {instance} --username {admin} --basic-username {user} --profile {}",
        profile_name(user)
    )
}

fn human(inv: &BasicAuthInventory, admin: &str) -> Vec<String> {
    let mut out = restriction_lines(inv);
    out.push("Sources:".into());
    for s in &inv.sources {
        out.push(format!("  {} {:<58} {}", mark(s), s.label, state_text(s)));
        if let Some(d) = &s.detail {
            out.push(format!("      {d}"));
        }
    }
    if inv.accounts.is_empty() {
        out.push(if inv.complete() {
            "No account depends on basic auth through these sources.".into()
        } else {
            "No account found in the sources this account may read (the unknowns above may hide some).".into()
        });
        return out;
    }
    out.extend(account_lines(&inv.accounts));
    let example = inv
        .accounts
        .iter()
        .find(|a| a.active && !a.user_name.is_empty())
        .or_else(|| inv.accounts.first())
        .map(|a| a.user_name.as_str())
        .unwrap_or("USER");
    out.push(format!(
        "migrate one: {}   (any user above; its password from SNCONNECT_BASIC_PASSWORD)",
        migrate_command(&inv.instance, admin, example)
    ));
    out
}

/// The Basic Auth Restriction settings, or why they are unknown.
fn restriction_lines(inv: &BasicAuthInventory) -> Vec<String> {
    let r = &inv.restriction;
    if !r.readable {
        let why = inv
            .source("restriction")
            .and_then(|s| s.detail.as_deref())
            .unwrap_or("the properties could not be read");
        return vec![format!("Basic Auth Restriction: unknown: {why}")];
    }
    let list = |v: &[String]| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join(", ")
        }
    };
    vec![
        format!(
            "Basic Auth Restriction: active {}, enforce {}, enforcement date {}, default decision {}",
            yes_no(r.active),
            yes_no(r.enforce),
            r.enforcement_date.as_deref().unwrap_or("not set"),
            r.default_decision.as_deref().unwrap_or("not set"),
        ),
        format!(
            "  allowed roles: {}; allowed users: {}",
            list(&r.allowed_roles),
            list(&r.allowed_users)
        ),
    ]
}

/// The accounts as a table, its columns as wide as their longest value.
fn account_lines(accounts: &[BasicAuthAccount]) -> Vec<String> {
    let mut out = vec![format!("Accounts ({}):", accounts.len())];
    let width = |f: fn(&BasicAuthAccount) -> &str, min: usize| {
        accounts
            .iter()
            .map(|a| f(a).chars().count())
            .max()
            .unwrap_or(0)
            .max(min)
    };
    let (wu, wn) = (width(|a| &a.user_name, 4), width(|a| &a.name, 4));
    out.push(format!(
        "  {:<wu$}  {:<wn$}  {:<4}  {:<4}  {:<7}  ACTIVE",
        "USER", "NAME", "WSAO", "ROLE", "ALLOWED"
    ));
    for a in accounts {
        out.push(format!(
            "  {:<wu$}  {:<wn$}  {:<4}  {:<4}  {:<7}  {}",
            a.user_name,
            a.name,
            flag(a.web_service_access_only),
            flag(a.has_basic_auth_role),
            flag(a.allowed_by_property),
            if a.active { "yes" } else { "no" },
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_names_are_valid() {
        assert_eq!(profile_name("svc.qlik"), "svc.qlik");
        assert_eq!(profile_name("qlik@acme.com"), "qlik-acme.com");
        assert_eq!(profile_name(""), "migrated");
        assert!(snconnect_core::profiles::validate_name(&profile_name(&"x y".repeat(40))).is_ok());
        assert_eq!(
            migrate_command("https://acme.service-now.com/", "admin", "svc.qlik"),
            "snconnect migrate --instance https://acme.service-now.com/ --username admin --basic-username svc.qlik --profile svc.qlik"
        );
    }
}
