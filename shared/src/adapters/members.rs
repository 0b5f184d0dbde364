//! Organization members: the registry of each member account, reached through the role the
//! deployment assumes there (with a source identity, so CloudTrail in the member names the
//! gatekeeper), its credentials cached until shortly before they expire; and the OU path the
//! member's stack writes, read with the same session.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_sdk_ecr::config::{Credentials, Region};

use super::{Ecr, Pace, aws_error};
use crate::domain::Place;
use crate::domain::time::{Epoch, now};
use crate::error::AwsError;

/// The source identity and session name of every session the gatekeeper opens in a member: member
/// roles may require it (`sts:SourceIdentity`), and it stays on every call made with the session.
pub const SOURCE_IDENTITY: &str = "ecr-gatekeeper";

/// The member stacks' read-only role is the member role's name with this suffix: the cost report
/// reads members with it (it may not change tags).
pub const READ_ROLE_SUFFIX: &str = "-read";

/// Sessions last an hour (the member role's default maximum).
const SESSION_SECONDS: i32 = 3600;

/// A session is renewed this long before it expires: longer than any function's timeout (the sweep's
/// is 10 minutes), so that no run keeps using one that ends under it.
const RENEW_BEFORE: Epoch = 900;

/// The SSM parameter a member stack writes its account's OU path to, in each governed region.
pub const OU_PATH_PARAMETER: &str = "/ecr-gatekeeper/ou-path";

/// A member that refused (for good: not throttled) is not asked again for this long (each record of
/// its images would otherwise cost an AssumeRole).
const REFUSED_FOR: Epoch = 60;

/// How the deployment reaches its Organization's member registries.
#[derive(Debug)]
pub struct Members {
    sts: aws_sdk_sts::Client,
    role: String,
    ecr: aws_sdk_ecr::config::Builder,
    ssm: aws_sdk_ssm::config::Builder,
    put_rate: f64,
    sessions: Mutex<HashMap<Place, Session>>,
    refused: Mutex<HashMap<Place, (AwsError, Epoch)>>,
    ou_paths: Mutex<HashMap<Place, (Option<String>, Epoch)>>,
}

/// A member session: its registry, its credentials (for the OU path's read), when it expires.
#[derive(Debug, Clone)]
struct Session {
    ecr: Ecr,
    credentials: Credentials,
    expires: Epoch,
}

impl Members {
    /// Members reached by assuming the role named `role` in each, through `sts`; their ECR and SSM
    /// clients start from `sdk` (retries, timeouts, endpoint) with the session's credentials and the
    /// member's region, and PutImage is paced at `put_rate` a second per member (ECR's quota is per
    /// account and region).
    pub fn new(
        sts: aws_sdk_sts::Client,
        role: impl Into<String>,
        sdk: &aws_config::SdkConfig,
        put_rate: f64,
    ) -> Members {
        Members {
            sts,
            role: role.into(),
            ecr: aws_sdk_ecr::config::Builder::from(sdk).interceptor(super::CountThrottles),
            ssm: aws_sdk_ssm::config::Builder::from(sdk).interceptor(super::CountThrottles),
            put_rate,
            sessions: Mutex::default(),
            refused: Mutex::default(),
            ou_paths: Mutex::default(),
        }
    }

    /// The member role's ARN in `place`'s account.
    pub fn role_arn(&self, place: &Place) -> String {
        format!(
            "arn:{}:iam::{}:role/{}",
            partition(&place.region),
            place.account,
            self.role
        )
    }

    /// The registry of `place`: the cached session's, or a new session's.
    pub async fn registry(&self, place: &Place) -> Result<Ecr, AwsError> {
        Ok(self.session(place).await?.ecr)
    }

