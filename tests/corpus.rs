//! The hostile-input corpus of the binary: bad CSV files, bad stores and bad flags.
//! Each case must be refused with a clear error that names what is wrong, and must
//! change nothing; each needs a store or a process around it. The bad specs are the
//! library's own corpus (`semigrate/tests/specs.rs`).

mod common;

use common::{Sandbox, State, csv_path, state};
use std::path::{Path, PathBuf};

/// A store at 1.0.1: the next upgrade (1.1.0) transforms `accidents.csv`.
fn store_before_the_csv_step() -> Sandbox {
    let s = Sandbox::new();
    s.ok(&["--no-backup", "upgrade", "--version", "1.0.1"]);
    s
}

fn seed_lines() -> Vec<String> {
    std::fs::read_to_string(common::root().join("migrations/seeds/accidents.csv"))
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

/// Runs `args` and requires exit `code` with one line on stderr, `error: …`, that
/// holds `expect`.
fn refused(s: &Sandbox, case: &str, args: &[&str], code: i32, expect: &str) {
    let r = s.run(args);
    assert_eq!(r.code, code, "{case}: {}{}", r.stdout, r.stderr);
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "{case}: one error line expected:\n{}",
        r.stderr
    );
    assert!(lines[0].starts_with("error: "), "{case}: {}", lines[0]);
    assert!(
        lines[0].contains(expect),
        "{case}: expected `{expect}` in {}",
        lines[0]
    );
    assert!(
        lines[0].len() < 1_000,
        "{case}: the error line is {} bytes",
        lines[0].len()
    );
}

/// What a case may not change: the store (its log of attempts aside, which records
/// the refusal), the data folder, and the files beside the database.
fn unchanged(s: &Sandbox, before: &State, case: &str) {
    assert!(
        state(s) == *before,
        "{case}: the store or its files changed"
    );
}

#[test]
fn every_bad_csv_file_is_refused_and_changes_nothing() {
    let lines = seed_lines();
    let (header, rows) = (&lines[0], &lines[1..]);
    let file = |head: &str, body: &[String]| {
        let mut text = format!("{head}\n");
        for row in body {
            text.push_str(row);
            text.push('\n');
        }
        text.into_bytes()
    };
    let with_row = |row: String| {
        let mut body = rows[..3].to_vec();
        body.push(row);
        file(header, &body)
    };
    let cells: Vec<&str> = rows[0].split(';').collect();
    let mut bad_grav = cells.clone();
    *bad_grav.last_mut().unwrap() = "9";
    let unclosed = with_row(format!("{};\"never closed", cells[..15].join(";")));
    let cases: Vec<(&str, Option<Vec<u8>>, &str)> = vec![
        (
            "a row one field short",
            Some(with_row(cells[..15].join(";"))),
            "line 5: the row has 15 fields, the header 16",
        ),
        (
            "a row one field long",
            Some(with_row(format!("{};x", rows[0]))),
            "line 5: the row has 17 fields, the header 16",
        ),
        (
            "a quote never closed",
            Some(unclosed),
            "line 5: a quoted cell is never closed",
        ),
        (
            "a renamed column",
            Some(file(&header.replace("grav", "gravity"), rows)),
            "has the columns Num_Acc",
        ),
        (
            "a missing column",
            Some(file(&header.replace(";grav", ""), rows)),
            "but the migration expects",
        ),
        (
            "invalid UTF-8 in the header",
            Some([b"\xFF".as_slice(), &file(header, rows)].concat()),
            "has the columns \u{fffd}Num_Acc",
        ),
        (
            "commas for semicolons",
            Some(file(&header.replace(';', ","), rows)),
            "has the columns Num_Acc,jour,mois,an,hrmn,lum,dep,com,ag…, but",
        ),
        (
            "old Mac line endings",
            Some(
                file(header, rows)
                    .iter()
                    .map(|&b| if b == b'\n' { b'\r' } else { b })
                    .collect(),
            ),
            "more)",
        ),
        (
            "an empty file",
            Some(Vec::new()),
            "is empty: it has no header line",
        ),
        (
            "a severity outside the map",
            Some(with_row(bad_grav.join(";"))),
            "line 5: `grav` has the value `9`, which the map does not list",
        ),
        (
            "a 10 MB cell outside the map",
            Some(with_row(format!(
                "{};{}",
                cells[..15].join(";"),
                "9".repeat(10 << 20)
            ))),
            "`grav` has the value `99999",
        ),
        ("no file", None, "accidents.csv"),
    ];
    let n = cases.len();
    for (case, bytes, expect) in cases {
        let s = store_before_the_csv_step();
        match bytes {
            Some(bytes) => std::fs::write(csv_path(&s), bytes).unwrap(),
            None => std::fs::remove_file(csv_path(&s)).unwrap(),
        }
        let before = state(&s);
        refused(&s, case, &["-q", "--no-backup", "upgrade"], 1, expect);
        unchanged(&s, &before, case);
    }
    // A folder where the file should be.
    let s = store_before_the_csv_step();
    std::fs::remove_file(csv_path(&s)).unwrap();
    std::fs::create_dir(csv_path(&s)).unwrap();
    let before = state(&s);
    refused(
        &s,
        "a folder for the file",
        &["-q", "--no-backup", "upgrade"],
        1,
        "accidents.csv",
    );
    unchanged(&s, &before, "a folder for the file");
    eprintln!("{} bad CSV files refused", n + 1);
}

