//! The app's state: the HTTP client, the stores, the demo instance (if started) and what the
//! wizard holds between commands. Secrets and tokens stay here, in Rust memory, as `Secret`s.

use crate::AppOptions;
use snconnect_core::conn_test::ApiKeyIn;
use snconnect_core::connection::{AdminCredentials, Connection};
use snconnect_core::http::{build_client, HttpConfig};
use snconnect_core::keychain::{KeyringStore, MemoryStore};
use snconnect_core::presets::Target;
use snconnect_core::profiles::AuthMethod;
use snconnect_core::register::Created;
use snconnect_core::signin::SignIn;
use snconnect_core::verify::CancelConsent;
use snconnect_core::{Diagnosis, InstanceUrl, Secret};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::{mpsc, Mutex};

pub struct AppState {
    pub http: reqwest::Client,
    pub redirect_port: u16,
    pub consent_timeout: std::time::Duration,
    pub config_dir: PathBuf,
    pub keychain: KeyringStore,
    /// "Keep for this run only": the explicit alternative to the keychain.
    pub session: Arc<MemoryStore>,
    pub demo: Mutex<Option<crate::demo::Demo>>,
    pub wizard: Mutex<Wizard>,
    /// Bumped on every secret copy, so only the latest copy's timer clears the clipboard.
    pub clipboard_generation: std::sync::atomic::AtomicU64,
}

/// The credentials step, secrets included (never sent back to the window).
#[derive(Debug, Clone)]
pub struct Creds {
    pub method: AuthMethod,
    pub username: Option<String>,
    pub client_id: Option<String>,
    pub api_key_param: Option<String>,
    pub api_key_in: Option<ApiKeyIn>,
    pub scope: Option<String>,
    pub password: Option<Secret>,
    pub client_secret: Option<Secret>,
    pub api_key: Option<Secret>,
    /// The client (and its secret) came from "Create it for me".
    pub from_registration: bool,
}

/// What the wizard holds between steps.
#[derive(Default)]
pub struct Wizard {
    pub instance: Option<InstanceUrl>,
    pub target: Option<Target>,
    pub admin: Option<AdminCredentials>,
    /// The account being migrated off basic auth (its password, for the parity test).
    pub basic: Option<(String, Secret)>,
    /// Migrating a connection off basic auth: the Test step runs the parity test.
    pub migrating: bool,
    pub creds: Option<Creds>,
    /// The endpoint "Create it for me" made in this window (for "Remove it again").
    pub created: Option<Created>,
    /// A sign-in begun and not yet finished.
    pub signin: Option<SignIn>,
    pub cancel: Option<CancelConsent>,
    pub paste: Option<mpsc::Sender<String>>,
    /// The connection of the latest sign-in (its secrets and tokens in `memory`).
    pub conn: Option<Arc<Connection>>,
    pub memory: Option<Arc<MemoryStore>>,
    /// The name the connection was saved under.
    pub saved: Option<String>,
    /// The saved connection being edited or reconnected (as it was loaded).
    pub editing: Option<snconnect_core::profiles::Profile>,
}

impl Wizard {
    pub fn instance(&self) -> Result<InstanceUrl, Diagnosis> {
        self.instance
            .clone()
            .ok_or_else(|| Diagnosis::usage("instance", "enter the instance first"))
    }

    pub fn admin(&self) -> Result<AdminCredentials, Diagnosis> {
        self.admin.clone().ok_or_else(|| {
            Diagnosis::usage(
                "admin_username",
                "enter an admin account on the Instance step for the automatic checks",
            )
        })
    }

    /// Forgets a sign-in in progress (dropping it frees the loopback port) and its result.
    pub fn drop_sign_in(&mut self) {
        if let Some(c) = self.cancel.take() {
            c.cancel();
        }
        self.signin = None;
        self.paste = None;
        self.conn = None;
        self.memory = None;
        self.saved = None;
    }
}

impl AppState {
    pub async fn new(opts: AppOptions) -> Result<Self, Diagnosis> {
        let mut http_cfg = HttpConfig::default();
        if let Some(ca) = &opts.ca_file {
            http_cfg.add_ca_file(ca)?;
        }
        let mut wizard = Wizard::default();
        if let Some(given) = opts
            .instance
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            wizard.instance = Some(InstanceUrl::parse(given)?);
        }
        let config_dir = snconnect_core::profiles::default_config_dir()?;
        // The same keychain namespace as the CLI uses for this config dir.
        let keychain = KeyringStore::for_config_dir(
            &config_dir,
            snconnect_core::profiles::platform_config_dir().as_deref(),
        );
        Ok(AppState {
            http: build_client(&http_cfg)?,
            redirect_port: opts.redirect_port,
            consent_timeout: std::time::Duration::from_secs(opts.consent_timeout.max(1)),
            config_dir,
            keychain,
            session: Arc::new(MemoryStore::default()),
            demo: Mutex::new(None),
            wizard: Mutex::new(wizard),
            clipboard_generation: Default::default(),
        })
    }
}
