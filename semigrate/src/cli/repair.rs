//! `semigrate repair --accept-checksum VERSION`: the way out of drift that a person has
//! to choose: the applied migration's stored checksum and down steps become the
//! compiled ones. Logged, so the decision stays on record.

use super::Context;
use crate::error::{Error, Result};
use crate::model::SemVer;
use crate::store::{Applied, LogEntry, transaction};

pub fn run(context: &Context, version: SemVer) -> Result<String> {
    let mut store = context.open()?;
    store.lock(context.lock_timeout)?;
    let history = crate::store::checked_history(&mut *store)?;
    let Some(applied) = history.iter().find(|a| a.version == version) else {
        return Err(Error::Usage(format!(
            "{version} is not applied to {}",
            store.describe()
        )));
    };
    let m = context
        .migrations()
        .iter()
        .find(|m| m.version == version)
        .expect("--accept-checksum takes compiled versions only");
    if applied.checksum == m.checksum {
        context.say(format!("{version} has not drifted: nothing to repair"));
        return Ok(String::new());
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
    transaction(&mut *store, |s| {
        s.accept(&accepted).and_then(|()| s.log(&entry))
    })?;
    context.write_state(&mut *store)?;
    context.say(format!(
        "{version}: the compiled spec is now the applied one"
    ));
    Ok(String::new())
}
