//! Production safety: backups before a run that changes something, and one runner at
//! a time on a store.

mod common;

use common::{Sandbox, history, state};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn backups(s: &Sandbox) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(s.dir.path().join("var/backups"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    found.sort();
    found
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_backup_holds_the_store_and_files_as_they_were_before_the_run() {
    let s = Sandbox::new();
    s.ok(&["upgrade", "--version", "1.0.1"]);
    let db_before = common::user_schema(&s.db());
    let csv_before = std::fs::read(s.dir.path().join("var/data/accidents.csv")).unwrap();
    let r = s.ok(&["upgrade"]);
    let db_copy = backups(&s)
        .into_iter()
        .find(|p| {
            p.to_string_lossy().contains("app-1.0.1-") && p.extension().is_some_and(|e| e == "db")
        })
        .unwrap();
    assert!(
        r.stderr.contains(&format!("backup: {}", db_copy.display())),
        "{}",
        r.stderr
    );
    assert_eq!(mode(&db_copy), 0o600);
    assert_eq!(common::user_schema(&db_copy), db_before);
    assert_eq!(
        history(&rusqlite::Connection::open(&db_copy).unwrap())
            .last()
            .unwrap(),
        "1.0.1"
    );
    let folder = db_copy.with_extension("");
    assert_eq!(mode(&folder), 0o700);
    assert_eq!(mode(&s.dir.path().join("var/backups")), 0o700);
    assert_eq!(
        std::fs::read(folder.join("accidents.csv")).unwrap(),
        csv_before
    );
    assert_eq!(mode(&folder.join("accidents.csv")), 0o600);
    assert!(
        s.ok(&["status"])
            .stdout
            .contains(&format!("backup    {}", db_copy.display()))
    );
}

#[test]
fn no_backup_for_a_dry_run_a_no_op_or_with_no_backup() {
    let s = Sandbox::new();
    s.ok(&["upgrade", "--dry-run"]);
    s.ok(&["--no-backup", "upgrade"]);
    s.ok(&["upgrade"]);
    assert_eq!(backups(&s), Vec::<PathBuf>::new());
}

#[test]
fn only_the_newest_backups_are_kept() {
    let s = Sandbox::new();
    for _ in 0..6 {
        s.ok(&["upgrade"]);
        s.ok(&["downgrade", "--version", "0.0.0"]);
    }
    let dbs: Vec<PathBuf> = backups(&s)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "db"))
        .collect();
    assert_eq!(dbs.len(), 10, "{dbs:?}");
    // Every kept backup keeps its CSV folder, and no folder outlives its backup.
    let folders = backups(&s).into_iter().filter(|p| p.is_dir()).count();
    assert!(folders <= 10);
}

