//! `baseline`: adopt a store that predates semigrate by recording it as being at a
//! version, running nothing.

use super::migrate::write_state;
use super::options::Options;
use crate::error::{Error, Result};
use crate::model::{Migration, SemVer};
use crate::store::{Applied, History, LogEntry, Store, transaction};

/// Records `store`, which has no history, as being at `version`: one history row per
/// version of `chain` up to it, each logged as baselined, in one transaction; then the
/// state file. Refused when the store already has a history.
pub fn baseline(
    store: &mut dyn Store,
    chain: &[Migration],
    version: SemVer,
    options: &Options,
) -> Result<()> {
    without_history(store, options, "baseline adopts")?;
    transaction(store, |s| {
        record(s, chain, version, ["baseline", "baselined"])
    })?;
    write_state(store, chain, options)
}

/// Takes over a store another tool migrated (`adopt`): under the store's lock,
/// `found` reads that tool's history and says the version the store is at; the store
/// is then recorded as `baseline` would, each row logged as adopted, and refused when
/// its schema is not the one compiled for that version, unless `allow_drift`. A dry run
/// stops after the read, takes no lock and records nothing. The other tool's
/// table is left as it was. Returns the version found.
#[cfg(feature = "cli")]
pub fn adopt(
    store: &mut dyn Store,
    chain: &[Migration],
    found: &mut dyn FnMut(&mut dyn Store) -> Result<SemVer>,
    allow_drift: bool,
    dry_run: bool,
    options: &Options,
) -> Result<SemVer> {
    // A dry run reads as `upgrade --dry-run` does, without the lock (whose file it
    // would leave beside a store it must not change).
    if dry_run {
        no_history(store, "adopt takes over")?;
        return found(store);
    }
    // The other tool's history is read under the lock: a run of that tool (or of
    // semigrate) between the read and the record would otherwise go unseen.
    without_history(store, options, "adopt takes over")?;
    let version = found(store)?;
    let check = super::schema_check::check(store, chain, version, options.ignore_objects)?;
    if check.state == super::schema_check::SchemaState::Differs && !allow_drift {
        return Err(Error::Refused(format!(
            "{}; adopt records nothing (--allow-schema-drift records it anyway)",
            check.listed()
        )));
    }
    transaction(store, |s| record(s, chain, version, ["adopt", "adopted"]))?;
    write_state(store, chain, options)?;
    Ok(version)
}

/// Locks the store, and refuses it when it already has semigrate's history: `what`
/// says what the command does with one that has none.
fn without_history(store: &mut dyn Store, options: &Options, what: &str) -> Result<()> {
    store.lock(options.lock_timeout)?;
    no_history(store, what)
}

/// Refuses a store that already has semigrate's history.
fn no_history(store: &mut dyn Store, what: &str) -> Result<()> {
    let history = crate::store::checked_history(store)?;
    match history.last() {
        Some(top) => Err(Error::Refused(format!(
            "{} already has a history (it is at {}); {what} a store that has none",
            store.describe(),
            top.version
        ))),
        None => Ok(()),
    }
}

/// One history row per version up to `version`, each logged with `[command,
/// direction]`.
fn record(
    store: &mut dyn History,
    chain: &[Migration],
    version: SemVer,
    [command, direction]: [&str; 2],
) -> Result<()> {
    let now = store.now()?;
    for m in chain.iter().filter(|m| m.version <= version) {
        store.record(&Applied {
            version: m.version,
            description: m.description.to_string(),
            checksum: m.checksum.to_string(),
            applied_at: now.clone(),
            duration_ms: 0,
            revert: m.revert(),
        })?;
        store.log(&LogEntry {
            command: command.into(),
            version: m.version,
            direction: direction.into(),
            from: SemVer::ZERO,
            to: m.version,
            outcome: "ok".into(),
            duration_ms: 0,
            error: None,
        })?;
    }
    Ok(())
}
