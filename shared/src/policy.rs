//! The policy: a TOML document of rules, validated when loaded. Pure: parsing and lookup, no I/O.
//!
//! An invalid policy is an error that names the line and the field, never a silent "allow
//! everything"; the passage of time never makes a valid policy invalid.

use std::fmt;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::domain::{Mode, Severity};

/// The policy the gatekeeper uses when none is configured: block at CRITICAL, warn at HIGH.
pub const DEFAULT_POLICY: &str = r#"# ecr-gatekeeper default policy: block at CRITICAL, warn at HIGH, in every repository.
version = 1

[defaults]
block = "CRITICAL"
warn = "HIGH"
"#;

/// What to do with an image no scanner will look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unscanned {
    /// Leave its tags deployable and alert.
    Allow,
    /// Move its tags to `held-<T>--<hex>` until a scan says otherwise.
    Hold,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleDoc {
    name: Option<String>,
    #[serde(default)]
    repositories: Vec<String>,
    block: Option<Severity>,
    warn: Option<Severity>,
    mode: Option<Mode>,
    unscanned: Option<Unscanned>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyDoc {
    version: u32,
    #[serde(default)]
    defaults: RuleDoc,
    #[serde(default, rename = "rule")]
    rules: Vec<RuleDoc>,
}

/// The settings that apply to one repository: the default rule overlaid by the matching rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// The rule's name (`defaults`, the `name` field, or `rule[<n>]`).
    pub name: String,
    /// Block at or above this severity; `None` never blocks on severity.
    pub block: Option<Severity>,
    /// Warn at or above this severity.
    pub warn: Option<Severity>,
    /// `enforce` (default) or `audit`; the deployment's GATEKEEPER_MODE=audit overrides every rule.
    pub mode: Mode,
    /// Handling of images no scanner covers.
    pub unscanned: Unscanned,
}

#[derive(Debug, Clone)]
struct Scoped {
    patterns: Vec<String>,
    rule: Rule,
}

/// A validated policy.
#[derive(Debug, Clone)]
pub struct Policy {
    default: Rule,
    rules: Vec<Scoped>,
    hash: String,
    version: u32,
}

/// A policy that cannot be used: where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// The field concerned, when known.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for PolicyError {}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|b| *b == b'\n')
        .count()
        + 1
}

/// The key on the line of `offset` (`block` in `block = "X"`), for error messages.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let start = text[..offset.min(text.len())]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    let line = text[start..].lines().next()?;
    let (key, _) = line.split_once('=')?;
    let key = key.trim().trim_matches('"');
    (!key.is_empty()).then(|| key.to_string())
}

/// Whether `name` matches `pattern`: `*` is any run of characters (`/` included), `?` one character.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, n) = (pattern.as_bytes(), name.as_bytes());
    let (mut pi, mut ni) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == b'*')
}

/// How specific a pattern is: its literal characters (an exact name beats `team-a/*`, which beats `*`).
fn specificity(pattern: &str) -> usize {
    pattern.bytes().filter(|c| *c != b'*' && *c != b'?').count()
}