#[test]
fn odd_but_valid_csv_files_go_up_and_come_back_byte_for_byte() {
    let lines = seed_lines();
    let (header, rows) = (&lines[0], &lines[1..]);
    let cells: Vec<&str> = rows[0].split(';').collect();
    let big = format!(
        "{};\"{}\";{}",
        cells[..12].join(";"),
        "a;b\"\"c\n".repeat(10 << 17),
        cells[13..].join(";")
    );
    let cases: Vec<(&str, String)> = vec![
        ("a header and no rows", format!("{header}\n")),
        (
            "a BOM",
            format!("\u{feff}{header}\n{}\n", rows[..5].join("\n")),
        ),
        ("a 10 MB cell", format!("{header}\n{big}\n{}\n", rows[1])),
        (
            "NUL bytes and odd Unicode in cells",
            format!(
                "{header}\n{}\n",
                rows[0].replace("RUE", "R\0U\u{202e}E\u{200b}")
            ),
        ),
    ];
    for (case, text) in cases {
        let s = store_before_the_csv_step();
        std::fs::write(csv_path(&s), &text).unwrap();
        s.ok(&["-q", "--no-backup", "upgrade", "--version", "1.1.0"]);
        let up = std::fs::read(csv_path(&s)).unwrap();
        assert!(up.len() >= text.len(), "{case}: the file shrank");
        s.ok(&["-q", "--no-backup", "downgrade", "--version", "1.0.1"]);
        assert!(
            std::fs::read(csv_path(&s)).unwrap() == text.as_bytes(),
            "{case}: the round trip changed the file"
        );
    }
}

