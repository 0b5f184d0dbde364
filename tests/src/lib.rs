//! Test support for ecr-gatekeeper: a moto server per test binary, a local Lambda Runtime API that
//! runs the real function binaries, real image manifests, and AWS fixtures with one moto account per
//! test. Used by the integration tests, the function crates' runtime tests and the demo.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

pub mod browser;
pub mod cve_update;
pub mod faults;
pub mod fixtures;
pub mod manifest;
pub mod moto;
pub mod report_sample;
pub mod runtime;
pub mod sqs;
pub mod storm;
pub mod storm_sqs;

/// The measuring tools' numeric argument `n` (1-based, after the program name), else `default`.
pub fn arg(n: usize, default: usize) -> usize {
    std::env::args()
        .nth(n)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

/// Declares a test clock: a `static` the test moves and a `fn() -> i64` reading it, for
/// `Gatekeeper::clock` (a plain fn pointer, so each test that drives time needs its own static).
#[macro_export]
macro_rules! test_clock {
    ($now:ident, $clock:ident, $start:expr) => {
        static $now: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new($start);
        fn $clock() -> i64 {
            $now.load(std::sync::atomic::Ordering::SeqCst)
        }
    };
}
