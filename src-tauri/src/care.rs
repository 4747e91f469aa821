//! Background token care: while the app runs, the tokens of saved connections are renewed
//! before they expire, through the same cross-process locked path as the CLI (so the app, a
//! terminal and a cron job never spend one refresh token twice), and a desktop notification
//! says when a renewal fails (and the badge turns Failing) or a code grant's refresh token has
//! under 14 days left (a person must consent again).

use crate::state::AppState;
use snconnect_core::connection::{is_oauth, Connection};
use snconnect_core::keychain::SecretStore;
use snconnect_core::profiles::{AuthMethod, LastTest, Profile, ProfileStore};
use snconnect_core::token::now_secs;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tauri::{AppHandle, Manager};
use tauri_plugin_notification::NotificationExt;

/// Renew when the access token has less than this left.
pub const AHEAD: Duration = Duration::from_secs(5 * 60);
/// Warn when the refresh token has less than this left (a person must consent again then).
pub const WARN_REFRESH: Duration = Duration::from_secs(14 * 24 * 3600);

/// How often to look (`SNCONNECT_CARE_INTERVAL_S`, default 60 s).
fn interval() -> Duration {
    std::env::var("SNCONNECT_CARE_INTERVAL_S")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map(|s| Duration::from_secs(s.max(1)))
        .unwrap_or(Duration::from_secs(60))
}

/// Starts the care loop on the app's runtime.
pub fn start(app: AppHandle) {
    tauri::async_runtime::spawn(async move {
        // What was already said, so a notification is shown once per cause.
        let mut told: HashSet<String> = HashSet::new();
        loop {
            tokio::time::sleep(interval()).await;
            let state = app.state::<AppState>();
            for note in care_once(&state, &mut told).await {
                notify(&app, &note.0, &note.1);
            }
        }
    });
}

fn notify(app: &AppHandle, title: &str, body: &str) {
    tracing::info!(title, body, "notification");
    if let Err(e) = app.notification().builder().title(title).body(body).show() {
        // No notification service (a headless session): the log line above stays.
        tracing::debug!(error = %e, "notification not shown");
    }
}

/// One pass over the saved connections; returns the notifications to show.
pub async fn care_once(state: &AppState, told: &mut HashSet<String>) -> Vec<(String, String)> {
    let store = ProfileStore::new(&state.config_dir);
    let Ok(file) = store.load() else {
        return Vec::new();
    };
    let now = now_secs();
    let mut notes = Vec::new();
    for p in file.profiles.iter().filter(|p| is_oauth(p.auth)) {
        let Some(t) = p
            .tokens
            .filter(|t| t.has_access_token || t.has_refresh_token)
        else {
            continue;
        };
        // Only a code grant needs a person when the refresh token ends; the password and
        // client-credentials grants get a new one by themselves.
        let renewable = matches!(
            p.auth,
            AuthMethod::OauthPassword | AuthMethod::OauthClientCredentials
        );
        if let Some(left) = t.refresh_expires_at.map(|at| at.saturating_sub(now)) {
            let key = format!("{}:refresh-soon", p.name);
            if !renewable && left < WARN_REFRESH.as_secs() && told.insert(key) {
                notes.push((
                    format!("{}: sign in again within {} days", p.name, left / 86_400),
                    "Its refresh token is about to expire; open the connection and Reconnect."
                        .into(),
                ));
            }
        }
        let due = t
            .access_expires_at
            .is_some_and(|at| at <= now + AHEAD.as_secs());
        if !due {
            continue;
        }
        match renew(state, &store, p).await {
            Ok(()) => {
                told.retain(|k| !k.starts_with(&format!("{}:failed", p.name)));
            }
            Err(d) => {
                tracing::warn!(profile = %p.name, code = %d.code, "background renewal failed");
                // The failed use is the connection's latest result: its badge says Failing.
                let failed = LastTest {
                    at: now,
                    ok: false,
                    code: d.code.as_str().to_string(),
                    latency_ms: None,
                    user: None,
                };
                if let Err(e) = store.record_test(&p.name, failed, None) {
                    tracing::warn!(profile = %p.name, code = %e.code, "could not record the failed renewal");
                }
                if told.insert(format!("{}:failed:{}", p.name, d.code)) {
                    notes.push((
                        format!("{}: renewal failed ({})", p.name, d.code),
                        d.remediation.unwrap_or(d.message),
                    ));
                }
            }
        }
    }
    notes
}

/// Renews one connection ahead of expiry through the shared, locked path; the token facts
/// are recorded under the lock by the token manager itself.
async fn renew(
    state: &AppState,
    store: &ProfileStore,
    p: &Profile,
) -> Result<(), snconnect_core::Diagnosis> {
    let keychain: Arc<dyn SecretStore> = Arc::new(state.keychain.clone());
    let conn = Connection::open(p.clone(), state.http.clone(), keychain)
        .await?
        .shared_with(store.clone());
    let tokens = conn.tokens().expect("an OAuth profile");
    tokens.ensure_valid_for(AHEAD).await?;
    tracing::info!(profile = %p.name, "renewed in the background");
    Ok(())
}
