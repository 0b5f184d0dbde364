//! Property tests of the event parser: arbitrary JSON never panics, and a malformed value (wrong
//! type, out of range, unknown enum value, duplicate key) put into any field of a blocking event never
//! yields `pass`: the event is refused, ignored, or still not passed.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Map, Value, json};

use super::super::*;
use crate::domain::Decision;
use crate::domain::policy::Policy;
use crate::domain::verdict::{Subject, evaluate, evaluate_counts, pending};

/// The blocking samples: a CRITICAL Inspector finding, a basic scan and an Inspector scan that count
/// CRITICAL findings, each also cut down to the one value that makes it block (so that a value
/// coerced to "nothing" cannot hide behind another that still warns). Each blocks under the default
/// policy.
fn blocking_samples() -> Vec<String> {
    let read = |name: &str| -> Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../events")
            .join(name);
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    let finding = read("aws.inspector2-inspector2-finding-ecr-critical.json");
    let mut bare_finding = finding.clone();
    let detail = bare_finding["detail"].as_object_mut().unwrap();
    detail.remove("inspectorScore");
    detail.remove("epss");
    detail["packageVulnerabilityDetails"]
        .as_object_mut()
        .unwrap()
        .remove("vendorSeverity");
    let basic = read("aws.ecr-ecr-image-scan-complete-docs.json");
    let mut bare_basic = basic.clone();
    bare_basic["detail"]["finding-severity-counts"] = json!({"CRITICAL": 1});
    let enhanced = read("aws.inspector2-inspector2-scan-ecr-docs.json");
    let mut bare_enhanced = enhanced.clone();
    bare_enhanced["detail"]["finding-severity-counts"] = json!({"CRITICAL": 1, "TOTAL": 1});
    [
        finding,
        bare_finding,
        basic,
        bare_basic,
        enhanced,
        bare_enhanced,
    ]
    .iter()
    .map(Value::to_string)
    .collect()
}

/// What the offline evaluation (`gatekeeper evaluate` without a findings file) decides for an event:
/// `None` when the event is refused or not one the gatekeeper acts on.
fn decide(text: &str) -> Option<Decision> {
    let event = parse_str(text).ok()?;
    let policy = Policy::builtin();
    let verdict = match &event.body {
        EventBody::Scan(scan) => match &scan.counts {
            Some(counts) => {
                evaluate_counts(policy.rule_for(&scan.image.repository), counts, &scan.state)
            }
            None => pending("no counts"),
        },
        EventBody::Finding(f) => {
            let mut subject = Subject::new(&f.image.repository, &f.image.digest, 1_800_000_000);
            subject.baseline = f.pushed_at;
            evaluate(
                &policy,
                &subject,
                std::slice::from_ref(&f.finding),
                &ScanState::Unknown,
            )
        }
        _ => return None,
    };
    Some(verdict.decision)
}

/// Every node below the root, as a path of object keys and array indexes.
fn paths(v: &Value, prefix: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                prefix.push(Value::String(k.clone()));
                out.push(prefix.clone());
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                prefix.push(Value::from(i));
                out.push(prefix.clone());
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

fn node<'a>(v: &'a mut Value, path: &[Value]) -> &'a mut Value {
    path.iter().fold(v, |v, step| match step {
        Value::String(k) => &mut v[k.as_str()],
        _ => &mut v[step.as_u64().unwrap() as usize],
    })
}

fn same_type(a: &Value, b: &Value) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

/// A value that is malformed where `original` stands: another JSON type, a number that is not a
/// non-negative integer, or a string that is not a value AWS documents (look-alikes included).
fn malformed(original: &Value) -> BoxedStrategy<Value> {
    let other_type = prop_oneof![
        Just(Value::Null),
        Just(json!(true)),
        Just(json!("x")),
        Just(json!([])),
        Just(json!({})),
        Just(json!(-1)),
    ]
    .prop_filter("another type", {
        let original = original.clone();
        move |v| !same_type(v, &original)
    });
    match original {
        Value::Number(_) => prop_oneof![
            other_type,
            Just(json!(-1)),
            Just(json!(0.5)),
            Just(json!(-0.0)),
            Just(json!(1e300)),
            Just(json!(-1e300)),
            Just(json!(u64::MAX as f64 * 2.0)),
        ]
        .boxed(),
        Value::String(s) => {
            let s = s.clone();
            prop_oneof![
                other_type,
                "X[A-Z_]{0,10}".prop_map(Value::String),
                Just(json!(s.to_lowercase())),
                Just(json!(format!("{s}\u{200b}"))),
                Just(json!(format!(" {s}"))),
                Just(json!(
                    s.replacen('I', "\u{0399}", 1).replacen('C', "\u{0421}", 1)
                )),
                Just(json!(
                    s.chars()
                        .take(s.chars().count().saturating_sub(1))
                        .collect::<String>()
                )),
            ]
            .boxed()
        }
        _ => other_type.boxed(),
    }
}

