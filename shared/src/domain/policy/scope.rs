//! Where a rule applies besides its repositories: accounts and regions of an Organization
//! deployment, and how much a match says. A rule scoped by account outranks one scoped by region,
//! which outranks an unscoped one; within a rank, the repository pattern with the most literal
//! characters wins, as it always has.

/// Where an image lives, as far as the deployment knows (`None`: not known, and then no rule scoped
/// by it applies).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Whereabouts<'a> {
    /// Its account id.
    pub account: Option<&'a str>,
    /// Its region.
    pub region: Option<&'a str>,
}

/// A rule's `accounts` and `regions` (each empty: any).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Scope {
    pub(super) accounts: Vec<String>,
    pub(super) regions: Vec<String>,
}

/// How specific a scope is: 2 accounts, 1 regions, 0 neither.
pub(super) type Rank = u8;

impl Scope {
    /// The scope's rank when it applies to an image in `at`; `None` when it does not.
    pub(super) fn rank(&self, at: Whereabouts<'_>) -> Option<Rank> {
        let within = |listed: &[String], value: Option<&str>| {
            listed.is_empty() || value.is_some_and(|v| listed.iter().any(|l| l == v))
        };
        (within(&self.accounts, at.account) && within(&self.regions, at.region))
            .then(|| self.tier())
    }

    /// Whether some image could be in both scopes at the same rank (a tie between two rules with
    /// the same pattern would then be decided by the order they are written in).
    pub(super) fn ties(&self, other: &Scope) -> bool {
        let meet = |a: &[String], b: &[String]| {
            a.is_empty() || b.is_empty() || a.iter().any(|x| b.contains(x))
        };
        self.tier() == other.tier()
            && meet(&self.accounts, &other.accounts)
            && meet(&self.regions, &other.regions)
    }

    /// Its rank wherever it applies.
    fn tier(&self) -> Rank {
        match (self.accounts.is_empty(), self.regions.is_empty()) {
            (false, _) => 2,
            (true, false) => 1,
            (true, true) => 0,
        }
    }

    /// What is wrong with a listed account id or region, if anything.
    pub(super) fn problems(&self) -> Vec<(&'static str, String)> {
        let account = |a: &String| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit());
        let region = |r: &String| {
            let parts: Vec<&str> = r.split('-').collect();
            parts.len() >= 3
                && parts.iter().all(|p| {
                    !p.is_empty()
                        && p.bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                })
                && parts
                    .last()
                    .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
        };
        let bad_accounts = (self.accounts.iter().filter(|a| !account(a)))
            .map(|a| ("accounts", format!("{a:?} is not a 12-digit account id")));
        let bad_regions = (self.regions.iter().filter(|r| !region(r)))
            .map(|r| ("regions", format!("{r:?} is not a region name (eu-west-1)")));
        bad_accounts.chain(bad_regions).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(accounts: &[&str], regions: &[&str]) -> Scope {
        Scope {
            accounts: accounts.iter().map(|s| s.to_string()).collect(),
            regions: regions.iter().map(|s| s.to_string()).collect(),
        }
    }

    const AT: Whereabouts<'static> = Whereabouts {
        account: Some("111111111111"),
        region: Some("eu-west-1"),
    };

    #[test]
    fn an_account_outranks_a_region_which_outranks_no_scope() {
        assert_eq!(scope(&["111111111111"], &[]).rank(AT), Some(2));
        assert_eq!(scope(&["111111111111"], &["eu-west-1"]).rank(AT), Some(2));
        assert_eq!(scope(&[], &["eu-west-1", "us-east-1"]).rank(AT), Some(1));
        assert_eq!(scope(&[], &[]).rank(AT), Some(0));
        assert_eq!(scope(&["222222222222"], &[]).rank(AT), None);
        assert_eq!(scope(&["111111111111"], &["us-east-1"]).rank(AT), None);
        // Where the image is not known, only unscoped rules apply.
        assert_eq!(
            scope(&[], &["eu-west-1"]).rank(Whereabouts::default()),
            None
        );
        assert_eq!(scope(&[], &[]).rank(Whereabouts::default()), Some(0));
    }

    #[test]
    fn scopes_tie_when_one_image_can_be_in_both_at_the_same_rank() {
        assert!(scope(&[], &[]).ties(&scope(&[], &[])));
        assert!(scope(&["111111111111", "2"], &[]).ties(&scope(&["111111111111"], &["eu-west-1"])));
        assert!(!scope(&["111111111111"], &[]).ties(&scope(&["222222222222"], &[])));
        assert!(!scope(&["111111111111"], &[]).ties(&scope(&[], &["eu-west-1"])));
        assert!(!scope(&[], &["eu-west-1"]).ties(&scope(&[], &["us-east-1"])));
    }

    #[test]
    fn listed_accounts_and_regions_are_checked() {
        assert!(
            scope(
                &["111111111111"],
                &["eu-west-1", "us-gov-west-1", "ap-southeast-2"]
            )
            .problems()
            .is_empty()
        );
        let problems =
            scope(&["1234", "12345678901a"], &["EU-WEST-1", "eu-west", "moon"]).problems();
        assert_eq!(problems.len(), 5, "{problems:?}");
    }
}
