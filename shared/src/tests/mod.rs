//! Test suites that cross modules: hostile input against every renderer and parser; the claim
//! protocol's interleavings, SQS batches and an Organization's members through the service over the
//! in-memory fakes.

mod archive;
mod claims;
mod history;
mod hostile;
mod intake;
mod members;

use crate::domain::Mode;
use crate::domain::policy::Policy;
use crate::domain::tags::TagScheme;
use crate::ports::fakes::{FakeRegistry, FakeState, Hooked, RecordingNotifier, RecordingRejects};
use crate::service::Gatekeeper;

thread_local! {
    /// The clock of the suites that move time (each test runs on its own thread).
    static NOW: std::cell::Cell<i64> = const { std::cell::Cell::new(1_800_000_000) };
}

/// The suites' clock, for `Gatekeeper::clock`.
fn now() -> i64 {
    NOW.with(std::cell::Cell::get)
}

/// Moves the suites' clock (a test starts by setting it).
fn set_now(t: i64) {
    NOW.with(|n| n.set(t));
}

/// One Lambda container over shared in-memory fakes, each port with hooks of its own.
type Container = Gatekeeper<(
    Hooked<FakeRegistry>,
    Hooked<RecordingNotifier>,
    Hooked<FakeState>,
    RecordingRejects,
)>;

/// A new container in front of these fakes, enforcing the default policy at 1_800_000_000.
fn container(
    registry: &FakeRegistry,
    notifier: &RecordingNotifier,
    state: &FakeState,
) -> Container {
    Gatekeeper {
        registry: Hooked::new(registry.clone()),
        notifier: Hooked::new(notifier.clone()),
        state: Hooked::new(state.clone()),
        rejects: RecordingRejects::default(),
        policy: Policy::builtin(),
        mode: Mode::Enforce,
        tags: TagScheme::default(),
        claim_lease: 300,
        home: Some(crate::domain::Place {
            account: "123456789012".into(),
            region: "eu-west-1".into(),
        }),
        members: None,
        ou_path: None,
        clock: || 1_800_000_000,
    }
}
