//! Fleets of SQLite stores: one run over the tenant files a fleet file lists (paths,
//! globs, included files), with a bounded number at once, a canary, a stop or a
//! continue after a failure, a report, a resume, and a crash at any moment.

mod common;

use common::{Run, Sandbox, history};
use std::path::{Path, PathBuf};

const VERSIONS: [&str; 8] = [
    "0.8.0", "0.9.0", "1.0.0", "1.0.1", "1.1.0", "2.0.0", "2.1.0", "2.2.0",
];

/// `n` empty tenant stores (an empty file is an empty SQLite database) at
/// `t/NNN/app.db`, and a fleet file naming them by a glob.
fn tenants(s: &Sandbox, n: usize) -> Vec<PathBuf> {
    let stores: Vec<PathBuf> = (0..n)
        .map(|i| {
            let dir = s.dir.path().join("t").join(format!("{i:03}"));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("app.db"), "").unwrap();
            dir.join("app.db")
        })
        .collect();
    std::fs::write(
        s.dir.path().join("fleet.txt"),
        "# every tenant\nt/*/app.db\n",
    )
    .unwrap();
    stores
}

/// Makes `store` a file no SQLite can open.
fn spoil(store: &Path) {
    std::fs::write(store, "not a database, and longer than a header would be").unwrap();
}

fn report(s: &Sandbox) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(s.dir.path().join("r.json")).unwrap()).unwrap()
}

fn outcomes(report: &serde_json::Value) -> Vec<String> {
    report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["outcome"].as_str().unwrap().to_owned())
        .collect()
}

/// The versions the store's history holds; none before its first run.
fn stored_history(store: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(store).unwrap();
    let made: bool = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'semigrate_migrations'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    match made {
        true => history(&conn),
        false => Vec::new(),
    }
}

fn fleet(s: &Sandbox, args: &[&str]) -> Run {
    s.run_raw(args)
}

#[test]
fn a_fleet_upgrades_each_store_with_its_own_files_reports_and_resumes() {
    let s = Sandbox::new();
    let mut stores = tenants(&s, 6);
    // One more, by an included file; it does not exist yet, and the upgrade makes it.
    std::fs::write(
        s.dir.path().join("fleet.txt"),
        "t/*/app.db\ninclude more.txt\n",
    )
    .unwrap();
    std::fs::write(s.dir.path().join("more.txt"), "extra/app.db\n").unwrap();
    stores.push(s.dir.path().join("extra/app.db"));
    spoil(&stores[2]);

    let args = [
        "upgrade",
        "--fleet",
        "fleet.txt",
        "--parallel",
        "2",
        "--on-error",
        "continue",
        "--report",
        "r.json",
    ];
    let r = fleet(&s, &args);
    // The failed store's own exit code: it cannot be read as a store (2).
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("error: 6 at 2.2.0, 1 failed: see r.json"),
        "{}",
        r.stderr
    );
    let bad = stores[2].display().to_string();
    assert!(
        r.stderr.contains(&format!("failed: {bad}: ")),
        "{}",
        r.stderr
    );
    let rep = report(&s);
    assert_eq!(rep["finished"], true);
    assert_eq!(rep["goal"], "2.2.0");
    assert_eq!(rep["counts"]["migrated"], 6);
    assert_eq!(rep["counts"]["failed"], 1);
    assert_eq!(rep["targets"][2]["target"], bad.as_str());
    assert!(
        rep["targets"][2]["error"]
            .as_str()
            .unwrap()
            .contains("is not a SQLite database")
    );
    assert_eq!(rep["targets"][6]["target"], stores[6].display().to_string());
    assert_eq!(rep["targets"][6]["from"], "0.0.0");
    for (i, store) in stores.iter().enumerate().filter(|(i, _)| *i != 2) {
        assert_eq!(stored_history(store), VERSIONS, "{i}");
        let dir = store.parent().unwrap();
        // Each store's files are where a run on it alone puts them.
        assert!(dir.join("data/accidents.csv").is_file(), "{i}");
        let state: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("migration_state.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(state["current"], "2.2.0");
    }
    // No temp file of the report is left.
    let left: Vec<_> = std::fs::read_dir(s.dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");

    // The store mended, a second run does it alone and leaves the others as they are.
    std::fs::write(&stores[2], "").unwrap();
    let before = std::fs::read(&stores[0]).unwrap();
    let r = fleet(
        &s,
        &["upgrade", "--fleet", "fleet.txt", "--report", "r.json"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "7 at 2.2.0 (1 migrated, 6 already there)\n");
    assert_eq!(
        outcomes(&report(&s)),
        [
            "unchanged",
            "unchanged",
            "migrated",
            "unchanged",
            "unchanged",
            "unchanged",
            "unchanged"
        ]
    );
    assert_eq!(std::fs::read(&stores[0]).unwrap(), before);

    let r = fleet(&s, &["status", "--fleet", "fleet.txt"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "fleet     7 stores\n2.2.0     7 (up to date)\n");

    // A downgrade of a fleet lands every store on the version given, and only then.
    let r = fleet(&s, &["downgrade", "--fleet", "fleet.txt"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("needs --version"), "{}", r.stderr);
    let r = fleet(
        &s,
        &["downgrade", "--fleet", "fleet.txt", "--version", "1.0.0"],
    );
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "7 at 1.0.0\n"),
        "{}",
        r.stderr
    );
    assert_eq!(stored_history(&stores[4]), VERSIONS[..3]);
    let r = fleet(&s, &["--json", "status", "--fleet", "fleet.txt"]);
    let status: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        status["versions"],
        serde_json::json!([{"version": "1.0.0", "stores": 7}])
    );
    assert_eq!(status["targets"][0]["standing"]["pending"], 5);
    let r = fleet(&s, &["verify", "--fleet", "fleet.txt"]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "7 at 1.0.0\n"),
        "{}",
        r.stderr
    );
}

