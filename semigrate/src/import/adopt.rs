//! `adopt`: the history another tool keeps in a store, read and matched against the
//! origins of an imported chain, to find the version at which semigrate takes over.

use super::Tool;
use crate::engine::schema_check::FOREIGN_HISTORIES;
use crate::model::{Engine, Migration, SemVer};
use crate::store::{Store, Value};

/// How one row of the other tool's history stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Row {
    Applied,
    /// Applied, then undone (goose's `is_applied = false`, Flyway's undo).
    Undone,
    /// Failed or half-applied (golang-migrate's `dirty`, sqlx's and Flyway's
    /// `success = false`).
    Broken,
}

/// The table each tool keeps its history in (`FOREIGN_HISTORIES`), and what to select
/// from it: an id, and a flag (applied, dirty or success), in the order the rows were
/// written.
fn query(tool: Tool) -> (&'static str, &'static str, &'static str, &'static str) {
    let table = FOREIGN_HISTORIES
        .iter()
        .find(|(name, _)| *name == tool.name())
        .map_or("", |(_, table)| table);
    // (id, flag, order)
    let (id, flag, order) = match tool {
        Tool::Diesel => ("version", "1", "version"),
        Tool::Sqlx => ("version", "success", "version"),
        Tool::GolangMigrate => ("version", "dirty", "version"),
        Tool::Goose => ("version_id", "is_applied", "id"),
        Tool::Dbmate => ("version", "1", "version"),
        Tool::Flyway => ("version || '|' || type", "success", "installed_rank"),
        Tool::SqlMigrate => ("id", "1", "id"),
    };
    (table, id, flag, order)
}

/// The rows of the other tool's history, as `(id, row)` in the order written; Err
/// when the store has no such table.
fn read(store: &mut dyn Store, tool: Tool) -> Result<Vec<(String, Row)>, String> {
    let (table, id, flag, order) = query(tool);
    let line = format!("CAST({id} AS TEXT) || '|' || CAST({flag} AS TEXT)");
    let where_ = match tool {
        Tool::Flyway => " WHERE version IS NOT NULL",
        // goose writes a row for version 0 when it makes its table: no migration's.
        Tool::Goose => " WHERE version_id <> 0",
        _ => "",
    };
    let sql = match store.engine() {
        Engine::Sqlite => format!(
            "SELECT group_concat(line, char(10)) FROM \
             (SELECT {line} AS line FROM {table}{where_} ORDER BY {order})"
        ),
        Engine::Postgres => {
            format!("SELECT string_agg({line}, E'\\n' ORDER BY {order}) FROM {table}{where_}")
        }
    };
    let rows = store.query(&sql)?;
    let text = match rows.first {
        Some(Value::Text(text)) => text,
        _ => String::new(),
    };
    let truthy = |v: &str| matches!(v, "1" | "true" | "t");
    let mut out = Vec::new();
    for line in text.lines() {
        let (id, flag) = line.rsplit_once('|').unwrap_or((line, ""));
        let (id, row) = match tool {
            Tool::Diesel | Tool::Dbmate | Tool::SqlMigrate => (id, Row::Applied),
            Tool::GolangMigrate if truthy(flag) => (id, Row::Broken),
            Tool::GolangMigrate => (id, Row::Applied),
            Tool::Goose if truthy(flag) => (id, Row::Applied),
            Tool::Goose => (id, Row::Undone),
            Tool::Sqlx | Tool::Flyway if !truthy(flag) => {
                (id.split('|').next().unwrap_or(id), Row::Broken)
            }
            Tool::Flyway => match id.rsplit_once('|') {
                Some((version, "UNDO_SQL")) => (version, Row::Undone),
                Some((version, _)) => (version, Row::Applied),
                None => (id, Row::Applied),
            },
            Tool::Sqlx => (id, Row::Applied),
        };
        out.push((id.to_owned(), row));
    }
    Ok(out)
}

/// The id the other tool's history holds for an imported migration, from its origin
/// (`diesel:2019-02-26-002946_create_user` is `20190226002946`).
fn id_of(tool: Tool, m: &Migration) -> Option<String> {
    let name = m
        .origin
        .as_deref()?
        .strip_prefix(tool.name())?
        .strip_prefix(':')?;
    let prefix = name.split('_').next().unwrap_or(name);
    let digits = || -> Option<String> {
        let n: u128 = prefix.parse().ok()?;
        Some(n.to_string())
    };
    match tool {
        Tool::Diesel => Some(prefix.chars().filter(char::is_ascii_digit).collect()),
        Tool::Sqlx | Tool::GolangMigrate | Tool::Goose => digits(),
        // dbmate records a name's leading digits, whatever follows them.
        Tool::Dbmate => Some(name.chars().take_while(char::is_ascii_digit).collect()),
        Tool::Flyway => Some(name.strip_prefix('V')?.split("__").next()?.to_owned()),
        Tool::SqlMigrate => Some(format!("{name}.sql")),
    }
}

/// What adoption found: the version the store is at, and each migration's id.
pub struct Found {
    /// The newest imported migration the other tool applied; 0.0.0 for none.
    pub version: SemVer,
    /// Each migration up to it: its version and the id the tool recorded.
    pub mapping: Vec<(SemVer, String)>,
}

