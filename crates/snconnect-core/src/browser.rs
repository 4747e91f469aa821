//! Opening the system browser. `webbrowser` honours `$BROWSER`; its `Ok` means "spawned", not
//! "a window is showing", so callers always show the authorize URL as well.

use crate::error::{Code, Diagnosis};

pub trait BrowserLauncher: Send + Sync {
    fn open(&self, url: &str) -> Result<(), Diagnosis>;
}

/// The user's default browser (or `$BROWSER`).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemBrowser;

impl BrowserLauncher for SystemBrowser {
    fn open(&self, url: &str) -> Result<(), Diagnosis> {
        let mut options = webbrowser::BrowserOptions::new();
        options.with_suppress_output(true);
        webbrowser::open_browser_with_options(webbrowser::Browser::Default, url, &options)
            .map_err(|e| Diagnosis::new(Code::BrowserUnavailable).with_detail(e.to_string()))
    }
}

/// Opens nothing: for "print the URL only" (`--no-browser`) runs.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoBrowser;

impl BrowserLauncher for NoBrowser {
    fn open(&self, _url: &str) -> Result<(), Diagnosis> {
        Err(Diagnosis::new(Code::BrowserUnavailable)
            .with_detail("opening a browser was turned off"))
    }
}
