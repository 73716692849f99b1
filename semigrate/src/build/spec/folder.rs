//! The spec folder as the build reads it: every file named, parsed and lowered, the
//! chain rules checked, and the chain replayed.

use super::rust::Sources;
use super::{checksum, document};
use crate::build::chain::Link;
use crate::build::config::Config;
use crate::build::diagnostic::{Diagnostic, line_column};
use crate::model::{Engine, Migration, SemVer};
use crate::spec_file as name;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Everything the build proves of the chain in `dir`: each spec parses, the chain
/// rules hold for a package at `package`, and, when the configuration asks for it,
/// the replay on SQLite passes, and on the PostgreSQL server at `postgres_url` when
/// one is given. The build script and the tests call this one function.
pub fn prove(
    dir: &Path,
    config: &Config,
    package: SemVer,
    postgres_url: Option<&str>,
) -> Result<Vec<Migration>, Vec<Diagnostic>> {
    let sources = config.sources.clone().map(Sources::new);
    let mut loaded = load(dir, &config.engines, sources.as_ref());
    let mut errors = loaded.errors;
    errors.extend(crate::build::chain::check(
        &loaded.links,
        config.gaps,
        package,
    ));
    // The replays need a chain that reads; each reports every flaw it finds.
    let readable = errors.is_empty();
    if readable && config.verify && config.engines.contains(&Engine::Sqlite) {
        errors = crate::build::replay::replay(dir, &mut loaded.migrations);
    }
    if let Some(url) = postgres_url
        && readable
        && config.verify
        && config.engines.contains(&Engine::Postgres)
    {
        // SQLite's replay words the acknowledgements; without it, this one does.
        let stale = !config.engines.contains(&Engine::Sqlite);
        errors.extend(crate::build::replay::replay_postgres(
            url,
            dir,
            &mut loaded.migrations,
            stale,
        ));
    }
    if errors.is_empty() {
        Ok(loaded.migrations)
    } else {
        Err(errors)
    }
}

/// Everything read from the spec folder.
pub struct Loaded {
    /// Every well-named spec, parsed or not: the chain rules need only the names.
    pub links: Vec<Link>,
    /// The specs that parsed, ordered by version.
    pub migrations: Vec<Migration>,
    /// Every error found, in file order.
    pub errors: Vec<Diagnostic>,
}

/// The `.toml` files of the folder, sorted by name. Other files (a README, seed CSVs)
/// and subfolders are not specs.
pub fn spec_files(dir: &Path) -> Result<Vec<PathBuf>, Diagnostic> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Diagnostic::file(dir, format!("cannot read the migrations folder: {e}")))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| Diagnostic::file(dir, format!("cannot read the migrations folder: {e}")))?
            .path();
        if path.extension().is_some_and(|e| e == "toml") && !path.is_dir() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Reads and lowers every spec of `dir`, and finds in `sources` the functions they
/// name. A misnamed `.toml` is an error, never skipped.
pub fn load(dir: &Path, engines: &[Engine], sources: Option<&Sources>) -> Loaded {
    // The tokens of each version's functions, for its checksum.
    let mut functions: BTreeMap<SemVer, BTreeMap<String, String>> = BTreeMap::new();
    let mut loaded = Loaded {
        links: Vec::new(),
        migrations: Vec::new(),
        errors: Vec::new(),
    };
    let files = match spec_files(dir) {
        Ok(files) => files,
        Err(e) => {
            loaded.errors.push(e);
            return loaded;
        }
    };
    for path in files {
        let file_name = path.file_name().unwrap_or_default().to_string_lossy();
        let spec_name = match name::parse(&file_name) {
            Ok(n) => n,
            Err((why, suggestion)) => {
                let mut d = Diagnostic::file(&path, why);
                d.help = suggestion.map(|s| format!("rename it to {s}"));
                loaded.errors.push(d);
                continue;
            }
        };
        let source = match std::fs::read(&path).map(String::from_utf8) {
            Ok(Ok(text)) => text,
            Ok(Err(e)) => {
                let offset = e.utf8_error().valid_up_to();
                let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
                loaded.errors.push(Diagnostic::at(
                    &path,
                    &text,
                    offset,
                    "the file is not valid UTF-8",
                ));
                continue;
            }
            Err(e) => {
                loaded
                    .errors
                    .push(Diagnostic::file(&path, format!("cannot read: {e}")));
                continue;
            }
        };
        match document::parse(&path, &source, spec_name.version, engines) {
            Ok(parsed) => {
                let tokens = functions.entry(spec_name.version).or_default();
                for used in parsed.functions.iter().filter(|_| sources.is_some()) {
                    let sources = sources.expect("filtered");
                    match sources.resolve(&used.path, used.kind) {
                        Ok(found) => {
                            tokens.insert(used.path.clone(), found);
                        }
                        Err(why) => loaded.errors.push(Diagnostic::at(
                            &path,
                            &source,
                            used.offset,
                            format!("`{}`: {why}", used.path),
                        )),
                    }
                }
                let (line, column) = line_column(&source, parsed.version_offset);
                loaded.links.push(Link {
                    version: spec_name.version,
                    file: path.clone(),
                    line,
                    column,
                });
                loaded.migrations.push(parsed.migration);
            }
            Err(errors) => {
                loaded.links.push(Link {
                    version: spec_name.version,
                    file: path.clone(),
                    line: 1,
                    column: 1,
                });
                loaded.errors.extend(errors);
            }
        }
    }
    loaded
        .links
        .sort_by(|a, b| (a.version, &a.file).cmp(&(b.version, &b.file)));
    loaded.migrations.sort_by_key(|m| m.version);
    // The column flow runs over the chain in order; the checksums come after it, since
    // the expected headers and the derived downs are part of what a migration does.
    for (index, message) in crate::build::flow::resolve(&mut loaded.migrations) {
        let file = dir.join(loaded.migrations[index].file.as_ref());
        loaded.errors.push(Diagnostic::file(&file, message));
    }
    for m in &mut loaded.migrations {
        let tokens = functions.remove(&m.version).unwrap_or_default();
        m.checksum = checksum::of(m, &tokens).into();
    }
    loaded
}
