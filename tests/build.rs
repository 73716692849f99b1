//! `cargo build` as the gate: each fixture chain under tests/fixtures/ is built with
//! SEMIGRATE_MIGRATIONS_DIR, and must fail naming the file and the cause, or build a
//! binary that works.

mod common;

use common::{Build, Sandbox, build, root};
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    root().join("tests").join("fixtures").join(name)
}

/// The fixture must fail to build, with every fragment in the build's errors.
fn fails(name: &str, fragments: &[&str]) {
    let b = build(Some(&fixture(name)), &[]);
    assert!(!b.ok, "{name} built");
    let errors: Vec<&str> = b
        .output
        .lines()
        .filter(|l| l.starts_with(concat!("error: ", env!("CARGO_PKG_NAME"), "@")))
        .collect();
    assert!(!errors.is_empty(), "{name}: no build error:\n{}", b.output);
    for fragment in fragments {
        assert!(
            errors.iter().any(|e| e.contains(fragment)),
            "{name}: no error contains {fragment:?}:\n{}",
            errors.join("\n")
        );
    }
}

#[test]
fn chain_rule_violations_fail_the_build() {
    let file = |name: &str, spec: &str| format!("tests/fixtures/{name}/{spec}");
    fails(
        "bad_name",
        &[
            &file("bad_name", "V1_0_0.toml"),
            "not a migration name",
            "rename it to v1_0_0.toml",
        ],
    );
    fails(
        "leading_zero",
        &[&file("leading_zero", "v1_00_0.toml"), "leading zero"],
    );
    fails(
        "version_mismatch",
        &[
            &format!("{}:1:", file("version_mismatch", "v1_0_0.toml")),
            "disagrees with the file name",
        ],
    );
    fails(
        "prerelease",
        &[&file("prerelease", "v1_0_0.toml"), "pre-release"],
    );
    fails(
        "duplicate",
        &[
            &file("duplicate", "v1_0_0__again.toml"),
            "version 1.0.0 is also given by",
            "v1_0_0.toml",
        ],
    );
    fails(
        "gap",
        &[
            &file("gap", "v1_0_2.toml"),
            "version 1.0.2 leaves a gap after 1.0.0",
            "the next version after 1.0.0 is 1.0.1, 1.1.0 or 2.0.0",
        ],
    );
    fails(
        "above_package",
        &[
            &file("above_package", "v3_0_0.toml"),
            "above the package version 2.2.0",
        ],
    );
    fails(
        "missing_down",
        &[
            &file("missing_down", "v1_0_0.toml"),
            "no `down`",
            "irreversible = true",
        ],
    );
    fails(
        "unknown_key",
        &[
            &format!("{}:4:1", file("unknown_key", "v1_0_0.toml")),
            "unknown field `sqll`",
        ],
    );
}

#[test]
fn independent_errors_are_reported_together() {
    fails(
        "several_errors",
        &[
            "several_errors/v1_0_1.toml",
            "no `down`",
            "several_errors/v1_1_5.toml",
            "leaves a gap after 1.0.1",
            "the migration chain has 2 errors",
        ],
    );
}

#[test]
fn the_replay_catches_what_would_fail_in_production() {
    fails(
        "down_leaves_index",
        &[
            "down_leaves_index/v1_1_0.toml",
            "down does not undo up",
            "index ix_risk is left behind by down",
        ],
    );
    fails(
        "down_changes_type",
        &[
            "down_changes_type/v1_1_0.toml",
            "column t.name has type BLOB after down, TEXT before",
        ],
    );
    fails(
        "syntax_error",
        &[
            "syntax_error/v1_0_1.toml",
            "up step 2 fails on SQLite",
            "near \"WHER\": syntax error (at offset 22)",
            "WHER id",
        ],
    );
    fails(
        "validation_missing_column",
        &[
            "validation_missing_column/v1_0_0.toml",
            "validation 1 does not prepare",
            "no such column: nmae",
        ],
    );
    fails(
        "validation_missing_table",
        &[
            "validation_missing_table/v1_0_0.toml",
            "validation 1 does not prepare",
            "no such table: tt",
        ],
    );
    fails(
        "drop_column_unacknowledged",
        &[
            "drop_column_unacknowledged/v1_1_0.toml",
            "up removes column t.name",
            "destructive = true",
        ],
    );
}

