//! What a command will do, decided before anything runs: which migrations, in which
//! direction, with which steps and checks, or why it is refused. Pure: it reads the
//! compiled chain and the history, and touches no store.

use crate::error::{Error, Result};
use crate::model::{Check, CsvOp, Migration, SemVer, Step};
use crate::store::Applied;
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
/// Which way a plan moves the store.
pub enum Direction {
    /// Towards newer versions: `upgrade`.
    Up,
    /// Towards older versions: `downgrade`.
    Down,
}

impl Direction {
    /// `up` or `down`, as the history and the log write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
        }
    }
}

/// One migration to run, in one direction.
#[derive(Clone, Debug, PartialEq)]
pub struct Item<'a> {
    /// The version this item applies or reverts.
    pub version: SemVer,
    /// Its description, for messages.
    pub description: &'a str,
    /// The steps to run: the up of the migration, or its down.
    pub steps: &'a [Step],
    /// Whether the steps run in one transaction.
    pub transaction: bool,
    /// Whether foreign keys stay on (SQLite) while the steps run.
    pub foreign_keys: bool,
    /// The version the store is at before this item.
    pub starts_at: SemVer,
    /// The version the store is at once this item commits.
    pub lands_on: SemVer,
    /// How many versions the history holds before this item: with `starts_at`, what
    /// the run checks again inside the item's transaction.
    pub rows_before: usize,
    /// The validations of `lands_on` (none when it is 0.0.0 or unknown to this binary).
    pub checks: &'a [Check],
    /// The compiled migration, or None for a version this binary does not know, which
    /// is reverted with the steps stored when it was applied.
    pub migration: Option<&'a Migration>,
}

/// The whole of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan<'a> {
    /// Up or down.
    pub direction: Direction,
    /// Where the store is.
    pub from: SemVer,
    /// Where the plan leaves it.
    pub to: SemVer,
    /// The migrations to run, in order.
    pub items: Vec<Item<'a>>,
}

impl Plan<'_> {
    /// Whether the whole plan can run in one transaction (`--atomic`): not when a
    /// migration must run outside one.
    pub fn fits_one_transaction(&self) -> Result<()> {
        match self.items.iter().find(|i| !i.transaction) {
            None => Ok(()),
            Some(item) => Err(Error::Usage(format!(
                "--atomic cannot include {}, which runs outside a transaction (`transaction = false`); \
                 upgrade to the version before it, then without --atomic",
                item.version
            ))),
        }
    }
}

/// The version a store is at: its newest applied migration.
pub fn current(history: &[Applied]) -> SemVer {
    history.last().map_or(SemVer::ZERO, |a| a.version)
}

fn known(chain: &[Migration]) -> BTreeMap<SemVer, &Migration> {
    chain.iter().map(|m| (m.version, m)).collect()
}

