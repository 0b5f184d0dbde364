//! `gatekeeper cost`: what Inspector's scanning of ECR images costs, what runs, and what to change.
//! Reads only; every suggestion is printed as the exact change to make.

use std::process::ExitCode;

use gatekeeper::domain::time::now;
use gatekeeper::outbound::cost::{Pricing, report};

use crate::{Outcome, aws, json_out};

/// `--price`: a non-negative number of USD.
fn price(value: &str) -> Result<f64, String> {
    value
        .parse::<f64>()
        .ok()
        .filter(|x| x.is_finite() && *x >= 0.0)
        .ok_or_else(|| "expected a non-negative number".to_string())
}

/// `--days`: 1 to 365.
fn days(value: &str) -> Result<i64, String> {
    value
        .parse::<i64>()
        .ok()
        .filter(|d| (1..=365).contains(d))
        .ok_or_else(|| "expected 1 to 365".to_string())
}

/// How `cost` prints its report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// For people
    Text,
    /// One JSON object (the cost-report function's `report`)
    Json,
}

/// `gatekeeper cost`'s options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The period the report covers, in days (1 to 365)
    #[arg(long, value_name = "N", value_parser = days, default_value = "30")]
    pub days: i64,
    /// How to print the report
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// USD per Inspector initial scan (the public price by default)
    #[arg(long, value_name = "USD", value_parser = price, allow_hyphen_values = true, default_value_t = Pricing::default().initial_scan)]
    pub initial_scan_price: f64,
    /// USD per Inspector rescan (the public price by default)
    #[arg(long, value_name = "USD", value_parser = price, allow_hyphen_values = true, default_value_t = Pricing::default().rescan)]
    pub rescan_price: f64,
}

/// `gatekeeper cost [--days N] [--format text|json] [--initial-scan-price USD] [--rescan-price USD]`.
pub fn command(args: Args) -> Outcome {
    let days = args.days;
    let pricing = Pricing {
        initial_scan: args.initial_scan_price,
        rescan: args.rescan_price,
    };
    let text = args.format == Format::Text;
    let out = aws::block_on(async move {
        let sdk = aws::sdk().await;
        let inputs =
            gatekeeper::adapters::gather_cost_inputs(&aws::ecr(&sdk), &aws::inspector(&sdk)?)
                .await?;
        let r = report(&inputs, pricing, now(), days);
        if text { Ok(r.to_text()) } else { json_out(&r) }
    })??;
    println!("{out}");
    Ok(ExitCode::SUCCESS)
}
