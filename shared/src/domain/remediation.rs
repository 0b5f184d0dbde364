//! What the verdict history tells security teams: the images blocked and warned now, how long
//! images stay blocked, the time to fix per ticket (repository, vulnerability) and per tag, with
//! exceptions, releases and deletions counted apart (never as fixes), tickets open past their SLA,
//! per repository and per rule, and the daily trend. Pure: the report's figures, computed from the
//! history and the state table's records.
//!
//! A ticket (repository, vulnerability) opens when the vulnerability first blocks an image of the
//! repository. A fix ships as a new digest while the old one stays blocked, so a ticket is fixed only
//! by a newer image of the repository (pushed after the images it blocks) whose first verdict lets it
//! deploy (pass or warn); an exception, a release, a deletion, or the same image no longer blocked by
//! it (reassessed) resolves it without a fix, and one resolved so that blocks again (a release or an
//! exception that ends) is the same ticket, its age counted from its first opening. A tag's time to
//! fix runs from the block of an image carrying it to the first newer image under the same tag that
//! passes or warns.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::history::{Cause, Change, Standing, Vulnerability};
use super::time::{DAY, Epoch, format_date, format_rfc3339};
use super::{Decision, Severity};

/// An image as the state table has it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Current {
    /// The scope tickets are counted within (see [`Change::scope`]).
    pub scope: String,
    /// The digest.
    pub digest: String,
    /// Its disposition.
    pub standing: Standing,
    /// The vulnerabilities that decided its block, when its record names them.
    pub blocking: Vec<Vulnerability>,
}

/// How long a ticket may stay open, by severity (days).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sla(pub BTreeMap<Severity, i64>);

impl Default for Sla {
    /// CRITICAL 15 days, HIGH 30, MEDIUM 90, any other 180 (CISA BOD 19-02's 15 and 30 days for the
    /// first two).
    fn default() -> Sla {
        Sla(BTreeMap::from([
            (Severity::Critical, 15),
            (Severity::High, 30),
            (Severity::Medium, 90),
        ]))
    }
}

impl Sla {
    /// The days a ticket of `severity` may stay open.
    pub fn days(&self, severity: Severity) -> i64 {
        self.0.get(&severity).copied().unwrap_or(180)
    }

    /// One `SEVERITY=DAYS` setting (`CRITICAL=15`; the severity in any case, days a whole number).
    pub fn entry(text: &str) -> Result<(Severity, i64), String> {
        let (severity, days) = text
            .split_once('=')
            .ok_or_else(|| format!("{text:?}: expected SEVERITY=DAYS, such as CRITICAL=15"))?;
        let severity =
            Severity::parse(severity).ok_or_else(|| format!("unknown severity {severity:?}"))?;
        let days = (days.trim().parse::<i64>().ok())
            .filter(|d| (0..=3650).contains(d))
            .ok_or_else(|| format!("{days:?}: expected a number of days from 0 to 3650"))?;
        Ok((severity, days))
    }

    /// The defaults with the comma-separated `SEVERITY=DAYS` settings of `text` over them (empty: the
    /// defaults).
    pub fn parse(text: &str) -> Result<Sla, String> {
        let mut sla = Sla::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (severity, days) = Sla::entry(part)?;
            sla.0.insert(severity, days);
        }
        Ok(sla)
    }
}

/// What the report covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Now.
    pub now: Epoch,
    /// Where the history read starts (tickets older than it are known only from the blocked images
    /// now, opened "before the history").
    pub since: Epoch,
    /// The windows the figures are given for, in days (30 and 90); the trend spans the longest.
    pub windows: Vec<i64>,
    /// The SLA per severity.
    pub sla: Sla,
}

/// How a ticket or a block ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Resolution {
    /// A new image of the repository deploys without it: the fix shipped.
    Fixed,
    /// The same image no longer blocked by it: its findings (Inspector's data) or the policy changed.
    /// Not a fix: the image is the one that had it.
    Reassessed,
    /// An exception keeps it from blocking.
    Excepted,
    /// An operator released the image.
    Released,
    /// The image was deleted.
    Deleted,
}

impl Resolution {
    /// How a change of an image that leaves `id` no longer blocking it resolves its ticket.
    fn of(change: &Change, id: &str) -> Resolution {
        match change.to {
            None => Resolution::Deleted,
            Some(_) if among(&change.excepted, id) => Resolution::Excepted,
            Some(t) if t.released || change.cause == Cause::Release => Resolution::Released,
            Some(_) => Resolution::Reassessed,
        }
    }
}

/// The report's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Remediation {
    /// When they were computed.
    pub generated_at: String,
    /// Where the history read starts (the report replays it all; the windows only count).
    pub read_from: String,
    /// The oldest change in the history read (`None`: none).
    pub history_from: Option<String>,
    /// The images now.
    pub now: NowView,
    /// Figures per window.
    pub windows: Vec<Window>,
    /// Per repository, over the longest window.
    pub repositories: Vec<Group>,
    /// Per policy rule, over the longest window.
    pub rules: Vec<Group>,
    /// The tickets open now, oldest first.
    pub open_tickets: Vec<OpenTicket>,
    /// Each day of the longest window, oldest first.
    pub trend: Vec<Day>,
}

/// The images blocked and warned now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NowView {
    /// Images blocked (no release suspends them).
    pub blocked: usize,
    /// Images deployable with a warning.
    pub warned: usize,
    /// Blocked images an operator released.
    pub released: usize,
    /// Open tickets.
    pub open_tickets: usize,
    /// Open tickets past their SLA.
    pub open_past_sla: usize,
    /// The blocked images, longest blocked first.
    pub blocked_images: Vec<BlockedImage>,
    /// The vulnerabilities blocking the most images.
    pub top_vulnerabilities: Vec<TopVulnerability>,
}

/// A blocked image.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BlockedImage {
    /// Repository (with its account and region, for a member's).
    pub scope: String,
    /// Digest.
    pub digest: String,
    /// Its tags as deployed, when the history names them.
    pub tags: Vec<String>,
    /// Since when, when the history says.
    pub since: Option<String>,
    /// For how many days, when known.
    pub days: Option<f64>,
    /// What blocks it.
    pub vulnerabilities: Vec<String>,
}

/// A vulnerability and the images it blocks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopVulnerability {
    /// Its id.
    pub id: String,
    /// Its severity.
    pub severity: Severity,
    /// The images it blocks now.
    pub images: usize,
    /// In how many repositories.
    pub repositories: usize,
}

