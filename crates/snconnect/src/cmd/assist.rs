//! What the migration assistant's commands (`preflight`, `register`, `migrate`) share: the
//! admin login, preflight with its progress lines, and the hand-off card.

use crate::cli::AdminLogin;
use crate::ctx::Ctx;
use crate::output::Outcome;
use crate::secrets::read_secret;
use serde_json::json;
use snconnect_core::conn_test::ApiAuth;
use snconnect_core::connection::AdminCredentials;
use snconnect_core::oauth::Grant;
use snconnect_core::preflight::{self, CheckState, PreflightCheck, PreflightReport};
use snconnect_core::presets::HandoffCard;
use snconnect_core::{Diagnosis, InstanceUrl};

impl AdminLogin {
    /// The instance, and the admin account with its password from SNCONNECT_PASSWORD.
    pub fn open(&self) -> Result<(InstanceUrl, ApiAuth, AdminCredentials), Diagnosis> {
        let instance = InstanceUrl::parse(&self.instance)?;
        let user = self.username.trim();
        if user.is_empty() {
            return Err(Diagnosis::usage(
                "--username",
                "the admin account is needed",
            ));
        }
        let password = read_secret("SNCONNECT_PASSWORD", &format!("Password for {user}"))?;
        let auth = ApiAuth::Basic {
            username: user.to_string(),
            password: password.clone(),
        };
        Ok((
            instance,
            auth,
            AdminCredentials {
                username: user.to_string(),
                password,
            },
        ))
    }
}

fn state_mark(s: CheckState) -> &'static str {
    match s {
        CheckState::Pass => "✓",
        CheckState::Fail => "✗",
        CheckState::Unknown => "?",
    }
}

fn print_check(ctx: &Ctx, c: &PreflightCheck) {
    ctx.say(format!(
        "  {} {:<34} {}",
        state_mark(c.state),
        c.title,
        c.finding
    ));
    if c.state != CheckState::Pass {
        if let Some(fix) = &c.fix {
            ctx.say(format!("      fix: {fix}"));
        }
        if let Some(l) = c.links.first() {
            ctx.say(format!("      {}: {}", l.label, l.url));
        }
    }
}

/// Preflight, each check printed as it finishes.
pub async fn run_preflight(
    ctx: &Ctx,
    instance: &InstanceUrl,
    auth: &ApiAuth,
    grant: Grant,
) -> Result<PreflightReport, Diagnosis> {
    let http = ctx.http()?;
    ctx.say(format!("Preflight of {instance}"));
    let mut sink = |c: &PreflightCheck| print_check(ctx, c);
    Ok(preflight::run(http, instance, auth, Some(grant), &mut sink).await)
}

pub fn preflight_json(o: &mut Outcome, r: &PreflightReport) {
    o.field("preflight", serde_json::to_value(r).expect("plain data"));
    o.field("checks_preflight", json!(r.checks.len()));
}

pub fn card_lines(o: &mut Outcome, card: &HandoffCard, secret_hint: &str) {
    o.line(format!("Hand-off card for {}:", card.target_name));
    for f in &card.fields {
        match &f.value {
            Some(v) => o.line(format!("  {:<30} {v}", f.label)),
            None => o.line(format!("  {:<30} {secret_hint}", f.label)),
        }
    }
    for (i, s) in card.steps.iter().enumerate() {
        o.line(format!("  {}. {s}", i + 1));
    }
}
