//! `new`: writes the next spec from a template, named for its version.

use super::Invocation;
use crate::error::{Error, Result};
use crate::model::SemVer;
use crate::spec_file;
use std::io::Write;
use std::path::{Path, PathBuf};

const SQL: &str = include_str!("../../templates/sql.toml");
const CSV: &str = include_str!("../../templates/csv.toml");
const SQL_FILES: &str = include_str!("../../templates/sql_files.toml");
const UP: &str =
    "CREATE TABLE example (\n    id   INTEGER PRIMARY KEY,\n    name TEXT NOT NULL\n);\n";
const DOWN: &str = "DROP TABLE example;\n";

/// Where specs go: the source tree's migrations folder when run at its root (where
/// Cargo.toml is), else `./migrations`.
pub(super) fn default_dir(context: &Invocation) -> PathBuf {
    if Path::new("Cargo.toml").is_file() {
        PathBuf::from(context.chain.settings.migrations)
    } else {
        PathBuf::from("migrations")
    }
}

/// The template with its placeholder table or file named for `version`
/// (`example_2_3_0`): a spec that builds unedited, whatever the chain already has.
fn fresh(template: &str, version: SemVer) -> String {
    let name = format!(
        "example_{}_{}_{}",
        version.major, version.minor, version.patch
    );
    regex::Regex::new(r"\bexample\b")
        .expect("a valid pattern")
        .replace_all(template, name.as_str())
        .into_owned()
}

pub fn run(
    context: &Invocation,
    version: SemVer,
    slug: Option<&str>,
    csv: bool,
    sql_files: bool,
    dir: Option<&Path>,
) -> Result<String> {
    let latest = context
        .migrations()
        .last()
        .map_or(SemVer::ZERO, |m| m.version);
    let next = latest.successors();
    if !next.contains(&version) {
        return Err(Error::Usage(format!(
            "{version} does not follow {latest}, the newest version compiled in; the next version is {}, {} or {}",
            next[0], next[1], next[2]
        )));
    }
    let file = spec_file::file_name(version, slug);
    // The name rules of the build, slug included.
    spec_file::parse(&file).map_err(|(why, _)| Error::Usage(why))?;
    let dir = dir.map_or_else(|| default_dir(context), Path::to_path_buf);
    let taken = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| spec_file::parse(n).is_ok_and(|s| s.version == version));
    if let Some(taken) = taken {
        return Err(Error::Usage(format!(
            "{} already gives {version}; new never overwrites a spec",
            dir.join(taken).display()
        )));
    }
    let path = dir.join(&file);
    let stem = file.trim_end_matches(".toml");
    let mut files = vec![(
        path.clone(),
        match (csv, sql_files) {
            (true, _) => fresh(CSV, version),
            (false, true) => SQL_FILES.replace("{stem}", stem),
            (false, false) => fresh(SQL, version),
        },
    )];
    if sql_files && !csv {
        for (direction, text) in [("up", UP), ("down", DOWN)] {
            let sql = dir.join("sql").join(format!("{stem}.{direction}.sql"));
            files.push((sql, fresh(text, version)));
        }
    }
    if let Some((taken, _)) = files.iter().find(|(p, _)| p.exists()) {
        return Err(Error::Usage(format!(
            "{} already exists; new never overwrites a file",
            taken.display()
        )));
    }
    for (path, text) in &files {
        let io = |e: std::io::Error| Error::Io {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        std::fs::create_dir_all(path.parent().unwrap_or(&dir)).map_err(io)?;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .map_err(io)?;
    }
    context.say(format!(
        "wrote {}: fill it in, then `cargo build` checks it",
        path.display()
    ));
    Ok(String::new())
}
