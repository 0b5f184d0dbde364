//! `gatekeeper report`: what the verdict history says to security teams (the images blocked and
//! warned now, time to fix and SLA breaches by repository and rule, the vulnerabilities blocking the
//! most images, the daily trend), as JSON and as one self-contained HTML page. Reads only the state
//! table: the whole history it keeps, and its image records now.

use std::path::PathBuf;
use std::process::ExitCode;

use gatekeeper::bootstrap::Adapters;
use gatekeeper::bootstrap::config::{STATE_TABLE, history_days_of};
use gatekeeper::domain::Severity;
use gatekeeper::domain::remediation::{Settings, Sla};
use gatekeeper::domain::time::{DAY, now};
use gatekeeper::outbound::report_page::render;
use gatekeeper::service::remediation;

use crate::{Fail, Outcome, aws, json_out};

/// `gatekeeper report`'s arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The gatekeeper's DynamoDB state table (required, from the flag or the environment)
    #[arg(long, value_name = "TABLE", env = STATE_TABLE)]
    pub table: Option<String>,
    /// The windows the figures are given for, in days (the trend spans the longest)
    #[arg(long, value_name = "DAYS,...", value_delimiter = ',', default_value = "30,90", value_parser = window)]
    pub windows: Vec<i64>,
    /// How long a ticket of a severity may stay open, in days (repeatable; defaults: CRITICAL=15,
    /// HIGH=30, MEDIUM=90, others 180)
    #[arg(long = "sla", value_name = "SEVERITY=DAYS", value_parser = Sla::entry)]
    pub sla: Vec<(Severity, i64)>,
    /// Write the JSON to this file instead of standard output
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Also write the report as one self-contained HTML page (charts included, nothing fetched when
    /// opened) to this file
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

/// `--windows`: 1 to 400 days each (the history's default retention).
fn window(value: &str) -> Result<i64, String> {
    value
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|d| (1..=400).contains(d))
        .ok_or_else(|| "expected a number of days from 1 to 400".to_string())
}

/// `gatekeeper report`.
pub fn command(args: Args) -> Outcome {
    let table = args
        .table
        .clone()
        .ok_or_else(|| Fail::error("--table (or GATEKEEPER_STATE_TABLE) is required"))?;
    let mut sla = Sla::default();
    sla.0.extend(args.sla.iter().copied());
    // The whole history kept (GATEKEEPER_HISTORY_RETENTION, 400 days by default): tickets opened
    // before the windows are still open or were resolved in them.
    let kept = history_days_of(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))?;
    let now = now();
    let settings = Settings {
        now,
        since: now - kept * DAY,
        windows: args.windows.clone(),
        sla,
    };
    let report = aws::block_on(async move {
        let sdk = aws::sdk().await;
        remediation(&Adapters::new(&sdk).state(&table), &settings).await
    })??;
    let json = json_out(&report)?;
    if let Some(path) = &args.html {
        write(path, &render(&report))?;
    }
    match &args.json {
        Some(path) => write(path, &(json + "\n"))?,
        None => println!("{json}"),
    }
    Ok(ExitCode::SUCCESS)
}

fn write(path: &std::path::Path, text: &str) -> Result<(), Fail> {
    std::fs::write(path, text).map_err(|e| Fail::error(format!("{}: {e}", path.display())))
}