/// The figures of one window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Window {
    /// Its length in days.
    pub days: i64,
    /// Tickets opened in it.
    pub opened: usize,
    /// Tickets fixed in it, and their time to fix.
    pub fixed: Durations,
    /// Tickets fixed in it later than their SLA.
    pub fixed_late: usize,
    /// Tickets an exception resolved in it.
    pub excepted: usize,
    /// Tickets a release resolved in it.
    pub released: usize,
    /// Tickets a deletion resolved in it.
    pub deleted: usize,
    /// Tickets resolved in it because the same image was reassessed (not fixed).
    pub reassessed: usize,
    /// Tags fixed in it (a new image under the tag passed), and their time to fix.
    pub tags_fixed: Durations,
    /// Blocks that ended in it (any way), and how long the images stayed blocked.
    pub blocks_ended: Durations,
}

/// A count of durations, with their mean, median and 90th percentile in days (`None`: none).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Durations {
    /// How many.
    pub count: usize,
    /// The mean (for tickets: the MTTR).
    pub mean_days: Option<f64>,
    /// The median.
    pub median_days: Option<f64>,
    /// The 90th percentile.
    pub p90_days: Option<f64>,
}

impl Durations {
    fn of(mut seconds: Vec<i64>) -> Durations {
        seconds.sort_unstable();
        let days = |s: i64| (s as f64 / DAY as f64 * 10.0).round() / 10.0;
        let rank = |p: f64| {
            let i = ((seconds.len() as f64 * p).ceil() as usize).clamp(1, seconds.len());
            days(seconds[i - 1])
        };
        let n = seconds.len();
        Durations {
            count: n,
            mean_days: (n > 0).then(|| days(seconds.iter().sum::<i64>() / n as i64)),
            median_days: (n > 0).then(|| rank(0.5)),
            p90_days: (n > 0).then(|| rank(0.9)),
        }
    }
}

/// The figures of one repository or rule over the longest window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    /// The repository (scope) or rule.
    pub name: String,
    /// Images blocked now.
    pub blocked_now: usize,
    /// Images warned now.
    pub warned_now: usize,
    /// Tickets fixed, and their time to fix.
    pub fixed: Durations,
    /// Of those, fixed later than their SLA.
    pub fixed_late: usize,
    /// Tickets open now.
    pub open: usize,
    /// Of those, past their SLA.
    pub open_past_sla: usize,
    /// Tickets resolved by an exception.
    pub excepted: usize,
    /// Tickets resolved by a release.
    pub released: usize,
    /// Tickets resolved because the same image was reassessed.
    pub reassessed: usize,
}

/// A ticket open now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpenTicket {
    /// Repository (scope).
    pub scope: String,
    /// Vulnerability.
    pub vulnerability: String,
    /// Severity.
    pub severity: Severity,
    /// The rule that blocked it.
    pub rule: String,
    /// When it opened (for one opened before the history read: when that starts).
    pub opened: String,
    /// Whether it opened before the history read begins (`opened` is where it begins; the ticket is
    /// at least `age_days` old).
    pub before_history: bool,
    /// Days open.
    pub age_days: f64,
    /// Its SLA, days.
    pub sla_days: i64,
    /// Whether it is past its SLA.
    pub past_sla: bool,
    /// The images it blocks.
    pub images: usize,
}

/// One day of the trend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Day {
    /// `YYYY-MM-DD` (UTC).
    pub date: String,
    /// Images blocked at its end.
    pub blocked: i64,
    /// Images warned at its end.
    pub warned: i64,
    /// Images blocked that day.
    pub blocks: usize,
    /// Tickets fixed that day.
    pub fixes: usize,
}

/// A ticket being replayed.
#[derive(Debug, Clone)]
struct Ticket {
    severity: Severity,
    rule: String,
    /// When it opened (for a ticket the history does not reach back to: when the history starts).
    opened: Epoch,
    /// Whether it opened before the history read.
    before_history: bool,
    images: BTreeSet<String>,
    /// Every image it ever blocked (an image of these blocked again continues it after a
    /// resolution without a fix).
    ever: BTreeSet<String>,
    /// When the newest of its images was pushed, when known.
    pushed: Option<Epoch>,
}

impl Ticket {
    /// Whether an image pushed at `pushed` is newer than the images this ticket blocks (than its
    /// opening, when their pushes are unknown).
    fn older_than(&self, pushed: Epoch) -> bool {
        self.pushed.map_or(self.opened <= pushed, |p| p < pushed)
    }
}

/// A resolved ticket.
#[derive(Debug, Clone)]
struct Resolved {
    /// Taken back: one of its images blocked again, and the ticket goes on.
    continued: bool,
    scope: String,
    severity: Severity,
    rule: String,
    opened: Epoch,
    at: Epoch,
    how: Resolution,
}

/// A tag blocked on an image: since when, the image (and when it was pushed), and what blocks it.
#[derive(Debug, Clone)]
struct BlockedTag {
    since: Epoch,
    digest: String,
    pushed: Option<Epoch>,
    blocking: BTreeSet<String>,
}

/// A ticket resolved without a fix: when it opened, the images it blocked, the newest one's push, and
/// its resolution's record.
#[derive(Debug, Clone)]
struct Dormant {
    opened: Epoch,
    ever: BTreeSet<String>,
    pushed: Option<Epoch>,
    record: usize,
}

/// Whether `id` is among `ids`, as the policy matches vulnerability ids (ignoring ASCII case).
fn among(ids: &[String], id: &str) -> bool {
    ids.iter().any(|e| e.eq_ignore_ascii_case(id))
}

