//! The table the build compiled from `migrations/`: it equals what the library's proof
//! reads from the folder now, its rendering is kept as a snapshot, and its `Version`
//! enum indexes it.

mod common;

use common::root;
use semigrate::__private::{Check, CsvOp, Listing, SemVer, Step};
use semigrate::build::{Config, prove};

use accidents::{CHAIN, MIGRATIONS, SETTINGS, Version};

/// Fixture builds (`SEMIGRATE_MIGRATIONS_DIR`) compile another chain in.
fn example_chain_compiled_in() -> bool {
    option_env!("SEMIGRATE_MIGRATIONS_DIR").is_none()
}

/// The table compiled in equals what the proof reads from `migrations/` now, field by
/// field: build and tests resolve migrations through the same code.
#[test]
fn same_output() {
    if !example_chain_compiled_in() {
        return;
    }
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let mut config = Config::from_manifest(std::path::Path::new("Cargo.toml"), &manifest).unwrap();
    // As the build does: the functions Rust steps name count in the checksums, read
    // from the root that includes the table, the library's.
    config.sources = Some(root().join("src/lib.rs"));
    let package = SemVer::parse(env!("CARGO_PKG_VERSION")).unwrap();
    let proved = prove(&root().join(&config.migrations), &config, package, None).unwrap();
    assert_eq!(proved, *MIGRATIONS);
    // What `status` reads without decoding the table says the same.
    assert_eq!(MIGRATIONS.summaries(), proved.summaries());
    for m in &proved {
        assert_eq!(MIGRATIONS.summary(m.version), Some(m.summary()));
    }
    assert_eq!(MIGRATIONS.summary(SemVer::new(0, 8, 1)), None);
    assert_eq!(CHAIN.latest(), proved.last().unwrap().version);
    assert_eq!(SETTINGS.database, config.database);
    assert!(std::ptr::eq(CHAIN.migrations, &MIGRATIONS));
    // The table is compiled into the library, which names the binary from the
    // manifest's [[bin]]: the name of the command the binary is.
    assert_eq!(CHAIN.name, "semigrate");
    assert_eq!(CHAIN.version, env!("CARGO_PKG_VERSION"));
}

/// The generated code for the example chain, kept in the repository so that every
/// change to codegen shows up as a readable diff. `UPDATE_SNAPSHOTS=1 cargo test`
/// rewrites it.
#[test]
fn generated_code_matches_its_snapshot() {
    if !example_chain_compiled_in() {
        return;
    }
    let generated = include_str!(concat!(env!("OUT_DIR"), "/migrations.rs"));
    let snapshot = root().join("tests/snapshots/migrations.rs");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&snapshot, generated).unwrap();
    }
    let kept = std::fs::read_to_string(&snapshot).unwrap_or_default();
    assert!(
        kept == generated,
        "the generated table differs from tests/snapshots/migrations.rs; \
         review the change and run UPDATE_SNAPSHOTS=1 cargo test"
    );
}

#[test]
fn versions_index_the_table() {
    for (i, v) in Version::ALL.iter().enumerate() {
        assert_eq!(v.migration().version, v.semver());
        assert_eq!(MIGRATIONS[i].version, v.semver());
    }
    assert!(
        Version::ALL
            .windows(2)
            .all(|w| w[0] < w[1] && w[0].semver() < w[1].semver())
    );
}

/// Every function a spec names is bound to the crate's own once the table is decoded:
/// the table's JSON holds paths only.
#[test]
fn functions_are_bound() {
    if !example_chain_compiled_in() {
        return;
    }
    let mut bound = 0;
    for m in MIGRATIONS.iter() {
        for step in m.up.iter().chain(m.down.iter()) {
            match step {
                Step::Rust(f) => {
                    assert!(f.call.is_some(), "{} in {}", f.path, m.file);
                    bound += 1;
                }
                Step::Csv(c) => {
                    for op in c.ops.iter() {
                        if let CsvOp::Apply {
                            function, inverse, ..
                        } = op
                        {
                            for f in std::iter::once(function).chain(inverse) {
                                assert!(f.call.is_some(), "{} in {}", f.path, m.file);
                                bound += 1;
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        for check in m.validate.iter() {
            if let Check::Rust(f) = check {
                assert!(f.call.is_some(), "{} in {}", f.path, m.file);
                bound += 1;
            }
        }
    }
    assert!(
        bound >= 3,
        "the example chain names Rust steps, checks and apply functions"
    );
}
