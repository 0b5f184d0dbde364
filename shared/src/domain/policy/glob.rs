//! Repository globs: `*` (any run of characters, `/` included) and `?` (one character), everything
//! else literal, compiled once into a DFA that matches in one pass over the name. Pure: no I/O.
//!
//! Matching is linear in the name and never backtracks: the glob is translated to a regular
//! expression and determinized by `regex-automata` (already in every Lambda's build through
//! `tracing-subscriber`). Syntax other globbers give a meaning to (`[a-z]`, `{a,b}`, `\*`, a leading
//! `!`) is refused rather than read literally, so a pattern never means less than its author thinks.

use std::fmt;
use std::sync::Arc;

use regex_automata::dfa::{Automaton, StartKind, dense};
use regex_automata::nfa::thompson;
use regex_automata::util::primitives::StateID;
use regex_automata::util::{start, syntax};
use regex_automata::{Anchored, MatchKind};

/// ECR's limit on a repository name's length: a longer pattern is a mistake, and the limit keeps
/// every DFA small.
pub const MAX_PATTERN_LEN: usize = 256;

/// The most memory one pattern's DFA may take. Ordinary patterns take a few kilobytes; only
/// contrived ones (`*a` followed by hundreds of `?`) grow exponentially, and those are refused.
const DFA_SIZE_LIMIT: usize = 1 << 20;

/// Characters with a meaning in other glob dialects, refused anywhere in a pattern.
pub const REFUSED: [char; 5] = ['[', ']', '{', '}', '\\'];

/// Why a repository pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GlobError {
    /// Empty or only spaces.
    #[error("a pattern must not be empty")]
    Empty,
    /// Longer than ECR allows a repository name to be.
    #[error("{0} characters; a repository name has at most 256, so a longer pattern is a mistake")]
    TooLong(usize),
    /// Character classes, alternatives or escapes.
    #[error(
        "{0:?} is not supported: only `*` (any characters, `/` included) and `?` (one character) are wildcards; write one pattern per alternative"
    )]
    Unsupported(char),
    /// A leading `!`, which other tools read as "not".
    #[error(
        "a leading `!` does not negate here (there is no negation): name the repositories to match"
    )]
    Negation,
    /// The DFA would exceed the size limit.
    #[error("too many wildcards to match in bounded memory ({0}); simplify the pattern")]
    TooComplex(String),
}

/// A compiled repository pattern (cheap to clone: the DFA is shared).
#[derive(Clone)]
pub struct Glob {
    pattern: String,
    dfa: Arc<dense::DFA<Vec<u32>>>,
    start: StateID,
    specificity: usize,
}

impl Glob {
    /// Validates and compiles a pattern.
    pub fn new(pattern: &str) -> Result<Glob, GlobError> {
        if pattern.trim().is_empty() {
            return Err(GlobError::Empty);
        }
        if pattern.len() > MAX_PATTERN_LEN {
            return Err(GlobError::TooLong(pattern.len()));
        }
        if let Some(c) = pattern.chars().find(|c| REFUSED.contains(c)) {
            return Err(GlobError::Unsupported(c));
        }
        if pattern.starts_with('!') {
            return Err(GlobError::Negation);
        }
        let mut regex = String::with_capacity(pattern.len() * 4);
        for c in pattern.chars() {
            match c {
                // Byte-wise, as repository names are ASCII: the DFA stays small.
                '*' => regex.push_str("(?s-u:.)*"),
                '?' => regex.push_str("(?s-u:.)"),
                c if c.is_ascii_alphanumeric() => regex.push(c),
                c => regex.push_str(&format!("\\x{{{:x}}}", u32::from(c))),
            }
        }
        let dfa = dense::Builder::new()
            .configure(
                dense::Config::new()
                    .start_kind(StartKind::Anchored)
                    .match_kind(MatchKind::All)
                    .dfa_size_limit(Some(DFA_SIZE_LIMIT))
                    .determinize_size_limit(Some(DFA_SIZE_LIMIT)),
            )
            .syntax(syntax::Config::new().utf8(false))
            .thompson(
                thompson::Config::new()
                    .utf8(false)
                    .nfa_size_limit(Some(DFA_SIZE_LIMIT)),
            )
            .build(&regex)
            .map_err(|e| GlobError::TooComplex(e.to_string()))?;
        let start = dfa
            .start_state(&start::Config::new().anchored(Anchored::Yes))
            .map_err(|e| GlobError::TooComplex(e.to_string()))?;
        Ok(Glob {
            pattern: pattern.to_string(),
            dfa: Arc::new(dfa),
            start,
            specificity: pattern.bytes().filter(|c| *c != b'*' && *c != b'?').count(),
        })
    }

    /// Whether the whole of `name` matches: one DFA transition per byte, no backtracking.
    pub fn is_match(&self, name: &str) -> bool {
        let mut state = self.start;
        for &b in name.as_bytes() {
            state = self.dfa.next_state(state, b);
            if self.dfa.is_dead_state(state) {
                return false;
            }
        }
        self.dfa.is_match_state(self.dfa.next_eoi_state(state))
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// How specific the pattern is: its literal characters (an exact name beats `team-a/*`, which
    /// beats `*`).
    pub fn specificity(&self) -> usize {
        self.specificity
    }

    /// Whether some valid ECR repository name could match, decided from the literal characters:
    /// ECR names use only `a-z 0-9 . _ - /`, and a pattern without wildcards must be a valid name
    /// itself. `false` means the pattern can never match (a warning, not an error).
    pub fn can_match_an_ecr_name(&self) -> bool {
        let allowed =
            |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-/*?".contains(&b);
        if !self.pattern.bytes().all(allowed) {
            return false;
        }
        self.pattern.contains(['*', '?']) || is_ecr_repository_name(&self.pattern)
    }

    /// The DFA's size in bytes (for the benchmark and the size limit's documentation).
    pub fn memory_usage(&self) -> usize {
        self.dfa.memory_usage()
    }
}

/// ECR's repository name grammar: 2 to 256 characters,
/// `(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*`.
pub fn is_ecr_repository_name(name: &str) -> bool {
    (2..=MAX_PATTERN_LEN).contains(&name.len())
        && name.split('/').all(|component| {
            !component.is_empty()
                && component.split(['.', '_', '-']).all(|run| {
                    !run.is_empty()
                        && run
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                })
        })
}

impl PartialEq for Glob {
    fn eq(&self, other: &Glob) -> bool {
        self.pattern == other.pattern
    }
}

impl Eq for Glob {}

impl fmt::Debug for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Glob").field(&self.pattern).finish()
    }
}

impl fmt::Display for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.pattern)
    }
}

/// Whether `name` matches `pattern` (compiled for this one call; a refused pattern matches nothing).
/// Code that matches the same pattern repeatedly keeps a [`Glob`].
pub fn glob_match(pattern: &str, name: &str) -> bool {
    Glob::new(pattern).is_ok_and(|g| g.is_match(name))
}
