//! The matrix's rows and the table they print: fault → command → code → state after.

use crate::harness::Check;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    /// A real bug whose fix is outside this suite's files: written down, not hidden.
    Known(String),
    Fail(String),
    /// The fault could not be injected on this machine (the reason is printed).
    Skipped(String),
}

#[derive(Debug, Clone)]
pub struct Row {
    pub group: &'static str,
    pub fault: String,
    pub command: String,
    pub expected: String,
    pub got: String,
    pub after: String,
    pub verdict: Verdict,
    pub ms: u128,
    /// Counts as one injected fault (the leak scans do not).
    pub is_fault: bool,
}

/// One row: runs `body` (a panic in it is a failed row, not a lost table) and judges it.
/// `known`: the row documents a bug outside this suite's files; its failure is expected.
pub fn row(
    group: &'static str,
    fault: impl Into<String>,
    command: impl Into<String>,
    expected: impl Into<String>,
    known: Option<&str>,
    body: impl FnOnce(&mut Check),
) -> Row {
    let started = Instant::now();
    let mut check = Check::default();
    if let Err(p) = catch_unwind(AssertUnwindSafe(|| body(&mut check))) {
        check.problem(format!("the harness panicked: {}", panic_text(&p)));
    }
    let verdict = match (&check.skipped, check.problems.is_empty(), known) {
        (Some(why), true, _) => Verdict::Skipped(why.clone()),
        (_, true, _) => Verdict::Pass,
        (_, false, Some(bug)) => Verdict::Known(format!("{bug} — {}", check.problems.join("; "))),
        (_, false, None) => Verdict::Fail(check.problems.join("; ")),
    };
    Row {
        group,
        fault: fault.into(),
        command: command.into(),
        expected: expected.into(),
        got: check.got,
        after: check.after,
        verdict,
        ms: started.elapsed().as_millis(),
        is_fault: true,
    }
}

/// A group whose setup failed: one failed row that says why.
pub fn setup_failed(group: &'static str, p: &(dyn std::any::Any + Send)) -> Row {
    Row {
        group,
        fault: "(group setup)".into(),
        command: String::new(),
        expected: String::new(),
        got: String::new(),
        after: String::new(),
        verdict: Verdict::Fail(format!("setup panicked: {}", panic_text(p))),
        ms: 0,
        is_fault: false,
    }
}

pub fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "(no message)".into())
}

fn cell(s: &str) -> String {
    let s = s.replace('|', "\\|").replace(['\n', '\r'], " ");
    if s.is_empty() {
        "—".into()
    } else {
        s
    }
}

fn result_cell(v: &Verdict) -> String {
    match v {
        Verdict::Pass => "pass".into(),
        Verdict::Known(why) => format!("KNOWN BUG: {why}"),
        Verdict::Fail(why) => format!("FAIL: {why}"),
        Verdict::Skipped(why) => format!("skipped: {why}"),
    }
}

/// The Markdown table, with a summary line.
pub fn render(rows: &[Row], elapsed: Duration) -> String {
    let mut out = String::new();
    out.push_str("## Fault matrix (crates/snconnect/tests/fault_matrix.rs)\n\n");
    out.push_str("| # | group | fault | command | expected | got | state after | result |\n");
    out.push_str("|---|---|---|---|---|---|---|---|\n");
    for (i, r) in rows.iter().enumerate() {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            i + 1,
            cell(r.group),
            cell(&r.fault),
            cell(&r.command),
            cell(&r.expected),
            cell(&r.got),
            cell(&r.after),
            cell(&format!("{} ({} ms)", result_cell(&r.verdict), r.ms)),
        ));
    }
    let count = |f: fn(&Verdict) -> bool| rows.iter().filter(|r| f(&r.verdict)).count();
    out.push_str(&format!(
        "\n{} faults injected ({} rows): {} pass, {} known bugs, {} failed, {} skipped; {:.1} s\n",
        rows.iter().filter(|r| r.is_fault).count(),
        rows.len(),
        count(|v| *v == Verdict::Pass),
        count(|v| matches!(v, Verdict::Known(_))),
        count(|v| matches!(v, Verdict::Fail(_))),
        count(|v| matches!(v, Verdict::Skipped(_))),
        elapsed.as_secs_f64(),
    ));
    out
}

/// Where the table goes: `$FAULT_MATRIX_OUT`, else `target/fault-matrix.md` under the
/// workspace root.
pub fn out_path() -> PathBuf {
    match std::env::var_os("FAULT_MATRIX_OUT").filter(|v| !v.is_empty()) {
        Some(p) => PathBuf::from(p),
        None => crate::support::repo_root().join("target/fault-matrix.md"),
    }
}

pub fn write(text: &str) -> std::io::Result<PathBuf> {
    let path = out_path();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&path, text)?;
    Ok(path)
}
