//! Steps 1 and 2: the instance (with the target, the admin account and the account being
//! migrated) and the plugin check.

use crate::dto::{CmdResult, GrantChoice, InstancePreview, InstanceRequest, InstanceSet};
use crate::state::{AppState, Wizard};
use snconnect_core::conn_test::ApiAuth;
use snconnect_core::connection::AdminCredentials;
use snconnect_core::guide::{manual_checklist as checklist, ChecklistItem};
use snconnect_core::loopback::redirect_url;
use snconnect_core::oauth::Grant;
use snconnect_core::preflight::{self, PreflightCheck, PreflightReport};
use snconnect_core::presets::{PresetInputs, Target};
use snconnect_core::profiles::ProfileStore;
use snconnect_core::{Diagnosis, InstanceUrl, Secret};
use tauri::ipc::Channel;
use tauri::State;

/// The live preview of the normalised URL while the user types.
#[tauri::command]
pub async fn preview_instance(input: String) -> CmdResult<InstancePreview> {
    let parsed = InstanceUrl::parse(&input)?;
    Ok(InstancePreview {
        instance: parsed.to_string(),
        host: parsed.host_label(),
    })
}

fn trimmed(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// A secret field: `None` keeps what is held, `""` forgets it, anything else replaces it.
fn secret_update(held: Option<Secret>, sent: Option<String>) -> Option<Secret> {
    match sent {
        None => held,
        Some(s) if s.is_empty() => None,
        Some(s) => Some(Secret::new(s)),
    }
}

fn target_of(req: &InstanceRequest) -> Result<Target, Diagnosis> {
    let inputs = PresetInputs {
        boomi_account_id: trimmed(req.boomi_account.clone()),
        region: trimmed(req.region.clone()),
        redirect_urls: req
            .target_redirect_urls
            .iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
    };
    // The core names CLI flags; the window names its fields.
    Target::from_preset(&req.target, &inputs).map_err(|d| {
        crate::commands::signin::ui_field(
            d,
            &[
                ("--redirect-url", "target_redirect_url"),
                ("--boomi-account", "boomi_account"),
                ("--region", "region"),
                ("--target", "target"),
            ],
        )
    })
}

/// The target's callbacks first, then snconnect's own loopback URL.
pub fn redirect_urls_for(target: &Target, port: u16) -> Vec<String> {
    let mut urls = target.redirect_urls();
    let ours = redirect_url(port);
    if !urls.contains(&ours) {
        urls.push(ours);
    }
    urls
}

#[tauri::command]
pub async fn set_instance(
    state: State<'_, AppState>,
    req: InstanceRequest,
) -> CmdResult<InstanceSet> {
    let instance = InstanceUrl::parse(&req.instance)?;
    let target = target_of(&req)?;
    let mut w = state.wizard.lock().await;
    if w.instance.as_ref() != Some(&instance) {
        // A different instance: an earlier sign-in, client and endpoint do not apply to it.
        w.drop_sign_in();
        w.creds = None;
        w.created = None;
    }
    apply_accounts(&mut w, &req);
    w.editing = match req.editing.as_deref() {
        Some(name) if w.editing.as_ref().is_some_and(|p| p.name == name) => w.editing.take(),
        Some(name) => Some(ProfileStore::new(&state.config_dir).get(name)?),
        None => None,
    };
    w.instance = Some(instance.clone());
    w.target = Some(target.clone());
    w.migrating = req.migrating;
    Ok(instance_set(&w, &instance, &target, state.redirect_port))
}

/// What the window shows of the instance step's answer.
pub fn instance_set(w: &Wizard, instance: &InstanceUrl, target: &Target, port: u16) -> InstanceSet {
    InstanceSet {
        host: instance.host_label(),
        instance: instance.to_string(),
        target_name: target.display_name().to_string(),
        redirect_urls: redirect_urls_for(target, port),
        has_admin: w.admin.is_some(),
        admin_username: w.admin.as_ref().map(|a| a.username.clone()),
        has_basic: w.basic.is_some(),
        basic_username: w.basic.as_ref().map(|b| b.0.clone()),
    }
}

/// The admin account and the account being migrated, in memory only.
fn apply_accounts(w: &mut Wizard, req: &InstanceRequest) {
    let admin_pw = secret_update(
        w.admin.take().map(|a| a.password),
        req.admin_password.clone(),
    );
    w.admin = match (trimmed(req.admin_username.clone()), admin_pw) {
        (Some(username), Some(password)) => Some(AdminCredentials { username, password }),
        _ => None,
    };
    let basic_pw = secret_update(w.basic.take().map(|b| b.1), req.basic_password.clone());
    w.basic = match (trimmed(req.basic_username.clone()), basic_pw) {
        (Some(u), Some(p)) if req.migrating => Some((u, p)),
        _ => None,
    };
}

pub fn admin_auth(admin: &AdminCredentials) -> ApiAuth {
    ApiAuth::Basic {
        username: admin.username.clone(),
        password: admin.password.clone(),
    }
}

/// The core's preflight with the admin account; each check is sent to the window as it
/// finishes, then the whole report is returned.
#[tauri::command]
pub async fn run_preflight(
    state: State<'_, AppState>,
    grant: GrantChoice,
    on_check: Channel<PreflightCheck>,
) -> CmdResult<PreflightReport> {
    let (instance, admin) = {
        let w = state.wizard.lock().await;
        (w.instance()?, w.admin()?)
    };
    let grant = match grant {
        GrantChoice::Code => Grant::AuthorizationCode,
        GrantChoice::Password => Grant::Password,
        GrantChoice::ClientCredentials => Grant::ClientCredentials,
    };
    let mut sink = |c: &PreflightCheck| {
        let _ = on_check.send(c.clone());
    };
    Ok(preflight::run(
        &state.http,
        &instance,
        &admin_auth(&admin),
        Some(grant),
        &mut sink,
    )
    .await)
}

/// Without admin credentials: what preflight would check, to do by hand, with the links.
#[tauri::command]
pub async fn manual_checklist(state: State<'_, AppState>) -> CmdResult<Vec<ChecklistItem>> {
    let instance = state.wizard.lock().await.instance()?;
    Ok(checklist(&instance))
}
