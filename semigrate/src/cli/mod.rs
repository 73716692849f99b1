//! The command line of any chain crate: clap definitions, the store to open, and the
//! mapping of errors to exit codes. Each command is a module with a `run` that returns
//! its output; [`main`] is the one entry a chain crate's binary calls.

mod adopt;
mod baseline;
mod fleet;
mod history;
mod import;
mod init;
mod list;
mod migrate;
mod new;
mod repair;
mod schema_at;
mod status;
mod verify;

use crate::engine::{Anchor, Options, Paths};
use crate::error::{Error, Result};
use crate::model::{Chain, Engine, Migration, SemVer};
use crate::store::Store;
use crate::store::postgres::{self, PostgresStore};
use crate::store::sqlite::SqliteStore;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Upgrade and downgrade a data store between the versions compiled into this binary.
///
/// The options of the store and of a run may go before the command, as here, or after
/// it, where each command's `--help` lists those it uses.
#[derive(Debug, Parser)]
#[command(name = "semigrate", about, max_term_width = 100)]
struct Cli {
    #[command(flatten)]
    run: RunArgs,
    /// Print machine-readable JSON (status, list, history, dry runs).
    #[arg(long, global = true, display_order = 900)]
    json: bool,
    /// Print nothing but errors.
    #[arg(
        short,
        long,
        global = true,
        conflicts_with = "verbose",
        display_order = 900
    )]
    quiet: bool,
    /// Also print each statement as it runs.
    #[arg(short, long, global = true, display_order = 900)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

/// Every option of a run that changes the store (upgrade, downgrade), and of the
/// command line before the command.
#[derive(Debug, Default, Args)]
struct RunArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    backup: BackupArgs,
    #[command(flatten)]
    wait: WaitArgs,
    #[command(flatten)]
    locks: LockArgs,
}

/// Which store, and where its files go: every command that opens one.
#[derive(Debug, Default, Args)]
struct StoreArgs {
    /// The store: a SQLite file path, or a postgres:// URL (default: the path
    /// compiled in from Cargo.toml). A password in the URL is never printed.
    #[arg(long, env = "SEMIGRATE_DATABASE", value_name = "PATH|URL")]
    database: Option<String>,
    /// PostgreSQL: the schema that holds the tables and semigrate's history
    /// (default: the first of the server's search_path).
    #[arg(long, value_name = "NAME")]
    schema: Option<String>,
    /// The folder CSV paths are relative to (default: the configured one, placed
    /// relative to the store as the configuration places it: `data/` beside the store).
    #[arg(long, env = "SEMIGRATE_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Where backups are written before a run that changes something (default: the
    /// configured one, relative to the store: `backups/` beside it).
    #[arg(long, env = "SEMIGRATE_BACKUP_DIR", value_name = "DIR")]
    backup_dir: Option<PathBuf>,
}

/// Whether a run that changes the store backs it up first.
#[derive(Debug, Default, Args)]
struct BackupArgs {
    /// Do not back up before changing the store.
    #[arg(long)]
    no_backup: bool,
}

/// How long a command that takes the store's lock waits for another run.
#[derive(Debug, Default, Args)]
struct WaitArgs {
    /// Seconds to wait for another semigrate run on the same store to finish (default
    /// 30; not PostgreSQL's lock_timeout). `--lock-timeout` is its old name.
    #[arg(
        long,
        value_name = "SECONDS",
        alias = "lock-timeout",
        value_parser = seconds
    )]
    wait: Option<u64>,
}

/// Many stores in one run: upgrade, downgrade, status and verify.
#[derive(Debug, Default, Args)]
struct FleetArgs {
    /// Run over many stores: those listed in FILE, one a line (a SQLite path or glob, a
    /// postgres:// URL, `URL schema NAME`, `URL schemas QUERY`, `include FILE`), or with
    /// no FILE those of [package.metadata.semigrate.fleet]. Each keeps its own files.
    #[arg(long, value_name = "FILE", num_args = 0..=1, display_order = 800)]
    fleet: Option<Option<PathBuf>>,
    /// With --fleet: how many stores at once (default: 8 a core for SQLite files; the
    /// cores, at most 4, when a store is on a server, and never more than its free
    /// connections).
    #[arg(
        long,
        value_name = "N",
        requires = "fleet",
        value_parser = clap::value_parser!(u16).range(1..),
        display_order = 800
    )]
    parallel: Option<u16>,
}

