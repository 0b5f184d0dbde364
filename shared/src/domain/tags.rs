//! The tag scheme: reserved prefixes, the tags the gatekeeper forms, and recognising them again.
//! Pure: no I/O.
//!
//! `quarantined-<T>--<first 12 hex of the digest>` keeps a blocked image's tag T, `held-<T>--<12 hex>`
//! keeps a tag held until the first scan, `verified-<T>` marks what passed, and a standalone untagged
//! image gets `quarantined-sha256-<12 hex>`. Every formed tag must be pullable (OCI grammar, 128
//! characters), otherwise the original stays where it is and the caller reports it.

use std::fmt;

use crate::domain::digest_hex12;

/// The OCI tag grammar: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`.
pub fn is_valid_oci_tag(tag: &str) -> bool {
    let bytes = tag.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 128
        && (bytes[0].is_ascii_alphanumeric() || bytes[0] == b'_')
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// Why a derived tag could not be formed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TagError {
    /// The result would be longer than 128 characters or leave the OCI grammar.
    #[error(
        "cannot form a valid tag from {original:?}: {formed:?} is not a valid OCI tag (at most 128 of [A-Za-z0-9_.-])"
    )]
    Unformable {
        /// The tag the gatekeeper wanted to keep.
        original: String,
        /// What it would have become.
        formed: String,
    },
}

/// A prefix setting that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tag prefix {name} = {value:?}: {problem}")]
pub struct PrefixError {
    /// Which prefix (`quarantine`, `held`, `verified`).
    pub name: &'static str,
    /// Its value.
    pub value: String,
    /// What is wrong with it.
    pub problem: &'static str,
}

/// What a tag is, under the configured prefixes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagKind {
    /// An ordinary tag (deployable).
    Plain,
    /// `quarantined-<T>--<hex>` (original `Some(T)`) or the untagged marker `quarantined-sha256-<hex>` (`None`).
    Quarantined {
        /// The tag it keeps, or `None` for the untagged marker.
        original: Option<String>,
        /// The digest prefix it carries.
        hex12: String,
    },
    /// `held-<T>--<hex>`.
    Held {
        /// The tag it keeps.
        original: String,
        /// The digest prefix it carries.
        hex12: String,
    },
    /// `verified-<T>`.
    Verified {
        /// The tag it vouches for.
        original: String,
    },
}

/// The reserved prefixes, validated once at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagScheme {
    quarantine: String,
    held: String,
    verified: String,
}

impl Default for TagScheme {
    fn default() -> Self {
        TagScheme {
            quarantine: "quarantined-".into(),
            held: "held-".into(),
            verified: "verified-".into(),
        }
    }
}

impl fmt::Display for TagScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}* {}* {}*", self.quarantine, self.held, self.verified)
    }
}

const UNTAGGED_MARKER: &str = "sha256-";

impl TagScheme {
    /// Validates the three prefixes: pullable characters, at most 64 characters, none a prefix of another.
    pub fn new(quarantine: &str, held: &str, verified: &str) -> Result<TagScheme, PrefixError> {
        let named = [
            ("quarantine", quarantine),
            ("held", held),
            ("verified", verified),
        ];
        for (name, value) in named {
            let err = |problem| PrefixError {
                name,
                value: value.to_string(),
                problem,
            };
            if value.is_empty() {
                return Err(err("must not be empty"));
            }
            if value.len() > 64 {
                return Err(err(
                    "must be at most 64 characters, to leave room for the tag it keeps",
                ));
            }
            if !is_valid_oci_tag(value) {
                return Err(err(
                    "must start with [A-Za-z0-9_] and contain only [A-Za-z0-9_.-]",
                ));
            }
        }
        for (a, av) in named {
            for (b, bv) in named {
                if a != b && bv.starts_with(av) {
                    return Err(PrefixError {
                        name: b,
                        value: bv.to_string(),
                        problem: "must not start with another reserved prefix",
                    });
                }
            }
        }
        Ok(TagScheme {
            quarantine: quarantine.into(),
            held: held.into(),
            verified: verified.into(),
        })
    }

    /// The quarantine prefix.
    pub fn quarantine_prefix(&self) -> &str {
        &self.quarantine
    }

    /// The held prefix.
    pub fn held_prefix(&self) -> &str {
        &self.held
    }

    /// The verified prefix.
    pub fn verified_prefix(&self) -> &str {
        &self.verified
    }

    fn form(original: &str, formed: String) -> Result<String, TagError> {
        if is_valid_oci_tag(&formed) {
            Ok(formed)
        } else {
            Err(TagError::Unformable {
                original: original.to_string(),
                formed,
            })
        }
    }

    /// `quarantined-<tag>--<hex12>`.
    pub fn quarantine_tag(&self, tag: &str, digest: &str) -> Result<String, TagError> {
        Self::form(
            tag,
            format!("{}{tag}--{}", self.quarantine, digest_hex12(digest)),
        )
    }

    /// `quarantined-sha256-<hex12>`: the marker of a standalone untagged image.
    pub fn untagged_marker(&self, digest: &str) -> Result<String, TagError> {
        Self::form(
            "",
            format!(
                "{}{UNTAGGED_MARKER}{}",
                self.quarantine,
                digest_hex12(digest)
            ),
        )
    }