#[test]
fn concurrent_upgrades_apply_each_migration_once() {
    let s = Sandbox::new();
    let db = s.db();
    let children: Vec<_> = (0..8)
        .map(|_| {
            s.command()
                .args(["--database", db.to_str().unwrap(), "--no-backup", "upgrade"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(history(&s.conn()).len(), 8);
    let applied: i64 = s
        .conn()
        .query_row(
            "SELECT count(*) FROM semigrate_log WHERE direction = 'up' AND outcome = 'ok'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(applied, 8, "each migration applied exactly once");
}

/// The versions a racing runner aims at, 0.0.0 (nothing applied) included.
const TARGETS: [&str; 9] = [
    "0.0.0", "0.8.0", "0.9.0", "1.0.0", "1.0.1", "1.1.0", "2.0.0", "2.1.0", "2.2.0",
];

#[test]
fn eight_runners_going_up_and_down_at_once_leave_a_store_a_serial_run_would() {
    let rounds: usize = std::env::var("SEMIGRATE_RACE_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(4);
    let s = Sandbox::new();
    let db = s.db();
    let runners: Vec<_> = (0..8)
        .map(|k| {
            let (binary, dir, db) = (s.binary.clone(), s.dir.path().to_owned(), db.clone());
            std::thread::spawn(move || {
                let mut refused = 0;
                for j in 0..rounds {
                    let target = TARGETS[(k * 3 + j * 5) % TARGETS.len()];
                    let direction = if (k + j) % 2 == 0 && target != "0.0.0" {
                        "upgrade"
                    } else {
                        "downgrade"
                    };
                    let out = Command::new(&binary)
                        .current_dir(&dir)
                        .env("NO_COLOR", "1")
                        .args(["--database", db.to_str().unwrap(), "--no-backup", "-q"])
                        .args([direction, "--version", target])
                        .output()
                        .unwrap();
                    let stderr = String::from_utf8_lossy(&out.stderr);
                    match out.status.code() {
                        Some(0) => {}
                        // Another runner moved the store past the target first: the
                        // command names the other direction and changes nothing. Or no
                        // upgrade has made the store yet, and a downgrade makes none.
                        Some(2) if stderr.contains("use `") || stderr.contains("no store at") => {
                            refused += 1
                        }
                        code => panic!("{direction} {target} ended with {code:?}: {stderr}"),
                    }
                }
                refused
            })
        })
        .collect();
    let refused: usize = runners.into_iter().map(|r| r.join().unwrap()).sum();
    assert!(refused < 8 * rounds, "some runs must have moved the store");

    // Each successful step starts where the previous one landed, from 0.0.0: nothing
    // was applied twice or reverted twice, and no step was lost.
    let conn = s.conn();
    let steps: Vec<(String, String)> = conn
        .prepare(
            "SELECT from_version, to_version FROM semigrate_log \
             WHERE outcome = 'ok' AND version IS NOT NULL ORDER BY id",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(!steps.is_empty());
    let mut at = "0.0.0".to_owned();
    for (from, to) in &steps {
        assert_eq!(
            from, &at,
            "a step started away from the store's version: {steps:?}"
        );
        at = to.clone();
    }
    let current = s.current();
    assert_eq!(at, current);
    eprintln!(
        "{} runs, {refused} sent the other way, {} migrations applied or reverted, ending at {current}",
        8 * rounds,
        steps.len()
    );
    let expected: Vec<String> = TARGETS[1..=TARGETS.iter().position(|v| *v == current).unwrap()]
        .iter()
        .map(|v| v.to_string())
        .collect();
    assert_eq!(history(&conn), expected);

    let serial = Sandbox::new();
    serial.ok(&["--no-backup", "upgrade", "--version", "0.8.0"]);
    if current == "0.0.0" {
        serial.ok(&["--no-backup", "downgrade", "--version", "0.0.0"]);
    } else {
        serial.ok(&["--no-backup", "upgrade", "--version", &current]);
    }
    assert_eq!(state(&s), state(&serial));
}

#[test]
fn a_held_lock_makes_a_second_run_wait_then_refuse() {
    let s = Sandbox::new();
    s.ok(&["upgrade", "--version", "0.8.0"]);
    let mut lock_path = s.db().into_os_string();
    lock_path.push(".lock");
    let lock = std::fs::File::open(&lock_path).unwrap();
    lock.lock().unwrap();
    let before = s.bytes();
    let r = s.run(&["--lock-timeout", "1", "upgrade"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("another semigrate run holds the lock on"),
        "{}",
        r.stderr
    );
    assert_eq!(s.bytes(), before);
    // Reading needs no lock.
    s.ok(&["status"]);
    drop(lock);
    s.ok(&["--lock-timeout", "0", "upgrade"]);
    assert_eq!(s.current(), "2.2.0");
}

#[test]
fn history_lists_every_attempt_with_its_outcome() {
    let s = Sandbox::new();
    assert!(s.ok(&["history"]).stdout.contains("no run recorded"));
    s.ok(&["upgrade", "--version", "0.9.0"]);
    s.ok(&["downgrade"]);
    let json: serde_json::Value =
        serde_json::from_str(&s.ok(&["--json", "history"]).stdout).unwrap();
    let rows = json.as_array().unwrap();
    let seen: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| {
            let f = |k: &str| r[k].as_str().unwrap().to_owned();
            (f("version"), f("direction"), f("outcome"))
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("0.8.0".into(), "up".into(), "ok".into()),
            ("0.9.0".into(), "up".into(), "ok".into()),
            ("0.9.0".into(), "down".into(), "ok".into())
        ]
    );
    assert_eq!(rows[2]["command"], "downgrade");
    let steps: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r["from"].as_str().unwrap(), r["to"].as_str().unwrap()))
        .collect();
    assert_eq!(
        steps,
        [("0.0.0", "0.8.0"), ("0.8.0", "0.9.0"), ("0.9.0", "0.8.0")]
    );
    let table = s.ok(&["history"]).stdout;
    assert!(table.lines().next().unwrap().starts_with("AT "), "{table}");
    assert!(
        table.lines().nth(3).unwrap().contains("0.9.0 -> 0.8.0"),
        "{table}"
    );
    assert_eq!(table.lines().count(), 4);
}

#[test]
fn baseline_adopts_a_store_that_has_no_history() {
    let s = Sandbox::new();
    // A store built by hand, as 1.0.0 would have left it, before semigrate.
    let other = Sandbox::new();
    other.ok(&["upgrade", "--version", "1.0.0"]);
    std::fs::create_dir_all(s.db().parent().unwrap()).unwrap();
    let conn = rusqlite::Connection::open(other.db()).unwrap();
    conn.execute_batch(
        "DROP TABLE semigrate_migrations; DROP TABLE semigrate_log; DROP TABLE semigrate_swaps;",
    )
    .unwrap();
    drop(conn);
    std::fs::copy(other.db(), s.db()).unwrap();
    let schema = common::user_schema(&s.db());

    s.ok(&["baseline", "--version", "1.0.0"]);
    assert_eq!(history(&s.conn()), ["0.8.0", "0.9.0", "1.0.0"]);
    assert_eq!(common::user_schema(&s.db()), schema, "nothing was run");
    let r = s.run(&["baseline", "--version", "1.0.0"]);
    assert_eq!(r.code, 3);
    assert!(r.stderr.contains("already has a history"), "{}", r.stderr);
    assert!(s.ok(&["history"]).stdout.contains("baselined"));
    assert_eq!(s.run(&["baseline", "--version", "1.0.7"]).code, 2);
}

#[test]
fn drift_against_a_binary_built_from_an_edited_chain_and_its_repair() {
    // The chain as applied up to 1.2.0, then the same chain with two specs edited.
    let chain = tempfile::tempdir().unwrap();
    let spec = common::root().join("tests/fixtures/good_destructive");
    for f in ["v1_0_0.toml", "v1_1_0.toml"] {
        std::fs::copy(spec.join(f), chain.path().join(f)).unwrap();
    }
    for (file, table) in [("v1_2_0.toml", "u"), ("v1_3_0.toml", "v")] {
        std::fs::write(
            chain.path().join(file),
            format!(
                "description = \"Create {table}\"\n[[up]]\nsql = \"CREATE TABLE {table} (id INTEGER);\"\n\
                 [[down]]\nsql = \"DROP TABLE {table};\"\n"
            ),
        )
        .unwrap();
    }
    let first = common::build(Some(chain.path()), &[]);
    assert!(first.ok, "{}", first.output);
    let (_k1, applied_bin) = first.binary.unwrap();
    for f in ["v1_0_0.toml", "v1_1_0.toml"] {
        let edited = std::fs::read_to_string(chain.path().join(f)).unwrap()
            + "
[[validate]]
sql = \"SELECT count(*) FROM t\"
expect = 0
";
        std::fs::write(chain.path().join(f), edited).unwrap();
    }
    let second = common::build(Some(chain.path()), &[]);
    assert!(second.ok, "{}", second.output);
    let (_k2, edited_bin) = second.binary.unwrap();

    let s = Sandbox::with_binary(applied_bin);
    s.ok(&["upgrade", "--version", "1.2.0"]);
    let s = Sandbox {
        dir: s.dir,
        binary: edited_bin,
    };
    assert_eq!(s.status()["migrations"][0]["state"], "drifted");
    assert_eq!(s.status()["migrations"][1]["state"], "drifted");
    common::assert_refused_for_drift(&s, "1.0.0, 1.1.0");
    let r = s.run(&["upgrade"]);
    assert!(
        r.stderr.contains("`repair --accept-checksum 1.0.0,1.1.0`"),
        "{}",
        r.stderr
    );

    // The versions are accepted together or not at all: 1.3.0 is not applied.
    let before = s.bytes();
    let r = s.run(&["repair", "--accept-checksum", "1.0.0,1.3.0"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("1.3.0 is not applied"), "{}", r.stderr);
    assert_eq!(s.bytes(), before);

    // A version given twice is accepted once.
    let r = s.ok(&[
        "repair",
        "--accept-checksum",
        "1.0.0",
        "--accept-checksum",
        "1.1.0,1.0.0",
    ]);
    let said = r.stderr.matches("the compiled spec is now the applied one");
    assert_eq!(said.count(), 2, "{}", r.stderr);
    assert!(!r.stderr.contains("has not drifted"), "{}", r.stderr);
    assert_eq!(s.status()["migrations"][0]["state"], "applied");
    assert_eq!(s.status()["migrations"][1]["state"], "applied");
    let history = s.ok(&["history"]).stdout;
    assert_eq!(history.matches("accept-checksum").count(), 2, "{history}");
    s.ok(&["downgrade", "--version", "1.0.0"]);
    assert_eq!(s.current(), "1.0.0");
}

#[test]
fn a_shorter_binary_takes_a_newer_store_back_down() {
    let chain = tempfile::tempdir().unwrap();
    std::fs::copy(
        common::root().join("tests/fixtures/good_destructive/v1_0_0.toml"),
        chain.path().join("v1_0_0.toml"),
    )
    .unwrap();
    let short = common::build(Some(chain.path()), &[]);
    assert!(short.ok, "{}", short.output);
    let (_k1, short_bin) = short.binary.unwrap();
    let full = common::build(
        Some(&common::root().join("tests/fixtures/good_destructive")),
        &[],
    );
    let (_k2, full_bin) = full.binary.unwrap();

    let s = Sandbox::with_binary(full_bin);
    s.ok(&["upgrade"]);
    let s = Sandbox {
        dir: s.dir,
        binary: short_bin,
    };
    assert_eq!(s.status()["migrations"][1]["state"], "ahead");
    assert_eq!(s.run(&["upgrade"]).code, 3);
    s.ok(&["downgrade", "--version", "1.0.0"]);
    assert_eq!(s.current(), "1.0.0");
    let columns = common::columns(&s.conn(), "t");
    assert!(
        columns.iter().any(|(c, _)| c == "name"),
        "the stored down of 1.1.0 ran: {columns:?}"
    );
}

#[test]
fn an_atomic_upgrade_lands_whole_or_not_at_all() {
    let s = Sandbox::new();
    s.ok(&["upgrade", "--version", "1.0.1"]);
    // 2.0.0 will find an orphan usager: the run fails at its last migration.
    common::plant_orphan_usager(&s);
    let csv = s.dir.path().join("var/data/accidents.csv");
    let csv_before = std::fs::read(&csv).unwrap();
    let schema = common::user_schema(&s.db());
    let r = s.run(&["--no-backup", "upgrade", "--atomic"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("migration 2.0.0 failed at the foreign key check"),
        "{}",
        r.stderr
    );
    assert_eq!(
        history(&s.conn()).last().unwrap(),
        "1.0.1",
        "1.1.0 was rolled back with 2.0.0"
    );
    assert_eq!(common::user_schema(&s.db()), schema);
    assert!(
        !common::columns(&s.conn(), "accidents")
            .iter()
            .any(|(c, _)| c == "risk_score")
    );
    assert_eq!(
        std::fs::read(&csv).unwrap(),
        csv_before,
        "1.1.0's CSV change was not swapped in"
    );
    let files: Vec<_> = std::fs::read_dir(csv.parent().unwrap())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.len(), 2, "no temp file left: {files:?}");
    assert!(files.contains(&".semigrate-store".to_owned()), "{files:?}");

    // Without the orphan the same atomic run lands both, as the stepwise run would.
    s.conn()
        .execute_batch("DELETE FROM usagers WHERE Num_Acc = '209900000000';")
        .unwrap();
    s.ok(&["--no-backup", "upgrade", "--atomic"]);
    let stepwise = Sandbox::new();
    stepwise.ok(&["upgrade"]);
    assert_eq!(history(&s.conn()), history(&stepwise.conn()));
    assert_eq!(
        common::user_schema(&s.db()),
        common::user_schema(&stepwise.db())
    );
    assert_eq!(
        std::fs::read(&csv).unwrap(),
        std::fs::read(stepwise.dir.path().join("var/data/accidents.csv")).unwrap()
    );
}

#[test]
fn atomic_refuses_a_plan_with_a_migration_outside_transactions() {
    let s = Sandbox::new();
    s.ok(&["upgrade", "--version", "0.9.0"]);
    let before = s.bytes();
    for args in [
        &["upgrade", "--atomic"][..],
        &["upgrade", "--atomic", "--dry-run"],
    ] {
        let r = s.run(args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(
            r.stderr.contains("--atomic cannot include 1.0.1"),
            "{}",
            r.stderr
        );
    }
    assert_eq!(s.bytes(), before);
    assert_eq!(
        backups(&s).len(),
        0,
        "none: the first upgrade found an empty store, the refused ones ran nothing"
    );
    s.ok(&["upgrade", "--atomic", "--version", "1.0.0"]);
    assert_eq!(s.current(), "1.0.0");
}

#[test]
fn a_version_merged_below_the_store_is_refused_not_applied() {
    // Applied: 1.0.0 and 1.1.0. Then a hotfix 1.0.1 lands in the chain between them.
    let chain = tempfile::tempdir().unwrap();
    let fixture = common::root().join("tests/fixtures/good_irreversible");
    std::fs::copy(
        fixture.join("v1_0_0.toml"),
        chain.path().join("v1_0_0.toml"),
    )
    .unwrap();
    std::fs::write(
        chain.path().join("v1_1_0.toml"),
        "description = \"Index t\"\n[[up]]\nsql = \"CREATE INDEX ix_t ON t (id);\"\n[[down]]\nsql = \"DROP INDEX ix_t;\"\n",
    )
    .unwrap();
    let before = common::build(Some(chain.path()), &[]);
    let (_k1, before_bin) = before.binary.expect("the chain builds");
    std::fs::write(
        chain.path().join("v1_0_1__hotfix.toml"),
        "description = \"Hotfix\"\n[[up]]\nsql = \"CREATE TABLE hotfix (id INTEGER);\"\n[[down]]\nsql = \"DROP TABLE hotfix;\"\n",
    )
    .unwrap();
    let after = common::build(Some(chain.path()), &[]);
    let (_k2, after_bin) = after.binary.expect("the chain with the hotfix builds");

    let s = Sandbox::with_binary(before_bin);
    s.ok(&["upgrade"]);
    let s = Sandbox {
        dir: s.dir,
        binary: after_bin,
    };
    let bytes = s.bytes();
    let r = s.run(&["upgrade"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("1.0.1 is not applied, but the store is already at 1.1.0"),
        "{}",
        r.stderr
    );
    assert_eq!(s.bytes(), bytes);
    assert_eq!(s.status()["migrations"][1]["state"], "pending");
}
