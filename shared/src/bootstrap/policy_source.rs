//! Reading the policy document from S3 or SSM Parameter Store at cold start (environment variables
//! hold only 4 KB; a policy with hundreds of exceptions lives in S3 or a bundled file).

use aws_config::SdkConfig;

use super::config::{PolicySource, load_local_policy, parse_policy};
use crate::domain::policy::Policy;
use crate::error::ConfigError;

/// Loads and validates the policy from its source; unreadable or invalid is an error.
pub async fn load_policy(source: &PolicySource, sdk: &SdkConfig) -> Result<Policy, ConfigError> {
    if let Some(local) = load_local_policy(source)? {
        return Ok(local);
    }
    let unreadable = |message: String| ConfigError::PolicyUnreadable {
        source_name: source.to_string(),
        message,
    };
    let text = match source {
        PolicySource::S3 { bucket, key } => {
            let out = aws_sdk_s3::Client::new(sdk)
                .get_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .map_err(|e| unreadable(crate::adapters::describe_error(&e)))?;
            let bytes = out
                .body
                .collect()
                .await
                .map_err(|e| unreadable(e.to_string()))?
                .into_bytes();
            String::from_utf8(bytes.to_vec())
                .map_err(|_| unreadable("the object is not UTF-8 text".into()))?
        }
        PolicySource::Ssm(name) => {
            let out = aws_sdk_ssm::Client::new(sdk)
                .get_parameter()
                .name(name)
                .with_decryption(true)
                .send()
                .await
                .map_err(|e| unreadable(crate::adapters::describe_error(&e)))?;
            out.parameter()
                .and_then(|p| p.value())
                .map(str::to_string)
                .ok_or_else(|| unreadable("the parameter has no value".into()))?
        }
        PolicySource::Builtin | PolicySource::File(_) => {
            return Err(unreadable("not a remote source".into()));
        }
    };
    parse_policy(source, &text)
}