#[test]
fn csv_flow_errors_fail_the_build() {
    fails(
        "csv_typo_column",
        &[
            "csv_typo_column/v1_0_0.toml",
            "up step 1 (people.csv) op 1 (`rename`): no column `nmae`",
            "id, name",
        ],
    );
    fails(
        "csv_lossy_without_down",
        &[
            "csv_lossy_without_down/v1_0_0.toml",
            "`convert` of `name` loses the original text",
            "write the CSV part of `down`",
        ],
    );
    fails(
        "csv_add_existing",
        &[
            "csv_add_existing/v1_0_0.toml",
            "column `name` exists already",
        ],
    );
    fails(
        "csv_path_traversal",
        &[
            "csv_path_traversal/v1_0_0.toml:3:1",
            "the CSV path `../../etc/people.csv` leaves the data folder",
            "the CSV path `/etc/passwd` leaves the data folder",
        ],
    );
}

#[test]
fn good_chains_build_and_run() {
    // A CSV-only chain: its down is derived.
    let b = build(Some(&fixture("good_csv")), &[]);
    assert!(b.ok, "{}", b.output);
    let (_keep, binary) = b.binary.unwrap();
    let s = Sandbox::with_binary(binary);
    s.ok(&["upgrade"]);
    let csv = s.dir.path().join("var/data/people.csv");
    assert_eq!(
        std::fs::read_to_string(&csv).unwrap(),
        "id;name;dep;tag\n1;Ana;Ain;1:Ana\n2;Bo;Corse-du-Sud;2:Bo\n3;Cé;Paris;3:Cé\n"
    );
    s.ok(&["downgrade"]);
    assert_eq!(
        std::fs::read(&csv).unwrap(),
        std::fs::read(fixture("good_csv").join("people.csv")).unwrap()
    );
    s.ok(&["downgrade"]);
    assert!(!csv.exists());

    // destructive = true acknowledges the DROP COLUMN.
    let b = build(Some(&fixture("good_destructive")), &[]);
    assert!(b.ok, "{}", b.output);
    let (_keep, binary) = b.binary.unwrap();
    let s = Sandbox::with_binary(binary);
    s.ok(&["upgrade"]);
    assert_eq!(s.current(), "1.1.0");
    s.ok(&["downgrade", "--version", "0.0.0"]);

    // A foreign-key-off rebuild keeps every child row.
    let b = build(Some(&fixture("good_fk_rebuild")), &[]);
    assert!(b.ok, "{}", b.output);
    let (_keep, binary) = b.binary.unwrap();
    let s = Sandbox::with_binary(binary);
    s.ok(&["upgrade"]);
    let n: i64 = s
        .conn()
        .query_row("SELECT count(*) FROM child", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 3);
    s.ok(&["downgrade"]);
    assert_eq!(s.current(), "1.0.0");
    let n: i64 = s
        .conn()
        .query_row("SELECT count(*) FROM child", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 3);

    // An irreversible migration: the way down stops above it, before anything runs.
    let b = build(Some(&fixture("good_irreversible")), &[]);
    assert!(b.ok, "{}", b.output);
    let (_keep, binary) = b.binary.unwrap();
    let s = Sandbox::with_binary(binary);
    s.ok(&["upgrade"]);
    let before = s.bytes();
    let r = s.run(&["downgrade", "--version", "1.0.0"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("would cross 1.1.0, which is irreversible"),
        "{}",
        r.stderr
    );
    assert_eq!(s.bytes(), before);
    s.ok(&["downgrade", "--version", "1.1.0"]);
    assert_eq!(s.current(), "1.1.0");
}

#[test]
fn a_new_spec_file_triggers_a_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let chain = dir.path().join("migrations");
    std::fs::create_dir(&chain).unwrap();
    std::fs::copy(
        fixture("good_destructive").join("v1_0_0.toml"),
        chain.join("v1_0_0.toml"),
    )
    .unwrap();
    let b = build(Some(&chain), &[]);
    assert!(b.ok, "{}", b.output);
    let list = |b: Build| {
        let (_keep, binary) = b.binary.unwrap();
        Sandbox::with_binary(binary).ok(&["list"]).stdout
    };
    assert_eq!(list(b).lines().count(), 1);

    std::fs::write(
        chain.join("v1_0_1__index.toml"),
        "description = \"Index t\"\n[[up]]\nsql = \"CREATE INDEX ix ON t (name);\"\n[[down]]\nsql = \"DROP INDEX ix;\"\n",
    )
    .unwrap();
    let b = build(Some(&chain), &[]);
    assert!(b.ok, "{}", b.output);
    let listed = list(b);
    assert_eq!(listed.lines().count(), 2, "{listed}");
    assert!(listed.contains("1.0.1    Index t"), "{listed}");
}

