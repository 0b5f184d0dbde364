//! JSON as it arrives, read strictly: at most [`MAX_EVENT_BYTES`], and every key that appears twice
//! in one object remembered, so that the event can be refused instead of silently taking the last
//! value (`"CRITICAL": 10, "CRITICAL": 0` must not pass). Pure: no I/O.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::fields::ParseError;

/// The largest event accepted: EventBridge events, SQS messages and asynchronous Lambda payloads
/// carry at most 1 MB since January 2026.
pub const MAX_EVENT_BYTES: usize = 1024 * 1024;

/// An event as it arrived: its JSON value, and the paths of the keys that appeared more than once in
/// one object (the first value is kept; [`super::parse_incoming`] refuses such an event).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Incoming {
    /// The JSON value (for a duplicated key, the first value).
    pub value: Value,
    /// `detail.finding-severity-counts.CRITICAL` for each key seen twice, in document order.
    pub duplicate_keys: Vec<String>,
    /// Why the payload could not be read as JSON at all (too large, not JSON, a number out of range).
    pub unreadable: Option<String>,
}

impl Incoming {
    /// A value built in code (tests, the CLI's own documents): nothing duplicated.
    pub fn trusted(value: Value) -> Incoming {
        Incoming {
            value,
            ..Incoming::default()
        }
    }

    /// A payload that could not be read, kept (clipped) for the rejected-events queue with `why`.
    pub fn unreadable(text: &str, why: &str) -> Incoming {
        Incoming {
            value: Value::String(clip(text)),
            duplicate_keys: Vec::new(),
            unreadable: Some(why.to_string()),
        }
    }

    /// Reads JSON text of at most `limit` bytes, refusing larger text before parsing any of it.
    pub fn from_text(text: &str, limit: usize) -> Result<Incoming, ParseError> {
        if text.len() > limit {
            return Err(ParseError::new(format!(
                "{} bytes is over the {limit}-byte limit",
                text.len()
            )));
        }
        let checked: Checked =
            serde_json::from_str(text).map_err(|e| ParseError::new(format!("not JSON: {e}")))?;
        Ok(Incoming {
            value: checked.value,
            duplicate_keys: checked.duplicates,
            unreadable: None,
        })
    }

    /// The refusal this payload earns before its fields are read: unreadable, or a duplicated key.
    pub fn refusal(&self) -> Option<ParseError> {
        if let Some(why) = &self.unreadable {
            return Some(ParseError::new(why.clone()));
        }
        let first = self.duplicate_keys.first()?;
        let more = self.duplicate_keys.len() - 1;
        Some(ParseError::new(if more == 0 {
            format!("{first}: the key appears more than once")
        } else {
            format!("{first}: the key appears more than once (and {more} other duplicated key(s))")
        }))
    }
}

/// Lambda hands the payload over as JSON text: it is read as raw text first (which never fails on a
/// number out of range), then parsed strictly, so that every problem becomes a refusal with a reason
/// instead of a failed invocation that Lambda would retry.
impl<'de> Deserialize<'de> for Incoming {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Box::<serde_json::value::RawValue>::deserialize(d)?;
        Ok(Incoming::from_text(raw.get(), MAX_EVENT_BYTES)
            .unwrap_or_else(|e| Incoming::unreadable(raw.get(), e.reason())))
    }
}

/// The start of an unreadable payload, kept for the rejected-events queue (whole, it may not fit).
fn clip(text: &str) -> String {
    const KEEP: usize = 64 * 1024;
    if text.len() <= KEEP {
        return text.to_string();
    }
    let mut end = KEEP;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

/// A JSON value and the paths of the keys duplicated inside it.
struct Checked {
    value: Value,
    duplicates: Vec<String>,
}

impl Checked {
    fn leaf(value: Value) -> Checked {
        Checked {
            value,
            duplicates: Vec::new(),
        }
    }
}

fn join(parent: &str, child: &str) -> String {
    if child.is_empty() {
        parent.to_string()
    } else if child.starts_with('[') {
        format!("{parent}{child}")
    } else {
        format!("{parent}.{child}")
    }
}

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CheckedVisitor)
    }
}

struct CheckedVisitor;

impl<'de> Visitor<'de> for CheckedVisitor {
    type Value = Checked;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Checked, E> {
        Ok(Checked::leaf(Value::Bool(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Checked, E> {
        Ok(Checked::leaf(Value::from(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Checked, E> {
        Ok(Checked::leaf(Value::from(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Checked, E> {
        serde_json::Number::from_f64(v)
            .map(|n| Checked::leaf(Value::Number(n)))
            .ok_or_else(|| E::custom("a number that is not finite"))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Checked, E> {
        Ok(Checked::leaf(Value::String(v.to_string())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Checked, E> {
        Ok(Checked::leaf(Value::String(v)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Checked, E> {
        Ok(Checked::leaf(Value::Null))
    }

    fn visit_none<E: de::Error>(self) -> Result<Checked, E> {
        Ok(Checked::leaf(Value::Null))
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Checked, D::Error> {
        Checked::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        let mut duplicates = Vec::new();
        while let Some(item) = seq.next_element::<Checked>()? {
            let at = format!("[{}]", items.len());
            duplicates.extend(item.duplicates.iter().map(|d| join(&at, d)));
            items.push(item.value);
        }
        Ok(Checked {
            value: Value::Array(items),
            duplicates,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        let mut out = Map::new();
        let mut duplicates = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let item: Checked = map.next_value()?;
            duplicates.extend(item.duplicates.iter().map(|d| join(&key, d)));
            if out.contains_key(&key) {
                duplicates.push(key);
            } else {
                out.insert(key, item.value);
            }
        }
        Ok(Checked {
            value: Value::Object(out),
            duplicates,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duplicated_key_is_remembered_with_its_path_and_the_first_value_kept() {
        let text = r#"{"detail": {"finding-severity-counts": {"CRITICAL": 10, "CRITICAL": 0}},
                       "resources": [{"a": 1, "a": 2}]}"#;
        let got = Incoming::from_text(text, MAX_EVENT_BYTES).unwrap();
        assert_eq!(
            got.duplicate_keys,
            vec![
                "detail.finding-severity-counts.CRITICAL".to_string(),
                "resources[0].a".to_string()
            ]
        );
        assert_eq!(
            got.value["detail"]["finding-severity-counts"]["CRITICAL"],
            10
        );
        let why = got.refusal().unwrap();
        assert!(
            why.reason().starts_with(
                "detail.finding-severity-counts.CRITICAL: the key appears more than once"
            ),
            "{why}"
        );
    }

    #[test]
    fn text_over_the_limit_is_refused_before_it_is_parsed() {
        let text = format!("[{}1]", "1,".repeat(600_000));
        let err = Incoming::from_text(&text, MAX_EVENT_BYTES).unwrap_err();
        assert!(
            err.reason().contains("over the 1048576-byte limit"),
            "{err}"
        );
    }

    #[test]
    fn a_lambda_payload_that_is_not_usable_json_becomes_a_refusal_not_an_error() {
        let got: Incoming = serde_json::from_str(r#"{"detail": {"CRITICAL": 1e400}}"#).unwrap();
        let why = got.refusal().unwrap();
        assert!(why.reason().contains("number out of range"), "{why}");
        let clean: Incoming = serde_json::from_str(r#"{"id": "x"}"#).unwrap();
        assert_eq!(clean.refusal(), None);
        assert_eq!(clean.value["id"], "x");
    }
}
