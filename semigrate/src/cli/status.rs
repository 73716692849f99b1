//! `semigrate status`: the store's version and each migration's state.

use super::Invocation;
use crate::engine::status::{State, Status};
use crate::error::Result;
use anstyle::AnsiColor;
use std::fmt::Write;

/// Reads the store (without creating it) and compares it with the chain.
pub fn read(context: &Invocation) -> Result<Status> {
    context.missing_store();
    let mut store = context.open_read_only()?;
    let status = crate::engine::status(&mut *store, context.chain.migrations, &context.options()?);
    // A SQLite file opened to read holds nothing once its statements are done: the
    // process ends next, and closing first would only free the parsed schema (at
    // 1,000 tables, 7% of what `status` costs). A server is told goodbye.
    if store.engine() == crate::model::Engine::Sqlite {
        std::mem::forget(store);
    }
    status
}

pub fn run(context: &Invocation) -> Result<String> {
    let s = read(context)?;
    if context.json {
        return Ok(super::json(&s));
    }
    Ok(render(&s))
}

/// The aligned table a person reads.
pub fn render(s: &Status) -> String {
    let mut out = String::new();
    let shown = s.paths.as_ref().map_or(&s.database, |p| &p.store);
    let _ = writeln!(out, "database  {shown} ({})", s.engine);
    let standing = match (s.current == s.latest, s.pending) {
        (true, _) => "up to date".to_owned(),
        (false, 0) => format!("the newest this binary knows is {}", s.latest),
        (false, n) => format!("{n} pending, latest {}", s.latest),
    };
    let _ = writeln!(out, "version   {} ({standing})", s.current);
    if let Some(check) = &s.schema {
        let _ = writeln!(out, "schema    {}", check.summary());
    }
    if let Some(backup) = &s.backup {
        let _ = writeln!(out, "backup    {backup}");
    }
    if s.debt > 0 {
        let _ = writeln!(
            out,
            "debt      {} migration{} whose down is known to leave part of its up (`list` says what)",
            s.debt,
            if s.debt == 1 { "" } else { "s" }
        );
    }
    if let Some(p) = &s.paths {
        let _ = writeln!(out, "data      {}", p.data_dir);
        let _ = writeln!(out, "backups   {}", p.backup_dir);
        let _ = writeln!(out, "state     {}", p.state_file);
    }
    if s.migrations.is_empty() {
        return out;
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<9} {:<8} {:<24} DESCRIPTION",
        "VERSION", "STATE", "APPLIED AT"
    );
    for e in &s.migrations {
        // The codes are stripped on the way out unless stdout is a terminal.
        let style = match e.state {
            State::Applied => AnsiColor::Green.on_default(),
            State::Pending => AnsiColor::Yellow.on_default(),
            State::Drifted => AnsiColor::Red.on_default().bold(),
            State::Ahead => AnsiColor::Magenta.on_default(),
        };
        let _ = writeln!(
            out,
            "{:<9} {style}{:<8}{style:#} {:<24} {}",
            e.version.to_string(),
            e.state.as_str(),
            e.applied_at.as_deref().unwrap_or("-"),
            e.description
        );
    }
    out
}