/// How a fleet's upgrade or downgrade proceeds.
#[derive(Debug, Default, Args)]
struct RolloutArgs {
    /// With --fleet: run the first K stores alone first, and stop if one of them fails.
    #[arg(long, value_name = "K", requires = "fleet", display_order = 801)]
    canary: Option<usize>,
    /// With --fleet: after a store fails, start no other (stop, the default), or go on
    /// with the rest (continue).
    #[arg(
        long,
        value_name = "WHAT",
        value_parser = ["stop", "continue"],
        requires = "fleet",
        display_order = 801
    )]
    on_error: Option<String>,
    /// With --fleet: write a JSON report of every store (from, to, outcome, duration,
    /// error) to FILE, atomically, as the run goes.
    #[arg(long, value_name = "FILE", requires = "fleet", display_order = 801)]
    report: Option<PathBuf>,
}

impl FleetArgs {
    /// The fleet run asked for, when --fleet is given.
    fn asked(&self, rollout: Option<&RolloutArgs>) -> Option<fleet::Fleet> {
        let file = self.fleet.as_ref()?;
        Some(fleet::Fleet {
            file: file.clone(),
            parallel: self.parallel.map(usize::from),
            canary: rollout.and_then(|r| r.canary).unwrap_or(0),
            on_error: match rollout.and_then(|r| r.on_error.as_deref()) {
                Some("continue") => crate::fleet::OnError::Continue,
                _ => crate::fleet::OnError::Stop,
            },
            report: rollout.and_then(|r| r.report.clone()),
        })
    }
}

/// PostgreSQL: how a migration waits for its locks.
#[derive(Debug, Default, Args)]
struct LockArgs {
    /// PostgreSQL: how long each migration's statements may wait for a lock
    /// (`lock_timeout`, e.g. 2s or 500ms), whatever the migration or the configuration
    /// says.
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    lock_wait: Option<String>,
    /// PostgreSQL: how many times a migration that timed out waiting for a lock is
    /// tried again (default: the configuration's `lock_retries`, 5).
    #[arg(long, value_name = "N")]
    lock_retries: Option<u32>,
}

impl StoreArgs {
    /// These, each where given, else `before`'s (given before the command).
    fn or(self, before: StoreArgs) -> StoreArgs {
        StoreArgs {
            database: self.database.or(before.database),
            schema: self.schema.or(before.schema),
            data_dir: self.data_dir.or(before.data_dir),
            backup_dir: self.backup_dir.or(before.backup_dir),
        }
    }
}