/// Reads `tool`'s history in `store` and matches it with `chain`: the store must hold
/// every migration of the chain up to the newest it applied (no hole), no failed or
/// dirty one, and none the chain does not have. Every refusal names what it found.
pub fn found(store: &mut dyn Store, tool: Tool, chain: &[Migration]) -> Result<Found, String> {
    let (table, ..) = query(tool);
    let rows = read(store, tool).map_err(|_| {
        format!(
            "{} has no {table} table, so no {} history to adopt: for a store that predates every tool, `baseline --version X` records it",
            store.describe(),
            tool.name()
        )
    })?;
    let broken: Vec<&str> = rows
        .iter()
        .filter(|(_, r)| *r == Row::Broken)
        .map(|(id, _)| id.as_str())
        .collect();
    if !broken.is_empty() {
        return Err(format!(
            "{}'s {table} records {} as failed or dirty: fix the store with {}, then adopt it",
            store.describe(),
            broken.join(", "),
            tool.name()
        ));
    }
    // The last row of each id decides (goose writes one per apply and per undo).
    let mut applied: Vec<String> = Vec::new();
    for (id, row) in &rows {
        applied.retain(|a| a != id);
        if *row == Row::Applied {
            applied.push(id.clone());
        }
    }
    let ids: Vec<Option<String>> = chain.iter().map(|m| id_of(tool, m)).collect();
    // golang-migrate keeps only the newest version: every one up to it is applied.
    if tool == Tool::GolangMigrate
        && let Some(top) = applied.last().and_then(|v| v.parse::<u128>().ok())
    {
        applied = ids
            .iter()
            .flatten()
            .filter(|id| id.parse::<u128>().is_ok_and(|n| n <= top))
            .cloned()
            .collect();
        if !applied
            .iter()
            .any(|id| id.parse::<u128>().ok() == Some(top))
        {
            applied.push(top.to_string());
        }
    }
    let unknown: Vec<&str> = applied
        .iter()
        .filter(|a| !ids.iter().flatten().any(|id| id == *a))
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        return Err(format!(
            "{}'s {table} records {}, which no migration of this chain comes from: import them first",
            store.describe(),
            unknown.join(", ")
        ));
    }
    let newest = chain
        .iter()
        .zip(&ids)
        .rposition(|(_, id)| id.as_ref().is_some_and(|id| applied.contains(id)));
    let Some(newest) = newest else {
        return Ok(Found {
            version: SemVer::ZERO,
            mapping: Vec::new(),
        });
    };
    let holes: Vec<String> = chain[..=newest]
        .iter()
        .zip(&ids)
        .filter(|(_, id)| !id.as_ref().is_some_and(|id| applied.contains(id)))
        .map(|(m, id)| match (id, &m.origin) {
            (Some(id), _) => format!("{} ({id})", m.version),
            (None, _) => format!("{} (not imported from {})", m.version, tool.name()),
        })
        .collect();
    if !holes.is_empty() {
        return Err(format!(
            "{}'s {table} lacks {}, before {}, which it has: a store with holes cannot be adopted",
            store.describe(),
            holes.join(", "),
            chain[newest].version
        ));
    }
    Ok(Found {
        version: chain[newest].version,
        mapping: chain[..=newest]
            .iter()
            .zip(ids)
            .map(|(m, id)| (m.version, id.unwrap_or_default()))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;

    /// A chain of one table a migration, each imported from `origins`.
    fn chain_of(dir: &std::path::Path, origins: &[&str]) -> Vec<Migration> {
        for (i, origin) in origins.iter().enumerate() {
            let table = ["a", "b", "c"][i];
            let spec = format!(
                "description = \"{table}\"\norigin = \"{origin}\"\n\
                 [[up]]\nsql = \"CREATE TABLE {table} (id INTEGER);\"\n\
                 [[down]]\nsql = \"DROP TABLE {table};\"\n"
            );
            std::fs::write(dir.join(format!("v0_{}_0.toml", i + 1)), spec).unwrap();
        }
        let config = crate::build::config::Config::default();
        let newest = SemVer::new(0, origins.len() as u64, 0);
        crate::build::spec::prove(dir, &config, newest, None).unwrap()
    }

    /// A store goose migrated through its first migration of two, its table written
    /// as goose writes it: the row goose makes with the table (version 0), one row per
    /// apply, one per undo.
    #[test]
    fn a_goose_store_maps_from_its_rows_after_goose_s_own_first_one() {
        let dir = tempfile::tempdir().unwrap();
        let chain = chain_of(dir.path(), &["goose:00001_a", "goose:00002_b"]);
        let path = dir.path().join("s.db");
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch(
                "CREATE TABLE a (id INTEGER); CREATE TABLE b (id INTEGER);
                 CREATE TABLE goose_db_version (id INTEGER PRIMARY KEY AUTOINCREMENT,
                     version_id INTEGER NOT NULL, is_applied INTEGER NOT NULL,
                     tstamp TIMESTAMP DEFAULT (datetime('now')));
                 INSERT INTO goose_db_version (version_id, is_applied)
                     VALUES (0, 1), (1, 1), (2, 1), (2, 0);",
            )
            .unwrap();
        let mut store = SqliteStore::open(&path).unwrap();
        let found = found(&mut store, Tool::Goose, &chain).unwrap();
        assert_eq!(found.version, SemVer::new(0, 1, 0));
        assert_eq!(found.mapping, vec![(SemVer::new(0, 1, 0), "1".to_owned())]);
    }

    /// dbmate records the leading digits of a name, whatever follows them.
    #[test]
    fn a_dbmate_id_is_the_leading_digits_of_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let chain = chain_of(
            dir.path(),
            &["dbmate:00000000000000-initial", "dbmate:20220101000000_b"],
        );
        let ids: Vec<Option<String>> = chain.iter().map(|m| id_of(Tool::Dbmate, m)).collect();
        assert_eq!(
            ids,
            [
                Some("00000000000000".to_owned()),
                Some("20220101000000".to_owned())
            ]
        );
    }
}
