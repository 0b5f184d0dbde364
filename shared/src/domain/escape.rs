//! The one escaping routine for text a person reads (CLI output and errors, event refusals, Chatbot
//! cards, e-mail subjects). Pure: no I/O.
//!
//! Text from events, policies, file names, AWS and the command line may hold characters that a
//! terminal, chat client or mail reader acts on instead of showing: C0 controls (ESC starts screen
//! clears, window titles and OSC 8 links; BEL, CR, backspace, `\n` forge or hide output), DEL, C1
//! controls (U+009B is a one-character CSI), the bidi overrides, isolates and marks that reorder what
//! is shown (U+202A..U+202E, U+2066..U+2069, U+200E, U+200F, U+061C), and the line and paragraph
//! separators U+2028/U+2029. [`line`] shows each as a visible escape (`\n`, `\r`, `\t`, `\x1b`,
//! `\x9b`, `\u{202e}`) and leaves every other character as it is, ordinary non-ASCII text (`café`,
//! `東京`) included. A backslash is not doubled, so the escape is for reading, not for decoding.
//!
//! There is no multi-line variant: every multi-line output (a `policy check` listing, the `check`
//! table, the cost report) is built by our code from one-line fields, so `\n` inside a field is
//! always escaped and can never forge a line.

use std::borrow::Cow;
use std::fmt::Write;

/// Whether a terminal or reader would act on `c` instead of showing it: C0 and C1 controls, DEL,
/// bidi controls and U+2028/U+2029.
pub fn needs_escape(c: char) -> bool {
    matches!(
        c,
        '\u{0}'..='\u{1f}'
            | '\u{7f}'..='\u{9f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{061c}'
            | '\u{2028}'
            | '\u{2029}'
    )
}

/// `s` as one line for a person: every character that [`needs_escape`] shown as a visible escape,
/// the rest unchanged (and not copied when nothing needs escaping).
pub fn line(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // Writing to a String cannot fail.
            c if needs_escape(c) && (c as u32) < 0x100 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:04x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use proptest::prelude::*;

    use super::*;

    /// One of each class a terminal acts on, as issue 20 lists them.
    pub(crate) const HOSTILE: &[(&str, &str)] = &[
        ("\u{1b}[2J\u{1b}[H", "\\x1b[2J\\x1b[H"),
        (
            "\u{1b}]8;;https://evil.example\u{7}click\u{1b}]8;;\u{7}",
            "\\x1b]8;;https://evil.example\\x07click\\x1b]8;;\\x07",
        ),
        ("\u{1b}]0;pwned\u{7}", "\\x1b]0;pwned\\x07"),
        ("bell\u{7}", "bell\\x07"),
        ("ok\rFAKE", "ok\\rFAKE"),
        ("abc\u{8}\u{8}\u{8}xyz", "abc\\x08\\x08\\x08xyz"),
        ("one\ngatekeeper: forged", "one\\ngatekeeper: forged"),
        ("tab\there", "tab\\there"),
        ("nul\u{0}", "nul\\x00"),
        ("del\u{7f}", "del\\x7f"),
        ("\u{9b}2J", "\\x9b2J"),
        ("\u{85}next", "\\x85next"),
        ("user\u{202e}gnp.exe", "user\\u{202e}gnp.exe"),
        ("\u{2066}isolated\u{2069}", "\\u{2066}isolated\\u{2069}"),
        ("\u{200e}\u{200f}\u{61c}", "\\u{200e}\\u{200f}\\u{061c}"),
        ("a\u{2028}b\u{2029}c", "a\\u{2028}b\\u{2029}c"),
    ];

    #[test]
    fn each_class_of_control_is_shown_as_a_visible_escape() {
        for (raw, shown) in HOSTILE {
            assert_eq!(line(raw), *shown, "{raw:?}");
        }
    }

    #[test]
    fn ordinary_text_and_non_ascii_letters_are_left_as_they_are() {
        for s in [
            "",
            "team-a/api@sha256:abc",
            "café",
            "東京のイメージ",
            "emoji 🚀 and a zero\u{200b}width space",
            "C:\\path\\x1b literally",
        ] {
            assert!(matches!(line(s), Cow::Borrowed(_)), "{s:?}");
            assert_eq!(line(s), s);
        }
    }

    /// Strings rich in the characters [`needs_escape`] covers, mixed with any other character.
    pub(crate) fn hostile_string() -> impl Strategy<Value = String> {
        let special = prop_oneof![
            (0u32..0xa0).prop_map(|c| char::from_u32(c).unwrap_or('?')),
            prop::sample::select(vec![
                '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}', '\u{2066}', '\u{2067}',
                '\u{2068}', '\u{2069}', '\u{200e}', '\u{200f}', '\u{061c}', '\u{2028}', '\u{2029}',
            ]),
        ];
        prop::collection::vec(prop_oneof![any::<char>(), special], 0..40)
            .prop_map(|cs| cs.into_iter().collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn the_output_never_contains_a_character_a_terminal_acts_on(s in hostile_string()) {
            let shown = line(&s);
            prop_assert!(!shown.chars().any(needs_escape), "{:?} -> {:?}", s, shown);
            // A pure function: the same input, the same output.
            prop_assert_eq!(&shown, &line(&s));
            // Everything else is kept, in order.
            let kept: String = s.chars().filter(|c| !needs_escape(*c)).collect();
            let mut rest = shown.chars();
            prop_assert!(kept.chars().all(|k| rest.by_ref().any(|c| c == k)));
        }

        #[test]
        fn strings_without_such_characters_come_back_unchanged(s in any::<String>()) {
            let clean: String = s.chars().filter(|c| !needs_escape(*c)).collect();
            prop_assert_eq!(line(&clean), clean.as_str());
        }
    }
}