/// The JSON text of `v` with `key` written a second time (with `dup`) in the object at `at`.
fn with_duplicate(v: &Value, at: &[Value], key: &str, dup: &Value) -> String {
    fn write(v: &Value, at: &[Value], key: &str, dup: &Value, out: &mut String) {
        match v {
            Value::Object(map) => {
                out.push('{');
                let here = at.is_empty();
                for (i, (k, child)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::to_string(k).unwrap());
                    out.push(':');
                    let deeper = at.first() == Some(&Value::String(k.clone()));
                    let rest = if deeper { &at[1..] } else { &[][..] };
                    if deeper {
                        write(child, rest, key, dup, out);
                    } else {
                        out.push_str(&serde_json::to_string(child).unwrap());
                    }
                    if here && k == key {
                        out.push(',');
                        out.push_str(&serde_json::to_string(k).unwrap());
                        out.push(':');
                        out.push_str(&serde_json::to_string(dup).unwrap());
                    }
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, child) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    if at.first() == Some(&Value::from(i)) {
                        write(child, &at[1..], key, dup, out);
                    } else {
                        out.push_str(&serde_json::to_string(child).unwrap());
                    }
                }
                out.push(']');
            }
            other => out.push_str(&serde_json::to_string(other).unwrap()),
        }
    }
    let mut out = String::new();
    write(v, at, key, dup, &mut out);
    out
}

/// Every key of every object: (path of the object, key).
fn keys(v: &Value) -> Vec<(Vec<Value>, String)> {
    let mut objects = vec![Vec::new()];
    paths(v, &mut Vec::new(), &mut objects);
    objects
        .into_iter()
        .filter_map(|p| {
            let mut v = v.clone();
            match node(&mut v, &p) {
                Value::Object(map) => Some(
                    map.keys()
                        .map(|k| (p.clone(), k.clone()))
                        .collect::<Vec<_>>(),
                ),
                _ => None,
            }
        })
        .flatten()
        .collect()
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

#[test]
fn every_blocking_sample_blocks_as_it_stands() {
    for text in blocking_samples() {
        assert_eq!(decide(&text), Some(Decision::Block), "{text}");
    }
}

#[test]
fn a_malformed_value_in_any_field_of_a_blocking_event_never_passes() {
    for text in blocking_samples() {
        let sample: Value = serde_json::from_str(&text).unwrap();
        let mut all = Vec::new();
        paths(&sample, &mut Vec::new(), &mut all);
        let strategy = prop::sample::select(all).prop_flat_map({
            let sample = sample.clone();
            move |path| {
                let mut s = sample.clone();
                let original = node(&mut s, &path).clone();
                (Just(path), malformed(&original))
            }
        });
        runner(300)
            .run(&strategy, |(path, value)| {
                let mut event = sample.clone();
                *node(&mut event, &path) = value.clone();
                let text = serde_json::to_string(&event).unwrap();
                let decision = decide(&text);
                prop_assert_ne!(decision, Some(Decision::Pass), "{:?} = {}", path, value);
                Ok(())
            })
            .unwrap();
    }
}

#[test]
fn a_key_written_twice_anywhere_refuses_the_event() {
    for text in blocking_samples() {
        let sample: Value = serde_json::from_str(&text).unwrap();
        let strategy = (
            prop::sample::select(keys(&sample)),
            prop_oneof![Just(json!(0)), Just(json!("CLOSED")), Just(json!(null))],
        );
        runner(100)
            .run(&strategy, |((at, key), dup)| {
                let text = with_duplicate(&sample, &at, &key, &dup);
                let err = parse_str(&text).unwrap_err();
                prop_assert!(err.reason().contains("appears more than once"), "{}", err);
                Ok(())
            })
            .unwrap();
    }
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "aws.ecr",
            "aws.inspector2",
            "ECR Image Action",
            "ECR Image Scan",
            "Inspector2 Scan",
            "Inspector2 Finding",
            "Inspector2 Coverage",
            "PUSH",
            "DELETE",
            "CRITICAL",
            "ACTIVE",
            "sha256:ab",
            "arn:aws:ecr:eu-west-1:1:repository/a/sha256:ab",
        ])
        .prop_map(|s| Value::String(s.to_string())),
    ];
    leaf.prop_recursive(5, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "source",
                    "detail-type",
                    "detail",
                    "time",
                    "id",
                    "resources",
                    "action-type",
                    "result",
                    "repository-name",
                    "image-digest",
                    "image-tag",
                    "image-tags",
                    "scan-status",
                    "finding-severity-counts",
                    "CRITICAL",
                    "severity",
                    "status",
                    "findingArn",
                    "packageVulnerabilityDetails",
                    "inspectorScore",
                    "epss",
                    "score",
                    "awsEcrContainerImage",
                    "details",
                    "type",
                    "scanStatus",
                    "statusCodeValue",
                ]),
                inner,
                0..6,
            )
            .prop_map(|m| Value::Object(
                m.into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect::<Map<_, _>>()
            )),
        ]
    })
}

proptest! {
    #![proptest_config(Config { cases: 512, failure_persistence: None, ..Config::default() })]

    #[test]
    fn arbitrary_json_is_parsed_or_refused_with_one_line_never_a_panic(v in arbitrary_json()) {
        match parse(&v) {
            Ok(_) => {}
            Err(e) => prop_assert!(!e.reason().is_empty() && !e.reason().contains('\n'), "{}", e),
        }
    }

    #[test]
    fn arbitrary_text_is_parsed_or_refused_never_a_panic(text in ".{0,200}") {
        let _ = parse_str(&text);
    }
}
