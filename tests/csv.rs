//! CSV data migrations run by the binary: the example chain's accidents.csv, failures
//! that must leave file and store untouched, and crashes around the swaps.

mod common;

use common::{Sandbox, build, csv_path, data_files, history, root, state};

fn seed() -> Vec<u8> {
    std::fs::read(root().join("migrations/seeds/accidents.csv")).unwrap()
}

#[test]
fn the_example_chain_transforms_accidents_csv_and_takes_it_back() {
    let s = Sandbox::new();
    s.ok(&["upgrade", "--version", "1.0.1"]);
    assert_eq!(
        std::fs::read(csv_path(&s)).unwrap(),
        seed(),
        "created from the seed"
    );
    s.ok(&["upgrade"]);
    let text = std::fs::read_to_string(csv_path(&s)).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "Num_Acc;an;mois;jour;hrmn;dep;com;lieu;adr;lat;long;gravite;lum;agg;int;atm;col"
    );
    assert!(
        text.contains(";01;053;01-01053;"),
        "leading zeros kept, template applied, the commune numbered within its département"
    );
    assert!(
        text.contains("\"RUE NATIONALE; face au n°37\""),
        "the delimiter inside a field stays quoted"
    );
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(text.as_bytes());
    let at = reader
        .headers()
        .unwrap()
        .iter()
        .position(|c| c == "gravite")
        .unwrap();
    let labels = ["indemne", "tue", "blesse_hospitalise", "blesse_leger"];
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 300);
    assert!(
        rows.iter().all(|r| labels.contains(&&r[at])),
        "severities are labels"
    );
    assert_eq!(
        data_files(&s),
        ["accidents.csv", "accidents_per_departement.csv"]
    );

    s.ok(&["downgrade", "--version", "1.0.1"]);
    assert_eq!(
        std::fs::read(csv_path(&s)).unwrap(),
        seed(),
        "the derived downs restore every byte"
    );
    s.ok(&["downgrade", "--version", "0.0.0"]);
    assert_eq!(
        data_files(&s),
        Vec::<String>::new(),
        "the down of create deletes the file"
    );
}

#[test]
fn the_data_folder_follows_the_flag() {
    let s = Sandbox::new();
    let elsewhere = s.dir.path().join("elsewhere");
    s.ok(&[
        "--data-dir",
        elsewhere.to_str().unwrap(),
        "upgrade",
        "--version",
        "0.8.0",
    ]);
    assert_eq!(
        std::fs::read(elsewhere.join("accidents.csv")).unwrap(),
        seed()
    );
    assert!(!csv_path(&s).exists());
}

