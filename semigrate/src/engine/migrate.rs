//! A whole `upgrade` or `downgrade` against a store, in the one order that keeps it
//! safe: lock, finish what a crash left, read the history, plan, back up, run, and
//! rewrite the state file. The CLI and `Migrator` both call this; neither sequences
//! the steps itself.

use super::backup::{self, Backup};
use super::options::Options;
use super::plan::{self, Direction, Plan};
use super::run::{Done, Progress, recover, run, run_atomic};
use super::schema_check::{SchemaState, check};
use super::state_file;
use crate::data::swap::Staging;
use crate::error::{Error, Result};
use crate::model::{Migration, SemVer};
use crate::store::{LogEntry, Store};

/// What a run is asked to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    /// Up or down.
    pub direction: Direction,
    /// The version to reach; None: the newest for an upgrade, one step for a downgrade.
    pub target: Option<SemVer>,
    /// The whole plan in one transaction.
    pub atomic: bool,
    /// Run on a store whose schema differs from the one compiled for its version,
    /// and say so in the run log.
    pub allow_schema_drift: bool,
}

impl Request {
    /// The command as the run log records it.
    pub fn command(&self) -> &'static str {
        match self.direction {
            Direction::Up => "upgrade",
            Direction::Down => "downgrade",
        }
    }

    /// The plan against `history`, refused as the request requires.
    pub fn plan<'a>(
        &self,
        chain: &'a [Migration],
        history: &'a [crate::store::Applied],
    ) -> Result<Plan<'a>> {
        let plan = match self.direction {
            Direction::Up => plan::upgrade(chain, history, self.target)?,
            Direction::Down => plan::downgrade(chain, history, self.target)?,
        };
        if self.atomic {
            plan.fits_one_transaction()?;
        }
        Ok(plan)
    }
}

/// Where a run took the store.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// The version before the run.
    pub from: SemVer,
    /// The version after it.
    pub at: SemVer,
    /// Each migration that committed, in order.
    pub done: Vec<Done>,
}

/// Carries out `request` on `store`, telling `progress` what happens as it goes.
pub fn migrate(
    store: &mut dyn Store,
    chain: &[Migration],
    request: &Request,
    options: &Options,
    progress: &mut dyn Progress,
) -> Result<Outcome> {
    // Under the lock from here on: the history read, the plan and the run belong to
    // this process alone, so a second run waits and then finds what this one did.
    store.lock(options.lock_timeout)?;
    let paths = &options.paths;
    // Before anything touches the data folder: is it this store's?
    super::binding::check(store, paths)?;
    recover(store, chain, paths)?;
    let history = crate::store::checked_history(store)?;
    let plan = request.plan(chain, &history)?;
    if plan.items.is_empty() {
        progress.planned(&store.describe(), request.command(), &plan);
        state_if_asked(store, chain, options)?;
        return Ok(Outcome {
            from: plan.from,
            at: plan.from,
            done: Vec::new(),
        });
    }
    schema_drift(store, chain, request, options, &plan)?;
    if let Some(keep) = options.backup_keep {
        let files = Staging::new(&paths.data_dir);
        if backup::has_anything(store, &plan, &files)? {
            let b: Backup =
                backup::write(store, &paths.anchor, &plan, &files, &paths.backup_dir, keep)?;
            progress.backed_up(&b);
        } else {
            progress
                .not_backed_up("the store is empty, and no CSV file the run touches exists yet");
        }
    }
    progress.planned(&store.describe(), request.command(), &plan);
    let result = if request.atomic {
        run_atomic(
            store,
            &paths.data_dir,
            &plan,
            request.command(),
            &options.patience,
            progress,
        )
    } else {
        run(
            store,
            &paths.data_dir,
            &plan,
            request.command(),
            &options.patience,
            progress,
        )
    };
    // The state file says where the store stands, after a failure too; a data folder
    // the run made is bound to the store.
    let state = state_if_asked(store, chain, options);
    let done = result?;
    state?;
    super::binding::check(store, paths)?;
    Ok(Outcome {
        from: plan.from,
        at: done.last().map_or(plan.from, |d| d.lands_on),
        done,
    })
}

/// Refuses a store whose schema is not the one compiled for its version, unless the
/// request allows it, which the run log then records with the differences.
fn schema_drift(
    store: &mut dyn Store,
    chain: &[Migration],
    request: &Request,
    options: &Options,
    plan: &Plan,
) -> Result<()> {
    let check = check(store, chain, plan.from, options.ignore_objects)?;
    if check.state != SchemaState::Differs {
        return Ok(());
    }
    if !request.allow_schema_drift {
        return Err(Error::Refused(format!(
            "{}
put the store back as its version has it, list the objects the chain does \
             not own in ignore_objects, or run again with --allow-schema-drift",
            check.listed()
        )));
    }
    store.log(&LogEntry {
        command: request.command().to_owned(),
        version: plan.from,
        direction: plan.direction.as_str().to_owned(),
        from: plan.from,
        to: plan.to,
        outcome: "schema-drift-allowed".to_owned(),
        duration_ms: 0,
        error: Some(check.differences.join("; ")),
    })
}

/// The plan `request` would carry out on `store`, handed to `show` with the store:
/// what `--dry-run` prints. Reads the history and changes nothing, so it takes no lock.
pub fn dry_run<T>(
    store: &mut dyn Store,
    chain: &[Migration],
    request: &Request,
    show: impl FnOnce(&dyn Store, &Plan) -> T,
) -> Result<T> {
    let history = crate::store::checked_history(store)?;
    let plan = request.plan(chain, &history)?;
    Ok(show(store, &plan))
}

/// Rewrites `migration_state.json` with the store as it now stands.
pub(super) fn write_state(
    store: &mut dyn Store,
    chain: &[Migration],
    options: &Options,
) -> Result<()> {
    let s = super::status::status(store, chain, options)?;
    state_file::write(&options.paths.state_file(), &s)
}

/// `write_state`, when the options ask for it.
pub(super) fn state_if_asked(
    store: &mut dyn Store,
    chain: &[Migration],
    options: &Options,
) -> Result<()> {
    match options.state_file {
        true => write_state(store, chain, options),
        false => Ok(()),
    }
}
