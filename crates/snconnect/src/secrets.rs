//! Secrets come from the environment or a hidden prompt, never from argv.

use crate::cli::AdminArgs;
use snconnect_core::connection::{
    secrets_needed, AdminCredentials, Connection, CLIENT_SECRET, PASSWORD,
};
use snconnect_core::profiles::Profile;
use snconnect_core::{Diagnosis, Secret};
use std::io::IsTerminal;

/// A secret from the environment, else a hidden prompt on a terminal, else a usage error.
pub fn read_secret(env: &str, prompt: &str) -> Result<Secret, Diagnosis> {
    if let Ok(v) = std::env::var(env) {
        if !v.is_empty() {
            return Ok(Secret::new(v));
        }
    }
    if std::io::stdin().is_terminal() {
        let v = rpassword::prompt_password(format!("{prompt}: "))
            .map_err(|e| Diagnosis::usage(env, format!("could not read the hidden prompt: {e}")))?;
        if !v.is_empty() {
            return Ok(Secret::new(v));
        }
    }
    Err(Diagnosis::usage(env, format!("set {env} or run in a terminal to be prompted (secrets are never taken from arguments)")))
}

/// The secrets a profile's method needs, read from the environment or prompts.
pub fn read_profile_secrets(p: &Profile) -> Result<Vec<(&'static str, Secret)>, Diagnosis> {
    secrets_needed(p.auth)
        .iter()
        .map(|&what| {
            let s = match what {
                PASSWORD => read_secret(
                    "SNCONNECT_PASSWORD",
                    &format!(
                        "Password for {}",
                        p.username.as_deref().unwrap_or("the user")
                    ),
                ),
                CLIENT_SECRET => read_secret("SNCONNECT_CLIENT_SECRET", "Client secret"),
                _ => read_secret("SNCONNECT_API_KEY", "API key"),
            }?;
            Ok((what, s))
        })
        .collect()
}

/// The admin account for the diagnosis probes (`--admin-username`), if one was given.
pub fn admin_credentials(a: &AdminArgs) -> Result<Option<AdminCredentials>, Diagnosis> {
    match a.admin_username.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(u) => Ok(Some(AdminCredentials {
            username: u.to_string(),
            password: read_secret("SNCONNECT_ADMIN_PASSWORD", &format!("Password for {u}"))?,
        })),
    }
}

/// Every secret a connection holds, for the redaction guard of what is printed about it: its
/// own (`Connection::secrets`: password, API key, client secret) and the probes' admin password.
pub fn held(conn: &Connection) -> Vec<&Secret> {
    let mut held = conn.secrets();
    held.extend(conn.admin().map(|a| &a.password));
    held
}
