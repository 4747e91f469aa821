//! `snconnect test NAME | --all`: the one-click test of saved connections.

use crate::cli::{AdminArgs, TableArgs, TestArgs};
use crate::ctx::{open, Ctx};
use crate::output::Outcome;
use crate::secrets::held;
use crate::views::token_json;
use serde_json::json;
use snconnect_core::connection::is_oauth;
use snconnect_core::profiles::LastTest;
use snconnect_core::Diagnosis;

pub async fn test(ctx: &Ctx, a: TestArgs) -> Result<Outcome, Diagnosis> {
    if let Some(name) = &a.name {
        return Ok(test_one(ctx, name, &a.admin, &a.tables).await);
    }
    let names: Vec<String> = ctx
        .profiles
        .load()?
        .profiles
        .into_iter()
        .map(|p| p.name)
        .collect();
    if names.is_empty() {
        return Err(Diagnosis::usage(
            "--all",
            "there are no saved profiles to test; add one with `snconnect profile add`",
        ));
    }
    let mut results = Vec::new();
    for n in &names {
        results.push(test_one(ctx, n, &a.admin, &a.tables).await);
    }
    Ok(Outcome::all(results))
}

async fn test_one(ctx: &Ctx, name: &str, admin: &AdminArgs, tables: &TableArgs) -> Outcome {
    let conn = match open(ctx, name, admin)
        .await
        .and_then(|c| c.with_tables(tables.tables.clone()))
    {
        Ok(c) => c,
        Err(d) => {
            let mut o = Outcome::failed(d);
            o.field("profile", json!(name));
            return o;
        }
    };
    let report = conn.test().await;
    // The dashboard's "last test" (the app shows what a terminal or cron job found), and the
    // token facts when this process changed them.
    let saved = ctx
        .profiles
        .record_test(name, LastTest::of(&report), conn.changed_meta().await);
    let mut o = Outcome::from_test(report);
    o.field("profile", json!(name));
    if is_oauth(conn.profile.auth) {
        o.field(
            "token",
            token_json(conn.token_meta().await, conn.profile.auth),
        );
    }
    if let Err(d) = saved {
        o.line(format!(
            "  (token facts not saved: {}: {})",
            d.code,
            d.detail.unwrap_or_default()
        ));
    }
    o.redact(&held(&conn))
}
