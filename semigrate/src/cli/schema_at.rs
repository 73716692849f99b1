//! `semigrate schema-at X.Y.Z [--diff X.Y.Z]`: the schema a version has, as the
//! build's replay saw it, or what changes between two versions: what a reviewer wants
//! to read in a pull request. It needs no store.

use super::Invocation;
use crate::error::{Error, Result};
use crate::model::{Engine, SemVer};
use crate::store::schema::{Schema, Sides};
use serde::Serialize;
use std::fmt::Write;

/// How `--diff` words a difference: from the first version to the second.
const BETWEEN: Sides = Sides {
    missing: "is removed",
    extra: "is added",
    was: "before",
    now: "after",
};

/// One object, as `--json` prints it.
#[derive(Serialize)]
struct Shown<'a> {
    name: &'a str,
    kind: &'a str,
    sql: &'a str,
}

/// One changed object between two versions, as `--diff --json` prints it.
#[derive(Serialize)]
struct Changed<'a> {
    name: &'a str,
    kind: &'a str,
    was: Option<&'a str>,
    now: Option<&'a str>,
}

pub fn run(
    context: &Invocation,
    at: SemVer,
    diff: Option<SemVer>,
    engine: Engine,
) -> Result<String> {
    let schema = |v: SemVer| {
        Schema::compiled(context.migrations(), v, engine).ok_or_else(|| {
            Error::Usage(match engine {
                Engine::Sqlite => format!(
                    "this binary holds no SQLite schema for {v}: its chain was built without the SQLite replay (verify = false, or no sqlite in engines)"
                ),
                Engine::Postgres => format!(
                    "this binary holds no PostgreSQL schema for {v}: its chain was built without SEMIGRATE_VERIFY_POSTGRES_URL"
                ),
            })
        })
    };
    let first = schema(at)?;
    let Some(to) = diff else {
        return Ok(print(context, &first, engine));
    };
    let second = schema(to)?;
    let change = first.against(&second);
    let differences: Vec<String> = change
        .differences_as(&BETWEEN, &|t| first.table_named(t))
        .into_iter()
        .map(|d| d.line)
        .collect();
    let changed: Vec<Changed> = change
        .names()
        .into_iter()
        .map(|name| {
            let (was, now) = (change.was.objects.get(name), change.now.objects.get(name));
            Changed {
                name,
                kind: was.or(now).map_or("", |o| o.kind.as_str()),
                was: was.map(|o| o.sql.as_str()),
                now: now.map(|o| o.sql.as_str()),
            }
        })
        .collect();
    if context.json {
        let json = serde_json::json!({
            "from": at, "to": to, "differences": differences, "objects": changed,
        });
        return Ok(super::json(&json));
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "-- schema {at} -> {to}: {} object{} {}",
        changed.len(),
        if changed.len() == 1 { "" } else { "s" },
        if changed.len() == 1 {
            "differs"
        } else {
            "differ"
        }
    );
    for line in &differences {
        let _ = writeln!(out, "--   {line}");
    }
    for c in &changed {
        let _ = writeln!(out, "\n-- {} {}", c.kind, c.name);
        for (sign, sql) in [("-", c.was), ("+", c.now)] {
            for line in sql.into_iter().flat_map(str::lines) {
                let _ = writeln!(out, "{sign} {line}");
            }
        }
    }
    Ok(out)
}

/// The schema as DDL (tables, then indexes, views and triggers, each by name), or as
/// JSON. PostgreSQL's is the catalog's view of it: one line per object (`column
/// accidents.lat: real`), tables and columns first.
fn print(context: &Invocation, schema: &Schema, engine: Engine) -> String {
    let order = [
        "table",
        "column",
        "constraint",
        "index",
        "view",
        "trigger",
        "sequence",
    ];
    let mut objects: Vec<Shown> = schema
        .objects
        .iter()
        .map(|(name, o)| Shown {
            name,
            kind: &o.kind,
            sql: &o.sql,
        })
        .collect();
    objects.sort_by_key(|o| order.iter().position(|k| *k == o.kind));
    if context.json {
        return super::json(&objects);
    }
    let mut out = String::new();
    for o in &objects {
        let _ = match engine {
            Engine::Sqlite => writeln!(out, "{};\n", o.sql.trim_end()),
            Engine::Postgres => writeln!(out, "{} {}: {}", o.kind, o.name, o.sql),
        };
    }
    out
}