impl LockArgs {
    /// These, each where given, else `before`'s.
    fn or(self, before: LockArgs) -> LockArgs {
        LockArgs {
            lock_wait: self.lock_wait.or(before.lock_wait),
            lock_retries: self.lock_retries.or(before.lock_retries),
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply pending migrations up to a version (default: the latest).
    #[command(
        after_help = "Examples:\n  semigrate upgrade --version {latest} --dry-run\n  semigrate upgrade --atomic"
    )]
    Upgrade {
        /// The version to reach; one this binary knows.
        #[arg(long, value_name = "X.Y.Z", value_parser = SemVer::parse)]
        version: Option<SemVer>,
        /// Print the SQL that would run, in order, and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Run the whole upgrade in one transaction: all of it lands, or none.
        #[arg(long)]
        atomic: bool,
        /// Run even though the store's schema differs from the one compiled for its
        /// version (the run log records it).
        #[arg(long)]
        allow_schema_drift: bool,
        #[command(flatten)]
        run: RunArgs,
        #[command(flatten)]
        fleet: FleetArgs,
        #[command(flatten)]
        rollout: RolloutArgs,
    },
    /// Revert migrations down to a version (default: one step; 0.0.0: all of them).
    #[command(after_help = "Example:\n  semigrate downgrade --version {previous}")]
    Downgrade {
        /// The version to land on; one this binary knows, or 0.0.0.
        #[arg(long, value_name = "X.Y.Z", value_parser = SemVer::parse)]
        version: Option<SemVer>,
        /// Print the SQL that would run, in order, and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Run even though the store's schema differs from the one compiled for its
        /// version (the run log records it).
        #[arg(long)]
        allow_schema_drift: bool,
        #[command(flatten)]
        run: RunArgs,
        #[command(flatten)]
        fleet: FleetArgs,
        #[command(flatten)]
        rollout: RolloutArgs,
    },
    /// Show the store's version and the state of each migration.
    #[command(after_help = "Example:\n  semigrate status --json")]
    Status {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        fleet: FleetArgs,
    },
    /// List the migrations compiled into this binary.
    #[command(after_help = "Example:\n  semigrate list")]
    List,
    /// Run the validations of the store's current version.
    #[command(after_help = "Example:\n  semigrate verify")]
    Verify {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        fleet: FleetArgs,
    },
    /// Record a store that predates semigrate as being at a version, running nothing.
    #[command(after_help = "Example:\n  semigrate baseline --version {first}")]
    Baseline {
        /// The version the store already is at.
        #[arg(long, value_name = "X.Y.Z", value_parser = SemVer::parse)]
        version: SemVer,
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Take over a store another tool migrated: read its history table, find the
    /// version of this chain (imported from that tool) it is at, check its schema, and
    /// record semigrate's history, running nothing.
    #[command(
        after_help = "Examples:\n  semigrate adopt --from diesel --dry-run\n  semigrate adopt --from golang-migrate"
    )]
    Adopt {
        /// The tool that migrated the store until now.
        #[arg(long, value_name = "TOOL", value_parser = crate::import::Tool::parse)]
        from: crate::import::Tool,
        /// Print what the tool's history maps to, and record nothing.
        #[arg(long)]
        dry_run: bool,
        /// Record even though the store's schema differs from the one compiled for its
        /// version.
        #[arg(long)]
        allow_schema_drift: bool,
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Print the run log: every migration attempted, with its outcome.
    #[command(after_help = "Example:\n  semigrate history --json")]
    History {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Accept the edited specs of applied migrations (checksum drift), on record.
    #[command(after_help = "Example:\n  semigrate repair --accept-checksum {first}")]
    Repair {
        /// The applied versions whose compiled specs become the applied ones, accepted
        /// together or not at all: `1.0.0,1.1.0`, or the flag given again.
        #[arg(long, value_name = "X.Y.Z", value_parser = SemVer::parse, value_delimiter = ',', required = true)]
        accept_checksum: Vec<SemVer>,
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Print the schema a version has, as the build's replay saw it (SQLite), or what
    /// changes between two versions.
    #[command(
        name = "schema-at",
        after_help = "Examples:\n  semigrate schema-at {latest}\n  semigrate schema-at {previous} --diff {latest}"
    )]
    SchemaAt {
        /// The version; one this binary knows, or 0.0.0.
        #[arg(value_name = "X.Y.Z", value_parser = SemVer::parse)]
        version: SemVer,
        /// A second version: print what changes from the first to it.
        #[arg(long, value_name = "X.Y.Z", value_parser = SemVer::parse)]
        diff: Option<SemVer>,
        /// The engine whose schema to print (PostgreSQL's is compiled in when the chain
        /// was built with SEMIGRATE_VERIFY_POSTGRES_URL).
        #[arg(long, default_value = "sqlite", value_parser = ["sqlite", "postgres"])]
        engine: String,
    },
    /// Print the JSON Schema of a spec file, for editors (taplo, Even Better TOML).
    #[command(after_help = "Example:\n  semigrate schema > spec.schema.json")]
    Schema,
    /// Print the man page (roff), for man(1).
    #[command(after_help = "Example:\n  semigrate man > /usr/local/share/man/man1/semigrate.1")]
    Man,
    /// Print a completion script for a shell.
    #[command(
        after_help = "Examples:\n  semigrate completions bash > /etc/bash_completion.d/semigrate\n  semigrate completions zsh > ~/.zfunc/_semigrate"
    )]
    Completions {
        /// bash, elvish, fish, powershell or zsh.
        shell: clap_complete::Shell,
    },
    /// Write the spec of the next version from a template, commented to teach the format.
    #[command(
        after_help = "Examples:\n  semigrate new {next_minor} add_vehicles\n  semigrate new {next_patch} relabel --csv"
    )]
    New {
        /// The new version: the next patch, minor or major after the newest compiled in.
        #[arg(value_name = "X.Y.Z", value_parser = SemVer::parse)]
        version: SemVer,
        /// Words for the file name: a-z, 0-9 and _.
        slug: Option<String>,
        /// A CSV data migration rather than a SQL one.
        #[arg(long)]
        csv: bool,
        /// The SQL in files under the folder's `sql/` (`file = "sql/..."`), not inline.
        #[arg(long, conflicts_with = "csv")]
        sql_files: bool,
        /// The folder to write in (default: the migrations folder when run at the root
        /// of the source tree, else ./migrations).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Write the migrations of another tool (diesel, sqlx, golang-migrate, goose,
    /// dbmate, flyway, sql-migrate) as specs of this chain, one per migration, in
    /// that tool's order.
    #[command(
        after_help = "Examples:\n  semigrate import --from golang-migrate ../app/db/migrations --acknowledge\n  semigrate import --from diesel ../app/migrations --first 1.0.0 --step patch --dry-run"
    )]
    Import {
        /// The tool whose folder it is.
        #[arg(long, value_name = "TOOL", value_parser = crate::import::Tool::parse)]
        from: crate::import::Tool,
        /// The folder of that tool's migrations.
        source: PathBuf,
        /// The version of the first migration imported (default: the minor after the
        /// newest spec of the folder written in, 0.1.0 for an empty one).
        #[arg(long, value_name = "X.Y.Z", value_parser = SemVer::parse)]
        first: Option<SemVer>,
        /// How the versions follow one another: minor (0.1.0, 0.2.0 ...) or patch
        /// (0.1.0, 0.1.1 ...).
        #[arg(long, default_value = "minor", value_parser = ["minor", "patch"])]
        step: String,
        /// What a down that holds no statement, or only SELECTs, means under an up
        /// that does something: irreversible (the migration cannot be undone), or
        /// nothing (a down that does nothing, as the tool runs it; the proof says what
        /// it leaves).
        #[arg(long, value_name = "MEANING", default_value = "irreversible", value_parser = crate::import::EmptyDowns::parse)]
        empty_downs: crate::import::EmptyDowns,
        /// Prove the imported chain, and write in each spec what its down is known to
        /// leave (`down_leaves`), or that it fails (`irreversible`), so that it builds.
        #[arg(long)]
        acknowledge: bool,
        /// With --acknowledge: prove on this PostgreSQL server (in a scratch database)
        /// rather than on SQLite.
        #[arg(long, value_name = "URL", requires = "acknowledge")]
        proof_url: Option<String>,
        /// Put the SQL in the specs rather than in files under the folder's `sql/`.
        #[arg(long)]
        inline: bool,
        /// The folder to write in (default: as `new`).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Print the mapping of versions, and write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Write a new chain crate: a binary with every command of this one, for the
    /// migrations of your own project.
    #[command(
        after_help = "Example:\n  semigrate init ../app-migrations --path . && cd ../app-migrations && cargo run -- upgrade"
    )]
    Init {
        /// The folder to create; it must be empty or not exist.
        dir: PathBuf,
        /// The crate's name, which is also its binary's (default: the folder's name).
        #[arg(long)]
        name: Option<String>,
        /// The semigrate checkout the crate depends on (required until semigrate is
        /// published on crates.io).
        #[arg(long, value_name = "SEMIGRATE")]
        path: Option<PathBuf>,
        /// Start the chain from another tool's migrations (`diesel:../app/migrations`):
        /// what `import --from TOOL DIR` does, in place of the first spec.
        #[arg(long, value_name = "TOOL:DIR", value_parser = tool_and_dir)]
        import: Option<(crate::import::Tool, PathBuf)>,
        /// With --import: prove the imported chain and acknowledge what its downs
        /// leave, as `import --acknowledge` does.
        #[arg(long, requires = "import")]
        acknowledge: bool,
        /// With --acknowledge: prove on this PostgreSQL server rather than on SQLite.
        #[arg(long, value_name = "URL", requires = "acknowledge")]
        proof_url: Option<String>,
        /// With --import: what an empty down means, as `import --empty-downs`.
        #[arg(long, value_name = "MEANING", default_value = "irreversible", value_parser = crate::import::EmptyDowns::parse, requires = "import")]
        empty_downs: crate::import::EmptyDowns,
    },
}

