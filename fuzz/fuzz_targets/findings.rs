//! Fuzz target: a saved findings document (ListFindings or DescribeImageScanFindings output) as
//! `gatekeeper evaluate --findings` reads it. Any input must be parsed or refused, never a panic.
#![no_main]

use gatekeeper::domain::events::{Incoming, parse_findings_document};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(incoming) = Incoming::from_text(text, 1 << 20)
        && incoming.refusal().is_none()
    {
        let _ = parse_findings_document(&incoming.value);
    }
});
