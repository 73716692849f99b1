//! What the build replays: the chain on an in-memory SQLite and, when a server is
//! given, on PostgreSQL (`crate::proof`), each flaw reported against its spec file.
//! Without a server, `lints` reads the PostgreSQL text for what the server would have
//! measured.

pub mod lints;

use crate::build::diagnostic::Diagnostic;
use crate::model::Migration;
use crate::proof::Found;
use std::path::Path;

/// Replays the chain on SQLite; every error, against its file.
pub fn replay(dir: &Path, migrations: &mut [Migration]) -> Vec<Diagnostic> {
    let found = crate::proof::sqlite::replay(migrations);
    diagnostics(dir, migrations, found)
}

/// Replays the chain's PostgreSQL text on the server at `url`; every error, against
/// its file.
pub fn replay_postgres(
    url: &str,
    dir: &Path,
    migrations: &mut [Migration],
    stale: bool,
) -> Vec<Diagnostic> {
    let found = crate::proof::postgres::replay(url, migrations, stale);
    diagnostics(dir, migrations, found)
}

fn diagnostics(
    dir: &Path,
    migrations: &[Migration],
    found: Result<Vec<Found>, String>,
) -> Vec<Diagnostic> {
    match found {
        Err(why) => vec![Diagnostic::file(dir, why)],
        Ok(found) => found
            .into_iter()
            .flat_map(|f| {
                let file = dir.join(migrations[f.index].file.as_ref());
                f.errors
                    .into_iter()
                    .map(move |e| Diagnostic::file(&file, e))
            })
            .collect(),
    }
}
