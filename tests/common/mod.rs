//! What the integration tests share: a temp folder with a store path, and a way to
//! run a semigrate binary there with a clean environment.

#![allow(dead_code)]

use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Sandbox {
    pub dir: tempfile::TempDir,
    pub binary: PathBuf,
}

/// What a run printed and how it ended.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Sandbox {
    /// A sandbox for the binary built from this crate's own `migrations/`.
    pub fn new() -> Sandbox {
        Sandbox::with_binary(PathBuf::from(env!("CARGO_BIN_EXE_semigrate")))
    }

    pub fn with_binary(binary: PathBuf) -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().unwrap(),
            binary,
        }
    }

    pub fn db(&self) -> PathBuf {
        // Its data and backup folders are then var/data and var/backups, as with the
        // compiled default store.
        self.dir.path().join("var").join("app.db")
    }

    /// Runs the binary in the sandbox against `db()`.
    pub fn run(&self, args: &[&str]) -> Run {
        let db = self.db();
        let mut all = vec!["--database", db.to_str().unwrap()];
        all.extend_from_slice(args);
        self.run_raw(&all)
    }

    /// Starts the binary against `db()`, its output discarded: for the tests that
    /// kill it mid-run.
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        self.command()
            .args(["--database", self.db().to_str().unwrap()])
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    }

    /// Runs the binary in the sandbox with exactly these arguments.
    pub fn run_raw(&self, args: &[&str]) -> Run {
        self.command().args(args).output().unwrap().into()
    }

    pub fn command(&self) -> Command {
        command(&self.binary, self.dir.path())
    }

    /// Runs `args` against `db()` with the named fault point armed (a build with
    /// `fault-injection`), and requires the run to crash there.
    pub fn crash(&self, args: &[&str], point: &str) {
        self.crash_on(self.db().to_str().unwrap(), args, point);
    }

    /// `crash`, against the store `database` (a path or a URL).
    pub fn crash_on(&self, database: &str, args: &[&str], point: &str) {
        let crashed = self
            .command()
            .args(["--database", database])
            .args(args)
            .env("SEMIGRATE_FAULT", point)
            .output()
            .unwrap();
        assert!(!crashed.status.success(), "{point} {args:?} did not crash");
    }

    /// Runs and requires success.
    pub fn ok(&self, args: &[&str]) -> Run {
        let r = self.run(args);
        assert_eq!(
            r.code, 0,
            "semigrate {args:?} failed:\n{}{}",
            r.stdout, r.stderr
        );
        r
    }

    pub fn status(&self) -> serde_json::Value {
        serde_json::from_str(&self.ok(&["--json", "status"]).stdout).unwrap()
    }

    pub fn current(&self) -> String {
        self.status()["current"].as_str().unwrap().to_owned()
    }

    pub fn conn(&self) -> Connection {
        Connection::open(self.db()).unwrap()
    }

    pub fn bytes(&self) -> Vec<u8> {
        std::fs::read(self.db()).unwrap()
    }
}

/// A run of `binary` in `cwd`, with none of the caller's semigrate settings and no
/// colour. CSV files are cut into pieces of a few records, on more threads than a small
/// machine has cores, so that every CSV test runs the parallel transform across many
/// cuts (the library's own tests compare each cut with the single-thread pass).
pub fn command(binary: &Path, cwd: &Path) -> Command {
    let mut c = Command::new(binary);
    c.current_dir(cwd)
        .env_remove("SEMIGRATE_DATABASE")
        .env_remove("SEMIGRATE_DATA_DIR")
        .env_remove("SEMIGRATE_BACKUP_DIR")
        .env("SEMIGRATE_CSV_THREADS", "3")
        .env("SEMIGRATE_CSV_PIECE", "64")
        .env("NO_COLOR", "1");
    c
}

/// The user's objects of a store (semigrate's own tables left out), for comparison.
pub fn user_schema(db: &Path) -> Vec<(String, String)> {
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT type, name FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' \
             AND name NOT LIKE 'semigrate_%' ORDER BY type, name",
        )
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

