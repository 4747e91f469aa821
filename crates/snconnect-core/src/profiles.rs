//! Named connections, saved as `profiles.json` in the config dir. No secrets inside: those live
//! in the keychain under `<profile>/<what>` accounts.
//!
//! Writes are atomic (a temp file in the same dir, then rename), the file carries a schema
//! version, and an unreadable file is reported and never overwritten.

use crate::conn_test::ApiKeyIn;
use crate::error::{Code, Diagnosis};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

pub const SCHEMA_VERSION: u32 = 1;
pub const FILE_NAME: &str = "profiles.json";
/// Beside the profile file: the cross-process lock of its read-modify-writes.
pub const LOCK_FILE: &str = "profiles.lock";

/// How a connection authenticates. The names are the CLI's `--auth` values.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMethod {
    Basic,
    #[default]
    ApiKey,
    OauthCode,
    OauthCodePkce,
    OauthPassword,
    OauthClientCredentials,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
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
    /// Registered fallback ports, tried in order when `redirect_port` is busy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fallback_ports: Vec<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Custom OAuth endpoints (Boomi's fields); ServiceNow's `oauth_auth.do`,
    /// `oauth_token.do` and `oauth_revoke_token.do` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoke_url: Option<String>,
    /// API key parameter name (default `x-sn-apikey`) and where it goes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_param: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_in: Option<ApiKeyIn>,
    /// Refresh token lifespan in seconds (the registry record's Refresh Token Lifespan;
    /// default 8,640,000 = 100 days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_lifespan: Option<u64>,
    /// The `oauth_entity` snconnect created for this profile (`register`), so it can be
    /// removed again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered_sys_id: Option<String>,
    /// What is known about the stored tokens (never the tokens: those are in the keychain).
    /// Not exported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<TokenMeta>,
    /// The latest connection test (for the dashboard). Not exported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_test: Option<LastTest>,
}

/// The outcome of the latest connection test of a profile (no secret, no token).
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastTest {
    /// When (UNIX seconds).
    pub at: u64,
    pub ok: bool,
    /// The diagnosis code, as a string so a file written by a newer snconnect still loads.
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// Who the test signed in as (display name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// One profile's test for [`ProfileStore::record_tests`]: its result and, when the test changed
/// them, its token facts.
#[derive(Debug, Clone)]
pub struct RecordedTest {
    pub name: String,
    pub test: LastTest,
    pub tokens: Option<Option<TokenMeta>>,
}

impl LastTest {
    pub fn of(report: &crate::conn_test::TestReport) -> LastTest {
        LastTest {
            at: crate::token::now_secs(),
            ok: report.ok(),
            code: report.diagnosis.code.as_str().to_string(),
            latency_ms: report.latency_ms,
            user: report
                .identity
                .as_ref()
                .map(|i| i.user_display_name.clone()),
        }
    }
}

/// Token facts kept beside a profile: times and flags only, never a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TokenMeta {
    /// When the current grant was obtained (UNIX seconds).
    pub obtained_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_expires_at: Option<u64>,
    /// When the refresh token stops working: obtained time + its lifespan. ServiceNow does
    /// not extend it on refresh (it returns the same refresh token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_expires_at: Option<u64>,
    pub has_access_token: bool,
    pub has_refresh_token: bool,
}

impl Profile {
    /// The profile as it may leave this machine: no token facts.
    pub fn for_export(&self) -> Profile {
        Profile {
            tokens: None,
            last_test: None,
            ..self.clone()
        }
    }
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

/// A profile file's bytes, as `load` reads them from `path` (named in the error). Pure.
pub fn parse_file(bytes: &[u8], path: &Path) -> Result<ProfilesFile, Diagnosis> {
    let file: ProfilesFile =
        serde_json::from_slice(bytes).map_err(|e| unreadable(path, &e.to_string()))?;
    if file.schema_version > SCHEMA_VERSION {
        return Err(unreadable(path, &format!(
            "schema_version {} is newer than this snconnect understands ({SCHEMA_VERSION}); upgrade snconnect",
            file.schema_version
        )));
    }
    Ok(file)
}

/// The config dir: `SNCONNECT_CONFIG_DIR`, else the platform's (`~/.config/snconnect` on Linux).
/// The platform's config dir for snconnect (ignoring `SNCONNECT_CONFIG_DIR`).
pub fn platform_config_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "snconnect").map(|p| p.config_dir().to_path_buf())
}

