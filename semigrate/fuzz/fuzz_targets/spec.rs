//! Any bytes as the second spec of a chain: the proof the build runs (parse, chain
//! rules, replay on SQLite) must answer with errors or a chain, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use semigrate::build::Config;
use semigrate::__private::SemVer;

const BASE: &str = "description = \"Base\"\n[[up]]\nsql = \"CREATE TABLE t (id INTEGER);\"\n\
                    [[down]]\nsql = \"DROP TABLE t;\"\n";

fuzz_target!(|bytes: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("v0_1_0__base.toml"), BASE).unwrap();
    std::fs::write(dir.path().join("v0_1_1__fuzzed.toml"), bytes).unwrap();
    let package = SemVer::parse("1.0.0").unwrap();
    if let Err(errors) = semigrate::build::prove(dir.path(), &Config::default(), package, None) {
        assert!(!errors.is_empty());
    }
});
