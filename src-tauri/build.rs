// The root is the tauri dir (layout C), so the root tauri.conf.json is found by default.
// The app manifest makes the IPC surface explicit: each command needs `allow-<command>`
// in a capability (src-tauri/capabilities/default.json), or the window cannot call it.
fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .capabilities_path_pattern("./src-tauri/capabilities/**/*")
            .app_manifest(tauri_build::AppManifest::new().commands(&[
                "app_info",
                "ui_ready",
                "start_demo",
                "list_connections",
                "test_saved",
                "test_all_saved",
                "refresh_saved",
                "revoke_saved",
                "reset_saved",
                "delete_saved",
                "saved_report",
                "edit_saved",
                "export_report",
                "export_connections",
                "import_connections",
                "basic_auth_inventory",
                "reset_wizard",
                "preview_instance",
                "set_instance",
                "run_preflight",
                "manual_checklist",
                "registration_guide",
                "create_endpoint",
                "remove_endpoint",
                "check_redirects",
                "set_credentials",
                "begin_sign_in",
                "paste_redirect",
                "cancel_sign_in",
                "finish_sign_in",
                "save_connection",
                "copy_handoff_secret",
            ])),
    )
    .expect("failed to run tauri-build");
}
