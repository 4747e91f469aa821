//! snconnect-core: everything snconnect does that is worth testing, with no Tauri in sight.
//!
//! The desktop app (`src-tauri/`) and the `snconnect` CLI are thin hosts over this crate.
//! Architecture invariants (see ARCHITECTURE.md):
//! - this crate never depends on tauri, and never on the simulator (only its tests do);
//! - all HTTP goes through [`http::build_client`]: one configured reqwest client, no redirects,
//!   no cookie store, timeouts everywhere;
//! - secrets live in [`secret::Secret`], which redacts `Debug` and refuses to serialize;
//! - every failure is a [`error::Diagnosis`] carrying a stable [`error::Code`].

pub mod browser;
pub mod conn_test;
pub mod connection;
pub mod error;
pub mod guide;
pub mod http;
pub mod instance;
pub mod inventory;
pub mod keychain;
pub mod lock;
pub mod loopback;
pub mod oauth;
pub mod parity;
pub mod preflight;
pub mod presets;
pub mod probe;
pub mod profiles;
pub mod register;
pub mod report;
pub mod secret;
#[cfg(target_os = "linux")]
mod secret_service;
pub mod signin;
pub mod sweep;
pub mod token;
pub mod verify;

pub use error::{Code, Diagnosis};
pub use instance::InstanceUrl;
pub use secret::Secret;
