//! `[package.metadata.semigrate]`: the settings the build reads from Cargo.toml.

use crate::build::diagnostic::Diagnostic;
use crate::model::Engine;
use serde::Deserialize;
use std::path::Path;

/// Whether the chain must follow the SemVer successor rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Gaps {
    /// Each version must be a SemVer successor of the one before.
    Deny,
    /// Any increasing chain.
    Allow,
}

/// The settings, with the defaults of the contract.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Folder of specs, relative to the manifest.
    pub migrations: String,
    /// Default store, compiled into the binary.
    pub database: String,
    /// Folder that CSV paths are relative to.
    pub data_dir: String,
    /// Where backups go.
    pub backup_dir: String,
    /// How many backups of a store to keep.
    pub backup_keep: usize,
    /// Whether the chain may skip versions.
    pub gaps: Gaps,
    /// Replay the chain on an in-memory SQLite at build time.
    pub verify: bool,
    /// The engines every SQL step must have text for.
    pub engines: Vec<Engine>,
    /// PostgreSQL: how long a migration's statements may wait for a lock.
    pub lock_timeout: Option<String>,
    /// PostgreSQL: how long a migration's statements may run.
    pub statement_timeout: Option<String>,
    /// PostgreSQL: how many times a migration that timed out on a lock is tried again.
    pub lock_retries: u32,
    /// Objects of the live schema the chain does not own, by name, `*` matching any
    /// text: the schema check never reports them.
    pub ignore_objects: Vec<String>,
    /// The stores `--fleet` runs over when it is given no file.
    pub fleet: Fleet,
    /// The chain crate's root source file (`src/main.rs`), where the functions that
    /// Rust steps name are looked up; None leaves them unchecked (a folder of specs
    /// proved on its own). Not a key: the build sets it.
    #[serde(skip)]
    pub sources: Option<std::path::PathBuf>,
    /// The name of the crate's binary, from its `[[bin]]` table: the name `--help`,
    /// completions and the man page give the command when the table is compiled into
    /// the crate's library, where cargo does not say it. Not a key: read from the
    /// manifest.
    #[serde(skip)]
    pub binary: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            migrations: "migrations".into(),
            database: "var/semigrate.db".into(),
            data_dir: "var/data".into(),
            backup_dir: "var/backups".into(),
            backup_keep: 10,
            gaps: Gaps::Deny,
            verify: true,
            engines: vec![Engine::Sqlite],
            lock_timeout: Some("5s".into()),
            statement_timeout: None,
            lock_retries: 5,
            ignore_objects: Vec::new(),
            fleet: Fleet::default(),
            sources: None,
            binary: None,
        }
    }
}

/// `[package.metadata.semigrate.fleet]`: the stores of the fleet, by kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Fleet {
    /// SQLite files, by path or glob (`/srv/tenants/*/app.db`).
    pub sqlite: Vec<String>,
    /// Fleet files (one target a line), read when the fleet runs.
    pub files: Vec<String>,
    /// PostgreSQL databases, by URL.
    pub postgres: Vec<String>,
    /// The server that `schemas` is asked of.
    pub server: Option<String>,
    /// A query listing, in its first column, the schemas of `server` that are stores.
    pub schemas: Option<String>,
}

impl Fleet {
    /// The fleet as the lines of a fleet file, the syntax `--fleet FILE` reads.
    pub fn lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self.sqlite.clone();
        lines.extend(self.postgres.iter().cloned());
        if let (Some(server), Some(query)) = (&self.server, &self.schemas) {
            lines.push(format!("{server} schemas {query}"));
        }
        lines.extend(self.files.iter().map(|f| format!("include {f}")));
        lines
    }
}

#[derive(Deserialize)]
struct Manifest {
    package: Option<Package>,
    bin: Option<Vec<Bin>>,
}

#[derive(Deserialize)]
struct Bin {
    name: Option<String>,
}

#[derive(Deserialize)]
struct Package {
    metadata: Option<Metadata>,
}

#[derive(Deserialize)]
struct Metadata {
    semigrate: Option<Config>,
}

impl Config {
    /// Reads the settings from the text of a Cargo.toml; absent means all defaults.
    pub fn from_manifest(path: &Path, text: &str) -> Result<Config, Diagnostic> {
        let manifest: Manifest = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            Diagnostic::at(
                path,
                text,
                offset,
                format!("[package.metadata.semigrate]: {}", e.message()),
            )
        })?;
        let binary = manifest
            .bin
            .as_deref()
            .and_then(|bins| bins.first())
            .and_then(|b| b.name.clone());
        let config = Config {
            binary,
            ..manifest
                .package
                .and_then(|p| p.metadata)
                .and_then(|m| m.semigrate)
                .unwrap_or_default()
        };
        if config.fleet.server.is_some() != config.fleet.schemas.is_some() {
            let offset = text.find("[package.metadata.semigrate.fleet]").unwrap_or(0);
            return Err(Diagnostic::at(
                path,
                text,
                offset,
                "[package.metadata.semigrate.fleet]: `schemas` (the query) and `server` \
                 (where it runs) go together"
                    .to_owned(),
            ));
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_table_means_defaults() {
        let c = Config::from_manifest(Path::new("Cargo.toml"), "[package]\nname='x'\n").unwrap();
        assert_eq!(c, Config::default());
    }

    #[test]
    fn keys_override_and_unknown_keys_fail() {
        let text = "[package.metadata.semigrate]\ngaps = \"allow\"\nverify = false\n";
        let c = Config::from_manifest(Path::new("Cargo.toml"), text).unwrap();
        assert_eq!((c.gaps, c.verify), (Gaps::Allow, false));
        assert_eq!(c.database, "var/semigrate.db");

        let bad = "[package.metadata.semigrate]\ngap = \"allow\"\n";
        let err = Config::from_manifest(Path::new("Cargo.toml"), bad).unwrap_err();
        assert!(err.message.contains("unknown field `gap`"), "{err}");
        assert_eq!(err.line, 2);
    }

    #[test]
    fn the_fleet_table_becomes_fleet_lines_and_a_query_needs_its_server() {
        let text = "[package.metadata.semigrate.fleet]\nsqlite = [\"/t/*/app.db\"]\n\
                    files = [\"more.txt\"]\npostgres = [\"postgres://h/a\"]\n\
                    server = \"postgres://h/b\"\nschemas = \"SELECT 'x'\"\n";
        let c = Config::from_manifest(Path::new("Cargo.toml"), text).unwrap();
        assert_eq!(
            c.fleet.lines(),
            [
                "/t/*/app.db",
                "postgres://h/a",
                "postgres://h/b schemas SELECT 'x'",
                "include more.txt"
            ]
        );
        let alone =
            "[package]\nname = 'x'\n[package.metadata.semigrate.fleet]\nschemas = \"SELECT 1\"\n";
        let err = Config::from_manifest(Path::new("Cargo.toml"), alone).unwrap_err();
        assert!(err.message.contains("go together"), "{err}");
        assert_eq!(err.line, 3);
    }
}
