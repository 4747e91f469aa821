//! Step 3: the OAuth endpoint. "Create it for me" with the admin account (and "Remove it
//! again"), or the guided steps with a read-back of the registered redirect URLs.

use super::instance::{admin_auth, redirect_urls_for};
use crate::dto::{CmdResult, CreatedEndpoint, IpcError, RedirectCheck, RegistrationGuide};
use crate::state::{AppState, Creds};
use snconnect_core::presets::Target;
use snconnect_core::profiles::AuthMethod;
use snconnect_core::register::{self, Created, NewEndpoint};
use snconnect_core::{guide, Code, Diagnosis};
use tauri::State;

#[tauri::command]
pub async fn registration_guide(state: State<'_, AppState>) -> CmdResult<RegistrationGuide> {
    let w = state.wizard.lock().await;
    let instance = w.instance()?;
    let target = w.target.clone().unwrap_or(Target::Snconnect);
    let urls = redirect_urls_for(&target, state.redirect_port);
    Ok(RegistrationGuide {
        steps: guide::registration_steps(&urls.join(", ")),
        links: guide::deep_links(&instance),
        redirect_urls: urls,
        can_create: w.admin.is_some(),
    })
}

/// Creates one `oauth_entity` for the target's callbacks and snconnect's loopback URL. Its
/// generated secret stays in Rust; the credentials step is filled with the new client.
#[tauri::command]
pub async fn create_endpoint(
    state: State<'_, AppState>,
    name: String,
    public_client: bool,
) -> CmdResult<CreatedEndpoint> {
    let (instance, admin, target) = {
        let w = state.wizard.lock().await;
        (
            w.instance()?,
            w.admin()?,
            w.target.clone().unwrap_or(Target::Snconnect),
        )
    };
    if name.trim().is_empty() {
        return Err(Diagnosis::usage(
            "endpoint_name",
            "give the endpoint a name (for example \"snconnect\")",
        )
        .into());
    }
    let urls = redirect_urls_for(&target, state.redirect_port);
    let (created, secret) = register::create(
        &state.http,
        &instance,
        &admin_auth(&admin),
        &NewEndpoint::new(name.trim(), urls, public_client),
    )
    .await?;
    tracing::info!(client_id = %created.client_id, "OAuth endpoint created");
    let creds = Creds {
        method: if public_client {
            AuthMethod::OauthCodePkce
        } else {
            AuthMethod::OauthCode
        },
        username: None,
        client_id: Some(created.client_id.clone()),
        api_key_param: None,
        api_key_in: None,
        scope: None,
        password: None,
        client_secret: secret,
        api_key: None,
        from_registration: true,
    };
    let mut w = state.wizard.lock().await;
    w.drop_sign_in();
    let dto = super::signin::creds_state(&creds);
    w.creds = Some(creds);
    w.created = Some(created.clone());
    Ok(CreatedEndpoint {
        created,
        credentials: dto,
    })
}

/// Removes the endpoint this window created, and forgets the credentials that used it.
#[tauri::command]
pub async fn remove_endpoint(state: State<'_, AppState>) -> CmdResult<Created> {
    let (instance, admin, created) = {
        let w = state.wizard.lock().await;
        let created = w.created.clone().ok_or_else(|| {
            Diagnosis::usage(
                "endpoint",
                "this window has not created an endpoint to remove",
            )
        })?;
        (w.instance()?, w.admin()?, created)
    };
    register::remove(&state.http, &instance, &admin_auth(&admin), &created.sys_id).await?;
    tracing::info!(sys_id = %created.sys_id, "OAuth endpoint removed");
    let mut w = state.wizard.lock().await;
    w.created = None;
    if w.creds.as_ref().is_some_and(|c| c.from_registration) {
        w.creds = None;
        w.drop_sign_in();
    }
    Ok(created)
}

/// Reads back the redirect URLs registered on `client_id` and compares each one we need.
#[tauri::command]
pub async fn check_redirects(
    state: State<'_, AppState>,
    client_id: String,
) -> CmdResult<Vec<RedirectCheck>> {
    let (instance, admin, target) = {
        let w = state.wizard.lock().await;
        (
            w.instance()?,
            w.admin()?,
            w.target.clone().unwrap_or(Target::Snconnect),
        )
    };
    let client_id = client_id.trim();
    if client_id.is_empty() {
        return Err(Diagnosis::usage(
            "client_id",
            "paste the client ID of the endpoint you registered",
        )
        .into());
    }
    let auth = admin_auth(&admin);
    let mut out = Vec::new();
    for url in redirect_urls_for(&target, state.redirect_port) {
        let r = register::check_redirect(&state.http, &instance, &auth, client_id, &url).await;
        out.push(match r {
            Ok(true) => RedirectCheck {
                url,
                registered: Some(true),
                problem: None,
            },
            Ok(false) => RedirectCheck {
                url,
                registered: None,
                problem: None,
            },
            Err(d) if d.code == Code::RedirectUriMismatch => RedirectCheck {
                url,
                registered: Some(false),
                problem: Some(IpcError::from(d)),
            },
            Err(d) => RedirectCheck {
                url,
                registered: None,
                problem: Some(IpcError::from(d)),
            },
        });
    }
    Ok(out)
}
