//! ecr-gatekeeper: turns ECR push and scan events into a verdict per image, quarantines or releases
//! the image by its tags, and notifies through SNS.
//!
//! Read it from the inside out; each layer uses only the ones above it in this list:
//! - `domain`: the pure core (vocabulary, events, policy, verdict, tag plan, time): no I/O, no AWS
//!   types, no async.
//! - `outbound`: what is sent (notice data, the JSON message, the Chatbot card, tickets, reminders,
//!   the cost report) and the text helpers they share. Pure.
//! - `state`: the records kept per image in the state table. Pure.
//! - `error`: the AWS error and the gatekeeper's own failures, each with its retry class.
//! - `ports`: one small trait per outside capability.
//! - `adapters`: the ports implemented with the AWS SDK, one per service.
//! - `service`: the gatekeeper's jobs, generic over the ports, one job per file.
//! - `bootstrap`: configuration from the environment, the clients, the policy; runs a function
//!   (with the `lambda` feature) or serves the CLI.

pub mod adapters;
pub mod bootstrap;
pub mod domain;
pub mod error;
pub mod outbound;
pub mod ports;
pub mod service;
pub mod state;
#[cfg(test)]
mod tests;
