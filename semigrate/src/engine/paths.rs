//! Where a run reads and writes, resolved from one anchor, the store, never from the
//! working directory alone: the data and backup folders stand where the configuration
//! places them relative to its store, and move with the store given at run time. With
//! the defaults (`var/semigrate.db`, `var/data`, `var/backups`), `--database
//! /srv/app/app.db` reads CSV files from `/srv/app/data` and writes backups to
//! `/srv/app/backups`. A folder given by flag or environment is taken as given. A
//! server's store has no file: it is placed as a file `<name>/<name>.postgres` in the
//! configured store's folder would be (`var/app/data`, `var/app/backups`,
//! `var/app/migration_state.json` for the database `app`), apart from the SQLite
//! store's.

use crate::model::Settings;
use std::path::{Component, Path, PathBuf};

/// The state file's name, beside the store (or above the data folder for a server).
pub const STATE_FILE: &str = "migration_state.json";

/// Where a store's files go, every path absolute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    /// The folder CSV paths are relative to.
    pub data_dir: PathBuf,
    /// Where backups are written.
    pub backup_dir: PathBuf,
    /// The path that names the store's backups and places the state file beside it:
    /// the SQLite file, or for a server, a name in the folder above the data folder.
    pub anchor: PathBuf,
}

/// The store a run is given.
#[derive(Clone, Copy, Debug)]
pub enum Anchor<'a> {
    /// A SQLite file.
    File(&'a Path),
    /// A PostgreSQL database, by name.
    Server(&'a str),
}

impl Paths {
    /// The paths of a run against `store`: `data_dir` and `backup_dir` when given
    /// (flags, environment), else the configuration's, moved with the store.
    pub fn resolve(
        settings: &Settings,
        store: Anchor<'_>,
        data_dir: Option<PathBuf>,
        backup_dir: Option<PathBuf>,
    ) -> Paths {
        let configured_folder = Path::new(settings.database)
            .parent()
            .unwrap_or(Path::new(""));
        // A server's store has no file: it stands, by its name, in a folder of its own
        // beside the configured store, so that its folders are never a SQLite store's.
        let named;
        let file = match store {
            Anchor::File(file) => file,
            Anchor::Server(name) => {
                named = configured_folder
                    .join(name)
                    .join(format!("{name}.postgres"));
                named.as_path()
            }
        };
        let default = |configured: &str| {
            file.parent()
                .unwrap_or(Path::new(""))
                .join(relative(Path::new(configured), configured_folder))
        };
        let data_dir = absolute(&data_dir.unwrap_or_else(|| default(settings.data_dir)));
        let backup_dir = absolute(&backup_dir.unwrap_or_else(|| default(settings.backup_dir)));
        let anchor = absolute(file);
        Paths {
            data_dir,
            backup_dir,
            anchor,
        }
    }

    /// `migration_state.json`, beside the anchor.
    pub fn state_file(&self) -> PathBuf {
        self.anchor
            .parent()
            .unwrap_or(Path::new(""))
            .join(STATE_FILE)
    }
}

/// `path` made absolute from the working directory, without resolving links.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// `target` as a path from `base`, both relative to the same place (`var/data` from
/// `var` is `data`; `files` from `var` is `../files`). An absolute target stays as it is.
pub(super) fn relative(target: &Path, base: &Path) -> PathBuf {
    if target.is_absolute() {
        return target.to_path_buf();
    }
    let (target, base) = (parts(target), parts(base));
    let common = target.iter().zip(&base).take_while(|(a, b)| a == b).count();
    let mut out: PathBuf = base[common..].iter().map(|_| "..").collect();
    out.extend(&target[common..]);
    out
}

/// A path's components, `.` left out.
fn parts(path: &Path) -> Vec<Component<'_>> {
    path.components()
        .filter(|c| *c != Component::CurDir)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SETTINGS: Settings = Settings {
        migrations: "migrations",
        database: "var/semigrate.db",
        data_dir: "var/data",
        backup_dir: "var/backups",
        backup_keep: 10,
        lock_timeout: None,
        statement_timeout: None,
        lock_retries: 0,
        ignore_objects: &[],
        fleet: &[],
    };

    #[test]
    fn the_folders_move_with_the_store() {
        let p = Paths::resolve(
            &SETTINGS,
            Anchor::File(Path::new("/srv/app/app.db")),
            None,
            None,
        );
        assert_eq!(p.data_dir, Path::new("/srv/app/data"));
        assert_eq!(p.backup_dir, Path::new("/srv/app/backups"));
        assert_eq!(p.state_file(), Path::new("/srv/app/migration_state.json"));
    }

    #[test]
    fn the_default_store_keeps_the_configured_folders() {
        let p = Paths::resolve(
            &SETTINGS,
            Anchor::File(Path::new("var/semigrate.db")),
            None,
            None,
        );
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(p.data_dir, cwd.join("var/data"));
        assert_eq!(p.backup_dir, cwd.join("var/backups"));
        assert_eq!(p.anchor, cwd.join("var/semigrate.db"));
    }

    #[test]
    fn given_folders_are_taken_as_given_and_a_server_has_folders_of_its_own() {
        let p = Paths::resolve(
            &SETTINGS,
            Anchor::File(Path::new("/srv/app/app.db")),
            Some(PathBuf::from("/data/csv")),
            None,
        );
        assert_eq!(p.data_dir, Path::new("/data/csv"));
        assert_eq!(p.backup_dir, Path::new("/srv/app/backups"));
        let p = Paths::resolve(&SETTINGS, Anchor::Server("app"), None, None);
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(p.data_dir, cwd.join("var/app/data"));
        assert_eq!(p.backup_dir, cwd.join("var/app/backups"));
        assert_eq!(p.anchor, cwd.join("var/app/app.postgres"));
        assert_eq!(p.state_file(), cwd.join("var/app/migration_state.json"));
    }

    #[test]
    fn relative_paths_climb_out_of_the_base_where_they_must() {
        assert_eq!(
            relative(Path::new("var/data"), Path::new("var")),
            Path::new("data")
        );
        assert_eq!(
            relative(Path::new("files"), Path::new("var")),
            Path::new("../files")
        );
        assert_eq!(
            relative(Path::new("./a/b"), Path::new("")),
            Path::new("a/b")
        );
        assert_eq!(
            relative(Path::new("/abs"), Path::new("var")),
            Path::new("/abs")
        );
    }
}
