//! Files the user chooses in the system's save and open dialogs (Tauri's dialog plugin, opened
//! from Rust so the window needs no file-system permission): a connection's support report
//! (Markdown or JSON, redacted), and the connections exported or imported without secrets.

use crate::commands::saved::report_text;
use crate::dto::{CmdResult, FileWritten, Imported, ReportFormat};
use crate::state::AppState;
use snconnect_core::profiles::ProfileStore;
use snconnect_core::Diagnosis;
use std::path::{Path, PathBuf};
use tauri::{AppHandle, State};
use tauri_plugin_dialog::{DialogExt, FilePath};

/// The dialog's answer: `None` when the user cancelled it.
async fn ask(
    app: &AppHandle,
    save: bool,
    title: &str,
    file_name: &str,
    filter: (&str, &str),
) -> Option<PathBuf> {
    let (tx, rx) = tokio::sync::oneshot::channel::<Option<FilePath>>();
    let dialog = app
        .dialog()
        .file()
        .set_title(title)
        .add_filter(filter.0, &[filter.1]);
    if save {
        dialog
            .set_file_name(file_name)
            .save_file(move |p| drop(tx.send(p)));
    } else {
        dialog.pick_file(move |p| drop(tx.send(p)));
    }
    rx.await.ok().flatten().and_then(|p| p.into_path().ok())
}

/// Writes `text` to `path`, naming the file and the fix when it cannot.
pub fn write_file(path: &Path, text: &str) -> Result<(), Diagnosis> {
    std::fs::write(path, text).map_err(|e| {
        Diagnosis::usage(
            "file",
            format!(
                "could not write {}: {e}; choose a folder you may write to",
                path.display()
            ),
        )
    })
}

fn report_name(name: &str, format: ReportFormat) -> String {
    match format {
        ReportFormat::Markdown => format!("snconnect-report-{name}.md"),
        ReportFormat::Json => format!("snconnect-report-{name}.json"),
    }
}

/// "Export support report": a fresh test of the connection, redacted, saved where the user says.
#[tauri::command]
pub async fn export_report(
    app: AppHandle,
    state: State<'_, AppState>,
    name: String,
    format: ReportFormat,
) -> CmdResult<Option<FileWritten>> {
    let text = report_text(&state, &name, format).await?;
    let filter = match format {
        ReportFormat::Markdown => ("Markdown", "md"),
        ReportFormat::Json => ("JSON", "json"),
    };
    let Some(path) = ask(
        &app,
        true,
        "Save the support report",
        &report_name(&name, format),
        filter,
    )
    .await
    else {
        return Ok(None);
    };
    write_file(&path, &text)?;
    tracing::info!(profile = %name, path = %path.display(), "support report exported");
    Ok(Some(FileWritten {
        path: path.display().to_string(),
        count: 1,
    }))
}

/// The export document of every saved connection: no secrets, no token facts.
pub fn export_text(store: &ProfileStore) -> Result<(String, usize), Diagnosis> {
    let doc = store.export(&[])?;
    let text = serde_json::to_string_pretty(&doc).expect("profiles are plain data") + "\n";
    Ok((text, doc.profiles.len()))
}

#[tauri::command]
pub async fn export_connections(
    app: AppHandle,
    state: State<'_, AppState>,
) -> CmdResult<Option<FileWritten>> {
    let (text, count) = export_text(&ProfileStore::new(&state.config_dir))?;
    let Some(path) = ask(
        &app,
        true,
        "Export the saved connections",
        "snconnect-connections.json",
        ("JSON", "json"),
    )
    .await
    else {
        return Ok(None);
    };
    write_file(&path, &text)?;
    tracing::info!(count, path = %path.display(), "connections exported");
    Ok(Some(FileWritten {
        path: path.display().to_string(),
        count,
    }))
}

/// Imports an export file: every profile validated before anything is written, same-named
/// connections replaced; their secrets are added by editing each one (never in the file).
pub fn import_file(store: &ProfileStore, path: &Path) -> Result<Vec<String>, Diagnosis> {
    let bytes = std::fs::read(path)
        .map_err(|e| Diagnosis::usage("file", format!("could not read {}: {e}", path.display())))?;
    store.import(&bytes, &path.display().to_string())
}

#[tauri::command]
pub async fn import_connections(
    app: AppHandle,
    state: State<'_, AppState>,
) -> CmdResult<Option<Imported>> {
    let Some(path) = ask(&app, false, "Import connections", "", ("JSON", "json")).await else {
        return Ok(None);
    };
    let names = import_file(&ProfileStore::new(&state.config_dir), &path)?;
    tracing::info!(count = names.len(), path = %path.display(), "connections imported");
    Ok(Some(Imported {
        path: path.display().to_string(),
        names,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use snconnect_core::profiles::{AuthMethod, Profile, TokenMeta};

    fn profile(name: &str) -> Profile {
        Profile {
            name: name.into(),
            instance: "https://acme.service-now.com".into(),
            auth: AuthMethod::OauthCode,
            client_id: Some("abc".into()),
            tokens: Some(TokenMeta {
                obtained_at: 1,
                has_access_token: true,
                ..TokenMeta::default()
            }),
            ..Profile::default()
        }
    }

    #[test]
    fn an_export_round_trips_without_token_facts_and_a_bad_file_changes_nothing() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let from = ProfileStore::new(a.path());
        from.upsert(profile("one")).unwrap();
        from.upsert(profile("two")).unwrap();
        let (text, count) = export_text(&from).unwrap();
        assert_eq!(count, 2);
        assert!(
            !text.contains("obtained_at"),
            "token facts never leave: {text}"
        );
        let file = a.path().join("export.json");
        write_file(&file, &text).unwrap();

        let to = ProfileStore::new(b.path());
        to.upsert(profile("kept")).unwrap();
        assert_eq!(import_file(&to, &file).unwrap(), ["one", "two"]);
        let names: Vec<_> = to
            .load()
            .unwrap()
            .profiles
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(names, ["kept", "one", "two"]);

        let bad = a.path().join("bad.json");
        write_file(&bad, "{\"schema_version\":1,\"profiles\":[{\"name\":\"x y\",\"instance\":\"acme\",\"auth\":\"basic\"}]}").unwrap();
        let e = import_file(&to, &bad).unwrap_err();
        assert_eq!(e.code, snconnect_core::Code::UsageError);
        assert_eq!(
            to.load().unwrap().profiles.len(),
            3,
            "nothing already saved is lost"
        );
    }

    #[test]
    fn an_unwritable_place_names_the_file_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let e = write_file(&dir.path().join("missing/dir/r.md"), "x").unwrap_err();
        let detail = e.detail.unwrap();
        assert!(detail.starts_with("file: could not write"), "{detail}");
        assert!(detail.contains("choose a folder"), "{detail}");
    }
}
