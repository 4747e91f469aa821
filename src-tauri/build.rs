// The root is the tauri dir (layout C), so the root tauri.conf.json is found by default.
// The app manifest makes the IPC surface explicit: each command needs `allow-<command>`
// in a capability (src-tauri/capabilities/default.json), or the window cannot call it.
fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .capabilities_path_pattern("./src-tauri/capabilities/**/*")
            .app_manifest(tauri_build::AppManifest::new().commands(&[
                "app_state",
                "set_instance",
                "registration_info",
                "set_client",
                "begin_consent",
                "finish_consent",
                "cancel_consent",
                "save_connection",
            ])),
    )
    .expect("failed to run tauri-build");
}
