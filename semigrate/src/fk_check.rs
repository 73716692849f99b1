//! SQLite's foreign-key check, run before committing a migration that switched
//! enforcement off (SQLite's 12-step table rebuild). Shared by the build-time replay and
//! the runtime so both judge a rebuild the same way.

use rusqlite::Connection;

/// Every row that breaks a foreign key, as `table rowid N -> parent`.
pub fn violations(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare("PRAGMA foreign_key_check")?;
    let rows = stmt.query_map([], |row| {
        let table: String = row.get(0)?;
        let rowid: Option<i64> = row.get(1)?;
        let parent: String = row.get(2)?;
        Ok(match rowid {
            Some(id) => format!("{table} row {id} references a missing row of {parent}"),
            None => format!("{table} references a missing row of {parent}"),
        })
    })?;
    rows.collect()
}