/// The history replayed in order.
#[derive(Debug, Default)]
struct Replay {
    /// Open tickets by (scope, vulnerability).
    open: BTreeMap<(String, String), Ticket>,
    resolved: Vec<Resolved>,
    /// Tickets opened, when.
    opened: Vec<Epoch>,
    /// The newest image of each repository that deployed from its first verdict: when it was pushed,
    /// and the vulnerabilities an exception let it deploy with. An older image blocked again by
    /// anything but a scan (a release or an exception that ends, a reconcile) is superseded by it.
    deployable: BTreeMap<String, (Epoch, Vec<String>)>,
    /// Tickets resolved without a fix (excepted, released, reassessed), by (scope, vulnerability):
    /// one of their images blocked again continues them (the resolution is taken back).
    dormant: BTreeMap<(String, String), Dormant>,
    /// The images with a verdict other than `pending` so far, by (scope, digest).
    decided: BTreeSet<(String, String)>,
    /// What blocks each image now, by (scope, digest).
    blocking: BTreeMap<(String, String), BTreeSet<String>>,
    /// Since when each image is blocked, and its tags.
    blocked_since: BTreeMap<(String, String), (Epoch, Vec<String>)>,
    /// Blocks that ended: when, and after how long.
    ended: Vec<(Epoch, i64)>,
    /// The rule of each image's last change, by (scope, digest).
    rules: BTreeMap<(String, String), String>,
    /// Blocked tags by (scope, tag).
    tags_open: BTreeMap<(String, String), BlockedTag>,
    /// Tags fixed: when, and after how long (a tag whose image was excepted, released, deleted or
    /// reassessed is dropped: it was not fixed).
    tags_fixed: Vec<(Epoch, i64)>,
}

impl Replay {
    fn apply(&mut self, c: &Change) {
        let scope = c.scope();
        let key = (scope.clone(), c.digest.clone());
        let before = self.blocking.remove(&key).unwrap_or_default();
        let after: BTreeSet<String> = match c.to {
            Some(t) if t.blocks() => c.blocking.iter().map(|v| v.id.clone()).collect(),
            _ => BTreeSet::new(),
        };
        // An image's first verdict (nothing but `pending` before) that lets it deploy.
        let first =
            c.from.is_none_or(|f| f.decision == Decision::Pending) && !self.decided.contains(&key);
        let decided = c.to.filter(|t| t.decision != Decision::Pending);
        if decided.is_some() {
            self.decided.insert(key.clone());
        }
        if first && decided.is_some_and(|t| matches!(t.decision, Decision::Pass | Decision::Warn)) {
            self.new_image(c, &scope);
        }
        for v in c.blocking.iter().filter(|v| after.contains(&v.id)) {
            self.add_to_ticket(c, &scope, v, first);
        }
        for id in before.difference(&after) {
            let emptied = (self.open.get_mut(&(scope.clone(), id.clone()))).is_some_and(|t| {
                t.images.remove(&c.digest);
                t.images.is_empty()
            });
            if emptied {
                self.resolve(&scope, id, c.at, Resolution::of(c, id));
            }
        }
        if !after.is_empty() {
            self.blocking.insert(key.clone(), after);
        }
        if c.to.is_some() {
            self.rules.insert(key.clone(), c.rule.clone());
        }
        self.track_block(c, key);
    }

    /// Adds the image of `c` to the ticket of `v` in its repository: the one open; the one resolved
    /// without a fix, when this image is one it blocked (its resolution is taken back: the ticket
    /// goes on from its opening); or a new one. None when an image older than the repository's
    /// newest deployable one is blocked again by anything but a scan (a release or an exception that
    /// ends, a reconcile): that image is superseded.
    fn add_to_ticket(&mut self, c: &Change, scope: &str, v: &Vulnerability, first: bool) {
        let key = (scope.to_string(), v.id.clone());
        let mut opened = c.at;
        let mut ever = BTreeSet::new();
        if !self.open.contains_key(&key) {
            let superseded = !first
                && c.cause != Cause::Scan
                && (self.deployable.get(scope)).is_some_and(|(newest, excepted)| {
                    c.pushed_at.is_some_and(|p| p < *newest) && !among(excepted, &v.id)
                });
            if superseded {
                return;
            }
            match self.dormant.remove(&key) {
                Some(d) if d.ever.contains(&c.digest) => {
                    if let Some(r) = self.resolved.get_mut(d.record) {
                        r.continued = true;
                    }
                    (opened, ever) = (d.opened, d.ever);
                }
                _ => self.opened.push(c.at),
            }
        }
        let ticket = self.open.entry(key).or_insert_with(|| Ticket {
            severity: v.severity,
            rule: c.rule.clone(),
            opened,
            before_history: false,
            images: BTreeSet::new(),
            ever,
            pushed: None,
        });
        ticket.severity = ticket.severity.max(v.severity);
        ticket.images.insert(c.digest.clone());
        ticket.ever.insert(c.digest.clone());
        ticket.pushed = ticket.pushed.max(c.pushed_at);
    }

    /// A new image that deploys from its first verdict: the open tickets of its repository whose
    /// images it is newer than are fixed by it (excepted, when an exception let it deploy despite
    /// one), and so are the blocked tags it carries (unless an exception of what blocked them helped).
    fn new_image(&mut self, c: &Change, scope: &str) {
        let Some(pushed) = c.pushed_at else {
            return;
        };
        let shipped: Vec<String> = (self.open.iter())
            .filter(|((s, _), t)| s == scope && t.older_than(pushed))
            .map(|((_, id), _)| id.clone())
            .collect();
        for id in shipped {
            let how = if among(&c.excepted, &id) {
                Resolution::Excepted
            } else {
                Resolution::Fixed
            };
            self.resolve(scope, &id, c.at, how);
        }
        if self
            .deployable
            .get(scope)
            .is_none_or(|(newest, _)| *newest <= pushed)
        {
            (self.deployable).insert(scope.to_string(), (pushed, c.excepted.clone()));
        }
        // What it deploys without supersedes the older images resolved without a fix.
        (self.dormant).retain(|(s, id), d| {
            s != scope || among(&c.excepted, id) || d.pushed.is_some_and(|p| p >= pushed)
        });
        for tag in &c.tags {
            let key = (scope.to_string(), tag.clone());
            let newer = |b: &&BlockedTag| b.pushed.map_or(b.since <= pushed, |p| p < pushed);
            if let Some(blocked) = self.tags_open.get(&key).filter(newer) {
                if !blocked.blocking.iter().any(|id| among(&c.excepted, id)) {
                    self.tags_fixed.push((c.at, c.at - blocked.since));
                }
                self.tags_open.remove(&key);
            }
        }
    }

    fn resolve(&mut self, scope: &str, id: &str, at: Epoch, how: Resolution) {
        let key = (scope.to_string(), id.to_string());
        if let Some(t) = self.open.remove(&key) {
            if matches!(
                how,
                Resolution::Excepted | Resolution::Released | Resolution::Reassessed
            ) {
                let dormant = Dormant {
                    opened: t.opened,
                    ever: t.ever.clone(),
                    pushed: t.pushed,
                    record: self.resolved.len(),
                };
                self.dormant.insert(key, dormant);
            }
            self.resolved.push(Resolved {
                continued: false,
                scope: scope.to_string(),
                severity: t.severity,
                rule: t.rule,
                opened: t.opened,
                at,
                how,
            });
        }
    }

