//! ecr-gatekeeper: turns ECR push and scan events into a verdict per image, quarantines or releases
//! the image by its tags, and notifies through SNS.
//!
//! The pure core (`domain`, `events`, `policy`, `verdict`, `plan`, `tags`, `index`, `tickets`,
//! `reminder`, `cost`, `message`, `chat`, `escape`, `time`) has no I/O and no AWS types. `ports` names the outside capabilities, `adapters` implements them with the
//! AWS SDK, `service` is the job itself, generic over the ports, and `bootstrap` builds it for the
//! functions and the CLI (with the `lambda` feature, runs a function).

pub mod adapters;
pub mod bootstrap;
pub mod chat;
pub mod config;
pub mod cost;
pub mod domain;
pub mod error;
pub mod escape;
pub mod events;
#[cfg(test)]
mod fuzz;
pub mod index;
pub mod message;
pub mod plan;
pub mod policy;
pub mod ports;
pub mod reminder;
pub mod service;
pub mod tags;
pub mod tickets;
pub mod time;
pub mod verdict;