/// `--fleet` without a file runs over the configuration's table: this chain's
/// `sqlite = ["var/tenants/*/app.db"]`, relative to the working directory.
#[test]
fn without_a_file_the_fleet_is_the_configured_one() {
    let s = Sandbox::new();
    let r = fleet(&s, &["upgrade", "--fleet"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("[package.metadata.semigrate.fleet]:1: ")
            && r.stderr.contains("var/tenants/*/app.db matches no file"),
        "{}",
        r.stderr
    );
    for t in ["north", "south"] {
        let dir = s.dir.path().join("var/tenants").join(t);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("app.db"), "").unwrap();
    }
    let r = fleet(&s, &["upgrade", "--fleet", "--version", "1.0.0"]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "2 at 1.0.0\n"),
        "{}",
        r.stderr
    );
    let south = s.dir.path().join("var/tenants/south/app.db");
    assert_eq!(stored_history(&south), VERSIONS[..3]);
}

#[test]
fn after_a_failure_stop_starts_no_store_and_a_failed_canary_stops_the_rest() {
    let s = Sandbox::new();
    let stores = tenants(&s, 6);
    spoil(&stores[1]);
    let r = fleet(
        &s,
        &[
            "upgrade",
            "--fleet",
            "fleet.txt",
            "--parallel",
            "1",
            "--report",
            "r.json",
        ],
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("1 at 2.2.0, 1 failed, 4 not started: see r.json"),
        "{}",
        r.stderr
    );
    assert_eq!(
        outcomes(&report(&s)),
        [
            "migrated", "failed", "skipped", "skipped", "skipped", "skipped"
        ]
    );
    // A store not started is not touched: no data folder, no state file, still empty.
    for store in &stores[2..] {
        assert_eq!(std::fs::metadata(store).unwrap().len(), 0);
        assert!(!store.parent().unwrap().join("data").exists());
    }

    // With a canary, a failure among the first K stops the run even when the rest
    // would continue.
    let r = fleet(
        &s,
        &[
            "upgrade",
            "--fleet",
            "fleet.txt",
            "--canary",
            "3",
            "--on-error",
            "continue",
            "--parallel",
            "1",
            "--report",
            "r.json",
        ],
    );
    assert_eq!(r.code, 2);
    assert_eq!(
        outcomes(&report(&s)),
        [
            "unchanged",
            "failed",
            "skipped",
            "skipped",
            "skipped",
            "skipped"
        ]
    );
    // Past the canary, continue tries every store.
    std::fs::write(&stores[1], "").unwrap();
    spoil(&stores[4]);
    let r = fleet(
        &s,
        &[
            "upgrade",
            "--fleet",
            "fleet.txt",
            "--canary",
            "2",
            "--on-error",
            "continue",
            "--report",
            "r.json",
        ],
    );
    assert_eq!(r.code, 2);
    assert_eq!(
        outcomes(&report(&s)),
        [
            "unchanged",
            "migrated",
            "migrated",
            "migrated",
            "failed",
            "migrated"
        ]
    );
}

#[test]
fn a_locked_store_is_shown_and_waited_for_and_the_others_go_on() {
    let s = Sandbox::new();
    let stores = tenants(&s, 3);
    assert_eq!(fleet(&s, &["upgrade", "--fleet", "fleet.txt"]).code, 0);
    // Another run holds the lock of the second store.
    let lock = std::fs::File::create(format!("{}.lock", stores[1].display())).unwrap();
    lock.lock().unwrap();
    let r = fleet(&s, &["status", "--fleet", "fleet.txt"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .ends_with(&format!("locked    1: {}\n", stores[1].display())),
        "{}",
        r.stdout
    );
    let r = fleet(
        &s,
        &[
            "downgrade",
            "--fleet",
            "fleet.txt",
            "--version",
            "2.0.0",
            "--wait",
            "0",
            "--on-error",
            "continue",
        ],
    );
    // Refused for safety, as a run on that store alone would be (3).
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("2 at 2.0.0, 1 failed; the first: "),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("holds the lock"), "{}", r.stderr);
    assert_eq!(stored_history(&stores[1]), VERSIONS);
    drop(lock);
    let r = fleet(&s, &["status", "--fleet", "fleet.txt"]);
    assert_eq!(
        r.stdout,
        "fleet     3 stores\n2.2.0     1 (up to date)\n2.0.0     2\n"
    );
}

