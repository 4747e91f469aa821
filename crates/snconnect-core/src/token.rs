//! The token lifecycle: keep, refresh, renew, revoke and reset the tokens of one connection.
//!
//! Rules (issue 4, `peers-and-failures.md` §3 #10 and #15):
//! - the access token is refreshed `margin` (default 60 s) **before** it expires;
//! - refresh is **single-flight**: the state sits behind one async mutex held across the
//!   refresh request, so fifty callers that find an expired token cause exactly one refresh and
//!   all get the new token;
//! - when a refresh response carries no refresh token, the old one is kept (ServiceNow returns
//!   only an access token); its own expiry (default 100 days from the grant, per profile) is
//!   tracked and never extended by a refresh, because ServiceNow does not extend it;
//! - a caller whose API call still gets 401 asks for one forced refresh and retries once
//!   ([`TokenManager::with_token`]);
//! - grants that need no person (client credentials, the password grant with a stored
//!   password) are simply renewed when no refresh token can help;
//! - revoke = server-side revocation of the refresh and access tokens, then a local reset.
//!
//! Tokens live in the [`SecretStore`] (the OS keychain, one entry each:
//! `<profile>/access_token`, `<profile>/refresh_token`); only times and flags
//! ([`TokenMeta`]) go in the profile file.

use crate::error::{Code, Diagnosis};
use crate::keychain::{account, blocking, SecretStore};
use crate::oauth::{ClientRegistration, TokenKind, TokenSet};
use crate::profiles::{ProfileStore, TokenMeta};
use crate::secret::Secret;
use serde::Serialize;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::Mutex;

/// ServiceNow's default Refresh Token Lifespan: 8,640,000 s = 100 days.
pub const DEFAULT_REFRESH_LIFESPAN: u64 = 8_640_000;
/// Refresh this long before the access token expires.
pub const DEFAULT_MARGIN: Duration = Duration::from_secs(60);
/// "Expires soon" when the refresh token has less than this left (Automate365 warns 15 days ahead).
pub const EXPIRES_SOON: Duration = Duration::from_secs(15 * 24 * 3600);

pub const ACCESS_TOKEN: &str = "access_token";
pub const REFRESH_TOKEN: &str = "refresh_token";

/// Seconds since the UNIX epoch, now.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn to_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// What a person sees on the dashboard for a connection's tokens.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenStatus {
    /// Usable now, or renewable without the user.
    Connected,
    /// Usable, but the refresh token ends within [`EXPIRES_SOON`]: plan a re-consent.
    ExpiresSoon,
    /// The access token has expired and nothing can renew it without the user.
    Expired,
    /// No usable grant: sign in again (`login`; a consent for the code flows).
    NeedsReauth,
}

impl TokenStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenStatus::Connected => "connected",
            TokenStatus::ExpiresSoon => "expires_soon",
            TokenStatus::Expired => "expired",
            TokenStatus::NeedsReauth => "needs_reauth",
        }
    }
}

/// The status for `meta` at `now`. `renewable` = a new grant needs no person (client
/// credentials, or the password grant with a stored password).
pub fn status_of(meta: Option<&TokenMeta>, now: u64, renewable: bool) -> TokenStatus {
    // No tokens at all (never signed in, or revoked/reset): `login` is needed, even for grants
    // that could renew by themselves; a revoked connection must not look connected.
    let Some(m) = meta.filter(|m| m.has_access_token || m.has_refresh_token) else {
        return TokenStatus::NeedsReauth;
    };
    if m.has_refresh_token {
        return match m.refresh_expires_at {
            Some(t) if t <= now => {
                if renewable {
                    TokenStatus::Connected
                } else {
                    TokenStatus::NeedsReauth
                }
            }
            Some(t) if t - now < EXPIRES_SOON.as_secs() && !renewable => TokenStatus::ExpiresSoon,
            _ => TokenStatus::Connected,
        };
    }
    match m.access_expires_at {
        Some(t) if t <= now && !renewable => TokenStatus::Expired,
        _ => TokenStatus::Connected,
    }
}

/// Whether `recorded` describes a later access token expiry than `held` (same tokens).
fn newer_expiry(recorded: &TokenMeta, held: &TokenMeta) -> bool {
    recorded.has_access_token == held.has_access_token
        && recorded.access_expires_at.unwrap_or(0) > held.access_expires_at.unwrap_or(0)
}

