//! The sweep: a scheduled re-evaluation of exactly the images whose verdict may have changed with time
//! alone or whose events were lost, over a window that overlaps the previous run's. Every image goes
//! through the same path as an event, so a second sweep changes nothing.
//!
//! What it looks at, and what each costs in AWS calls:
//! - exceptions of the policy that started or ended in the window: one ListFindings query per such
//!   exception (by vulnerability id) for the images they concern;
//! - images due in the state table (a grace deadline, an applied exception's end, an incomplete
//!   findings list to look at again): one query of the sparse `due` index;
//! - ACTIVE findings at a blocking severity updated in the window whose image is not blocked (a lost
//!   finding event): one ListFindings page per 100 updated findings;
//! - every repository's images (DescribeRepositories, then one DescribeImages page per 1,000 images):
//!   images held longer than the timeout, and images pushed in the window that the gatekeeper never
//!   saw (a lost push) or that are scanned but undecided (a lost scan event);
//! - reminders: exceptions ending within the policy's `expiry_notice`, one message per exception per day;
//!   archive deadlines within a day (images due then in the same query), one message per image per day.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use tracing::{info, warn};

use super::{Gatekeeper, Outcome, Status, Trigger};
use crate::domain::events::Scanner;
use crate::domain::policy::{Exception, Policy, Unscanned};
use crate::domain::tags::TagKind;
use crate::domain::time::{DAY, Epoch, format_rfc3339};
use crate::domain::verdict::pending;
use crate::domain::{Decision, ImageRef, MediaKind, Place, ScanState, Severity, TriggerKind};
use crate::error::Error;
use crate::outbound::notice::{VerdictNotice, dedup_key};
use crate::outbound::reminder::ReminderNotice;
use crate::ports::{
    FindingsSource, ImageDetail, ImageRecords, ImageRegistry, Notifier, OnceMarks, Ports,
    SweepSchedule, Window,
};
use crate::state::{Mark, key_scope};

/// How far the window reaches back before the previous run's start: events and findings updated while
/// that run was going are looked at again.
const OVERLAP: i64 = 600;
/// How long before an archive deadline its reminder goes out.
const REMIND_BEFORE: i64 = DAY;
/// The longest window, however long ago the last completed run was.
const MAX_LOOKBACK: i64 = 7 * DAY;

/// How the sweep runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepSettings {
    /// Seconds between runs (the schedule's rate): the window when there was no previous run.
    pub interval: i64,
    /// How long an image may stay held (`unscanned = "hold"`) without a scan result before the
    /// "still unscanned" notice.
    pub held_timeout: i64,
}

impl Default for SweepSettings {
    fn default() -> SweepSettings {
        SweepSettings {
            interval: 3600,
            held_timeout: 6 * 3600,
        }
    }
}

/// What one sweep looked at and did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SweepReport {
    /// Start of the window.
    pub from: String,
    /// End of the window (the run's time).
    pub to: String,
    /// Repositories listed.
    pub repositories: usize,
    /// Images listed in them.
    pub images_listed: usize,
    /// Exceptions that started or ended in the window.
    pub exceptions: usize,
    /// Images due in the state table.
    pub due: usize,
    /// Images with a blocking finding updated in the window and no block.
    pub updated_findings: usize,
    /// Images pushed in the window that the gatekeeper had never seen.
    pub lost_pushes: usize,
    /// Images pushed in the window, scanned, without a verdict (or with an unfinished change).
    pub undecided: usize,
    /// Images held longer than the timeout (each notified once).
    pub held_too_long: usize,
    /// Images evaluated.
    pub evaluated: usize,
    /// Evaluations that changed a decision.
    pub changed: usize,
    /// Reminders sent.
    pub reminders: usize,
    /// Images that could not be evaluated (the next run's window covers them again).
    pub failures: Vec<String>,
}

/// The severities at which some rule may block a finding: the ones worth asking Inspector about.
/// A rule that blocks on EPSS or score, or denies ids, can block at any severity.
pub fn blocking_severities(policy: &Policy) -> Vec<Severity> {
    let mut lowest: Option<Severity> = None;
    for rule in policy.rules() {
        let b = &rule.block;
        if b.epss.is_some() || b.score.is_some() || b.asks_kev() || !rule.deny.is_empty() {
            return Severity::ALL.to_vec();
        }
        for t in [b.severity, b.exploitable, b.fixable, b.unfixable]
            .into_iter()
            .flatten()
        {
            if lowest.is_none_or(|l| l.at_least(t)) {
                lowest = Some(t);
            }
        }
    }
    match lowest {
        Some(l) => Severity::ALL
            .into_iter()
            .filter(|s| s.at_least(l))
            .collect(),
        None => Vec::new(),
    }
}

