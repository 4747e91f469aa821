//! `snconnect test NAME | --all`: the one-click test of saved connections.

use crate::cli::{AdminArgs, TableArgs, TestArgs};
use crate::ctx::{open, open_profile, Ctx};
use crate::output::Outcome;
use crate::secrets::{admin_credentials, held};
use crate::views::token_json;
use serde_json::json;
use snconnect_core::conn_test::TestReport;
use snconnect_core::connection::{is_oauth, Connection};
use snconnect_core::profiles::LastTest;
use snconnect_core::{sweep, Diagnosis};

pub async fn test(ctx: &Ctx, a: TestArgs) -> Result<Outcome, Diagnosis> {
    if let Some(name) = &a.name {
        return Ok(test_one(ctx, name, &a.admin, &a.tables).await);
    }
    ctx.store.prewarm();
    let profiles = ctx.profiles.load()?.profiles;
    if profiles.is_empty() {
        return Err(Diagnosis::usage(
            "--all",
            "there are no saved profiles to test; add one with `snconnect profile add`",
        ));
    }
    let admin = admin_credentials(&a.admin)?;
    let tables = &a.tables.tables;
    let sweep = sweep::test_all(&ctx.profiles, profiles, sweep::POOL, |p| {
        let admin = admin.clone();
        async move {
            open_profile(ctx, p, admin)
                .await?
                .with_tables(tables.clone())
        }
    })
    .await;
    let not_saved = sweep.recorded.err();
    let mut results = Vec::new();
    for s in sweep.results {
        results.push(match s.outcome {
            Ok((conn, report)) => outcome(&conn, report, not_saved.clone()).await,
            Err(d) => failed(&s.name, d),
        });
    }
    Ok(Outcome::all(results))
}

async fn test_one(ctx: &Ctx, name: &str, admin: &AdminArgs, tables: &TableArgs) -> Outcome {
    let conn = match open(ctx, name, admin)
        .await
        .and_then(|c| c.with_tables(tables.tables.clone()))
    {
        Ok(c) => c,
        Err(d) => return failed(name, d),
    };
    let report = conn.test().await;
    // The dashboard's "last test" (the app shows what a terminal or cron job found), and the
    // token facts when this process changed them.
    let saved = ctx
        .profiles
        .record_test(name, LastTest::of(&report), conn.changed_meta().await);
    outcome(&conn, report, saved.err()).await
}

fn failed(name: &str, d: Diagnosis) -> Outcome {
    let mut o = Outcome::failed(d);
    o.field("profile", json!(name));
    o
}

/// One connection's result as printed: the test, its token facts, and whether they were saved.
async fn outcome(conn: &Connection, report: TestReport, not_saved: Option<Diagnosis>) -> Outcome {
    let mut o = Outcome::from_test(report);
    o.field("profile", json!(conn.profile.name));
    if is_oauth(conn.profile.auth) {
        o.field(
            "token",
            token_json(conn.token_meta().await, conn.profile.auth),
        );
    }
    if let Some(d) = not_saved {
        o.line(format!(
            "  (token facts not saved: {}: {})",
            d.code,
            d.detail.unwrap_or_default()
        ));
    }
    o.redact(&held(conn))
}
