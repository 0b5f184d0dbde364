//! Debian's Chromium, headless, on a local file: its DOM after the page's scripts ran, what it logged
//! (console messages included), and screenshots. The flags are those this machine's closed network
//! needs (no background connections, no component updates), a fresh profile each run.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The Chromium binary: `GATEKEEPER_CHROMIUM`, else `chromium` on the PATH (Debian's package).
pub fn chromium() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("GATEKEEPER_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("chromium"))
        .find(|p| p.is_file())
}

/// A headless Chromium command on `page` (a file) with a fresh profile, logging to stderr.
fn headless(chromium: &Path, profile: &Path) -> Command {
    let mut c = Command::new(chromium);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=5000",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

/// The file URL of `page`, with `fragment` (`#30`) if any.
pub fn url(page: &Path, fragment: &str) -> String {
    format!("file://{}{fragment}", page.display())
}

/// What Chromium made of a page: the DOM after its scripts ran, and its log (stderr).
pub struct Rendered {
    /// The serialised DOM.
    pub dom: String,
    /// Everything Chromium logged, console messages included (`CONSOLE(...)`).
    pub log: String,
}

impl Rendered {
    /// The console messages the page logged at warning or error level, and uncaught errors.
    pub fn console_errors(&self) -> Vec<&str> {
        (self.log.lines())
            .filter(|l| {
                l.contains("CONSOLE")
                    && (l.contains(":ERROR:") || l.contains(":WARNING:") || l.contains("Uncaught"))
            })
            .collect()
    }
}

/// Loads `url` in headless Chromium and returns the DOM once the page settled.
pub fn dump_dom(chromium: &Path, url: &str, scratch: &Path) -> Rendered {
    let profile = scratch.join(format!("profile-{}", std::process::id()));
    let out = headless(chromium, &profile)
        .arg("--dump-dom")
        .arg(url)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&profile);
    Rendered {
        dom: String::from_utf8_lossy(&out.stdout).into_owned(),
        log: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Saves a PNG of `url` at `width` x `height` to `png`; Chromium's log when it wrote none.
pub fn screenshot(
    chromium: &Path,
    url: &str,
    png: &Path,
    (width, height): (u32, u32),
) -> Result<(), String> {
    let profile = std::env::temp_dir().join(format!("gk-shot-{}", std::process::id()));
    let out = headless(chromium, &profile)
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("--window-size={width},{height}"))
        .arg("--hide-scrollbars")
        .arg(url)
        .output()
        .map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&profile);
    if png.is_file() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}
