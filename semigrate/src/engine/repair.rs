//! `repair --accept-checksum`: the way out of drift that a person has to choose: the
//! applied migration's stored checksum and down steps become the compiled ones.
//! Logged, so the decision stays on record.

use super::migrate::write_state;
use super::options::Options;
use crate::error::{Error, Result};
use crate::model::{Migration, SemVer};
use crate::store::{Applied, LogEntry, Store, transaction};

/// What `accept_checksum` found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repair {
    /// The compiled spec is now the applied one.
    Accepted,
    /// The applied checksum was the compiled one already: nothing changed.
    NotDrifted,
}

/// Stores the compiled checksum and down steps of `version`, applied to `store`, and
/// logs the decision with both checksums, in one transaction; then the state file.
pub fn accept_checksum(
    store: &mut dyn Store,
    chain: &[Migration],
    version: SemVer,
    options: &Options,
) -> Result<Repair> {
    let Some(m) = chain.iter().find(|m| m.version == version) else {
        return Err(Error::Usage(format!(
            "this binary has no migration {version}"
        )));
    };
    store.lock(options.lock_timeout)?;
    let history = crate::store::checked_history(store)?;
    let Some(applied) = history.iter().find(|a| a.version == version) else {
        return Err(Error::Usage(format!(
            "{version} is not applied to {}",
            store.describe()
        )));
    };
    if applied.checksum == m.checksum {
        return Ok(Repair::NotDrifted);
    }
    let accepted = Applied {
        checksum: m.checksum.to_string(),
        revert: m.revert(),
        ..applied.clone()
    };
    let entry = LogEntry {
        command: "repair".into(),
        version,
        direction: "accept-checksum".into(),
        from: version,
        to: version,
        outcome: "ok".into(),
        duration_ms: 0,
        error: Some(format!(
            "checksum {} replaced by {}",
            applied.checksum, m.checksum
        )),
    };
    transaction(store, |s| s.accept(&accepted).and_then(|()| s.log(&entry)))?;
    write_state(store, chain, options)?;
    Ok(Repair::Accepted)
}
