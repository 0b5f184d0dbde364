//! `gatekeeper check`: the CI gate. Finds the image in ECR (also when its tag was moved to a
//! quarantine or held tag), waits with visible progress until its scan is complete and its findings
//! have not changed for the quiet period, evaluates it under the policy and prints the verdict.

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use gatekeeper::adapters::{Ecr, Inspector};
use gatekeeper::domain::events::Scanner;
use gatekeeper::domain::policy::{Policy, Whereabouts};
use gatekeeper::domain::tags::{TagKind, TagScheme};
use gatekeeper::domain::verdict::{Subject, evaluate};
use gatekeeper::domain::{Decision, Finding, ImageRef, ScanState};
use gatekeeper::ports::{FindingsSource, ImageDetail, ImageRegistry};
use gatekeeper::service::kev::look_up_kev;

use crate::cli::PolicyArg;
use crate::report::{Report, colour_enabled, json, sarif, shown_decision, text};
use crate::{Fail, Outcome, aws, json_out};
use gatekeeper::domain::escape::line;

/// Where the image's tag is now, when it is not where the pipeline pushed it.
fn moved_tag(
    scheme: &TagScheme,
    images: &[ImageDetail],
    tag: &str,
) -> Option<(ImageDetail, String)> {
    images
        .iter()
        .filter_map(|d| {
            d.tags.iter().find_map(|t| match scheme.classify(t) {
                TagKind::Quarantined {
                    original: Some(o), ..
                }
                | TagKind::Held { original: o, .. }
                    if o == tag =>
                {
                    Some((d.clone(), t.clone()))
                }
                _ => None,
            })
        })
        .max_by_key(|(d, _)| d.pushed_at)
}

async fn resolve(
    ecr: &Ecr,
    scheme: &TagScheme,
    repository: &str,
    args: &Args,
) -> Result<(ImageDetail, Option<String>), Fail> {
    let tag = match (&args.digest, &args.tag) {
        (Some(digest), _) => {
            return match ecr.describe_image(repository, digest).await? {
                Some(d) => Ok((d, None)),
                None => Err(Fail::error(format!("{repository}@{digest} does not exist"))),
            };
        }
        (None, Some(tag)) => tag,
        (None, None) => return Err(Fail::error("give one of --tag and --digest")),
    };
    if let Some(digest) = ecr.resolve_tag(repository, tag).await?
        && let Some(d) = ecr.describe_image(repository, &digest).await?
    {
        return Ok((d, None));
    }
    let images = ecr.images(repository).await?;
    match moved_tag(scheme, &images, tag) {
        Some((d, now_as)) => Ok((d, Some(now_as))),
        None => Err(Fail::error(format!(
            "{repository}:{tag} does not exist (nor a quarantined or held copy of it)"
        ))),
    }
}

fn fingerprint(findings: &[Finding]) -> BTreeSet<String> {
    findings
        .iter()
        .map(|f| {
            format!(
                "{}|{}|{:?}|{}",
                f.arn.as_deref().unwrap_or(&f.id),
                f.severity,
                f.status,
                f.packages.first().map_or("", |p| p.name.as_str())
            )
        })
        .collect()
}

struct Observed {
    detail: ImageDetail,
    findings: Vec<Finding>,
    scan: ScanState,
}

async fn observe(
    ecr: &Ecr,
    inspector: &Inspector,
    image: &ImageRef,
    scanner: Scanner,
) -> Result<Observed, Fail> {
    let detail = ecr
        .describe_image(&image.repository, &image.digest)
        .await?
        .ok_or_else(|| Fail::error(format!("{} disappeared", image.display())))?;
    let (findings, scan) = match scanner {
        Scanner::Basic => match ecr.basic_findings(&image.repository, &image.digest).await? {
            Some(b) => (b.findings, b.state),
            None => return Err(Fail::error(format!("{} disappeared", image.display()))),
        },
        Scanner::Enhanced => (inspector.image_findings(image).await?, detail.scan.clone()),
    };
    Ok(Observed {
        detail,
        findings,
        scan,
    })
}