/// `diesel:../app/migrations`: a tool `import` knows, and a folder.
fn tool_and_dir(value: &str) -> std::result::Result<(crate::import::Tool, PathBuf), String> {
    let (tool, dir) = value
        .split_once(':')
        .ok_or_else(|| format!("`{value}` is not TOOL:DIR, as diesel:../app/migrations"))?;
    Ok((crate::import::Tool::parse(tool)?, PathBuf::from(dir)))
}

impl Command {
    /// The store and run options given after the command (none for a command that
    /// opens no store), taken out of it.
    fn run_options(&mut self) -> RunArgs {
        match self {
            Command::Upgrade { run, .. } | Command::Downgrade { run, .. } => std::mem::take(run),
            Command::Baseline { store, wait, .. }
            | Command::Repair { store, wait, .. }
            | Command::Adopt { store, wait, .. } => RunArgs {
                store: std::mem::take(store),
                wait: std::mem::take(wait),
                ..RunArgs::default()
            },
            Command::Status { store, .. }
            | Command::Verify { store, .. }
            | Command::History { store } => RunArgs {
                store: std::mem::take(store),
                ..RunArgs::default()
            },
            _ => RunArgs::default(),
        }
    }
}

/// What every command needs to know about where it works and how to speak.
#[derive(Clone)]
pub(crate) struct Invocation {
    /// The chain compiled into this binary.
    pub chain: &'static Chain,
    /// `--database`: a SQLite path or a postgres:// URL.
    pub database: String,
    /// `--schema`: PostgreSQL only.
    pub schema: Option<String>,
    /// `--data-dir`, when given.
    pub data_dir: Option<PathBuf>,
    /// `--backup-dir`, when given.
    pub backup_dir: Option<PathBuf>,
    /// `--no-backup`.
    pub no_backup: bool,
    /// How long to wait for another run's lock.
    pub lock_timeout: std::time::Duration,
    /// `--lock-wait`: PostgreSQL's lock timeout for every migration.
    pub lock_wait: Option<String>,
    /// `--lock-retries`.
    pub lock_retries: Option<u32>,
    /// `--json`: machine-readable output.
    pub json: bool,
    /// `-q`: errors only.
    pub quiet: bool,
    /// `-v`: every statement as it runs.
    pub verbose: bool,
}

