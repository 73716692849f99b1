//! The chain of `migrations/`, compiled in by `build.rs`.

include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::path::Path;

    /// The table compiled in equals what the spec module reads from `migrations/` now,
    /// field by field: build and run resolve migrations through the same code.
    #[test]
    fn same_output() {
        if std::env::var_os("SEMIGRATE_MIGRATIONS_DIR").is_some() {
            return;
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
        let config = Config::from_manifest(Path::new("Cargo.toml"), &manifest).unwrap();
        let loaded = crate::spec::load(&root.join(&config.migrations), &config.engines);
        assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
        assert_eq!(loaded.migrations, MIGRATIONS);
        assert_eq!(SETTINGS.database, config.database);
    }

    /// The generated code for the example chain, kept in the repository so that every
    /// change to codegen shows up as a readable diff. `UPDATE_SNAPSHOTS=1 cargo test`
    /// rewrites it.
    #[test]
    fn generated_code_matches_its_snapshot() {
        if std::env::var_os("SEMIGRATE_MIGRATIONS_DIR").is_some() {
            return;
        }
        let generated = include_str!(concat!(env!("OUT_DIR"), "/migrations.rs"));
        let snapshot = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/migrations.rs");
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
}
