//! One small trait per outside capability. The service is generic over them; AWS adapters implement
//! them in `adapters`; `fakes` has in-memory ones for tests. No SDK type crosses a port.

#[cfg(any(test, feature = "fakes"))]
pub mod fakes;
mod findings;
mod notifier;
mod registry;
mod reject;
mod store;

pub use findings::{FindingsSource, Window};
pub use notifier::Notifier;
pub use registry::{
    BasicScan, ImageDetail, ImageRegistry, Manifest, PutTag, Reach, Removal, RemovedTag,
    ScanCoverage, StartScan, Storage,
};
pub use reject::RejectSink;
pub use store::{
    ImageAnnotations, ImageRecords, KevCache, OnceMarks, StateStore, SweepSchedule,
    TagChangeBreaker, TicketLedger, VerdictHistory,
};

/// The four ports a gatekeeper acts through, bounded once: every tuple `(registry, notifier, state,
/// rejects)` of types that implement them is one.
pub trait Ports {
    /// ECR.
    type Registry: ImageRegistry + Reach + Sync;
    /// The JSON topic.
    type Notifier: Notifier + Sync;
    /// The state table.
    type State: StateStore + Sync;
    /// The rejected-events queue.
    type Rejects: RejectSink + Sync;
}

impl<R, N, S, J> Ports for (R, N, S, J)
where
    R: ImageRegistry + Reach + Sync,
    N: Notifier + Sync,
    S: StateStore + Sync,
    J: RejectSink + Sync,
{
    type Registry = R;
    type Notifier = N;
    type State = S;
    type Rejects = J;
}
