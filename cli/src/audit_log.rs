//! The stderr writer of the audit log: its JSON lines with the characters a terminal acts on
//! `\u`-escaped like every message body, so a repository, tag or `--reason` cannot drive the
//! operator's terminal. Still valid JSON with the same values.

use std::io::{self, Write};

/// Writes JSON text through [`gatekeeper::outbound::text::escape_markup`] to the inner writer.
pub struct Escaping<W>(pub W);

impl<W: Write> Write for Escaping<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match std::str::from_utf8(buf) {
            Ok(text) => {
                let escaped = gatekeeper::outbound::text::escape_markup(text);
                self.0.write_all(escaped.as_bytes()).map(|()| buf.len())
            }
            // The formatter writes whole lines; bytes that are not UTF-8 pass as they came.
            Err(_) => self.0.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_lines_reach_stderr_with_controls_escaped_and_the_same_values() {
        let value = serde_json::json!({"repository": "team/\u{1b}[2J\u{9b}\u{202e}", "reason": "INC-7\r\n"});
        let line = format!("{value}\n");
        let mut out = Escaping(Vec::new());
        out.write_all(line.as_bytes()).unwrap();
        let written = String::from_utf8(out.0).unwrap();
        for raw in ['\u{1b}', '\u{9b}', '\u{202e}', '\r'] {
            assert!(!written.contains(raw), "{raw:?} in {written}");
        }
        assert!(
            written.contains(r#""team/\u001b[2J\u009b\u202e""#),
            "{written}"
        );
        assert!(
            written.ends_with('\n') && written.lines().count() == 1,
            "{written}"
        );
        let back: serde_json::Value = serde_json::from_str(&written).unwrap();
        assert_eq!(back, value);
    }
}
