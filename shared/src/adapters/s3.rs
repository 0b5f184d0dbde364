//! Amazon S3 adapter: the weekly report's page and figures, written to the deployment's private
//! bucket (encrypted with the bucket's KMS key by its default encryption, expired by its lifecycle).

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;

use super::aws_error;
use crate::error::AwsError;

/// The bucket the weekly report is written to.
#[derive(Debug, Clone)]
pub struct ReportBucket {
    client: Client,
    bucket: String,
}

impl ReportBucket {
    /// The bucket `bucket`, through a client made from `sdk`: path-style addressing when an endpoint
    /// is named for it (`AWS_ENDPOINT_URL`, or `AWS_ENDPOINT_URL_S3`: a local emulator, an
    /// S3-compatible store), virtual-hosted in AWS.
    pub fn on(sdk: &aws_config::SdkConfig, bucket: impl Into<String>) -> ReportBucket {
        let named = sdk.endpoint_url().is_some()
            || std::env::var("AWS_ENDPOINT_URL_S3").is_ok_and(|v| !v.trim().is_empty());
        let config = aws_sdk_s3::config::Builder::from(sdk)
            .interceptor(super::CountThrottles)
            .force_path_style(named)
            .build();
        ReportBucket {
            client: Client::from_conf(config),
            bucket: bucket.into(),
        }
    }

    /// The bucket's name.
    pub fn name(&self) -> &str {
        &self.bucket
    }

    /// Writes `body` under `key` with its content type (a second write of the key replaces it).
    pub async fn put(&self, key: &str, body: String, content_type: &str) -> Result<(), AwsError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body.into_bytes()))
            .send()
            .await
            .map_err(|e| aws_error("s3:PutObject", e))?;
        Ok(())
    }
}
