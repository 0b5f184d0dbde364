//! One small trait per outside capability. The service is generic over them; AWS adapters implement
//! them in `adapters`; `fakes` has in-memory ones for tests. No SDK type crosses a port.

#[cfg(any(test, feature = "fakes"))]
pub mod fakes;
mod findings;
mod notifier;
mod registry;
mod reject;
mod store;

pub use findings::FindingsSource;
pub use notifier::Notifier;
pub use registry::{
    BasicScan, ImageDetail, ImageRegistry, Manifest, PutTag, Removal, RemovedTag, ScanCoverage,
    StartScan,
};
pub use reject::RejectSink;
pub use store::{
    ImageAnnotations, ImageRecords, OnceMarks, StateStore, SweepSchedule, TagChangeBreaker,
    TicketLedger,
};