fn scan_name(scan: &ScanState) -> String {
    match scan {
        ScanState::Complete => "complete".into(),
        ScanState::InProgress => "in progress".into(),
        ScanState::Unusable(code) => code.clone(),
        ScanState::Unknown => "status unknown".into(),
    }
}

/// How `check` prints its verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A table for people (colour on a terminal, never with NO_COLOR)
    Text,
    /// One JSON object
    Json,
    /// SARIF 2.1.0, for code-scanning uploads
    Sarif,
}

/// `gatekeeper check`'s options.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("image").required(true).args(["tag", "digest"])))]
pub struct Args {
    /// The ECR repository
    #[arg(long, value_name = "R")]
    pub repository: String,
    /// The image's tag (found also when the gatekeeper moved it to its quarantine or held tag)
    #[arg(long, value_name = "T")]
    pub tag: Option<String>,
    /// The image's digest (sha256:...)
    #[arg(long, value_name = "D")]
    pub digest: Option<String>,
    /// How long to wait for the scan to complete and the findings to settle (0s: decide on what is
    /// there now)
    #[arg(long, value_name = "DURATION", value_parser = crate::cli::duration, default_value = "0s")]
    pub wait: i64,
    /// How long the findings must stay unchanged before the verdict, while waiting
    #[arg(long, value_name = "DURATION", value_parser = crate::cli::duration, default_value = "60s")]
    pub quiet_period: i64,
    /// How often to look again while waiting (at least 1s)
    #[arg(long, value_name = "DURATION", value_parser = crate::cli::duration, default_value = "10s")]
    pub interval: i64,
    /// How to print the verdict
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Where the policy comes from.
    #[command(flatten)]
    pub policy: PolicyArg,
}

/// `gatekeeper check --repository R (--tag T | --digest D) [--wait D] [--quiet-period D] [--interval D] [--policy SOURCE] [--format F]`.
pub fn command(args: Args) -> Outcome {
    aws::block_on(run(args))?
}

/// Finds the image, waits for its scan as asked, then decides and prints the verdict.
async fn run(args: Args) -> Result<ExitCode, Fail> {
    let (repository, format) = (args.repository.clone(), args.format);
    let sdk = aws::sdk().await;
    let policy = aws::policy(&args.policy, &sdk).await?;
    let scheme = aws::tag_scheme()?;
    let (home, ou_path) = (aws::home(&sdk)?, aws::ou_path()?);
    if policy.scopes_by_ou() && ou_path.is_none() {
        eprintln!(
            "gatekeeper: the policy scopes rules by OU and {} is not set: the strictest rule that could apply decides",
            gatekeeper::bootstrap::config::OU_PATH
        );
    }
    let ecr = aws::ecr(&sdk);
    let inspector = aws::inspector(&sdk)?;
    let (detail, moved) = resolve(&ecr, &scheme, &repository, &args).await?;
    let image = ImageRef {
        place: None,
        repository: repository.clone(),
        digest: detail.digest.clone(),
        tags: detail.tags.clone(),
    };
    if let Some(now_as) = &moved {
        eprintln!(
            "gatekeeper: {}:{} is now {}",
            line(&repository),
            line(args.tag.as_deref().unwrap_or_default()),
            line(now_as)
        );
    }
    let scanner = if ecr.scan_coverage(&repository).await?.enhanced {
        Scanner::Enhanced
    } else {
        Scanner::Basic
    };
    let mut observed = wait_for_scan(&ecr, &inspector, &image, scanner, &args).await?;
    let at = Whereabouts {
        account: home.as_ref().map(|h| h.account.as_str()),
        region: home.as_ref().map(|h| h.region.as_str()),
        ou_path: ou_path.as_deref(),
    };
    // KEV entries, looked up as the functions do (without their state table's memory).
    let rule = policy.rule_at(&repository, at);
    let no_cache: Option<&gatekeeper::adapters::DynamoState> = None;
    let now = gatekeeper::domain::time::now();
    look_up_kev(&rule, &inspector, no_cache, now, &mut observed.findings).await?;
    decide_and_print(&policy, &scheme, image, &observed, (format, at))
}

