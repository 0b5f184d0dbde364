//! Test suites that cross modules: hostile input against every renderer and parser; the claim
//! protocol's interleavings and SQS batches through the service over the in-memory fakes.

mod claims;
mod hostile;
mod intake;
