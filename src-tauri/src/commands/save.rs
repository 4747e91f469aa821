//! Step 7: save (secrets and tokens to the keychain, or for this run only) and hand off.

use crate::dto::{CmdResult, Saved, SecretCopied};
use crate::state::AppState;
use snconnect_core::connection::{is_oauth, CLIENT_SECRET};
use snconnect_core::keychain::{account, SecretStore};
use snconnect_core::presets::{handoff_card, Target};
use snconnect_core::profiles::{AuthMethod, ProfileStore};
use snconnect_core::signin::save_connection as core_save;
use snconnect_core::Diagnosis;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tauri::{AppHandle, Manager, State};
use tauri_plugin_clipboard_manager::ClipboardExt;

/// How long a copied secret stays on the clipboard.
pub const CLIPBOARD_CLEAR: Duration = Duration::from_secs(30);

#[tauri::command]
pub async fn save_connection(
    state: State<'_, AppState>,
    name: String,
    session_only: bool,
) -> CmdResult<Saved> {
    let w = state.wizard.lock().await;
    let (conn, memory) = match (&w.conn, &w.memory) {
        (Some(c), Some(m)) => (c.clone(), m.clone()),
        _ => return Err(Diagnosis::usage("connection", "sign in and test before saving").into()),
    };
    let target = w.target.clone().unwrap_or(Target::Snconnect);
    drop(w);
    // The keychain, or (the user's explicit choice) memory for this run only.
    let secrets: Arc<dyn SecretStore> = if session_only {
        state.session.clone()
    } else {
        Arc::new(state.keychain.clone())
    };
    let store = ProfileStore::new(&state.config_dir);
    let profile = core_save(&conn, memory, &name, secrets.clone(), &store)
        .await
        .map_err(|d| crate::commands::signin::ui_field(d, &[("profile name", "name")]))?;
    tracing::info!(profile = %profile.name, stored = secrets.kind(), "connection saved");
    state.wizard.lock().await.saved = Some(profile.name.clone());
    let handoff = is_oauth(profile.auth).then(|| {
        handoff_card(
            &target,
            &conn.instance,
            profile.client_id.as_deref().unwrap_or_default(),
            profile.auth == AuthMethod::OauthCodePkce,
        )
    });
    Ok(Saved {
        name: profile.name,
        stored: secrets.kind().to_string(),
        profile_path: store.path().display().to_string(),
        handoff,
    })
}

/// Copies the saved connection's client secret to the clipboard from Rust (it never reaches
/// the window) and clears it after 30 s unless something else was copied meanwhile.
#[tauri::command]
pub async fn copy_handoff_secret(
    app: AppHandle,
    state: State<'_, AppState>,
) -> CmdResult<SecretCopied> {
    let memory = state.wizard.lock().await.memory.clone();
    let acct = account(crate::commands::signin::WIZARD_PROFILE, CLIENT_SECRET);
    let secret = memory
        .map(|m| m.get(&acct))
        .transpose()?
        .flatten()
        .ok_or_else(|| {
            Diagnosis::usage(
                "client_secret",
                "this connection has no client secret (a public client)",
            )
        })?;
    app.clipboard().write_secret(secret.expose()).map_err(|e| {
        Diagnosis::usage(
            "clipboard",
            format!("could not write to the clipboard: {e}"),
        )
    })?;
    let generation = state.clipboard_generation.fetch_add(1, Ordering::SeqCst) + 1;
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(CLIPBOARD_CLEAR).await;
        let state = app.state::<AppState>();
        let still_ours = app
            .clipboard()
            .read_text()
            .is_ok_and(|t| t == secret.expose());
        if state.clipboard_generation.load(Ordering::SeqCst) == generation && still_ours {
            let _ = app.clipboard().clear();
            tracing::info!("copied client secret cleared from the clipboard");
        }
    });
    Ok(SecretCopied {
        clear_after_s: CLIPBOARD_CLEAR.as_secs(),
    })
}
