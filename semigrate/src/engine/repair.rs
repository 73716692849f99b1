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

/// Stores the compiled checksum and down steps of each of `versions`, applied to
/// `store`, and logs each decision with both checksums, all in one transaction (every
/// version is accepted, or none is); then the state file. Says, for each version in
/// its order (a version given twice once), whether it had drifted.
pub fn accept_checksum(
    store: &mut dyn Store,
    chain: &[Migration],
    versions: &[SemVer],
    options: &Options,
) -> Result<Vec<(SemVer, Repair)>> {
    let mut compiled: Vec<&Migration> = Vec::with_capacity(versions.len());
    for &version in versions {
        let Some(m) = chain.iter().find(|m| m.version == version) else {
            return Err(Error::Usage(format!(
                "this binary has no migration {version}"
            )));
        };
        if !compiled.iter().any(|c| c.version == version) {
            compiled.push(m);
        }
    }
    store.lock(options.lock_timeout)?;
    let history = crate::store::checked_history(store)?;
    let mut accepted: Vec<(Applied, LogEntry)> = Vec::new();
    let mut repairs = Vec::with_capacity(versions.len());
    for m in compiled {
        let version = m.version;
        let Some(applied) = history.iter().find(|a| a.version == version) else {
            return Err(Error::Usage(format!(
                "{version} is not applied to {}",
                store.describe()
            )));
        };
        if applied.checksum == m.checksum {
            repairs.push((version, Repair::NotDrifted));
            continue;
        }
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
        let applied = Applied {
            checksum: m.checksum.to_string(),
            revert: m.revert(),
            ..applied.clone()
        };
        accepted.push((applied, entry));
        repairs.push((version, Repair::Accepted));
    }
    if accepted.is_empty() {
        return Ok(repairs);
    }
    transaction(store, |s| {
        accepted
            .iter()
            .try_for_each(|(applied, entry)| s.accept(applied).and_then(|()| s.log(entry)))
    })?;
    write_state(store, chain, options)?;
    Ok(repairs)
}
