//! Secret storage: the OS keychain (one entry per secret), or — only when the user chose it —
//! memory for this run. Never plain text on disk.
//!
//! Keychain failures become `keychain_unavailable` (no Secret Service / keychain at all) or
//! `keychain_locked` (present but locked), each with the fix; raw D-Bus text stays in `detail`.

use crate::error::{Code, Diagnosis};
use crate::secret::Secret;
use std::collections::HashMap;
use std::sync::Mutex;

/// The keychain service name all snconnect entries live under.
pub const SERVICE: &str = "snconnect";

pub trait SecretStore: Send + Sync {
    fn set(&self, account: &str, secret: &Secret) -> Result<(), Diagnosis>;
    fn get(&self, account: &str) -> Result<Option<Secret>, Diagnosis>;
    fn delete(&self, account: &str) -> Result<(), Diagnosis>;
    /// "keychain" or "session", for status lines.
    fn kind(&self) -> &'static str;
    /// Starts connecting to the keychain in the background, for a command that will read a
    /// secret soon: the first read then waits only for what is left. Errors are left for that
    /// read to report.
    fn prewarm(&self) {}
}

/// Runs a keychain call off the async workers (each call is a blocking D-Bus round trip).
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Diagnosis> + Send + 'static,
) -> Result<T, Diagnosis> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Diagnosis::new(Code::KeychainUnavailable).with_detail(e.to_string()))?
}

/// The keychain account for one secret of one profile, e.g. `acme/refresh_token`.
pub fn account(profile: &str, what: &str) -> String {
    format!("{profile}/{what}")
}

/// The OS keychain: the Secret Service on Linux (one session per process), the Keychain and
/// Credential Manager via `keyring` elsewhere.
#[derive(Debug, Clone)]
pub struct KeyringStore {
    service: String,
    /// Prepended to every account: empty for the default config dir, `<8 hex>:` for another
    /// one, so two config dirs with a same-named profile never share (or delete) secrets.
    namespace: String,
}

impl KeyringStore {
    pub fn new(service: impl Into<String>) -> Self {
        KeyringStore {
            service: service.into(),
            namespace: String::new(),
        }
    }

    /// The store for profiles kept in `config_dir`; `default_dir` is the platform default.
    pub fn for_config_dir(
        config_dir: &std::path::Path,
        default_dir: Option<&std::path::Path>,
    ) -> Self {
        let canon =
            |p: &std::path::Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        let mut store = KeyringStore::default();
        if default_dir.map(canon) != Some(canon(config_dir)) {
            use sha2::Digest;
            let digest = sha2::Sha256::digest(canon(config_dir).to_string_lossy().as_bytes());
            let hex: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
            store.namespace = format!("{hex}:");
        }
        store
    }

    /// The keychain user name of `account` (namespaced).
    fn user(&self, account: &str) -> String {
        format!("{}{account}", self.namespace)
    }

    /// macOS Keychain and Windows Credential Manager through `keyring` (on Linux the
    /// Secret Service session in [`crate::secret_service`] is kept for the whole process).
    #[cfg(not(target_os = "linux"))]
    fn entry(&self, account: &str) -> Result<keyring::Entry, Diagnosis> {
        keyring::Entry::new(&self.service, &self.user(account)).map_err(map_keyring_error)
    }
}

impl Default for KeyringStore {
    fn default() -> Self {
        KeyringStore::new(SERVICE)
    }
}

impl SecretStore for KeyringStore {
    fn set(&self, account: &str, secret: &Secret) -> Result<(), Diagnosis> {
        #[cfg(target_os = "linux")]
        return crate::secret_service::set(&self.service, &self.user(account), secret);
        #[cfg(not(target_os = "linux"))]
        self.entry(account)?
            .set_password(secret.expose())
            .map_err(map_keyring_error)
    }

