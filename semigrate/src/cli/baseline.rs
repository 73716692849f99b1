//! `semigrate baseline --version X`: adopt a store that predates semigrate by recording
//! it as being at X, running nothing.

use super::Context;
use crate::error::{Error, Result};
use crate::model::{Migration, SemVer};
use crate::store::{Applied, LogEntry, Store, transaction};

pub fn run(context: &Context, version: SemVer) -> Result<String> {
    let mut store = context.open()?;
    store.lock(context.lock_timeout)?;
    let history = crate::store::checked_history(&mut *store)?;
    if let Some(top) = history.last() {
        return Err(Error::Refused(format!(
            "{} already has a history (it is at {}); baseline adopts a store that has none",
            store.describe(),
            top.version
        )));
    }
    transaction(&mut *store, |s| record(s, context.migrations(), version))?;
    context.write_state(&mut *store)?;
    context.say(format!(
        "{} is recorded at {version}; nothing was run",
        store.describe()
    ));
    Ok(String::new())
}

/// One history row per version up to `version`, each logged as baselined.
fn record(store: &mut dyn Store, chain: &[Migration], version: SemVer) -> Result<()> {
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
            command: "baseline".into(),
            version: m.version,
            direction: "baselined".into(),
            from: SemVer::ZERO,
            to: m.version,
            outcome: "ok".into(),
            duration_ms: 0,
            error: None,
        })?;
    }
    Ok(())
}