    /// Blocks of images and of their tags: when they start and end (a tag's block ends with its
    /// image's, not fixed, when the image itself is unblocked).
    fn track_block(&mut self, c: &Change, key: (String, String)) {
        if c.blocks() {
            (self.blocked_since).insert(key.clone(), (c.at, c.tags.clone()));
            let blocking: BTreeSet<String> = c.blocking.iter().map(|v| v.id.clone()).collect();
            for tag in &c.tags {
                (self.tags_open.entry((key.0.clone(), tag.clone()))).or_insert_with(|| {
                    BlockedTag {
                        since: c.at,
                        digest: c.digest.clone(),
                        pushed: c.pushed_at,
                        blocking: blocking.clone(),
                    }
                });
            }
        } else if c.unblocks() {
            if let Some((since, _)) = self.blocked_since.remove(&key) {
                self.ended.push((c.at, c.at - since));
            }
            (self.tags_open).retain(|(scope, _), b| !(*scope == key.0 && b.digest == key.1));
        }
    }

    /// Tickets for the blocked images now whose block the history does not reach back to: opened
    /// before `start`, where the history read begins (their age is at least `now - start`).
    fn before_history(&mut self, current: &[Current], start: Epoch) {
        for c in current.iter().filter(|c| c.standing.blocks()) {
            let key = (c.scope.clone(), c.digest.clone());
            if self.blocked_since.contains_key(&key) {
                continue;
            }
            for v in &c.blocking {
                let ticket =
                    (self.open.entry((c.scope.clone(), v.id.clone()))).or_insert_with(|| Ticket {
                        severity: v.severity,
                        rule: self
                            .rules
                            .get(&key)
                            .cloned()
                            .unwrap_or_else(|| "unknown".into()),
                        opened: start,
                        before_history: true,
                        images: BTreeSet::new(),
                        ever: BTreeSet::new(),
                        pushed: None,
                    });
                // A ticket opened within the history that this older block is in opened before it.
                if start < ticket.opened {
                    (ticket.opened, ticket.before_history) = (start, true);
                }
                ticket.images.insert(c.digest.clone());
            }
        }
    }
}

/// The changes in order, each `from` made the `to` of the image's change before it, when the
/// history has one (a takeover of an unfinished change, or a deleted image pushed again, can leave
/// a gap that would otherwise count an image twice).
fn chained(changes: &[Change]) -> Vec<Change> {
    let mut ordered: Vec<&Change> = changes.iter().collect();
    ordered.sort_by(|a, b| (a.at, a.number, &a.digest).cmp(&(b.at, b.number, &b.digest)));
    ordered.dedup_by(|a, b| (a.scope(), &a.digest, a.number) == (b.scope(), &b.digest, b.number));
    let mut last: BTreeMap<(String, String), Option<Standing>> = BTreeMap::new();
    (ordered.into_iter())
        .map(|c| {
            let key = (c.scope(), c.digest.clone());
            let from = last.get(&key).copied().unwrap_or(c.from);
            last.insert(key, c.to);
            Change { from, ..c.clone() }
        })
        .collect()
}

/// The report's figures from the history (`changes`, any order) and the records now (`current`).
pub fn analyze(changes: &[Change], current: &[Current], settings: &Settings) -> Remediation {
    let ordered = chained(changes);
    let mut replay = Replay::default();
    for c in &ordered {
        replay.apply(c);
    }
    // The history begins with its oldest change read (not before `since`; now, when there is none):
    // a block older than that is at least that old.
    let start = ordered
        .first()
        .map_or(settings.now, |c| c.at.max(settings.since));
    replay.before_history(current, start);
    let now = settings.now;
    let sla = &settings.sla;
    let open: Vec<OpenTicket> = open_tickets(&replay, now, sla);
    let longest = settings.windows.iter().copied().max().unwrap_or(90);
    let windows = (settings.windows.iter())
        .map(|days| window(&replay, now - days * DAY, *days, sla))
        .collect();
    let since = now - longest * DAY;
    Remediation {
        generated_at: format_rfc3339(now),
        read_from: format_rfc3339(settings.since),
        history_from: ordered.first().map(|c| format_rfc3339(c.at)),
        now: now_view(&replay, current, &open, now),
        windows,
        repositories: groups(&replay, current, &open, since, sla, Grouping::Repository),
        rules: groups(&replay, current, &open, since, sla, Grouping::Rule),
        trend: trend(&ordered, &replay, current, now, longest),
        open_tickets: open,
    }
}

fn open_tickets(replay: &Replay, now: Epoch, sla: &Sla) -> Vec<OpenTicket> {
    let mut open: Vec<OpenTicket> = (replay.open.iter())
        .map(|((scope, id), t)| {
            let days = sla.days(t.severity);
            OpenTicket {
                scope: scope.clone(),
                vulnerability: id.clone(),
                severity: t.severity,
                rule: t.rule.clone(),
                opened: format_rfc3339(t.opened),
                before_history: t.before_history,
                age_days: in_days(now - t.opened),
                sla_days: days,
                past_sla: now - t.opened > days * DAY,
                images: t.images.len(),
            }
        })
        .collect();
    open.sort_by(|a, b| {
        (&a.opened, &a.scope, &a.vulnerability).cmp(&(&b.opened, &b.scope, &b.vulnerability))
    });
    open
}

fn in_days(seconds: i64) -> f64 {
    (seconds as f64 / DAY as f64 * 10.0).round() / 10.0
}

