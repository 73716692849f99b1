//! `semigrate repair --accept-checksum VERSION[,VERSION...]`: accept the edited specs
//! of applied migrations, on record.

use super::Invocation;
use crate::engine::Repair;
use crate::error::Result;
use crate::model::SemVer;

pub fn run(context: &Invocation, versions: &[SemVer]) -> Result<String> {
    let mut store = context.open(false)?;
    let repairs = crate::engine::accept_checksum(
        &mut *store,
        context.migrations(),
        versions,
        &context.options()?,
    )?;
    for (version, repair) in repairs {
        context.say(match repair {
            Repair::Accepted => format!("{version}: the compiled spec is now the applied one"),
            Repair::NotDrifted => format!("{version} has not drifted: nothing to repair"),
        });
    }
    Ok(String::new())
}
