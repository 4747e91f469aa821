//! `snconnect login NAME`: obtain and store a profile's tokens, then test.

use crate::cli::LoginArgs;
use crate::ctx::{keychain, open, save_meta, Ctx};
use crate::output::Outcome;
use crate::secrets::held;
use crate::signin::{sign_in, signed_outcome};
use crate::views::token_json;
use snconnect_core::connection::is_oauth;
use snconnect_core::keychain::account;
use snconnect_core::{Diagnosis, Secret};
use std::sync::Arc;

pub async fn login(ctx: &Ctx, a: LoginArgs) -> Result<Outcome, Diagnosis> {
    let conn = open(ctx, &a.name, &a.admin).await?;
    if is_oauth(conn.profile.auth) {
        // Fail before the consent, not after it: tokens issued and then not storable would
        // be orphaned on the server.
        let (store, acct) = (ctx.store.clone(), account(&a.name, "write-check"));
        keychain(move || {
            store.set(&acct, &Secret::new("snconnect keychain write check"))?;
            store.delete(&acct)
        })
        .await?;
    }
    let conn = Arc::new(conn);
    let out = sign_in(ctx, conn.clone(), &a.consent, !a.no_test).await;
    save_meta(ctx, &conn).await?;
    let signed_only = a.no_test && out.ok();
    let mut o = signed_outcome(out, &conn.instance);
    if signed_only {
        o.diagnosis = Outcome::ok().diagnosis;
        o.line(format!(
            "✓ Signed in; tokens stored in the {}",
            ctx.store.kind()
        ));
    }
    if is_oauth(conn.profile.auth) {
        o.field(
            "token",
            token_json(conn.token_meta().await, conn.profile.auth),
        );
    }
    Ok(o.redact(&held(&conn)))
}
