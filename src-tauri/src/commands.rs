//! Thin Tauri commands. Each one validates, calls the core, and returns a DTO.
//!
//! Invariant: nothing returned from here contains a token or a secret. Secrets come *in* once
//! (`set_client`) and are wrapped in `Secret` immediately; DTOs are plain structs of strings
//! and numbers, so a `Secret` cannot be put in one (it refuses to serialize).

use crate::state::AppState;
use serde::Serialize;
use snconnect_core::browser::SystemBrowser;
use snconnect_core::conn_test::{test_connection, ApiAuth, Check};
use snconnect_core::connection::{Connection, CLIENT_SECRET};
use snconnect_core::keychain::{account, SecretStore};
use snconnect_core::profiles::{validate_name, AuthMethod, Profile, ProfileStore};
use snconnect_core::verify::{begin_consent as core_begin, ConsentOptions};
use snconnect_core::{guide, Code, Diagnosis, InstanceUrl, Secret};
use std::sync::Arc;
use std::time::Duration;
use tauri::State;

const CONSENT_TIMEOUT: Duration = Duration::from_secs(300);

/// The error every command rejects with; the UI branches on `code`.
#[derive(Debug, Serialize)]
pub struct IpcError {
    code: Code,
    message: String,
    remediation: Option<String>,
    detail: Option<String>,
}

impl From<Diagnosis> for IpcError {
    fn from(d: Diagnosis) -> Self {
        IpcError {
            code: d.code,
            message: d.message,
            remediation: d.remediation,
            detail: d.detail,
        }
    }
}

type CmdResult<T> = Result<T, IpcError>;

#[derive(Serialize)]
pub struct AppStateDto {
    demo: bool,
    instance: Option<String>,
    redirect_url: String,
    client_id: Option<String>,
    public_client: bool,
    demo_note: Option<String>,
}

#[tauri::command]
pub async fn app_state(state: State<'_, AppState>) -> CmdResult<AppStateDto> {
    let w = state.wizard.lock().await;
    let instance = w.instance.as_ref().map(|i| i.to_string());
    Ok(AppStateDto {
        demo: state.demo.is_some(),
        demo_note: state.demo.as_ref().map(|_| {
            format!(
                "Demo mode: a simulated ServiceNow instance runs inside this app at {}. Sign in on its login page with the demo account it shows. Start snconnect with --instance to use a real instance.",
                instance.as_deref().unwrap_or("?")
            )
        }),
        instance,
        redirect_url: snconnect_core::loopback::redirect_url(state.redirect_port),
        client_id: w.client_id.clone(),
        public_client: w.public_client,
    })
}

#[derive(Serialize)]
pub struct InstanceDto {
    instance: String,
    host: String,
}

#[tauri::command]
pub async fn set_instance(state: State<'_, AppState>, instance: String) -> CmdResult<InstanceDto> {
    let parsed = InstanceUrl::parse(&instance)?;
    let mut w = state.wizard.lock().await;
    if w.instance.as_ref() != Some(&parsed) {
        // A different instance: earlier tokens and sign-ins do not apply to it.
        w.pending = None;
        w.cancel = None;
        w.tokens = None;
        w.identity = None;
    }
    w.instance = Some(parsed.clone());
    Ok(InstanceDto {
        instance: parsed.to_string(),
        host: parsed.host_label(),
    })
}

#[derive(Serialize)]
pub struct RegistrationDto {
    redirect_url: String,
    steps: Vec<String>,
    links: Vec<guide::Link>,
}

#[tauri::command]
pub async fn registration_info(state: State<'_, AppState>) -> CmdResult<RegistrationDto> {
    let w = state.wizard.lock().await;
    let instance = w
        .instance
        .clone()
        .ok_or_else(|| Diagnosis::usage("instance", "enter the instance first"))?;
    let redirect_url = snconnect_core::loopback::redirect_url(state.redirect_port);
    Ok(RegistrationDto {
        steps: guide::registration_steps(&redirect_url),
        links: guide::deep_links(&instance),
        redirect_url,
    })
}

#[derive(Serialize)]
pub struct ClientDto {
    client_id: String,
    public_client: bool,
    has_secret: bool,
}

#[tauri::command]
pub async fn set_client(
    state: State<'_, AppState>,
    client_id: String,
    client_secret: Option<String>,
    public_client: bool,
) -> CmdResult<ClientDto> {
    let client_secret = client_secret.filter(|s| !s.is_empty()).map(Secret::new);
    let client_id = client_id.trim().to_string();
    if client_id.is_empty() {
        return Err(Diagnosis::usage("client ID", "copy it from the OAuth registry record").into());
    }
    if !public_client && client_secret.is_none() {
        return Err(Diagnosis::usage(
            "client secret",
            "a confidential client needs its secret; or tick \"public client\" to use PKCE",
        )
        .into());
    }
    let mut w = state.wizard.lock().await;
    w.client_id = Some(client_id.clone());
    w.client_secret = if public_client { None } else { client_secret };
    w.public_client = public_client;
    Ok(ClientDto {
        client_id,
        public_client,
        has_secret: w.client_secret.is_some(),
    })
}

