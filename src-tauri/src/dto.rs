//! What crosses IPC: the requests the window sends and the DTOs the commands return.
//!
//! The TypeScript declarations of these types (and of the core types they embed) are generated
//! into `ui/src/gen/ipc.ts` by the `bindings` test; nothing here may hold a `Secret` (it refuses
//! to serialize). Secrets come *in* through the request types as plain strings and are wrapped
//! in `Secret` at once by the commands.

use serde::{Deserialize, Serialize};
use snconnect_core::conn_test::{ApiKeyIn, Check, Identity};
use snconnect_core::parity::ParityReport;
use snconnect_core::presets::HandoffCard;
use snconnect_core::profiles::{AuthMethod, LastTest};
use snconnect_core::register::Created;
use snconnect_core::token::TokenStatus;
use snconnect_core::{Code, Diagnosis};

/// The error every command rejects with; the UI branches on `code`.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct IpcError {
    pub code: Code,
    pub message: String,
    pub remediation: Option<String>,
    /// The field at fault and its fix for usage errors ("client_id: …").
    pub detail: Option<String>,
}

impl From<Diagnosis> for IpcError {
    fn from(d: Diagnosis) -> Self {
        IpcError {
            code: d.code,
            message: d.message,
            remediation: d.remediation,
            detail: d.detail,
        }
    }
}

pub type CmdResult<T> = Result<T, IpcError>;

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct DemoInfo {
    pub instance: String,
    pub admin_username: String,
    pub note: String,
}

/// Which extra input a target preset needs.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PresetNeed {
    None,
    BoomiAccount,
    Region,
    RedirectUrl,
}

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct PresetInfo {
    pub id: String,
    pub name: String,
    pub needs: PresetNeed,
    pub grant: String,
}

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct MethodInfo {
    pub method: AuthMethod,
    pub label: String,
    pub needs_consent: bool,
    /// The credential fields this method uses, in form order.
    pub fields: Vec<String>,
}

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct AppInfo {
    pub version: String,
    pub demo: Option<DemoInfo>,
    /// Whether this build can start the demo instance.
    pub demo_available: bool,
    pub redirect_url: String,
    pub saved_connections: usize,
    pub presets: Vec<PresetInfo>,
    pub methods: Vec<MethodInfo>,
}

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct InstancePreview {
    pub instance: String,
    pub host: String,
}

/// Step 1. Secrets: `None` keeps the one held in memory, `""` forgets it.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Deserialize)]
pub struct InstanceRequest {
    pub instance: String,
    pub target: String,
    pub boomi_account: Option<String>,
    pub region: Option<String>,
    pub target_redirect_urls: Vec<String>,
    pub admin_username: Option<String>,
    pub admin_password: Option<String>,
    pub migrating: bool,
    pub basic_username: Option<String>,
    pub basic_password: Option<String>,
    /// Editing or reconnecting this saved connection: the wizard keeps its other settings
    /// (endpoints, ports, registration) and saves over it.
    pub editing: Option<String>,
}

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct InstanceSet {
    pub instance: String,
    pub host: String,
    pub target_name: String,
    /// What the endpoint must list: the target's callbacks, then snconnect's loopback URL.
    pub redirect_urls: Vec<String>,
    pub has_admin: bool,
    pub admin_username: Option<String>,
    pub has_basic: bool,
    pub basic_username: Option<String>,
}

/// The grant a preflight checks for.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantChoice {
    Code,
    Password,
    ClientCredentials,
}

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct RegistrationGuide {
    pub redirect_urls: Vec<String>,
    pub steps: Vec<String>,
    pub links: Vec<snconnect_core::guide::Link>,
    /// Admin credentials are held, so "Create it for me" can be tried.
    pub can_create: bool,
}

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct CreatedEndpoint {
    pub created: Created,
    pub credentials: CredentialsState,
}

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct RedirectCheck {
    pub url: String,
    /// `None`: this account may not read the registry record.
    pub registered: Option<bool>,
    pub problem: Option<IpcError>,
}

