//! The saved-connections dashboard: list with status badges, one-click test, test all (the
//! core's sweep), refresh / revoke / reset / delete, and the support report. Every connection
//! opens on the keychain and shares its tokens with other processes (the CLI, a cron job)
//! through the same cross-process locks the CLI uses.

use crate::dto::{Badge, CmdResult, ConnectionSummary, ConnectionTest, IpcError, ReportFormat};
use crate::state::AppState;
use snconnect_core::conn_test::{Check, TestReport};
use snconnect_core::connection::{is_oauth, Connection};
use snconnect_core::keychain::SecretStore;
use snconnect_core::profiles::{AuthMethod, LastTest, Profile, ProfileStore};
use snconnect_core::report::SupportReport;
use snconnect_core::token::{now_secs, status_of, TokenStatus, DEFAULT_REFRESH_LIFESPAN};
use snconnect_core::{sweep, Diagnosis};
use std::sync::Arc;
use tauri::ipc::Channel;
use tauri::State;

const DAY: u64 = 24 * 3600;

fn profiles(state: &AppState) -> ProfileStore {
    ProfileStore::new(&state.config_dir)
}

fn renewable(p: &Profile) -> bool {
    matches!(
        p.auth,
        AuthMethod::OauthPassword | AuthMethod::OauthClientCredentials
    )
}

/// The badge a person sees: token facts first, then the latest test.
fn badge(p: &Profile, status: Option<TokenStatus>) -> Badge {
    match status {
        Some(TokenStatus::NeedsReauth) => return Badge::NeedsReauth,
        Some(TokenStatus::Expired) => return Badge::Expired,
        _ => {}
    }
    match (&p.last_test, status) {
        (Some(t), _) if !t.ok => Badge::Failing,
        (_, Some(TokenStatus::ExpiresSoon)) => Badge::ExpiresSoon,
        (None, _) => Badge::NotTested,
        _ => Badge::Connected,
    }
}

pub fn summary_of(p: &Profile) -> ConnectionSummary {
    let now = now_secs();
    let status = is_oauth(p.auth).then(|| status_of(p.tokens.as_ref(), now, renewable(p)));
    let refresh = p.tokens.filter(|t| t.has_refresh_token);
    ConnectionSummary {
        badge: badge(p, status),
        name: p.name.clone(),
        instance: p.instance.clone(),
        method: p.auth,
        user: p.username.clone(),
        client_id: p.client_id.clone(),
        token_status: status,
        last_test: p.last_test.clone(),
        refresh_days_left: refresh
            .and_then(|t| t.refresh_expires_at)
            .map(|at| at.saturating_sub(now) / DAY),
        refresh_lifespan_days: refresh
            .map(|_| p.refresh_token_lifespan.unwrap_or(DEFAULT_REFRESH_LIFESPAN) / DAY),
    }
}

#[tauri::command]
pub async fn list_connections(state: State<'_, AppState>) -> CmdResult<Vec<ConnectionSummary>> {
    Ok(profiles(&state)
        .load()?
        .profiles
        .iter()
        .map(summary_of)
        .collect())
}

/// A saved connection on the keychain, its tokens shared with other processes.
async fn open(state: &AppState, name: &str) -> Result<Connection, Diagnosis> {
    open_profile(state, profiles(state).get(name)?).await
}

async fn open_profile(state: &AppState, profile: Profile) -> Result<Connection, Diagnosis> {
    let keychain: Arc<dyn SecretStore> = Arc::new(state.keychain.clone());
    Ok(Connection::open(profile, state.http.clone(), keychain)
        .await?
        .shared_with(profiles(state)))
}

async fn test_one(
    state: &AppState,
    name: &str,
    on_check: &(dyn Fn(&Check) + Send + Sync),
) -> Result<ConnectionTest, Diagnosis> {
    let conn = open(state, name).await?;
    let report = conn.test().await;
    for c in &report.checks {
        on_check(c);
    }
    let store = profiles(state);
    store.record_test(name, LastTest::of(&report), conn.changed_meta().await)?;
    Ok(connection_test(&conn, &report, summary_of(&store.get(name)?)).await)
}

/// A test's result for the window: redacted, with the support text and the new summary.
async fn connection_test(
    conn: &Connection,
    report: &TestReport,
    summary: ConnectionSummary,
) -> ConnectionTest {
    let support = SupportReport::new(
        Some(&conn.profile),
        report,
        conn.token_status().await,
        conn.token_meta().await,
    )
    .redact(&conn.secrets());
    ConnectionTest {
        name: conn.profile.name.clone(),
        ok: report.ok(),
        diagnosis: IpcError::from(report.diagnosis.clone().redact(&conn.secrets())),
        checks: report.checks.clone(),
        identity: report.identity.clone(),
        latency_ms: report.latency_ms,
        support_text: support.to_markdown(),
        summary,
    }
}

