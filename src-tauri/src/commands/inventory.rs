//! The basic-auth inventory: with an admin account, the accounts that still depend on basic
//! auth and the Basic Auth Restriction settings, from the core (the same call as `snconnect
//! inventory`). The instance and admin account are kept for the wizard, so Migrate on an
//! account opens it with both prefilled.

use crate::dto::{CmdResult, InventoryRequest};
use crate::state::AppState;
use snconnect_core::connection::AdminCredentials;
use snconnect_core::inventory::{basic_auth_inventory as core_inventory, BasicAuthInventory};
use snconnect_core::{Diagnosis, InstanceUrl, Secret};
use tauri::State;

#[tauri::command]
pub async fn basic_auth_inventory(
    state: State<'_, AppState>,
    req: InventoryRequest,
) -> CmdResult<BasicAuthInventory> {
    let instance = InstanceUrl::parse(&req.instance)?;
    let username = req.admin_username.trim().to_string();
    if username.is_empty() {
        return Err(Diagnosis::usage(
            "admin_username",
            "enter an admin account (admin, or a user with security_admin to read the restriction settings)",
        )
        .into());
    }
    let admin = {
        let w = state.wizard.lock().await;
        match req.admin_password.filter(|p| !p.is_empty()) {
            Some(p) => AdminCredentials {
                username,
                password: Secret::new(p),
            },
            // The password held for this account (the demo's, or one typed earlier).
            None => w
                .admin
                .clone()
                .filter(|a| a.username == username && w.instance.as_ref() == Some(&instance))
                .ok_or_else(|| {
                    Diagnosis::usage("admin_password", "enter the admin account's password")
                })?,
        }
    };
    let inventory = core_inventory(&state.http, &instance, &admin).await?;
    tracing::info!(
        accounts = inventory.accounts.len(),
        "basic-auth inventory read"
    );
    let mut w = state.wizard.lock().await;
    if w.instance.as_ref() != Some(&instance) {
        w.drop_sign_in();
        w.creds = None;
        w.created = None;
    }
    w.instance = Some(instance);
    w.admin = Some(admin);
    Ok(inventory)
}
