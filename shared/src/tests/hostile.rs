//! Hostile input as property tests: structure-aware mutations of the sample events and of the
//! policy example (wrong types, missing fields, unknown enum values, hostile and huge strings, deep
//! nesting, broken bytes), and hostile strings through every notification. proptest draws a new
//! mutation seed for every case on every run (a failure prints the seed that replays it), and
//! catches a panic as a failed case: no process-wide panic hook is touched. No case may panic; every
//! refusal must say why in one bounded line; no notification may mention anyone, link, or break its
//! JSON. Coverage-guided fuzzing of the same parsers: `make fuzz` (fuzz/).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use std::cell::Cell;

use proptest::prelude::any;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Map, Value, json};

use crate::domain::{Decision, Finding, ImageRef, Mode, Package, ScanState, Severity};

/// xorshift64, seeded by proptest: the mutation engine, replayable from the seed of a failed case.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Strings that have broken parsers, chat clients and JSON before.
const HOSTILE: &[&str] = &[
    "",
    " ",
    "<!channel>",
    "<!here|here>",
    "@here",
    "@channel",
    "<@U024BE7LH>",
    "<#C024BE7LH>",
    "<https://evil.example|click here>",
    "[click](https://evil.example)",
    "![x](https://evil.example/x.png)",
    "`code` *bold* _it_ ~strike~",
    "\"},\"injected\":true,{\"",
    "\\u0000\\\"",
    "\u{0}\u{7}\u{1b}[31m\r\n",
    "\u{202e}gnp.exe",
    "\u{feff}",
    "ＣＲＩＴＩＣＡＬ",
    "critical",
    "CRITICAL ",
    "SEVERE",
    "UNKNOWN_VALUE",
    "arn:aws:ecr:eu-west-1:123456789012:repository/",
    "arn:aws:ecr:eu-west-1:123456789012:repository/a/b/c",
    ":repository/",
    "sha256:",
    "sha256:zz",
    "md5:0",
    "../../etc/passwd",
    "2026-13-45T99:99:99Z",
    "1e309",
    "-1",
    "NaN",
    "null",
    "%s%n%x",
    "'; DROP TABLE images; --",
    "🦀🦀🦀",
];

fn hostile_string(rng: &mut Rng) -> String {
    match rng.below(40) {
        0 => "x".repeat(rng.below(300_000)),
        1 => format!("{}{}", rng.pick(HOSTILE), rng.pick(HOSTILE)),
        _ => (*rng.pick(HOSTILE)).to_string(),
    }
}

fn random_scalar(rng: &mut Rng) -> Value {
    match rng.below(9) {
        0 => Value::Null,
        1 => json!(true),
        2 => json!(i64::MIN),
        3 => json!(u64::MAX),
        4 => json!(-0.5),
        5 => json!(1e308),
        6 => json!([]),
        7 => json!({}),
        _ => Value::String(hostile_string(rng)),
    }
}

