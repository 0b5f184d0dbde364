//! A small command-line parser: `--flag VALUE`, `--flag=VALUE`, switches, and positionals, with
//! errors that say what was expected. Enough for this CLI without a parser dependency.

use std::collections::HashMap;

/// A flag a command accepts.
#[derive(Debug, Clone, Copy)]
pub struct Flag {
    /// Long name without dashes.
    pub name: &'static str,
    /// Whether it takes a value.
    pub value: bool,
}

/// Shorthand for a flag with a value.
pub const fn opt(name: &'static str) -> Flag {
    Flag { name, value: true }
}

/// Shorthand for a switch.
pub const fn switch(name: &'static str) -> Flag {
    Flag { name, value: false }
}

/// Parsed arguments of one command.
#[derive(Debug, Default)]
pub struct Args {
    values: HashMap<&'static str, Vec<String>>,
    /// Positional arguments, in order.
    pub positional: Vec<String>,
}

impl Args {
    /// Parses `args` against `flags`; `--help`/`-h` is reported as `Err(None)`.
    pub fn parse(args: &[String], flags: &[Flag]) -> Result<Args, Option<String>> {
        let mut out = Args::default();
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            if arg == "--help" || arg == "-h" {
                return Err(None);
            }
            let Some(body) = arg.strip_prefix("--") else {
                out.positional.push(arg.clone());
                continue;
            };
            let (name, inline) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (body, None),
            };
            let Some(flag) = flags.iter().find(|f| f.name == name) else {
                return Err(Some(format!("unknown option --{name}")));
            };
            let value = if flag.value {
                match inline {
                    Some(v) => v,
                    None => it
                        .next()
                        .cloned()
                        .ok_or_else(|| Some(format!("--{name} needs a value")))?,
                }
            } else if inline.is_some() {
                return Err(Some(format!("--{name} takes no value")));
            } else {
                String::new()
            };
            out.values.entry(flag.name).or_default().push(value);
        }
        Ok(out)
    }

    /// The last value of a flag.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .and_then(|v| v.last())
            .map(String::as_str)
    }

    /// Whether a switch (or flag) was given.
    pub fn has(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// A duration flag (`30s`, `15m`, `2h`, `7d`, at most 10 years), or `default` seconds.
    pub fn duration(&self, name: &str, default: i64) -> Result<i64, String> {
        use gatekeeper::time::{DurationError, duration};
        match self.get(name) {
            None => Ok(default),
            Some(v) => duration(v).map_err(|e| match e {
                DurationError::Malformed => {
                    format!("--{name} {v:?}: expected a duration such as 90s, 15m, 2h or 7d")
                }
                DurationError::TooLong => format!("--{name} {v:?}: {e}"),
            }),
        }
    }

    /// A time flag (`2026-12-01`, `2026-12-01T10:00:00Z`), or now.
    pub fn time(&self, name: &str) -> Result<gatekeeper::time::Epoch, String> {
        match self.get(name) {
            None => Ok(gatekeeper::time::now()),
            Some(v) => gatekeeper::time::parse_rfc3339(v).ok_or_else(|| {
                format!(
                    "--{name} {v:?}: expected a date or an RFC 3339 time (2026-12-01T10:00:00Z)"
                )
            }),
        }
    }

    /// A required value.
    pub fn require(&self, name: &str) -> Result<&str, String> {
        self.get(name)
            .ok_or_else(|| format!("--{name} is required"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_values_switches_and_positionals() {
        let quiet = Flag {
            name: "quiet",
            value: false,
        };
        let a = Args::parse(
            &strings(&["x.toml", "--event", "e.json", "--policy=p.toml", "--quiet"]),
            &[opt("event"), opt("policy"), quiet],
        )
        .unwrap();
        assert_eq!(a.get("event"), Some("e.json"));
        assert_eq!(a.get("policy"), Some("p.toml"));
        assert!(a.has("quiet"));
        assert_eq!(a.duration("wait", 5), Ok(5));
        assert!(a.time("now").is_ok());
        assert_eq!(a.positional, vec!["x.toml"]);
        assert_eq!(a.require("findings").unwrap_err(), "--findings is required");
    }

    #[test]
    fn reports_unknown_and_incomplete_flags() {
        assert_eq!(
            Args::parse(&strings(&["--nope"]), &[]).unwrap_err(),
            Some("unknown option --nope".into())
        );
        assert_eq!(
            Args::parse(&strings(&["--event"]), &[opt("event")]).unwrap_err(),
            Some("--event needs a value".into())
        );
        assert_eq!(
            Args::parse(
                &strings(&["--quiet=1"]),
                &[Flag {
                    name: "quiet",
                    value: false
                }]
            )
            .unwrap_err(),
            Some("--quiet takes no value".into())
        );
        assert_eq!(Args::parse(&strings(&["-h"]), &[]).unwrap_err(), None);
    }
}