/// Looks at the image until its scan is complete and its findings have stayed unchanged for the
/// quiet period (progress on stderr), or the wait is over: with no wait, what is there now.
async fn wait_for_scan(
    ecr: &Ecr,
    inspector: &Inspector,
    image: &ImageRef,
    scanner: Scanner,
    args: &Args,
) -> Result<Observed, Fail> {
    let (wait, quiet, interval) = (args.wait, args.quiet_period, args.interval.max(1));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(wait.max(0) as u64);
    let mut last: Option<(BTreeSet<String>, Instant)> = None;
    loop {
        let o = observe(ecr, inspector, image, scanner).await?;
        let print = fingerprint(&o.findings);
        let stable_since = match &last {
            Some((prev, since)) if *prev == print => *since,
            _ => Instant::now(),
        };
        last = Some((print, stable_since));
        let done = match &o.scan {
            // No scan yet: scan-on-push may still start one; the wait decides.
            ScanState::Unusable(code) if code == "SCAN_NOT_FOUND" => false,
            ScanState::Complete | ScanState::Unusable(_) => true,
            // Inspector's status is not always reported: stable findings are then the best evidence.
            ScanState::Unknown => scanner == Scanner::Enhanced,
            ScanState::InProgress => false,
        };
        let quiet_enough =
            stable_since.elapsed() >= Duration::from_secs(quiet.max(0) as u64) || wait == 0;
        if done && quiet_enough {
            return Ok(o);
        }
        if Instant::now() >= deadline {
            if wait == 0 {
                return Ok(o);
            }
            return Err(Fail::error(format!(
                "timed out after {wait}s waiting for the scan of {} (scan {}, {} finding(s))",
                image.display(),
                scan_name(&o.scan),
                o.findings.len()
            )));
        }
        eprintln!(
            "gatekeeper: [{:>4}s] {}: scan {}, {} finding(s){}",
            started.elapsed().as_secs(),
            line(&image.display()),
            line(&scan_name(&o.scan)),
            o.findings.len(),
            if done {
                format!(
                    ", unchanged for {}s of {quiet}s",
                    stable_since.elapsed().as_secs()
                )
            } else {
                String::new()
            }
        );
        tokio::time::sleep(Duration::from_secs(interval as u64)).await;
    }
}

/// The verdict on what was observed, printed in `format`; the exit code says whether it stops the
/// pipeline (a pending verdict is an error, unless the image is held).
fn decide_and_print(
    policy: &Policy,
    scheme: &TagScheme,
    image: ImageRef,
    observed: &Observed,
    (format, at): (Format, Whereabouts<'_>),
) -> Result<ExitCode, Fail> {
    let now = gatekeeper::domain::time::now();
    let in_use = observed
        .findings
        .iter()
        .any(|f| f.in_use_count.is_some_and(|n| n > 0));
    let image = ImageRef {
        tags: observed.detail.tags.clone(),
        ..image
    };
    let subject = Subject {
        repository: &image.repository,
        digest: &image.digest,
        baseline: observed.detail.pushed_at,
        in_use,
        now,
        // The image is in the account, OU and region the CLI runs in (GATEKEEPER_ACCOUNT_ID,
        // GATEKEEPER_OU_PATH).
        at,
    };
    let verdict = evaluate(policy, &subject, &observed.findings, &observed.scan);
    let held = image
        .tags
        .iter()
        .any(|t| matches!(scheme.classify(t), TagKind::Held { .. }));
    let report = Report {
        image: &image,
        verdict: &verdict,
        held,
        findings: &observed.findings,
        policy,
        subject,
        scan: scan_name(&observed.scan),
    };
    match format {
        Format::Json => println!("{}", json_out(&json(&report))?),
        Format::Sarif => println!("{}", json_out(&sarif(&report))?),
        Format::Text => print!("{}", text(&report, colour_enabled())),
    }
    match (verdict.decision, shown_decision(&report)) {
        (Decision::Pass | Decision::Warn, _) => Ok(ExitCode::SUCCESS),
        (Decision::Block, _) | (_, "held") => Ok(ExitCode::from(1)),
        _ => Err(Fail::error(format!(
            "no verdict for {}: {}",
            image.display(),
            verdict
                .reasons
                .first()
                .map_or("scan not complete", String::as_str)
        ))),
    }
}