/// Paths to every node of a value (object keys and array indexes).
fn paths(v: &Value, prefix: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    out.push(prefix.clone());
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                prefix.push(Value::String(k.clone()));
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                prefix.push(json!(i));
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

fn node<'a>(v: &'a mut Value, path: &[Value]) -> Option<&'a mut Value> {
    let mut cur = v;
    for step in path {
        cur = match step {
            Value::String(k) => cur.get_mut(k.as_str())?,
            Value::Number(i) => cur.get_mut(usize::try_from(i.as_u64()?).ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// One structure-aware mutation somewhere in `v`.
fn mutate(v: &mut Value, rng: &mut Rng) {
    let mut all = Vec::new();
    paths(v, &mut Vec::new(), &mut all);
    let path = rng.pick(&all).clone();
    let op = rng.below(8);
    if op == 0
        && let Some((last, parent)) = path.split_last()
        && let Some(Value::Object(m)) = node(v, parent)
        && let Value::String(k) = last
    {
        m.remove(k); // a missing field
        return;
    }
    let Some(target) = node(v, &path) else {
        return;
    };
    *target = match op {
        1 => random_scalar(rng),
        2 => Value::String(hostile_string(rng)),
        // The right value in the wrong type: "5" for 5, [x] for x, {"value": x} for x.
        3 => match target.take() {
            Value::Number(n) => Value::String(n.to_string()),
            Value::String(s) => json!([s]),
            other => json!({ "value": other }),
        },
        // Deep, but within what serde_json reads from the wire (its recursion limit is 128).
        4 => {
            let mut deep = target.take();
            for _ in 0..rng.below(100) {
                deep = json!([deep]);
            }
            deep
        }
        // Many of it.
        5 => Value::Array(vec![target.clone(); rng.below(200)]),
        6 => {
            let mut m = Map::new();
            for _ in 0..rng.below(50) {
                m.insert(
                    hostile_string(rng).chars().take(40).collect(),
                    random_scalar(rng),
                );
            }
            Value::Object(m)
        }
        _ => Value::String((*rng.pick(HOSTILE)).to_string()),
    };
}

/// Byte-level damage to serialised JSON: flips, invalid UTF-8, truncation, NULs.
fn damage(bytes: &mut Vec<u8>, rng: &mut Rng) {
    if bytes.is_empty() {
        return;
    }
    let at = rng.below(bytes.len());
    match rng.below(5) {
        0 => bytes[at] ^= 1 << rng.below(8),
        1 => {
            bytes.insert(at, 0xff);
            bytes.insert(at, 0xc3);
        }
        2 => bytes.truncate(at),
        3 => bytes.insert(at, 0),
        _ => {
            let end = (at + rng.below(64)).min(bytes.len());
            let piece = bytes[at..end].to_vec();
            bytes.splice(at..at, piece);
        }
    }
}

fn samples() -> Vec<Value> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../events");
    let mut out: Vec<Value> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let p = e.ok()?.path();
            (p.extension()? == "json")
                .then(|| serde_json::from_str(&std::fs::read_to_string(p).ok()?).ok())?
        })
        .collect();
    assert!(out.len() >= 20, "the sample events are missing");
    out.sort_by_key(Value::to_string);
    out
}

/// A runner of `cases` cases that writes no persistence file.
fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

/// A non-zero xorshift seed.
fn seeded(seed: u64) -> Rng {
    Rng(seed | 1)
}

#[test]
fn the_event_parser_survives_mutated_events_and_explains_every_refusal() {
    let samples = samples();
    let (accepted, refused) = (Cell::new(0u32), Cell::new(0u32));
    runner(1_500)
        .run(&any::<u64>(), |seed| {
            let mut rng = seeded(seed);
            let mut event = rng.pick(&samples).clone();
            for _ in 0..=rng.below(4) {
                mutate(&mut event, &mut rng);
            }
            // As the runtime hands it over (parsed JSON), and as bytes that may no longer be JSON.
            let mut bytes = serde_json::to_vec(&event).unwrap();
            if rng.below(3) == 0 {
                damage(&mut bytes, &mut rng);
            }
            match crate::domain::events::parse(&event) {
                Ok(_) => accepted.set(accepted.get() + 1),
                Err(e) => {
                    refused.set(refused.get() + 1);
                    let reason = e.reason();
                    proptest::prop_assert!(
                        !reason.is_empty() && reason.len() <= 600 && !reason.contains('\n'),
                        "unclear refusal: {:?}",
                        reason.chars().take(700).collect::<String>()
                    );
                }
            }
            if let Ok(v) = serde_json::from_slice::<Value>(&bytes) {
                let _ = crate::domain::events::parse(&v);
            }
            if let Ok(text) = std::str::from_utf8(&bytes) {
                let _ = crate::domain::events::parse_str(text);
            }
            Ok(())
        })
        .unwrap();
    let (accepted, refused) = (accepted.get(), refused.get());
    eprintln!("event parser: {accepted} mutated events parsed or skipped, {refused} refused");
    assert!(
        accepted > 25 && refused > 25,
        "the mutations must reach both answers"
    );
}