#[test]
fn bad_fleet_input_is_one_line_naming_it_and_changes_nothing() {
    let s = Sandbox::new();
    let stores = tenants(&s, 2);
    let write = |text: &str| std::fs::write(s.dir.path().join("fleet.txt"), text).unwrap();
    for (text, args, words) in [
        (
            "t/*/app.db\npostgres://h/db tenant_1\n",
            &["upgrade", "--fleet", "fleet.txt"][..],
            "fleet.txt:2: after a URL, write `schema NAME` or `schemas QUERY`",
        ),
        (
            "t/*/app.db\n\nnone/*/app.db\n",
            &["upgrade", "--fleet", "fleet.txt"][..],
            "fleet.txt:3: ",
        ),
        (
            "include nowhere.txt\n",
            &["status", "--fleet", "fleet.txt"][..],
            "fleet.txt:1: cannot read ",
        ),
        (
            "t/*/app.db\n",
            &["upgrade", "--fleet", "fleet.txt", "--database", "x.db"][..],
            "--database names one store's place",
        ),
        (
            "t/*/app.db\n",
            &["upgrade", "--fleet", "fleet.txt", "--dry-run"][..],
            "--dry-run prints one store's plan",
        ),
        (
            "# nothing\n",
            &["verify", "--fleet", "fleet.txt"][..],
            "the fleet has no store",
        ),
        (
            "t/*/app.db\n",
            &["upgrade", "--fleet", "missing.txt"][..],
            "missing.txt",
        ),
        (
            "t/*/app.db\n",
            &["upgrade", "--parallel", "2"][..],
            "--fleet",
        ),
    ] {
        write(text);
        let r = fleet(&s, args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(words), "{args:?}: {}", r.stderr);
        if !args.contains(&"--parallel") {
            assert_eq!(r.stderr.lines().count(), 1, "{args:?}: {}", r.stderr);
        }
        for store in &stores {
            assert_eq!(std::fs::metadata(store).unwrap().len(), 0, "{args:?}");
        }
        assert!(!s.dir.path().join("var").exists(), "{args:?}");
    }
}

/// A fleet run killed at moments spread over its course, again and again: after each
/// kill every store is fully at one version of the chain (its history a prefix of the
/// chain, its schema the one compiled for it), and the next run picks up where the
/// last stopped; at the end every store is as a run on it alone leaves it.
#[test]
fn a_fleet_killed_at_any_moment_leaves_every_store_at_one_version() {
    let s = Sandbox::new();
    let stores = tenants(&s, 100);
    let alone = Sandbox::new();
    alone.ok(&["upgrade"]);
    let expected_csv = std::fs::read(alone.dir.path().join("var/data/accidents.csv")).unwrap();

    // Moments from the start of the run to past where a run of 100 stores ends on
    // this machine's debug build, in a different order each time.
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    let mut next = seed;
    let mut kills = 0;
    for round in 0..12 {
        next = next
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = 20 + (next >> 33) % 600;
        let mut child = s
            .command()
            .args(["upgrade", "--fleet", "fleet.txt", "--parallel", "2"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay));
        if child.try_wait().unwrap().is_none() {
            kills += 1;
        }
        let _ = child.kill();
        child.wait().unwrap();
        let r = fleet(&s, &["--json", "status", "--fleet", "fleet.txt"]);
        assert_eq!(r.code, 0, "seed {seed} round {round}: {}", r.stderr);
        let status: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(
            status["schema_differs"],
            serde_json::json!([]),
            "seed {seed}"
        );
        assert_eq!(status["drifted"], serde_json::json!([]), "seed {seed}");
        for store in &stores {
            let h = stored_history(store);
            assert_eq!(
                h,
                VERSIONS[..h.len()],
                "seed {seed} round {round}: {store:?}"
            );
        }
    }
    assert!(kills > 0, "seed {seed}: no run was killed mid-fleet");
    let r = fleet(&s, &["upgrade", "--fleet", "fleet.txt"]);
    assert_eq!(r.code, 0, "seed {seed}: {}", r.stderr);
    assert!(r.stdout.starts_with("100 at 2.2.0"), "{}", r.stdout);
    let r = fleet(&s, &["verify", "--fleet", "fleet.txt"]);
    assert_eq!(r.code, 0, "seed {seed}: {}", r.stderr);
    for store in &stores {
        let dir = store.parent().unwrap();
        assert_eq!(
            std::fs::read(dir.join("data/accidents.csv")).unwrap(),
            expected_csv,
            "seed {seed}: {store:?}"
        );
        let temps: Vec<_> = std::fs::read_dir(dir.join("data"))
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains("tmp"))
            .collect();
        assert!(temps.is_empty(), "seed {seed}: {temps:?}");
    }
}
