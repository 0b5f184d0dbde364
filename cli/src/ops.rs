//! Operator commands: `release` (break-glass, and `--all` to uninstall), `reconcile` (images that
//! existed before the gatekeeper, or whose events were lost), `breaker` (status and reset). Names,
//! tags and notes from AWS are shown escaped ([`gatekeeper::domain::escape::line`]).

use std::process::ExitCode;

use gatekeeper::adapters::Ecr;
use gatekeeper::bootstrap::AwsGatekeeper;
use gatekeeper::domain::escape::line;
use gatekeeper::domain::events::Scanner;
use gatekeeper::domain::tags::TagKind;
use gatekeeper::domain::time::{DAY, format_rfc3339, now};
use gatekeeper::domain::{ImageRef, MediaKind, Place, TriggerKind as Kind};
use gatekeeper::outbound::notice::{Action, ActionStatus};
use gatekeeper::ports::{ImageRegistry, Reach};
use gatekeeper::service::{ReleaseRequest, Trigger};

use crate::cli::{DeploymentArgs, StateArgs};
use crate::{Fail, Outcome, aws};

/// One line per tag change and per problem, as `release` and `reconcile` print them.
fn action_lines(image: &str, actions: &[Action], problems: &[String]) -> Vec<String> {
    let image = line(image);
    let mut out = Vec::new();
    for a in actions {
        let what = match a.action {
            gatekeeper::outbound::notice::ActionKind::AddTag => "add",
            gatekeeper::outbound::notice::ActionKind::RemoveTag => "remove",
            gatekeeper::outbound::notice::ActionKind::Archive => "archive",
            gatekeeper::outbound::notice::ActionKind::Restore => "restore",
        };
        let status = match a.status {
            ActionStatus::Done => "done",
            ActionStatus::Would => "would",
            ActionStatus::Skipped => "skipped",
            ActionStatus::Failed => "FAILED",
        };
        out.push(format!(
            "  {image}: {status} {what} {}{}",
            line(&a.tag),
            a.note
                .as_ref()
                .map_or(String::new(), |n| format!(" ({})", line(n)))
        ));
    }
    for p in problems {
        out.push(format!("  {image}: note: {}", line(p)));
    }
    out
}

fn print_actions(image: &str, actions: &[Action], problems: &[String]) {
    for l in action_lines(image, actions, problems) {
        println!("{l}");
    }
}

/// The registry of `place`: the CLI's own account's, or a member's through the member role.
async fn registry_at(gk: &AwsGatekeeper, place: Option<&Place>) -> Result<Ecr, Fail> {
    match place {
        None => Ok(gk.registry.clone()),
        Some(p) => Ok(gk.registry.at(p).await?),
    }
}

/// Runs `work` in each place: one that fails is reported on stderr and the others go on; the exit
/// code is 2 when any failed.
async fn in_each<T>(
    places: &[Option<Place>],
    mut state: T,
    mut work: impl AsyncFnMut(&mut T, Option<&Place>) -> Result<(), Fail>,
) -> (T, ExitCode) {
    let mut code = ExitCode::SUCCESS;
    for place in places {
        if let Err(e) = work(&mut state, place.as_ref()).await {
            let whose = place
                .as_ref()
                .map_or("own account".to_string(), |p| p.to_string());
            eprintln!("gatekeeper: {}: {}", line(&whose), line(&e.message));
            code = ExitCode::from(2);
        }
    }
    (state, code)
}

async fn repositories(ecr: &Ecr, repository: Option<&str>, all: bool) -> Result<Vec<String>, Fail> {
    match repository {
        Some(r) => Ok(vec![r.to_string()]),
        None if all => Ok(ecr.repositories().await?),
        None => Err(Fail::error("give --repository R or --all")),
    }
}