/// An access token is held with more than `ahead` left (or no known expiry).
fn fresh_for(held: &Held, ahead: Duration) -> bool {
    held.access.is_some()
        && match held.meta.access_expires_at {
            Some(t) => t > now_secs() + ahead.as_secs(),
            None => true,
        }
}

/// How to get a new grant without the user, when refreshing is not possible.
#[derive(Debug, Clone)]
pub enum Renewal {
    /// Only a refresh token can help (authorization code flows).
    None,
    ClientCredentials,
    Password {
        username: String,
        password: Secret,
    },
}

#[derive(Debug, Default)]
struct Held {
    access: Option<Secret>,
    refresh: Option<Secret>,
    meta: TokenMeta,
}

/// The tokens of one connection, with the lifecycle rules in the module docs.
pub struct TokenManager {
    profile: String,
    reg: ClientRegistration,
    renewal: Renewal,
    http: reqwest::Client,
    store: Arc<dyn SecretStore>,
    margin: Duration,
    refresh_lifespan: u64,
    held: Mutex<Held>,
    refreshes: AtomicUsize,
    /// The profile file when the tokens are shared with other processes (the keychain):
    /// every refresh then runs under the profile's cross-process refresh lock, re-reads what
    /// another process may have stored meanwhile, and records the new token facts before the
    /// lock is released.
    shared: Option<ProfileStore>,
    /// Tokens live for this run only (`--no-keychain`): with none held, a grant that needs no
    /// person (password, client credentials) is obtained instead of asking for a login.
    run_only: bool,
}

/// What a renewal must achieve (decided again after waiting for another process).
enum Need<'a> {
    /// An access token with more than the margin left.
    Fresh,
    /// An access token with more than this left (background care renews ahead of time).
    FreshFor(Duration),
    /// Any access token other than this one (it just got a 401).
    NotStale(&'a Secret),
    /// A new token whatever is held (`token refresh`).
    Always,
}

impl std::fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenManager")
            .field("profile", &self.profile)
            .field("store", &self.store.kind())
            .finish_non_exhaustive()
    }
}

impl TokenManager {
    /// Loads what the store holds for `profile`. `meta` comes from the profile file.
    #[allow(clippy::too_many_arguments)]
    pub async fn load(
        profile: &str,
        reg: ClientRegistration,
        renewal: Renewal,
        http: reqwest::Client,
        store: Arc<dyn SecretStore>,
        meta: Option<TokenMeta>,
        refresh_lifespan: Option<u64>,
        margin: Duration,
    ) -> Result<TokenManager, Diagnosis> {
        let (s, p) = (store.clone(), profile.to_string());
        let (access, refresh) = blocking(move || {
            Ok((
                s.get(&account(&p, ACCESS_TOKEN))?,
                s.get(&account(&p, REFRESH_TOKEN))?,
            ))
        })
        .await?;
        let mut meta = meta.unwrap_or_default();
        meta.has_access_token = access.is_some();
        meta.has_refresh_token = refresh.is_some();
        Ok(TokenManager {
            profile: profile.to_string(),
            reg,
            renewal,
            http,
            store,
            margin,
            refresh_lifespan: refresh_lifespan.unwrap_or(DEFAULT_REFRESH_LIFESPAN),
            held: Mutex::new(Held {
                access,
                refresh,
                meta,
            }),
            refreshes: AtomicUsize::new(0),
            shared: None,
            run_only: false,
        })
    }

    /// Shares the tokens with other processes through `profiles` (see the `shared` field).
    pub fn share_with(&mut self, profiles: ProfileStore) {
        self.shared = Some(profiles);
    }

    /// The tokens are kept for this run only (see the `run_only` field).
    pub fn run_only(&mut self) {
        self.run_only = true;
    }

    fn fresh(&self, held: &Held) -> bool {
        fresh_for(held, self.margin)
    }

    fn satisfied(&self, held: &Held, need: &Need<'_>) -> bool {
        match need {
            Need::Fresh => self.fresh(held),
            Need::FreshFor(ahead) => fresh_for(held, *ahead),
            Need::NotStale(stale) => held.access.as_ref().is_some_and(|t| t != *stale),
            Need::Always => false,
        }
    }