fn versions(list: &[SemVer]) -> String {
    list.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Refuses a store whose history is another chain's: its first version is not one of
/// this chain's, or none of its versions that this chain has carries this chain's
/// checksum (two or more, since one edited spec is drift). A store ahead of the binary
/// shares its first versions, so it is not refused here.
pub fn refuse_another_chain(chain: &[Migration], history: &[Applied]) -> Result<()> {
    let (Some(first), false) = (history.first(), chain.is_empty()) else {
        return Ok(());
    };
    let known = known(chain);
    let shared: Vec<&Applied> = history
        .iter()
        .filter(|a| known.contains_key(&a.version))
        .collect();
    let same = shared
        .iter()
        .any(|a| known[&a.version].checksum == a.checksum);
    if known.contains_key(&first.version) && (same || shared.len() < 2) {
        return Ok(());
    }
    Err(Error::Refused(format!(
        "this store was migrated by another chain: its history starts at {} and ends at {}, and {}; give --database the store of this chain",
        first.version,
        current(history),
        match shared.is_empty() {
            true => "none of its versions is one of this binary's".to_owned(),
            false => format!(
                "none of the {} versions it shares with this binary was applied from the same spec",
                shared.len()
            ),
        }
    )))
}

/// Refuses any run while an applied migration's spec has changed since.
fn refuse_drift(chain: &[Migration], history: &[Applied]) -> Result<()> {
    let known = known(chain);
    let drifted: Vec<SemVer> = history
        .iter()
        .filter(|a| {
            known
                .get(&a.version)
                .is_some_and(|m| m.checksum != a.checksum)
        })
        .map(|a| a.version)
        .collect();
    if drifted.is_empty() {
        return Ok(());
    }
    Err(Error::Refused(format!(
        "the spec of {} changed after it was applied (checksum drift); \
         restore the applied spec, or add a new migration for the change; an edit that \
         leaves this store as it is: `repair --accept-checksum {}`",
        versions(&drifted),
        drifted
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    )))
}

/// Plans `upgrade [--version target]`.
pub fn upgrade<'a>(
    chain: &'a [Migration],
    history: &'a [Applied],
    target: Option<SemVer>,
) -> Result<Plan<'a>> {
    refuse_another_chain(chain, history)?;
    refuse_drift(chain, history)?;
    let known = known(chain);
    let latest = chain.last().map_or(SemVer::ZERO, |m| m.version);
    let ahead: Vec<SemVer> = history
        .iter()
        .map(|a| a.version)
        .filter(|v| !known.contains_key(v))
        .collect();
    if !ahead.is_empty() {
        return Err(Error::Refused(format!(
            "the store has {} applied, which this binary does not know (it knows up to {latest}); \
             upgrade with the binary that applied it, or `downgrade --version {latest}`",
            versions(&ahead)
        )));
    }
    let from = current(history);
    let to = target.unwrap_or(latest);
    if to < from {
        return Err(Error::Usage(format!(
            "the store is at {from}, above {to}; use `downgrade --version {to}` to go down"
        )));
    }
    let applied: Vec<SemVer> = history.iter().map(|a| a.version).collect();
    let skipped: Vec<SemVer> = chain
        .iter()
        .map(|m| m.version)
        .filter(|v| *v < from && !applied.contains(v))
        .collect();
    if !skipped.is_empty() {
        return Err(Error::Refused(format!(
            "{} {} not applied, but the store is already at {from}: a migration was added below \
             the store's version; give the change a version above {from}",
            versions(&skipped),
            if skipped.len() == 1 { "is" } else { "are" }
        )));
    }
    let mut starts_at = from;
    let items = chain
        .iter()
        .filter(|m| m.version > from && m.version <= to)
        .enumerate()
        .map(|(k, m)| Item {
            version: m.version,
            description: &m.description,
            steps: &m.up,
            transaction: m.transaction,
            foreign_keys: m.foreign_keys,
            starts_at: std::mem::replace(&mut starts_at, m.version),
            lands_on: m.version,
            rows_before: history.len() + k,
            checks: &m.validate,
            migration: Some(m),
        })
        .collect();
    Ok(Plan {
        direction: Direction::Up,
        from,
        to,
        items,
    })
}

/// The path of the Rust function a stored down step would call, if it calls one: a
/// history row holds the path only.
fn rust_path(step: &Step) -> Option<&str> {
    match step {
        Step::Rust(f) => Some(&f.path),
        Step::Csv(c) => c.ops.iter().find_map(|op| match op {
            CsvOp::Apply { function, .. } => Some(function.path.as_ref()),
            _ => None,
        }),
        Step::Sql(_) | Step::Load(_) | Step::Unload(_) | Step::Export(_) => None,
    }
}

/// Plans `downgrade [--version target]`: one step down when no target is given.
pub fn downgrade<'a>(
    chain: &'a [Migration],
    history: &'a [Applied],
    target: Option<SemVer>,
) -> Result<Plan<'a>> {
    refuse_another_chain(chain, history)?;
    refuse_drift(chain, history)?;
    let known = known(chain);
    let from = current(history);
    let below = |v: SemVer| {
        history
            .iter()
            .rev()
            .map(|a| a.version)
            .find(|a| *a < v)
            .unwrap_or(SemVer::ZERO)
    };
    let to = target.unwrap_or_else(|| below(from));
    if to > from {
        return Err(Error::Usage(format!(
            "the store is at {from}, below {to}; use `upgrade --version {to}` to go up"
        )));
    }
    let mut items = Vec::new();
    for (k, applied) in history.iter().rev().filter(|a| a.version > to).enumerate() {
        let rows_before = history.len() - k;
        let lands_on = below(applied.version);
        let checks: &[Check] = known.get(&lands_on).map_or(&[], |m| &m.validate);
        let item = match known.get(&applied.version) {
            Some(m) => {
                if m.irreversible {
                    return Err(irreversible(m.version, to));
                }
                Item {
                    version: m.version,
                    description: &m.description,
                    steps: &m.down,
                    transaction: m.transaction,
                    foreign_keys: m.foreign_keys,
                    starts_at: m.version,
                    lands_on,
                    rows_before,
                    checks,
                    migration: Some(m),
                }
            }
            None => {
                // Decoded already when the history was read with `checked_history`.
                let r = applied.down_steps().map_err(Error::Refused)?;
                if r.irreversible {
                    return Err(irreversible(applied.version, to));
                }
                if let Some(path) = r.steps.iter().find_map(rust_path) {
                    return Err(Error::Refused(format!(
                        "the down of {} runs Rust code ({path}) that only the binary that \
                         applied it has; downgrade past {} with that binary, or a newer one",
                        applied.version, applied.version
                    )));
                }
                Item {
                    version: applied.version,
                    description: &applied.description,
                    steps: &r.steps,
                    transaction: r.transaction,
                    foreign_keys: r.foreign_keys,
                    starts_at: applied.version,
                    lands_on,
                    rows_before,
                    checks,
                    migration: None,
                }
            }
        };
        items.push(item);
    }
    Ok(Plan {
        direction: Direction::Down,
        from,
        to,
        items,
    })
}

