//! Thin Tauri commands. Each one validates, calls the core, and returns a DTO (dto.rs).
//!
//! Invariant: nothing returned from here contains a token or a secret. Secrets come *in*
//! (set_instance, set_credentials) and are wrapped in `Secret` immediately; DTOs are plain
//! structs of strings and numbers, so a `Secret` cannot be put in one (it refuses to serialize).

pub mod edit;
pub mod files;
pub mod instance;
pub mod inventory;
pub mod register;
pub mod save;
pub mod saved;
pub mod signin;

use crate::dto::{AppInfo, CmdResult, MethodInfo, PresetInfo, PresetNeed};
use crate::state::AppState;
use snconnect_core::presets::{PresetInputs, Target, PRESETS};
use snconnect_core::profiles::{AuthMethod, ProfileStore};
use snconnect_core::signin::needs_consent;
use snconnect_core::Diagnosis;
use tauri::State;

fn presets() -> Vec<PresetInfo> {
    let sample = PresetInputs {
        boomi_account_id: Some("account".into()),
        region: Some("us".into()),
        redirect_urls: vec!["https://example.com/callback".into()],
    };
    PRESETS
        .iter()
        .filter_map(|&id| {
            let t = Target::from_preset(id, &sample).ok()?;
            let needs = match id {
                "qlik" | "custom" => PresetNeed::RedirectUrl,
                "boomi" => PresetNeed::BoomiAccount,
                "alchemer" => PresetNeed::Region,
                _ => PresetNeed::None,
            };
            Some(PresetInfo {
                id: id.to_string(),
                name: t.display_name().to_string(),
                needs,
                grant: t.grant().to_string(),
            })
        })
        .collect()
}

/// The six methods of the core, each with exactly the fields it needs.
pub fn methods() -> Vec<MethodInfo> {
    use AuthMethod::*;
    let m = |method, label: &str, fields: &[&str]| MethodInfo {
        method,
        label: label.into(),
        needs_consent: needs_consent(method),
        fields: fields.iter().map(|s| s.to_string()).collect(),
    };
    vec![
        m(
            OauthCode,
            "OAuth authorization code (confidential client)",
            &["client_id", "client_secret", "scope"],
        ),
        m(
            OauthCodePkce,
            "OAuth authorization code + PKCE (public client)",
            &["client_id", "scope"],
        ),
        m(
            OauthPassword,
            "OAuth password grant",
            &[
                "client_id",
                "client_secret",
                "username",
                "password",
                "scope",
            ],
        ),
        m(
            OauthClientCredentials,
            "OAuth client credentials",
            &["client_id", "client_secret", "scope"],
        ),
        m(
            Basic,
            "Basic auth (user name + password)",
            &["username", "password"],
        ),
        m(
            ApiKey,
            "API key",
            &["api_key", "api_key_param", "api_key_in"],
        ),
    ]
}

pub(crate) async fn app_info_of(state: &AppState) -> AppInfo {
    let demo = state.demo.lock().await.as_ref().map(|d| d.info.clone());
    let saved = ProfileStore::new(&state.config_dir)
        .load()
        .map(|f| f.profiles.len())
        .unwrap_or(0);
    AppInfo {
        version: env!("CARGO_PKG_VERSION").into(),
        demo,
        demo_available: crate::demo::available(),
        redirect_url: snconnect_core::loopback::redirect_url(state.redirect_port),
        saved_connections: saved,
        presets: presets(),
        methods: methods(),
    }
}

#[tauri::command]
pub async fn app_info(state: State<'_, AppState>) -> CmdResult<AppInfo> {
    Ok(app_info_of(&state).await)
}

/// The window's first screen is up and can be used (the UI sends this once, after its first
/// paint): logged with the time since the process started, which `scripts/bench.sh` measures.
#[tauri::command]
pub fn ui_ready() {
    tracing::info!(
        "window interactive {} ms after start",
        crate::STARTED.get().map_or(0, |t| t.elapsed().as_millis())
    );
}

/// Starts the demo simulator (once) and points the wizard at it, admin account included.
#[tauri::command]
pub async fn start_demo(state: State<'_, AppState>) -> CmdResult<AppInfo> {
    start_demo_in(&state).await?;
    Ok(app_info_of(&state).await)
}

pub(crate) async fn start_demo_in(state: &AppState) -> Result<(), Diagnosis> {
    let mut demo = state.demo.lock().await;
    if demo.is_none() {
        *demo = Some(crate::demo::start(state.redirect_port).await?);
    }
    let d = demo.as_ref().expect("started above");
    let mut w = state.wizard.lock().await;
    w.drop_sign_in();
    w.instance = Some(d.instance.clone());
    w.admin = Some(d.admin.clone());
    Ok(())
}

/// Forgets everything the wizard holds (Start over, verify mode's Clear). The demo instance
/// keeps running and stays the default instance.
#[tauri::command]
pub async fn reset_wizard(state: State<'_, AppState>) -> CmdResult<()> {
    let demo = state.demo.lock().await;
    let mut w = state.wizard.lock().await;
    w.drop_sign_in();
    *w = crate::state::Wizard::default();
    if let Some(d) = demo.as_ref() {
        w.instance = Some(d.instance.clone());
        w.admin = Some(d.admin.clone());
    }
    Ok(())
}