impl Invocation {
    /// The migrations compiled into this binary.
    pub fn migrations(&self) -> &'static [Migration] {
        self.chain.migrations
    }

    /// This invocation on one store of a fleet: that store, with its own files placed
    /// by the configuration's rule, and without a word of its own.
    pub fn at(&self, target: &crate::fleet::Target) -> Invocation {
        let (database, schema) = match target {
            crate::fleet::Target::File(path) => (path.display().to_string(), None),
            crate::fleet::Target::Server(on) => (on.url.clone(), on.schema.clone()),
        };
        Invocation {
            database,
            schema,
            data_dir: None,
            backup_dir: None,
            quiet: true,
            verbose: false,
            ..self.clone()
        }
    }

    /// Opens the store for a run that may write: a SQLite file, created with its
    /// folder when missing only by the commands that make a store (`upgrade`,
    /// `baseline`: `creates`), or a PostgreSQL database.
    pub fn open(&self, creates: bool) -> Result<Box<dyn Store>> {
        Ok(match self.location()? {
            Location::File(path) if creates => Box::new(SqliteStore::open(&path)?),
            Location::File(path) => Box::new(SqliteStore::open_existing(&path)?),
            Location::Server(url) => Box::new(PostgresStore::open_for(
                self.migrations(),
                &url,
                self.schema.as_deref(),
            )?),
        })
    }

    /// Refuses a SQLite store whose file does not exist, creating nothing.
    pub fn refuse_missing(&self) -> Result<()> {
        match self.location()? {
            Location::File(path) if !path.exists() => SqliteStore::open_existing(&path).map(drop),
            _ => Ok(()),
        }
    }

    /// Opens the store to read; a missing SQLite file reads as empty and is not created.
    pub fn open_read_only(&self) -> Result<Box<dyn Store>> {
        Ok(match self.location()? {
            Location::File(path) => Box::new(SqliteStore::open_read_only(&path)?),
            Location::Server(url) => Box::new(PostgresStore::open_for(
                self.migrations(),
                &url,
                self.schema.as_deref(),
            )?),
        })
    }

    fn location(&self) -> Result<Location> {
        if is_url(&self.database) {
            return Ok(Location::Server(self.database.clone()));
        }
        if self.schema.is_some() {
            return Err(Error::Usage(
                "--schema is for PostgreSQL stores; a SQLite file has no schemas".into(),
            ));
        }
        if self.database.is_empty() {
            return Err(Error::Usage("--database is empty".into()));
        }
        Ok(Location::File(PathBuf::from(&self.database)))
    }

    /// Where the store's files go (see `engine::paths` for the rule).
    pub fn paths(&self) -> Result<Paths> {
        Ok(match self.location()? {
            Location::File(path) => self.paths_for(Anchor::File(&path)),
            Location::Server(url) => {
                let name = postgres::store_name(&url, self.schema.as_deref());
                self.paths_for(Anchor::Server(&name))
            }
        })
    }

    fn paths_for(&self, anchor: Anchor<'_>) -> Paths {
        Paths::resolve(
            &self.chain.settings,
            anchor,
            self.data_dir.clone(),
            self.backup_dir.clone(),
        )
    }

    /// Says so when the SQLite store's file does not exist yet, and returns the line:
    /// `status` and `history` then read it as empty, `verify` refuses, and none of them
    /// creates it.
    pub fn missing_store(&self) -> Option<String> {
        match self.location() {
            Ok(Location::File(path)) if !path.exists() => {
                let path = std::path::absolute(&path).unwrap_or(path);
                let line = format!("no store at {} yet", path.display());
                self.say(&line);
                Some(line)
            }
            _ => None,
        }
    }

    /// The engine's options for this run: the configuration's, narrowed by the flags.
    pub fn options(&self) -> Result<Options> {
        let settings = &self.chain.settings;
        let mut options = Options::configured(settings, self.paths()?);
        options.lock_timeout = self.lock_timeout;
        if self.no_backup {
            options.backup_keep = None;
        }
        options.patience.lock_override = self.lock_wait.clone();
        options.patience.retries = self.lock_retries.unwrap_or(settings.lock_retries);
        Ok(options)
    }

    /// A line of progress on stderr, unless `-q`.
    /// A write that fails (a reader gone, `2>&1 | head`) is dropped: progress lines
    /// must never stop a run halfway.
    pub fn say(&self, line: impl AsRef<str>) {
        if !self.quiet {
            let _ = writeln!(std::io::stderr(), "{}", line.as_ref());
        }
    }
}

/// Milliseconds as `upgrade` and `history` show them: `<1` for a migration that took
/// less than one.
fn millis(ms: u128) -> String {
    match ms {
        0 => "<1".to_owned(),
        n => n.to_string(),
    }
}

