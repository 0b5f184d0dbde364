//! Where a rule applies besides its repositories: accounts, organizational units and regions of an
//! Organization deployment, and how much a match says. A rule scoped by account outranks one scoped
//! by OU (the deeper OU first), which outranks one scoped by region, which outranks an unscoped one;
//! within a rank, the repository pattern with the most literal characters wins, as it always has.

/// Where an image lives, as far as the deployment knows (`None`: not known, and then no rule scoped
/// by it applies).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Whereabouts<'a> {
    /// Its account id.
    pub account: Option<&'a str>,
    /// Its region.
    pub region: Option<&'a str>,
    /// Its account's OU path from the root (`r-ab12/ou-ab12-11111111/ou-ab12-22222222`).
    pub ou_path: Option<&'a str>,
}

/// A rule's `accounts`, `ous` and `regions` (each empty: any).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Scope {
    pub(super) accounts: Vec<String>,
    pub(super) ous: Vec<String>,
    pub(super) regions: Vec<String>,
}

/// How specific a scope is where it applies: its tier (3 accounts, 2 OUs, 1 regions, 0 none), then
/// for OUs the depth of the deepest listed OU on the image's path (the root is 0).
pub(super) type Rank = (u8, usize);

impl Scope {
    /// The scope's rank when it applies to an image in `at`; `None` when it does not.
    pub(super) fn rank(&self, at: Whereabouts<'_>) -> Option<Rank> {
        if !within(&self.accounts, at.account) || !within(&self.regions, at.region) {
            return None;
        }
        let depth = match self.ous.is_empty() {
            true => 0,
            false => at
                .ou_path?
                .split('/')
                .enumerate()
                .filter(|(_, id)| self.ous.iter().any(|o| o == id))
                .map(|(depth, _)| depth)
                .max()?,
        };
        Some(match self.tier() {
            2 => (2, depth),
            tier => (tier, 0),
        })
    }

    /// Whether some image could be in both scopes at the same rank (a tie between two rules with
    /// the same pattern would then be decided by the order they are written in). Two OU lists meet
    /// when they share an OU (two different OUs on one path are at different depths); above the OU
    /// tier they are taken to meet, as nested OUs can.
    pub(super) fn ties(&self, other: &Scope) -> bool {
        let meet = |a: &[String], b: &[String]| {
            a.is_empty() || b.is_empty() || a.iter().any(|x| b.contains(x))
        };
        let ous_meet = self.tier() != 2 || self.ous.iter().any(|x| other.ous.contains(x));
        self.tier() == other.tier()
            && meet(&self.accounts, &other.accounts)
            && ous_meet
            && meet(&self.regions, &other.regions)
    }

    /// Whether it names OUs: then the image's OU path must be known to choose its rule.
    pub(super) fn by_ou(&self) -> bool {
        !self.ous.is_empty()
    }

    /// Its tier where it would apply to an image in `at` if the image's account were in one of its
    /// OUs; `None` when it names no OU or its accounts or regions exclude the image.
    pub(super) fn tier_if_in_some_ou(&self, at: Whereabouts<'_>) -> Option<u8> {
        (self.by_ou() && within(&self.accounts, at.account) && within(&self.regions, at.region))
            .then(|| self.tier())
    }

    /// Its tier wherever it applies.
    fn tier(&self) -> u8 {
        match (
            self.accounts.is_empty(),
            self.ous.is_empty(),
            self.regions.is_empty(),
        ) {
            (false, _, _) => 3,
            (true, false, _) => 2,
            (true, true, false) => 1,
            (true, true, true) => 0,
        }
    }

    /// What is wrong with a listed account id, OU id or region, if anything.
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
        let bad_ous = (self.ous.iter().filter(|o| !is_ou_id(o))).map(|o| {
            let problem = "is not an OU id (ou-ab12-11111111) or a root id (r-ab12)";
            ("ous", format!("{o:?} {problem}"))
        });
        let bad_regions = (self.regions.iter().filter(|r| !region(r)))
            .map(|r| ("regions", format!("{r:?} is not a region name (eu-west-1)")));
        bad_accounts.chain(bad_ous).chain(bad_regions).collect()
    }
}

/// Whether `value` is one of `listed` (an empty list: any value, known or not).
fn within(listed: &[String], value: Option<&str>) -> bool {
    listed.is_empty() || value.is_some_and(|v| listed.iter().any(|l| l == v))
}