pub fn columns(conn: &Connection, table: &str) -> Vec<(String, String)> {
    let mut stmt = conn
        .prepare("SELECT name, type FROM pragma_table_info(?1) ORDER BY cid")
        .unwrap();
    stmt.query_map([table], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

pub fn history(conn: &Connection) -> Vec<String> {
    let mut stmt = conn
        .prepare("SELECT version FROM semigrate_migrations")
        .unwrap();
    let mut v: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    v.sort_by_key(|s| semigrate::__private::SemVer::parse(s).unwrap());
    v
}

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The folder fixture builds put their binaries in (target/fixture-builds), and the
/// lock that keeps them one at a time across test binaries, held while this lives.
pub struct FixtureBuilds {
    pub target: PathBuf,
    _lock: std::fs::File,
}

impl FixtureBuilds {
    pub fn take() -> FixtureBuilds {
        let target = suite_target().join("fixture-builds");
        std::fs::create_dir_all(&target).unwrap();
        let lock = std::fs::File::create(target.join("semigrate-tests.lock")).unwrap();
        lock.lock().unwrap();
        FixtureBuilds {
            target,
            _lock: lock,
        }
    }

    /// `cargo` for a fixture build: its binaries go to the fixture folder, apart from
    /// the suite's own, while what it compiles stays in the suite's target folder
    /// (cargo's build-dir), so that the dependencies the suite's build compiled serve
    /// it rather than being compiled again. No chain or server of the suite's run.
    pub fn cargo(&self) -> Command {
        let mut cargo = Command::new(env!("CARGO"));
        cargo
            .env("CARGO_TARGET_DIR", &self.target)
            .env("CARGO_BUILD_BUILD_DIR", suite_target())
            .env_remove("SEMIGRATE_MIGRATIONS_DIR")
            .env_remove("SEMIGRATE_VERIFY_POSTGRES_URL");
        cargo
    }
}

/// The target folder the suite was built in.
fn suite_target() -> &'static Path {
    Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap()
}

/// What building the crate with another chain or other features gave.
pub struct Build {
    pub ok: bool,
    pub output: String,
    /// A copy of the built binary, safe from the next build.
    pub binary: Option<(tempfile::TempDir, PathBuf)>,
}

/// Builds the binary with the chain of `chain` (default: migrations/) and `features`,
/// as a fixture build (`FixtureBuilds`): one at a time across test binaries, on what the
/// suite's build compiled.
pub fn build(chain: Option<&Path>, features: &[&str]) -> Build {
    build_with(chain, features, None)
}

/// `build`, with the PostgreSQL replay on the server at `url`: the chain's locks
/// measured and compiled in.
pub fn build_on_server(chain: &Path, url: &str) -> Build {
    build_with(Some(chain), &[], Some(url))
}

fn build_with(chain: Option<&Path>, features: &[&str], postgres: Option<&str>) -> Build {
    let builds = FixtureBuilds::take();
    let target = &builds.target;
    let mut cargo = builds.cargo();
    cargo
        .args(["build", "--bin", "semigrate", "--color", "never"])
        .current_dir(root());
    if !features.is_empty() {
        cargo.args(["--features", &features.join(",")]);
    }
    if let Some(chain) = chain {
        cargo.env("SEMIGRATE_MIGRATIONS_DIR", chain);
    }
    if let Some(url) = postgres {
        cargo.env("SEMIGRATE_VERIFY_POSTGRES_URL", url);
    }
    let out = cargo.output().unwrap();
    let binary = out.status.success().then(|| {
        let keep = tempfile::tempdir().unwrap();
        let copy = keep.path().join("semigrate");
        std::fs::copy(target.join("debug").join("semigrate"), &copy).unwrap();
        (keep, copy)
    });
    Build {
        ok: out.status.success(),
        output: String::from_utf8_lossy(&out.stderr).into_owned(),
        binary,
    }
}

/// `upgrade` and `downgrade` both refuse a drifted store with exit 3, naming the
/// version, and change nothing.
pub fn assert_refused_for_drift(s: &Sandbox, version: &str) {
    let before = s.bytes();
    for args in [&["upgrade"][..], &["downgrade"]] {
        let r = s.run(args);
        assert_eq!(r.code, 3, "{args:?}: {}", r.stderr);
        let named = format!("the spec of {version} changed after it was applied");
        assert!(r.stderr.contains(&named), "{}", r.stderr);
    }
    assert_eq!(s.bytes(), before);
}

/// Writes a usager whose accident does not exist, behind semigrate's back and with
/// enforcement off: the example chain's 2.0.0 foreign key check must catch it.
pub fn plant_orphan_usager(s: &Sandbox) {
    s.conn()
        .execute_batch(
            "PRAGMA foreign_keys = OFF; \
             INSERT INTO usagers (Num_Acc, catu, grav) VALUES ('209900000000', 1, 1);",
        )
        .unwrap();
}

pub fn csv_path(s: &Sandbox) -> PathBuf {
    s.dir.path().join("var/data/accidents.csv")
}

/// Every file in the data folder: a run must leave no temp file behind.
pub fn data_files(s: &Sandbox) -> Vec<String> {
    let dir = s.dir.path().join("var/data");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                // The marker that binds the folder to its store (its temps still show).
                .filter(|name| name != ".semigrate-store")
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// What a store and its data folder hold, to compare a crashed-then-rerun store with
/// a clean one.
#[derive(Debug, PartialEq)]
pub struct State {
    pub history: Vec<String>,
    pub schema: Vec<(String, String)>,
    pub csv: Option<Vec<u8>>,
    pub files: Vec<String>,
    /// The files beside the database: the state file, the lock, and no temp file.
    pub store_files: Vec<String>,
    pub state_file: serde_json::Value,
}

pub fn state(s: &Sandbox) -> State {
    State {
        history: history(&s.conn()),
        schema: user_schema(&s.db()),
        csv: std::fs::read(csv_path(s)).ok(),
        files: data_files(s),
        store_files: {
            let mut names: Vec<String> = std::fs::read_dir(s.db().parent().unwrap())
                .unwrap()
                .flatten()
                .filter(|e| e.path().is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        },
        state_file: {
            let mut v: serde_json::Value = serde_json::from_slice(
                &std::fs::read(s.db().with_file_name("migration_state.json")).unwrap(),
            )
            .unwrap();
            // Times differ from run to run; what the file says of the store must not.
            for m in v["migrations"].as_array_mut().unwrap() {
                m["applied_at"] = serde_json::Value::Null;
            }
            v["database"] = serde_json::Value::Null;
            v["backup"] = serde_json::Value::Null;
            v["paths"] = serde_json::Value::Null;
            v
        },
    }
}

/// Every crash point of `src/fault.rs`, in the order a run meets them.
pub const FAULT_POINTS: [&str; 7] = [
    "before-begin",
    "after-step",
    "before-commit",
    "after-commit",
    "between-swaps",
    "after-swaps",
    "state-file",
];

/// The rows of a CSV file, as values, whatever its dialect.
pub fn csv_values(file: &Path, delimiter: u8) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .from_path(file)
        .unwrap()
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

/// A 10 MB cell of quotes, delimiters and line breaks.
fn big_cell() -> String {
    "é\"x;\n".repeat(2_000_000)
}

/// Hostile text for the `good_load` fixture's people.csv: quotes, the delimiter, line
/// breaks, CRLF line ends, a BOM before the header, an empty cell, a 10 MB cell.
pub fn write_hostile_people(data: &Path) {
    let hostile = format!(
        "\u{feff}id;name;age\r\n1;\"a \"\"quoted\"\"; name\";1\r\n2;\"two\r\nlines\";2\r\n3;\"{}\";3\r\n4;plain;\"\"\r\n",
        big_cell().replace('"', "\"\"")
    );
    std::fs::write(data.join("people.csv"), hostile).unwrap();
}

/// Once loaded and exported, every value is what the file had (the BOM is not part of
/// the header's first name).
pub fn assert_hostile_people_exported(data: &Path) {
    let mut expected = csv_values(&data.join("people.csv"), b';');
    expected[0][0] = "id".into();
    let got = csv_values(&data.join("export/people.csv"), b',');
    assert_eq!(got.len(), expected.len());
    for (g, e) in got.iter().zip(&expected) {
        assert!(
            g == e,
            "a row changed on its way: {g:.80?} against {e:.80?}"
        );
    }
    assert_eq!(got[3][1].len(), big_cell().len());
}

/// The library's version, as its manifest gives it: what `--version` names.
pub fn semigrate_version() -> String {
    let manifest = std::fs::read_to_string(root().join("semigrate/Cargo.toml")).unwrap();
    let manifest: toml::Value = toml::from_str(&manifest).unwrap();
    manifest["package"]["version"].as_str().unwrap().to_owned()
}