/// Runs an upgrade that must fail at 1.1.0, and checks that nothing changed.
fn fails_and_changes_nothing(s: &Sandbox, expected: &[&str]) {
    let db = s.bytes();
    let file = std::fs::read(csv_path(s)).ok();
    let r = s.run(&["upgrade"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    for fragment in expected {
        assert!(
            r.stderr.contains(fragment),
            "no {fragment:?} in:\n{}",
            r.stderr
        );
    }
    assert_eq!(
        std::fs::read(csv_path(s)).ok(),
        file,
        "the CSV file is byte-identical"
    );
    assert_eq!(history(&s.conn()).last().unwrap(), "1.0.1");
    assert!(
        !common::columns(&s.conn(), "accidents")
            .iter()
            .any(|(c, _)| c == "risk_score"),
        "the SQL part was rolled back"
    );
    assert!(
        data_files(s).iter().all(|f| f == "accidents.csv"),
        "temp files left: {:?}",
        data_files(s)
    );
    let _ = db;
}

#[test]
fn a_ragged_row_stops_the_migration() {
    let s = Sandbox::new();
    s.ok(&["upgrade", "--version", "1.0.1"]);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(csv_path(&s))
        .unwrap();
    std::io::Write::write_all(&mut f, b"202199999999;1;1;2021\n").unwrap();
    fails_and_changes_nothing(
        &s,
        &[
            "migration 1.1.0 failed at up step 3",
            "accidents.csv line 302: the row has 4 fields, the header 16",
            "rolled back",
        ],
    );
}

/// The example chain's file comes out the same on one thread in one piece as cut at
/// every few records on three threads; a setting that is not a number of threads stops
/// the run before it starts, naming it.
#[test]
fn one_thread_and_many_write_the_same_file_and_a_bad_setting_changes_nothing() {
    let (one, many) = (Sandbox::new(), Sandbox::new());
    let upgrade = |s: &Sandbox, threads: &str, piece: &str| {
        let mut c = s.command();
        c.env("SEMIGRATE_CSV_THREADS", threads)
            .env("SEMIGRATE_CSV_PIECE", piece)
            .args(["--database", s.db().to_str().unwrap(), "upgrade"]);
        common::Run::from(c.output().unwrap())
    };
    for s in [&one, &many] {
        s.ok(&["upgrade", "--version", "1.0.1"]);
    }
    assert_eq!(upgrade(&one, "1", "1048576").code, 0);
    assert_eq!(upgrade(&many, "3", "100").code, 0);
    assert_eq!(
        std::fs::read(csv_path(&one)).unwrap(),
        std::fs::read(csv_path(&many)).unwrap()
    );

    let s = Sandbox::new();
    s.ok(&["upgrade", "--version", "1.0.1"]);
    let file = std::fs::read(csv_path(&s)).unwrap();
    let r = upgrade(&s, "two", "64");
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(
        r.stderr.trim(),
        "error: SEMIGRATE_CSV_THREADS=`two`: expected a whole number, 1 or more",
        "told before anything starts: no backup, no plan"
    );
    assert_eq!(history(&s.conn()).last().unwrap(), "1.0.1");
    assert_eq!(std::fs::read(csv_path(&s)).unwrap(), file);
    assert_eq!(data_files(&s), ["accidents.csv"]);
}

#[test]
fn a_header_that_is_not_the_expected_one_stops_the_migration() {
    let s = Sandbox::new();
    s.ok(&["upgrade", "--version", "1.0.1"]);
    let text = std::fs::read_to_string(csv_path(&s))
        .unwrap()
        .replacen("Num_Acc;", "num_acc;", 1);
    std::fs::write(csv_path(&s), text).unwrap();
    fails_and_changes_nothing(
        &s,
        &[
            "accidents.csv has the columns num_acc, jour",
            "but the migration expects Num_Acc, jour",
        ],
    );
}

#[test]
fn a_missing_file_stops_the_migration() {
    let s = Sandbox::new();
    s.ok(&["upgrade", "--version", "1.0.1"]);
    std::fs::remove_file(csv_path(&s)).unwrap();
    fails_and_changes_nothing(&s, &["accidents.csv does not exist"]);
}

#[test]
fn an_unmapped_value_stops_the_migration() {
    let s = Sandbox::new();
    s.ok(&["upgrade", "--version", "1.0.1"]);
    let text = std::fs::read_to_string(csv_path(&s)).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let changed = format!(
        "{}9",
        lines[5].strip_suffix(|c: char| c.is_ascii_digit()).unwrap()
    );
    lines[5] = &changed;
    std::fs::write(csv_path(&s), lines.join("\n") + "\n").unwrap();
    fails_and_changes_nothing(
        &s,
        &["accidents.csv line 6: `grav` has the value `9`, which the map does not list"],
    );
}

#[test]
fn a_failing_csv_validation_rolls_the_downgrade_back() {
    let s = Sandbox::new();
    s.ok(&["upgrade", "--version", "0.9.0"]);
    let mut text = std::fs::read_to_string(csv_path(&s)).unwrap();
    let second = text.lines().nth(1).unwrap().to_owned();
    text.push_str(&second);
    text.push('\n');
    std::fs::write(csv_path(&s), &text).unwrap();
    let r = s.run(&["downgrade"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("validation 3 of 0.8.0"), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("`Num_Acc` repeats the value `202100000001`"),
        "{}",
        r.stderr
    );
    assert_eq!(s.current(), "0.9.0");
}

#[test]
fn committed_swaps_are_finished_and_stray_temps_deleted_by_the_next_run() {
    let s = Sandbox::new();
    s.ok(&["upgrade", "--version", "1.0.1"]);
    let target = std::path::absolute(csv_path(&s)).unwrap();
    // A committed migration whose rename did not happen: the journal names the temp.
    let temp = target.with_file_name("accidents.csv.semigrate-tmp1");
    std::fs::write(&temp, b"new content\n").unwrap();
    s.conn()
        .execute(
            "INSERT INTO semigrate_swaps (target, temp) VALUES (?1, ?2)",
            [target.to_str().unwrap(), temp.to_str().unwrap()],
        )
        .unwrap();
    // And a temp of a run that never committed.
    let stray = target.with_file_name("accidents.csv.semigrate-tmp7");
    std::fs::write(&stray, b"half written").unwrap();

    s.ok(&["upgrade", "--version", "1.0.1"]);
    assert_eq!(std::fs::read(&target).unwrap(), b"new content\n");
    assert!(!temp.exists() && !stray.exists());
    let left: i64 = s
        .conn()
        .query_row("SELECT count(*) FROM semigrate_swaps", [], |r| r.get(0))
        .unwrap();
    assert_eq!(left, 0);
}

/// The marker that binds a new data folder to its store is written atomically: a
/// crash while it is written leaves no marker and no temp once the next run is done,
/// and that run binds the folder whole.
#[test]
fn a_crash_while_the_data_folder_is_bound_leaves_it_whole() {
    let b = build(None, &["fault-injection"]);
    assert!(b.ok, "{}", b.output);
    let (_keep, binary) = b.binary.unwrap();
    let s = Sandbox::with_binary(binary);
    s.crash(&["upgrade"], "store-marker");
    let data = s.dir.path().join("var/data");
    assert!(!data.join(".semigrate-store").exists());
    s.ok(&["upgrade"]);
    assert_eq!(
        std::fs::read_to_string(data.join(".semigrate-store")).unwrap(),
        "sqlite ../app.db\n"
    );
    let names: Vec<String> = std::fs::read_dir(&data)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");
}

#[test]
fn a_crash_at_any_fault_point_converges_on_the_next_run() {
    let b = build(None, &["fault-injection"]);
    assert!(b.ok, "{}", b.output);
    let (_keep, binary) = b.binary.unwrap();
    // Up from 1.0.1 and down from 2.2.0 both cross the three CSV migrations, the
    // foreign-key-off rebuild, the Rust step, and the load and export.
    let start = |from: &str| {
        let s = Sandbox::with_binary(binary.clone());
        s.ok(&["upgrade", "--version", from]);
        s
    };
    let up: (&str, &[&str]) = ("1.0.1", &["upgrade"]);
    let down: (&str, &[&str]) = ("2.2.0", &["downgrade", "--version", "1.0.1"]);
    for (from, args) in [up, down] {
        let clean = start(from);
        clean.ok(args);
        let expected = state(&clean);
        // Each point at its first pass, and at its second: in the second migration,
        // once the first one's swaps are carried out and their journal rows wait for
        // the next commit.
        let again = [
            "before-begin",
            "after-step",
            "before-commit",
            "after-commit",
        ];
        let points = common::FAULT_POINTS
            .iter()
            .map(|p| p.to_string())
            .chain(again.iter().map(|p| format!("{p}@2")));
        for point in points {
            let point = point.as_str();
            let s = start(from);
            s.crash(args, point);
            // The dead run's lock died with it: the rerun must not wait at all.
            s.ok(&[&["--lock-timeout", "0"][..], args].concat());
            assert_eq!(
                state(&s),
                expected,
                "after a crash at {point} during {args:?} and a rerun"
            );
        }
    }
}

/// What a power cut right after the commit can leave: the store committed 1.1.0, but
/// the new CSV file's temp never reached the disk. The next run must not take the old
/// file for the new one: it stops (exit 3) naming the file, the version and the
/// backup, changes nothing, and keeps refusing until the data is restored.
#[test]
fn a_committed_csv_whose_new_content_was_lost_is_refused_not_taken_as_done() {
    let b = build(None, &["fault-injection"]);
    assert!(b.ok, "{}", b.output);
    let (_keep, binary) = b.binary.unwrap();
    let s = Sandbox::with_binary(binary);
    s.ok(&["upgrade", "--version", "1.0.1"]);
    s.crash(&["upgrade", "--version", "1.1.0"], "after-commit");
    // The temp's directory entry was never durable: after the power cut it is gone.
    let temps: Vec<String> = data_files(&s)
        .into_iter()
        .filter(|f| f.contains(".semigrate-tmp"))
        .collect();
    assert_eq!(temps.len(), 1, "{temps:?}");
    std::fs::remove_file(csv_path(&s).with_file_name(&temps[0])).unwrap();
    let old_csv = std::fs::read(csv_path(&s)).unwrap();
    let before = state(&s);
    for _ in 0..2 {
        let r = s.run(&["upgrade"]);
        assert_eq!(r.code, 3, "{}", r.stderr);
        for named in [
            "accidents.csv",
            "migration 1.1.0",
            "newest backup",
            "restore",
        ] {
            assert!(r.stderr.contains(named), "{named}: {}", r.stderr);
        }
        assert_eq!(std::fs::read(csv_path(&s)).unwrap(), old_csv);
        assert_eq!(state(&s).history, before.history);
    }
}

/// SIGKILL at spread-out instants of an upgrade and of a downgrade across the CSV
/// migrations, then a rerun: the result must equal a clean run. A few dozen kills by
/// default; `SEMIGRATE_KILL_RUNS=1000` for the long mode.
#[test]
fn a_kill_at_any_instant_converges_on_the_next_run() {
    let runs: u64 = std::env::var("SEMIGRATE_KILL_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(24);
    let start = |from: &str| {
        let s = Sandbox::new();
        s.ok(&["upgrade", "--version", from]);
        s
    };
    let up: (&str, &[&str]) = ("1.0.1", &["upgrade"]);
    let down: (&str, &[&str]) = ("2.2.0", &["downgrade", "--version", "1.0.1"]);
    let mut killed = 0;
    let mut divergences = Vec::new();
    for (from, args) in [up, down] {
        let clean = start(from);
        clean.ok(args);
        let expected = state(&clean);
        for i in 0..runs / 2 {
            // Spread the kills over the run's length (about 25 ms here), reproducibly.
            let delay = std::time::Duration::from_micros((i * 7919) % 25_000);
            let s = start(from);
            let mut child = s.spawn(args);
            std::thread::sleep(delay);
            let _ = child.kill();
            // Killed only if the signal ended it; a run that had finished exits 0.
            if std::os::unix::process::ExitStatusExt::signal(&child.wait().unwrap()) == Some(9) {
                killed += 1;
            }
            s.ok(&[&["--lock-timeout", "0"][..], args].concat());
            if state(&s) != expected {
                divergences.push(format!("{args:?} killed after {delay:?}"));
            }
        }
    }
    eprintln!(
        "{killed} of {runs} runs killed before they ended; {} divergences",
        divergences.len()
    );
    assert!(killed > 0, "no run was killed before it ended");
    assert_eq!(divergences, Vec::<String>::new(), "{killed} kills");
}

/// `replace`, `split` and `filter`, and the checks `not_null`, `unique` over two
/// columns, `matches`, `rows` and `rows_match`, on a fixture chain's real file.
#[test]
fn replace_split_filter_and_the_row_checks_on_a_real_file() {
    let b = build(Some(&root().join("tests/fixtures/good_csv_ops")), &[]);
    assert!(b.ok, "{}", b.output);
    let (_keep, binary) = b.binary.unwrap();
    let s = Sandbox::with_binary(binary);
    s.ok(&["upgrade", "--version", "0.1.0"]);
    let people = s.dir.path().join("var/data/people.csv");
    let seed = std::fs::read(&people).unwrap();
    s.ok(&["upgrade", "--version", "0.2.0"]);
    assert_eq!(
        std::fs::read_to_string(&people).unwrap(),
        "id;name;dep;com;lat\n1;Ada;59;59350;50.5894\n2;Blaise;75;75056;48.8566\n3;Camille;2A;2A004;41.9192\n"
    );
    s.ok(&["verify"]);
    // The file and the table must agree on the count.
    s.conn().execute("INSERT INTO t VALUES (4)", []).unwrap();
    let r = s.run(&["verify"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("people.csv has 3 rows, but `SELECT count(*) FROM t` says 4"),
        "{}",
        r.stderr
    );
    s.conn().execute("DELETE FROM t WHERE id = 4", []).unwrap();
    // Each rule names the line that breaks it.
    let good = std::fs::read_to_string(&people).unwrap();
    for (broken, said) in [
        (
            good.replace(";59350;", ";;"),
            "people.csv line 2: `com` is empty",
        ),
        (
            good.replace("75;75056", "59;59350"),
            "people.csv line 3: (dep, com) repeats the values (59, 59350)",
        ),
        (
            good.replace("48.8566", "48,8566"),
            "people.csv line 3: `lat` has `48,8566`, which does not match",
        ),
        (
            format!("{good}4;Denis;13;13055;43.3\n"),
            "people.csv has 4 rows, expected 3",
        ),
    ] {
        std::fs::write(&people, &broken).unwrap();
        let r = s.run(&["verify"]);
        assert_eq!(r.code, 1, "{said}: {}", r.stderr);
        assert!(r.stderr.contains(said), "{said}: {}", r.stderr);
    }
    std::fs::write(&people, &good).unwrap();
    // The derived down restores every byte.
    s.ok(&["downgrade", "--version", "0.1.0"]);
    assert_eq!(std::fs::read(&people).unwrap(), seed);
    // The filter keeps the mainland, and cannot be undone.
    s.ok(&["upgrade"]);
    assert_eq!(
        std::fs::read_to_string(&people).unwrap(),
        "id;name;dep;com;lat\n1;Ada;59;59350;50.5894\n2;Blaise;75;75056;48.8566\n"
    );
    assert_eq!(s.run(&["downgrade"]).code, 3);
}