/// Whether an image is in an exception's scope (repository globs, digest).
fn in_scope(e: &Exception, image: &ImageRef) -> bool {
    e.matches_repository(&image.repository) && e.digest.as_deref().is_none_or(|d| d == image.digest)
}

/// The images to evaluate, each once (by account and region, repository, digest), with the first
/// reason found.
#[derive(Default)]
struct Todo(BTreeMap<(Option<Place>, String, String), (ImageRef, String)>);

impl Todo {
    fn add(&mut self, image: ImageRef, why: impl Into<String>) {
        let key = (
            image.place.clone(),
            image.repository.clone(),
            image.digest.clone(),
        );
        self.0.entry(key).or_insert((image, why.into()));
    }

    /// The images in a fair order: one of each account and region in turn, so that a run cut short
    /// (the function's timeout) has looked at every member's images alike, however many one has.
    fn fair(self) -> Vec<(ImageRef, String)> {
        let total = self.0.len();
        let mut queues: BTreeMap<Option<Place>, std::collections::VecDeque<(ImageRef, String)>> =
            BTreeMap::new();
        for ((place, ..), item) in self.0 {
            queues.entry(place).or_default().push_back(item);
        }
        let mut out = Vec::with_capacity(total);
        while out.len() < total {
            out.extend(queues.values_mut().filter_map(|q| q.pop_front()));
        }
        out
    }
}

impl<P: Ports> Gatekeeper<P> {
    /// One sweep at the gatekeeper's clock. Listing failures are errors (the scheduler's invocation is
    /// retried); an image that fails is reported and left to the next run, whose window still covers
    /// it because the run is recorded only when every image succeeded.
    ///
    /// `run` names the run (the schedule's event id): a retry of the same run resends what it may
    /// not have sent (a reminder), another run does not.
    pub async fn sweep<F: FindingsSource + Sync>(
        &self,
        source: &F,
        settings: &SweepSettings,
        run: &str,
    ) -> Result<SweepReport, Error> {
        let now = (self.clock)();
        let last = self.state.last_sweep().await?;
        let from = last
            .map_or(now - settings.interval, |l| l - OVERLAP)
            .max(now - MAX_LOOKBACK);
        let repositories = self.registry.repositories().await?;
        let enhanced = match repositories.first() {
            Some(r) => self.registry.scan_coverage(r).await?.enhanced,
            None => false,
        };
        let (members, unlisted) = self.listed_members(source).await;
        let places: Vec<Option<Place>> = std::iter::once(None)
            .chain(members.into_iter().map(Some))
            .collect();
        let mut sweeping = Sweeping {
            gk: self,
            source,
            settings,
            trigger: Trigger::cli(TriggerKind::Sweep, format!("sweep-{run}")),
            from,
            now,
            enhanced,
            todo: Todo::default(),
            with_vulnerability: HashMap::new(),
            soon: Vec::new(),
            report: SweepReport {
                from: format_rfc3339(from),
                to: format_rfc3339(now),
                repositories: repositories.len(),
                failures: unlisted.into_iter().collect(),
                ..SweepReport::default()
            },
        };
        sweeping.exceptions().await?;
        sweeping.due().await?;
        sweeping.updated_findings().await?;
        for place in &places {
            match (sweeping.listed(place.as_ref(), &repositories).await, place) {
                (Ok(()), _) => {}
                (Err(e), None) => return Err(e),
                // A member that cannot be listed fails its own part of the run, not the others'.
                (Err(e), Some(p)) => sweeping.report.failures.push(format!("{p}: {e}")),
            }
        }
        sweeping.evaluate().await;
        sweeping.reminders().await?;
        sweeping.archive_reminders().await?;
        let report = sweeping.report;
        if report.failures.is_empty() {
            self.state.record_sweep(now).await?;
        }
        info!(report = ?report, "sweep done");
        Ok(report)
    }