    /// Adopts the tokens another process stored since we loaded ours (read under the lock).
    async fn reload(&self, held: &mut Held, profiles: &ProfileStore) -> Result<(), Diagnosis> {
        let (s, p) = (self.store.clone(), self.profile.clone());
        let (access, refresh) = blocking(move || {
            Ok((
                s.get(&account(&p, ACCESS_TOKEN))?,
                s.get(&account(&p, REFRESH_TOKEN))?,
            ))
        })
        .await?;
        let recorded = profiles.get(&self.profile).ok().and_then(|p| p.tokens);
        if access == held.access && refresh == held.refresh {
            // The same tokens, but maybe facts older than them: `open` reads the profile file
            // before the keychain, so a renewal that finished in between left us the new
            // tokens with the old expiry. Every renewer records its facts under this lock.
            if let Some(meta) = recorded.filter(|m| newer_expiry(m, &held.meta)) {
                held.meta = meta;
            }
            return Ok(());
        }
        let meta = recorded.unwrap_or_default();
        tracing::info!(profile = %self.profile, "another process renewed the tokens; using them");
        held.meta = TokenMeta {
            has_access_token: access.is_some(),
            has_refresh_token: refresh.is_some(),
            ..meta
        };
        held.access = access;
        held.refresh = refresh;
        Ok(())
    }

    /// Renews unless `need` is met, under the cross-process refresh lock when shared.
    async fn renew_for(&self, held: &mut Held, need: Need<'_>) -> Result<(), Diagnosis> {
        let Some(profiles) = &self.shared else {
            return self.renew(held).await;
        };
        let _lock = crate::lock::acquire_async(
            &profiles.refresh_lock_path(&self.profile),
            crate::lock::wait_from_env(),
            "the token refresh",
        )
        .await?;
        self.reload(held, profiles).await?;
        if self.satisfied(held, &need) {
            return Ok(());
        }
        self.renew(held).await?;
        // Recorded before the lock is released, so the next process sees the new expiry.
        match profiles.set_tokens(&self.profile, Some(held.meta)) {
            Ok(()) => Ok(()),
            // A profile removed meanwhile: the tokens are still ours for this run.
            Err(d) if d.code == Code::UsageError => Ok(()),
            Err(d) => Err(d),
        }
    }

    /// The token facts to record in the profile.
    pub async fn meta(&self) -> TokenMeta {
        self.held.lock().await.meta
    }

    /// The status now.
    pub async fn status(&self) -> TokenStatus {
        let held = self.held.lock().await;
        status_of(Some(&held.meta), now_secs(), self.renewable())
    }

    /// How many refresh or renewal requests this manager has sent.
    pub fn refresh_count(&self) -> usize {
        self.refreshes.load(Ordering::SeqCst)
    }

    fn renewable(&self) -> bool {
        !matches!(self.renewal, Renewal::None)
    }

    /// Stores a fresh grant (after a login): replaces both tokens, or keeps the old refresh
    /// token (with its expiry) when the grant brought none and one is held.
    pub async fn store_grant(&self, tokens: TokenSet) -> Result<TokenMeta, Diagnosis> {
        let mut held = self.held.lock().await;
        self.put(&mut held, tokens, true).await?;
        Ok(held.meta)
    }

    /// A valid access token: the held one while it has more than `margin` left, else a
    /// refreshed or renewed one. Concurrent callers share one refresh.
    pub async fn access_token(&self) -> Result<Secret, Diagnosis> {
        let mut held = self.held.lock().await;
        if !self.fresh(&held) {
            self.renew_for(&mut held, Need::Fresh).await?;
        }
        held.access
            .clone()
            .ok_or_else(|| Diagnosis::new(Code::AccessTokenRejected))
    }

    /// Renews ahead of time: a token with less than `ahead` left is refreshed now (under the
    /// cross-process lock when shared), one with more is left alone. For background care.
    pub async fn ensure_valid_for(&self, ahead: Duration) -> Result<TokenMeta, Diagnosis> {
        let mut held = self.held.lock().await;
        if !fresh_for(&held, ahead) {
            self.renew_for(&mut held, Need::FreshFor(ahead)).await?;
        }
        Ok(held.meta)
    }