#[test]
fn oversized_deep_and_broken_events_are_refused_with_a_reason() {
    // Over the wire: deeper than serde_json's limit is a JSON error before the parser sees it.
    let deep = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
    assert!(serde_json::from_str::<Value>(&deep).is_err());
    assert!(crate::domain::events::parse_str(&deep).is_err());
    // Invalid UTF-8 never becomes a &str; its lossy form is refused with a reason.
    let broken: Vec<u8> = [
        &b"{\"source\":\"aws.ecr\",\"detail-type\":\"ECR Image Action"[..],
        &[0xff, 0xfe],
        &b"\"}"[..],
    ]
    .concat();
    assert!(serde_json::from_slice::<Value>(&broken).is_err());
    let lossy = String::from_utf8_lossy(&broken);
    let e = crate::domain::events::parse_str(&lossy);
    assert!(e.is_ok() || !e.unwrap_err().reason().is_empty());
    // A 1 MB repository name (EventBridge caps events at 256 KB; this one is four times that).
    let huge = json!({
        "id": "x", "source": "aws.ecr", "detail-type": "ECR Image Action",
        "detail": {"action-type": "PUSH", "result": "SUCCESS", "repository-name": "r".repeat(1 << 20),
                   "image-digest": 42, "image-tag": "t"}
    });
    let e = crate::domain::events::parse(&huge).unwrap_err();
    assert!(e.reason().len() <= 600, "{}", e.reason().len());
    // Its copy for the rejected queue fits an SQS message.
    let body = crate::adapters::rejected_body(e.reason(), &huge);
    assert!(body.len() <= 256 * 1024, "{}", body.len());
    // Every field of every sample, in turn, a 1 MB string, or a 1 MB string of markup: a refusal
    // names the field without echoing the value.
    let mut unclear = Vec::new();
    let mut cases = 0;
    for sample in samples() {
        let mut all = Vec::new();
        paths(&sample, &mut Vec::new(), &mut all);
        for path in all.iter().filter(|p| !p.is_empty()) {
            for filler in ["x".repeat(1 << 20), "<!channel>".repeat(100_000)] {
                let mut v = sample.clone();
                if let Some(n) = node(&mut v, path) {
                    *n = Value::String(filler);
                }
                cases += 1;
                if let Err(e) = crate::domain::events::parse(&v)
                    && (e.reason().len() > 600 || e.reason().is_empty())
                {
                    unclear.push(format!("{path:?}: {} bytes", e.reason().len()));
                }
            }
        }
    }
    eprintln!("oversized fields: {cases} cases");
    assert!(unclear.is_empty(), "{unclear:?}");
    // Not an object at all.
    for v in [json!(null), json!([]), json!("event"), json!(7)] {
        assert!(
            !crate::domain::events::parse(&v)
                .unwrap_err()
                .reason()
                .is_empty()
        );
    }
}

fn policy_example() -> String {
    let readme = include_str!("../../../README.md");
    let start = readme.find("<!-- policy-example -->").unwrap();
    let body = &readme[start..];
    let open = body.find("```toml\n").unwrap() + "```toml\n".len();
    let close = body[open..].find("```").unwrap();
    body[open..open + close].to_string()
}

const POLICY_TOKENS: &[&str] = &[
    "\"CRITICAL\"",
    "\"SEVERE\"",
    "\"\"",
    "-1",
    "0",
    "1e309",
    "18446744073709551616",
    "true",
    "[]",
    "{}",
    "[[",
    "]]",
    "{",
    "\"",
    "\"999999999999d\"",
    "\"-5d\"",
    "\"10x\"",
    "2026-13-45",
    "2026-02-30",
    "1979-05-27T07:32:00Z",
    "\"audit\"",
    "\"hold\"",
    "\"[\"",
    "[\"**\"]",
    "[\"\"]",
    "\"<!channel>\"",
    "version = 2",
    "[defaults]",
    "[[rule]]",
    "[[exception]]",
    "[breaker]",
    "[tickets]",
    "unknown_key = 1",
];