/// The one-click test, the result recorded. The checks go to the window on the channel when
/// the core's test returns them (together, not one by one yet).
#[tauri::command]
pub async fn test_saved(
    state: State<'_, AppState>,
    name: String,
    on_check: Channel<Check>,
) -> CmdResult<ConnectionTest> {
    let send = move |c: &Check| {
        let _ = on_check.send(c.clone());
    };
    Ok(test_one(&state, &name, &send).await?)
}

/// Tests every saved connection through the core's sweep (the CLI's `test --all` too): a
/// bounded pool, one HTTP client, all results recorded in one write. A connection that cannot
/// even be opened (its secret missing from the keychain) is a failed result, not a failed
/// command.
#[tauri::command]
pub async fn test_all_saved(state: State<'_, AppState>) -> CmdResult<Vec<ConnectionTest>> {
    let store = profiles(&state);
    let list = store.load()?.profiles;
    let state: &AppState = &state;
    let sweep = sweep::test_all(&store, list, sweep::POOL, |p| open_profile(state, p)).await;
    let recorded = sweep.recorded.ok();
    let mut out = Vec::new();
    for s in sweep.results {
        out.push(match s.outcome {
            Ok((conn, report)) => {
                let now = recorded
                    .as_ref()
                    .and_then(|f| f.profiles.iter().find(|p| p.name == s.name));
                let summary = summary_of(now.unwrap_or(&conn.profile));
                connection_test(&conn, &report, summary).await
            }
            Err(d) => failed(state, &s.name, d),
        });
    }
    Ok(out)
}

fn failed(state: &AppState, name: &str, d: Diagnosis) -> ConnectionTest {
    let summary = profiles(state)
        .get(name)
        .map(|p| summary_of(&p))
        .unwrap_or_else(|_| {
            summary_of(&Profile {
                name: name.to_string(),
                ..Profile::default()
            })
        });
    ConnectionTest {
        name: name.to_string(),
        ok: false,
        support_text: format!(
            "{}: {} {}",
            d.code,
            d.message,
            d.detail.clone().unwrap_or_default()
        ),
        diagnosis: IpcError::from(d),
        checks: Vec::new(),
        identity: None,
        latency_ms: None,
        summary,
    }
}

/// What a lifecycle button does.
#[derive(Debug, Clone, Copy)]
enum Lifecycle {
    Refresh,
    /// Server-side revocation, then local.
    Revoke,
    /// Local only.
    Reset,
}

/// Runs `what`, records the token facts, then returns the new summary.
async fn lifecycle(
    state: &AppState,
    name: &str,
    what: Lifecycle,
) -> Result<ConnectionSummary, Diagnosis> {
    let conn = open(state, name).await?;
    let result = match what {
        Lifecycle::Refresh => conn.refresh().await.map(|_| ()),
        Lifecycle::Revoke => conn.revoke().await,
        Lifecycle::Reset => conn.reset().await,
    };
    let store = profiles(state);
    if let Some(meta) = conn.changed_meta().await {
        store.set_tokens(name, meta)?;
    }
    result?;
    tracing::info!(profile = %name, ?what, "token lifecycle");
    Ok(summary_of(&store.get(name)?))
}

#[tauri::command]
pub async fn refresh_saved(
    state: State<'_, AppState>,
    name: String,
) -> CmdResult<ConnectionSummary> {
    Ok(lifecycle(&state, &name, Lifecycle::Refresh).await?)
}

#[tauri::command]
pub async fn revoke_saved(
    state: State<'_, AppState>,
    name: String,
) -> CmdResult<ConnectionSummary> {
    Ok(lifecycle(&state, &name, Lifecycle::Revoke).await?)
}

#[tauri::command]
pub async fn reset_saved(state: State<'_, AppState>, name: String) -> CmdResult<ConnectionSummary> {
    Ok(lifecycle(&state, &name, Lifecycle::Reset).await?)
}

/// Removes the connection and its keychain entries (no server-side revocation).
#[tauri::command]
pub async fn delete_saved(state: State<'_, AppState>, name: String) -> CmdResult<()> {
    let keychain: Arc<dyn SecretStore> = Arc::new(state.keychain.clone());
    snconnect_core::signin::remove_profile(&profiles(&state), keychain, &name).await?;
    tracing::info!(profile = %name, "connection deleted");
    Ok(())
}

/// The redacted support report of a fresh test, as text in `format`.
pub async fn report_text(
    state: &AppState,
    name: &str,
    format: ReportFormat,
) -> Result<String, Diagnosis> {
    let conn = open(state, name).await?;
    let report = conn.test().await;
    let support = SupportReport::new(
        Some(&conn.profile),
        &report,
        conn.token_status().await,
        conn.token_meta().await,
    )
    .redact(&conn.secrets());
    Ok(match format {
        ReportFormat::Json => serde_json::to_string_pretty(&support.to_json()).expect("plain data"),
        ReportFormat::Markdown => support.to_markdown(),
    })
}

/// "Copy support report": the same text, for the clipboard.
#[tauri::command]
pub async fn saved_report(
    state: State<'_, AppState>,
    name: String,
    format: ReportFormat,
) -> CmdResult<String> {
    Ok(report_text(&state, &name, format).await?)
}
