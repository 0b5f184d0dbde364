//! What the CLI's binary tests share: running the built `gatekeeper` with a clean environment,
//! reading its output, and scratch files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test
#![allow(dead_code)] // each test binary uses its own part of it

use std::path::PathBuf;
use std::process::{Command, Output};

/// The repository root (the binary runs there, so `events/...` paths work).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The binary with a clean environment (no GATEKEEPER_* or AWS_* from the caller's shell) plus `env`.
pub fn gatekeeper_with(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gatekeeper"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .args(args)
        .current_dir(root())
        .output()
        .unwrap()
}

/// The binary with a clean environment.
pub fn gatekeeper(args: &[&str]) -> Output {
    gatekeeper_with(args, &[])
}

/// Standard output as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// Standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

/// Asserts the exit code, and that standard error says `text` (both shown when not).
#[track_caller]
pub fn assert_exit(out: &Output, code: i32, text: &str) {
    assert_eq!(out.status.code(), Some(code), "{}", stderr(out));
    assert!(stderr(out).contains(text), "{}", stderr(out));
}

/// Writes `text` to a file of this test process's scratch folder and returns its path.
pub fn scratch(name: &str, text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("gk-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}