    /// Forces a refresh unless another caller already replaced `stale` (the token that just
    /// got a 401). Returns the token to retry with.
    pub async fn refresh_after_rejection(&self, stale: &Secret) -> Result<Secret, Diagnosis> {
        let mut held = self.held.lock().await;
        if !self.satisfied(&held, &Need::NotStale(stale)) {
            self.renew_for(&mut held, Need::NotStale(stale)).await?;
        }
        held.access
            .clone()
            .ok_or_else(|| Diagnosis::new(Code::AccessTokenRejected))
    }

    /// Refresh now, whatever the expiry (`token refresh`).
    pub async fn refresh_now(&self) -> Result<TokenMeta, Diagnosis> {
        let mut held = self.held.lock().await;
        self.renew_for(&mut held, Need::Always).await?;
        Ok(held.meta)
    }

    /// Runs `call` with a valid token; on `access_token_rejected` (401) refreshes once and
    /// retries once.
    pub async fn with_token<T, F, Fut>(&self, call: F) -> Result<T, Diagnosis>
    where
        F: Fn(Secret) -> Fut,
        Fut: Future<Output = Result<T, Diagnosis>>,
    {
        let token = self.access_token().await?;
        match call(token.clone()).await {
            Err(d) if d.code == Code::AccessTokenRejected => {
                tracing::info!(profile = %self.profile, "401 with a current token: refreshing once and retrying");
                let retry = self.refresh_after_rejection(&token).await?;
                call(retry).await
            }
            other => other,
        }
    }

    /// Server-side revocation of the refresh token and the access token, then a local reset.
    /// A failed revocation leaves everything in place and says why.
    pub async fn revoke(&self) -> Result<(), Diagnosis> {
        let mut held = self.held.lock().await;
        if let Some(rt) = held.refresh.clone() {
            self.reg.revoke(&self.http, &rt, TokenKind::Refresh).await?;
        }
        if let Some(at) = held.access.clone() {
            // After the refresh token, the access token may already be gone server-side;
            // some servers then refuse the second call, which changes nothing for the user.
            if let Err(d) = self.reg.revoke(&self.http, &at, TokenKind::Access).await {
                if held.refresh.is_none() {
                    return Err(d);
                }
                tracing::info!(code = %d.code, "access token revocation after the refresh token was refused");
            }
        }
        self.clear(&mut held).await
    }

    /// Local reset: forget both tokens here (nothing is sent to the server).
    pub async fn reset(&self) -> Result<(), Diagnosis> {
        let mut held = self.held.lock().await;
        self.clear(&mut held).await
    }

    async fn clear(&self, held: &mut Held) -> Result<(), Diagnosis> {
        let (s, p) = (self.store.clone(), self.profile.clone());
        blocking(move || {
            s.delete(&account(&p, ACCESS_TOKEN))?;
            s.delete(&account(&p, REFRESH_TOKEN))
        })
        .await?;
        *held = Held::default();
        Ok(())
    }

    /// Refresh with the refresh token (unless it is known to have expired), else renew the
    /// grant when no person is needed, else say what the user must do.
    async fn renew(&self, held: &mut Held) -> Result<(), Diagnosis> {
        let now = now_secs();
        // Nothing held: never signed in, or revoked/reset. Getting a grant is an explicit
        // step (login), even for grants that need no person: a revoked connection must not
        // quietly come back.
        // For this run only there is nothing to come back from: a grant that needs no person
        // is simply obtained.
        if held.access.is_none() && held.refresh.is_none() && !(self.run_only && self.renewable()) {
            return Err(Diagnosis::new(Code::RefreshTokenExpired).with_detail(format!(
                "no tokens are stored for {} (never signed in, or revoked or reset): sign in again (snconnect login {})",
                self.profile, self.profile
            )));
        }
        let refresh_usable =
            held.refresh.is_some() && held.meta.refresh_expires_at.is_none_or(|t| t > now);
        if refresh_usable {
            let rt = held.refresh.clone().expect("checked above");
            self.refreshes.fetch_add(1, Ordering::SeqCst);
            match self.reg.refresh(&self.http, &rt).await {
                Ok(tokens) => return self.put(held, tokens, false).await,
                Err(d) if d.code == Code::RefreshTokenExpired && self.renewable() => {
                    tracing::info!("refresh token refused; renewing the grant");
                }
                Err(d) => return Err(d),
            }
        }
        let tokens = match &self.renewal {
            Renewal::ClientCredentials => {
                self.refreshes.fetch_add(1, Ordering::SeqCst);
                self.reg.client_credentials(&self.http).await?
            }
            Renewal::Password { username, password } => {
                self.refreshes.fetch_add(1, Ordering::SeqCst);
                self.reg
                    .password_grant(&self.http, username, password)
                    .await?
            }
            Renewal::None if held.refresh.is_some() => {
                let expired = held.meta.refresh_expires_at.unwrap_or(now);
                return Err(Diagnosis::new(Code::RefreshTokenExpired).with_detail(format!(
                    "the refresh token's lifespan ended {} s ago (recorded locally; nothing was sent)",
                    now.saturating_sub(expired)
                )));
            }
            Renewal::None => return Err(Diagnosis::new(Code::RefreshTokenExpired).with_detail(
                "no refresh token is stored for this connection: sign in again (snconnect login)",
            )),
        };
        self.put(held, tokens, true).await
    }

