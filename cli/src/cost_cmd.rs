//! `gatekeeper cost`: what Inspector's scanning of ECR images costs, what runs, and what to change.
//! Reads only; every suggestion is printed as the exact change to make.

use std::process::ExitCode;

use gatekeeper::cost::{Pricing, report};
use gatekeeper::time::now;

use crate::args::opt;
use crate::{Fail, Outcome, Stop, aws, json_out, parse};

fn price(value: Option<&str>, name: &str, default: f64) -> Result<f64, Fail> {
    match value {
        None => Ok(default),
        Some(v) => v
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite() && *x >= 0.0)
            .ok_or_else(|| Fail::error(format!("--{name} {v:?}: expected a non-negative number"))),
    }
}

/// `gatekeeper cost [--days N] [--format text|json] [--initial-scan-price USD] [--rescan-price USD]`.
pub fn command(rest: &[String]) -> Outcome {
    let args = parse(
        rest,
        &[
            opt("days"),
            opt("format"),
            opt("initial-scan-price"),
            opt("rescan-price"),
        ],
    )?;
    let days = match args.get("days") {
        None => 30,
        Some(d) => d
            .parse::<i64>()
            .ok()
            .filter(|d| (1..=365).contains(d))
            .ok_or_else(|| Fail::error(format!("--days {d:?}: expected 1 to 365")))?,
    };
    let format = args.get("format").unwrap_or("text");
    if !matches!(format, "text" | "json") {
        return Err(Stop::Fail(Fail::error(format!(
            "--format {format:?}: expected text or json"
        ))));
    }
    let defaults = Pricing::default();
    let pricing = Pricing {
        initial_scan: price(
            args.get("initial-scan-price"),
            "initial-scan-price",
            defaults.initial_scan,
        )?,
        rescan: price(args.get("rescan-price"), "rescan-price", defaults.rescan)?,
    };
    let text = format == "text";
    let out = aws::block_on(async move {
        let sdk = aws::sdk().await;
        let inputs =
            gatekeeper::adapters::gather_cost_inputs(&aws::ecr(&sdk), &aws::inspector(&sdk))
                .await?;
        let r = report(&inputs, pricing, now(), days);
        if text { Ok(r.to_text()) } else { json_out(&r) }
    })??;
    println!("{out}");
    Ok(ExitCode::SUCCESS)
}
