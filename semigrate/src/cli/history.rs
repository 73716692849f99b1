//! `semigrate history`: the run log, oldest first.

use super::Invocation;
use crate::error::Result;
use std::fmt::Write;

pub fn run(context: &Invocation) -> Result<String> {
    context.missing_store();
    let mut store = context.open_read_only()?;
    let logged = crate::engine::history(&mut *store)?;
    if context.json {
        return Ok(super::json(&logged));
    }
    let mut out = String::new();
    if logged.is_empty() {
        let _ = writeln!(out, "{}: no run recorded", store.describe());
        return Ok(out);
    }
    let _ = writeln!(
        out,
        "{:<24} {:<9} {:<17} {:<15} {:<8} {:>8}  ERROR",
        "AT", "COMMAND", "FROM -> TO", "DIRECTION", "OUTCOME", "MS"
    );
    for l in &logged {
        let e = &l.entry;
        let _ = writeln!(
            out,
            "{:<24} {:<9} {:<17} {:<15} {:<8} {:>8}  {}",
            l.at,
            e.command,
            format!("{} -> {}", e.from, e.to),
            e.direction,
            e.outcome,
            super::millis(u128::try_from(e.duration_ms).unwrap_or(0)),
            e.error.as_deref().unwrap_or("")
        );
    }
    Ok(out)
}
