//! `semigrate baseline --version X`: adopt a store that predates semigrate by recording
//! it as being at X, running nothing.

use super::Invocation;
use crate::error::Result;
use crate::model::SemVer;

pub fn run(context: &Invocation, version: SemVer) -> Result<String> {
    let mut store = context.open(true)?;
    crate::engine::baseline(
        &mut *store,
        context.migrations(),
        version,
        &context.options()?,
    )?;
    context.say(format!(
        "{} is recorded at {version}; nothing was run",
        store.describe()
    ));
    Ok(String::new())
}
