//! The snconnect desktop app: a thin Tauri shell over `snconnect-core`.
//!
//! This is the only crate that knows about Tauri and IPC. Commands (commands.rs) translate
//! between the window and the core; they return DTOs that never contain a token or a secret,
//! and errors as `{code, message, remediation, detail}` with the core's stable codes.
//! All HTTP happens here in Rust; the window has no network access (see the CSP).

#[cfg(test)]
mod bindings;
mod care;
mod commands;
mod demo;
mod dto;
mod state;

use clap::Parser;
use tauri::Manager;

/// Command-line options of the desktop app.
#[derive(Parser, Debug, Clone)]
#[command(name = "snconnect-app", version, about = "snconnect desktop wizard")]
pub struct AppOptions {
    /// Instance to prefill in the wizard.
    #[arg(
        long,
        env = "SNCONNECT_INSTANCE",
        value_name = "URL",
        conflicts_with = "demo"
    )]
    pub instance: Option<String>,
    /// Start the simulated instance (snsim) at once (demo mode). Without it the demo starts
    /// only when "Try the demo instance" is chosen on the start screen.
    #[arg(long)]
    pub demo: bool,
    /// Loopback port for the OAuth redirect (register http://127.0.0.1:PORT/callback).
    #[arg(long, env = "SNCONNECT_REDIRECT_PORT", value_name = "N", default_value_t = snconnect_core::loopback::DEFAULT_REDIRECT_PORT)]
    pub redirect_port: u16,
    /// How long a browser sign-in may take, in seconds.
    #[arg(long, env = "SNCONNECT_CONSENT_TIMEOUT", value_name = "SECONDS", default_value_t = snconnect_core::signin::DEFAULT_CONSENT_TIMEOUT.as_secs())]
    pub consent_timeout: u64,
    /// Extra trusted CA certificate (PEM).
    #[arg(long, env = "SNCONNECT_CA_FILE", value_name = "PEM")]
    pub ca_file: Option<std::path::PathBuf>,
}

/// The app's log file: `<platform data dir>/dev.snconnect.app/logs/snconnect-app.log` (where
/// Tauri puts app logs; `~/.local/share/…` on Linux), appended to, beside stderr. The same
/// rule as the CLI's logs: secrets are `Secret`s, whose `Debug` is redacted, and no code, token
/// or password is ever a log field.
pub fn log_file() -> Option<std::path::PathBuf> {
    let base = directories::BaseDirs::new()?;
    Some(
        base.data_local_dir()
            .join("dev.snconnect.app")
            .join("logs")
            .join("snconnect-app.log"),
    )
}

/// When the process started (for the "window interactive" log line).
pub(crate) static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

fn init_logging() {
    use tracing_subscriber::fmt::writer::MakeWriterExt;
    let filter = tracing_subscriber::EnvFilter::try_from_env("SNCONNECT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let file = log_file().and_then(|path| {
        std::fs::create_dir_all(path.parent()?).ok()?;
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .ok()
    });
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match file {
        Some(f) => builder
            .with_ansi(false)
            .with_writer(std::io::stderr.and(std::sync::Mutex::new(f)))
            .init(),
        None => builder.with_writer(std::io::stderr).init(),
    }
}

#[cfg_attr(mobile, tauri::mobile_entry_point)]
pub fn run() {
    let _ = STARTED.set(std::time::Instant::now());
    init_logging();
    let opts = match AppOptions::try_parse() {
        Ok(o) => o,
        Err(e) => e.exit(),
    };
    let demo = opts.demo;
    let state = match tauri::async_runtime::block_on(async {
        let state = state::AppState::new(opts).await?;
        if demo {
            commands::start_demo_in(&state).await?;
        }
        Ok::<_, snconnect_core::Diagnosis>(state)
    }) {
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
        // First, as its docs ask: a second launch focuses this window and exits.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            tracing::info!("second launch: focusing the running window");
            if let Some(w) = app.get_webview_window("main") {
                let _ = w.unminimize();
                let _ = w.show();
                let _ = w.set_focus();
            }
        }))
        // Size and position remembered between runs.
        .plugin(tauri_plugin_window_state::Builder::default().build())
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_clipboard_manager::init())
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_dialog::init())
        .manage(state)
        // Tokens of saved connections renewed before they expire while the app runs.
        .setup(|app| {
            care::start(app.handle().clone());
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::app_info,
            commands::ui_ready,
            commands::start_demo,
            commands::saved::list_connections,
            commands::saved::test_saved,
            commands::saved::test_all_saved,
            commands::saved::refresh_saved,
            commands::saved::revoke_saved,
            commands::saved::reset_saved,
            commands::saved::delete_saved,
            commands::saved::saved_report,
            commands::edit::edit_saved,
            commands::inventory::basic_auth_inventory,
            commands::files::export_report,
            commands::files::export_connections,
            commands::files::import_connections,
            commands::reset_wizard,
            commands::instance::preview_instance,
            commands::instance::set_instance,
            commands::instance::run_preflight,
            commands::instance::manual_checklist,
            commands::register::registration_guide,
            commands::register::create_endpoint,
            commands::register::remove_endpoint,
            commands::register::check_redirects,
            commands::signin::set_credentials,
            commands::signin::begin_sign_in,
            commands::signin::paste_redirect,
            commands::signin::cancel_sign_in,
            commands::signin::finish_sign_in,
            commands::save::save_connection,
            commands::save::copy_handoff_secret,
        ])
        .run(tauri::generate_context!())
        .expect("error while running the snconnect window");
}
