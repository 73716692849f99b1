//! Proves the migration chain and compiles it into `OUT_DIR/migrations.rs`:
//! load the specs, check the chain, replay it on SQLite, render the table.
//! The modules are the library's own, so `cargo test` tests what runs here.

// The build uses only part of each shared module; the rest serves the runtime.
#![allow(dead_code)]

#[path = "src/build/mod.rs"]
mod build;
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

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    if build::compile_configured().is_err() {
        std::process::exit(1);
    }
}
