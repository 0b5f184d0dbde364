//! What the gatekeeper sends: the notice data, the JSON message and the Chatbot card rendered from it,
//! tickets, reminders, the cost report and the Organization's cost summary, the metrics line, the
//! report's HTML page and weekly message, and the text helpers every renderer shares. Pure.

pub mod chat;
pub mod cost;
pub mod cost_summary;
pub mod message;
pub mod metrics;
pub mod notice;
pub mod reminder;
pub mod report_digest;
pub mod report_page;
pub mod text;
pub mod tickets;