#[derive(Serialize)]
pub struct ConsentDto {
    authorize_url: String,
    browser_opened: bool,
    browser_error: Option<String>,
}

#[tauri::command]
pub async fn begin_consent(state: State<'_, AppState>) -> CmdResult<ConsentDto> {
    let mut w = state.wizard.lock().await;
    // A new sign-in replaces any earlier one (dropping it frees the port).
    w.pending = None;
    w.cancel = None;
    let (_, reg) = w.registration()?;
    let opts = ConsentOptions {
        ports: vec![state.redirect_port],
        pkce: w.public_client,
        timeout: CONSENT_TIMEOUT,
    };
    let mut pending = core_begin(&reg, &opts, Arc::new(SystemBrowser)).await?;
    let dto = ConsentDto {
        authorize_url: pending.authorize_url.to_string(),
        browser_opened: pending.browser.is_ok(),
        browser_error: pending
            .browser
            .as_ref()
            .err()
            .map(|d| d.detail.clone().unwrap_or_else(|| d.message.clone())),
    };
    w.cancel = pending.cancel_switch();
    w.pending = Some(pending);
    Ok(dto)
}

#[derive(Serialize)]
pub struct ConnectionDto {
    instance: String,
    user_name: String,
    user_display_name: String,
    user_sys_id: String,
    latency_ms: u64,
    checks: Vec<Check>,
}

#[tauri::command]
pub async fn finish_consent(state: State<'_, AppState>) -> CmdResult<ConnectionDto> {
    let (pending, instance, reg) = {
        let mut w = state.wizard.lock().await;
        let pending = w
            .pending
            .take()
            .ok_or_else(|| Diagnosis::usage("consent", "start the sign-in first"))?;
        let (instance, reg) = w.registration()?;
        (pending, instance, reg)
    };
    let (tokens, mut checks) = pending
        .finish(&state.http, &reg)
        .await
        .map_err(|(d, _)| d)?;
    let report = test_connection(
        &state.http,
        &instance,
        &ApiAuth::Bearer(tokens.access_token.clone()),
    )
    .await;
    checks.extend(report.checks.iter().cloned());
    let mut w = state.wizard.lock().await;
    w.cancel = None;
    if !report.ok() {
        return Err(report.diagnosis.into());
    }
    let identity = report
        .identity
        .clone()
        .ok_or_else(|| Diagnosis::new(Code::UnexpectedResponse))?;
    w.tokens = Some(tokens);
    w.identity = Some(identity.clone());
    Ok(ConnectionDto {
        instance: instance.to_string(),
        user_name: identity.user_name,
        user_display_name: identity.user_display_name,
        user_sys_id: identity.user_sys_id,
        latency_ms: report.latency_ms.unwrap_or(0),
        checks,
    })
}

#[tauri::command]
pub async fn cancel_consent(state: State<'_, AppState>) -> CmdResult<()> {
    let mut w = state.wizard.lock().await;
    if let Some(c) = w.cancel.take() {
        c.cancel();
    }
    Ok(())
}

#[derive(Serialize)]
pub struct SavedDto {
    name: String,
    stored: &'static str,
    profile_path: String,
}

#[tauri::command]
pub async fn save_connection(
    state: State<'_, AppState>,
    name: String,
    session_only: bool,
) -> CmdResult<SavedDto> {
    let name = name.trim().to_string();
    validate_name(&name)?;
    let w = state.wizard.lock().await;
    let (instance, reg) = w.registration()?;
    let tokens = w
        .tokens
        .clone()
        .ok_or_else(|| Diagnosis::usage("connection", "sign in and test before saving"))?;
    let public_client = w.public_client;
    drop(w);
    // The keychain, or (the user's explicit choice) memory for this run only.
    let secrets: Arc<dyn SecretStore> = if session_only {
        state.session.clone()
    } else {
        Arc::new(state.keychain.clone())
    };
    let stored = secrets.kind();
    if let Some(cs) = reg.client_secret.clone() {
        let (s, acct) = (secrets.clone(), account(&name, CLIENT_SECRET));
        snconnect_core::keychain::blocking(move || s.set(&acct, &cs)).await?;
    }
    let mut profile = Profile {
        name: name.clone(),
        instance: instance.to_string(),
        auth: if public_client {
            AuthMethod::OauthCodePkce
        } else {
            AuthMethod::OauthCode
        },
        client_id: Some(reg.client_id),
        redirect_port: Some(state.redirect_port),
        ..Profile::default()
    };
    // The tokens go in through the core's lifecycle (keychain entries and the token facts
    // the CLI's `token status` reads), exactly as `snconnect login` stores them.
    let conn = Connection::open(profile.clone(), state.http.clone(), secrets).await?;
    profile.tokens = Some(conn.store_grant(tokens).await?);
    let store = ProfileStore::new(&state.config_dir);
    store.upsert(profile)?;
    tracing::info!(profile = %name, stored, "connection saved");
    Ok(SavedDto {
        name,
        stored,
        profile_path: store.path().display().to_string(),
    })
}
