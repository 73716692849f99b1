//! `load` and `export` on SQLite: a CSV file into a table and back out, each with its
//! derived down; an upsert with a written one; a bad value refused at its line.
//! (The same chain on PostgreSQL: `tests/postgres.rs`.)

mod common;

use common::{Sandbox, build, root};

fn people(s: &Sandbox) -> Vec<(i64, String, Option<i64>)> {
    let conn = s.conn();
    let mut stmt = conn
        .prepare("SELECT id, name, age FROM people ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn a_file_loads_into_a_table_exports_back_and_both_are_undone() {
    let b = build(Some(&root().join("tests/fixtures/good_load")), &[]);
    assert!(b.ok, "{}", b.output);
    let (_keep, binary) = b.binary.unwrap();
    let s = Sandbox::with_binary(binary);
    s.ok(&["upgrade", "--version", "0.2.0"]);
    let loaded = vec![
        (1, "Ada".to_owned(), Some(36)),
        (2, "Blaise".to_owned(), None),
        (3, "Camille; dite \"Cam\"".to_owned(), Some(41)),
    ];
    assert_eq!(
        people(&s),
        loaded,
        "quotes, delimiters and NULL as the file says"
    );

    let r = s.ok(&["upgrade", "--version", "0.3.0"]);
    assert!(
        r.stderr.contains("export/people.csv: 3 rows"),
        "{}",
        r.stderr
    );
    let exported = s.dir.path().join("var/data/export/people.csv");
    assert_eq!(
        std::fs::read_to_string(&exported).unwrap(),
        "id,name,age\n1,Ada,36\n2,Blaise,\n3,\"Camille; dite \"\"Cam\"\"\",41\n"
    );
    assert_eq!(
        common::data_files(&s),
        ["export", "people.csv"],
        "no temp left"
    );

    // An upsert, with its written down.
    s.ok(&["upgrade"]);
    assert_eq!(
        people(&s).iter().map(|p| p.2).collect::<Vec<_>>(),
        [Some(37), Some(30), Some(41)]
    );
    s.ok(&["downgrade", "--version", "0.3.0"]);
    assert_eq!(people(&s), loaded);

    // The derived downs: the exported file deleted, the loaded rows unloaded by key.
    s.ok(&["downgrade", "--version", "0.1.0"]);
    assert!(!exported.exists());
    assert_eq!(people(&s), Vec::new());

    // A value the table refuses: the file's line and the engine's message; nothing
    // half-loaded.
    let file = s.dir.path().join("var/data/people.csv");
    let good = std::fs::read(&file).unwrap();
    std::fs::write(&file, "id;name;age\n1;Ada;36\n2;Blaise;-5\n").unwrap();
    let r = s.run(&["--no-backup", "upgrade", "--version", "0.2.0"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("people.csv line 3: CHECK constraint failed: age >= 0"),
        "{}",
        r.stderr
    );
    assert_eq!(people(&s), Vec::new());
    assert_eq!(s.current(), "0.1.0");
    std::fs::write(&file, good).unwrap();
    s.ok(&["upgrade", "--version", "0.2.0"]);
    assert_eq!(people(&s), loaded);
}

/// Hostile text survives a load into a table and an export out of it: quotes, the
/// delimiter, line breaks, CRLF line ends, a BOM before the header, and a 10 MB cell.
#[test]
fn hostile_text_goes_into_a_table_and_back_out_unchanged() {
    let b = build(Some(&root().join("tests/fixtures/good_load")), &[]);
    assert!(b.ok, "{}", b.output);
    let (_keep, binary) = b.binary.unwrap();
    let s = Sandbox::with_binary(binary);
    s.ok(&["upgrade", "--version", "0.1.0"]);
    common::write_hostile_people(&s.dir.path().join("var/data"));
    s.ok(&["upgrade", "--version", "0.3.0"]);
    common::assert_hostile_people_exported(&s.dir.path().join("var/data"));
}
