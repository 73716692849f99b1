//! The same binary against the local PostgreSQL server (127.0.0.1:5432, user
//! postgres): each test gets a database of its own, dropped afterwards. A stopped
//! server is started; one that cannot be reached fails the tests, never skips them.

mod common;

use common::{Run, Sandbox};
use postgres::{Client, NoTls};
use semigrate::__private::{Revert, SqlText, Step};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};

const SERVER: &str = "postgres://postgres@127.0.0.1:5432";
/// Given in every URL: the server trusts local connections, so it is never checked,
/// and it must never be printed or stored.
const PASSWORD: &str = "n0t-t0-be-seen";

/// A fresh database, dropped with its connections when the test ends.
struct Database {
    name: String,
}

impl Database {
    fn new() -> Database {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "semigrate_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut admin = admin();
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
            .unwrap();
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        Database { name }
    }

    /// The URL semigrate is given, password included.
    fn url(&self) -> String {
        format!(
            "postgres://postgres:{PASSWORD}@127.0.0.1:5432/{}",
            self.name
        )
    }

    /// Where a store on this database keeps its files: `var/<database>/` in the
    /// sandbox, apart from any SQLite store's.
    fn folder(&self, s: &Sandbox) -> std::path::PathBuf {
        s.dir.path().join("var").join(&self.name)
    }

    fn client(&self) -> Client {
        Client::connect(&format!("{SERVER}/{}", self.name), NoTls).unwrap()
    }

