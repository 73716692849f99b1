//! `semigrate list`: the migrations compiled into this binary.

use super::Invocation;
use crate::error::Result;
use serde::Serialize;
use std::fmt::Write;

#[derive(Serialize)]
struct Listed<'a> {
    version: String,
    file: &'a str,
    description: &'a str,
    transaction: bool,
    foreign_keys: bool,
    irreversible: bool,
    destructive: bool,
    checksum: &'a str,
    /// PostgreSQL: what the build measured each step lock, and what the spec accepts.
    locks: &'a crate::model::Locks,
    /// Where it was imported from.
    #[serde(skip_serializing_if = "Option::is_none")]
    origin: Option<&'a str>,
    /// What its down is known to leave.
    down_leaves: &'a [crate::model::Text],
}

pub fn run(context: &Invocation) -> Result<String> {
    if context.json {
        let listed: Vec<Listed> = context
            .migrations()
            .iter()
            .map(|m| Listed {
                version: m.version.to_string(),
                file: &m.file,
                description: &m.description,
                transaction: m.transaction,
                foreign_keys: m.foreign_keys,
                irreversible: m.irreversible,
                destructive: m.destructive,
                checksum: &m.checksum,
                locks: &m.locks,
                origin: m.origin.as_deref(),
                down_leaves: &m.down_leaves,
            })
            .collect();
        return Ok(super::json(&listed));
    }
    let mut out = String::new();
    for m in context.migrations() {
        let mut flags = Vec::new();
        if !m.transaction {
            flags.push("no transaction");
        }
        if !m.foreign_keys {
            flags.push("foreign keys off");
        }
        if m.irreversible {
            flags.push("irreversible");
        }
        if m.destructive {
            flags.push("destructive");
        }
        let flags = if flags.is_empty() {
            String::new()
        } else {
            format!(" [{}]", flags.join(", "))
        };
        let _ = writeln!(out, "{:<8} {}{flags}", m.version.to_string(), m.description);
        if let Some(origin) = &m.origin {
            let _ = writeln!(out, "{:<8}   from {origin}", "");
        }
        if !m.down_leaves.is_empty() {
            let _ = writeln!(
                out,
                "{:<8}   its down leaves: {}",
                "",
                m.down_leaves.join(", ")
            );
        }
        // What the build measured on PostgreSQL, when it had a server.
        for held in m.locks.measured.iter().flat_map(|held| held.iter()) {
            let _ = writeln!(out, "{:<8}   locks: {}", "", held.describe());
        }
    }
    Ok(out)
}
