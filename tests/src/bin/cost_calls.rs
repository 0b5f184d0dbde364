//! Measures the AWS calls of one Organization cost digest (what the cost-report function and
//! `gatekeeper cost --account` gather), against moto, and prints them by operation:
//!
//!     cargo run --release -p gatekeeper-tests --bin cost_calls -- [MEMBERS] [REPOS] [IMAGES_PER_REPO]
//!
//! The deployment's account and each member hold REPOS repositories of IMAGES_PER_REPO images
//! (defaults: 5 members, 20 repositories, 10 images: the README's per-account shape). Every call
//! goes through the fault proxy, without faults, which counts it; moto answers Inspector's coverage
//! and usage with 404 (counted all the same: one call each, as for a small Organization).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a measuring tool: a panic is a failed run

use gatekeeper::adapters::{Ecr, Inspector, Members, gather_organization_cost_inputs};
use gatekeeper::domain::Place;
use gatekeeper::domain::time::now;
use gatekeeper::outbound::cost::Pricing;
use gatekeeper::outbound::cost_summary::OrganizationCost;
use gatekeeper_tests::arg;
use gatekeeper_tests::faults::{FaultProxy, test_resilience};
use gatekeeper_tests::fixtures::{Aws, MEMBER_ROLE, MotoAccount};
use gatekeeper_tests::moto::Moto;
use gatekeeper_tests::moto_client;

/// REPOS repositories of IMAGES images each in `aws`'s registry.
async fn seed(aws: &Aws, repos: usize, images: usize) {
    for r in 0..repos {
        let repo = format!("team-{r}/svc");
        aws.create_repo(&repo, "MUTABLE", &[]).await;
        for i in 0..images {
            let tag = format!("v{i}");
            aws.push(&repo, &format!("{}-{repo}-{i}", aws.account), &[&tag])
                .await;
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (members, repos, images) = (arg(1, 5), arg(2, 20), arg(3, 10));
    let moto: &'static Moto = Box::leak(Box::new(Moto::start()?));
    let aws = Aws::with(moto, "123456789012", "eu-west-1").await;
    let mut places = vec![None];
    seed(&aws, repos, images).await;
    for k in 0..members {
        let member = aws.member(k).await;
        seed(&member, repos, images).await;
        places.push(Some(Place {
            account: member.account.clone(),
            region: member.region.clone(),
        }));
    }
    let proxy = FaultProxy::start(&moto.endpoint, 1)?;
    let sdk = proxy.sdk(&aws.region, test_resilience(3)).await;
    let header = MotoAccount(aws.account.clone());
    let home = Ecr::new(moto_client!(aws_sdk_ecr, &sdk, header));
    let inspector = Inspector::new(moto_client!(aws_sdk_inspector2, &sdk, header))
        .for_account(Some(aws.account.clone()))
        .across_members(true);
    let reach = Members::new(
        moto_client!(aws_sdk_sts, &sdk, header),
        format!("{MEMBER_ROLE}-read"),
        &sdk,
        100.0,
    );
    let home_place = Place {
        account: aws.account.clone(),
        region: aws.region.clone(),
    };
    let started = std::time::Instant::now();
    let inputs =
        gather_organization_cost_inputs((&home, &home_place), &reach, &places, &inspector, None)
            .await?;
    let took = started.elapsed();
    let cost = OrganizationCost::of(
        &home_place,
        &inputs.read,
        &inputs.failed,
        Pricing::default(),
        now(),
        7,
    );
    let s = &cost.summary;
    println!(
        "cost digest: {} account(s) read, {} failed, {} repositories and {} images each; {took:.1?} against moto",
        s.accounts_read,
        s.accounts_failed,
        repos,
        repos * images
    );
    let calls = proxy.requests();
    let total: usize = calls.values().sum();
    for (op, n) in &calls {
        println!("  {op:<48} {n:>6}");
    }
    println!("  {:<48} {total:>6}", "total");
    let accounts = members + 1;
    println!(
        "  {:<48} {:>6.1}",
        "per account",
        total as f64 / accounts as f64
    );
    moto.stop();
    Ok(())
}