    /// The members whose registries an Organization deployment's sweep lists too: those
    /// `GATEKEEPER_GOVERNED_ACCOUNTS` names or, when it names none, every member Inspector scans for
    /// this administrator. Not knowing them is a failure of the run (reported, and the next run
    /// covers the window again); the deployment's own registry is listed all the same.
    async fn listed_members<F: FindingsSource>(&self, source: &F) -> (Vec<Place>, Option<String>) {
        let (Some(named), Some(home)) = (&self.members, &self.home) else {
            return (Vec::new(), None);
        };
        let (accounts, failure) = match named.is_empty() {
            false => (named.clone(), None),
            true => match source.members().await {
                Ok(all) => (all, None),
                Err(e) => (Vec::new(), Some(format!("the Organization's members: {e}"))),
            },
        };
        let places = (accounts.into_iter())
            .filter(|a| *a != home.account)
            .map(|account| Place {
                account,
                region: home.region.clone(),
            })
            .collect();
        (places, failure)
    }

    /// An image held longer than the timeout: one notice, and the policy's `unscanned` handling now
    /// (still `hold`: the tags stay held and a scan is asked for again; no longer `hold`: released).
    async fn held_too_long(
        &self,
        image: &ImageRef,
        detail: &ImageDetail,
        held_for: i64,
        trigger: &Trigger,
        report: &mut SweepReport,
    ) -> Result<(), Error> {
        // The rule first: a failed read must not take the once-a-month mark with nothing done.
        let rule = self.rule_of(image).await?;
        let rule = &*rule;
        let now = (self.clock)();
        let scope = key_scope(image.place.as_ref());
        let key = format!("{scope}held-timeout#{}#{}", image.repository, image.digest);
        if self
            .state
            .mark_once(&key, &trigger.event_id, now, 30 * DAY)
            .await?
            == Mark::Taken
        {
            return Ok(());
        }
        report.held_too_long += 1;
        let mode = self.effective_mode(rule);
        let hours = held_for / 3600;
        let (carried, why) = if rule.unscanned == Unscanned::Hold {
            let kind = MediaKind::classify(
                detail.manifest_media_type.as_deref(),
                detail.artifact_media_type.as_deref(),
            );
            let asked = self.ensure_scan(image, kind, trigger).await?;
            (
                super::act::Carried::default(),
                format!(
                    "still unscanned after {hours} h: its tags stay held (unscanned = \"hold\"); {}",
                    asked.detail
                ),
            )
        } else {
            (
                self.apply(
                    image,
                    detail,
                    super::act::Target {
                        tags: Decision::Warn,
                        verdict: Decision::Pending,
                        platform_of_index: false,
                    },
                    mode,
                    &super::act::Cause::new(
                        trigger,
                        "held too long, and the policy no longer holds unscanned images",
                        &detail.tags,
                    ),
                )
                .await?,
                format!(
                    "still unscanned after {hours} h, and rule {} no longer holds unscanned images: its tags are released",
                    rule.name
                ),
            )
        };
        warn!(image = %image.display(), hours, "held too long");
        let verdict = pending(why);
        let notice = VerdictNotice {
            previous: Some(Decision::Pending),
            mode,
            actions: &carried.actions,
            problems: &carried.problems,
            dedup_key: dedup_key(&["held-timeout", &image.repository, &image.digest]),
            ..self.notice(image, &verdict, rule, trigger)
        };
        self.notifier.publish(&notice.to_message()).await?;
        Ok(())
    }

    /// Evaluates one image as an event would (an index from its platform images); a due time that
    /// passed without a new one being set is cleared, so the image is not due again every run.
    async fn revisit<F: FindingsSource + Sync>(
        &self,
        source: &F,
        image: &ImageRef,
        scanner: Scanner,
        now: Epoch,
        trigger: &Trigger,
    ) -> Result<Outcome, Error> {
        let state = self.state.load(image).await?;
        let outcome = if state.children.is_empty() {
            self.evaluate_image(source, image, scanner, trigger).await?
        } else {
            self.evaluate_index(image, trigger).await?
        };
        if state.due_at.is_some_and(|d| d <= now) {
            let after = self.state.load(image).await?;
            if after.due_at.is_some_and(|d| d <= now) {
                // Conditional: a writer since (a claim, an archive record) set its own time.
                self.state.set_due(image, None, Some(after.version)).await?;
            }
        }
        Ok(outcome)
    }
}

/// One sweep run: its window, the images it found to evaluate, and its report.
struct Sweeping<'a, P: Ports, F> {
    gk: &'a Gatekeeper<P>,
    source: &'a F,
    settings: &'a SweepSettings,
    trigger: Trigger,
    from: Epoch,
    now: Epoch,
    /// Whether the registry scans with Inspector: only then are findings asked of it.
    enhanced: bool,
    todo: Todo,
    /// The images with each exception's vulnerability, asked once per run.
    with_vulnerability: HashMap<String, Vec<ImageRef>>,
    /// Images due within the next day (an archive deadline among them gets its reminder).
    soon: Vec<ImageRef>,
    report: SweepReport,
}

