//! Reading fields out of JSON with errors that name the path: `detail.image-digest: is missing`.

use std::fmt;

use serde_json::{Map, Value};

/// Why an event (or a findings document) cannot be used; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    reason: String,
}

impl ParseError {
    /// A parse error with this reason, kept on one line: a control character in it (from a key or
    /// value the event brought) is shown as a visible escape.
    pub fn new(reason: impl Into<String>) -> ParseError {
        let reason = reason.into();
        ParseError {
            reason: crate::domain::escape::line(&reason).into_owned(),
        }
    }

    /// The reason, one line.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for ParseError {}

/// A JSON object and the path that led to it.
pub(crate) struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl<'a> Obj<'a> {
    /// The top-level object.
    pub(crate) fn root(value: &'a Value) -> Result<Obj<'a>, ParseError> {
        match value {
            Value::Object(map) => Ok(Obj {
                map,
                path: String::new(),
            }),
            other => Err(ParseError::new(format!(
                "expected a JSON object, got {}",
                type_name(other)
            ))),
        }
    }

    /// Wraps an object found at `path`.
    pub(crate) fn at(value: &'a Value, path: String) -> Result<Obj<'a>, ParseError> {
        match value {
            Value::Object(map) => Ok(Obj { map, path }),
            other => Err(ParseError::new(format!(
                "{path}: expected an object, got {}",
                type_name(other)
            ))),
        }
    }

    fn child_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// An error about `key`.
    pub(crate) fn error(&self, key: &str, problem: &str) -> ParseError {
        ParseError::new(format!("{}: {problem}", self.child_path(key)))
    }

    /// The raw value, `None` when absent or null.
    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// A nested object that must be there.
    pub(crate) fn obj(&self, key: &str) -> Result<Obj<'a>, ParseError> {
        match self.get(key) {
            Some(v) => Obj::at(v, self.child_path(key)),
            None => Err(self.error(key, "is missing")),
        }
    }

    /// A nested object that may be absent.
    pub(crate) fn opt_obj(&self, key: &str) -> Result<Option<Obj<'a>>, ParseError> {
        self.get(key)
            .map(|v| Obj::at(v, self.child_path(key)))
            .transpose()
    }

    /// A string that may be absent; a value of another type is an error.
    pub(crate) fn opt_str(&self, key: &str) -> Result<Option<&'a str>, ParseError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => {
                Err(self.error(key, &format!("expected a string, got {}", type_name(other))))
            }
        }
    }

    /// A non-empty string that must be there.
    pub(crate) fn str(&self, key: &str) -> Result<&'a str, ParseError> {
        match self.opt_str(key)? {
            Some(s) if !s.trim().is_empty() => Ok(s),
            Some(_) => Err(self.error(key, "is empty")),
            None => Err(self.error(key, "is missing")),
        }
    }

    /// A JSON number within `range` that may be absent: a numeric string, a number out of range or a
    /// value of another type is an error (a score read as "absent" would let an image pass).
    pub(crate) fn opt_f64_in(
        &self,
        key: &str,
        range: std::ops::RangeInclusive<f64>,
    ) -> Result<Option<f64>, ParseError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => match n.as_f64() {
                Some(f) if range.contains(&f) => Ok(Some(f)),
                _ => Err(self.error(
                    key,
                    &format!(
                        "expected a number from {} to {}, got {n}",
                        range.start(),
                        range.end()
                    ),
                )),
            },
            Some(other) => {
                Err(self.error(key, &format!("expected a number, got {}", type_name(other))))
            }
        }
    }

    /// A non-negative integer that may be absent; `null` counts as absent only where `null_ok`.
    /// Negative, fractional, non-finite or quoted numbers are errors, never 0.
    pub(crate) fn opt_count(&self, key: &str, null_ok: bool) -> Result<Option<u64>, ParseError> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::Null) if null_ok => Ok(None),
            Some(Value::Number(n)) => n.as_u64().map(Some).ok_or_else(|| {
                self.error(key, &format!("expected a non-negative integer, got {n}"))
            }),
            Some(other) => Err(self.error(
                key,
                &format!("expected a non-negative integer, got {}", type_name(other)),
            )),
        }
    }

    /// A list of strings that may be absent; non-string items are an error.
    pub(crate) fn opt_str_list(&self, key: &str) -> Result<Vec<&'a str>, ParseError> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::String(s) => Ok(s.as_str()),
                    other => Err(ParseError::new(format!(
                        "{}[{i}]: expected a string, got {}",
                        self.child_path(key),
                        type_name(other)
                    ))),
                })
                .collect(),
            Some(other) => {
                Err(self.error(key, &format!("expected an array, got {}", type_name(other))))
            }
        }
    }

    /// A list of objects that may be absent.
    pub(crate) fn opt_obj_list(&self, key: &str) -> Result<Vec<Obj<'a>>, ParseError> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| Obj::at(v, format!("{}[{i}]", self.child_path(key))))
                .collect(),
            Some(other) => {
                Err(self.error(key, &format!("expected an array, got {}", type_name(other))))
            }
        }
    }

    /// The entries of this object.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&'a String, &'a Value)> {
        self.map.iter()
    }
}
