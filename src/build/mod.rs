//! For another crate's build script, as prost-build is used: prove a chain of specs as
//! semigrate's own build does, and write its table for `include!`. Behind the `build`
//! feature, which brings the code generator's dependencies.
//!
//! ```no_run
//! // build.rs
//! fn main() {
//!     if semigrate::build::compile("migrations").is_err() {
//!         std::process::exit(1);
//!     }
//! }
//! // src/main.rs
//! mod migrations {
//!     include!(concat!(env!("OUT_DIR"), "/migrations.rs"));
//! }
//! // migrations::MIGRATIONS, migrations::Version, migrations::SETTINGS
//! ```

use crate::config::Config;
use crate::model::SemVer;
use std::path::{Path, PathBuf};

/// Proves the chain in `dir` (relative to the calling crate's manifest) with the
/// settings of its `[package.metadata.semigrate]`, then writes `OUT_DIR/migrations.rs`.
/// Every error goes to cargo as a `cargo::error` line (and, rendered as rustc shows
/// errors, to stderr); the result says how many there were.
pub fn compile(dir: impl AsRef<Path>) -> Result<PathBuf, usize> {
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let root = PathBuf::from(var("CARGO_MANIFEST_DIR"));
    let manifest = root.join("Cargo.toml");
    let dir = root.join(dir);
    println!("cargo::rerun-if-changed={}", dir.display());
    println!("cargo::rerun-if-env-changed=SEMIGRATE_VERIFY_POSTGRES_URL");
    let fail = |errors: &[crate::diagnostic::Diagnostic]| {
        for e in errors {
            eprintln!("{}\n", e.render());
            println!("cargo::error={e}");
        }
        errors.len()
    };
    let config = std::fs::read_to_string(&manifest)
        .map_err(|e| crate::diagnostic::Diagnostic::file(&manifest, e.to_string()))
        .and_then(|text| Config::from_manifest(&manifest, &text))
        .map_err(|d| fail(&[d]))?;
    for file in crate::spec::spec_files(&dir).map_err(|d| fail(&[d]))? {
        println!("cargo::rerun-if-changed={}", file.display());
    }
    let package = SemVer::parse(&var("CARGO_PKG_VERSION")).map_err(|why| {
        fail(&[crate::diagnostic::Diagnostic::file(
            &manifest,
            format!("package version: {why}"),
        )])
    })?;
    let postgres = std::env::var("SEMIGRATE_VERIFY_POSTGRES_URL").ok();
    let migrations = crate::spec::prove(&dir, &config, package, postgres.as_deref())
        .map_err(|errors| fail(&errors))?;
    let out = PathBuf::from(var("OUT_DIR")).join("migrations.rs");
    std::fs::write(&out, crate::codegen::render(&migrations, &config)).map_err(|e| {
        fail(&[crate::diagnostic::Diagnostic::file(
            &out,
            format!("cannot write: {e}"),
        )])
    })?;
    Ok(out)
}
