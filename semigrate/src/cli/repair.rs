//! `semigrate repair --accept-checksum VERSION`: accept an edited spec of an applied
//! migration, on record.

use super::Invocation;
use crate::engine::Repair;
use crate::error::Result;
use crate::model::SemVer;

pub fn run(context: &Invocation, version: SemVer) -> Result<String> {
    let mut store = context.open(false)?;
    let repair = crate::engine::accept_checksum(
        &mut *store,
        context.migrations(),
        version,
        &context.options()?,
    )?;
    context.say(match repair {
        Repair::Accepted => format!("{version}: the compiled spec is now the applied one"),
        Repair::NotDrifted => format!("{version} has not drifted: nothing to repair"),
    });
    Ok(String::new())
}
