// Once the page is painted, tell the app (the benchmark's mark), as snconnect's UI does.
requestAnimationFrame(() =>
  requestAnimationFrame(() => window.__TAURI_INTERNALS__.invoke("ui_ready")),
);