#[test]
fn the_policy_parser_survives_mutated_policies_and_explains_every_refusal() {
    let base = policy_example();
    assert!(
        crate::domain::policy::Policy::parse(&base).is_ok(),
        "the example must load"
    );
    let lines: Vec<&str> = base.lines().collect();
    let (accepted, refused) = (Cell::new(0u32), Cell::new(0u32));
    runner(1_000)
        .run(&any::<u64>(), |seed| {
            let mut rng = seeded(seed);
            let mut doc: Vec<String> = lines.iter().map(|l| (*l).to_string()).collect();
            for _ in 0..=rng.below(4) {
                let at = rng.below(doc.len());
                match rng.below(6) {
                    0 => {
                        doc.remove(at);
                    }
                    1 => {
                        let l = doc[at].clone();
                        doc.insert(at, l);
                    }
                    // A value replaced by a token of the wrong kind.
                    2 | 3 => {
                        if let Some((k, _)) = doc[at].split_once('=') {
                            doc[at] = format!("{k}= {}", rng.pick(POLICY_TOKENS));
                        }
                    }
                    4 => doc.insert(at, (*rng.pick(POLICY_TOKENS)).to_string()),
                    _ => {
                        let mut bytes = doc[at].clone().into_bytes();
                        damage(&mut bytes, &mut rng);
                        doc[at] = String::from_utf8_lossy(&bytes).into_owned();
                    }
                }
            }
            let text = doc.join("\n");
            match crate::domain::policy::Policy::parse(&text) {
                Ok(_) => accepted.set(accepted.get() + 1),
                Err(e) => {
                    refused.set(refused.get() + 1);
                    proptest::prop_assert!(
                        !e.to_string().trim().is_empty(),
                        "an empty policy error for:\n{}",
                        text
                    );
                }
            }
            Ok(())
        })
        .unwrap();
    // Huge and deep documents.
    for text in [
        format!(
            "version = 1\n{}",
            "[[rule]]\nrepositories = [\"a/*\"]\n".repeat(5_000)
        ),
        format!(
            "version = 1\nx = {}1{}",
            "[".repeat(5_000),
            "]".repeat(5_000)
        ),
        format!(
            "version = 1\n[defaults]\nblock = \"{}\"",
            "C".repeat(1 << 20)
        ),
    ] {
        let _ = crate::domain::policy::Policy::parse(&text);
    }
    let (accepted, refused) = (accepted.get(), refused.get());
    eprintln!("policy parser: {accepted} mutated policies loaded, {refused} refused");
    assert!(
        accepted > 10 && refused > 100,
        "the mutations must reach both answers"
    );
}

/// Markdown text with its code spans removed: what Slack would interpret.
fn outside_code(text: &str) -> String {
    text.split('`').step_by(2).collect()
}