/// `gatekeeper release`'s options: one image, or `--all` to uninstall.
#[derive(Debug, clap::Args)]
pub struct ReleaseArgs {
    /// The image's repository (with --all: only this repository's images)
    #[arg(long, value_name = "R", required_unless_present = "all")]
    pub repository: Option<String>,
    /// The image's digest (sha256:...)
    #[arg(
        long,
        value_name = "D",
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    pub digest: Option<String>,
    /// Why, for the audit trail and the release message (e.g. "INC-42 hotfix")
    #[arg(
        long,
        value_name = "TEXT",
        required_unless_present = "all",
        conflicts_with = "all",
        allow_hyphen_values = true
    )]
    pub reason: Option<String>,
    /// Release even though the verdict still blocks: records an override for --for
    #[arg(long, conflicts_with = "all")]
    pub force: bool,
    /// How long a --force override lasts (1s to 30d)
    #[arg(long = "for", id = "for", value_name = "DURATION", value_parser = crate::cli::duration, conflicts_with = "all")]
    pub for_: Option<i64>,
    /// Every quarantined and held tag back where the original tag is free (the uninstall path)
    #[arg(long)]
    pub all: bool,
    /// With --all: print what would change, change nothing
    #[arg(long, requires = "all", conflicts_with = "yes")]
    pub dry_run: bool,
    /// With --all: make the changes
    #[arg(long, requires = "all")]
    pub yes: bool,
    /// The deployment: policy, state table and topic, mode.
    #[command(flatten)]
    pub deployment: DeploymentArgs,
}

/// `gatekeeper release ...`.
pub fn release(args: ReleaseArgs) -> Outcome {
    if args.all {
        if args.dry_run == args.yes {
            return Err(Fail::error(
                "release --all needs exactly one of --dry-run and --yes",
            ));
        }
        return aws::block_on(release_all(args))?;
    }
    let (Some(repository), Some(digest), Some(reason)) = (
        args.repository.clone(),
        args.digest.clone(),
        args.reason.clone(),
    ) else {
        return Err(Fail::error(
            "--repository, --digest and --reason are required",
        ));
    };
    if reason.trim().is_empty() {
        return Err(Fail::error("--reason must say why"));
    }
    let force_for = match (args.force, args.for_) {
        (false, None) => None,
        (true, Some(secs)) => {
            if secs <= 0 || secs > 30 * DAY {
                return Err(Fail::error(
                    "--for must be between 1s and 30d: an exception in the policy is the lasting fix",
                ));
            }
            Some(secs)
        }
        (true, None) => {
            return Err(Fail::error(
                "--force needs --for DURATION (the override is time-boxed)",
            ));
        }
        (false, Some(_)) => return Err(Fail::error("--for only goes with --force")),
    };
    aws::block_on(release_one(&args, repository, digest, reason, force_for))?
}

async fn release_one(
    args: &ReleaseArgs,
    repository: String,
    digest: String,
    reason: String,
    force_for: Option<i64>,
) -> Result<ExitCode, Fail> {
    let (sdk, gk, places) = aws::deployment_at(&args.deployment).await?;
    let place = match places.as_slice() {
        [place] => place.clone(),
        _ => return Err(Fail::error("release names one image: give one --account")),
    };
    let inspector = aws::inspector(&sdk)?;
    let registry = registry_at(&gk, place.as_ref()).await?;
    let scanner = if registry.scan_coverage(&repository).await?.enhanced {
        Scanner::Enhanced
    } else {
        Scanner::Basic
    };
    let caller = aws::caller(&sdk).await?;
    let image = ImageRef {
        place,
        repository,
        digest,
        tags: Vec::new(),
    };
    let req = ReleaseRequest {
        image: &image,
        reason: &reason,
        caller: &caller,
        force_for,
    };
    match gk.release(&inspector, scanner, &req).await? {
        Ok(outcome) => {
            println!(
                "{}: {} (notified as {})",
                line(&image.display()),
                line(&outcome.detail),
                line(&caller)
            );
            print_actions(&image.display(), &outcome.actions, &[]);
            Ok(ExitCode::SUCCESS)
        }
        Err(refusal) => Err(Fail {
            code: 1,
            message: format!("release refused: {refusal}"),
        }),
    }
}