/// Whether `--database` names a PostgreSQL server rather than a file.
fn is_url(database: &str) -> bool {
    database.starts_with("postgres://") || database.starts_with("postgresql://")
}

/// Where a store lives.
enum Location {
    File(PathBuf),
    /// A postgres:// URL.
    Server(String),
}

/// What `--json` prints: one document on one line, as `cargo metadata` prints it, for
/// a program to read (`jq` shows it to a person). Indenting the 1,000 entries of a long
/// chain's `status` cost a fifth of its serialization (0.8 M instructions of 4.7 M).
fn json(value: &impl serde::Serialize) -> String {
    // Room for a large output from the start: untouched capacity costs nothing (the
    // allocator maps it, the kernel backs only pages written), and growing by
    // doubling would copy `status`'s 190 KB at 1,000 migrations over and over.
    let mut out = Vec::with_capacity(1 << 20);
    serde_json::to_writer(&mut out, value).expect("serializes");
    out.push(b'\n');
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// The versions nearest to `v` among those of `chain`, for an error message.
fn nearest(versions: &[SemVer], v: SemVer) -> String {
    let below = versions.iter().rev().copied().find(|k| *k < v);
    let above = versions.iter().copied().find(|k| *k > v);
    let near: Vec<String> = below
        .into_iter()
        .chain(above)
        .map(|k| k.to_string())
        .collect();
    match near.len() {
        0 => "this binary knows no version".into(),
        _ => format!("the nearest known: {}", near.join(", ")),
    }
}

/// Whole seconds, bare or with PostgreSQL's unit (`30`, `30s`), so that `--wait` takes
/// what `--lock-wait` takes in seconds.
fn seconds(text: &str) -> std::result::Result<u64, String> {
    text.strip_suffix('s')
        .unwrap_or(text)
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds, as 30 or 30s"))
}

/// A duration as PostgreSQL's settings read it (`500ms`, `2s`, `1min`).
fn duration(text: &str) -> std::result::Result<String, String> {
    match crate::model::Timeouts::is_duration(text) {
        true => Ok(text.to_owned()),
        false => Err(format!(
            "`{text}` is not a duration: a number and a unit, as 500ms or 2s"
        )),
    }
}

/// A version of `chain`, or, with `zero`, 0.0.0 (the empty store).
fn known_version(
    versions: &'static [SemVer],
    zero: bool,
) -> impl Fn(&str) -> std::result::Result<SemVer, String> + Clone + Send + Sync + 'static {
    move |text| {
        let v = SemVer::parse(text)?;
        if (zero && v == SemVer::ZERO) || versions.contains(&v) {
            Ok(v)
        } else {
            Err(format!(
                "this binary has no migration {v}; {}",
                nearest(versions, v)
            ))
        }
    }
}

/// A command's examples for this chain's binary: its name, and versions it has, so
/// that each example runs as printed (`{latest}`, `{previous}`: the one below it or
/// 0.0.0, `{first}`, and the `{next_minor}` and `{next_patch}` a new spec may take).
fn examples(help: &str, name: &str, versions: &[SemVer]) -> String {
    let latest = versions.last().copied().unwrap_or(SemVer::ZERO);
    let previous = versions
        .iter()
        .rev()
        .nth(1)
        .copied()
        .unwrap_or(SemVer::ZERO);
    let first = versions.first().copied().unwrap_or(SemVer::ZERO);
    let [next_patch, next_minor, _] = latest.successors();
    help.replace("semigrate ", &format!("{name} "))
        .replace("{latest}", &latest.to_string())
        .replace("{previous}", &previous.to_string())
        .replace("{first}", &first.to_string())
        .replace("{next_minor}", &next_minor.to_string())
        .replace("{next_patch}", &next_patch.to_string())
}

/// What `--version` and the man page say: the chain's version, then which chain and
/// which semigrate (`2.2.0 (chain accidents, semigrate 3.0.0)`).
fn version(chain: &Chain) -> &'static str {
    // Once per process, for clap, which keeps it to the end.
    format!(
        "{} (chain {}, semigrate {})",
        chain.version,
        chain.package,
        env!("CARGO_PKG_VERSION")
    )
    .leak()
}

