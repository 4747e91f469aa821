//! `snconnect preflight`: is the instance ready for OAuth, and may this admin set it up?

use crate::cli::PreflightArgs;
use crate::cmd::assist::run_preflight;
use crate::ctx::Ctx;
use crate::output::Outcome;
use serde_json::json;
use snconnect_core::preflight::CheckState;
use snconnect_core::Diagnosis;

pub async fn preflight(ctx: &Ctx, a: PreflightArgs) -> Result<Outcome, Diagnosis> {
    let (instance, auth, _) = a.admin.open()?;
    let r = run_preflight(ctx, &instance, &auth, a.grant.into()).await?;
    let mut o = Outcome::failed(r.diagnosis.clone());
    o.instance = Some(instance.to_string());
    o.field("user", json!(r.user.as_ref().map(|u| u.user_name.clone())));
    o.field("release", json!(r.release));
    o.field("roles", json!(r.roles));
    o.field("can_register", json!(r.can_register));
    o.field(
        "checks",
        serde_json::to_value(&r.checks).expect("plain data"),
    );
    let unknown = r
        .checks
        .iter()
        .filter(|c| c.state == CheckState::Unknown)
        .count();
    if r.ok() {
        o.line(format!(
            "✓ Ready for OAuth ({} checks passed{})",
            r.checks.len() - unknown,
            if unknown > 0 {
                format!(", {unknown} could not be checked with this account")
            } else {
                String::new()
            }
        ));
    }
    // The admin password never reaches the terminal, whatever the instance echoed.
    Ok(o.redact(&[auth.secret()]))
}