impl<P: Ports, F: FindingsSource + Sync> Sweeping<'_, P, F> {
    /// Whether findings are asked of Inspector: the deployment's registry scans with it, or the
    /// deployment governs an Organization's members (whose delegated administrator it is).
    fn asks_inspector(&self) -> bool {
        self.enhanced || self.gk.members.is_some()
    }

    /// Exceptions that began or ended since the last run: the images they concern.
    async fn exceptions(&mut self) -> Result<(), Error> {
        let gk = self.gk;
        for e in gk.policy.exceptions() {
            let ended = self.from < e.expires && e.expires <= self.now;
            let began = self.from < e.created && e.created <= self.now;
            if !(ended || began) {
                continue;
            }
            self.report.exceptions += 1;
            if !self.asks_inspector() {
                continue;
            }
            let why = if ended { "ended" } else { "began" };
            for image in self.images_with(e).await? {
                self.todo.add(image, format!("exception {} {why}", e.id));
            }
        }
        Ok(())
    }

    /// Images due in the state table.
    async fn due(&mut self) -> Result<(), Error> {
        // A member no longer governed (taken off the list) is left to whoever governs it now. The
        // images due within the next day are read too, for the reminders of archive deadlines.
        let due = self.gk.state.due(self.now + REMIND_BEFORE).await?;
        let (now, later): (Vec<_>, Vec<_>) = due.into_iter().partition(|(_, at)| *at <= self.now);
        for (image, _) in self.governed_at(now) {
            self.report.due += 1;
            self.todo.add(
                image,
                "due: a deadline, an exception's end or a second look",
            );
        }
        self.soon = self
            .governed_at(later)
            .into_iter()
            .map(|(i, _)| i)
            .collect();
        Ok(())
    }

    /// Blocking findings updated in the window on images not blocked: their event may have been lost.
    async fn updated_findings(&mut self) -> Result<(), Error> {
        let severities = blocking_severities(&self.gk.policy);
        if !self.asks_inspector() || severities.is_empty() {
            return Ok(());
        }
        let window = Window {
            since: self.from,
            until: self.now,
            severities,
        };
        let updated = self.source.images_updated(&window).await?;
        for image in self.governed(updated) {
            let state = self.gk.state.load(&image).await?;
            if state.decision != Some(Decision::Block) {
                self.report.updated_findings += 1;
                self.todo.add(
                    image,
                    "a blocking finding was updated and the image is not blocked",
                );
            }
        }
        Ok(())
    }

    /// Every repository's images in `place` (`None`: the deployment's own registry, whose
    /// `repositories` are known): held too long, pushed and never seen, scanned and undecided. A
    /// member that cannot be reached is a failure of this run (and an alert), not of the others.
    async fn listed(
        &mut self,
        place: Option<&Place>,
        repositories: &[String],
    ) -> Result<(), Error> {
        let registry = self.gk.registry_at(place).await?;
        let member_repositories;
        let repositories = match place {
            None => repositories,
            Some(_) => {
                member_repositories = registry.repositories().await?;
                &member_repositories[..]
            }
        };
        for repository in repositories {
            let details = registry.images(repository).await?;
            self.report.images_listed += details.len();
            for detail in details {
                let image = ImageRef {
                    place: place.cloned(),
                    repository: repository.clone(),
                    digest: detail.digest.clone(),
                    tags: detail.tags.clone(),
                };
                match self.look_at(&image, &detail).await {
                    Ok(Some(why)) => self.todo.add(image, why),
                    Ok(None) => {}
                    Err(e) => self
                        .report
                        .failures
                        .push(format!("{}: {e}", image.display())),
                }
            }
        }
        Ok(())
    }

    /// One listed image: admits a lost push, notifies a hold that outlived the timeout, and says
    /// whether the image should be evaluated.
    async fn look_at(
        &mut self,
        image: &ImageRef,
        detail: &ImageDetail,
    ) -> Result<Option<&'static str>, Error> {
        let (gk, now) = (self.gk, self.now);
        let held = detail
            .tags
            .iter()
            .any(|t| matches!(gk.tags.classify(t), TagKind::Held { .. }));
        let pushed = detail.pushed_at.unwrap_or(now);
        if held && now - pushed >= self.settings.held_timeout {
            gk.held_too_long(image, detail, now - pushed, &self.trigger, &mut self.report)
                .await?;
        }
        if pushed <= self.from || pushed > now {
            return Ok(None);
        }
        let state = gk.state.load(image).await?;
        if !state.exists {
            self.report.lost_pushes += 1;
            info!(image = %image.display(), "push never seen: admitted by the sweep");
            gk.state.record_push(image, now).await?;
            let kind = MediaKind::classify(
                detail.manifest_media_type.as_deref(),
                detail.artifact_media_type.as_deref(),
            );
            gk.admit(image, kind, &self.trigger).await?;
            return Ok(None);
        }
        let stuck = state
            .claim
            .as_ref()
            .is_some_and(|c| now - c.at >= gk.claim_lease);
        let undecided = matches!(state.decision, None | Some(Decision::Pending))
            && (detail.scan == ScanState::Complete || !state.children.is_empty());
        if stuck || undecided {
            self.report.undecided += 1;
            return Ok(Some("pushed in the window, scanned, no verdict"));
        }
        Ok(None)
    }

    /// How an image is scanned: the deployment's own registry as found at the start of the run, a
    /// member's as its registry says (never assumed basic: a basic read of an enhanced image finds
    /// nothing, and nothing passes).
    async fn scanner_of(&self, image: &ImageRef) -> Result<Scanner, Error> {
        let enhanced = match &image.place {
            None => self.enhanced,
            Some(_) => {
                let registry = self.gk.registry_of(image).await?;
                registry.scan_coverage(&image.repository).await?.enhanced
            }
        };
        Ok(if enhanced {
            Scanner::Enhanced
        } else {
            Scanner::Basic
        })
    }

    /// Evaluates each image found once, through the event path.
    async fn evaluate(&mut self) {
        let todo = std::mem::take(&mut self.todo);
        for (image, why) in todo.fair() {
            self.report.evaluated += 1;
            let revisited = match self.scanner_of(&image).await {
                Ok(scanner) => {
                    (self.gk)
                        .revisit(self.source, &image, scanner, self.now, &self.trigger)
                        .await
                }
                Err(e) => Err(e),
            };
            match revisited {
                Ok(o) => {
                    info!(image = %image.display(), why = %why, status = o.status.as_str(), decision = ?o.decision, "swept");
                    if o.status == Status::Changed {
                        self.report.changed += 1;
                    }
                }
                Err(e) => {
                    warn!(image = %image.display(), why = %why, error = %e, "sweep could not evaluate");
                    self.report
                        .failures
                        .push(format!("{}: {e}", image.display()));
                }
            }
        }
    }

    /// Reminders of exceptions ending soon, once per exception per day.
    async fn reminders(&mut self) -> Result<(), Error> {
        let (gk, now) = (self.gk, self.now);
        for e in gk.policy.expiring(now, gk.policy.expiry_notice()) {
            let key = format!(
                "reminder#{}",
                ReminderNotice {
                    exception: e,
                    images: &[],
                    region: None,
                    now,
                }
                .key()
            );
            let mark = gk
                .state
                .mark_once(&key, &self.trigger.event_id, now, 2 * DAY)
                .await?;
            if mark == Mark::Taken {
                continue;
            }
            let images = if self.enhanced {
                self.images_with(e).await?
            } else {
                Vec::new()
            };
            let notice = ReminderNotice {
                exception: e,
                images: &images,
                region: None,
                now,
            };
            gk.notifier.publish(&notice.to_message()).await?;
            self.report.reminders += 1;
        }
        Ok(())
    }

    /// Reminders of archive deadlines within the next day: one message per image per day.
    async fn archive_reminders(&mut self) -> Result<(), Error> {
        for image in std::mem::take(&mut self.soon) {
            if self.gk.remind_archive(&image, &self.trigger).await? {
                self.report.reminders += 1;
            }
        }
        Ok(())
    }

    /// [`Self::governed`] for images with their due times.
    fn governed_at(&self, images: Vec<(ImageRef, Epoch)>) -> Vec<(ImageRef, Epoch)> {
        let mut at: HashMap<ImageRef, Epoch> = HashMap::new();
        let refs: Vec<ImageRef> = (images.into_iter())
            .map(|(i, t)| {
                at.insert(i.clone(), t);
                i
            })
            .collect();
        (self.governed(refs).into_iter())
            .map(|i| {
                let t = at.get(&i).copied().unwrap_or(self.now);
                (i, t)
            })
            .collect()
    }

    /// The images Inspector named that this deployment governs (its own under v1's identity); the
    /// others are another deployment's.
    fn governed(&self, images: Vec<ImageRef>) -> Vec<ImageRef> {
        (images.into_iter())
            .filter_map(|mut image| match self.gk.govern(&mut image) {
                Ok(()) => Some(image),
                Err(why) => {
                    info!(image = %image.display(), reason = %why, "not this deployment's image");
                    None
                }
            })
            .collect()
    }

    /// The in-scope images with an open finding of the exception's vulnerability (asked once per run).
    async fn images_with(&mut self, e: &Exception) -> Result<Vec<ImageRef>, Error> {
        let key = e.id.to_ascii_uppercase();
        if !self.with_vulnerability.contains_key(&key) {
            let found = self.source.images_with(&e.id).await?;
            self.with_vulnerability
                .insert(key.clone(), self.governed(found));
        }
        Ok(self
            .with_vulnerability
            .get(&key)
            .map(|all| all.iter().filter(|i| in_scope(e, i)).cloned().collect())
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_takes_one_image_of_each_account_and_region_in_turn() {
        let place = |account: &str| {
            Some(Place {
                account: account.into(),
                region: "eu-west-1".into(),
            })
        };
        let mut todo = Todo::default();
        for (p, digest) in [
            (place("111111111111"), "sha256:a1"),
            (place("111111111111"), "sha256:a2"),
            (place("111111111111"), "sha256:a3"),
            (None, "sha256:h1"),
            (place("222222222222"), "sha256:b1"),
        ] {
            let image = ImageRef {
                place: p,
                ..ImageRef::home("r", digest)
            };
            todo.add(image, "due");
        }
        let order: Vec<String> = (todo.fair().into_iter()).map(|(i, _)| i.digest).collect();
        assert_eq!(
            order,
            [
                "sha256:h1",
                "sha256:a1",
                "sha256:b1",
                "sha256:a2",
                "sha256:a3"
            ]
        );
    }

    #[test]
    fn blocking_severities_are_the_lowest_block_threshold_and_up_or_all_with_scores_or_denials() {
        assert_eq!(
            blocking_severities(&Policy::builtin()),
            [Severity::Critical]
        );
        let p = Policy::parse(
            "version = 1\n[defaults]\nblock = \"CRITICAL\"\n[[rule]]\nname = \"r\"\nrepositories = [\"a/*\"]\nblock = { severity = \"CRITICAL\", exploitable = \"MEDIUM\" }\n",
        )
        .unwrap();
        assert_eq!(
            blocking_severities(&p),
            [Severity::Critical, Severity::High, Severity::Medium]
        );
        let p = Policy::parse("version = 1\n[defaults]\nblock = { epss = 0.5 }\n").unwrap();
        assert_eq!(blocking_severities(&p), Severity::ALL.to_vec());
        let p = Policy::parse("version = 1\n[defaults]\nblock = { fixable = \"HIGH\" }\n").unwrap();
        assert_eq!(
            blocking_severities(&p),
            [Severity::Critical, Severity::High]
        );
        let denies = "version = 1\n[defaults]\nblock = \"CRITICAL\"\ndeny = [\"CVE-1\"]\n";
        let p = Policy::parse(denies).unwrap();
        assert_eq!(blocking_severities(&p), Severity::ALL.to_vec());
        let kev = "version = 1\n[defaults]\nblock = { severity = \"CRITICAL\", kev = true }\n";
        let p = Policy::parse(kev).unwrap();
        assert_eq!(blocking_severities(&p), Severity::ALL.to_vec());
    }

    #[test]
    fn an_exception_scope_is_its_repository_globs_and_digest() {
        let p = Policy::parse(
            "version = 1\n[defaults]\nblock = \"CRITICAL\"\n[[exception]]\nid = \"CVE-1\"\nrepositories = [\"team/*\"]\ndigest = \"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\ncreated = 2026-11-01\nexpires = 2026-12-01\nreason = \"r\"\nowner = \"o\"\n",
        )
        .unwrap();
        let e = &p.exceptions()[0];
        let image = |repository: &str, digest: &str| ImageRef {
            place: None,
            repository: repository.into(),
            digest: digest.into(),
            tags: Vec::new(),
        };
        let (aa, bb) = (
            format!("sha256:{}", "a".repeat(64)),
            format!("sha256:{}", "b".repeat(64)),
        );
        assert!(in_scope(e, &image("team/app", &aa)));
        assert!(!in_scope(e, &image("team/app", &bb)));
        assert!(!in_scope(e, &image("other/app", &aa)));
    }
}
