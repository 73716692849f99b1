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

pub use crate::config::{Config, Gaps};
pub use crate::diagnostic::Diagnostic;
use crate::model::{Engine, SemVer};
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
    crate::spec::prove(dir, config, package, postgres)
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
    let config = std::fs::read_to_string(manifest)
        .map_err(|e| Diagnostic::file(manifest, e.to_string()))
        .and_then(|text| Config::from_manifest(manifest, &text))
        .map_err(|d| fail(&[d]))?;
    let dir = std::env::var_os("SEMIGRATE_MIGRATIONS_DIR")
        .map_or_else(|| PathBuf::from(&config.migrations), PathBuf::from);
    // The folder itself, so that a new file triggers a rebuild, and every file in it.
    println!("cargo::rerun-if-changed={}", dir.display());
    for file in crate::spec::spec_files(&dir).map_err(|d| fail(&[d]))? {
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
    let migrations = crate::spec::prove(&dir, &config, package, postgres.as_deref())
        .map_err(|errors| fail(&errors))?;
    if std::env::var_os("SEMIGRATE_BUILD_TIMING").is_some_and(|v| v == "1") {
        println!(
            "cargo::warning=proved {} migrations (parse, chain rules, replay on SQLite) in {:.3} s",
            migrations.len(),
            started.elapsed().as_secs_f64()
        );
    }
    if config.engines.contains(&Engine::Postgres) && postgres.is_none() {
        println!(
            "cargo::warning=the chain's PostgreSQL text was not replayed: set \
             SEMIGRATE_VERIFY_POSTGRES_URL to a server to replay it in a scratch schema"
        );
    }

    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join("migrations.rs");
    let text = crate::codegen::render(&migrations, &config);
    // Leaves the file and its mtime alone when nothing changed.
    if std::fs::read_to_string(&out).is_ok_and(|old| old == text) {
        return Ok(out);
    }
    std::fs::write(&out, text)
        .map_err(|e| fail(&[Diagnostic::file(&out, format!("cannot write: {e}"))]))?;
    Ok(out)
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
