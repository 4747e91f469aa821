//! The browser consent flow, shared by the CLI (`login`, `verify`) and the desktop wizard.
//!
//! [`begin_consent`] binds the loopback listener, builds the authorize URL, starts waiting for
//! the redirect at once (so a `$BROWSER` command that blocks until its page loads cannot
//! deadlock us) and opens the browser. [`PendingConsent::finish`] waits for the code and
//! exchanges it. Dropping a `PendingConsent` cancels it and frees the port.

use crate::browser::BrowserLauncher;
use crate::conn_test::Check;
use crate::error::{Code, Diagnosis};
use crate::loopback::CallbackListener;
use crate::oauth::{ClientRegistration, TokenSet};
use crate::secret::Secret;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// How long a browser launcher may take before we call it "launched" and move on.
const BROWSER_LAUNCH_GRACE: Duration = Duration::from_millis(1500);

#[derive(Debug, Clone)]
pub struct ConsentOptions {
    /// The registered port first, then registered fallbacks.
    pub ports: Vec<u16>,
    /// PKCE S256 (public clients).
    pub pkce: bool,
    /// How long to wait for the browser to come back.
    pub timeout: Duration,
}

/// A consent in progress.
pub struct PendingConsent {
    pub authorize_url: url::Url,
    pub redirect_url: String,
    /// `Ok` when a browser was launched (not proof a window is showing).
    pub browser: Result<(), Diagnosis>,
    state_len: usize,
    pkce_verifier: Option<Secret>,
    waiter: JoinHandle<Result<Secret, Diagnosis>>,
    cancel: Option<oneshot::Sender<()>>,
    paste: mpsc::Sender<String>,
    started: Instant,
}

impl std::fmt::Debug for PendingConsent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingConsent")
            .field("redirect_url", &self.redirect_url)
            .field("browser", &self.browser)
            .field("state_len", &self.state_len)
            .finish_non_exhaustive()
    }
}

/// A cancel switch for a pending consent, usable from another task (the UI's Cancel button).
pub struct CancelConsent(oneshot::Sender<()>);

impl CancelConsent {
    pub fn cancel(self) {
        let _ = self.0.send(());
    }
}

pub async fn begin_consent(
    reg: &ClientRegistration,
    opts: &ConsentOptions,
    browser: Arc<dyn BrowserLauncher>,
) -> Result<PendingConsent, Diagnosis> {
    let listener = CallbackListener::bind_first(&opts.ports).await?;
    let req = reg.authorize_request(&listener.redirect_url(), opts.pkce)?;
    let (cancel_tx, cancel_rx) = oneshot::channel::<()>();
    let (paste_tx, paste_rx) = mpsc::channel::<String>(4);
    let state = req.state.clone();
    let timeout = opts.timeout;
    let waiter = tokio::spawn(async move {
        listener
            .wait(
                &state,
                timeout,
                async {
                    let _ = cancel_rx.await;
                },
                paste_rx,
            )
            .await
    });
    let url = req.url.to_string();
    let open = tokio::task::spawn_blocking(move || browser.open(&url));
    let browser = match tokio::time::timeout(BROWSER_LAUNCH_GRACE, open).await {
        Ok(Ok(result)) => result,
        Ok(Err(join)) => {
            Err(Diagnosis::new(Code::BrowserUnavailable).with_detail(join.to_string()))
        }
        // Still running: a launcher that waits for its browser. It was launched.
        Err(_) => Ok(()),
    };
    tracing::info!(redirect = %req.redirect_url, browser_opened = browser.is_ok(), "consent started");
    Ok(PendingConsent {
        authorize_url: req.url,
        redirect_url: req.redirect_url,
        browser,
        state_len: req.state.expose().len(),
        pkce_verifier: req.pkce_verifier,
        waiter,
        cancel: Some(cancel_tx),
        paste: paste_tx,
        started: Instant::now(),
    })
}

impl PendingConsent {
    /// A sender for the paste fallback: a URL the browser was redirected to (copied from its
    /// address bar when it could not reach the loopback listener) completes the sign-in as if
    /// the browser had reached us. The `state` is checked the same way.
    pub fn paste_sender(&self) -> mpsc::Sender<String> {
        self.paste.clone()
    }

    /// Takes the cancel switch (once).
    pub fn cancel_switch(&mut self) -> Option<CancelConsent> {
        self.cancel.take().map(CancelConsent)
    }

    /// Waits for the browser, then exchanges the code. Returns the tokens and two checks
    /// (`consent`, `token`) for reports.
    pub async fn finish(
        self,
        http: &reqwest::Client,
        reg: &ClientRegistration,
    ) -> Result<(TokenSet, Vec<Check>), (Diagnosis, Vec<Check>)> {
        self.finish_with(http, reg, &mut |_| {}).await
    }

    /// [`finish`](Self::finish), telling `on_check` about each check as it completes.
    pub async fn finish_with(
        mut self,
        http: &reqwest::Client,
        reg: &ClientRegistration,
        on_check: &mut (dyn FnMut(&Check) + Send),
    ) -> Result<(TokenSet, Vec<Check>), (Diagnosis, Vec<Check>)> {
        // Keep the cancel sender alive while waiting unless someone took it.
        let _keep = self.cancel.take();
        let waited = match (&mut self.waiter).await {
            Ok(r) => r,
            Err(join) => Err(Diagnosis::new(Code::Cancelled).with_detail(join.to_string())),
        };
        let consent_ms = self.started.elapsed().as_millis() as u64;
        let mut checks = vec![Check {
            name: "consent".into(),
            ok: waited.is_ok(),
            code: waited.as_ref().err().map(|d| d.code).unwrap_or(Code::Ok),
            ms: consent_ms,
        }];
        on_check(&checks[0]);
        let code = match waited {
            Ok(code) => code,
            Err(d) => return Err((d, checks)),
        };
        let started = Instant::now();
        let result = reg
            .exchange_code(http, &code, &self.redirect_url, self.pkce_verifier.as_ref())
            .await
            .map_err(|d| refine_exchange_failure(d, reg));
        let token = Check::new("token", result.as_ref().map(|_| ()), started);
        on_check(&token);
        checks.push(token);
        match result {
            Ok(tokens) => Ok((tokens, checks)),
            Err(d) => Err((d, checks)),
        }
    }
}

/// After a successful consent the instance has accepted the client ID, the redirect URL and the
/// user; a fresh code is exchanged at once with the same redirect URL. So when a confidential
/// client's exchange gets ServiceNow's generic `access_denied`, the client secret is what is left.
fn refine_exchange_failure(d: Diagnosis, reg: &ClientRegistration) -> Diagnosis {
    if d.code == Code::TokenRequestDenied && reg.client_secret.is_some() {
        let detail = format!(
            "{}; the sign-in succeeded, so the client ID is valid and the client secret was refused",
            d.detail.as_deref().unwrap_or("token request refused")
        );
        return Diagnosis::new(Code::InvalidClient).with_detail(detail);
    }
    d
}

impl Drop for PendingConsent {
    fn drop(&mut self) {
        if let Some(tx) = self.cancel.take() {
            let _ = tx.send(());
        }
        self.waiter.abort();
    }
}