/// Whether `id` is an OU id (`ou-` 4 to 32 lowercase letters or digits, `-`, 8 to 32 more) or a
/// root id (`r-` 4 to 32), as Organizations writes them.
fn is_ou_id(id: &str) -> bool {
    let part = |s: &str, min: usize| {
        (min..=32).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    if let Some(root) = id.strip_prefix("r-") {
        return part(root, 4);
    }
    id.strip_prefix("ou-")
        .and_then(|rest| rest.split_once('-'))
        .is_some_and(|(root, ou)| part(root, 4) && part(ou, 8))
}

/// Whether `path` is an OU path as the member stacks write it: a root id, then OU ids, `/` between.
pub fn is_ou_path(path: &str) -> bool {
    let mut ids = path.split('/');
    ids.next()
        .is_some_and(|root| root.starts_with("r-") && is_ou_id(root))
        && ids.all(|ou| ou.starts_with("ou-") && is_ou_id(ou))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(listed: &[&str]) -> Vec<String> {
        listed.iter().map(|s| s.to_string()).collect()
    }

    fn scope(accounts: &[&str], regions: &[&str]) -> Scope {
        ou_scope(accounts, &[], regions)
    }

    fn ou_scope(accounts: &[&str], ous: &[&str], regions: &[&str]) -> Scope {
        Scope {
            accounts: strings(accounts),
            ous: strings(ous),
            regions: strings(regions),
        }
    }

    const AT: Whereabouts<'static> = Whereabouts {
        account: Some("111111111111"),
        region: Some("eu-west-1"),
        ou_path: Some("r-ab12/ou-ab12-11111111/ou-ab12-22222222"),
    };

    #[test]
    fn an_account_outranks_a_region_which_outranks_no_scope() {
        assert_eq!(scope(&["111111111111"], &[]).rank(AT), Some((3, 0)));
        assert_eq!(
            scope(&["111111111111"], &["eu-west-1"]).rank(AT),
            Some((3, 0))
        );
        assert_eq!(
            scope(&[], &["eu-west-1", "us-east-1"]).rank(AT),
            Some((1, 0))
        );
        assert_eq!(scope(&[], &[]).rank(AT), Some((0, 0)));
        assert_eq!(scope(&["222222222222"], &[]).rank(AT), None);
        assert_eq!(scope(&["111111111111"], &["us-east-1"]).rank(AT), None);
        // Where the image is not known, only unscoped rules apply.
        assert_eq!(
            scope(&[], &["eu-west-1"]).rank(Whereabouts::default()),
            None
        );
        assert_eq!(scope(&[], &[]).rank(Whereabouts::default()), Some((0, 0)));
    }

    #[test]
    fn an_ou_outranks_a_region_and_the_deeper_ou_the_shallower() {
        let ou = |ous: &[&str]| ou_scope(&[], ous, &[]).rank(AT);
        assert_eq!(ou(&["r-ab12"]), Some((2, 0)));
        assert_eq!(ou(&["ou-ab12-11111111"]), Some((2, 1)));
        assert_eq!(ou(&["ou-ab12-22222222"]), Some((2, 2)));
        // A rule listing several OUs ranks by the deepest one on the image's path.
        assert_eq!(ou(&["ou-ab12-11111111", "ou-ab12-22222222"]), Some((2, 2)));
        assert!(ou(&["r-ab12"]) > scope(&[], &["eu-west-1"]).rank(AT));
        assert!(ou(&["ou-ab12-22222222"]) < scope(&["111111111111"], &[]).rank(AT));
        // Elsewhere in the tree, or with the path unknown, an OU rule does not apply.
        assert_eq!(ou(&["ou-ab12-33333333"]), None);
        let unknown = Whereabouts {
            ou_path: None,
            ..AT
        };
        assert_eq!(ou_scope(&[], &["r-ab12"], &[]).rank(unknown), None);
        // With a region as well, both must hold.
        assert_eq!(ou_scope(&[], &["r-ab12"], &["us-east-1"]).rank(AT), None);
        assert!(ou_scope(&[], &["r-ab12"], &[]).by_ou());
        assert!(!scope(&["111111111111"], &[]).by_ou());
    }

    #[test]
    fn ou_scopes_tie_only_when_they_share_an_ou() {
        let ou = |ous: &[&str]| ou_scope(&[], ous, &[]);
        assert!(ou(&["ou-ab12-11111111"]).ties(&ou(&["ou-ab12-11111111", "r-ab12"])));
        // Two different OUs on one path are at different depths.
        assert!(!ou(&["ou-ab12-11111111"]).ties(&ou(&["ou-ab12-22222222"])));
        assert!(!ou(&["r-ab12"]).ties(&scope(&[], &["eu-west-1"])));
        // Account rules tie whatever OUs they also name: nested OUs meet.
        let a = ou_scope(&["111111111111"], &["ou-ab12-11111111"], &[]);
        let b = ou_scope(&["111111111111"], &["ou-ab12-22222222"], &[]);
        assert!(a.ties(&b));
    }

    #[test]
    fn ou_ids_and_paths_are_checked() {
        for good in ["r-ab12", "ou-ab12-11111111", "ou-abcd1234-abcdefgh12"] {
            assert!(is_ou_id(good), "{good}");
        }
        for bad in [
            "",
            "r-",
            "r-AB12",
            "ou-ab12",
            "ou-ab12-1111",
            "o-ab12cd34ef",
            "ab12",
        ] {
            assert!(!is_ou_id(bad), "{bad}");
        }
        assert!(is_ou_path("r-ab12"));
        assert!(is_ou_path("r-ab12/ou-ab12-11111111/ou-ab12-22222222"));
        for bad in [
            "",
            "ou-ab12-11111111",
            "r-ab12/r-ab12",
            "r-ab12/",
            "r-ab12//ou-ab12-11111111",
        ] {
            assert!(!is_ou_path(bad), "{bad}");
        }
        let problems = ou_scope(&[], &["r-ab12", "Security", "ou-1"], &[]).problems();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems.iter().all(|(key, _)| *key == "ous"));
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
