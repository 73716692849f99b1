//! The build half of the library (the `build` feature): a chain crate's build script
//! proves its chain and writes the table its binary includes, as prost-build is used.
//!
//! ```no_run
//! // build.rs
//! fn main() {
//!     if semigrate::build::compile().is_err() {
//!         std::process::exit(1);
//!     }
//! }
//! ```
//!
//! The specs are read from the folder that `migrations` names in the crate's
//! `[package.metadata.semigrate]` (default `migrations/`), or from
//! `SEMIGRATE_MIGRATIONS_DIR` when it is set.

pub(crate) mod chain;
pub(crate) mod codegen;
pub(crate) mod config;
pub(crate) mod diagnostic;
pub(crate) mod flow;
pub(crate) mod replay;
pub(crate) mod spec;

use crate::model::{Check, CsvOp, Engine, Migration, SemVer, Step};
pub use config::{Config, Gaps};
pub use diagnostic::Diagnostic;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Proves the calling crate's chain with the settings of its
/// `[package.metadata.semigrate]`, then writes `OUT_DIR/migrations.rs`. Every error goes
/// to cargo as a `cargo::error` line (and, rendered as rustc shows errors, to stderr);
/// the result says how many there were.
pub fn compile() -> Result<PathBuf, usize> {
    generate()
}

/// Proves the chain in `dir` without writing anything: the specs parsed, the chain
/// rules, and the replay on SQLite (and on PostgreSQL when `postgres` is a server's
/// URL). Returns the migrations as the table would hold them, or every error found.
pub fn prove(
    dir: &Path,
    config: &Config,
    package: SemVer,
    postgres: Option<&str>,
) -> Result<Vec<crate::model::Migration>, Vec<Diagnostic>> {
    crate::build::spec::prove(dir, config, package, postgres)
}

fn generate() -> Result<PathBuf, usize> {
    // Cargo runs build scripts in the manifest's folder: relative paths read well in
    // errors.
    let manifest = Path::new("Cargo.toml");
    println!("cargo::rerun-if-changed=Cargo.toml");
    for var in [
        "SEMIGRATE_MIGRATIONS_DIR",
        "SEMIGRATE_BUILD_TIMING",
        "SEMIGRATE_VERIFY_POSTGRES_URL",
    ] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    let mut config = std::fs::read_to_string(manifest)
        .map_err(|e| Diagnostic::file(manifest, e.to_string()))
        .and_then(|text| Config::from_manifest(manifest, &text))
        .map_err(|d| fail(&[d]))?;
    for (key, value) in [
        ("lock_timeout", &config.lock_timeout),
        ("statement_timeout", &config.statement_timeout),
    ] {
        if let Some(value) = value.as_deref()
            && !crate::model::Timeouts::is_duration(value)
        {
            return Err(fail(&[Diagnostic::file(
                manifest,
                format!(
                    "[package.metadata.semigrate] `{key} = {value:?}` is not a duration, as \"500ms\" or \"5s\""
                ),
            )]));
        }
    }
    // The crate includes the table at its root, the library's when it has one that
    // does: the functions specs name are paths from there.
    let roots = ["src/lib.rs", "src/main.rs"].map(PathBuf::from);
    let includes = |root: &PathBuf| {
        std::fs::read_to_string(root).is_ok_and(|text| text.contains("include_chain!"))
    };
    config.sources = roots
        .iter()
        .find(|root| includes(root))
        .or_else(|| roots.iter().rev().find(|root| root.is_file()))
        .cloned();
    let dir = std::env::var_os("SEMIGRATE_MIGRATIONS_DIR")
        .map_or_else(|| PathBuf::from(&config.migrations), PathBuf::from);
    // The folder itself, so that a new file triggers a rebuild, and every file in it.
    println!("cargo::rerun-if-changed={}", dir.display());
    for file in crate::build::spec::spec_files(&dir).map_err(|d| fail(&[d]))? {
        println!("cargo::rerun-if-changed={}", file.display());
    }
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let package = SemVer::parse(&version).map_err(|why| {
        fail(&[Diagnostic::file(
            manifest,
            format!("package version: {why}"),
        )])
    })?;

    let started = Instant::now();
    let postgres = std::env::var("SEMIGRATE_VERIFY_POSTGRES_URL").ok();
    let migrations = crate::build::spec::prove(&dir, &config, package, postgres.as_deref())
        .map_err(|errors| fail(&errors))?;
    if std::env::var_os("SEMIGRATE_BUILD_TIMING").is_some_and(|v| v == "1") {
        println!(
            "cargo::warning=proved {} migrations (parse, chain rules, replay on {}) in {:.3} s",
            migrations.len(),
            replayed(&config, postgres.is_some()),
            started.elapsed().as_secs_f64()
        );
    }
    let rust = rust_steps(&migrations);
    let applies = migrations.iter().flat_map(|m| m.up.iter()).any(
        |s| matches!(s, Step::Csv(c) if c.ops.iter().any(|op| matches!(op, CsvOp::Apply { .. }))),
    );
    if !rust.is_empty() || applies {
        // The functions' tokens are in the checksums: an edit to one is a rebuild.
        for file in rust_files(Path::new("src")) {
            println!("cargo::rerun-if-changed={}", file.display());
        }
    }
    for (file, what, path) in &rust {
        println!(
            "cargo::warning={file}: {what} calls {path}, which the build cannot run: the rest of \
             the migration was proved without it"
        );
    }
    if postgres.is_some() && !config.engines.contains(&Engine::Postgres) {
        println!(
            "cargo::warning=SEMIGRATE_VERIFY_POSTGRES_URL is set, but `engines` in \
             [package.metadata.semigrate] does not name postgres: the chain is not replayed \
             on the server; add it (engines = [\"sqlite\", \"postgres\"]) to prove the \
             chain's PostgreSQL text"
        );
    }
    if config.engines.contains(&Engine::Postgres) && postgres.is_none() {
        println!(
            "cargo::warning=the chain's PostgreSQL text was not replayed: set \
             SEMIGRATE_VERIFY_POSTGRES_URL to a server to replay it in a scratch database \
             and measure the locks its steps take"
        );
        // What the text alone shows, in place of what a server would have measured.
        for m in &migrations {
            for warning in crate::build::replay::lints::lint(m) {
                println!("cargo::warning={}: {warning}", m.file);
            }
        }
    }

    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join("migrations.rs");
    let text = crate::build::codegen::render(&migrations, &config)
        .map_err(|(file, why)| fail(&[Diagnostic::file(&dir.join(&file), why)]))?;
    // Leaves the file and its mtime alone when nothing changed.
    if std::fs::read_to_string(&out).is_ok_and(|old| old == text) {
        return Ok(out);
    }
    std::fs::write(&out, text)
        .map_err(|e| fail(&[Diagnostic::file(&out, format!("cannot write: {e}"))]))?;
    Ok(out)
}