pub fn default_config_dir() -> Result<PathBuf, Diagnosis> {
    if let Some(dir) = std::env::var_os("SNCONNECT_CONFIG_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    platform_config_dir().ok_or_else(|| {
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

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The lock every read-modify-write of the profile file holds, across processes.
    pub fn lock_path(&self) -> PathBuf {
        self.dir.join(LOCK_FILE)
    }

    /// The lock a token refresh of `name` holds, across processes (see `token`).
    pub fn refresh_lock_path(&self, name: &str) -> PathBuf {
        self.dir.join("locks").join(format!("{name}.refresh.lock"))
    }

    /// Load, change, save, under the profile file's cross-process lock: concurrent writers
    /// (the app, a terminal, a cron job) never lose each other's changes.
    pub fn update<T>(
        &self,
        change: impl FnOnce(&mut ProfilesFile) -> Result<T, Diagnosis>,
    ) -> Result<T, Diagnosis> {
        let _lock = crate::lock::acquire(
            &self.lock_path(),
            crate::lock::wait_from_env(),
            "the profile file",
        )?;
        let mut file = self.load()?;
        let out = change(&mut file)?;
        self.save(&file)?;
        Ok(out)
    }

    pub fn load(&self) -> Result<ProfilesFile, Diagnosis> {
        let path = self.path();
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            // Nothing saved there (the dir, or its parent as a directory, does not exist);
            // a save will say whether it can be written.
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
                ) =>
            {
                return Ok(ProfilesFile::default())
            }
            Err(e) => return Err(unreadable(&path, &e.to_string())),
        };
        parse_file(&bytes, &path)
    }

    /// Adds or replaces the profile with the same name, atomically.
    pub fn upsert(&self, profile: Profile) -> Result<(), Diagnosis> {
        validate_name(&profile.name)?;
        self.update(|file| {
            file.profiles.retain(|p| p.name != profile.name);
            file.profiles.push(profile);
            file.profiles.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(())
        })
    }

    /// The named profile, or a usage error that says how to list them.
    pub fn get(&self, name: &str) -> Result<Profile, Diagnosis> {
        self.load()?
            .profiles
            .into_iter()
            .find(|p| p.name == name)
            .ok_or_else(|| not_found(name))
    }

    /// Removes the named profile; its keychain entries are the caller's to delete.
    pub fn remove(&self, name: &str) -> Result<Profile, Diagnosis> {
        self.update(|file| {
            let idx = file
                .profiles
                .iter()
                .position(|p| p.name == name)
                .ok_or_else(|| not_found(name))?;
            Ok(file.profiles.remove(idx))
        })
    }

    /// Records token facts for a profile (after a login, refresh, revoke or reset).
    pub fn set_tokens(&self, name: &str, tokens: Option<TokenMeta>) -> Result<(), Diagnosis> {
        let current = self.load()?;
        let p = current
            .profiles
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| not_found(name))?;
        if p.tokens == tokens {
            return Ok(());
        }
        self.update(|file| {
            let p = file
                .profiles
                .iter_mut()
                .find(|p| p.name == name)
                .ok_or_else(|| not_found(name))?;
            p.tokens = tokens;
            Ok(())
        })
    }

    /// Records the latest test of a profile (and its token facts when they changed), under
    /// the cross-process lock.
    pub fn record_test(
        &self,
        name: &str,
        test: LastTest,
        tokens: Option<Option<TokenMeta>>,
    ) -> Result<(), Diagnosis> {
        self.update(|file| {
            let p = file
                .profiles
                .iter_mut()
                .find(|p| p.name == name)
                .ok_or_else(|| not_found(name))?;
            p.last_test = Some(test);
            if let Some(t) = tokens {
                p.tokens = t;
            }
            Ok(())
        })
    }

    /// Records many tests with one lock and one write (`test --all`, the window's Test all),
    /// where one [`record_test`](Self::record_test) each would rewrite the whole file per
    /// profile. A profile another process removed meanwhile is skipped. Returns the file as
    /// written.
    pub fn record_tests(&self, results: Vec<RecordedTest>) -> Result<ProfilesFile, Diagnosis> {
        self.update(|file| {
            for r in results {
                if let Some(p) = file.profiles.iter_mut().find(|p| p.name == r.name) {
                    p.last_test = Some(r.test);
                    if let Some(t) = r.tokens {
                        p.tokens = t;
                    }
                }
            }
            Ok(file.clone())
        })
    }

    /// The named profiles (all when `names` is empty) as an export document: the same schema,
    /// no token facts, and (as always) no secrets.
    pub fn export(&self, names: &[String]) -> Result<ProfilesFile, Diagnosis> {
        let file = self.load()?;
        for n in names {
            if !file.profiles.iter().any(|p| &p.name == n) {
                return Err(not_found(n));
            }
        }
        Ok(ProfilesFile {
            schema_version: SCHEMA_VERSION,
            profiles: file
                .profiles
                .iter()
                .filter(|p| names.is_empty() || names.contains(&p.name))
                .map(Profile::for_export)
                .collect(),
        })
    }

    /// Imports an export document. Every profile is validated before anything is written, so a
    /// bad file changes nothing. Same-named profiles are replaced (their token facts kept only
    /// when instance, method and client are unchanged). Returns the imported names.
    pub fn import(&self, bytes: &[u8], origin: &str) -> Result<Vec<String>, Diagnosis> {
        let incoming: ProfilesFile = serde_json::from_slice(bytes).map_err(|e| {
            Diagnosis::usage(origin, format!("not a snconnect profile export: {e}"))
        })?;
        if incoming.schema_version > SCHEMA_VERSION {
            return Err(Diagnosis::usage(
                origin,
                format!(
                    "schema_version {} is newer than this snconnect understands ({SCHEMA_VERSION}); upgrade snconnect",
                    incoming.schema_version
                ),
            ));
        }
        for p in &incoming.profiles {
            validate_name(&p.name)?;
            crate::instance::InstanceUrl::parse(&p.instance).map_err(|d| {
                Diagnosis::usage(
                    origin,
                    format!(
                        "profile {:?}: instance {:?}: {}",
                        p.name,
                        p.instance,
                        d.detail.unwrap_or(d.message)
                    ),
                )
            })?;
        }
        self.update(|file| {
            let mut names = Vec::new();
            for p in incoming.profiles {
                let mut p = p.for_export();
                if let Some(old) = file.profiles.iter().find(|o| o.name == p.name) {
                    if old.instance == p.instance
                        && old.auth == p.auth
                        && old.client_id == p.client_id
                    {
                        p.tokens = old.tokens;
                    }
                }
                file.profiles.retain(|o| o.name != p.name);
                names.push(p.name.clone());
                file.profiles.push(p);
            }
            file.profiles.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(names)
        })
    }

    /// Writes the whole file atomically (temp file + rename). Callers that read it first use
    /// [`update`](Self::update), which holds the cross-process lock around both.
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

