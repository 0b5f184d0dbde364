//! Test support for ecr-gatekeeper: a moto server per test binary, a local Lambda Runtime API that
//! runs the real function binaries, real image manifests, and AWS fixtures with one moto account per
//! test. Used by the integration tests, the function crates' runtime tests and the demo.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

pub mod faults;
pub mod fixtures;
pub mod manifest;
pub mod moto;
pub mod runtime;
pub mod storm;