    /// Stores tokens from a grant (`new_grant`) or a refresh.
    async fn put(&self, held: &mut Held, t: TokenSet, new_grant: bool) -> Result<(), Diagnosis> {
        let now = now_secs();
        let rotated = match (&t.refresh_token, &held.refresh) {
            (Some(new), Some(old)) => new != old,
            (Some(_), None) => true,
            (None, _) => false,
        };
        let refresh = t.refresh_token.clone().or_else(|| held.refresh.clone());
        let (s, p, access) = (
            self.store.clone(),
            self.profile.clone(),
            t.access_token.clone(),
        );
        let refresh_to_store = if rotated {
            t.refresh_token.clone()
        } else {
            None
        };
        blocking(move || {
            s.set(&account(&p, ACCESS_TOKEN), &access)?;
            if let Some(rt) = refresh_to_store {
                s.set(&account(&p, REFRESH_TOKEN), &rt)?;
            }
            Ok(())
        })
        .await?;
        let refresh_expires_at = if refresh.is_none() {
            None
        } else if rotated || new_grant {
            // A new refresh token, or a new grant (ServiceNow returns the same refresh token
            // to a non-refresh token request and extends its expiry, KB0791140): its lifespan
            // starts now. A refresh does not extend it, so then it stays where the grant put it.
            Some(now + self.refresh_lifespan)
        } else {
            held.meta.refresh_expires_at
        };
        held.meta = TokenMeta {
            obtained_at: if new_grant || rotated {
                now
            } else {
                held.meta.obtained_at
            },
            access_expires_at: t.expires_at.map(to_secs),
            refresh_expires_at,
            has_access_token: true,
            has_refresh_token: refresh.is_some(),
        };
        held.access = Some(t.access_token);
        held.refresh = refresh;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(access: Option<u64>, refresh: Option<u64>, has_refresh: bool) -> TokenMeta {
        TokenMeta {
            obtained_at: 0,
            access_expires_at: access,
            refresh_expires_at: refresh,
            has_access_token: true,
            has_refresh_token: has_refresh,
        }
    }

    #[test]
    fn status_rules() {
        let now = 1_000_000_000;
        let day = 24 * 3600;
        assert_eq!(status_of(None, now, false), TokenStatus::NeedsReauth);
        assert_eq!(status_of(None, now, true), TokenStatus::NeedsReauth);
        // Refresh token with 100 days left: connected even when the access token expired.
        let m = meta(Some(now - 1), Some(now + 100 * day), true);
        assert_eq!(status_of(Some(&m), now, false), TokenStatus::Connected);
        // Less than 15 days left on the refresh token.
        let m = meta(Some(now + 100), Some(now + 3 * day), true);
        assert_eq!(status_of(Some(&m), now, false), TokenStatus::ExpiresSoon);
        // Refresh token lifespan over.
        let m = meta(Some(now + 100), Some(now - 1), true);
        assert_eq!(status_of(Some(&m), now, false), TokenStatus::NeedsReauth);
        // No refresh token (client credentials): expiry of the access token decides, unless
        // the grant can be renewed without a person.
        let m = meta(Some(now - 1), None, false);
        assert_eq!(status_of(Some(&m), now, false), TokenStatus::Expired);
        assert_eq!(status_of(Some(&m), now, true), TokenStatus::Connected);
        let m = meta(Some(now + 10), None, false);
        assert_eq!(status_of(Some(&m), now, false), TokenStatus::Connected);
        assert_eq!(TokenStatus::ExpiresSoon.as_str(), "expires_soon");
    }
}