/// Step 4. Secrets: `None` keeps the one held in memory.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Deserialize)]
pub struct CredentialsRequest {
    pub method: AuthMethod,
    pub username: Option<String>,
    pub password: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub api_key: Option<String>,
    pub api_key_param: Option<String>,
    pub api_key_in: Option<ApiKeyIn>,
    pub scope: Option<String>,
}

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct CredentialsState {
    pub method: AuthMethod,
    pub username: Option<String>,
    pub client_id: Option<String>,
    pub api_key_param: Option<String>,
    pub api_key_in: Option<ApiKeyIn>,
    pub scope: Option<String>,
    pub has_password: bool,
    pub has_client_secret: bool,
    pub has_api_key: bool,
    /// The client secret was generated by "Create it for me" and never reached the window.
    pub secret_from_registration: bool,
    pub needs_consent: bool,
}

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct SignInStart {
    pub needs_consent: bool,
    pub authorize_url: Option<String>,
    pub redirect_url: Option<String>,
    pub browser_opened: bool,
    pub browser_error: Option<String>,
    pub timeout_s: u64,
}

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct SignInResult {
    pub ok: bool,
    pub diagnosis: IpcError,
    pub checks: Vec<Check>,
    pub identity: Option<Identity>,
    /// `None` when the connection may not read its own roles.
    pub roles: Option<Vec<String>>,
    pub latency_ms: Option<u64>,
    /// When migrating from basic auth over OAuth: the same reads over both, compared.
    pub parity: Option<ParityReport>,
    /// The redacted support text behind "Copy details".
    pub support_text: String,
}

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct Saved {
    pub name: String,
    /// "keychain" or "session memory".
    pub stored: String,
    pub profile_path: String,
    pub handoff: Option<HandoffCard>,
}

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct SecretCopied {
    pub clear_after_s: u64,
}

/// What the dashboard's badge says about a saved connection.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Badge {
    Connected,
    ExpiresSoon,
    Expired,
    NeedsReauth,
    Failing,
    NotTested,
}

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct ConnectionSummary {
    pub name: String,
    pub instance: String,
    pub method: AuthMethod,
    pub user: Option<String>,
    pub client_id: Option<String>,
    pub badge: Badge,
    /// OAuth only: connected, expires_soon, expired, needs_reauth.
    pub token_status: Option<TokenStatus>,
    pub last_test: Option<LastTest>,
    /// Days the refresh token has left, of `refresh_lifespan_days`.
    pub refresh_days_left: Option<u64>,
    pub refresh_lifespan_days: Option<u64>,
}

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct ConnectionTest {
    pub name: String,
    pub ok: bool,
    pub diagnosis: IpcError,
    pub checks: Vec<Check>,
    pub identity: Option<Identity>,
    pub latency_ms: Option<u64>,
    /// The redacted support text behind "Copy details".
    pub support_text: String,
    pub summary: ConnectionSummary,
}

/// Edit / Reconnect of a saved connection: the wizard, loaded with it. Its secrets are held in
/// Rust (the `has_*` flags say which), never sent here.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct EditStart {
    pub name: String,
    pub instance: InstanceSet,
    pub credentials: CredentialsState,
}

/// The format of an exported support report.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportFormat {
    Markdown,
    Json,
}

/// A file written through the save dialog; `None` from a command means the dialog was cancelled.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct FileWritten {
    pub path: String,
    /// Connections in it (exports), or 1 for a report.
    pub count: usize,
}

/// The connections an import added or replaced.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct Imported {
    pub path: String,
    pub names: Vec<String>,
}

/// The basic-auth inventory's form. `admin_password`: `None` uses the one held for this account.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Deserialize)]
pub struct InventoryRequest {
    pub instance: String,
    pub admin_username: String,
    pub admin_password: Option<String>,
}
