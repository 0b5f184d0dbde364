//! Counting the throttling errors AWS answers the gatekeeper's calls with, retries included: the SDK
//! absorbs them in its retries, so they are counted as they arrive (an interceptor on every client the
//! functions make) and reported once per invocation as the `AwsThrottles` metric.

use std::sync::atomic::{AtomicU64, Ordering};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::AfterDeserializationInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

use super::THROTTLING_CODES;

/// Throttled responses since the last [`take`] (a function serves one invocation at a time).
static THROTTLED: AtomicU64 = AtomicU64::new(0);

/// The throttled responses counted since the last call, and starts counting again.
pub fn take() -> u64 {
    THROTTLED.swap(0, Ordering::Relaxed)
}

/// The interceptor that counts each attempt AWS answered with a throttling error.
#[derive(Debug, Clone, Copy, Default)]
pub struct CountThrottles;

impl Intercept for CountThrottles {
    fn name(&self) -> &'static str {
        "CountThrottles"
    }

    /// Runs after every attempt's response is read (an error's body is in memory by then).
    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let response = context.response();
        let error_type = (response.headers().get("x-amzn-errortype"))
            .or_else(|| response.headers().get("x-amzn-query-error"));
        if throttled(
            response.status().as_u16(),
            error_type,
            response.body().bytes(),
        ) {
            THROTTLED.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }
}

/// Whether a response is a throttling error: HTTP 429, or an error whose AWS code (from the
/// `x-amzn-ErrorType`/`x-amzn-query-error` header, a JSON body's `__type` or `code`, or an XML body's
/// `<Code>`) is one of the throttling codes the adapters map to a throttle (`THROTTLING_CODES`: the
/// SDK's, less `LimitExceededException`, which ECR also answers for a quota, such as StartImageScan's
/// once a day, and codes of services the gatekeeper does not call).
pub fn throttled(status: u16, error_type: Option<&str>, body: Option<&[u8]>) -> bool {
    if status == 429 {
        return true;
    }
    if status < 400 {
        return false;
    }
    let from_body = body.and_then(body_code);
    (error_type.map(str::to_string).into_iter())
        .chain(from_body)
        .any(|code| THROTTLING_CODES.contains(&bare(&code)))
}

/// The error code a JSON or XML error body carries.
fn body_code(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?.trim_start();
    if text.starts_with('{') {
        let v: serde_json::Value = serde_json::from_str(text).ok()?;
        let code = ["__type", "code", "Code"]
            .iter()
            .find_map(|k| v.get(*k).and_then(serde_json::Value::as_str))?;
        return Some(code.to_string());
    }
    let start = text.find("<Code>")? + "<Code>".len();
    let len = text[start..].find("</Code>")?;
    Some(text[start..start + len].trim().to_string())
}

/// A code without its namespace (`com.amazonaws.dynamodb.v20120810#X`, `AWS.SimpleQueueService.X`)
/// or its suffix (`X:http://internal.amazon.com/...`, `X;Sender`).
fn bare(code: &str) -> &str {
    let code = code.split([':', ';']).next().unwrap_or(code);
    let code = code.rsplit('#').next().unwrap_or(code);
    code.rsplit('.').next().unwrap_or(code).trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_is_recognised_in_each_protocol_s_error_shape() {
        let dynamodb = br#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"Rate exceeded"}"#;
        assert!(throttled(400, None, Some(dynamodb)));
        let ecr = br#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#;
        assert!(throttled(400, None, Some(ecr)));
        let rest = br#"{"message":"slow down"}"#;
        assert!(throttled(
            400,
            Some("ThrottlingException:http://internal.amazon.com/coral/com.amazonaws.inspector2/"),
            Some(rest)
        ));
        let sqs = Some("AWS.SimpleQueueService.RequestThrottled;Sender");
        assert!(throttled(400, sqs, Some(b"{}")));
        let sns = b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>";
        assert!(throttled(400, None, Some(sns)));
        let s3 = b"<?xml version=\"1.0\"?><Error><Code>SlowDown</Code></Error>";
        assert!(throttled(503, None, Some(s3)));
        assert!(throttled(429, None, None));
    }

    #[test]
    fn other_errors_and_successes_are_not_throttles() {
        let conflict =
            br#"{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException"}"#;
        assert!(!throttled(400, None, Some(conflict)));
        assert!(!throttled(400, Some("ImageNotFoundException"), None));
        assert!(!throttled(500, None, Some(b"<html>oops</html>")));
        assert!(!throttled(500, None, None));
        // A success whose body mentions throttling (a message, an item) is not one.
        assert!(!throttled(
            200,
            None,
            Some(br#"{"__type":"ThrottlingException"}"#)
        ));
    }

    #[test]
    fn take_reads_and_resets_the_count() {
        take();
        THROTTLED.fetch_add(3, Ordering::Relaxed);
        assert_eq!(take(), 3);
        assert_eq!(take(), 0);
    }
}
