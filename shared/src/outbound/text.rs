//! The text helpers every renderer shares: JSON markup escapes, clipping, SNS subjects (on top of
//! [`crate::domain::escape`]). Pure.

/// `s` cut to at most `max` bytes (on a character boundary), `...` marking the cut.
pub(crate) fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max.saturating_sub(3);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

/// Writes `<`, `>`, `&` and `@`, and the characters a terminal or mail reader acts on that JSON
/// allows raw (DEL, C1 controls, bidi controls, U+2028/U+2029: see [`crate::domain::escape`]), inside
/// serialised JSON as `\u` escapes; the decoded values are unchanged. Safe on any serde_json output
/// (compact or pretty): none of those characters occurs in JSON syntax outside strings, and serde_json
/// already escapes C0 controls inside strings (the raw ones left are whitespace between tokens).
pub fn escape_markup(json: &str) -> String {
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        match c {
            '<' | '>' | '&' | '@' => push_json_escape(&mut out, c),
            c if c > '\u{1f}' && crate::domain::escape::needs_escape(c) => {
                push_json_escape(&mut out, c)
            }
            c => out.push(c),
        }
    }
    out
}

/// `c` (from the Basic Multilingual Plane) as a JSON `\uXXXX` escape.
fn push_json_escape(out: &mut String, c: char) {
    use std::fmt::Write;
    // Writing to a String cannot fail.
    let _ = write!(out, "\\u{:04x}", c as u32);
}

/// An SNS subject (SNS wants ASCII without line breaks or control characters, under 100
/// characters): controls shown as escapes by [`crate::domain::escape::line`], other non-ASCII characters
/// as `?`, markup characters as `_`, at most 99 characters.
pub fn subject_line(text: &str) -> String {
    let cleaned: String = crate::domain::escape::line(text)
        .chars()
        .map(|c| match c {
            '<' | '>' | '&' | '@' => '_',
            c if c.is_ascii_graphic() || c == ' ' => c,
            _ => '?',
        })
        .collect();
    let trimmed = cleaned.trim();
    if trimmed.is_empty() {
        "ecr-gatekeeper".to_string()
    } else {
        clip(trimmed, 99)
    }
}