fn now_view(replay: &Replay, current: &[Current], open: &[OpenTicket], now: Epoch) -> NowView {
    let blocked: Vec<&Current> = current.iter().filter(|c| c.standing.blocks()).collect();
    let mut images: Vec<BlockedImage> = (blocked.iter())
        .map(|c| {
            let known = replay
                .blocked_since
                .get(&(c.scope.clone(), c.digest.clone()));
            BlockedImage {
                scope: c.scope.clone(),
                digest: c.digest.clone(),
                tags: known.map(|(_, tags)| tags.clone()).unwrap_or_default(),
                since: known.map(|(at, _)| format_rfc3339(*at)),
                days: known.map(|(at, _)| in_days(now - at)),
                vulnerabilities: c.blocking.iter().map(|v| v.id.clone()).collect(),
            }
        })
        .collect();
    images.sort_by(|a, b| {
        let days = |i: &BlockedImage| i.days.unwrap_or(f64::MAX);
        days(b)
            .total_cmp(&days(a))
            .then_with(|| (&a.scope, &a.digest).cmp(&(&b.scope, &b.digest)))
    });
    NowView {
        blocked: blocked.len(),
        warned: current.iter().filter(|c| c.standing.warns()).count(),
        released: (current.iter())
            .filter(|c| c.standing.decision == Decision::Block && c.standing.released)
            .count(),
        open_tickets: open.len(),
        open_past_sla: open.iter().filter(|t| t.past_sla).count(),
        blocked_images: images,
        top_vulnerabilities: top_vulnerabilities(&blocked),
    }
}

/// The ten vulnerabilities that block the most images now.
fn top_vulnerabilities(blocked: &[&Current]) -> Vec<TopVulnerability> {
    let mut by_id: BTreeMap<&str, (Severity, usize, BTreeSet<&str>)> = BTreeMap::new();
    for c in blocked {
        for v in &c.blocking {
            let e = by_id
                .entry(&v.id)
                .or_insert((v.severity, 0, BTreeSet::new()));
            e.0 = e.0.max(v.severity);
            e.1 += 1;
            e.2.insert(&c.scope);
        }
    }
    let mut top: Vec<TopVulnerability> = (by_id.into_iter())
        .map(|(id, (severity, images, repos))| TopVulnerability {
            id: id.to_string(),
            severity,
            images,
            repositories: repos.len(),
        })
        .collect();
    top.sort_by(|a, b| {
        (b.images, b.severity)
            .cmp(&(a.images, a.severity))
            .then_with(|| a.id.cmp(&b.id))
    });
    top.truncate(10);
    top
}

fn window(replay: &Replay, since: Epoch, days: i64, sla: &Sla) -> Window {
    let resolved: Vec<&Resolved> = (replay.resolved.iter())
        .filter(|r| r.at >= since && !r.continued)
        .collect();
    let count = |how: Resolution| resolved.iter().filter(|r| r.how == how).count();
    let fixed: Vec<&&Resolved> = resolved
        .iter()
        .filter(|r| r.how == Resolution::Fixed)
        .collect();
    Window {
        days,
        opened: replay.opened.iter().filter(|at| **at >= since).count(),
        fixed: Durations::of(fixed.iter().map(|r| r.at - r.opened).collect()),
        fixed_late: fixed.iter().filter(|r| late(r, sla)).count(),
        excepted: count(Resolution::Excepted),
        released: count(Resolution::Released),
        deleted: count(Resolution::Deleted),
        reassessed: count(Resolution::Reassessed),
        tags_fixed: Durations::of(within(&replay.tags_fixed, since)),
        blocks_ended: Durations::of(within(&replay.ended, since)),
    }
}

fn late(r: &Resolved, sla: &Sla) -> bool {
    r.at - r.opened > sla.days(r.severity) * DAY
}

fn within(ended: &[(Epoch, i64)], since: Epoch) -> Vec<i64> {
    ended
        .iter()
        .filter(|(at, _)| *at >= since)
        .map(|(_, d)| *d)
        .collect()
}

/// What the figures are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grouping {
    Repository,
    Rule,
}

/// The figures per repository or per rule (an image's rule is its last change's; `unknown` when the
/// history does not reach back to it).
fn groups(
    replay: &Replay,
    current: &[Current],
    open: &[OpenTicket],
    since: Epoch,
    sla: &Sla,
    by: Grouping,
) -> Vec<Group> {
    let mut out: BTreeMap<String, Group> = BTreeMap::new();
    let mut fixed: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for c in current
        .iter()
        .filter(|c| c.standing.blocks() || c.standing.warns())
    {
        let name = match by {
            Grouping::Repository => c.scope.as_str(),
            Grouping::Rule => (replay.rules.get(&(c.scope.clone(), c.digest.clone())))
                .map_or("unknown", String::as_str),
        };
        let g = group(&mut out, name);
        g.blocked_now += usize::from(c.standing.blocks());
        g.warned_now += usize::from(c.standing.warns());
    }
    for t in open {
        let g = group(
            &mut out,
            if by == Grouping::Rule {
                &t.rule
            } else {
                &t.scope
            },
        );
        g.open += 1;
        g.open_past_sla += usize::from(t.past_sla);
    }
    for r in replay
        .resolved
        .iter()
        .filter(|r| r.at >= since && !r.continued)
    {
        let name = if by == Grouping::Rule {
            &r.rule
        } else {
            &r.scope
        };
        let g = group(&mut out, name);
        match r.how {
            Resolution::Fixed => {
                g.fixed_late += usize::from(late(r, sla));
                fixed.entry(name.clone()).or_default().push(r.at - r.opened);
            }
            Resolution::Excepted => g.excepted += 1,
            Resolution::Released => g.released += 1,
            Resolution::Reassessed => g.reassessed += 1,
            Resolution::Deleted => {}
        }
    }
    for (name, seconds) in fixed {
        group(&mut out, &name).fixed = Durations::of(seconds);
    }
    out.into_values().collect()
}

/// The group named `name`, empty at first.
fn group<'m>(out: &'m mut BTreeMap<String, Group>, name: &str) -> &'m mut Group {
    out.entry(name.to_string()).or_insert_with(|| Group {
        name: name.to_string(),
        blocked_now: 0,
        warned_now: 0,
        fixed: Durations::of(Vec::new()),
        fixed_late: 0,
        open: 0,
        open_past_sla: 0,
        excepted: 0,
        released: 0,
        reassessed: 0,
    })
}

