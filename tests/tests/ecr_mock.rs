//! The ECR adapter where moto cannot help (it has no pull-through cache rules): aws-smithy-mocks with
//! response shapes from the ECR API reference.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use aws_sdk_ecr::Client;
use aws_sdk_ecr::operation::describe_pull_through_cache_rules::{
    DescribePullThroughCacheRulesError, DescribePullThroughCacheRulesOutput,
};
use aws_sdk_ecr::operation::describe_registry::DescribeRegistryOutput;
use aws_sdk_ecr::types::PullThroughCacheRule;
use aws_sdk_ecr::types::error::ValidationException;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use gatekeeper::adapters::Ecr;
use gatekeeper::ports::ImageRegistry;

fn registry() -> aws_smithy_mocks::Rule {
    mock!(Client::describe_registry).then_output(|| {
        DescribeRegistryOutput::builder()
            .registry_id("123456789012")
            .build()
    })
}

#[tokio::test]
async fn a_pull_through_cache_repository_is_warned_about_and_the_rules_are_read_once() {
    let registry = registry();
    let rules = mock!(Client::describe_pull_through_cache_rules).then_output(|| {
        DescribePullThroughCacheRulesOutput::builder()
            .pull_through_cache_rules(
                PullThroughCacheRule::builder()
                    .ecr_repository_prefix("docker-hub")
                    .upstream_registry_url("registry-1.docker.io")
                    .build(),
            )
            .build()
    });
    let client = mock_client!(aws_sdk_ecr, RuleMode::MatchAny, [&registry, &rules]);
    let ecr = Ecr::new(client);

    let notes = ecr
        .repository_notes("docker-hub/library/nginx")
        .await
        .unwrap();
    assert_eq!(
        notes,
        vec![
            "docker-hub/library/nginx is a pull-through cache of registry-1.docker.io: a removed tag is fetched again from upstream on the next pull"
        ]
    );
    // Same prefix, different repository family: not a cache.
    assert!(
        ecr.repository_notes("docker-hubble/app")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!((registry.num_calls(), rules.num_calls()), (1, 1));
}

#[tokio::test]
async fn unreadable_pull_through_rules_leave_the_warning_out_but_fail_nothing() {
    let registry = registry();
    let denied = mock!(Client::describe_pull_through_cache_rules).then_error(|| {
        DescribePullThroughCacheRulesError::ValidationException(
            ValidationException::builder()
                .message("not allowed here")
                .build(),
        )
    });
    let client = mock_client!(aws_sdk_ecr, RuleMode::MatchAny, [&registry, &denied]);
    let notes = Ecr::new(client)
        .repository_notes("docker-hub/library/nginx")
        .await
        .unwrap();
    assert!(notes.is_empty());
}
