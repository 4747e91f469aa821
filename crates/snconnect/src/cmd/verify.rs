//! `snconnect verify`: sign in and test a connection with nothing written anywhere.

use crate::cli::VerifyArgs;
use crate::ctx::Ctx;
use crate::output::Outcome;
use crate::secrets::{admin_credentials, held, read_profile_secrets};
use crate::signin::{sign_in, signed_outcome};
use snconnect_core::connection::{validate_profile, Connection};
use snconnect_core::keychain::{account, MemoryStore, SecretStore};
use snconnect_core::Diagnosis;
use std::sync::Arc;

pub async fn verify(ctx: &Ctx, a: VerifyArgs) -> Result<Outcome, Diagnosis> {
    // Nothing written anywhere: a profile that is never saved, secrets in memory only.
    let profile = a.conn.profile("verify");
    validate_profile(&profile)?;
    let secrets = read_profile_secrets(&profile)?;
    let admin = admin_credentials(&a.admin)?;
    let memory: Arc<dyn SecretStore> = Arc::new(MemoryStore::default());
    for (what, s) in &secrets {
        memory.set(&account("verify", what), s)?;
    }
    let conn = Arc::new(
        Connection::open(profile, ctx.http()?.clone(), memory)
            .await?
            .with_tables(a.tables.tables.clone())?
            .with_admin(admin),
    );
    let out = sign_in(ctx, conn.clone(), &a.consent, true).await;
    Ok(signed_outcome(out, &conn.instance).redact(&held(&conn)))
}