/// Every file under the sandbox, with its bytes: for the cases that must not even
/// open the store for writing.
fn tree(s: &Sandbox) -> Vec<(PathBuf, Vec<u8>)> {
    fn walk(dir: &Path, into: &mut Vec<(PathBuf, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                into.push((path.clone(), Vec::new()));
                walk(&path, into);
            } else {
                into.push((path.clone(), std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut all = Vec::new();
    walk(s.dir.path(), &mut all);
    all.sort();
    all
}

/// A store at 0.9.0 whose history holds a row semigrate did not write, for `version`.
fn foreign_history_row(s: &Sandbox, version: &str) {
    s.ok(&["--no-backup", "upgrade", "--version", "0.9.0"]);
    s.conn()
        .execute(
            "INSERT INTO semigrate_migrations \
             (version, description, checksum, applied_at, duration_ms, revert) \
             VALUES (?1, 'from elsewhere', 'x', '2026-01-01T00:00:00Z', 0, '[]')",
            [version],
        )
        .unwrap();
}

/// `status` shows a history row whose down steps do not read (it never runs them);
/// every command that plans refuses it, naming it, and changes nothing.
#[test]
fn a_row_whose_down_steps_do_not_read_is_shown_by_status_and_refused_by_runs() {
    let s = Sandbox::new();
    std::fs::create_dir_all(s.db().parent().unwrap()).unwrap();
    foreign_history_row(&s, "7.0.0");
    let status = s.status();
    assert_eq!(status["current"], "7.0.0");
    let ahead = status["migrations"].as_array().unwrap().last().unwrap();
    assert_eq!(ahead["state"], "ahead");
    assert_eq!(ahead["description"], "from elsewhere");
    let before = tree(&s);
    let expect = "a row for `7.0.0` that semigrate did not write: its down steps do not read";
    for args in [
        &["-q", "--no-backup", "downgrade", "--version", "0.9.0"][..],
        &["-q", "--no-backup", "upgrade"],
        &["-q", "verify"],
    ] {
        refused(&s, &args.join(" "), args, 2, expect);
    }
    assert!(tree(&s) == before, "a file changed");
}

/// A bad store case: its name, how the store is spoiled, the exit code and the
/// error's fragment.
type StoreCase = (&'static str, Box<dyn Fn(&Sandbox)>, i32, &'static str);

#[test]
fn every_bad_store_is_refused_and_left_as_it_was() {
    let prepare: Vec<StoreCase> = vec![
        (
            "a text file, not SQLite",
            Box::new(|s| std::fs::write(s.db(), "id,name\n1,not a database\n").unwrap()),
            2,
            "is not a SQLite database",
        ),
        (
            "a folder where the file should be",
            Box::new(|s| std::fs::create_dir_all(s.db()).unwrap()),
            2,
            "app.db",
        ),
        (
            "a store cut short",
            Box::new(|s| {
                s.ok(&["--no-backup", "upgrade", "--version", "0.9.0"]);
                let bytes = std::fs::read(s.db()).unwrap();
                std::fs::write(s.db(), &bytes[..bytes.len() / 3]).unwrap();
            }),
            2,
            "malformed",
        ),
        (
            "a history row from a newer binary",
            Box::new(|s| foreign_history_row(s, "7.0.0")),
            2,
            "a row for `7.0.0` that semigrate did not write",
        ),
        (
            "a history row that is no version",
            Box::new(|s| foreign_history_row(s, "banana")),
            2,
            "banana",
        ),
        (
            "a history table of another shape",
            Box::new(|s| {
                std::fs::create_dir_all(s.db().parent().unwrap()).unwrap();
                rusqlite::Connection::open(s.db())
                    .unwrap()
                    .execute_batch("CREATE TABLE semigrate_migrations (name TEXT);")
                    .unwrap();
            }),
            2,
            "the table semigrate_migrations is not semigrate's: it lacks the columns version,",
        ),
    ];
    let n = prepare.len();
    for (case, make, code, expect) in prepare {
        let s = Sandbox::new();
        std::fs::create_dir_all(s.db().parent().unwrap()).unwrap();
        make(&s);
        let before = tree(&s);
        refused(&s, case, &["-q", "--no-backup", "upgrade"], code, expect);
        assert!(tree(&s) == before, "{case}: a file changed");
    }
    eprintln!("{n} bad stores refused");
}

#[test]
fn a_full_disk_stops_the_run_and_changes_nothing() {
    let s = store_before_the_csv_step();
    // A file of 3,000 rows, larger than what the process may write below.
    let lines = seed_lines();
    let mut text = format!("{}\n", lines[0]);
    for _ in 0..10 {
        for row in &lines[1..] {
            text.push_str(row);
            text.push('\n');
        }
    }
    std::fs::write(csv_path(&s), &text).unwrap();
    let before = state(&s);
    let db = s.db();
    // `ulimit -f` caps the size of any file the process writes (in blocks of 512
    // bytes in sh); with SIGXFSZ ignored, a write past it fails with EFBIG.
    let out = std::process::Command::new("sh")
        .current_dir(s.dir.path())
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -f 400; exec '{}' -q --no-backup --database '{}' upgrade",
            s.binary.display(),
            db.display()
        ))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: ") && stderr.contains("File too large"),
        "{stderr}"
    );
    unchanged(&s, &before, "a full disk");
}

#[test]
fn every_bad_flag_is_refused_before_anything_is_touched() {
    let cases: [(&[&str], &str); 11] = [
        (
            &["--frobnicate", "status"],
            "unexpected argument '--frobnicate'",
        ),
        (&["upgrad"], "unrecognized subcommand 'upgrad'"),
        (
            &["upgrade", "--version", "9.9.9"],
            "this binary has no migration 9.9.9",
        ),
        (&["upgrade", "--version", "abc"], "invalid value 'abc'"),
        (&["downgrade", "--version", "1.2"], "invalid value '1.2'"),
        (
            &["--lock-timeout", "soon", "upgrade"],
            "invalid value 'soon'",
        ),
        (&["-q", "-v", "status"], "cannot be used with"),
        (&["baseline"], "--version"),
        (
            &["status", "--json", "--json"],
            "cannot be used multiple times",
        ),
        (
            &[
                "--database",
                "postgres://app:s3cret@127.0.0.1:1/app",
                "status",
            ],
            "store postgres://app:***@127.0.0.1:1/app: cannot connect: error connecting to server: Connection refused",
        ),
        (&["--database", "", "status"], "--database"),
    ];
    let s = store_before_the_csv_step();
    let before = tree(&s);
    for (args, expect) in cases {
        let r = s.run_raw(args);
        assert_eq!(r.code, 2, "{args:?}: {}{}", r.stdout, r.stderr);
        let first = r.stderr.lines().next().unwrap_or_default();
        assert!(first.starts_with("error: "), "{args:?}: {}", r.stderr);
        assert!(
            r.stderr.contains(expect),
            "{args:?}: expected `{expect}` in {}",
            r.stderr
        );
        assert!(!r.stderr.contains("s3cret") && !r.stdout.contains("s3cret"));
        assert!(tree(&s) == before, "{args:?}: a file changed");
    }
    eprintln!("{} bad flags refused", cases.len());
}