/// The engines the build replays the chain on, in words.
fn replayed(config: &Config, server: bool) -> String {
    let mut on = Vec::new();
    if config.verify && config.engines.contains(&Engine::Sqlite) {
        on.push("SQLite");
    }
    if config.verify && server && config.engines.contains(&Engine::Postgres) {
        on.push("PostgreSQL");
    }
    match on.is_empty() {
        true => "no engine".into(),
        false => on.join(" and "),
    }
}

/// Each Rust step and check of the chain: its spec, where it is, and the function.
fn rust_steps(migrations: &[Migration]) -> Vec<(String, String, String)> {
    let mut found = Vec::new();
    for m in migrations {
        for (list, steps) in [("up", &m.up), ("down", &m.down)] {
            for (i, step) in steps.iter().enumerate() {
                if let Step::Rust(f) = step {
                    found.push((
                        m.file.to_string(),
                        format!("{list} step {}", i + 1),
                        f.path.to_string(),
                    ));
                }
            }
        }
        for (i, check) in m.validate.iter().enumerate() {
            if let Check::Rust(f) = check {
                found.push((
                    m.file.to_string(),
                    format!("validation {}", i + 1),
                    f.path.to_string(),
                ));
            }
        }
    }
    found
}

/// The `.rs` files under `dir`, and `dir` itself, so that a new module is seen too.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = vec![dir.to_path_buf()];
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// Reports every error as a build error, then their count; returns the count.
fn fail(errors: &[Diagnostic]) -> usize {
    // Each error as rustc shows one, line quoted and caret placed: cargo prints a
    // failed build script's stderr after its errors.
    for e in errors {
        eprintln!("{}\n", e.render());
    }
    for e in errors {
        println!("cargo::error={e}");
    }
    let n = errors.len();
    println!(
        "cargo::error=the migration chain has {n} error{}",
        if n == 1 { "" } else { "s" }
    );
    n
}