async fn release_all(args: ReleaseArgs) -> Result<ExitCode, Fail> {
    let (sdk, gk, places) = aws::deployment_at(&args.deployment).await?;
    let dry_run = args.dry_run;
    let actor = if dry_run {
        String::new()
    } else {
        aws::caller(&sdk).await?
    };
    let only = args.repository.as_deref();
    let ((images, changed), code) = in_each(&places, (0usize, 0usize), async |tally, place| {
        let registry = registry_at(&gk, place).await?;
        let mut failed = 0usize;
        for repository in repositories(&registry, only, true).await? {
            for detail in registry.images(&repository).await? {
                let ours = detail.tags.iter().any(|t| {
                    matches!(
                        gk.tags.classify(t),
                        TagKind::Quarantined { .. } | TagKind::Held { .. }
                    )
                });
                if !ours {
                    continue;
                }
                tally.0 += 1;
                let image = ImageRef {
                    place: place.cloned(),
                    repository: repository.clone(),
                    digest: detail.digest.clone(),
                    tags: detail.tags.clone(),
                };
                // One image that fails is reported and the others are done.
                match gk.restore_all(&image, dry_run, &actor).await {
                    Ok((actions, problems)) => {
                        tally.1 += (actions.iter())
                            .filter(|a| {
                                matches!(a.status, ActionStatus::Done | ActionStatus::Would)
                            })
                            .count();
                        print_actions(&image.display(), &actions, &problems);
                    }
                    Err(e) => {
                        let why = e.to_string();
                        eprintln!("gatekeeper: {}: {}", line(&image.display()), line(&why));
                        failed += 1;
                    }
                }
            }
        }
        match failed {
            0 => Ok(()),
            n => Err(Fail::error(format!("{n} image(s) could not be restored"))),
        }
    })
    .await;
    println!(
        "{} image(s) with quarantined or held tags; {changed} tag change(s) {}",
        images,
        if dry_run {
            "would be made (dry run)"
        } else {
            "made"
        }
    );
    Ok(code)
}

/// `gatekeeper reconcile`'s options.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["repository", "all"])))]
pub struct ReconcileArgs {
    /// One repository's images
    #[arg(long, value_name = "R")]
    pub repository: Option<String>,
    /// Every repository's images
    #[arg(long)]
    pub all: bool,
    /// Print what would change, change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// The deployment: policy, state table and topic, mode.
    #[command(flatten)]
    pub deployment: DeploymentArgs,
}

/// `gatekeeper reconcile (--repository R | --all) [--dry-run] [--mode audit|enforce]`.
pub fn reconcile(args: ReconcileArgs) -> Outcome {
    aws::block_on(reconcile_run(args))?
}

async fn reconcile_run(args: ReconcileArgs) -> Result<ExitCode, Fail> {
    let (sdk, gk, places) = aws::deployment_at(&args.deployment).await?;
    let inspector = aws::inspector(&sdk)?;
    let run = Reconcile {
        gk: &gk,
        inspector: &inspector,
        dry_run: args.dry_run,
        run_id: format!("reconcile-{}", now()),
    };
    let (repository, all) = (args.repository.as_deref(), args.all);
    let (tally, code) = in_each(&places, Tally::new(), async |tally, place| {
        let registry = registry_at(&gk, place).await?;
        for repository in repositories(&registry, repository, all).await? {
            run.repository(&registry, place, &repository, tally).await?;
        }
        Ok(())
    })
    .await;
    let summary: Vec<String> = tally.iter().map(|(k, n)| format!("{n} {k}")).collect();
    println!(
        "reconciled: {}{}",
        if summary.is_empty() {
            "no images".into()
        } else {
            summary.join(", ")
        },
        if run.dry_run {
            " (dry run: nothing changed)"
        } else {
            ""
        }
    );
    Ok(code)
}

/// How many images reconcile found, by what became of them.
type Tally = std::collections::BTreeMap<String, usize>;

/// One `reconcile` run: the deployment, how it reads findings, whether it changes anything.
struct Reconcile<'a> {
    gk: &'a AwsGatekeeper,
    inspector: &'a gatekeeper::adapters::Inspector,
    dry_run: bool,
    run_id: String,
}