    fn get(&self, account: &str) -> Result<Option<Secret>, Diagnosis> {
        #[cfg(target_os = "linux")]
        return crate::secret_service::get(&self.service, &self.user(account));
        #[cfg(not(target_os = "linux"))]
        match self.entry(account)?.get_password() {
            Ok(s) => Ok(Some(Secret::new(s))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(map_keyring_error(e)),
        }
    }

    #[cfg(target_os = "linux")]
    fn prewarm(&self) {
        crate::secret_service::prewarm();
    }

    fn delete(&self, account: &str) -> Result<(), Diagnosis> {
        #[cfg(target_os = "linux")]
        return crate::secret_service::delete(&self.service, &self.user(account));
        #[cfg(not(target_os = "linux"))]
        match self.entry(account)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(map_keyring_error(e)),
        }
    }

    fn kind(&self) -> &'static str {
        "keychain"
    }
}

/// Maps keyring errors to the two stable codes. The raw text goes to `detail` only.
#[cfg(not(target_os = "linux"))]
pub fn map_keyring_error(e: keyring::Error) -> Diagnosis {
    let raw = e.to_string();
    let lower = format!("{e:?} {raw}").to_ascii_lowercase();
    let code = match &e {
        keyring::Error::NoStorageAccess(_) => Code::KeychainLocked,
        _ if lower.contains("locked") || lower.contains("islocked") => Code::KeychainLocked,
        _ => Code::KeychainUnavailable,
    };
    Diagnosis::new(code).with_detail(raw)
}

/// Memory only, for this run: the explicit "keep for this run only" choice.
#[derive(Debug, Default)]
pub struct MemoryStore {
    entries: Mutex<HashMap<String, Secret>>,
}

impl SecretStore for MemoryStore {
    fn set(&self, account: &str, secret: &Secret) -> Result<(), Diagnosis> {
        self.entries
            .lock()
            .expect("memory store")
            .insert(account.to_string(), secret.clone());
        Ok(())
    }

    fn get(&self, account: &str) -> Result<Option<Secret>, Diagnosis> {
        Ok(self
            .entries
            .lock()
            .expect("memory store")
            .get(account)
            .cloned())
    }

    fn delete(&self, account: &str) -> Result<(), Diagnosis> {
        self.entries.lock().expect("memory store").remove(account);
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "session"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_store_round_trip() {
        let m = MemoryStore::default();
        assert!(m.get("a/refresh_token").unwrap().is_none());
        m.set("a/refresh_token", &Secret::new("rt")).unwrap();
        assert_eq!(m.get("a/refresh_token").unwrap().unwrap().expose(), "rt");
        m.delete("a/refresh_token").unwrap();
        assert!(m.get("a/refresh_token").unwrap().is_none());
        assert_eq!(m.kind(), "session");
    }

    #[test]
    fn config_dirs_get_their_own_namespace() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let default = KeyringStore::for_config_dir(a.path(), Some(a.path()));
        assert_eq!(default.namespace, "");
        let other = KeyringStore::for_config_dir(b.path(), Some(a.path()));
        assert_eq!(other.namespace.len(), 9);
        assert_ne!(
            other.namespace,
            KeyringStore::for_config_dir(a.path(), None).namespace
        );
    }

    #[cfg(not(target_os = "linux"))]
    #[test]
    fn keyring_errors_map_to_stable_codes() {
        let locked = keyring::Error::PlatformFailure(
            "Cannot create an item in a locked collection (org.freedesktop.Secret.Error.IsLocked)"
                .into(),
        );
        assert_eq!(map_keyring_error(locked).code, Code::KeychainLocked);
        let nobus = keyring::Error::PlatformFailure(
            "Unable to autolaunch a dbus-daemon without a $DISPLAY for X11".into(),
        );
        let d = map_keyring_error(nobus);
        assert_eq!(d.code, Code::KeychainUnavailable);
        assert!(d.remediation.unwrap().contains("keep for this run only"));
        assert_eq!(
            map_keyring_error(keyring::Error::NoStorageAccess("x".into())).code,
            Code::KeychainLocked
        );
    }
}
