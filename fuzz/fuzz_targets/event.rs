//! Fuzz target: an EventBridge event as Lambda hands it over (raw text, strict JSON, 1 MiB limit) and
//! as the CLI reads it. Any input must be parsed or refused with a one-line reason, never a panic.
#![no_main]

use gatekeeper::domain::events::{Incoming, parse_incoming};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The Lambda path: the payload deserialised as `Incoming` (raw text first, never an error for
    // valid JSON), then parsed.
    if let Ok(incoming) = serde_json::from_str::<Incoming>(text)
        && let Err(e) = parse_incoming(&incoming)
    {
        assert!(!e.reason().is_empty() && !e.reason().contains('\n'), "{e}");
    }
    // The CLI path.
    if let Err(e) = gatekeeper::domain::events::parse_str(text) {
        assert!(!e.reason().is_empty() && !e.reason().contains('\n'), "{e}");
    }
});