/// The clap command for `chain`'s binary: its name in the usage lines, the examples,
/// completions and the man page; its version; its versions as the only ones `--version`
/// and `--accept-checksum` take.
fn command(chain: &'static Chain) -> clap::Command {
    let name = chain.name;
    let versions = chain.migrations.versions();
    Cli::command()
        .name(name)
        .bin_name(name)
        .version(version(chain))
        .mut_subcommand("upgrade", |c| {
            c.mut_arg("version", |a| {
                a.value_parser(known_version(versions, false))
            })
        })
        .mut_subcommand("downgrade", |c| {
            c.mut_arg("version", |a| a.value_parser(known_version(versions, true)))
        })
        .mut_subcommand("baseline", |c| {
            c.mut_arg("version", |a| {
                a.value_parser(known_version(versions, false))
            })
        })
        .mut_subcommand("schema-at", |c| {
            c.mut_arg("version", |a| a.value_parser(known_version(versions, true)))
                .mut_arg("diff", |a| a.value_parser(known_version(versions, true)))
        })
        .mut_subcommand("repair", |c| {
            c.mut_arg("accept_checksum", |a| {
                a.value_parser(known_version(versions, false))
            })
        })
        .mut_subcommands(|c| match c.get_after_help().map(ToString::to_string) {
            Some(help) => c.after_help(examples(&help, name, versions)),
            None => c,
        })
}

/// Parses the arguments, runs the command against `chain`, prints its output, and
/// returns the exit code: a chain crate's `main` is this one call. Only this function
/// turns errors into exit codes.
pub fn main(chain: &'static Chain) -> ExitCode {
    sqlite_without_memory_statistics();
    ExitCode::from(exit_code(chain))
}

/// SQLite counts every allocation under one process-wide mutex, for statistics
/// semigrate never reads: a fleet's workers queued on it (a fifth of `status --fleet`'s
/// time on 2 cores). Off for the whole process; SQLite takes it only before its first
/// use, which `main` comes before.
fn sqlite_without_memory_statistics() {
    // SAFETY: SQLITE_CONFIG_MEMSTATUS takes one int; no connection is open yet (a
    // call after SQLite started only returns SQLITE_MISUSE, and changes nothing).
    let _ = unsafe {
        rusqlite::ffi::sqlite3_config(rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS, 0 as std::ffi::c_int)
    };
}

