//! Smoke test of the artifacts that ship: the arm64 `bootstrap` of each function (from `sam build`),
//! run under qemu-user against a local Runtime API and moto, each answering a real event.
//!
//!     arm64_smoke <DIR>   DIR holds OnPushFunction/, OnScanFunction/, SweepFunction/,
//!                         CostReportFunction/ (sam build's output)
//!
//! Needs `qemu-aarch64` and the arm64 C library (`/usr/aarch64-linux-gnu`); `make infra` installs
//! them where it can and otherwise says that this check was skipped.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a checking tool: a panic is a failed check

use std::path::Path;

use gatekeeper_tests::fixtures::{Aws, push_event};
use gatekeeper_tests::moto::Moto;
use gatekeeper_tests::runtime::{Answer, Function};
use serde_json::{Value, json};

const QEMU: [&str; 3] = ["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu"];

fn run(dir: &Path, function: &str, env: &[(&str, String)], event: &Value) -> Result<Value, String> {
    let binary = dir.join(function).join("bootstrap");
    let f = Function::start_under(&QEMU, &binary, function, env)?;
    match f.invoke(event)? {
        Answer::Response(v) => Ok(v),
        Answer::Error {
            error_type,
            message,
        } => Err(format!("{function}: {error_type}: {message}\n{}", f.logs())),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .ok_or("usage: arm64_smoke <sam build dir>")?;
    let dir = Path::new(&dir);
    let moto: &'static Moto = Box::leak(Box::new(Moto::start()?));
    let aws = Aws::with(moto, "123456789012", "eu-west-1").await;
    let setup = aws.standard_setup().await;
    aws.create_repo("smoke", "MUTABLE", &[]).await;
    let digest = aws.push("smoke", "arm64", &["v1"]).await;
    let env = aws.function_env(&moto.endpoint, &setup, &[]);

    let push = run(
        dir,
        "OnPushFunction",
        &env,
        &push_event("smoke-1", "smoke", &digest, "v1"),
    )?;
    println!("OnPushFunction (arm64 under qemu): {push}");
    if push["status"] != "acted" {
        return Err(format!("on-push: expected a basic scan to be started: {push}").into());
    }
    let bad =
        json!({"source": "aws.inspector2", "detail-type": "Inspector2 Finding", "detail": []});
    let scan = run(dir, "OnScanFunction", &env, &bad)?;
    println!("OnScanFunction (arm64 under qemu): {scan}");
    if scan["status"] != "rejected" || aws.drain(&setup.rejected_url).await.len() != 1 {
        return Err(
            format!("on-scan: expected the malformed event in the rejected queue: {scan}").into(),
        );
    }
    let schedule = json!({"id": "smoke-schedule", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
    let sweep = run(dir, "SweepFunction", &env, &schedule)?;
    println!("SweepFunction (arm64 under qemu): {sweep}");
    if sweep["repositories"] != 1 || sweep["failures"] != json!([]) {
        return Err(
            format!("sweep: expected one repository swept without failures: {sweep}").into(),
        );
    }
    let cost = run(dir, "CostReportFunction", &env, &schedule)?;
    println!("CostReportFunction (arm64 under qemu): {cost}");
    if cost["unscanned_repositories"] != 1 {
        return Err(
            format!("cost-report: expected the unscanned repository counted: {cost}").into(),
        );
    }
    moto.stop();
    println!("arm64 smoke test: 4 functions answered real events under qemu");
    Ok(())
}