impl Reconcile<'_> {
    /// Every image of one repository of `registry` (in `place`), previewed or decided.
    async fn repository(
        &self,
        registry: &Ecr,
        place: Option<&Place>,
        repository: &str,
        tally: &mut Tally,
    ) -> Result<(), Fail> {
        let scanner = if registry.scan_coverage(repository).await?.enhanced {
            Scanner::Enhanced
        } else {
            Scanner::Basic
        };
        let mut failed = 0usize;
        for detail in registry.images(repository).await? {
            let image = ImageRef {
                place: place.cloned(),
                repository: repository.to_string(),
                digest: detail.digest.clone(),
                tags: detail.tags.clone(),
            };
            let index = MediaKind::classify(
                detail.manifest_media_type.as_deref(),
                detail.artifact_media_type.as_deref(),
            ) == MediaKind::Index;
            // One image that fails is reported and the others are done.
            if let Err(e) = self.image(&image, index, scanner, tally).await {
                eprintln!(
                    "gatekeeper: {}: {}",
                    line(&image.display()),
                    line(&e.message)
                );
                *tally.entry("failed".to_string()).or_default() += 1;
                failed += 1;
            }
        }
        match failed {
            0 => Ok(()),
            n => Err(Fail::error(format!("{n} image(s) of {repository} failed"))),
        }
    }

    /// One image, previewed or decided, its line printed and counted.
    async fn image(
        &self,
        image: &ImageRef,
        index: bool,
        scanner: Scanner,
        tally: &mut Tally,
    ) -> Result<(), Fail> {
        let gk = self.gk;
        if index && self.dry_run {
            // An index's verdict is its platform images' (listed in the same repository).
            println!(
                "{}: image index, decided from its platform images",
                line(&image.display())
            );
            *tally.entry("index".to_string()).or_default() += 1;
        } else if self.dry_run {
            let Some(p) = gk.preview(self.inspector, image, scanner).await? else {
                return Ok(());
            };
            let d = p.verdict.decision.as_str();
            *tally.entry(d.to_string()).or_default() += 1;
            println!(
                "{}: {d} ({})",
                line(&image.display()),
                line(p.verdict.reasons.first().map_or("", String::as_str))
            );
            print_actions(&image.display(), &p.actions, &p.problems);
        } else {
            let id = format!("{}-{}", self.run_id, image.digest);
            let trigger = Trigger::cli(Kind::Reconcile, id);
            let o = if index {
                gk.evaluate_index(image, &trigger).await?
            } else {
                (gk.evaluate_image(self.inspector, image, scanner, &trigger)).await?
            };
            let d = o.decision.map_or("-", |d| d.as_str());
            *tally.entry(format!("{d} {}", o.status)).or_default() += 1;
            println!(
                "{}: {d} {} ({})",
                line(&image.display()),
                o.status,
                line(&o.detail)
            );
            print_actions(&image.display(), &o.actions, &[]);
        }
        Ok(())
    }
}

/// What `breaker` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BreakerAction {
    /// Show whether the breaker is open, since when and why
    Status,
    /// Close it: tag changes resume
    Reset,
}

/// `gatekeeper breaker`'s options.
#[derive(Debug, clap::Args)]
pub struct BreakerArgs {
    /// What to do
    #[arg(value_enum)]
    pub action: BreakerAction,
    /// The deployment's state table and topic.
    #[command(flatten)]
    pub state: StateArgs,
}

/// `gatekeeper breaker (status | reset)`.
pub fn breaker(args: BreakerArgs) -> Outcome {
    let reset = args.action == BreakerAction::Reset;
    aws::block_on(async move {
        let sdk = aws::sdk().await;
        let gk = aws::gatekeeper(
            &args.state,
            None,
            &sdk,
            gatekeeper::domain::policy::Policy::builtin(),
            None,
        )?;
        let status = gk.state.breaker_status().await?;
        if reset {
            use gatekeeper::ports::TagChangeBreaker;
            gk.state.reset_breaker().await?;
            match status {
                Some((at, _)) => println!(
                    "circuit breaker reset (it had been open since {})",
                    format_rfc3339(at)
                ),
                None => println!("circuit breaker was closed; nothing to reset"),
            }
        } else {
            match status {
                Some((at, why)) => {
                    println!(
                        "circuit breaker OPEN since {}: {}",
                        format_rfc3339(at),
                        line(&why)
                    )
                }
                None => println!("circuit breaker closed"),
            }
        }
        Ok::<_, Fail>(ExitCode::SUCCESS)
    })?
}

#[cfg(test)]
mod tests {
    use gatekeeper::outbound::notice::ActionKind;

    use super::*;

    #[test]
    fn tag_changes_and_notes_from_aws_are_one_escaped_line_each() {
        let hostile = "\u{1b}[2J\r\nFORGED\u{9b}\u{202e}";
        let actions = [Action {
            action: ActionKind::RemoveTag,
            tag: format!("quarantined-{hostile}"),
            status: ActionStatus::Failed,
            note: Some(format!("denied{hostile}")),
        }];
        let lines = action_lines(
            &format!("team/{hostile}@sha256:1"),
            &actions,
            &[format!("could not read {hostile}")],
        );
        let shown = "\\x1b[2J\\r\\nFORGED\\x9b\\u{202e}";
        assert_eq!(
            lines,
            [
                format!(
                    "  team/{shown}@sha256:1: FAILED remove quarantined-{shown} (denied{shown})"
                ),
                format!("  team/{shown}@sha256:1: note: could not read {shown}"),
            ]
        );
    }
}
