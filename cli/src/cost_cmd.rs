//! `gatekeeper cost`: what Inspector's scanning of ECR images costs, what runs, and what to change,
//! in the CLI's own account or (`--account`, `--member-role`) in each member named. Reads only;
//! every suggestion is printed as the exact change to make.

use std::process::ExitCode;

use gatekeeper::adapters::{gather_cost_inputs, gather_organization_cost_inputs};
use gatekeeper::bootstrap::Adapters;
use gatekeeper::domain::Place;
use gatekeeper::domain::escape::line;
use gatekeeper::domain::time::now;
use gatekeeper::outbound::cost::{Pricing, report};
use gatekeeper::outbound::cost_summary::OrganizationCost;

use crate::cli::PlaceArgs;
use crate::{Fail, Outcome, aws, json_out};

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
    /// The accounts and region it reads.
    #[command(flatten)]
    pub place: PlaceArgs,
}

/// `gatekeeper cost [--days N] [--format text|json] [--initial-scan-price USD] [--rescan-price USD]
/// [--account IDS --member-role NAME] [--region R]`.
pub fn command(args: Args) -> Outcome {
    let text = args.format == Format::Text;
    let pricing = Pricing {
        initial_scan: args.initial_scan_price,
        rescan: args.rescan_price,
    };
    let (out, code) = aws::block_on(async move {
        let sdk = aws::sdk_in(args.place.region.as_deref()).await;
        let role = aws::member_role(&args.place)?;
        let home = aws::home(&sdk)?;
        let places = aws::places(home.as_ref(), role.is_some(), &args.place, &sdk).await?;
        match (places.as_slice(), role, &home) {
            ([None], _, _) | (_, None, _) | (_, _, None) => {
                let inputs = gather_cost_inputs(&aws::ecr(&sdk), &aws::inspector(&sdk)?).await?;
                let r = report(&inputs, pricing, now(), args.days);
                let out = if text { r.to_text() } else { json_out(&r)? };
                Ok((out, ExitCode::SUCCESS))
            }
            (_, Some(role), Some(home)) => {
                let adapters = Adapters::new(&sdk).at(Some(home)).organization(true);
                let inputs = gather_organization_cost_inputs(
                    (&adapters.registry(), home),
                    &adapters.members(&role),
                    &places,
                    &adapters.findings(),
                    None,
                )
                .await?;
                let cost = OrganizationCost::of(
                    home,
                    &inputs.read,
                    &inputs.failed,
                    pricing,
                    now(),
                    args.days,
                );
                Ok::<_, Fail>((organization_out(&cost, text)?, failed_code(&inputs.failed)))
            }
        }
    })??;
    println!("{out}");
    Ok(code)
}

/// Each account's report then the summary (text), or both in one object (JSON).
fn organization_out(cost: &OrganizationCost, text: bool) -> Result<String, Fail> {
    if !text {
        return json_out(cost);
    }
    let reports = cost.reports.iter().map(|r| r.to_text());
    Ok((reports.chain(std::iter::once(cost.summary.to_text())))
        .collect::<Vec<_>>()
        .join("\n\n"))
}

/// 2 when an account could not be read (each is named on stderr), else 0.
fn failed_code(failed: &[(Place, String)]) -> ExitCode {
    for (place, why) in failed {
        eprintln!("gatekeeper: {}: {}", line(&place.to_string()), line(why));
    }
    match failed.is_empty() {
        true => ExitCode::SUCCESS,
        false => ExitCode::from(2),
    }
}