#[test]
fn hostile_strings_from_events_cannot_mention_link_or_break_any_notification() {
    let policy = crate::domain::policy::Policy::builtin();
    let runs = Cell::new(0u32);
    runner(300)
        .run(&any::<u64>(), |seed| {
            let mut rng = seeded(seed);
            let mut f = Finding::new(hostile_string(&mut rng), Severity::Critical);
            f.arn = Some(hostile_string(&mut rng));
            f.packages.push(Package {
                name: hostile_string(&mut rng),
                version: Some(hostile_string(&mut rng)),
                fixed_in: Some(hostile_string(&mut rng)),
            });
            let image = ImageRef {
                place: None,
                repository: hostile_string(&mut rng).chars().take(300).collect(),
                digest: format!(
                    "sha256:{}",
                    hostile_string(&mut rng)
                        .chars()
                        .take(80)
                        .collect::<String>()
                ),
                tags: (0..rng.below(4))
                    .map(|_| hostile_string(&mut rng).chars().take(300).collect())
                    .collect(),
            };
            let verdict = crate::domain::verdict::evaluate(
                &policy,
                &crate::domain::verdict::Subject::new(&image.repository, &image.digest, 0),
                &[f],
                &ScanState::Complete,
            );
            let notice = crate::outbound::notice::VerdictNotice {
                event_type: crate::outbound::notice::EventType::Verdict,
                override_: None,
                actor: None,
                in_use: None,
                image: &image,
                region: Some("eu-west-1"),
                account: None,
                verdict: &verdict,
                previous: Some(Decision::Pending),
                mode: Mode::Enforce,
                actions: &[],
                problems: &[],
                policy_hash: "0123456789ab",
                rule: "defaults",
                event_id: "ev",
                trigger: crate::domain::TriggerKind::Scan,
                dedup_key: "k".into(),
                subject: None,
                subject_tag: image.tags.first().cloned(),
                now: 1_700_000_000,
            };
            let m = notice.to_message();
            runs.set(runs.get() + 1);
            // The JSON message: valid JSON, no markup character anywhere in its text, a plain subject.
            let body: Value = serde_json::from_str(&m.body).unwrap();
            assert_eq!(body["decision"], "block");
            for bad in ['<', '>', '@', '&'] {
                assert!(!m.body.contains(bad) && !m.subject.contains(bad), "{bad}");
            }
            // The Chatbot card: event text only inside code spans; no mention or link syntax outside.
            let chat: Value = serde_json::from_str(m.chat.as_deref().unwrap()).unwrap();
            let content = &chat["content"];
            let mut markdown = vec![content["description"].as_str().unwrap().to_string()];
            for s in content["nextSteps"].as_array().unwrap() {
                markdown.push(s.as_str().unwrap().to_string());
            }
            for text in &markdown {
                let outside = outside_code(text);
                for bad in ["<", "](", "://"] {
                    assert!(!outside.contains(bad), "{bad:?} outside code in {text:?}");
                }
                // `@` only before something that cannot start a name (ours: `repo`@`digest`).
                let mention = outside
                    .char_indices()
                    .filter(|(_, c)| *c == '@')
                    .any(|(i, _)| {
                        outside[i + 1..]
                            .chars()
                            .next()
                            .is_some_and(char::is_alphanumeric)
                    });
                assert!(!mention, "a mention outside code in {text:?}");
            }
            // The ticket message of the same finding: JSON and subject only, both plain.
            let tf = crate::outbound::tickets::TicketFinding {
                id: hostile_string(&mut rng),
                severity: Severity::Critical,
                package: Some(hostile_string(&mut rng)),
                installed_version: Some(hostile_string(&mut rng)),
                fixed_version: None,
                score: None,
                epss: None,
            };
            let images = vec![image.digest.clone()];
            let ticket = crate::outbound::tickets::TicketNotice {
                action: crate::outbound::tickets::TicketAction::Open,
                repository: &image.repository,
                finding: &tf,
                images: &images,
                trigger_image: &image.digest,
                region: None,
                account: None,
                member: None,
                now: 1_700_000_000,
            }
            .to_message();
            // SNS takes at most 256 KB per message.
            assert!(m.body.len() <= 256 * 1024, "verdict body {}", m.body.len());
            assert!(
                ticket.body.len() <= 256 * 1024,
                "ticket body {}",
                ticket.body.len()
            );
            let tbody: Value = serde_json::from_str(&ticket.body).unwrap();
            let id = tbody["vulnerability"]["id"].as_str().unwrap();
            assert!(tf.id.starts_with(id.trim_end_matches("...")), "{id}");
            for bad in ['<', '>', '@', '&'] {
                assert!(
                    !ticket.body.contains(bad) && !ticket.subject.contains(bad),
                    "{bad}"
                );
            }
            for plain in [&content["title"], &chat["metadata"]["summary"]] {
                let plain = plain.as_str().unwrap();
                for bad in ['<', '>', '@', '&', '`'] {
                    assert!(!plain.contains(bad), "{bad:?} in {plain:?}");
                }
            }
            Ok(())
        })
        .unwrap();
    eprintln!(
        "notifications: {} hostile findings rendered, 0 mentions, links or broken JSON",
        runs.get()
    );
}