/// Each day of the last `days`: the images blocked and warned at its end (the records now, with the
/// changes after that day undone), the blocks and the fixes of the day.
fn trend(
    ordered: &[Change],
    replay: &Replay,
    current: &[Current],
    now: Epoch,
    days: i64,
) -> Vec<Day> {
    let mut blocked = current.iter().filter(|c| c.standing.blocks()).count() as i64;
    let mut warned = current.iter().filter(|c| c.standing.warns()).count() as i64;
    let today = now - now.rem_euclid(DAY);
    let mut later = ordered.iter().rev().peekable();
    let mut out = Vec::new();
    for back in 0..days {
        let start = today - back * DAY;
        let end = start + DAY;
        while let Some(c) = later.next_if(|c| c.at >= end) {
            undo(c, &mut blocked, &mut warned);
        }
        let in_day = |at: Epoch| at >= start && at < end;
        out.push(Day {
            date: format_date(start),
            blocked: blocked.max(0),
            warned: warned.max(0),
            blocks: ordered
                .iter()
                .filter(|c| c.blocks() && in_day(c.at))
                .count(),
            fixes: (replay.resolved.iter())
                .filter(|r| !r.continued)
                .filter(|r| r.how == Resolution::Fixed && in_day(r.at))
                .count(),
        });
    }
    out.reverse();
    out
}