/// Another crate with its own chain: its build script calls `semigrate::build::compile`
/// (the `build` feature) and its main includes the table and runs the Migrator.
#[test]
fn a_crate_compiles_its_own_chain_with_the_build_feature() {
    let builds = common::FixtureBuilds::take();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("todo.db");
    let run = || {
        builds
            .cargo()
            .args(["run", "-q", "--color", "never", "--manifest-path"])
            .arg(root().join("examples/embedded/Cargo.toml"))
            .arg("--")
            .arg(&db)
            .output()
            .unwrap()
    };
    let out = run();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("{} is at 0.2.0: 1 tasks", db.display())
    );
    // Its history is semigrate's: the CLI of any chain reads it.
    let conn = rusqlite::Connection::open(&db).unwrap();
    assert_eq!(common::history(&conn), ["0.1.0", "0.2.0"]);
    let out = run();
    assert!(String::from_utf8_lossy(&out.stdout).contains("is at 0.2.0: 2 tasks"));
    // It embeds the Migrator alone (`default-features = false`): the command line's
    // crates are not among what its binary compiles.
    let tree = std::process::Command::new(env!("CARGO"))
        .args([
            "tree",
            "-q",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--manifest-path",
        ])
        .arg(root().join("examples/embedded/Cargo.toml"))
        .output()
        .unwrap();
    let tree = String::from_utf8_lossy(&tree.stdout);
    assert!(tree.contains("semigrate v"), "{tree}");
    for cli in [
        "clap ",
        "clap_complete ",
        "clap_mangen ",
        "indicatif ",
        "annotate-snippets ",
    ] {
        assert!(!tree.lines().any(|l| l.starts_with(cli)), "{cli}in {tree}");
    }
}

/// Built without a server, the PostgreSQL text is read for the hazards a server would
/// have measured: each one a warning naming the spec, the step, the table and the
/// rule; none for a table the migration creates, nor for one whose locks it accepts.
#[test]
fn without_a_server_the_text_is_linted_for_locking_hazards() {
    let b = build(Some(&fixture("good_unmeasured_hazards")), &[]);
    assert!(b.ok, "{}", b.output);
    let warnings: Vec<&str> = b
        .output
        .lines()
        .filter(|l| l.starts_with(concat!("warning: ", env!("CARGO_PKG_NAME"), "@")))
        .filter(|l| l.contains(" [") && l.ends_with(']'))
        .collect();
    assert_eq!(warnings.len(), 2, "{}", b.output);
    for (warning, said) in warnings.iter().zip([
        "v0_2_0.toml: up step 1: on table accidents, builds an index under a SHARE lock",
        "v0_2_0.toml: up step 2: on table accidents, sets NOT NULL under an ACCESS EXCLUSIVE lock",
    ]) {
        assert!(warning.contains(said), "{said}: {warning}");
    }
    assert!(warnings[0].ends_with("[index-without-concurrently]"));
    assert!(warnings[1].ends_with("[set-not-null]"));
}
