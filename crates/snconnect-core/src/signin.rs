//! One sign-in session, the same for every host: begin → wait for the callback or a pasted URL
//! → exchange → test, then [`save_connection`].
//!
//! The CLI (`login`, `verify`, `migrate`) and the desktop app's wizard both drive a [`SignIn`],
//! so both give the same diagnosis codes, the same refinements (a refused exchange after a
//! successful consent is `invalid_client`; a consent that never came back is checked against
//! the registered redirect URLs) and the same cleanup (dropping a session frees the port).

use crate::browser::BrowserLauncher;
use crate::conn_test::{Check, TestReport};
use crate::connection::{all_entries, is_oauth, validate_profile, Connection};
use crate::error::{Code, Diagnosis};
use crate::keychain::{account, SecretStore};
use crate::loopback::{parse_redirected_url, Callback, DEFAULT_REDIRECT_PORT};
use crate::profiles::{validate_name, AuthMethod, Profile, ProfileStore};
use crate::secret::Secret;
use crate::verify::{begin_consent, CancelConsent, ConsentOptions, PendingConsent};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// The default wait for the browser to come back.
pub const DEFAULT_CONSENT_TIMEOUT: Duration = Duration::from_secs(300);

/// A sign-in in progress. For the browser grants it holds the loopback listener; for the
/// others nothing has happened yet (the grant runs in [`SignIn::finish`]).
pub struct SignIn {
    conn: Arc<Connection>,
    consent: Option<PendingConsent>,
    timeout: Duration,
}

impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignIn")
            .field("profile", &self.conn.profile.name)
            .field("consent", &self.consent)
            .finish_non_exhaustive()
    }
}

/// How a sign-in ended. `diagnosis` is `ok` on success; `checks` are every step that ran,
/// failed ones included (a failure never drops what was checked before it).
#[derive(Debug, Clone)]
pub struct SignInOutcome {
    pub diagnosis: Diagnosis,
    pub checks: Vec<Check>,
    pub authorize_url: Option<String>,
    /// The connection test, when one was asked for and the sign-in got that far.
    pub test: Option<TestReport>,
}

impl SignInOutcome {
    /// A sign-in that could not start.
    pub fn failed(d: Diagnosis) -> Self {
        SignInOutcome {
            diagnosis: d,
            checks: Vec::new(),
            authorize_url: None,
            test: None,
        }
    }

    pub fn ok(&self) -> bool {
        self.diagnosis.code == Code::Ok
    }
}

/// Does this method sign in through the browser?
pub fn needs_consent(method: AuthMethod) -> bool {
    matches!(method, AuthMethod::OauthCode | AuthMethod::OauthCodePkce)
}

/// The loopback ports of a profile: its redirect port, then its registered fallbacks.
pub fn ports_of(p: &Profile) -> Vec<u16> {
    let mut ports = vec![p.redirect_port.unwrap_or(DEFAULT_REDIRECT_PORT)];
    ports.extend(p.fallback_ports.iter().copied());
    ports
}

/// Checks a pasted address before it is handed to the waiting listener, so a person gets the
/// fix at once instead of a sign-in that silently keeps waiting.
pub fn check_pasted(url: &str) -> Result<(), Diagnosis> {
    match parse_redirected_url(url) {
        Callback::Code { .. } | Callback::Error { .. } => Ok(()),
        Callback::Incomplete | Callback::NotFound => Err(Diagnosis::usage(
            "pasted address",
            "paste the whole address from the browser's address bar after you approved access; it starts with http://127.0.0.1:<port>/callback? and contains code= and state=",
        )),
    }
}

impl SignIn {
    /// Starts a sign-in. For the code grants: binds the profile's loopback port (or a
    /// fallback), builds the authorize URL (PKCE S256 for every client, confidential ones
    /// included, as RFC 9700 §2.1.1 asks) and opens the browser.
    pub async fn begin(
        conn: Arc<Connection>,
        timeout: Duration,
        browser: Arc<dyn BrowserLauncher>,
    ) -> Result<SignIn, Diagnosis> {
        let consent = if needs_consent(conn.profile.auth) {
            let reg = conn.registration().expect("OAuth profiles have a client");
            let opts = ConsentOptions {
                ports: ports_of(&conn.profile),
                // Confidential clients too: an instance that ignores the challenge ignores the
                // verifier as well (snsim's `confidential_pkce` switch covers both answers).
                pkce: true,
                timeout,
            };
            Some(begin_consent(reg, &opts, browser).await?)
        } else {
            None
        };
        Ok(SignIn {
            conn,
            consent,
            timeout,
        })
    }

    pub fn connection(&self) -> &Arc<Connection> {
        &self.conn
    }