/// Takes a change back from the counts.
fn undo(c: &Change, blocked: &mut i64, warned: &mut i64) {
    let was = |s: Option<Standing>, f: fn(&Standing) -> bool| i64::from(s.as_ref().is_some_and(f));
    *blocked += was(c.from, Standing::blocks) - was(c.to, Standing::blocks);
    *warned += was(c.from, Standing::warns) - was(c.to, Standing::warns);
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Epoch = 1_800_000_000 - 1_800_000_000 % DAY + DAY / 2;

    fn vuln(id: &str, severity: Severity) -> Vulnerability {
        Vulnerability {
            id: id.into(),
            severity,
        }
    }

    /// A change of `digest` in `repo`, `days_ago` days before now.
    fn change(
        repo: &str,
        digest: &str,
        days_ago: i64,
        from: Option<Standing>,
        to: Option<Standing>,
    ) -> Change {
        Change {
            account: None,
            region: None,
            repository: repo.into(),
            digest: digest.into(),
            number: (100 - days_ago) as u64,
            pushed_at: Some(NOW - days_ago * DAY - 3600),
            at: NOW - days_ago * DAY,
            from,
            to,
            cause: Cause::Scan,
            actor: "evt".into(),
            rule: "defaults".into(),
            tags: vec![],
            blocking: vec![],
            excepted: vec![],
        }
    }

    fn block() -> Option<Standing> {
        Some(Standing::new(Decision::Block, false))
    }

    fn pass() -> Option<Standing> {
        Some(Standing::new(Decision::Pass, false))
    }

    fn current(
        repo: &str,
        digest: &str,
        standing: Option<Standing>,
        blocking: Vec<Vulnerability>,
    ) -> Current {
        Current {
            scope: repo.into(),
            digest: digest.into(),
            standing: standing.unwrap_or(Standing::new(Decision::Pending, false)),
            blocking,
        }
    }

    fn history() -> Vec<Change> {
        let crit = vec![vuln("CVE-1", Severity::Critical)];
        vec![
            // team-a/api: a blocked image, fixed 5 days later by a new image under `latest`.
            Change {
                tags: vec!["v1".into(), "latest".into()],
                blocking: crit.clone(),
                ..change("team-a/api", "a", 10, None, block())
            },
            Change {
                tags: vec!["latest".into()],
                ..change("team-a/api", "b", 5, None, pass())
            },
            // team-b/web: blocked, then an exception lets it pass: resolved, not fixed.
            Change {
                blocking: vec![vuln("CVE-2", Severity::High)],
                rule: "web".into(),
                ..change("team-b/web", "c", 9, None, block())
            },
            Change {
                cause: Cause::Exception,
                excepted: vec!["CVE-2".into()],
                rule: "web".into(),
                ..change("team-b/web", "c", 7, block(), pass())
            },
            // team-b/web: blocked 40 days ago and still: past the CRITICAL SLA (15 days).
            Change {
                blocking: vec![vuln("CVE-3", Severity::Critical)],
                rule: "web".into(),
                ..change("team-b/web", "d", 40, None, block())
            },
            // team-c/job: released by an operator; team-d/tool: deleted while blocked.
            Change {
                blocking: vec![vuln("CVE-4", Severity::Medium)],
                ..change("team-c/job", "e", 6, None, block())
            },
            Change {
                cause: Cause::Release,
                ..change(
                    "team-c/job",
                    "e",
                    4,
                    block(),
                    Some(Standing::new(Decision::Block, true)),
                )
            },
            Change {
                blocking: vec![vuln("CVE-5", Severity::Low)],
                ..change("team-d/tool", "f", 3, None, block())
            },
            Change {
                cause: Cause::Deleted,
                ..change("team-d/tool", "f", 2, block(), None)
            },
        ]
    }

    fn now_records() -> Vec<Current> {
        vec![
            current(
                "team-a/api",
                "a",
                block(),
                vec![vuln("CVE-1", Severity::Critical)],
            ),
            current("team-a/api", "b", pass(), vec![]),
            current("team-b/web", "c", pass(), vec![]),
            current(
                "team-b/web",
                "d",
                block(),
                vec![vuln("CVE-3", Severity::Critical)],
            ),
            current(
                "team-c/job",
                "e",
                Some(Standing::new(Decision::Block, true)),
                vec![],
            ),
        ]
    }

    fn settings() -> Settings {
        Settings {
            now: NOW,
            since: NOW - 400 * DAY,
            windows: vec![30, 90],
            sla: Sla::default(),
        }
    }

    #[test]
    fn a_fix_is_a_new_image_and_exceptions_releases_and_deletions_are_counted_apart() {
        let mut changes = history();
        // A retried delivery records the same change again: counted once.
        changes.push(changes[0].clone());
        let r = analyze(&changes, &now_records(), &settings());

        assert_eq!((r.now.blocked, r.now.warned, r.now.released), (2, 0, 1));
        let w30 = &r.windows[0];
        assert_eq!(w30.days, 30);
        assert_eq!(
            (
                w30.fixed.count,
                w30.fixed.mean_days,
                w30.excepted,
                w30.released,
                w30.deleted
            ),
            (1, Some(5.0), 1, 1, 1)
        );
        assert_eq!((w30.opened, r.windows[1].opened), (4, 5));
        // `latest` fixed in 5 days; `v1` stays blocked (its image was never replaced).
        assert_eq!(
            (w30.tags_fixed.count, w30.tags_fixed.mean_days),
            (1, Some(5.0))
        );
        // Blocks that ended: the exception (2 days), the release (2), the deletion (1).
        assert_eq!(
            (w30.blocks_ended.count, w30.blocks_ended.median_days),
            (3, Some(2.0))
        );
        // The ticket still open is the 40-day-old CRITICAL one, past its 15-day SLA.
        assert_eq!(r.open_tickets.len(), 1);
        let open = &r.open_tickets[0];
        assert_eq!(
            (open.vulnerability.as_str(), open.past_sla, open.age_days),
            ("CVE-3", true, 40.0)
        );
        assert_eq!((r.now.open_tickets, r.now.open_past_sla), (1, 1));
        // The image blocked longest comes first, with its tags and what blocks it.
        assert_eq!(r.now.blocked_images[0].digest, "d");
        assert_eq!(r.now.blocked_images[1].tags, vec!["v1", "latest"]);
        assert_eq!(r.now.top_vulnerabilities.len(), 2);
    }

    #[test]
    fn figures_per_repository_and_rule_and_the_daily_trend() {
        let r = analyze(&history(), &now_records(), &settings());
        let repo = |name: &str| r.repositories.iter().find(|g| g.name == name).cloned();
        let api = repo("team-a/api").unwrap_or_else(|| panic!("{:?}", r.repositories));
        assert_eq!((api.blocked_now, api.fixed.count, api.open), (1, 1, 0));
        let web = repo("team-b/web").unwrap_or_else(|| panic!("{:?}", r.repositories));
        assert_eq!(
            (web.blocked_now, web.excepted, web.open, web.open_past_sla),
            (1, 1, 1, 1)
        );
        let rule = r.rules.iter().find(|g| g.name == "web").cloned();
        let rule = rule.unwrap_or_else(|| panic!("{:?}", r.rules));
        assert_eq!((rule.blocked_now, rule.excepted, rule.open), (1, 1, 1));

        assert_eq!(r.trend.len(), 90);
        let day = |ago: usize| r.trend[89 - ago].clone();
        assert_eq!(day(0).blocked, 2, "today: the records now");
        // 8 days ago: a, c, d and nothing else blocked yet (e blocked 6 days ago).
        assert_eq!(day(8).blocked, 3);
        // 20 days ago only d was blocked; 50 days ago nothing.
        assert_eq!((day(20).blocked, day(50).blocked), (1, 0));
        assert_eq!((day(10).blocks, day(5).fixes), (1, 1));
    }

    #[test]
    fn a_vulnerability_that_comes_back_opens_a_new_ticket() {
        let crit = vec![vuln("CVE-1", Severity::Critical)];
        let changes = vec![
            Change {
                blocking: crit.clone(),
                ..change("r", "a", 20, None, block())
            },
            change("r", "b", 15, None, pass()),
            Change {
                blocking: crit.clone(),
                ..change("r", "c", 10, None, block())
            },
        ];
        let r = analyze(&changes, &[], &settings());
        assert_eq!(r.windows[0].opened, 2);
        assert_eq!(r.windows[0].fixed.count, 1);
        assert_eq!(r.open_tickets.len(), 1);
        assert_eq!(r.open_tickets[0].age_days, 10.0);
    }

    #[test]
    fn only_a_newer_image_fixes_the_same_image_reassessed_or_an_older_one_judged_late_does_not() {
        let crit = vec![vuln("CVE-1", Severity::Critical)];
        let pending = Some(Standing::new(Decision::Pending, false));
        let changes = vec![
            Change {
                blocking: crit.clone(),
                tags: vec!["v1".into()],
                ..change("r", "a", 20, pending, block())
            },
            // An image pushed a year ago, judged only now (a reconcile after the upgrade): not a fix.
            Change {
                pushed_at: Some(NOW - 365 * DAY),
                ..change("r", "old", 15, None, pass())
            },
            // The blocked image itself passes later (Inspector's data or the policy changed): its
            // ticket is reassessed, not fixed, and its tag is no longer blocked (nor fixed later).
            Change {
                cause: Cause::Reconcile,
                ..change("r", "a", 10, block(), pass())
            },
            Change {
                tags: vec!["v1".into()],
                ..change("r", "b", 5, pending, pass())
            },
        ];
        let r = analyze(&changes, &[], &settings());
        let w = &r.windows[0];
        assert_eq!(
            (w.fixed.count, w.reassessed, w.tags_fixed.count),
            (0, 1, 0),
            "{w:?}"
        );
        assert_eq!(r.open_tickets.len(), 0);
    }

    #[test]
    fn exceptions_match_ids_in_any_case_and_count_apart() {
        let changes = vec![
            Change {
                blocking: vec![vuln("CVE-2026-9", Severity::High)],
                ..change("r", "a", 9, None, block())
            },
            Change {
                cause: Cause::Deadline,
                excepted: vec!["cve-2026-9".into()],
                ..change("r", "a", 7, block(), pass())
            },
        ];
        let w = &analyze(&changes, &[], &settings()).windows[0];
        assert_eq!(
            (w.excepted, w.fixed.count, w.reassessed),
            (1, 0, 0),
            "{w:?}"
        );
    }

    #[test]
    fn a_superseded_image_blocked_again_after_its_release_does_not_reopen_the_fixed_ticket() {
        let crit = vec![vuln("CVE-1", Severity::Critical)];
        let released = Some(Standing::new(Decision::Block, true));
        let changes = vec![
            Change {
                blocking: crit.clone(),
                ..change("r", "a", 20, None, block())
            },
            Change {
                cause: Cause::Release,
                ..change("r", "a", 19, block(), released)
            },
            change("r", "b", 15, None, pass()),
            // The release ends: `a` blocks again, but `b` (newer) already fixed the ticket.
            Change {
                blocking: crit,
                cause: Cause::Deadline,
                pushed_at: Some(NOW - 20 * DAY - 3600),
                ..change("r", "a", 12, released, block())
            },
        ];
        let r = analyze(&changes, &[], &settings());
        assert_eq!(
            (
                r.windows[0].opened,
                r.windows[0].released,
                r.open_tickets.len()
            ),
            (1, 1, 0)
        );
    }

    #[test]
    fn a_block_older_than_the_history_is_an_open_ticket_at_least_that_old() {
        let records = [current(
            "r",
            "z",
            block(),
            vec![vuln("CVE-7", Severity::High)],
        )];
        // The history read begins 40 days ago (its oldest change, another image's): the block is at
        // least that old. With no history at all, nothing says how old it is.
        let history = [change("r", "y", 40, None, pass())];
        assert_eq!(
            analyze(&[], &records, &settings()).open_tickets[0].age_days,
            0.0
        );
        let r = analyze(&history, &records, &settings());
        assert_eq!(r.open_tickets.len(), 1);
        let t = &r.open_tickets[0];
        assert_eq!(
            (t.before_history, t.age_days, t.past_sla),
            (true, 40.0, true),
            "{t:?}"
        );
        assert_eq!((r.now.open_tickets, r.now.open_past_sla), (1, 1));
    }

    #[test]
    fn a_gap_in_an_images_chain_is_taken_from_its_last_change_not_counted_twice() {
        // Change 2 was taken over from an unfinished change and says it came from `pass`; the image
        // was blocked by change 1, and only its last change is believed.
        let changes = vec![
            Change {
                blocking: vec![vuln("CVE-1", Severity::Critical)],
                ..change("r", "a", 9, None, block())
            },
            change("r", "a", 5, pass(), pass()),
        ];
        let r = analyze(&changes, &[current("r", "a", pass(), vec![])], &settings());
        let day = |ago: usize| r.trend[89 - ago].blocked;
        assert_eq!((day(0), day(6), day(10)), (0, 1, 0));
        assert_eq!(r.windows[0].blocks_ended.count, 1);
    }

    #[test]
    fn a_release_that_ends_continues_its_ticket_from_its_first_opening() {
        // Blocked on day -20 (CRITICAL: 15 days), released on day -6 for a day, blocked again on
        // day -5: one ticket, 20 days old, past its SLA; the release taken back (the ticket goes on).
        let crit = vec![vuln("CVE-1", Severity::Critical)];
        let released = Some(Standing::new(Decision::Block, true));
        let changes = vec![
            Change {
                blocking: crit.clone(),
                ..change("r", "a", 20, None, block())
            },
            Change {
                cause: Cause::Release,
                ..change("r", "a", 6, block(), released)
            },
            Change {
                blocking: crit,
                cause: Cause::Deadline,
                ..change("r", "a", 5, released, block())
            },
        ];
        let r = analyze(&changes, &[current("r", "a", block(), vec![])], &settings());
        assert_eq!((r.windows[0].opened, r.windows[0].released), (1, 0));
        assert_eq!(r.open_tickets.len(), 1);
        assert_eq!(
            (r.open_tickets[0].age_days, r.open_tickets[0].past_sla),
            (20.0, true)
        );
    }

    #[test]
    fn a_vulnerability_back_in_a_new_image_after_an_exception_is_a_new_ticket() {
        let crit = vec![vuln("CVE-1", Severity::Critical)];
        let changes = vec![
            Change {
                blocking: crit.clone(),
                ..change("r", "a", 20, None, block())
            },
            Change {
                excepted: vec!["CVE-1".into()],
                ..change("r", "a", 18, block(), pass())
            },
            change("r", "b", 15, None, pass()),
            Change {
                blocking: crit,
                ..change("r", "c", 10, None, block())
            },
        ];
        let r = analyze(&changes, &[], &settings());
        assert_eq!((r.windows[0].opened, r.windows[0].excepted), (2, 1));
        assert_eq!(
            (r.open_tickets.len(), r.open_tickets[0].age_days),
            (1, 10.0)
        );
    }

    #[test]
    fn an_old_image_blocked_again_when_its_exception_ends_is_superseded_by_a_newer_one() {
        let crit = vec![vuln("CVE-1", Severity::Critical)];
        let a_pushed = Some(NOW - 21 * DAY);
        let changes = vec![
            Change {
                blocking: crit.clone(),
                pushed_at: a_pushed,
                ..change("r", "a", 20, None, block())
            },
            Change {
                excepted: vec!["CVE-1".into()],
                pushed_at: a_pushed,
                ..change("r", "a", 18, block(), pass())
            },
            change("r", "b", 15, None, pass()),
            // The exception ends (the sweep): `a` is older than `b`, which deploys without CVE-1.
            Change {
                blocking: crit.clone(),
                cause: Cause::Deadline,
                pushed_at: a_pushed,
                ..change("r", "a", 10, pass(), block())
            },
        ];
        let r = analyze(&changes, &[], &settings());
        assert_eq!((r.windows[0].opened, r.open_tickets.len()), (1, 0));
        // A rescan that finds a new vulnerability in the old image is no supersession: it opens one.
        let mut rescanned = changes.clone();
        rescanned.push(Change {
            blocking: vec![vuln("CVE-9", Severity::High)],
            pushed_at: a_pushed,
            ..change("r", "a", 5, block(), block())
        });
        let r = analyze(&rescanned, &[], &settings());
        assert_eq!(r.open_tickets.len(), 1, "{:?}", r.open_tickets);
    }

    #[test]
    fn a_first_verdict_released_by_an_override_fixes_nothing() {
        let crit = vec![vuln("CVE-1", Severity::Critical)];
        let changes = vec![
            Change {
                blocking: crit.clone(),
                ..change("r", "a", 20, None, block())
            },
            change(
                "r",
                "b",
                10,
                None,
                Some(Standing::new(Decision::Block, true)),
            ),
        ];
        let r = analyze(&changes, &[], &settings());
        assert_eq!((r.windows[0].fixed.count, r.open_tickets.len()), (0, 1));
    }

    #[test]
    fn an_sla_setting_overrides_the_defaults_it_names_and_refuses_what_it_cannot_read() {
        let sla = Sla::parse("high=14, LOW=60").unwrap_or_default();
        let days: Vec<i64> = [
            Severity::Critical,
            Severity::High,
            Severity::Medium,
            Severity::Low,
        ]
        .into_iter()
        .map(|s| sla.days(s))
        .collect();
        assert_eq!(days, [15, 14, 90, 60]);
        assert_eq!(Sla::parse(""), Ok(Sla::default()));
        for bad in ["HIGH", "SEVERE=3", "HIGH=-1", "HIGH=soon", "HIGH=99999"] {
            assert!(Sla::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_give_mean_median_and_90th_percentile() {
        let d = Durations::of((1..=10).map(|n| n * DAY).collect());
        assert_eq!(
            (d.count, d.mean_days, d.median_days, d.p90_days),
            (10, Some(5.5), Some(5.0), Some(9.0))
        );
        assert_eq!(Durations::of(vec![]).mean_days, None);
    }
}
