//! The snconnect desktop app: a thin Tauri shell over `snconnect-core`.
//!
//! This is the only crate that knows about Tauri and IPC. Commands (commands.rs) translate
//! between the window and the core; they return DTOs that never contain a token or a secret,
//! and errors as `{code, message, remediation, detail}` with the core's stable codes.
//! All HTTP happens here in Rust; the window has no network access (see the CSP).

mod commands;
mod state;

use clap::Parser;

/// Command-line options of the desktop app.
#[derive(Parser, Debug, Clone)]
#[command(name = "snconnect-app", version, about = "snconnect desktop wizard")]
pub struct AppOptions {
    /// Instance to connect to. Without it (and without SNCONNECT_INSTANCE) the app starts in
    /// demo mode against an embedded simulated instance.
    #[arg(long, env = "SNCONNECT_INSTANCE", value_name = "URL")]
    pub instance: Option<String>,
    /// Loopback port for the OAuth redirect (register http://127.0.0.1:PORT/callback).
    #[arg(long, env = "SNCONNECT_REDIRECT_PORT", value_name = "N", default_value_t = snconnect_core::loopback::DEFAULT_REDIRECT_PORT)]
    pub redirect_port: u16,
    /// Extra trusted CA certificate (PEM).
    #[arg(long, env = "SNCONNECT_CA_FILE", value_name = "PEM")]
    pub ca_file: Option<std::path::PathBuf>,
}

#[cfg_attr(mobile, tauri::mobile_entry_point)]
pub fn run() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SNCONNECT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let opts = match AppOptions::try_parse() {
        Ok(o) => o,
        Err(e) => e.exit(),
    };
    let state = match tauri::async_runtime::block_on(state::AppState::new(opts)) {
        Ok(s) => s,
        Err(d) => {
            eprintln!("snconnect: {d}");
            if let Some(fix) = &d.remediation {
                eprintln!("fix: {fix}");
            }
            std::process::exit(2);
        }
    };
    tauri::Builder::default()
        .plugin(tauri_plugin_clipboard_manager::init())
        .manage(state)
        .invoke_handler(tauri::generate_handler![
            commands::app_state,
            commands::set_instance,
            commands::registration_info,
            commands::set_client,
            commands::begin_consent,
            commands::finish_consent,
            commands::cancel_consent,
            commands::save_connection,
        ])
        .run(tauri::generate_context!())
        .expect("error while running the snconnect window");
}
