//! A bare Tauri 2 app: one window, one page, one command. `scripts/bench.sh` times it from
//! exec to "window interactive" on stderr and measures its memory, against snconnect.

static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// The page is painted (the same mark snconnect's `ui_ready` logs).
#[tauri::command]
fn ui_ready() {
    let ms = STARTED.get().map_or(0, |t| t.elapsed().as_millis());
    eprintln!("window interactive {ms} ms after start");
}

fn main() {
    let _ = STARTED.set(std::time::Instant::now());
    tauri::Builder::default()
        .invoke_handler(tauri::generate_handler![ui_ready])
        .run(tauri::generate_context!())
        .expect("the hello window runs");
}