fn not_found(name: &str) -> Diagnosis {
    Diagnosis::usage(
        "profile name",
        format!("there is no profile named {name:?}; `snconnect profile list` shows them"),
    )
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
            ..Profile::default()
        }
    }

    #[test]
    fn export_import_get_remove() {
        let dir = tempfile::tempdir().unwrap();
        let store = ProfileStore::new(dir.path());
        let mut a = profile("a");
        a.tokens = Some(TokenMeta {
            obtained_at: 1,
            has_refresh_token: true,
            ..TokenMeta::default()
        });
        store.upsert(a.clone()).unwrap();
        store.upsert(profile("b")).unwrap();
        let export = store.export(&["a".into()]).unwrap();
        assert_eq!(export.profiles.len(), 1);
        assert!(
            export.profiles[0].tokens.is_none(),
            "token facts are not exported"
        );
        assert_eq!(
            store.export(&["nope".into()]).unwrap_err().code,
            Code::UsageError
        );

        let other = ProfileStore::new(dir.path().join("other"));
        let bytes = serde_json::to_vec(&export).unwrap();
        assert_eq!(other.import(&bytes, "FILE").unwrap(), ["a"]);
        assert_eq!(other.get("a").unwrap().client_id.as_deref(), Some("abc"));
        // Re-importing over an unchanged profile keeps its token facts.
        assert_eq!(store.import(&bytes, "FILE").unwrap(), ["a"]);
        assert_eq!(store.get("a").unwrap().tokens, a.tokens);

        // A bad file changes nothing.
        let before = std::fs::read(store.path()).unwrap();
        let bad = br#"{"schema_version":1,"profiles":[{"name":"ok","instance":"acme","auth":"basic"},{"name":"x","instance":"http://evil.example","auth":"basic"}]}"#;
        let err = store.import(bad, "FILE").unwrap_err();
        assert_eq!(err.code, Code::UsageError);
        assert!(err.detail.unwrap().contains("\"x\""));
        assert_eq!(std::fs::read(store.path()).unwrap(), before);

        assert_eq!(store.remove("b").unwrap().name, "b");
        assert_eq!(store.get("b").unwrap_err().code, Code::UsageError);
        store.set_tokens("a", None).unwrap();
        assert!(store.get("a").unwrap().tokens.is_none());
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
