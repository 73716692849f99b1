//! The schema check: the binary knows the schema each version must have (the build's
//! replay on SQLite), `status` and `verify` compare the live store with it, and
//! `upgrade`/`downgrade` refuse a store changed behind the chain's back.

mod common;

use common::{Sandbox, build, root};

/// The example chain, version by version: the store always has the schema compiled
/// for its version, and `verify` says so.
#[test]
fn a_store_at_each_version_has_the_schema_compiled_for_it() {
    let s = Sandbox::new();
    assert_eq!(s.status()["schema"]["state"], "empty");
    let versions: Vec<String> =
        serde_json::from_str::<serde_json::Value>(&s.ok(&["--json", "list"]).stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["version"].as_str().unwrap().to_owned())
            .collect();
    assert!(versions.len() >= 8);
    for v in &versions {
        s.ok(&["--no-backup", "upgrade", "--version", v]);
        let schema = &s.status()["schema"];
        assert_eq!(schema["state"], "as_compiled", "{v}: {schema}");
        assert_eq!(schema["version"], v.as_str());
        let verified = s.ok(&["verify"]);
        assert!(
            verified
                .stdout
                .contains(&format!("schema as compiled for {v}")),
            "{}",
            verified.stdout
        );
    }
    // Down again, each version on the way still as compiled.
    s.ok(&["--no-backup", "downgrade", "--version", "1.0.0"]);
    assert_eq!(s.status()["schema"]["state"], "as_compiled");
    assert!(
        s.ok(&["status"])
            .stdout
            .contains("schema    as compiled for 1.0.0")
    );
}

/// Each kind of change made by hand is named by `status` (a count), `verify` (each
/// difference, exit 1) and refuses `upgrade` and `downgrade` (exit 3, nothing
/// changed); `--allow-schema-drift` runs, and the run log keeps the differences;
/// objects named in `ignore_objects` are never reported.
#[test]
fn each_change_made_behind_the_chain_is_named_and_refuses_a_run() {
    let b = build(
        Some(&root().join("tests/fixtures/good_schema_objects")),
        &[],
    );
    assert!(b.ok, "{}", b.output);
    let (_keep, binary) = b.binary.unwrap();
    let changes = [
        (
            "CREATE INDEX ix_people_age ON people (age)",
            "index ix_people_age is in the store, not in the chain",
        ),
        (
            "ALTER TABLE people DROP COLUMN email",
            "column people.email is missing from the store",
        ),
        (
            "PRAGMA writable_schema = ON; \
             UPDATE sqlite_schema SET sql = replace(sql, 'DEFAULT 0', 'DEFAULT 1') WHERE name = 'people'; \
             PRAGMA writable_schema = OFF",
            "column people.age has default 1 in the store, 0 as compiled",
        ),
        (
            "CREATE TABLE notes (body TEXT)",
            "table notes is in the store, not in the chain",
        ),
        (
            "DROP TRIGGER people_audit; \
             CREATE TRIGGER people_audit AFTER DELETE ON people BEGIN DELETE FROM audit WHERE person = old.id; END",
            "trigger people_audit is defined differently",
        ),
        (
            "DROP VIEW adults; CREATE VIEW adults AS SELECT id, name FROM people WHERE age >= 21",
            "view adults is defined differently",
        ),
    ];
    for (change, said) in changes {
        let s = Sandbox::with_binary(binary.clone());
        s.ok(&["--no-backup", "upgrade", "--version", "0.1.0"]);
        s.conn().execute_batch(change).unwrap();
        let schema = &s.status()["schema"];
        assert_eq!(schema["state"], "differs", "{change}: {schema}");
        assert_eq!(schema["objects"], 1, "{change}: {schema}");
        assert!(
            s.ok(&["status"])
                .stdout
                .contains("schema    differs from 0.1.0: 1 object"),
            "{change}"
        );
        let verified = s.run(&["verify"]);
        assert_eq!(verified.code, 1, "{change}: {}", verified.stderr);
        assert!(
            verified.stderr.contains(said),
            "{said}: {}",
            verified.stderr
        );

        let before = s.bytes();
        for args in [
            &["--no-backup", "upgrade"][..],
            &["--no-backup", "downgrade"],
        ] {
            let r = s.run(args);
            assert_eq!(r.code, 3, "{change}: {args:?}: {}", r.stderr);
            assert!(
                r.stderr.contains(said) && r.stderr.contains("--allow-schema-drift"),
                "{}",
                r.stderr
            );
        }
        assert_eq!(
            s.bytes(),
            before,
            "{change}: a refused run changed the store"
        );

        s.ok(&["--no-backup", "upgrade", "--allow-schema-drift"]);
        assert_eq!(s.current(), "0.2.0");
        let log: Vec<serde_json::Value> =
            serde_json::from_str(&s.ok(&["--json", "history"]).stdout).unwrap();
        let allowed = log
            .iter()
            .find(|e| e["outcome"] == "schema-drift-allowed")
            .unwrap_or_else(|| panic!("{log:?}"));
        assert!(
            allowed["error"].as_str().unwrap().contains(said),
            "{allowed}"
        );
        assert_eq!(
            (&allowed["from"], &allowed["to"]),
            (&"0.1.0".into(), &"0.2.0".into())
        );
    }

    // A hand-made index the configuration says the chain does not own.
    let s = Sandbox::with_binary(binary);
    s.ok(&["--no-backup", "upgrade"]);
    s.conn()
        .execute_batch("CREATE INDEX ix_hotfix_name ON people (name, age)")
        .unwrap();
    assert_eq!(s.status()["schema"]["state"], "as_compiled");
    s.ok(&["verify"]);
    s.ok(&["--no-backup", "downgrade"]);
}

/// `schema-at` prints the schema of a version as DDL, and `--diff` what changes
/// between two, as a reviewer reads it; `--json` both.
#[test]
fn schema_at_prints_a_version_and_the_changes_between_two() {
    let s = Sandbox::new();
    insta::assert_snapshot!("schema_at_2_0_0", s.ok(&["schema-at", "2.0.0"]).stdout);
    insta::assert_snapshot!(
        "schema_at_1_1_0_diff_2_0_0",
        s.ok(&["schema-at", "1.1.0", "--diff", "2.0.0"]).stdout
    );
    let objects: serde_json::Value =
        serde_json::from_str(&s.ok(&["--json", "schema-at", "0.9.0"]).stdout).unwrap();
    let names: Vec<&str> = objects
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["accidents", "usagers"]);
    let diff: serde_json::Value = serde_json::from_str(
        &s.ok(&["--json", "schema-at", "0.9.0", "--diff", "1.0.0"])
            .stdout,
    )
    .unwrap();
    assert_eq!(diff["objects"].as_array().unwrap().len(), 2, "{diff}");
    assert!(
        diff["objects"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["was"].is_null())
    );
    let empty: serde_json::Value =
        serde_json::from_str(&s.ok(&["--json", "schema-at", "0.0.0"]).stdout).unwrap();
    assert_eq!(empty, serde_json::json!([]));
    let r = s.run(&["schema-at", "1.2.3"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("no migration 1.2.3"), "{}", r.stderr);
}
