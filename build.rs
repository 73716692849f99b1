//! Proves the migration chain and compiles it into `OUT_DIR/migrations.rs`:
//! load the specs, check the chain, replay it on SQLite, render the table.
//! The modules are the library's own, so `cargo test` tests what runs here.

// The build uses only part of each shared module; the rest serves the runtime.
#![allow(dead_code)]

#[path = "src/chain.rs"]
mod chain;
#[path = "src/codegen.rs"]
mod codegen;
#[path = "src/config.rs"]
mod config;
// Only the pure column flow of `data` is needed here.
#[path = "src/data"]
mod data {
    pub mod flow;
}
#[path = "src/diagnostic.rs"]
mod diagnostic;
#[path = "src/fk_check.rs"]
mod fk_check;
#[path = "src/model.rs"]
mod model;
#[path = "src/spec/mod.rs"]
mod spec;
#[path = "src/sqlite_error.rs"]
mod sqlite_error;
#[path = "src/verify/mod.rs"]
mod verify;

use std::path::{Path, PathBuf};
use std::time::Instant;

fn main() {
    let manifest = PathBuf::from("Cargo.toml");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=Cargo.toml");
    println!("cargo::rerun-if-env-changed=SEMIGRATE_MIGRATIONS_DIR");
    println!("cargo::rerun-if-env-changed=SEMIGRATE_BUILD_TIMING");
    println!("cargo::rerun-if-env-changed=SEMIGRATE_VERIFY_POSTGRES_URL");

    let text = std::fs::read_to_string(&manifest).expect("cargo gives a readable manifest");
    let config = config::Config::from_manifest(&manifest, &text).unwrap_or_else(|d| fail(&[d]));
    // Cargo runs build scripts in the manifest's folder: relative paths read well in errors.
    let dir = match std::env::var_os("SEMIGRATE_MIGRATIONS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(&config.migrations),
    };
    // The folder itself, so that a new file triggers a rebuild, and every file in it.
    println!("cargo::rerun-if-changed={}", dir.display());
    for file in spec::spec_files(&dir).unwrap_or_else(|d| fail(&[d])) {
        println!("cargo::rerun-if-changed={}", file.display());
    }

    let package = model::SemVer::parse(env!("CARGO_PKG_VERSION")).unwrap_or_else(|why| {
        fail(&[diagnostic::Diagnostic::file(
            &manifest,
            format!("package version: {why}"),
        )])
    });
    let started = Instant::now();
    let postgres = std::env::var("SEMIGRATE_VERIFY_POSTGRES_URL").ok();
    let migrations = spec::prove(&dir, &config, package, postgres.as_deref())
        .unwrap_or_else(|errors| fail(&errors));
    if std::env::var_os("SEMIGRATE_BUILD_TIMING").is_some_and(|v| v == "1") {
        println!(
            "cargo::warning=proved {} migrations (parse, chain rules, replay on SQLite) in {:.3} s",
            migrations.len(),
            started.elapsed().as_secs_f64()
        );
    }

    if config.engines.contains(&model::Engine::Postgres) && postgres.is_none() {
        println!(
            "cargo::warning=the chain's PostgreSQL text was not replayed: set \
             SEMIGRATE_VERIFY_POSTGRES_URL to a server to replay it in a scratch schema"
        );
    }

    let out =
        PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo")).join("migrations.rs");
    write_if_changed(&out, &codegen::render(&migrations, &config));
}

/// Reports every error as a build error and stops the build.
fn fail(errors: &[diagnostic::Diagnostic]) -> ! {
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
    std::process::exit(1)
}

/// Leaves the file and its mtime alone when nothing changed.
fn write_if_changed(path: &Path, text: &str) {
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        return;
    }
    std::fs::write(path, text).expect("OUT_DIR is writable");
}
