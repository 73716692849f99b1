//! `semigrate adopt --from TOOL`: a store another tool migrated, taken over at the
//! version its history says (see `crate::import::adopt`).

use super::Invocation;
use crate::error::{Error, Result};
use crate::import::Tool;
use std::fmt::Write;

pub fn run(context: &Invocation, tool: Tool, dry_run: bool, allow_drift: bool) -> Result<String> {
    context.refuse_missing()?;
    let mut store = context.open(false)?;
    let mut mapping = Vec::new();
    let version = crate::engine::adopt(
        &mut *store,
        context.migrations(),
        &mut |s| {
            let found = crate::import::adopt::found(s, tool, context.migrations())
                .map_err(Error::Refused)?;
            mapping = found.mapping;
            Ok(found.version)
        },
        allow_drift,
        dry_run,
        &context.options()?,
    )?;
    if dry_run {
        let mut out = String::new();
        for (version, id) in &mapping {
            let _ = writeln!(out, "{:<10} {} {id}", version.to_string(), tool.name());
        }
        let _ = writeln!(
            out,
            "{} would be recorded at {version}; nothing was recorded",
            store.describe(),
        );
        return Ok(out);
    }
    context.say(format!(
        "{} is adopted from {} at {version}: {} migration{} recorded, nothing run; its {} table is left as it was",
        store.describe(),
        tool.name(),
        mapping.len(),
        if mapping.len() == 1 { "" } else { "s" },
        tool.name()
    ));
    Ok(String::new())
}