fn exit_code(chain: &'static Chain) -> u8 {
    let parsed = command(chain)
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m));
    let mut cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return u8::try_from(e.exit_code()).unwrap_or(2);
        }
    };
    let settings = &chain.settings;
    let after = cli.command.run_options();
    let before = cli.run;
    let store = after.store.or(before.store);
    let locks = after.locks.or(before.locks);
    let fleet = match &cli.command {
        Command::Upgrade { fleet, rollout, .. } | Command::Downgrade { fleet, rollout, .. } => {
            fleet.asked(Some(rollout))
        }
        Command::Status { fleet, .. } | Command::Verify { fleet, .. } => fleet.asked(None),
        _ => None,
    };
    // Each store of a fleet has its own files, where the configuration places them.
    let one_store = [
        (store.database.is_some(), "--database"),
        (store.schema.is_some(), "--schema"),
        (store.data_dir.is_some(), "--data-dir"),
        (store.backup_dir.is_some(), "--backup-dir"),
    ]
    .into_iter()
    .find_map(|(given, flag)| given.then_some(flag));
    let fleet_args = match (&fleet, one_store) {
        (Some(_), Some(flag)) => Err(Error::Usage(format!(
            "{flag} names one store's place, and --fleet runs over many, each with its own \
             files where the configuration places them: leave {flag} (or its environment \
             variable) out"
        ))),
        _ => Ok(()),
    };
    let context = Invocation {
        chain,
        database: store
            .database
            .unwrap_or_else(|| settings.database.to_owned()),
        schema: store.schema,
        data_dir: store.data_dir,
        backup_dir: store.backup_dir,
        no_backup: after.backup.no_backup || before.backup.no_backup,
        lock_timeout: std::time::Duration::from_secs(
            after.wait.wait.or(before.wait.wait).unwrap_or(30),
        ),
        lock_wait: locks.lock_wait,
        lock_retries: locks.lock_retries,
        json: cli.json,
        quiet: cli.quiet,
        verbose: cli.verbose,
    };
    let json = context.json;
    // The CSV settings are read where the files are, deep in a run: a bad one is told
    // before anything starts (a lock, a backup).
    let reads_csv = matches!(
        cli.command,
        Command::Upgrade { .. } | Command::Downgrade { .. } | Command::Verify { .. }
    );
    let csv_settings = match reads_csv {
        true => crate::data::stream::Split::from_env()
            .map(drop)
            .map_err(Error::Usage),
        false => Ok(()),
    };
    let output = csv_settings
        .and(fleet_args)
        .and_then(|()| match cli.command {
            Command::Upgrade {
                version,
                dry_run,
                atomic,
                allow_schema_drift,
                ..
            } => match &fleet {
                None => migrate::upgrade(&context, version, dry_run, atomic, allow_schema_drift),
                Some(fleet) => fleet::migrate(
                    &context,
                    &crate::engine::Request {
                        direction: crate::engine::Direction::Up,
                        target: version,
                        atomic,
                        allow_schema_drift,
                    },
                    fleet,
                    dry_run,
                ),
            },
            Command::Downgrade {
                version,
                dry_run,
                allow_schema_drift,
                ..
            } => match &fleet {
                None => migrate::downgrade(&context, version, dry_run, allow_schema_drift),
                Some(fleet) => fleet::migrate(
                    &context,
                    &crate::engine::Request {
                        direction: crate::engine::Direction::Down,
                        target: version,
                        atomic: false,
                        allow_schema_drift,
                    },
                    fleet,
                    dry_run,
                ),
            },
            Command::Status { .. } => match &fleet {
                None => status::run(&context),
                Some(fleet) => fleet::status(&context, fleet),
            },
            Command::List => list::run(&context),
            Command::Verify { .. } => match &fleet {
                None => verify::run(&context),
                Some(fleet) => fleet::verify(&context, fleet),
            },
            Command::Baseline { version, .. } => baseline::run(&context, version),
            Command::History { .. } => history::run(&context),
            Command::Adopt {
                from,
                dry_run,
                allow_schema_drift,
                ..
            } => adopt::run(&context, from, dry_run, allow_schema_drift),
            Command::Repair {
                accept_checksum, ..
            } => repair::run(&context, &accept_checksum),
            Command::Schema => Ok(crate::spec_file::SCHEMA.to_owned()),
            Command::SchemaAt {
                version,
                diff,
                engine,
            } => {
                let engine = match engine.as_str() {
                    "postgres" => Engine::Postgres,
                    _ => Engine::Sqlite,
                };
                schema_at::run(&context, version, diff, engine)
            }
            Command::Man => {
                let mut page = Vec::new();
                clap_mangen::Man::new(command(chain))
                    .render(&mut page)
                    .expect("rendering into memory does not fail");
                Ok(String::from_utf8_lossy(&page).into_owned())
            }
            Command::Completions { shell } => {
                let mut script = Vec::new();
                clap_complete::generate(shell, &mut command(chain), chain.name, &mut script);
                Ok(String::from_utf8_lossy(&script).into_owned())
            }
            Command::New {
                version,
                slug,
                csv,
                sql_files,
                dir,
            } => new::run(
                &context,
                version,
                slug.as_deref(),
                csv,
                sql_files,
                dir.as_deref(),
            ),
            Command::Import {
                from,
                source,
                first,
                step,
                empty_downs,
                acknowledge,
                proof_url,
                inline,
                dir,
                dry_run,
            } => import::run(
                &context,
                &import::Request {
                    tool: from,
                    source,
                    first,
                    stride: match step.as_str() {
                        "patch" => crate::import::Stride::Patch,
                        _ => crate::import::Stride::Minor,
                    },
                    empty_downs,
                    acknowledge,
                    proof_url,
                    inline,
                    dir,
                    dry_run,
                },
            ),
            Command::Init {
                dir,
                name,
                path,
                import,
                acknowledge,
                proof_url,
                empty_downs,
            } => {
                let import = import.map(|(tool, source)| import::Request {
                    tool,
                    source,
                    first: None,
                    stride: crate::import::Stride::Minor,
                    empty_downs,
                    acknowledge,
                    proof_url,
                    inline: false,
                    dir: None,
                    dry_run: false,
                });
                init::run(
                    &context,
                    &dir,
                    name.as_deref(),
                    path.as_deref(),
                    import.as_ref(),
                )
            }
        });
    match output {
        Ok(text) => {
            // Colour goes out only to a terminal, and never under NO_COLOR; JSON has
            // none, and goes out as it is, unscanned.
            let written = match json {
                true => {
                    let mut stdout = std::io::stdout().lock();
                    stdout
                        .write_all(text.as_bytes())
                        .and_then(|()| stdout.flush())
                }
                false => {
                    let mut stdout = anstream::stdout().lock();
                    stdout
                        .write_all(text.as_bytes())
                        .and_then(|()| stdout.flush())
                }
            };
            match written {
                // A reader that stops early (`| head`) is not an error.
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    eprintln!("error: cannot write the output: {e}");
                    1
                }
                _ => 0,
            }
        }
        Err(e) => {
            if let Error::Fleet { output, .. } = &e {
                let mut stdout = std::io::stdout().lock();
                let _ = stdout
                    .write_all(output.as_bytes())
                    .and_then(|()| stdout.flush());
            }
            let red = anstyle::AnsiColor::Red.on_default().bold();
            anstream::eprintln!("{red}error:{red:#} {e}");
            u8::try_from(e.exit_code()).unwrap_or(1)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_url_names_a_server_and_anything_else_a_file() {
        assert!(super::is_url("postgresql://h/db") && super::is_url("postgres://h"));
        assert!(!super::is_url("var/app.db") && !super::is_url("postgres.db"));
    }
}