    /// `held-<tag>--<hex12>`.
    pub fn held_tag(&self, tag: &str, digest: &str) -> Result<String, TagError> {
        Self::form(tag, format!("{}{tag}--{}", self.held, digest_hex12(digest)))
    }

    /// `verified-<tag>`.
    pub fn verified_tag(&self, tag: &str) -> Result<String, TagError> {
        Self::form(tag, format!("{}{tag}", self.verified))
    }

    /// Whether `tag` starts with one of the reserved prefixes (the gatekeeper's own, or an imitation).
    pub fn is_reserved(&self, tag: &str) -> bool {
        tag.starts_with(&self.quarantine)
            || tag.starts_with(&self.held)
            || tag.starts_with(&self.verified)
    }

    /// Recognises a tag formed by this scheme.
    pub fn classify(&self, tag: &str) -> TagKind {
        if let Some(rest) = tag.strip_prefix(&self.quarantine) {
            if let Some((original, hex12)) = split_hex(rest) {
                return TagKind::Quarantined {
                    original: Some(original.to_string()),
                    hex12: hex12.to_string(),
                };
            }
            if let Some(hex12) = rest.strip_prefix(UNTAGGED_MARKER).filter(|h| is_hex12(h)) {
                return TagKind::Quarantined {
                    original: None,
                    hex12: hex12.to_string(),
                };
            }
        }
        if let Some((original, hex12)) = tag.strip_prefix(&self.held).and_then(split_hex) {
            return TagKind::Held {
                original: original.to_string(),
                hex12: hex12.to_string(),
            };
        }
        if let Some(original) = tag.strip_prefix(&self.verified).filter(|o| !o.is_empty()) {
            return TagKind::Verified {
                original: original.to_string(),
            };
        }
        TagKind::Plain
    }
}

fn is_hex12(s: &str) -> bool {
    (1..=12).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
}

fn split_hex(rest: &str) -> Option<(&str, &str)> {
    rest.rsplit_once("--")
        .filter(|(original, hex)| !original.is_empty() && is_hex12(hex))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn forms_and_recognises_every_kind() {
        let s = TagScheme::default();
        let q = s.quarantine_tag("latest", DIGEST).unwrap();
        assert_eq!(q, "quarantined-latest--0123456789ab");
        assert_eq!(
            s.classify(&q),
            TagKind::Quarantined {
                original: Some("latest".into()),
                hex12: "0123456789ab".into()
            }
        );
        let m = s.untagged_marker(DIGEST).unwrap();
        assert_eq!(m, "quarantined-sha256-0123456789ab");
        assert_eq!(
            s.classify(&m),
            TagKind::Quarantined {
                original: None,
                hex12: "0123456789ab".into()
            }
        );
        let h = s.held_tag("v1.2", DIGEST).unwrap();
        assert_eq!(
            s.classify(&h),
            TagKind::Held {
                original: "v1.2".into(),
                hex12: "0123456789ab".into()
            }
        );
        assert_eq!(
            s.classify("verified-main"),
            TagKind::Verified {
                original: "main".into()
            }
        );
        assert_eq!(s.classify("latest"), TagKind::Plain);
        assert!(s.is_reserved("quarantined-anything"));
        assert!(!s.is_reserved("v1"));
    }

    #[test]
    fn a_tag_containing_double_dashes_or_the_marker_word_round_trips() {
        let s = TagScheme::default();
        for original in ["a--b", "sha256-abc", "x--0123"] {
            let q = s.quarantine_tag(original, DIGEST).unwrap();
            assert_eq!(
                s.classify(&q),
                TagKind::Quarantined {
                    original: Some(original.into()),
                    hex12: "0123456789ab".into()
                }
            );
        }
    }

    #[test]
    fn refuses_to_form_a_tag_over_128_characters() {
        let s = TagScheme::default();
        let long = "a".repeat(110);
        assert!(matches!(
            s.quarantine_tag(&long, DIGEST),
            Err(TagError::Unformable { .. })
        ));
        let fits = "a".repeat(128 - "quarantined---0123456789ab".len());
        assert_eq!(s.quarantine_tag(&fits, DIGEST).unwrap().len(), 128);
    }

    #[test]
    fn validates_prefixes() {
        assert!(TagScheme::new("q-", "h-", "v-").is_ok());
        assert!(TagScheme::new("", "h-", "v-").is_err());
        assert!(TagScheme::new("-q", "h-", "v-").is_err());
        assert!(TagScheme::new("q/", "h-", "v-").is_err());
        assert!(TagScheme::new("q-", "q-h-", "v-").is_err());
        assert!(TagScheme::new("same-", "same-", "v-").is_err());
        assert!(TagScheme::new(&"q".repeat(65), "h-", "v-").is_err());
    }

    #[test]
    fn oci_grammar() {
        assert!(is_valid_oci_tag("v1.2.3_rc-1"));
        assert!(is_valid_oci_tag("_x"));
        assert!(!is_valid_oci_tag(".x"));
        assert!(!is_valid_oci_tag("-x"));
        assert!(!is_valid_oci_tag("a b"));
        assert!(!is_valid_oci_tag(""));
        assert!(!is_valid_oci_tag(&"a".repeat(129)));
    }
}