fn irreversible(version: SemVer, to: SemVer) -> Error {
    Error::Refused(format!(
        "going down to {to} would cross {version}, which is irreversible; nothing was run"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{List, SqlText, Text};

    fn migration(v: (u64, u64, u64)) -> Migration {
        let version = SemVer::new(v.0, v.1, v.2);
        Migration {
            version,
            file: Text::Owned(format!("v{}_{}_{}.toml", v.0, v.1, v.2)),
            description: Text::Owned(format!("m{version}")),
            transaction: true,
            foreign_keys: true,
            irreversible: false,
            destructive: false,
            up: List::Owned(vec![Step::Sql(SqlText::portable(format!(
                "-- up {version}"
            )))]),
            down: List::Owned(vec![Step::Sql(SqlText::portable(format!(
                "-- down {version}"
            )))]),
            validate: List::Owned(vec![]),
            checksum: Text::Owned(format!("sum{version}")),
            timeouts: Default::default(),
            locks: Default::default(),
            schema: None,
            schema_postgres: None,
            schema_digest: None,
            origin: None,
            down_leaves: List::Borrowed(&[]),
            fails_on_rows: false,
        }
    }

    fn chain() -> Vec<Migration> {
        [(1, 0, 0), (1, 0, 1), (1, 1, 0), (2, 0, 0)]
            .map(migration)
            .to_vec()
    }

    fn applied(m: &Migration) -> Applied {
        Applied {
            version: m.version,
            description: m.description.to_string(),
            checksum: m.checksum.to_string(),
            applied_at: String::new(),
            duration_ms: 0,
            revert: m.revert(),
        }
    }

    fn history(chain: &[Migration], n: usize) -> Vec<Applied> {
        chain[..n].iter().map(applied).collect()
    }

    fn versions_of(plan: &Plan) -> Vec<String> {
        plan.items.iter().map(|i| i.version.to_string()).collect()
    }

    #[test]
    fn upgrade_runs_pending_in_order_up_to_the_target() {
        let c = chain();
        let h = history(&c, 1);
        let plan = upgrade(&c, &h, None).unwrap();
        assert_eq!(versions_of(&plan), ["1.0.1", "1.1.0", "2.0.0"]);
        let steps: Vec<(SemVer, SemVer)> = plan
            .items
            .iter()
            .map(|i| (i.starts_at, i.lands_on))
            .collect();
        assert_eq!(steps[0], (SemVer::new(1, 0, 0), SemVer::new(1, 0, 1)));
        assert_eq!(steps[2], (SemVer::new(1, 1, 0), SemVer::new(2, 0, 0)));
        assert_eq!(
            (plan.from, plan.to),
            (SemVer::new(1, 0, 0), SemVer::new(2, 0, 0))
        );
        let plan = upgrade(&c, &h, Some(SemVer::new(1, 1, 0))).unwrap();
        assert_eq!(versions_of(&plan), ["1.0.1", "1.1.0"]);
        assert_eq!(plan.items[0].steps, &c[1].up[..]);
    }

    #[test]
    fn upgrade_at_the_target_is_a_no_op_and_below_it_is_a_usage_error() {
        let c = chain();
        let h = history(&c, 4);
        assert!(upgrade(&c, &h, None).unwrap().items.is_empty());
        let e = upgrade(&c, &h, Some(SemVer::new(1, 0, 0))).unwrap_err();
        assert_eq!(e.exit_code(), 2, "{e}");
    }

    #[test]
    fn downgrade_defaults_to_one_step_and_validates_the_landing_version() {
        let mut c = chain();
        c[2].validate = List::Owned(vec![Check::Sql {
            sql: SqlText::portable("SELECT 1"),
            expect: crate::model::Expect::Empty,
        }]);
        let h = history(&c, 4);
        let plan = downgrade(&c, &h, None).unwrap();
        assert_eq!(versions_of(&plan), ["2.0.0"]);
        assert_eq!(plan.items[0].lands_on, SemVer::new(1, 1, 0));
        assert_eq!(plan.items[0].starts_at, SemVer::new(2, 0, 0));
        assert_eq!(plan.items[0].checks, &c[2].validate[..]);
        assert_eq!(plan.items[0].steps, &c[3].down[..]);
        let plan = downgrade(&c, &h, Some(SemVer::ZERO)).unwrap();
        assert_eq!(versions_of(&plan), ["2.0.0", "1.1.0", "1.0.1", "1.0.0"]);
        assert_eq!(plan.items[3].lands_on, SemVer::ZERO);
        assert!(plan.items[3].checks.is_empty());
    }

    #[test]
    fn downgrade_above_the_store_is_a_usage_error() {
        let c = chain();
        let h = history(&c, 1);
        assert_eq!(
            downgrade(&c, &h, Some(SemVer::new(2, 0, 0)))
                .unwrap_err()
                .exit_code(),
            2
        );
        assert!(downgrade(&c, &[], None).unwrap().items.is_empty());
    }

    #[test]
    fn another_chains_store_is_named_as_such_in_both_directions() {
        let c = chain();
        let mut other: Vec<Migration> = [(0, 1, 0), (0, 2, 0), (3, 0, 0)].map(migration).to_vec();
        for e in [
            upgrade(&c, &history(&other, 3), None).unwrap_err(),
            downgrade(&c, &history(&other, 3), None).unwrap_err(),
        ] {
            assert_eq!(e.exit_code(), 3);
            assert!(e.to_string().contains("migrated by another chain"), "{e}");
            assert!(
                e.to_string().contains("starts at 0.1.0 and ends at 3.0.0"),
                "{e}"
            );
        }
        // The same versions, applied from other specs.
        other = chain();
        for m in &mut other {
            m.checksum = Text::Owned(format!("theirs{}", m.version));
        }
        let e = upgrade(&c, &history(&other, 2), None).unwrap_err();
        assert!(e.to_string().contains("none of the 2 versions"), "{e}");
        // One edited spec is drift, and a store ahead is this chain's.
        let e = upgrade(&c, &history(&other, 1), None).unwrap_err();
        assert!(e.to_string().contains("checksum drift"), "{e}");
        assert!(
            e.to_string().contains("`repair --accept-checksum 1.0.0`"),
            "{e}"
        );
        let mut newer = c.clone();
        newer.push(migration((2, 0, 1)));
        assert!(refuse_another_chain(&c, &history(&newer, 5)).is_ok());
        assert!(refuse_another_chain(&[], &history(&newer, 5)).is_ok());
    }

    #[test]
    fn drift_refuses_both_directions() {
        let c = chain();
        let mut h = history(&c, 2);
        h[0].checksum = "other".into();
        for e in [
            upgrade(&c, &h, None).unwrap_err(),
            downgrade(&c, &h, None).unwrap_err(),
        ] {
            assert_eq!(e.exit_code(), 3);
            assert!(e.to_string().contains("1.0.0"), "{e}");
        }
    }

    #[test]
    fn a_store_ahead_refuses_upgrade_and_downgrades_with_stored_steps() {
        let c = chain();
        let mut newer = c.clone();
        newer.push(migration((2, 0, 1)));
        let h = history(&newer, 5);
        let e = upgrade(&c, &h, None).unwrap_err();
        assert_eq!(e.exit_code(), 3);
        assert!(e.to_string().contains("2.0.1"), "{e}");
        let plan = downgrade(&c, &h, Some(SemVer::new(2, 0, 0))).unwrap();
        assert_eq!(versions_of(&plan), ["2.0.1"]);
        assert!(plan.items[0].migration.is_none());
        assert_eq!(plan.items[0].steps, &newer[4].down[..]);
    }

    #[test]
    fn crossing_an_irreversible_migration_is_refused_before_anything_runs() {
        let mut c = chain();
        c[1].irreversible = true;
        c[1].down = List::Owned(vec![]);
        let h = history(&c, 4);
        assert!(downgrade(&c, &h, Some(SemVer::new(1, 0, 1))).is_ok());
        let e = downgrade(&c, &h, Some(SemVer::new(1, 0, 0))).unwrap_err();
        assert_eq!(e.exit_code(), 3);
        assert!(e.to_string().contains("1.0.1"), "{e}");
    }

    #[test]
    fn a_pending_version_below_the_store_is_refused() {
        let c = chain();
        let h: Vec<Applied> = [&c[0], &c[2]].into_iter().map(applied).collect();
        let e = upgrade(&c, &h, None).unwrap_err();
        assert_eq!(e.exit_code(), 3);
        assert!(e.to_string().contains("1.0.1 is not applied"), "{e}");
    }
}
