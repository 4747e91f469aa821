//! Named connections, saved as `profiles.json` in the config dir. No secrets inside: those live
//! in the keychain under `<profile>/<what>` accounts.
//!
//! Writes are atomic (a temp file in the same dir, then rename), the file carries a schema
//! version, and an unreadable file is reported and never overwritten.

use crate::error::{Code, Diagnosis};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

pub const SCHEMA_VERSION: u32 = 1;
pub const FILE_NAME: &str = "profiles.json";

/// How a connection authenticates. The names are the CLI's `--auth` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMethod {
    Basic,
    ApiKey,
    OauthCode,
    OauthCodePkce,
    OauthPassword,
    OauthClientCredentials,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub name: String,
    pub instance: String,
    pub auth: AuthMethod,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfilesFile {
    pub schema_version: u32,
    pub profiles: Vec<Profile>,
}

impl Default for ProfilesFile {
    fn default() -> Self {
        ProfilesFile {
            schema_version: SCHEMA_VERSION,
            profiles: Vec::new(),
        }
    }
}

/// The config dir: `SNCONNECT_CONFIG_DIR`, else the platform's (`~/.config/snconnect` on Linux).
pub fn default_config_dir() -> Result<PathBuf, Diagnosis> {
    if let Some(dir) = std::env::var_os("SNCONNECT_CONFIG_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("", "", "snconnect")
        .map(|p| p.config_dir().to_path_buf())
        .ok_or_else(|| {
            Diagnosis::new(Code::ConfigUnwritable)
                .with_detail("no home directory; set SNCONNECT_CONFIG_DIR")
        })
}

/// Checks a profile name: it becomes part of keychain account names.
pub fn validate_name(name: &str) -> Result<(), Diagnosis> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(Diagnosis::usage(
            "profile name",
            format!("{name:?} must be 1-64 letters, digits, '-', '_' or '.'"),
        ))
    }
}

#[derive(Debug, Clone)]
pub struct ProfileStore {
    dir: PathBuf,
}

impl ProfileStore {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        ProfileStore { dir: dir.into() }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(FILE_NAME)
    }

    pub fn load(&self) -> Result<ProfilesFile, Diagnosis> {
        let path = self.path();
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(ProfilesFile::default())
            }
            Err(e) => return Err(unreadable(&path, &e.to_string())),
        };
        let file: ProfilesFile =
            serde_json::from_slice(&bytes).map_err(|e| unreadable(&path, &e.to_string()))?;
        if file.schema_version > SCHEMA_VERSION {
            return Err(unreadable(&path, &format!(
                "schema_version {} is newer than this snconnect understands ({SCHEMA_VERSION}); upgrade snconnect",
                file.schema_version
            )));
        }
        Ok(file)
    }

    /// Adds or replaces the profile with the same name, atomically.
    pub fn upsert(&self, profile: Profile) -> Result<(), Diagnosis> {
        validate_name(&profile.name)?;
        let mut file = self.load()?;
        file.profiles.retain(|p| p.name != profile.name);
        file.profiles.push(profile);
        file.profiles.sort_by(|a, b| a.name.cmp(&b.name));
        self.save(&file)
    }

    pub fn save(&self, file: &ProfilesFile) -> Result<(), Diagnosis> {
        let unwritable = |e: &dyn std::fmt::Display| {
            Diagnosis::new(Code::ConfigUnwritable)
                .with_detail(format!("{}: {e}", self.dir.display()))
        };
        std::fs::create_dir_all(&self.dir).map_err(|e| unwritable(&e))?;
        let json = serde_json::to_vec_pretty(file).map_err(|e| unwritable(&e))?;
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir).map_err(|e| unwritable(&e))?;
        tmp.write_all(&json)
            .and_then(|_| tmp.write_all(b"\n"))
            .map_err(|e| unwritable(&e))?;
        tmp.as_file().sync_all().map_err(|e| unwritable(&e))?;
        tmp.persist(self.path()).map_err(|e| unwritable(&e.error))?;
        Ok(())
    }
}

fn unreadable(path: &Path, why: &str) -> Diagnosis {
    Diagnosis::new(Code::ConfigUnreadable).with_detail(format!("{}: {why}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(name: &str) -> Profile {
        Profile {
            name: name.into(),
            instance: "https://acme.service-now.com/".into(),
            auth: AuthMethod::OauthCodePkce,
            username: None,
            client_id: Some("abc".into()),
            redirect_port: Some(8765),
            scope: None,
        }
    }

    #[test]
    fn upsert_round_trips_with_schema_version() {
        let dir = tempfile::tempdir().unwrap();
        let store = ProfileStore::new(dir.path().join("nested"));
        store.upsert(profile("b")).unwrap();
        store.upsert(profile("a")).unwrap();
        store.upsert(profile("a")).unwrap();
        let file = store.load().unwrap();
        assert_eq!(file.schema_version, SCHEMA_VERSION);
        assert_eq!(
            file.profiles
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>(),
            ["a", "b"]
        );
        let text = std::fs::read_to_string(store.path()).unwrap();
        assert!(text.contains("\"auth\": \"oauth-code-pkce\""), "{text}");
    }

    #[test]
    fn corrupt_file_is_reported_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = ProfileStore::new(dir.path());
        std::fs::write(store.path(), b"{ not json").unwrap();
        assert_eq!(
            store.upsert(profile("a")).unwrap_err().code,
            Code::ConfigUnreadable
        );
        assert_eq!(std::fs::read(store.path()).unwrap(), b"{ not json");
    }

    #[test]
    fn names_are_validated() {
        assert!(validate_name("acme-prod_1.x").is_ok());
        for bad in ["", "a/b", "with space", &"x".repeat(65)] {
            assert_eq!(
                validate_name(bad).unwrap_err().code,
                Code::UsageError,
                "{bad}"
            );
        }
    }
}
