//! A moto server for tests and the demo: started on a free port, stopped with its owner.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The workspace root (this crate lives in `tests/`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// The Python of the tools venv (`.tools/moto`, made by `make tools`), or `GATEKEEPER_MOTO_PYTHON`.
pub fn python() -> PathBuf {
    std::env::var_os("GATEKEEPER_MOTO_PYTHON").map_or_else(
        || workspace_root().join(".tools/moto/bin/python"),
        PathBuf::from,
    )
}

/// A running moto server.
#[derive(Debug)]
pub struct Moto {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    port: u16,
    child: Mutex<Child>,
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A minimal HTTP request to moto's own API (`/moto-api/...`); returns status and body.
pub fn moto_api(port: u16, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

impl Moto {
    /// Starts a server and waits until it answers.
    pub fn start() -> Result<Moto, String> {
        let python = python();
        if !python.exists() {
            return Err(format!(
                "{} not found: run `make tools` (or `make test`) to create the moto venv",
                python.display()
            ));
        }
        let port = free_port().map_err(|e| e.to_string())?;
        let child = Command::new(&python)
            .arg(workspace_root().join("tests/moto_server.py"))
            .arg(port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("starting moto: {e}"))?;
        let moto = Moto {
            endpoint: format!("http://127.0.0.1:{port}"),
            port,
            child: Mutex::new(child),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok((200, _)) = moto_api(port, "GET", "/moto-api/data.json", "") {
                return Ok(moto);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err("moto did not answer within 60 s".into())
    }

    /// One server per test binary, started on first use; it exits with the process.
    pub fn shared() -> &'static Moto {
        static MOTO: OnceLock<Moto> = OnceLock::new();
        MOTO.get_or_init(|| Moto::start().unwrap_or_else(|e| panic!("{e}")))
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// POSTs JSON to a moto API path (seeding findings, resetting).
    pub fn post(&self, path: &str, body: &str) -> Result<String, String> {
        match moto_api(self.port, "POST", path, body) {
            Ok((code, body)) if (200..300).contains(&code) => Ok(body),
            Ok((code, body)) => Err(format!("{path}: HTTP {code}: {body}")),
            Err(e) => Err(format!("{path}: {e}")),
        }
    }
}

impl Moto {
    /// Stops the server and waits for it to exit.
    pub fn stop(&self) {
        let mut child = self.child.lock().unwrap_or_else(|p| p.into_inner());
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// For a benchmark binary named `name`: a server that lives as long as the process, or the reason it
/// could not start printed and a failing exit code.
pub fn start_for(name: &str) -> Result<&'static Moto, std::process::ExitCode> {
    match Moto::start() {
        Ok(m) => Ok(Box::leak(Box::new(m))),
        Err(e) => {
            eprintln!("{name}: {e}");
            Err(std::process::ExitCode::FAILURE)
        }
    }
}

/// Ends a benchmark binary: stops `moto`, prints `report`, and exits non-zero after printing `failed`
/// when the report says a goal was missed.
pub fn finish(
    moto: &Moto,
    report: &impl std::fmt::Display,
    ok: bool,
    failed: &str,
) -> std::process::ExitCode {
    moto.stop();
    print!("{report}");
    if ok {
        std::process::ExitCode::SUCCESS
    } else {
        println!("{failed}");
        std::process::ExitCode::FAILURE
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
    }
}