    /// The OU path `place`'s member stack wrote ([`OU_PATH_PARAMETER`] in its region; `None`: none),
    /// read with the member session and kept as long as the session; "none" is asked again after
    /// a minute, so that a stack fixed meanwhile is seen before its images' retries run out.
    pub async fn ou_path(&self, place: &Place) -> Result<Option<String>, AwsError> {
        let cached = lock(&self.ou_paths).get(place).cloned();
        if let Some((path, until)) = cached
            && now() < until
        {
            return Ok(path);
        }
        let session = self.session(place).await?;
        let config = (self.ssm.clone())
            .credentials_provider(session.credentials)
            .region(Region::new(place.region.clone()))
            .build();
        let out = aws_sdk_ssm::Client::from_conf(config)
            .get_parameter()
            .name(OU_PATH_PARAMETER)
            .send()
            .await;
        let path = match out {
            Ok(out) => out.parameter().and_then(|p| p.value()).map(str::to_string),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_parameter_not_found()) =>
            {
                None
            }
            Err(e) => return Err(aws_error("ssm:GetParameter", e)),
        };
        let until = match path {
            Some(_) => session.expires - RENEW_BEFORE,
            None => now() + REFUSED_FOR,
        };
        lock(&self.ou_paths).insert(place.clone(), (path.clone(), until));
        Ok(path)
    }

    /// The session in `place`: the cached one, or a new one.
    async fn session(&self, place: &Place) -> Result<Session, AwsError> {
        let cached = self.lock().get(place).cloned();
        if let Some(session) = cached
            && now() < session.expires - RENEW_BEFORE
        {
            return Ok(session);
        }
        let refused = lock(&self.refused).get(place).cloned();
        if let Some((e, until)) = refused
            && now() < until
        {
            return Err(e);
        }
        self.assume(place).await.inspect_err(|e| {
            if !e.is_retryable() {
                lock(&self.refused).insert(place.clone(), (e.clone(), now() + REFUSED_FOR));
            }
        })
    }

    /// A new session in `place`'s account, cached until shortly before it expires.
    async fn assume(&self, place: &Place) -> Result<Session, AwsError> {
        let out = self
            .sts
            .assume_role()
            .role_arn(self.role_arn(place))
            .role_session_name(SOURCE_IDENTITY)
            .source_identity(SOURCE_IDENTITY)
            .duration_seconds(SESSION_SECONDS)
            .send()
            .await
            .map_err(|e| aws_error("sts:AssumeRole", e))?;
        let Some(c) = out.credentials() else {
            return Err(AwsError::invalid("sts:AssumeRole", "no credentials"));
        };
        let expires = c.expiration().secs();
        let credentials = Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_string()),
            std::time::SystemTime::UNIX_EPOCH
                .checked_add(std::time::Duration::from_secs(expires.max(0) as u64)),
            "gatekeeper-member-role",
        );
        let config = (self.ecr.clone())
            .credentials_provider(credentials.clone())
            .region(Region::new(place.region.clone()))
            .build();
        let ecr =
            Ecr::new(aws_sdk_ecr::Client::from_conf(config)).paced(Pace::per_second(self.put_rate));
        let session = Session {
            ecr,
            credentials,
            expires,
        };
        self.lock().insert(place.clone(), session.clone());
        Ok(session)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Place, Session>> {
        lock(&self.sessions)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The ARN partition of a region.
fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_roles_are_named_in_the_partition_of_their_region() {
        let sts = aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::Config::builder()
                .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
                .build(),
        );
        let sdk = aws_config::SdkConfig::builder().build();
        let members = Members::new(sts, "gk-member", &sdk, 1.0);
        let place = |region: &str| Place {
            account: "111111111111".into(),
            region: region.into(),
        };
        assert_eq!(
            members.role_arn(&place("eu-west-1")),
            "arn:aws:iam::111111111111:role/gk-member"
        );
        assert_eq!(
            members.role_arn(&place("cn-north-1")),
            "arn:aws-cn:iam::111111111111:role/gk-member"
        );
        assert_eq!(
            members.role_arn(&place("us-gov-west-1")),
            "arn:aws-us-gov:iam::111111111111:role/gk-member"
        );
    }
}