    pub fn needs_consent(&self) -> bool {
        self.consent.is_some()
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub fn authorize_url(&self) -> Option<String> {
        self.consent.as_ref().map(|c| c.authorize_url.to_string())
    }

    pub fn redirect_url(&self) -> Option<String> {
        self.consent.as_ref().map(|c| c.redirect_url.clone())
    }

    /// `Some(Err)` when no browser could be launched (the authorize URL still works).
    pub fn browser(&self) -> Option<&Result<(), Diagnosis>> {
        self.consent.as_ref().map(|c| &c.browser)
    }

    /// Where a pasted redirect URL goes (the browser could not reach this machine).
    pub fn paste_sender(&self) -> Option<mpsc::Sender<String>> {
        self.consent.as_ref().map(|c| c.paste_sender())
    }

    /// A switch that stops the listener from another task (taken once).
    pub fn cancel_switch(&mut self) -> Option<CancelConsent> {
        self.consent.as_mut().and_then(|c| c.cancel_switch())
    }

    /// Waits for the browser (code grants) or runs the grant (password, client credentials),
    /// stores the tokens in the connection's secret store, then tests when `test` is set.
    /// `on_check` sees every check as it finishes.
    pub async fn finish(
        self,
        test: bool,
        on_check: &mut (dyn FnMut(&Check) + Send),
    ) -> SignInOutcome {
        let authorize_url = self.authorize_url();
        let conn = self.conn.clone();
        let mut out = SignInOutcome {
            diagnosis: Diagnosis::new(Code::Ok),
            checks: Vec::new(),
            authorize_url,
            test: None,
        };
        if let Err(d) = self.obtain(&mut out.checks, on_check).await {
            out.diagnosis = d;
            return out;
        }
        if test {
            let report = conn.test().await;
            for c in &report.checks {
                on_check(c);
            }
            out.checks.extend(report.checks.iter().cloned());
            out.diagnosis = report.diagnosis.clone();
            out.test = Some(report);
        }
        out
    }

    async fn obtain(
        self,
        checks: &mut Vec<Check>,
        on_check: &mut (dyn FnMut(&Check) + Send),
    ) -> Result<(), Diagnosis> {
        let conn = self.conn;
        let mut push = |c: Check, checks: &mut Vec<Check>| {
            on_check(&c);
            checks.push(c);
        };
        match self.consent {
            None if !is_oauth(conn.profile.auth) => Ok(()),
            None => match conn.grant_without_browser().await {
                Ok((_, check)) => {
                    push(check, checks);
                    Ok(())
                }
                Err(d) => {
                    push(Check::new("token", Err(&d), Instant::now()), checks);
                    Err(d)
                }
            },
            Some(pending) => {
                let reg = conn.registration().expect("OAuth profiles have a client");
                let redirect = pending.redirect_url.clone();
                match pending
                    .finish_with(conn.http(), reg, &mut |c| on_check(c))
                    .await
                {
                    Ok((tokens, done)) => {
                        checks.extend(done);
                        conn.store_grant(tokens).await.map(|_| ())
                    }
                    Err((d, done)) => {
                        checks.extend(done);
                        let d = conn.explain_callback_timeout(d, &redirect).await;
                        Err(if d.code == Code::TokenRequestDenied {
                            conn.refine(d).await
                        } else {
                            d
                        })
                    }
                }
            }
        }
    }
}

/// Token entries, for `keep` when a changed profile still uses the same grant.
pub const TOKEN_ENTRIES: &[&str] = &[crate::token::ACCESS_TOKEN, crate::token::REFRESH_TOKEN];

/// The kinds of keychain entry a profile may own.
const ENTRY_KINDS: &[&str] = &[
    crate::connection::PASSWORD,
    crate::connection::CLIENT_SECRET,
    crate::connection::API_KEY,
    crate::token::ACCESS_TOKEN,
    crate::token::REFRESH_TOKEN,
];

/// Saves `profile` with exactly `secrets` in `store`: each given secret is written, every
/// other entry the name may own is deleted unless listed in `keep` (so an overwritten profile
/// leaves no stale secret or token behind), then the profile is written. All or nothing: what
/// the name held before is read first, and if the keychain or the profile file refuses, it is
/// put back (nothing already saved is lost; a keychain that went away half-way may keep an
/// entry no profile uses, never a profile without its secret).
pub async fn save_profile(
    profiles: &ProfileStore,
    store: Arc<dyn SecretStore>,
    profile: Profile,
    secrets: Vec<(&'static str, Secret)>,
    keep: &'static [&'static str],
) -> Result<Vec<&'static str>, Diagnosis> {
    validate_profile(&profile)?;
    let name = profile.name.clone();
    let stored: Vec<&'static str> = secrets.iter().map(|(w, _)| *w).collect();
    let mut keep: Vec<&str> = keep.to_vec();
    keep.extend(stored.iter().copied());
    let before = snapshot(store.clone(), &name).await?;
    let changed = {
        let (store, name) = (store.clone(), name.clone());
        crate::keychain::blocking(move || {
            for (what, s) in &secrets {
                store.set(&account(&name, what), s)?;
            }
            for acct in all_entries(&name) {
                if !keep.iter().any(|w| account(&name, w) == acct) {
                    store.delete(&acct)?;
                }
            }
            Ok(())
        })
        .await
    };
    if let Err(d) = changed.and_then(|()| profiles.upsert(profile)) {
        restore(store, before).await;
        return Err(d);
    }
    Ok(stored)
}

