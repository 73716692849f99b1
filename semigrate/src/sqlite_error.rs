//! SQLite's own words for an error, without rusqlite's wrapping: what users read.

/// The message SQLite gave, or rusqlite's description when SQLite gave none.
pub fn message(e: &rusqlite::Error) -> String {
    match e {
        rusqlite::Error::SqliteFailure(_, Some(message)) => message.clone(),
        // Its Display repeats the whole statement, which the caller shows already.
        rusqlite::Error::SqlInputError { msg, offset, .. } => format!("{msg} (at offset {offset})"),
        other => other.to_string(),
    }
}