impl Policy {
    /// Parses and validates a policy document.
    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        let doc: PolicyDoc = toml::from_str(text).map_err(|e| {
            let offset = e.span().map(|s| s.start);
            PolicyError {
                line: offset.map(|o| line_of(text, o)),
                field: offset.and_then(|o| key_at(text, o)),
                message: e.message().trim().to_string(),
            }
        })?;
        let hash = Sha256::digest(text.as_bytes())
            .iter()
            .take(6)
            .map(|b| format!("{b:02x}"))
            .collect();
        Policy::from_doc(doc, text, hash)
    }

    fn from_doc(doc: PolicyDoc, text: &str, hash: String) -> Result<Policy, PolicyError> {
        let find_line = |needle: &str| text.find(needle).map(|o| line_of(text, o));
        if doc.version != 1 {
            return Err(PolicyError {
                line: find_line("version"),
                field: Some("version".into()),
                message: format!(
                    "unsupported policy version {}: this gatekeeper reads version 1",
                    doc.version
                ),
            });
        }
        if !doc.defaults.repositories.is_empty() {
            return Err(PolicyError {
                line: find_line("repositories"),
                field: Some("defaults.repositories".into()),
                message: "the default rule applies to every repository; put repository patterns in a [[rule]]".into(),
            });
        }
        let default = Rule {
            name: doc
                .defaults
                .name
                .clone()
                .unwrap_or_else(|| "defaults".into()),
            block: doc.defaults.block,
            warn: doc.defaults.warn,
            mode: doc.defaults.mode.unwrap_or(Mode::Enforce),
            unscanned: doc.defaults.unscanned.unwrap_or(Unscanned::Allow),
        };
        let mut rules = Vec::with_capacity(doc.rules.len());
        for (i, r) in doc.rules.into_iter().enumerate() {
            let name = r.name.clone().unwrap_or_else(|| format!("rule[{i}]"));
            if r.repositories.is_empty() || r.repositories.iter().any(|p| p.trim().is_empty()) {
                return Err(PolicyError {
                    line: None,
                    field: Some(format!("{name}.repositories")),
                    message:
                        "a rule needs at least one non-empty repository pattern (\"team-a/*\")"
                            .into(),
                });
            }
            rules.push(Scoped {
                patterns: r.repositories,
                rule: Rule {
                    name,
                    block: r.block.or(default.block),
                    warn: r.warn.or(default.warn),
                    mode: r.mode.unwrap_or(default.mode),
                    unscanned: r.unscanned.unwrap_or(default.unscanned),
                },
            });
        }
        Ok(Policy {
            default,
            rules,
            hash,
            version: doc.version,
        })
    }

    /// The built-in default policy.
    pub fn builtin() -> Policy {
        // DEFAULT_POLICY is a constant checked by a unit test; the fallback only keeps this infallible.
        Policy::parse(DEFAULT_POLICY).unwrap_or_else(|_| Policy {
            default: Rule {
                name: "defaults".into(),
                block: Some(Severity::Critical),
                warn: Some(Severity::High),
                mode: Mode::Enforce,
                unscanned: Unscanned::Allow,
            },
            rules: Vec::new(),
            hash: "builtin".into(),
            version: 1,
        })
    }

    /// The rule for a repository: the most specific matching pattern wins (most literal characters;
    /// on a tie, the rule written first); no match gives the defaults.
    pub fn rule_for(&self, repository: &str) -> &Rule {
        let mut best: Option<(usize, &Rule)> = None;
        for scoped in &self.rules {
            for pattern in &scoped.patterns {
                if glob_match(pattern, repository) {
                    let s = specificity(pattern);
                    if best.is_none_or(|(b, _)| s > b) {
                        best = Some((s, &scoped.rule));
                    }
                }
            }
        }
        best.map_or(&self.default, |(_, r)| r)
    }

    /// First 12 hex characters of the SHA-256 of the policy text: names the policy in every verdict.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The document's format version.
    pub fn version(&self) -> u32 {
        self.version
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_policy_blocks_critical_and_warns_high() {
        let p = Policy::parse(DEFAULT_POLICY).unwrap();
        let r = p.rule_for("anything/at/all");
        assert_eq!(
            (r.block, r.warn, r.mode, r.unscanned),
            (
                Some(Severity::Critical),
                Some(Severity::High),
                Mode::Enforce,
                Unscanned::Allow
            )
        );
        assert_eq!(p.hash().len(), 12);
        assert_eq!(Policy::builtin().hash(), p.hash());
    }

    #[test]
    fn most_specific_rule_wins_and_inherits_defaults() {
        let p = Policy::parse(
            r#"
version = 1
[defaults]
block = "CRITICAL"
warn = "MEDIUM"
[[rule]]
name = "all-teams"
repositories = ["team-*"]
block = "HIGH"
[[rule]]
name = "team-a"
repositories = ["team-a/*"]
mode = "audit"
[[rule]]
name = "payments"
repositories = ["team-a/payments-api"]
block = "MEDIUM"
"#,
        )
        .unwrap();
        assert_eq!(p.rule_for("team-a/payments-api").name, "payments");
        assert_eq!(p.rule_for("team-a/web").name, "team-a");
        assert_eq!(p.rule_for("team-a/web").block, Some(Severity::Critical));
        assert_eq!(p.rule_for("team-a/web").mode, Mode::Audit);
        assert_eq!(p.rule_for("team-b/x").name, "all-teams");
        assert_eq!(p.rule_for("team-b/x").warn, Some(Severity::Medium));
        assert_eq!(p.rule_for("other").name, "defaults");
    }

    #[test]
    fn errors_name_the_line_and_the_field() {
        let cases = [
            (
                "version = 1\n[defaults]\nblock = \"SEVERE\"\n",
                Some(3),
                Some("block"),
                "unknown severity",
            ),
            (
                "version = 1\n[defaults]\nblok = \"HIGH\"\n",
                Some(3),
                Some("blok"),
                "unknown field",
            ),
            (
                "version = 2\n",
                Some(1),
                Some("version"),
                "unsupported policy version",
            ),
            ("[defaults]\n", Some(1), None, "missing field `version`"),
            (
                "version = 1\n[[rule]]\nblock = \"HIGH\"\n",
                None,
                Some("rule[0].repositories"),
                "at least one",
            ),
            (
                "version = 1\n[defaults]\nmode = \"yolo\"\n",
                Some(3),
                Some("mode"),
                "unknown variant",
            ),
            (
                "version = 1\nversion = 1\n",
                Some(2),
                Some("version"),
                "duplicate",
            ),
        ];
        for (text, line, field, message) in cases {
            let e = Policy::parse(text).unwrap_err();
            assert_eq!(e.line, line, "{text:?}: {e}");
            assert_eq!(e.field.as_deref(), field, "{text:?}: {e}");
            assert!(e.message.contains(message), "{text:?}: {e}");
        }
    }

    #[test]
    fn glob_matching() {
        assert!(glob_match("team-a/*", "team-a/x/y"));
        assert!(glob_match("*", "anything"));
        assert!(glob_match("a?c", "abc"));
        assert!(glob_match("*/api", "team/api"));
        assert!(!glob_match("team-a/*", "team-b/x"));
        assert!(!glob_match("team-a", "team-a/x"));
        assert!(glob_match("**", ""));
    }
}