/// Removes a saved profile and every keychain entry it owns, all or nothing: the entries are
/// read first (a locked keychain refuses before anything changed), deleted, then the profile
/// leaves the file; if that write fails, the entries are put back.
pub async fn remove_profile(
    profiles: &ProfileStore,
    store: Arc<dyn SecretStore>,
    name: &str,
) -> Result<Profile, Diagnosis> {
    profiles.get(name)?;
    let before = snapshot(store.clone(), name).await?;
    let deleted = {
        let (store, name) = (store.clone(), name.to_string());
        crate::keychain::blocking(move || {
            for acct in all_entries(&name) {
                store.delete(&acct)?;
            }
            Ok(())
        })
        .await
    };
    match deleted.and_then(|()| profiles.remove(name)) {
        Ok(p) => Ok(p),
        Err(d) => {
            restore(store, before).await;
            Err(d)
        }
    }
}

/// Every entry `name` may own, as it is now (a locked keychain refuses here, before any change).
async fn snapshot(
    store: Arc<dyn SecretStore>,
    name: &str,
) -> Result<Vec<(Option<Secret>, String)>, Diagnosis> {
    let name = name.to_string();
    crate::keychain::blocking(move || {
        all_entries(&name)
            .into_iter()
            .map(|acct| Ok((store.get(&acct)?, acct)))
            .collect()
    })
    .await
}

/// Puts the entries back as they were (best effort: the keychain may be what failed).
async fn restore(store: Arc<dyn SecretStore>, before: Vec<(Option<Secret>, String)>) {
    let undone = crate::keychain::blocking(move || {
        let mut result = Ok(());
        for (old, acct) in &before {
            let r = match old {
                Some(v) => store.set(acct, v),
                None => store.delete(acct),
            };
            result = result.and(r);
        }
        result
    })
    .await;
    if let Err(d) = undone {
        tracing::warn!(code = %d.code, "could not put the keychain entries back after a failed save");
    }
}

/// Saves a signed-in connection under `name`: its profile, the secrets and tokens it holds
/// (read from the store it was opened with, e.g. the wizard's memory) written to `target`.
pub async fn save_connection(
    conn: &Connection,
    source: Arc<dyn SecretStore>,
    name: &str,
    target: Arc<dyn SecretStore>,
    profiles: &ProfileStore,
) -> Result<Profile, Diagnosis> {
    let name = name.trim();
    validate_name(name)?;
    let mut profile = conn.profile.clone();
    profile.name = name.to_string();
    profile.tokens = conn
        .token_meta()
        .await
        .filter(|m| m.has_access_token || m.has_refresh_token);
    let from = conn.profile.name.clone();
    let secrets = crate::keychain::blocking(move || {
        let mut out = Vec::new();
        for &what in ENTRY_KINDS {
            if let Some(v) = source.get(&account(&from, what))? {
                out.push((what, v));
            }
        }
        Ok(out)
    })
    .await?;
    save_profile(profiles, target, profile.clone(), secrets, &[]).await?;
    Ok(profile)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keychain::MemoryStore;

    #[test]
    fn a_pasted_address_without_a_code_names_the_fix() {
        let e = check_pasted("https://example.com/").unwrap_err();
        assert_eq!(e.code, Code::UsageError);
        assert!(e
            .detail
            .unwrap()
            .starts_with("pasted address: paste the whole address"));
        assert!(check_pasted("http://127.0.0.1:8765/callback?code=a&state=b").is_ok());
        assert!(check_pasted("http://127.0.0.1:8765/callback?error=access_denied&state=b").is_ok());
    }

    #[tokio::test]
    async fn overwriting_a_profile_leaves_no_stale_entry() {
        let dir = tempfile::tempdir().unwrap();
        let profiles = ProfileStore::new(dir.path());
        let store = Arc::new(MemoryStore::default());
        let mut p = Profile {
            name: "prod".into(),
            instance: "acme".into(),
            auth: AuthMethod::OauthPassword,
            username: Some("svc".into()),
            client_id: Some("cid".into()),
            ..Profile::default()
        };
        let both = vec![
            (crate::connection::PASSWORD, Secret::new("pw")),
            (crate::connection::CLIENT_SECRET, Secret::new("cs")),
            (crate::token::REFRESH_TOKEN, Secret::new("rt")),
        ];
        save_profile(&profiles, store.clone(), p.clone(), both, &[])
            .await
            .unwrap();
        p.auth = AuthMethod::OauthCodePkce;
        p.username = None;
        save_profile(&profiles, store.clone(), p, Vec::new(), &[])
            .await
            .unwrap();
        for acct in all_entries("prod") {
            assert_eq!(store.get(&acct).unwrap(), None, "{acct} was left behind");
        }
        assert_eq!(
            profiles.get("prod").unwrap().auth,
            AuthMethod::OauthCodePkce
        );
    }
}
