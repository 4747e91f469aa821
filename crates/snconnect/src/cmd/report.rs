//! `snconnect report NAME`: a fresh test of a saved connection as a support report
//! (Markdown; JSON with --json), on stdout or in a file.

use crate::cli::ReportArgs;
use crate::ctx::{open, save_meta, write_file, Ctx};
use crate::output::Outcome;
use crate::secrets::held;
use serde_json::json;
use snconnect_core::report::SupportReport;
use snconnect_core::Diagnosis;

pub async fn report(ctx: &Ctx, a: ReportArgs) -> Result<Outcome, Diagnosis> {
    let conn = open(ctx, &a.name, &a.admin).await?;
    let test = conn.test().await;
    save_meta(ctx, &conn).await?;
    let meta = conn.token_meta().await;
    let status = conn.token_status().await;
    // Every secret the connection holds is redacted, in the report and in the diagnosis
    // printed with it.
    let secrets = held(&conn);
    let report = SupportReport::new(Some(&conn.profile), &test, status, meta).redact(&secrets);
    let markdown = report.to_markdown();
    let mut o = Outcome::from_test(test).redact(&secrets);
    match &a.out {
        Some(path) => {
            let bytes = if ctx.json {
                serde_json::to_vec_pretty(&report.to_json()).expect("plain data")
            } else {
                markdown.into_bytes()
            };
            write_file(path, &bytes)?;
            o.line(format!("report written to {}", path.display()));
            o.field("file", json!(path.display().to_string()));
        }
        None => o.raw = Some(markdown),
    }
    o.field("report", report.to_json());
    Ok(o)
}
