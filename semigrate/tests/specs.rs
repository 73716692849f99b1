//! The hostile-spec corpus: every bad spec must be refused by the build's proof with a
//! clear error that names its file. The cases live in `tests/specs/` (one file each,
//! headed by the name it takes in the chain and the fragment its error must hold).

use semigrate::SemVer;
use semigrate::build::Config;
use std::path::{Path, PathBuf};

/// The chain every spec case joins: one good migration at 0.1.0.
const BASE: &str = "description = \"Base\"\n[[up]]\nsql = \"CREATE TABLE t (id INTEGER);\"\n\
                    [[down]]\nsql = \"DROP TABLE t;\"\n";

/// Builds the chain of BASE and one case file named `name`, proves it as the build
/// does, and returns every error, one per line.
fn prove_with(name: &str, bytes: &[u8]) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("v0_1_0__base.toml"), BASE).unwrap();
    std::fs::write(dir.path().join(name), bytes).unwrap();
    let package = SemVer::parse("0.9.0").unwrap();
    semigrate::build::prove(dir.path(), &Config::default(), package, None)
        .map(|_| ())
        .map_err(|errors| {
            errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        })
}

/// Checks one refused spec: an error holds `expect` and names the file.
fn refused_spec(case: &str, name: &str, bytes: &[u8], expect: &str) -> usize {
    match prove_with(name, bytes) {
        Ok(()) => panic!("{case}: the chain was accepted"),
        Err(errors) => {
            assert!(
                errors.contains(expect),
                "{case}: expected `{expect}` in:\n{errors}"
            );
            assert!(
                errors.contains(name),
                "{case}: the error must name {name}:\n{errors}"
            );
            // An error quotes the input, never the whole of a huge one.
            assert!(
                errors.lines().all(|l| l.len() < 1_000),
                "{case}: {errors:.2000}"
            );
            1
        }
    }
}

#[test]
fn every_bad_spec_is_refused_with_its_file_named() {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/specs");
    let mut cases = 0;
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let case = path.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines = text.splitn(3, '\n');
        let name = lines.next().and_then(|l| l.strip_prefix("# file: "));
        let expect = lines.next().and_then(|l| l.strip_prefix("# expect: "));
        let (Some(name), Some(expect)) = (name, expect) else {
            panic!("{case}: the file must start with `# file:` and `# expect:` lines");
        };
        let body = lines.next().unwrap_or_default();
        cases += refused_spec(&case, name, body.as_bytes(), expect);
    }

    // Cases that are better made than kept as files.
    let name = "v0_2_0__t.toml";
    let mut invalid_utf8 = b"description = \"caf".to_vec();
    invalid_utf8.extend_from_slice(b"\xE9\"\n[[up]]\nsql = \"SELECT 1;\"\n");
    cases += refused_spec(
        "invalid UTF-8",
        name,
        &invalid_utf8,
        ":1:19: the file is not valid UTF-8",
    );
    let nul = b"description = \"x\"\n\0\0\0[[up]]\nsql = \"SELECT 1;\"\n";
    cases += refused_spec("NUL bytes", name, nul, ":2:4: key with no value");
    let huge = format!(
        "description = \"x\"\n[[up]]\nsql = \"CREATE TABLE u (id INTEGER{});\"\n[[down]]\nsql = \"DROP TABLE u;\"\n",
        ", id".repeat(2_500_000)
    );
    cases += refused_spec(
        "a 10 MB statement",
        name,
        huge.as_bytes(),
        "duplicate column name: id",
    );
    let deep = format!(
        "description = \"x\"\nup = {}{}\n",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    cases += refused_spec(
        "nesting 10,000 deep",
        name,
        deep.as_bytes(),
        "max recursion depth",
    );
    eprintln!("{cases} bad specs refused");
    assert!(cases >= 35);
}
