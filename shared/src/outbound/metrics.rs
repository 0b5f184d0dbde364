//! What one invocation did, as CloudWatch metrics: one Embedded Metric Format (EMF) log line, which
//! CloudWatch Logs turns into metrics without a PutMetricData call. Pure: the caller counts and
//! prints.

use serde_json::{Map, Value, json};

/// The metrics' namespace.
pub const NAMESPACE: &str = "ECRGatekeeper";

/// What one invocation of an event function did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metrics {
    /// Events delivered (an SQS batch's records, or the one event).
    pub events: u64,
    /// Images evaluated (each image of a batch once, whatever its number of events).
    pub evaluations: u64,
    /// Changes of decision, by the decision changed to: block, warn, pass, pending.
    pub verdicts: [u64; 4],
    /// Tags added or removed in ECR.
    pub tag_changes: u64,
    /// Images archived.
    pub archives: u64,
    /// Restores asked of ECR.
    pub restores: u64,
    /// Evaluations that found another delivery applying the same change (claim contention).
    pub contended: u64,
    /// Records answered in `batchItemFailures` (delivered again).
    pub retried: u64,
    /// Malformed events refused to the rejected-events queue.
    pub rejected: u64,
    /// How long the oldest event of the batch waited in its queue before this invocation, ms.
    pub oldest_event_age_ms: Option<u64>,
    /// AWS responses that were throttling errors (each attempt; the SDK's retries absorb them).
    pub throttles: u64,
}

/// The metric names every event function's line carries, in the order of [`Metrics::values`], each with its unit.
pub const NAMES: [(&str, &str); 14] = [
    ("Events", "Count"),
    ("Evaluations", "Count"),
    ("CoalescedEvents", "Count"),
    ("VerdictsBlock", "Count"),
    ("VerdictsWarn", "Count"),
    ("VerdictsPass", "Count"),
    ("VerdictsPending", "Count"),
    ("TagChanges", "Count"),
    ("Archives", "Count"),
    ("Restores", "Count"),
    ("ClaimContention", "Count"),
    ("RetriedEvents", "Count"),
    ("RejectedEvents", "Count"),
    ("AwsThrottles", "Count"),
];

/// The metric only some invocations carry (a batch's), with its unit.
pub const OLDEST_EVENT_AGE: (&str, &str) = ("OldestEventAgeMs", "Milliseconds");

impl Metrics {
    /// Events folded into another event's evaluation of the same image.
    pub fn coalesced(&self) -> u64 {
        self.events.saturating_sub(self.evaluations + self.rejected)
    }

    fn values(&self) -> [u64; 14] {
        let v = &self.verdicts;
        [
            self.events,
            self.evaluations,
            self.coalesced(),
            v[0],
            v[1],
            v[2],
            v[3],
            self.tag_changes,
            self.archives,
            self.restores,
            self.contended,
            self.retried,
            self.rejected,
            self.throttles,
        ]
    }

    /// The EMF line of `function`'s invocation at `timestamp_ms` (one dimension, `Function`).
    pub fn emf(&self, function: &str, timestamp_ms: i64) -> String {
        let mut values: Vec<((&str, &str), u64)> = NAMES.into_iter().zip(self.values()).collect();
        values.extend(self.oldest_event_age_ms.map(|age| (OLDEST_EVENT_AGE, age)));
        emf_line(function, timestamp_ms, &values)
    }
}

/// The EMF line of a function that only reports the AWS throttles it met (the sweep, the cost report).
pub fn throttles_emf(function: &str, throttles: u64, timestamp_ms: i64) -> String {
    emf_line(
        function,
        timestamp_ms,
        &[(("AwsThrottles", "Count"), throttles)],
    )
}

/// One EMF line: the values at the top level, declared under [`NAMESPACE`] with the `Function` dimension.
fn emf_line(function: &str, timestamp_ms: i64, values: &[((&str, &str), u64)]) -> String {
    let mut fields = Map::new();
    fields.insert("Function".into(), json!(function));
    for ((name, _), value) in values {
        fields.insert((*name).into(), json!(value));
    }
    let metrics: Vec<Value> = (values.iter())
        .map(|((name, unit), _)| json!({"Name": name, "Unit": unit}))
        .collect();
    fields.insert(
        "_aws".into(),
        json!({"Timestamp": timestamp_ms, "CloudWatchMetrics": [
            {"Namespace": NAMESPACE, "Dimensions": [["Function"]], "Metrics": metrics}
        ]}),
    );
    Value::Object(fields).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_names_every_metric_it_carries_under_one_dimension() {
        let m = Metrics {
            events: 251,
            evaluations: 1,
            verdicts: [1, 0, 0, 0],
            tag_changes: 4,
            oldest_event_age_ms: Some(1500),
            ..Metrics::default()
        };
        let line = m.emf("on-scan", 1_800_000_000_000);
        assert!(!line.contains('\n'));
        let v: Value = serde_json::from_str(&line).unwrap_or_default();
        let directive = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE);
        assert_eq!(directive["Dimensions"], json!([["Function"]]));
        assert_eq!(v["Function"], "on-scan");
        // Every declared metric has its value at the top level (EMF's rule).
        for d in directive["Metrics"].as_array().into_iter().flatten() {
            let name = d["Name"].as_str().unwrap_or_default();
            assert!(v[name].is_u64(), "{name} missing in {line}");
        }
        assert_eq!(
            (v["CoalescedEvents"].as_u64(), v["VerdictsBlock"].as_u64()),
            (Some(250), Some(1))
        );
        assert_eq!(v["OldestEventAgeMs"], 1500);
        let without = Metrics::default().emf("on-push", 0);
        assert!(!without.contains("OldestEventAgeMs"));
    }

    #[test]
    fn a_function_without_events_reports_its_throttles_alone() {
        let v: Value = serde_json::from_str(&throttles_emf("sweep", 7, 5)).unwrap_or_default();
        assert_eq!(
            (v["Function"].as_str(), v["AwsThrottles"].as_u64()),
            (Some("sweep"), Some(7))
        );
        let declared = &v["_aws"]["CloudWatchMetrics"][0]["Metrics"];
        assert_eq!(
            declared,
            &json!([{"Name": "AwsThrottles", "Unit": "Count"}])
        );
        assert_eq!(v["_aws"]["Timestamp"], 5);
    }
}
