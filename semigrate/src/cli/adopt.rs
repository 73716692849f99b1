//! `semigrate adopt --from TOOL`: a store another tool migrated, taken over at the
//! version its history says (see `crate::import::adopt`).

use super::Invocation;
use crate::error::{Error, Result};
use crate::import::Tool;
use std::fmt::Write;

pub fn run(context: &Invocation, tool: Tool, dry_run: bool, allow_drift: bool) -> Result<String> {
    context.refuse_missing()?;
    let mut store = context.open(false)?;
    let found = crate::import::adopt::found(&mut *store, tool, context.migrations())
        .map_err(Error::Refused)?;
    if dry_run {
        let mut out = String::new();
        for (version, id) in &found.mapping {
            let _ = writeln!(out, "{:<10} {} {id}", version.to_string(), tool.name());
        }
        let _ = writeln!(
            out,
            "{} would be recorded at {}; nothing was recorded",
            store.describe(),
            found.version
        );
        return Ok(out);
    }
    crate::engine::adopt(
        &mut *store,
        context.migrations(),
        found.version,
        allow_drift,
        &context.options()?,
    )?;
    context.say(format!(
        "{} is adopted from {} at {}: {} migration{} recorded, nothing run; its {} table is left as it was",
        store.describe(),
        tool.name(),
        found.version,
        found.mapping.len(),
        if found.mapping.len() == 1 { "" } else { "s" },
        tool.name()
    ));
    Ok(String::new())
}
