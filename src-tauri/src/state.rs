//! The app's state: the HTTP client, the demo instance (if any) and the wizard's progress.
//! Secrets and tokens stay here, in Rust memory, as `Secret`s.

use crate::AppOptions;
use snconnect_core::conn_test::Identity;
use snconnect_core::http::{build_client, HttpConfig};
use snconnect_core::keychain::{KeyringStore, MemoryStore};
use snconnect_core::oauth::{ClientRegistration, TokenSet};
use snconnect_core::verify::{CancelConsent, PendingConsent};
use snconnect_core::{Diagnosis, InstanceUrl, Secret};
use std::path::PathBuf;
use std::sync::Arc;

pub struct AppState {
    pub http: reqwest::Client,
    pub redirect_port: u16,
    pub config_dir: PathBuf,
    pub keychain: KeyringStore,
    /// "Keep for this run only": the explicit alternative to the keychain.
    pub session: Arc<MemoryStore>,
    pub demo: Option<Demo>,
    pub wizard: tokio::sync::Mutex<Wizard>,
}

/// The embedded simulator of demo mode. Only exists when no instance was given.
pub struct Demo {
    #[cfg(feature = "demo")]
    _sim: snsim::RunningSim,
}

#[derive(Default)]
pub struct Wizard {
    pub instance: Option<InstanceUrl>,
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    pub public_client: bool,
    pub pending: Option<PendingConsent>,
    pub cancel: Option<CancelConsent>,
    pub tokens: Option<TokenSet>,
    pub identity: Option<Identity>,
}

impl Wizard {
    pub fn registration(&self) -> Result<(InstanceUrl, ClientRegistration), Diagnosis> {
        let instance = self
            .instance
            .clone()
            .ok_or_else(|| Diagnosis::usage("instance", "enter the instance first"))?;
        let client_id = self
            .client_id
            .clone()
            .ok_or_else(|| Diagnosis::usage("client ID", "enter the client ID first"))?;
        let reg = ClientRegistration {
            client_id,
            client_secret: self.client_secret.clone(),
            endpoints: snconnect_core::oauth::Endpoints::servicenow(&instance),
            scope: None,
        };
        Ok((instance, reg))
    }
}

impl AppState {
    pub async fn new(opts: AppOptions) -> Result<Self, Diagnosis> {
        let mut http_cfg = HttpConfig::default();
        if let Some(ca) = &opts.ca_file {
            http_cfg.add_ca_file(ca)?;
        }
        let mut wizard = Wizard::default();
        let demo = match opts
            .instance
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            Some(given) => {
                wizard.instance = Some(InstanceUrl::parse(given)?);
                None
            }
            None => start_demo(&mut wizard, opts.redirect_port).await?,
        };
        let config_dir = snconnect_core::profiles::default_config_dir()?;
        // The same keychain namespace as the CLI uses for this config dir.
        let keychain = KeyringStore::for_config_dir(
            &config_dir,
            snconnect_core::profiles::platform_config_dir().as_deref(),
        );
        Ok(AppState {
            http: build_client(&http_cfg)?,
            redirect_port: opts.redirect_port,
            config_dir,
            keychain,
            session: Arc::new(MemoryStore::default()),
            demo,
            wizard: tokio::sync::Mutex::new(wizard),
        })
    }
}

/// Demo mode: an embedded snsim on loopback. Plain http on 127.0.0.1 so that a person's own
/// browser can sign in without a certificate warning (the core accepts http for loopback only).
#[cfg(feature = "demo")]
async fn start_demo(wizard: &mut Wizard, redirect_port: u16) -> Result<Option<Demo>, Diagnosis> {
    let cfg = snsim::SimConfig {
        tls: false,
        demo_hint: true,
        redirect_urls: vec![snconnect_core::loopback::redirect_url(redirect_port)],
        ..snsim::SimConfig::default()
    };
    let sim = snsim::RunningSim::start(cfg).await.map_err(|e| {
        Diagnosis::new(snconnect_core::Code::InstanceUnavailable)
            .with_detail(format!("demo instance did not start: {e}"))
    })?;
    tracing::info!(instance = %sim.base_url(), "demo mode: simulated ServiceNow instance started");
    wizard.instance = Some(InstanceUrl::parse(sim.base_url().as_str())?);
    wizard.client_id = Some(sim.public_client_id().to_string());
    wizard.public_client = true;
    Ok(Some(Demo { _sim: sim }))
}

#[cfg(not(feature = "demo"))]
async fn start_demo(_wizard: &mut Wizard, _redirect_port: u16) -> Result<Option<Demo>, Diagnosis> {
    tracing::info!("no instance given and demo mode is not built in; the user enters one");
    Ok(None)
}