    /// The user's tables and their columns with types, semigrate's own left out.
    fn schema(&self) -> Vec<(String, String, String)> {
        self.client()
            .query(
                "SELECT table_name::text, column_name::text, data_type::text \
                 FROM information_schema.columns WHERE table_schema = 'public' \
                 AND table_name NOT LIKE 'semigrate_%' ORDER BY 1, 2",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect()
    }

    fn history(&self) -> Vec<String> {
        let mut versions: Vec<String> = self
            .client()
            .query("SELECT version FROM semigrate_migrations", &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        versions.sort_by_key(|v| semigrate::__private::SemVer::parse(v).unwrap());
        versions
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = admin().batch_execute(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
    }
}

fn admin() -> Client {
    static STARTED: std::sync::Once = std::sync::Once::new();
    let connect = || Client::connect(&format!("{SERVER}/postgres"), NoTls);
    if connect().is_err() {
        // The machine's server may simply be stopped: start it, as CI does, once.
        STARTED.call_once(|| {
            let _ = std::process::Command::new("sh")
                .arg("-c")
                .arg("pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start")
                .status();
            for _ in 0..60 {
                if connect().is_ok() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(500));
            }
        });
    }
    connect().unwrap_or_else(|e| {
        panic!(
            "PostgreSQL must run on 127.0.0.1:5432 for these tests ({e}); starting it with \
             `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` failed"
        )
    })
}

/// Runs semigrate in the sandbox against `db`.
fn run(s: &Sandbox, db: &Database, args: &[&str]) -> Run {
    let url = db.url();
    let mut all = vec!["--database", url.as_str()];
    all.extend_from_slice(args);
    s.run_raw(&all)
}

fn ok(s: &Sandbox, db: &Database, args: &[&str]) -> Run {
    let r = run(s, db, args);
    assert_eq!(r.code, 0, "semigrate {args:?}:\n{}{}", r.stdout, r.stderr);
    r
}

fn current(s: &Sandbox, db: &Database) -> String {
    let status: serde_json::Value =
        serde_json::from_str(&ok(s, db, &["--json", "status"]).stdout).unwrap();
    status["current"].as_str().unwrap().to_owned()
}

#[test]
fn the_example_chain_goes_up_and_down_on_postgresql() {
    let (s, db) = (Sandbox::new(), Database::new());
    ok(&s, &db, &["--no-backup", "upgrade"]);
    assert_eq!(current(&s, &db), "2.2.0");
    assert_eq!(
        db.history(),
        [
            "0.8.0", "0.9.0", "1.0.0", "1.0.1", "1.1.0", "2.0.0", "2.1.0", "2.2.0"
        ]
    );
    let schema = db.schema();
    assert!(
        schema.contains(&("accidents".into(), "lat".into(), "real".into())),
        "{schema:?}"
    );
    assert!(schema.contains(&("accidents".into(), "risk_score".into(), "real".into())));
    let csv = std::fs::read_to_string(db.folder(&s).join("data/accidents.csv")).unwrap();
    assert!(
        csv.starts_with("Num_Acc;an;mois;jour;hrmn;dep;com;lieu;"),
        "{csv:.200}"
    );

    ok(&s, &db, &["--no-backup", "downgrade", "--version", "1.0.0"]);
    assert_eq!(current(&s, &db), "1.0.0");
    assert!(
        db.schema()
            .contains(&("accidents".into(), "lat".into(), "text".into()))
    );
    ok(&s, &db, &["--no-backup", "downgrade", "--version", "0.0.0"]);
    assert_eq!(db.schema(), vec![]);
    assert_eq!(db.history(), Vec::<String>::new());
    assert!(!db.folder(&s).join("data/accidents.csv").exists());
    // Back up to a target, through the same chain.
    ok(&s, &db, &["--no-backup", "upgrade", "--version", "1.1.0"]);
    assert_eq!(current(&s, &db), "1.1.0");
}

/// A `Migrator` runs the same operations on a server as on a SQLite connection, and
/// the binary reads back what it did.
#[test]
fn the_migrator_runs_on_postgresql_too() {
    use accidents::{CHAIN, Version};
    let (s, db) = (Sandbox::new(), Database::new());
    let migrator = semigrate::Migrator::new(&CHAIN).data_dir(s.dir.path().join("var/data"));
    let mut server = semigrate::Postgres::url(db.url());
    assert_eq!(
        migrator.upgrade(&mut server).unwrap(),
        Version::V2_2_0.semver()
    );
    assert_eq!(current(&s, &db), "2.2.0");
    migrator.verify(&mut server).unwrap();
    migrator.require(&mut server, Version::V2_2_0).unwrap();
    let status = migrator.status(&mut server).unwrap();
    assert_eq!((status.engine.as_str(), status.pending), ("postgres", 0));
    assert!(!status.database.contains(PASSWORD), "{}", status.database);
    let at = migrator
        .downgrade(&mut server, semigrate::SemVer::ZERO)
        .unwrap();
    assert_eq!(at, semigrate::SemVer::ZERO);
    assert_eq!(db.schema(), vec![]);
    let logged = migrator.history(&mut server).unwrap();
    assert_eq!(logged.len(), 16, "eight up, eight down");
    // A schema that does not exist is refused with the way to make it.
    let mut nowhere = semigrate::Postgres::url(db.url()).schema("nowhere");
    let e = migrator.upgrade(&mut nowhere).unwrap_err();
    assert!(e.to_string().contains("CREATE SCHEMA"), "{e}");
}

#[test]
fn a_failing_migration_is_rolled_back_whole() {
    let (s, db) = (Sandbox::new(), Database::new());
    ok(&s, &db, &["--no-backup", "upgrade", "--version", "1.1.0"]);
    let csv = db.folder(&s).join("data/accidents.csv");
    let before = (db.schema(), std::fs::read(&csv).unwrap());
    // 2.0.0 adds CHECK (grav BETWEEN 1 AND 4): a 7 makes its up fail.
    db.client()
        .batch_execute("UPDATE accidents SET grav = 7 WHERE num_acc = '202100000001'")
        .unwrap();
    let r = run(&s, &db, &["-q", "--no-backup", "upgrade"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("accidents_grav_check"), "{}", r.stderr);
    assert_eq!(current(&s, &db), "1.1.0");
    assert_eq!((db.schema(), std::fs::read(&csv).unwrap()), before);
    let failed: i64 = db
        .client()
        .query_one(
            "SELECT count(*) FROM semigrate_log WHERE outcome <> 'ok'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(failed, 1, "the failed attempt is in the log");
}

#[test]
fn a_validation_that_fails_rolls_the_migration_back() {
    let (s, db) = (Sandbox::new(), Database::new());
    ok(&s, &db, &["--no-backup", "upgrade", "--version", "1.0.1"]);
    // 1.1.0 checks every risk_score is within 0..1; a trigger spoils one as it is set.
    db.client()
        .batch_execute(
            "CREATE FUNCTION spoil() RETURNS trigger AS $$ BEGIN \
               IF NEW.num_acc = '202100000001' THEN NEW.risk_score := 5; END IF; RETURN NEW; \
             END $$ LANGUAGE plpgsql; \
             CREATE TRIGGER spoil BEFORE UPDATE ON accidents FOR EACH ROW EXECUTE FUNCTION spoil();",
        )
        .unwrap();
    let r = run(
        &s,
        &db,
        &["-q", "--no-backup", "upgrade", "--version", "1.1.0"],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("validation"), "{}", r.stderr);
    assert_eq!(current(&s, &db), "1.0.1");
    assert!(!db.schema().iter().any(|(_, c, _)| c == "risk_score"));
}

#[test]
fn drift_and_a_store_ahead_of_the_binary_are_refused_up() {
    let (s, db) = (Sandbox::new(), Database::new());
    ok(&s, &db, &["--no-backup", "upgrade", "--version", "1.0.0"]);
    db.client()
        .batch_execute(
            "UPDATE semigrate_migrations SET checksum = 'edited' WHERE version = '0.9.0'",
        )
        .unwrap();
    let r = run(&s, &db, &["-q", "--no-backup", "upgrade"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("0.9.0"), "{}", r.stderr);
    assert_eq!(current(&s, &db), "1.0.0");

    // What a newer binary's 2.3.0 left behind: its table and its history row.
    let (s, db) = (Sandbox::new(), Database::new());
    ok(&s, &db, &["--no-backup", "upgrade"]);
    let revert = Revert {
        steps: vec![Step::Sql(SqlText::portable("DROP TABLE vehicules;"))],
        transaction: true,
        foreign_keys: true,
        irreversible: false,
    };
    let mut client = db.client();
    client
        .batch_execute("CREATE TABLE vehicules (id INTEGER PRIMARY KEY)")
        .unwrap();
    client
        .execute(
            "INSERT INTO semigrate_migrations VALUES ('2.3.0', 'Add vehicules', 'abc', '2026-01-01', 1, $1)",
            &[&serde_json::to_string(&revert).unwrap()],
        )
        .unwrap();
    let r = run(&s, &db, &["-q", "--no-backup", "upgrade"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("2.3.0"), "{}", r.stderr);
    assert_eq!(db.history().len(), 9);
    // Its stored down takes it back.
    ok(&s, &db, &["--no-backup", "downgrade", "--version", "2.2.0"]);
    assert_eq!(current(&s, &db), "2.2.0");
    assert!(!db.schema().iter().any(|(t, _, _)| t == "vehicules"));
}

#[test]
fn eight_concurrent_runners_apply_each_migration_once() {
    let (s, db) = (Sandbox::new(), Database::new());
    let url = db.url();
    let children: Vec<_> = (0..8)
        .map(|_| {
            s.command()
                .args(["--database", &url, "--no-backup", "-q", "upgrade"])
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
    assert_eq!(db.history().len(), 8);
    let applied: i64 = db
        .client()
        .query_one(
            "SELECT count(*) FROM semigrate_log WHERE direction = 'up' AND outcome = 'ok'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(applied, 8, "each migration applied exactly once");
}

#[test]
fn the_password_is_never_printed_nor_stored() {
    let (s, db) = (Sandbox::new(), Database::new());
    let mut seen = String::new();
    for args in [
        &["upgrade", "--version", "1.0.0", "--dry-run"][..],
        &["upgrade", "--version", "1.0.0"],
        &["-v", "upgrade", "--version", "1.1.0"],
        &["status"],
        &["--json", "status"],
        &["history"],
        &["--json", "history"],
        &["list"],
        &["verify"],
        &["downgrade", "--version", "1.2.3"],
        &["--schema", "nowhere\"", "status"],
    ] {
        let r = run(&s, &db, args);
        seen.push_str(&r.stdout);
        seen.push_str(&r.stderr);
    }
    // A server that refuses the connection: the error names the URL without it.
    let r = s.run_raw(&[
        "--database",
        &format!("postgres://postgres:{PASSWORD}@127.0.0.1:1/x"),
        "status",
    ]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("postgres://postgres:***@127.0.0.1:1/x"),
        "{}",
        r.stderr
    );
    seen.push_str(&r.stderr);
    assert!(seen.contains("postgres:***@"), "{seen}");
    assert!(!seen.contains(PASSWORD), "{seen}");

    let state = std::fs::read_to_string(db.folder(&s).join("migration_state.json")).unwrap();
    assert!(
        state.contains("***") && !state.contains(PASSWORD),
        "{state}"
    );
    let log: Vec<String> = db
        .client()
        .query("SELECT row_to_json(l)::text FROM semigrate_log l", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        !log.is_empty() && !log.iter().any(|l| l.contains(PASSWORD)),
        "{log:?}"
    );
}

#[test]
fn backups_are_pg_dump_files_and_without_pg_dump_a_run_asks_for_no_backup() {
    let (s, db) = (Sandbox::new(), Database::new());
    // The first upgrade of an empty database has nothing to back up, and says so.
    let r = ok(&s, &db, &["upgrade", "--version", "0.8.0"]);
    assert!(
        r.stderr.contains("no backup: the store is empty"),
        "{}",
        r.stderr
    );
    assert!(!db.folder(&s).join("backups").exists());
    ok(&s, &db, &["upgrade", "--version", "0.9.0"]);
    let backups: Vec<_> = std::fs::read_dir(db.folder(&s).join("backups"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "dump"))
        .collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(&backups[0]).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    // pg_dump's custom format starts with its magic.
    assert!(std::fs::read(&backups[0]).unwrap().starts_with(b"PGDMP"));

    let empty = tempfile::tempdir().unwrap();
    let url = db.url();
    let r: Run = s
        .command()
        .env("PATH", empty.path())
        .args(["--database", &url, "-q", "upgrade", "--version", "1.0.0"])
        .output()
        .unwrap()
        .into();
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("pg_dump") && r.stderr.contains("--no-backup"),
        "{}",
        r.stderr
    );
    assert_eq!(current(&s, &db), "0.9.0");
}

#[test]
fn the_build_replays_the_postgresql_text_in_a_scratch_database() {
    use semigrate::__private::{Engine, SemVer};
    use semigrate::build::Config;
    let db = Database::new();
    let url = format!("{SERVER}/{}", db.name);
    let config = Config {
        engines: vec![Engine::Sqlite, Engine::Postgres],
        ..Config::default()
    };
    let prove = |postgres: &str| {
        let dir = tempfile::tempdir().unwrap();
        let spec = format!(
            "description = \"x\"\n[[up]]\nsql = \"CREATE TABLE t (id INTEGER);\"\n\
             [[up]]\nsqlite = \"CREATE TABLE u (id INTEGER);\"\npostgres = \"{postgres}\"\n\
             [[down]]\nsql = \"DROP TABLE t;\"\n[[down]]\nsqlite = \"DROP TABLE u;\"\n\
             postgres = \"DROP TABLE u;\"\n"
        );
        std::fs::write(dir.path().join("v0_1_0__t.toml"), spec).unwrap();
        let package = SemVer::parse("1.0.0").unwrap();
        semigrate::build::prove(dir.path(), &config, package, Some(&url))
            .map(|_| ())
            .map_err(|e| {
                e.iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            })
    };
    assert_eq!(prove("CREATE TABLE u (id INTEGER);"), Ok(()));
    let e = prove("CREATE TABLE u (id INTEGR);").unwrap_err();
    assert!(
        e.contains("v0_1_0__t.toml")
            && e.contains("up step 2 fails on PostgreSQL: type \"integr\" does not exist"),
        "{e}"
    );
    let e = prove("CREATE TABLE u (id INTEGER); CREATE TABLE w (id INTEGER);").unwrap_err();
    assert!(
        e.contains("down does not undo up on PostgreSQL: ")
            && e.contains("table w is left behind by down"),
        "{e}"
    );
    // That the scratch database is dropped is semigrate/tests/proof.rs's to check, where
    // no other replay runs beside it.
}

#[test]
fn schema_puts_the_tables_and_the_history_in_that_schema() {
    let (s, db) = (Sandbox::new(), Database::new());
    // A schema that is not there yet is refused, in one line, before anything is
    // written (the tables listed below would show a stray one in `public`).
    let r = run(&s, &db, &["--schema", "app", "--no-backup", "upgrade"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("has no schema app: create it first (CREATE SCHEMA \"app\")"),
        "{}",
        r.stderr
    );
    db.client().batch_execute("CREATE SCHEMA app").unwrap();
    ok(
        &s,
        &db,
        &[
            "--schema",
            "app",
            "--no-backup",
            "upgrade",
            "--version",
            "0.9.0",
        ],
    );
    let tables: Vec<(String, String)> = db
        .client()
        .query(
            "SELECT table_schema::text, table_name::text FROM information_schema.tables \
             WHERE table_schema IN ('app', 'public') ORDER BY 1, 2",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let app = |t: &str| ("app".to_owned(), t.to_owned());
    assert_eq!(
        tables,
        [
            app("accidents"),
            app("semigrate_log"),
            app("semigrate_migrations"),
            app("semigrate_swaps"),
            app("usagers")
        ]
    );
    // Seen from the default schema, the store is empty; from `app`, at 0.9.0.
    assert_eq!(current(&s, &db), "0.0.0");
    let status: serde_json::Value =
        serde_json::from_str(&ok(&s, &db, &["--schema", "app", "--json", "status"]).stdout)
            .unwrap();
    assert_eq!(status["current"], "0.9.0");
}

#[test]
fn a_held_advisory_lock_makes_a_run_wait_then_refuse() {
    let (s, db) = (Sandbox::new(), Database::new());
    // Another session holds the lock a run would take.
    let mut holder = db.client();
    holder
        .batch_execute(
            "SELECT pg_advisory_lock(hashtext(current_database() || '.' || \
             current_schema() || '.semigrate_migrations'))",
        )
        .unwrap();
    let r = run(
        &s,
        &db,
        &["-q", "--no-backup", "--lock-timeout", "1", "upgrade"],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("locked by another semigrate run"),
        "{}",
        r.stderr
    );
    assert_eq!(current(&s, &db), "0.0.0");
    drop(holder);
    ok(&s, &db, &["--no-backup", "upgrade", "--version", "0.8.0"]);
}

#[test]
fn a_crash_at_any_fault_point_converges_on_postgresql_too() {
    let b = common::build(None, &["fault-injection"]);
    assert!(b.ok, "{}", b.output);
    let (_keep, binary) = b.binary.unwrap();
    let start = |from: &str| {
        let (s, db) = (Sandbox::with_binary(binary.clone()), Database::new());
        ok(&s, &db, &["--no-backup", "upgrade", "--version", from]);
        (s, db)
    };
    // What a store and its data folder hold after a run.
    let state = |s: &Sandbox, db: &Database| {
        (
            db.history(),
            db.schema(),
            std::fs::read(common::csv_path(s)).ok(),
            common::data_files(s),
        )
    };
    let up: (&str, &[&str]) = ("1.0.1", &["--no-backup", "upgrade"]);
    let down: (&str, &[&str]) = ("2.2.0", &["--no-backup", "downgrade", "--version", "1.0.1"]);
    for (from, args) in [up, down] {
        let (clean, clean_db) = start(from);
        ok(&clean, &clean_db, args);
        let expected = state(&clean, &clean_db);
        for point in common::FAULT_POINTS {
            let (s, db) = start(from);
            s.crash_on(&db.url(), args, point);
            // The dead run's session, and its advisory lock, ended with it.
            ok(&s, &db, &[&["--lock-timeout", "5"][..], args].concat());
            assert_eq!(
                state(&s, &db),
                expected,
                "after a crash at {point} during {args:?}"
            );
        }
    }
}

/// `load` and `export` on PostgreSQL (COPY in and out): the same fixture chain as
/// `tests/load.rs`, with the same results.
#[test]
fn a_file_loads_and_exports_through_copy_and_both_are_undone() {
    let b = common::build(Some(&common::root().join("tests/fixtures/good_load")), &[]);
    assert!(b.ok, "{}", b.output);
    let (_keep, binary) = b.binary.unwrap();
    let (s, db) = (Sandbox::with_binary(binary), Database::new());
    let people = || -> Vec<(i32, String, Option<i32>)> {
        db.client()
            .query("SELECT id, name, age FROM people ORDER BY id", &[])
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect()
    };
    ok(&s, &db, &["--no-backup", "upgrade", "--version", "0.3.0"]);
    let loaded = vec![
        (1, "Ada".to_owned(), Some(36)),
        (2, "Blaise".to_owned(), None),
        (3, "Camille; dite \"Cam\"".to_owned(), Some(41)),
    ];
    assert_eq!(people(), loaded);
    let exported = db.folder(&s).join("data/export/people.csv");
    assert_eq!(
        std::fs::read_to_string(&exported).unwrap(),
        "id,name,age\n1,Ada,36\n2,Blaise,\n3,\"Camille; dite \"\"Cam\"\"\",41\n"
    );
    ok(&s, &db, &["--no-backup", "upgrade"]);
    assert_eq!(
        people().iter().map(|p| p.2).collect::<Vec<_>>(),
        [Some(37), Some(30), Some(41)]
    );
    ok(&s, &db, &["--no-backup", "downgrade", "--version", "0.1.0"]);
    assert!(!exported.exists());
    assert_eq!(people(), Vec::new());

    let file = db.folder(&s).join("data/people.csv");
    std::fs::write(&file, "id;name;age\n1;Ada;36\n2;\"Blai\nse\";3\n3;Cam;-5\n").unwrap();
    let r = run(&s, &db, &["--no-backup", "upgrade", "--version", "0.2.0"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("people.csv line 5:") && r.stderr.contains("people_age_check"),
        "the file's line, past a quoted line break: {}",
        r.stderr
    );
    assert_eq!(people(), Vec::new());
    assert_eq!(current(&s, &db), "0.1.0");

    // Hostile text goes in through COPY and back out unchanged.
    common::write_hostile_people(&db.folder(&s).join("data"));
    ok(&s, &db, &["--no-backup", "upgrade", "--version", "0.3.0"]);
    common::assert_hostile_people_exported(&db.folder(&s).join("data"));
}

/// `transaction = false` with several statements in a step: each is sent on its own,
/// so `CREATE INDEX CONCURRENTLY` runs (PostgreSQL would run them as one implicit
/// transaction, where it fails), at build time and at run time, up and down.
#[test]
fn statements_outside_a_transaction_run_one_by_one_concurrently_included() {
    use semigrate::__private::{Engine, SemVer};
    use semigrate::build::Config;
    let fixture = common::root().join("tests/fixtures/good_concurrently");
    let scratch = Database::new();
    let config = Config {
        engines: vec![Engine::Sqlite, Engine::Postgres],
        ..Config::default()
    };
    let package = SemVer::parse("0.2.0").unwrap();
    let proved = semigrate::build::prove(&fixture, &config, package, Some(&scratch.url()));
    assert!(proved.is_ok(), "{:?}", proved.err());

    let b = common::build(Some(&fixture), &[]);
    assert!(b.ok, "{}", b.output);
    let (_keep, binary) = b.binary.unwrap();
    let (s, db) = (Sandbox::with_binary(binary), Database::new());
    let index = || -> i64 {
        db.client()
            .query_one(
                "SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'ix_r'",
                &[],
            )
            .unwrap()
            .get(0)
    };
    ok(&s, &db, &["--no-backup", "upgrade"]);
    assert_eq!(index(), 1);
    ok(&s, &db, &["--no-backup", "downgrade", "--version", "0.1.0"]);
    assert_eq!(index(), 0);
    assert_eq!(current(&s, &db), "0.1.0");
}

/// A migration whose table another session holds: it times out waiting for the lock
/// (the migration's `lock_timeout`), is rolled back and tried again, each try logged,
/// and lands once the other session lets go; when it never does, the run fails
/// naming the table and the session that holds it.
#[test]
fn a_lock_timeout_is_retried_and_then_names_who_holds_the_lock() {
    let b = common::build(
        Some(&common::root().join("tests/fixtures/good_lock_wait")),
        &[],
    );
    assert!(b.ok, "{}", b.output);
    let (_keep, binary) = b.binary.unwrap();
    let (s, db) = (Sandbox::with_binary(binary), Database::new());
    ok(&s, &db, &["--no-backup", "upgrade", "--version", "0.1.0"]);
    let hold = |for_ms: u64| {
        let mut holder = db.client();
        let (taken, wait) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            holder
                .batch_execute("SET application_name = 'holder'; BEGIN; LOCK TABLE accidents IN ACCESS SHARE MODE")
                .unwrap();
            taken.send(()).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(for_ms));
            holder.batch_execute("COMMIT").unwrap();
        });
        wait.recv().unwrap();
        thread
    };

    // Let go after 600 ms: a few tries time out, a later one lands.
    let holder = hold(600);
    ok(&s, &db, &["--no-backup", "--lock-retries", "8", "upgrade"]);
    holder.join().unwrap();
    assert_eq!(current(&s, &db), "0.2.0");
    let outcomes: Vec<String> = db
        .client()
        .query(
            "SELECT outcome FROM semigrate_log WHERE version = '0.2.0' ORDER BY id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(outcomes.len() >= 2, "{outcomes:?}");
    assert!(
        outcomes[..outcomes.len() - 1]
            .iter()
            .all(|o| o == "retried"),
        "{outcomes:?}"
    );
    assert_eq!(outcomes.last().map(String::as_str), Some("ok"));

    // Never let go (within the run): two tries, then the table and the session named.
    let holder = hold(4000);
    let r = run(
        &s,
        &db,
        &[
            "--no-backup",
            "--lock-retries",
            "1",
            "--lock-wait",
            "50ms",
            "downgrade",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    for said in [
        "lock timeout",
        "2 tries",
        "accidents is held by session",
        "holder",
    ] {
        assert!(r.stderr.contains(said), "{said}: {}", r.stderr);
    }
    assert_eq!(current(&s, &db), "0.2.0");
    holder.join().unwrap();
    let r = run(
        &s,
        &db,
        &["--no-backup", "--lock-wait", "soon", "downgrade"],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
}

/// Proves a two-migration chain on the server: `accidents` and `usagers` (with rows,
/// as the replay seeds them), then `up` (and `down`) at 0.2.0 with `keys` on top.
fn prove_on_server(
    keys: &str,
    up: &str,
    down: &str,
) -> Result<Vec<semigrate::__private::Migration>, String> {
    use semigrate::__private::{Engine, SemVer};
    use semigrate::build::Config;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("v0_1_0.toml"),
        "description = \"Accidents and their usagers\"\n\n[[up]]\npostgres = \"\"\"\n\
         CREATE TABLE accidents (id INTEGER PRIMARY KEY, grav INTEGER, lat TEXT);\n\
         CREATE TABLE usagers (id INTEGER PRIMARY KEY, accident INTEGER);\n\"\"\"\n\n\
         [[down]]\npostgres = \"DROP TABLE usagers; DROP TABLE accidents;\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("v0_2_0.toml"),
        format!(
            "description = \"The change under test\"\n{keys}\n\n[[up]]\npostgres = \"\"\"{up}\"\"\"\n\n\
             [[down]]\npostgres = \"\"\"{down}\"\"\"\n"
        ),
    )
    .unwrap();
    let config = Config {
        engines: vec![Engine::Postgres],
        ..Config::default()
    };
    let scratch = Database::new();
    semigrate::build::prove(
        dir.path(),
        &config,
        SemVer::parse("0.2.0").unwrap(),
        Some(&scratch.url()),
    )
    .map_err(|errors| {
        errors
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    })
}

/// Each hazard the replay measures fails the build, naming the file, the step, the
/// table and the lock, and passes once the migration accepts it, for all its tables
/// or for the table named; the safe forms of the same changes pass unacknowledged.
#[test]
fn the_build_measures_the_locks_each_step_takes_and_refuses_unaccepted_hazards() {
    let hazards = [
        (
            "CREATE INDEX ix_grav ON accidents (grav);",
            "DROP INDEX ix_grav;",
            "accidents",
            "reads all of table accidents under a SHARE lock",
        ),
        (
            "ALTER TABLE accidents ALTER COLUMN lat TYPE REAL USING lat::real;",
            "ALTER TABLE accidents ALTER COLUMN lat TYPE TEXT;",
            "accidents",
            "rewrites table accidents under an ACCESS EXCLUSIVE lock",
        ),
        (
            "ALTER TABLE accidents ALTER COLUMN grav SET NOT NULL;",
            "ALTER TABLE accidents ALTER COLUMN grav DROP NOT NULL;",
            "accidents",
            "reads all of table accidents under an ACCESS EXCLUSIVE lock",
        ),
        (
            "ALTER TABLE usagers ADD CONSTRAINT usagers_accident_fk FOREIGN KEY (accident) REFERENCES accidents (id);",
            "ALTER TABLE usagers DROP CONSTRAINT usagers_accident_fk;",
            // Both tables: the check joins them.
            "usagers\", \"accidents",
            "reads all of table usagers under a SHARE ROW EXCLUSIVE lock",
        ),
    ];
    for (up, down, tables, said) in hazards {
        let refused = prove_on_server("", up, down).expect_err(up);
        for named in ["v0_2_0.toml", "up step 1", said, "locks = \"accepted\""] {
            assert!(refused.contains(named), "{up}: {named}: {refused}");
        }
        for keys in [
            "locks = \"accepted\"".to_owned(),
            format!("locks = [\"{tables}\"]"),
        ] {
            let proved = prove_on_server(&keys, up, down).unwrap_or_else(|e| panic!("{keys}: {e}"));
            let measured = proved[1].locks.measured.as_deref().unwrap();
            assert!(
                measured
                    .iter()
                    .any(|h| tables.starts_with(&*h.table) && h.blocks_writes()),
                "{up}: {measured:?}"
            );
        }
        let other = prove_on_server("locks = [\"elsewhere\"]", up, down).expect_err(up);
        assert!(other.contains(said), "{other}");
    }

    let safe = [
        (
            "CREATE INDEX CONCURRENTLY ix_grav ON accidents (grav);",
            "DROP INDEX CONCURRENTLY ix_grav;",
        ),
        (
            "ALTER TABLE usagers ADD CONSTRAINT usagers_accident_fk FOREIGN KEY (accident) \
             REFERENCES accidents (id) NOT VALID; \
             ALTER TABLE usagers VALIDATE CONSTRAINT usagers_accident_fk;",
            "ALTER TABLE usagers DROP CONSTRAINT usagers_accident_fk;",
        ),
        (
            "ALTER TABLE accidents ADD COLUMN risk REAL DEFAULT 0;",
            "ALTER TABLE accidents DROP COLUMN risk;",
        ),
    ];
    for (up, down) in safe {
        let proved = prove_on_server("transaction = false", up, down)
            .unwrap_or_else(|e| panic!("{up}: {e}"));
        let measured = proved[1].locks.measured.as_deref().unwrap();
        assert!(
            measured.iter().all(|h| !h.blocks_writes()),
            "{up}: {measured:?}"
        );
    }
    // What was measured: the FK's two tables, and the validation's scan under a lock
    // that lets writes through.
    let proved = prove_on_server("transaction = false", safe[1].0, safe[1].1).unwrap();
    let measured = proved[1].locks.measured.as_deref().unwrap();
    let validate = measured
        .iter()
        .find(|h| h.direction == "up" && h.table == "usagers" && h.scan)
        .unwrap_or_else(|| panic!("{measured:?}"));
    assert_eq!(validate.lock.as_deref(), Some("SHARE UPDATE EXCLUSIVE"));

    // The seeded row makes real what production's rows would: a NOT NULL column with
    // no default cannot be added to a table that holds one.
    let refused = prove_on_server(
        "",
        "ALTER TABLE accidents ADD COLUMN risk REAL NOT NULL;",
        "ALTER TABLE accidents DROP COLUMN risk;",
    )
    .unwrap_err();
    assert!(
        refused.contains("up step 1 fails on PostgreSQL with a row in each table that existed before the migration")
            && refused.contains("contains null values"),
        "{refused}"
    );

    // The chain the text lints warn about, measured: the same two steps fail the
    // build, and the accepted one after them does not.
    use semigrate::__private::{Engine, SemVer};
    use semigrate::build::Config;
    let config = Config {
        engines: vec![Engine::Sqlite, Engine::Postgres],
        ..Config::default()
    };
    let scratch = Database::new();
    let errors = semigrate::build::prove(
        &common::root().join("tests/fixtures/good_unmeasured_hazards"),
        &config,
        SemVer::parse("0.3.0").unwrap(),
        Some(&scratch.url()),
    )
    .unwrap_err();
    let errors: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    for (error, said) in errors.iter().zip([
        "v0_2_0.toml: up step 1 reads all of table accidents under a SHARE lock",
        "v0_2_0.toml: up step 2 reads all of table accidents under an ACCESS EXCLUSIVE lock",
    ]) {
        assert!(error.contains(said), "{said}: {error}");
    }
}

/// Built on the server, a chain carries what the replay measured: `list` and
/// `list --json` show each step's locks, and `--dry-run` shows them above the step
/// it would run, on PostgreSQL.
#[test]
fn measured_locks_are_compiled_in_and_shown_by_list_and_dry_run() {
    let scratch = Database::new();
    let fixture = common::root().join("tests/fixtures/good_locks_accepted");
    let b = common::build_on_server(&fixture, &scratch.url());
    assert!(b.ok, "{}", b.output);
    let (_keep, binary) = b.binary.unwrap();
    let (s, db) = (Sandbox::with_binary(binary), Database::new());
    let shown = "up step 1: SHARE on accidents, read in full (blocks writes; accepted)";

    let list = s.ok(&["list"]);
    assert!(list.stdout.contains(shown), "{}", list.stdout);
    let listed: serde_json::Value =
        serde_json::from_str(&s.ok(&["--json", "list"]).stdout).unwrap();
    let held = &listed[1]["locks"]["measured"][0];
    assert_eq!(held["lock"], "SHARE", "{listed}");
    assert_eq!(
        (&held["scan"], &held["rewrite"]),
        (&true.into(), &false.into())
    );
    assert_eq!(listed[1]["locks"]["accepted"]["tables"][0], "accidents");

    let plan = ok(&s, &db, &["upgrade", "--dry-run"]);
    let comment = format!("-- locks (measured at build): {shown}\nCREATE INDEX ix_grav");
    assert!(plan.stdout.contains(&comment), "{}", plan.stdout);
    let plan: serde_json::Value =
        serde_json::from_str(&ok(&s, &db, &["--json", "upgrade", "--dry-run"]).stdout).unwrap();
    assert_eq!(
        plan["migrations"][1]["steps"][0]["locks"][0]["table"],
        "accidents"
    );
    assert_eq!(current(&s, &db), "0.0.0");

    // The history and the log go with the COMMIT, as literals: quotes and backslashes
    // arrive as written, and the row is stamped with the server's clock.
    ok(&s, &db, &["--no-backup", "upgrade"]);
    let row = db
        .client()
        .query_one(
            "SELECT description, applied_at FROM semigrate_migrations WHERE version = '0.2.0'",
            &[],
        )
        .unwrap();
    let (description, applied_at): (String, String) = (row.get(0), row.get(1));
    assert_eq!(
        description,
        "Index accidents by severity: it's \"blocking\", C:\\ too"
    );
    assert!(
        applied_at.len() == 24 && applied_at.ends_with('Z'),
        "{applied_at}"
    );
    ok(&s, &db, &["--no-backup", "downgrade", "--version", "0.1.0"]);
    assert_eq!(db.history(), ["0.1.0"]);
    let logged: i64 = db
        .client()
        .query_one(
            "SELECT count(*) FROM semigrate_log WHERE outcome = 'ok'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(logged, 3);
}

/// Built on the server, the example chain carries PostgreSQL's schema of every
/// version: a store at each one compares equal; each change made by hand is named by
/// `status` and `verify` and refuses `upgrade` (exit 3) until `--allow-schema-drift`,
/// which the run log records; `ignore_objects` (`ix_hotfix_*`) is never reported.
#[test]
fn the_schema_check_compares_a_postgresql_store_with_its_compiled_schema() {
    let scratch = Database::new();
    let b = common::build_on_server(&common::root().join("migrations"), &scratch.url());
    assert!(b.ok, "{}", b.output);
    let (_keep, binary) = b.binary.unwrap();
    let schema = |s: &Sandbox, db: &Database| -> serde_json::Value {
        serde_json::from_str::<serde_json::Value>(&ok(s, db, &["--json", "status"]).stdout).unwrap()
            ["schema"]
            .clone()
    };
    let (s, db) = (Sandbox::with_binary(binary.clone()), Database::new());
    for v in [
        "0.8.0", "0.9.0", "1.0.0", "1.0.1", "1.1.0", "2.0.0", "2.1.0", "2.2.0",
    ] {
        ok(&s, &db, &["--no-backup", "upgrade", "--version", v]);
        assert_eq!(
            schema(&s, &db)["state"],
            "as_compiled",
            "{v}: {}",
            schema(&s, &db)
        );
    }
    ok(&s, &db, &["--no-backup", "downgrade", "--version", "1.0.1"]);
    assert_eq!(schema(&s, &db)["state"], "as_compiled");
    let printed = s.ok(&["schema-at", "1.0.1", "--engine", "postgres"]).stdout;
    assert!(
        printed.contains("index ix_usagers_num_acc: CREATE INDEX ix_usagers_num_acc ON usagers"),
        "{printed}"
    );

    let changes = [
        (
            "CREATE INDEX ix_lat ON accidents (lat)",
            "index ix_lat is in the store, not in the chain",
        ),
        (
            "ALTER TABLE usagers DROP COLUMN sexe",
            "column usagers.sexe is missing from the store",
        ),
        (
            "ALTER TABLE usagers ALTER COLUMN place SET DEFAULT 1",
            "column usagers.place is defined differently",
        ),
        (
            "CREATE TABLE notes (body TEXT)",
            "table notes is in the store, not in the chain",
        ),
        (
            "CREATE FUNCTION nothing() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$; \
             CREATE TRIGGER usagers_touch BEFORE UPDATE ON usagers FOR EACH ROW EXECUTE FUNCTION nothing()",
            "trigger usagers_touch on usagers is in the store, not in the chain",
        ),
        (
            "CREATE VIEW killed AS SELECT num_acc FROM usagers WHERE grav = 2",
            "view killed is in the store, not in the chain",
        ),
    ];
    for (change, said) in changes {
        let db = Database::new();
        let s = Sandbox::with_binary(binary.clone());
        ok(&s, &db, &["--no-backup", "upgrade", "--version", "1.0.1"]);
        db.client().batch_execute(change).unwrap();
        assert_eq!(schema(&s, &db)["state"], "differs", "{change}");
        assert_schema_refused(&s, &db, change, said, "1.0.1");
        ok(
            &s,
            &db,
            &[
                "--no-backup",
                "upgrade",
                "--version",
                "1.1.0",
                "--allow-schema-drift",
            ],
        );
        let logged: String = db
            .client()
            .query_one(
                "SELECT error FROM semigrate_log WHERE outcome = 'schema-drift-allowed'",
                &[],
            )
            .unwrap()
            .get(0);
        assert!(logged.contains(said), "{logged}");
    }

    let db = Database::new();
    let s = Sandbox::with_binary(binary);
    ok(&s, &db, &["--no-backup", "upgrade", "--version", "1.0.1"]);
    db.client()
        .batch_execute("CREATE INDEX ix_hotfix_lat ON accidents (lat)")
        .unwrap();
    assert_eq!(schema(&s, &db)["state"], "as_compiled");
    ok(&s, &db, &["--no-backup", "upgrade", "--version", "1.1.0"]);
}

/// A chain whose PostgreSQL text has a trigger and a view: one redefined by hand, the
/// other replaced, are each named as defined differently and refuse a run.
#[test]
fn a_trigger_or_view_redefined_on_postgresql_differs_from_its_compiled_schema() {
    let scratch = Database::new();
    let fixture = common::root().join("tests/fixtures/good_schema_objects");
    let b = common::build_on_server(&fixture, &scratch.url());
    assert!(b.ok, "{}", b.output);
    let (_keep, binary) = b.binary.unwrap();
    for (change, said) in [
        (
            "DROP TRIGGER people_audit ON people; CREATE TRIGGER people_audit AFTER DELETE ON people \
             FOR EACH ROW EXECUTE FUNCTION people_audit()",
            "trigger people_audit on people is defined differently",
        ),
        (
            "CREATE OR REPLACE VIEW adults AS SELECT id, name FROM people WHERE age >= 21",
            "view adults is defined differently",
        ),
    ] {
        let (s, db) = (Sandbox::with_binary(binary.clone()), Database::new());
        ok(&s, &db, &["--no-backup", "upgrade", "--version", "0.1.0"]);
        ok(&s, &db, &["verify"]);
        db.client().batch_execute(change).unwrap();
        assert_schema_refused(&s, &db, change, said, "0.1.0");
    }
}

/// After `change` made by hand, `verify` names `said` and exits 1, and `upgrade`
/// names it too, exits 3 and leaves the store at `at`.
fn assert_schema_refused(s: &Sandbox, db: &Database, change: &str, said: &str, at: &str) {
    let verified = run(s, db, &["verify"]);
    assert_eq!(verified.code, 1, "{change}: {}", verified.stderr);
    assert!(
        verified.stderr.contains(said),
        "{said}: {}",
        verified.stderr
    );
    let refused = run(s, db, &["--no-backup", "upgrade"]);
    assert_eq!(refused.code, 3, "{change}: {}", refused.stderr);
    assert!(refused.stderr.contains(said), "{}", refused.stderr);
    assert_eq!(current(s, db), at);
}

/// The README's PostgreSQL example, run as written after its quick start: the server's
/// store keeps its files apart (`var/<database>/`), and the SQLite store's CSV files
/// and state file are left as they were.
#[test]
fn after_the_quick_start_the_postgresql_example_runs_as_written() {
    let (s, db) = (Sandbox::new(), Database::new());
    let quick = s.run_raw(&["upgrade"]);
    assert_eq!(quick.code, 0, "{}", quick.stderr);
    let var = s.dir.path().join("var");
    let state = std::fs::read(var.join("migration_state.json")).unwrap();
    let csv = std::fs::read(var.join("data/accidents.csv")).unwrap();
    for args in [&["upgrade"][..], &["status"]] {
        let r: Run = s
            .command()
            .env("SEMIGRATE_DATABASE", db.url())
            .args(args)
            .output()
            .unwrap()
            .into();
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
    }
    assert_eq!(current(&s, &db), "2.2.0");
    assert_eq!(
        std::fs::read(var.join("migration_state.json")).unwrap(),
        state
    );
    assert_eq!(std::fs::read(var.join("data/accidents.csv")).unwrap(), csv);
    assert!(db.folder(&s).join("data/accidents.csv").is_file());
    assert!(db.folder(&s).join("migration_state.json").is_file());
}

/// A fleet of schemas listed by a query: each schema a store with its tables and its
/// history, reached by workers that keep one session each and move it from schema to
/// schema; a schema the query does not list is left alone, and one whose lock another
/// session holds is shown locked and fails alone.
#[test]
fn a_fleet_of_schemas_runs_on_one_session_per_worker() {
    let (s, db) = (Sandbox::new(), Database::new());
    let mut client = db.client();
    for name in [
        "tenant_1", "tenant_2", "tenant_3", "tenant_4", "tenant_5", "other",
    ] {
        client
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .unwrap();
    }
    std::fs::write(
        s.dir.path().join("fleet.txt"),
        format!(
            "{} schemas SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tenant\\_%' ORDER BY 1\n",
            db.url()
        ),
    )
    .unwrap();
    // Counts semigrate's sessions on the database (they name themselves) that work on
    // a store (their queries name its tables) while the fleet runs.
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let (done, mut watch) = (done.clone(), db.client());
        std::thread::spawn(move || {
            let (mut most, mut sessions) = (0, std::collections::HashSet::new());
            while !done.load(Ordering::SeqCst) {
                let pids: Vec<i32> = watch
                    .query(
                        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() \
                         AND application_name = 'semigrate' AND query LIKE '%semigrate_%'",
                        &[],
                    )
                    .unwrap()
                    .iter()
                    .map(|r| r.get(0))
                    .collect();
                most = most.max(pids.len());
                sessions.extend(pids);
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            (most, sessions.len())
        })
    };
    let r = s.run_raw(&[
        "upgrade",
        "--fleet",
        "fleet.txt",
        "--parallel",
        "2",
        "--report",
        "r.json",
    ]);
    done.store(true, Ordering::SeqCst);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "5 at 2.2.0\n");
    // Never more than two at once, and the same two for all five schemas.
    let (most, sessions) = watcher.join().unwrap();
    assert!((1..=2).contains(&most), "{most} sessions at once");
    assert!(sessions <= 2, "{sessions} sessions for 5 schemas");
    // The password is in no output and no report.
    let report = std::fs::read_to_string(s.dir.path().join("r.json")).unwrap();
    assert!(!report.contains(PASSWORD) && !r.stderr.contains(PASSWORD));
    assert!(report.contains("schema tenant_5"), "{report}");
    for schema in ["tenant_1", "tenant_5"] {
        let tables: i64 = client
            .query_one(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1 \
                 AND table_name IN ('accidents', 'usagers', 'semigrate_migrations')",
                &[&schema],
            )
            .unwrap()
            .get(0);
        assert_eq!(tables, 3, "{schema}");
        // Its files are its own: var/<database>.<schema>/.
        let state = s
            .dir
            .path()
            .join("var")
            .join(format!("{}.{schema}", db.name))
            .join("migration_state.json");
        assert!(state.is_file(), "{state:?}");
    }
    let untouched: i64 = client
        .query_one(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'other'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(untouched, 0);

    // Another session holds tenant_3's lock.
    let mut holder = db.client();
    holder
        .batch_execute(
            "SELECT pg_advisory_lock(hashtext(current_database() || '.tenant_3.semigrate_migrations'))",
        )
        .unwrap();
    let r = s.run_raw(&["--json", "status", "--fleet", "fleet.txt"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let status: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(status["stores"], 5);
    let locked = status["locked"].as_array().unwrap();
    assert_eq!(locked.len(), 1, "{locked:?}");
    assert!(locked[0].as_str().unwrap().ends_with("schema tenant_3"));
    let r = s.run_raw(&[
        "downgrade",
        "--fleet",
        "fleet.txt",
        "--version",
        "1.0.0",
        "--wait",
        "0",
        "--on-error",
        "continue",
        "--no-backup",
    ]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("4 at 1.0.0, 1 failed"), "{}", r.stderr);
    drop(holder);
    let r = s.run_raw(&["status", "--fleet", "fleet.txt"]);
    assert_eq!(
        r.stdout,
        "fleet     5 stores\n2.2.0     1 (up to date)\n1.0.0     4\n"
    );
}
