//! Fuzz target: a policy document as `gatekeeper policy check` and every cold start read it. Any
//! input must load or be refused with at least one problem, never a panic, and the refusal must be
//! one line (the CLI and the cold start's log promise one-line errors).
#![no_main]

use gatekeeper::domain::policy::Policy;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = Policy::parse(text) {
        assert!(!e.problems.is_empty());
        let said = e.to_string();
        assert!(!said.chars().any(char::is_control), "{said:?}");
    }
});
