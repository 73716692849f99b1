//! The proof on chains such as other tools leave: every flawed down reported in one
//! build, schemas compared by meaning (the false alarms of comparing SQL text pass,
//! the real differences fail, each in its class), acknowledged debts (`down_leaves`),
//! SQL kept in `.sql` files, and the PostgreSQL replay in a database of its own.

use semigrate::__private::Engine;
use semigrate::SemVer;
use semigrate::build::Config;
use std::path::Path;

/// A spec whose up runs `up` and whose down runs `down`, with `extra` top-level keys.
fn spec(description: &str, extra: &str, up: &str, down: &str) -> String {
    format!(
        "description = {description:?}\n{extra}\n[[up]]\nsql = '''\n{up}\n'''\n\n[[down]]\nsql = '''\n{down}\n'''\n"
    )
}

/// Writes the specs, in order, as v0_1_0, v0_2_0, ... and proves them on SQLite (and
/// on the server at `postgres`, for a chain that targets both); every error, a line
/// each, or the migrations.
fn prove(
    dir: &Path,
    specs: &[String],
    postgres: Option<&str>,
) -> Result<Vec<semigrate::__private::Migration>, String> {
    let engines = match postgres {
        Some(_) => vec![Engine::Sqlite, Engine::Postgres],
        None => vec![Engine::Sqlite],
    };
    prove_for(dir, specs, engines, postgres)
}

/// `prove`, for a chain of the given engines.
fn prove_for(
    dir: &Path,
    specs: &[String],
    engines: Vec<Engine>,
    postgres: Option<&str>,
) -> Result<Vec<semigrate::__private::Migration>, String> {
    for (i, text) in specs.iter().enumerate() {
        std::fs::write(dir.join(format!("v0_{}_0__m{}.toml", i + 1, i + 1)), text).unwrap();
    }
    let config = Config {
        engines,
        ..Config::default()
    };
    let package = SemVer::parse(&format!("0.{}.0", specs.len())).unwrap();
    semigrate::build::prove(dir, &config, package, postgres).map_err(|errors| {
        errors
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    })
}

fn errors(specs: &[String]) -> String {
    let dir = tempfile::tempdir().unwrap();
    prove(dir.path(), specs, None).expect_err("the chain has flaws")
}

const USERS: &str = "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);";

#[test]
fn every_flawed_down_is_reported_in_one_build() {
    let found = errors(&[
        spec("users", "", USERS, "DROP TABLE users;"),
        // A down that forgets the index.
        spec(
            "index",
            "",
            "CREATE INDEX users_name ON users (name);",
            "SELECT 1;",
        ),
        // A down that fails outright (SQLite has no DROP INDEX ... ON).
        spec(
            "bio",
            "",
            "ALTER TABLE users ADD COLUMN bio TEXT;",
            "DROP INDEX users_bio ON users;",
        ),
        // A good one, then one that leaves its table.
        spec(
            "posts",
            "",
            "CREATE TABLE posts (id INTEGER);",
            "DROP TABLE posts;",
        ),
        spec("tags", "", "CREATE TABLE tags (id INTEGER);", "SELECT 1;"),
    ]);
    let lines: Vec<&str> = found.lines().collect();
    assert_eq!(lines.len(), 3, "{found}");
    assert!(
        lines[0].contains("v0_2_0__m2.toml")
            && lines[0].contains("index users_name is left behind by down [index users_name]"),
        "{found}"
    );
    assert!(
        lines[1].contains("v0_3_0__m3.toml") && lines[1].contains("down step 1 fails on SQLite"),
        "{found}"
    );
    assert!(
        lines[2].contains("v0_5_0__m5.toml") && lines[2].contains("table tags is left behind"),
        "{found}"
    );
}

#[test]
fn the_same_table_typed_another_way_is_no_difference() {
    // Each down rebuilds the table its up left alone, typed another way: the same
    // meaning, so the proof passes.
    let rebuild = |table: &str, typed: &str| {
        format!(
            "CREATE TABLE {table}_new {typed}; INSERT INTO {table}_new SELECT * FROM {table}; \
             DROP TABLE {table}; ALTER TABLE {table}_new RENAME TO {table};"
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let proved = prove(
        dir.path(),
        &[
            spec(
                "principals",
                "",
                "CREATE TABLE principals (principal_id INTEGER PRIMARY KEY);\n\
                 CREATE TABLE checks (id INTEGER, n INTEGER DEFAULT 0 NOT NULL, \
                 ok BOOLEAN DEFAULT FALSE, owner INTEGER REFERENCES principals);",
                "DROP TABLE checks; DROP TABLE principals;",
            ),
            spec(
                "rebuild",
                "foreign_keys = false",
                "CREATE TABLE other (id INTEGER);",
                &format!(
                    "DROP TABLE other; {}",
                    rebuild(
                        "checks",
                        "(id integer, n integer not null default 0, ok boolean default false, \
                         owner integer references principals(principal_id))"
                    )
                ),
            ),
        ],
        None,
    );
    assert!(proved.is_ok(), "{}", proved.unwrap_err());
}

#[test]
fn real_differences_fail_each_in_its_class() {
    let base = "CREATE TABLE t (a INTEGER NOT NULL, b TEXT, c INTEGER);";
    // Each down rebuilds `t` with one difference; the subject in brackets is what
    // `down_leaves` would name.
    for (typed, subject) in [
        ("(a INTEGER, b TEXT, c INTEGER)", "not null of t.a"),
        (
            "(a INTEGER NOT NULL, b TEXT DEFAULT 'x', c INTEGER)",
            "default of t.b",
        ),
        ("(a INTEGER NOT NULL, b INTEGER, c INTEGER)", "type of t.b"),
        (
            "(a INTEGER NOT NULL, c INTEGER, b TEXT)",
            "column order of t",
        ),
        ("(a INTEGER NOT NULL, b TEXT)", "column t.c"),
        (
            "(a INTEGER NOT NULL, b TEXT COLLATE NOCASE, c INTEGER)",
            "collation of t.b",
        ),
        (
            "(a INTEGER NOT NULL, b TEXT, c INTEGER, CHECK (c > 0))",
            "check of t",
        ),
        (
            "(a INTEGER NOT NULL, b TEXT UNIQUE, c INTEGER)",
            "unique of t",
        ),
    ] {
        let down =
            format!("CREATE TABLE t_new {typed}; DROP TABLE t; ALTER TABLE t_new RENAME TO t;");
        let found = errors(&[
            spec("t", "", base, "DROP TABLE t;"),
            spec(
                "u",
                "destructive = true",
                "CREATE TABLE u (x);",
                &format!("DROP TABLE u; {down}"),
            ),
        ]);
        assert!(
            found.contains(&format!("[{subject}]")) && found.contains("v0_2_0__m2.toml"),
            "{typed}: expected [{subject}] in {found}"
        );
    }
}

#[test]
fn an_acknowledged_leftover_passes_and_nothing_else_does() {
    let up = "ALTER TABLE users ADD COLUMN bio TEXT;";
    let chain = |leaves: &str, down: &str| {
        vec![
            spec("users", "", USERS, "DROP TABLE users;"),
            spec("bio", leaves, up, down),
            spec(
                "posts",
                "",
                "CREATE TABLE posts (id INTEGER);",
                "DROP TABLE posts;",
            ),
        ]
    };
    let dir = tempfile::tempdir().unwrap();
    let proved = prove(
        dir.path(),
        &chain(r#"down_leaves = ["column users.bio"]"#, "SELECT 1;"),
        None,
    )
    .unwrap();
    assert_eq!(proved[1].down_leaves.as_ref(), ["column users.bio"]);
    // The replay went on from the state the up left: the next migration is proved.
    assert!(proved[2].schema.is_some());

    // Another difference than the one acknowledged fails.
    let found = errors(&chain(
        r#"down_leaves = ["column users.bio"]"#,
        "SELECT 1; CREATE TABLE stray (x);",
    ));
    assert!(
        found.contains("table stray is left behind by down"),
        "{found}"
    );
    assert!(!found.contains("column users.bio is left"), "{found}");

    // A fixed down makes the acknowledgement stale.
    let found = errors(&chain(
        r#"down_leaves = ["column users.bio"]"#,
        "ALTER TABLE users DROP COLUMN bio;",
    ));
    assert!(
        found.contains("`down_leaves` names column users.bio, which the down no longer leaves"),
        "{found}"
    );
}

#[test]
fn sql_in_files_is_compiled_in_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sql")).unwrap();
    std::fs::write(dir.path().join("sql/users.up.sql"), USERS).unwrap();
    std::fs::write(dir.path().join("sql/users.down.sql"), "DROP TABLE users;").unwrap();
    let from_files = "description = \"users\"\n[[up]]\nfile = \"sql/users.up.sql\"\n\
                      [[down]]\nfile = \"sql/users.down.sql\"\n";
    let proved = prove(dir.path(), &[from_files.to_owned()], None).unwrap();
    let inline = tempfile::tempdir().unwrap();
    let typed = format!(
        "description = \"users\"\n[[up]]\nsql = {USERS:?}\n[[down]]\nsql = \"DROP TABLE users;\"\n"
    );
    let same = prove(inline.path(), &[typed], None).unwrap();
    // The file's text is what runs, and what the checksum covers.
    assert_eq!(proved[0].checksum, same[0].checksum);
    std::fs::write(
        dir.path().join("sql/users.up.sql"),
        "CREATE TABLE users (id INTEGER);",
    )
    .unwrap();
    let edited = prove(dir.path(), &[from_files.to_owned()], None).unwrap();
    assert_ne!(edited[0].checksum, proved[0].checksum);

    for (step, expect) in [
        ("file = \"sql/missing.sql\"", "cannot read"),
        (
            "file = \"../outside.sql\"",
            "must be a path inside the migrations folder",
        ),
        (
            "file = \"sql/users.up.sql\"\nsql = \"SELECT 1\"",
            "gives both `sql` and `file`",
        ),
    ] {
        let d = tempfile::tempdir().unwrap();
        let text = format!("description = \"x\"\n[[up]]\n{step}\n[[down]]\nsql = \"SELECT 1\"\n");
        let found = prove(d.path(), &[text], None).unwrap_err();
        assert!(
            found.contains(expect) && found.contains("v0_1_0__m1.toml"),
            "{step}: {found}"
        );
    }
}

/// The replays on the server, one at a time: a test counts the scratch databases left.
static SERVER: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The local server, when it runs: these cases need one, and CI starts it.
fn server() -> Option<String> {
    let url = "postgres://postgres@127.0.0.1:5432/postgres";
    postgres::Client::connect(url, postgres::NoTls)
        .is_ok()
        .then(|| url.to_owned())
}

#[test]
fn the_postgres_replay_keeps_what_a_chain_creates_to_itself() {
    let _alone = SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let Some(url) = server() else {
        panic!("PostgreSQL must run on 127.0.0.1:5432 for this test (.ci/run starts it)");
    };
    let dir = tempfile::tempdir().unwrap();
    let chain = [
        // A schema, an extension and a table of the chain's own, each undone.
        "description = \"utils\"\n[[up]]\nsqlite = \"CREATE TABLE things (id INTEGER PRIMARY KEY);\"\n\
         postgres = \"CREATE SCHEMA utils; CREATE EXTENSION IF NOT EXISTS pgcrypto; \
         CREATE TABLE things (id INTEGER PRIMARY KEY);\"\n\
         [[down]]\nsqlite = \"DROP TABLE things;\"\n\
         postgres = \"DROP TABLE things; DROP EXTENSION pgcrypto; DROP SCHEMA utils;\"\n"
            .to_owned(),
        // Downs that do not restore, on the server only, each reported: the replay
        // goes on past the first.
        "description = \"mood\"\n[[up]]\nsqlite = \"CREATE TABLE mood (x);\"\n\
             postgres = \"CREATE TYPE feeling AS ENUM ('ok', 'not'); CREATE TABLE mood (x feeling);\"\n\
             [[down]]\nsqlite = \"DROP TABLE mood;\"\npostgres = \"DROP TABLE mood;\"\n"
            .to_owned(),
        "description = \"f\"\n[[up]]\nsqlite = \"CREATE TABLE f (x);\"\n\
             postgres = \"CREATE TABLE f (x INTEGER); CREATE FUNCTION twice(x INTEGER) RETURNS INTEGER LANGUAGE sql AS 'SELECT 2 * x';\"\n\
             [[down]]\nsqlite = \"DROP TABLE f;\"\npostgres = \"DROP TABLE f;\"\n"
            .to_owned(),
    ];
    let found = prove(dir.path(), &chain, Some(&url)).unwrap_err();
    let lines: Vec<&str> = found.lines().collect();
    assert_eq!(lines.len(), 2, "{found}");
    assert!(
        lines[0].contains("v0_2_0__m2.toml") && lines[0].contains("type feeling is left behind"),
        "{found}"
    );
    assert!(
        lines[1].contains("v0_3_0__m3.toml") && lines[1].contains("function twice(x integer)"),
        "{found}"
    );
    // Run twice, the chain meets nothing the first run left: no `utils` schema, no
    // scratch database.
    assert_eq!(prove(dir.path(), &chain, Some(&url)).unwrap_err(), found);
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let left: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_database WHERE datname LIKE 'semigrate_verify_%'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
}

#[test]
fn an_up_that_only_ever_ran_on_empty_tables_says_so() {
    let _alone = SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let Some(url) = server() else {
        panic!("PostgreSQL must run on 127.0.0.1:5432 for this test (.ci/run starts it)");
    };
    let chain = |extra: &str| {
        vec![
            spec("t", "", "CREATE TABLE t (id INTEGER);", "DROP TABLE t;"),
            // NOT NULL without a default fails on the row the replay seeds in `t`.
            spec(
                "c",
                &format!("locks = [\"t\"]\n{extra}"),
                "ALTER TABLE t ADD COLUMN c INTEGER NOT NULL;",
                "ALTER TABLE t DROP COLUMN c;",
            ),
        ]
    };
    let dir = tempfile::tempdir().unwrap();
    let found = prove(dir.path(), &chain(""), Some(&url)).unwrap_err();
    assert!(
        found.contains("contains null values")
            && found.contains("say `fails_on_rows = true`")
            && found.contains("v0_2_0__m2.toml"),
        "{found}"
    );
    let acknowledged = tempfile::tempdir().unwrap();
    let proved = prove(
        acknowledged.path(),
        &chain("fails_on_rows = true"),
        Some(&url),
    );
    assert!(proved.is_ok(), "{}", proved.unwrap_err());
    // An up that fails on empty tables too is not about rows, and is not said to be.
    let broken = vec![
        spec("t", "", "CREATE TABLE t (id INTEGER);", "DROP TABLE t;"),
        spec(
            "c",
            "locks = [\"t\"]\n",
            "ALTER TABLE t ADD COLUMN c INTEGER REFERENCES nowhere (id);",
            "ALTER TABLE t DROP COLUMN c;",
        ),
    ];
    let found = prove(tempfile::tempdir().unwrap().path(), &broken, Some(&url)).unwrap_err();
    assert!(
        found.contains("v0_2_0__m2.toml")
            && found.contains("\"nowhere\" does not exist")
            && !found.contains("with a row in each table")
            && !found.contains("fails_on_rows"),
        "{found}"
    );
}

#[test]
fn a_file_that_opens_its_own_transaction_keeps_it_in_the_postgres_replay() {
    let _alone = SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let Some(url) = server() else {
        panic!("PostgreSQL must run on 127.0.0.1:5432 for this test (.ci/run starts it)");
    };
    // A temporary table dropped at the file's own COMMIT lives until then: the replay
    // measures its statements without committing between them.
    let backfill = "BEGIN; \
        CREATE TEMPORARY TABLE picked ON COMMIT DROP AS SELECT id FROM t WHERE n IS NULL; \
        UPDATE t SET n = 0 FROM picked WHERE t.id = picked.id; \
        COMMIT;";
    let chain = vec![
        spec(
            "t",
            "",
            "CREATE TABLE t (id INTEGER, n INTEGER);",
            "DROP TABLE t;",
        ),
        format!(
            "description = \"backfill\"\ntransaction = false\ndown = []\n[[up]]\n\
             sqlite = \"UPDATE t SET n = 0 WHERE n IS NULL;\"\npostgres = '''{backfill}'''\n"
        ),
    ];
    let proved = prove(tempfile::tempdir().unwrap().path(), &chain, Some(&url));
    assert!(proved.is_ok(), "{}", proved.unwrap_err());
    // Such a file that fails on the seeded rows left nothing: it runs again on empty
    // tables, and says so, as a migration in semigrate's transaction does.
    let refuses = |extra: &str| {
        format!(
            "description = \"refuses\"\ntransaction = false\ndown = []\n{extra}\n[[up]]\n\
             sqlite = \"SELECT 1;\"\npostgres = '''BEGIN; DO $$ BEGIN IF EXISTS (SELECT 1 FROM t) \
             THEN RAISE EXCEPTION 'rows left'; END IF; END $$; COMMIT;'''\n"
        )
    };
    let mut refusing = chain.clone();
    refusing.push(refuses(""));
    let found = prove(tempfile::tempdir().unwrap().path(), &refusing, Some(&url)).unwrap_err();
    assert!(
        found.contains("v0_3_0__m3.toml")
            && found.contains("rows left")
            && found.contains("say `fails_on_rows = true`"),
        "{found}"
    );
    refusing[2] = refuses("fails_on_rows = true");
    let proved = prove(tempfile::tempdir().unwrap().path(), &refusing, Some(&url));
    assert!(proved.is_ok(), "{}", proved.unwrap_err());
}

#[test]
fn a_down_outside_a_transaction_that_leaves_something_acknowledged_lets_the_replay_go_on() {
    let _alone = SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let Some(url) = server() else {
        panic!("PostgreSQL must run on 127.0.0.1:5432 for this test (.ci/run starts it)");
    };
    // PostgreSQL cannot take a value out of an enum: the down leaves it, the up run
    // again over that is a no-op, and the replay goes on to the next migration. (A
    // chain of PostgreSQL only: SQLite has no enum to leave.)
    let chain = |acknowledged: &str| {
        vec![
            spec(
                "mood",
                "",
                "CREATE TYPE mood AS ENUM ('ok'); CREATE TABLE m (x mood);",
                "DROP TABLE m; DROP TYPE mood;",
            ),
            spec(
                "meh",
                &format!("transaction = false\n{acknowledged}"),
                "ALTER TYPE mood ADD VALUE IF NOT EXISTS 'meh';",
                "SELECT 1;",
            ),
            spec("f", "", "CREATE TABLE f (x INTEGER);", "SELECT 1;"),
        ]
    };
    let prove = |dir: &Path, specs: &[String], url: Option<&str>| {
        prove_for(dir, specs, vec![Engine::Postgres], url)
    };
    let found = prove(tempfile::tempdir().unwrap().path(), &chain(""), Some(&url)).unwrap_err();
    assert!(
        found.contains("v0_2_0__m2.toml") && found.contains("type mood"),
        "{found}"
    );
    let found = prove(
        tempfile::tempdir().unwrap().path(),
        &chain("down_leaves = [\"type mood\"]"),
        Some(&url),
    )
    .unwrap_err();
    assert!(!found.contains("v0_2_0__m2.toml"), "{found}");
    assert!(
        found.contains("v0_3_0__m3.toml") && found.contains("table f"),
        "the replay went on past 0.2.0: {found}"
    );
}

#[test]
fn a_view_that_froze_its_creation_time_gets_a_precise_hint() {
    let _alone = SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let Some(url) = server() else {
        panic!("PostgreSQL must run on 127.0.0.1:5432 for this test (.ci/run starts it)");
    };
    let recent = |since: &str| {
        format!(
            "CREATE VIEW recent AS SELECT id FROM events WHERE at > {since} - interval '1 day';"
        )
    };
    let events = "CREATE TABLE events (id INTEGER, at TIMESTAMP);";
    let chain = [
        format!(
            "description = \"events\"\n[[up]]\nsqlite = \"{events}\"\npostgres = \"{events} {}\"\n\
             [[down]]\nsqlite = \"DROP TABLE events;\"\npostgres = \"DROP VIEW recent; DROP TABLE events;\"\n",
            recent("'now'::timestamp")
        ),
        // The down re-creates the view as it was written: PostgreSQL folds 'now' into
        // it again, at another instant.
        format!(
            "description = \"recent\"\n[[up]]\npostgres = \"DROP VIEW recent; {}\"\n\
             sqlite = \"SELECT 1;\"\n[[down]]\npostgres = \"DROP VIEW recent; {}\"\nsqlite = \"SELECT 1;\"\n",
            recent("now()"),
            recent("'now'::timestamp")
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let found = prove(dir.path(), &chain, Some(&url)).unwrap_err();
    assert!(
        found.contains("v0_2_0__m2.toml")
            && found.contains("view recent is defined differently")
            && found.contains("folds 'now'::timestamp"),
        "{found}"
    );
    assert_eq!(found.lines().count(), 1, "{found}");
}

#[test]
fn an_up_that_keeps_keys_in_a_temporary_table_replays_on_both_engines() {
    let _alone = SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let Some(url) = server() else {
        panic!("PostgreSQL must run on 127.0.0.1:5432 for this test (.ci/run starts it)");
    };
    // A backfill that keeps its keys in a temporary table, as hatchet's do: a
    // downgrade and the upgrade after it run in sessions of their own, so the up run
    // again after its down makes the table again, on each engine.
    let chain = [
        spec("users", "", USERS, "DROP TABLE users;"),
        spec(
            "bio",
            "locks = \"accepted\"",
            "ALTER TABLE users ADD COLUMN bio TEXT;\n\
             CREATE TEMP TABLE missing_bio AS SELECT id FROM users WHERE bio IS NULL;\n\
             UPDATE users SET bio = '' WHERE id IN (SELECT id FROM missing_bio);",
            "ALTER TABLE users DROP COLUMN bio;",
        ),
    ];
    let proved = prove(tempfile::tempdir().unwrap().path(), &chain, Some(&url));
    assert!(proved.is_ok(), "{}", proved.unwrap_err());
    // Made twice within one session, the table is still refused: the replay forgets
    // only between an up and its down.
    let twice = [spec(
        "twice",
        "",
        "CREATE TEMP TABLE t (x INTEGER); CREATE TEMP TABLE t (x INTEGER); CREATE TABLE u (x INTEGER);",
        "DROP TABLE u;",
    )];
    let found = prove(tempfile::tempdir().unwrap().path(), &twice, Some(&url)).unwrap_err();
    assert!(found.contains("already exists"), "{found}");
}

#[test]
fn a_partitioned_table_is_one_table_whatever_its_partitions_are_named() {
    let _alone = SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let Some(url) = server() else {
        panic!("PostgreSQL must run on 127.0.0.1:5432 for this test (.ci/run starts it)");
    };
    // Partitions named by the day the chain ran, as hatchet's are: what the proof
    // says, and what a spec accepts, must not change with the day.
    let today = "DO $$ BEGIN EXECUTE format('CREATE TABLE %I PARTITION OF events FOR VALUES \
                 FROM (%L) TO (%L)', 'events_' || to_char(now(), 'YYYYMMDD'), current_date, \
                 current_date + 1); END $$;";
    let chain = |locks: &str| {
        vec![
            spec(
                "events",
                "",
                &format!(
                    "CREATE TABLE events (at DATE NOT NULL, x INTEGER) PARTITION BY RANGE (at);\n{today}"
                ),
                "DROP TABLE events;",
            ),
            spec(
                "index",
                locks,
                "CREATE INDEX events_x ON events (x);",
                "DROP INDEX events_x;",
            ),
            // A down that forgets a constraint every partition inherits: one difference.
            spec(
                "positive",
                "locks = \"accepted\"",
                "ALTER TABLE events ADD CONSTRAINT positive CHECK (x > 0);",
                "SELECT 1;",
            ),
        ]
    };
    let prove = |specs: &[String]| {
        prove_for(
            tempfile::tempdir().unwrap().path(),
            specs,
            vec![Engine::Postgres],
            Some(&url),
        )
    };
    let day: String = postgres::Client::connect(&url, postgres::NoTls)
        .unwrap()
        .query_one("SELECT to_char(now(), 'YYYYMMDD')", &[])
        .unwrap()
        .get(0);
    let found = prove(&chain("")).unwrap_err();
    let lines: Vec<&str> = found.lines().collect();
    assert_eq!(lines.len(), 2, "{found}");
    assert!(
        lines[0].contains("v0_2_0__m2.toml") && lines[0].contains("table events under"),
        "{found}"
    );
    assert!(
        lines[1].contains("v0_3_0__m3.toml") && lines[1].contains("constraint positive on events"),
        "{found}"
    );
    assert!(!found.contains(&day), "a partition is named: {found}");
    let found = prove(&chain("locks = [\"events\"]")).unwrap_err();
    assert!(!found.contains("v0_2_0__m2.toml"), "{found}");
}

/// Proves `flawed` on both engines, expecting one error on each, of 0.2.0, that says
/// each of `says` (`{engine}` standing for the engine's name); then `fixed`, which the
/// proof must pass.
fn round_trip_found(url: &str, flawed: &[String], fixed: &[String], says: &[&str]) {
    let found = prove(tempfile::tempdir().unwrap().path(), flawed, Some(url)).unwrap_err();
    let lines: Vec<&str> = found.lines().collect();
    assert_eq!(lines.len(), 2, "{found}");
    for (line, engine) in lines.iter().zip(["SQLite", "PostgreSQL"]) {
        assert!(line.contains("v0_2_0__m2.toml"), "{found}");
        for say in says {
            assert!(
                line.contains(&say.replace("{engine}", engine)),
                "{say}: {found}"
            );
        }
    }
    let proved = prove(tempfile::tempdir().unwrap().path(), fixed, Some(url));
    assert!(proved.is_ok(), "{}", proved.unwrap_err());
}

#[test]
fn a_downgrade_of_the_whole_chain_meets_what_the_downs_above_leave() {
    let _alone = SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let Some(url) = server() else {
        panic!("PostgreSQL must run on 127.0.0.1:5432 for this test (.ci/run starts it)");
    };
    // Each down restores its own up, but for what 0.3.0's acknowledges: the index it
    // does not make again. Downgraded as a whole, the chain then fails at 0.2.0's down,
    // as crates.io's does, and the proof says so, on each engine, naming what the
    // downs above left.
    let chain = |irreversible: bool| {
        let index = "CREATE INDEX users_name ON users (name);";
        vec![
            spec("users", "", USERS, "DROP TABLE users;"),
            match irreversible {
                false => spec(
                    "index",
                    "locks = \"accepted\"",
                    index,
                    "DROP INDEX users_name;",
                ),
                true => format!(
                    "description = \"index\"\nlocks = \"accepted\"\nirreversible = true\n\
                     [[up]]\nsql = '{index}'\n"
                ),
            },
            // Run again over what its own down leaves, its up still runs.
            spec(
                "unindex",
                "down_leaves = [\"index users_name\"]\nlocks = \"accepted\"",
                "DROP INDEX IF EXISTS users_name;",
                "SELECT 1;",
            ),
        ]
    };
    // Made irreversible (as `import --acknowledge` does), 0.2.0 stops the downgrade
    // above it, and the chain is proved.
    round_trip_found(
        &url,
        &chain(false),
        &chain(true),
        &[
            "a downgrade of the whole chain fails at this down",
            "down step 1 fails on {engine}",
            "the downs above it leave index users_name (0.3.0)",
        ],
    );
}

#[test]
fn every_down_that_fails_in_the_whole_chains_round_trip_is_found_in_one_build() {
    let _alone = SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let Some(url) = server() else {
        panic!("PostgreSQL must run on 127.0.0.1:5432 for this test (.ci/run starts it)");
    };
    // Each down restores its own up, but for what the migrations say they leave.
    // Downgraded as a whole, the chain fails at 0.4.0's down (0.5.0 left the index
    // gone); 0.6.0's up, run again from there, meets its own column; and below 0.4.0,
    // downgraded as if its down were fixed, 0.2.0's down meets the table 0.3.0 left
    // dropped. One build says all three, on each engine.
    let index = "CREATE INDEX users_name ON users (name);";
    let chain = vec![
        spec("users", "", USERS, "DROP TABLE users;"),
        spec(
            "tags",
            "",
            "CREATE TABLE tags (id INTEGER);",
            "DROP TABLE tags;",
        ),
        spec(
            "untag",
            "destructive = true\ndown_leaves = [\"table tags\"]",
            "DROP TABLE IF EXISTS tags;",
            "SELECT 1;",
        ),
        spec(
            "index",
            "locks = \"accepted\"",
            index,
            "DROP INDEX users_name;",
        ),
        spec(
            "unindex",
            "down_leaves = [\"index users_name\"]\nlocks = \"accepted\"",
            "DROP INDEX IF EXISTS users_name;",
            "SELECT 1;",
        ),
        spec(
            "bio",
            "down_leaves = [\"column users.bio\"]",
            "ALTER TABLE users ADD COLUMN bio TEXT;",
            "SELECT 1;",
        ),
    ];
    let found = prove(tempfile::tempdir().unwrap().path(), &chain, Some(&url)).unwrap_err();
    assert_eq!(found.lines().count(), 6, "{found}");
    for engine in ["SQLite", "PostgreSQL"] {
        let said = |file: &str, what: &str, step: &str| {
            found.lines().any(|l| {
                l.contains(file)
                    && l.contains(what)
                    && l.contains(&format!("{step} step 1 fails on {engine}"))
            })
        };
        let down = "a downgrade of the whole chain fails at this down";
        assert!(said("v0_4_0__m4.toml", down, "down"), "{found}");
        let up = "an upgrade after a downgrade of the whole chain fails at this up";
        assert!(said("v0_6_0__m6.toml", up, "up"), "{found}");
        let below = "run after the downs above it (as if 0.4.0's down, which fails, were fixed)";
        assert!(said("v0_2_0__m2.toml", below, "down"), "{found}");
    }
}

#[test]
fn an_upgrade_after_the_whole_chains_downgrade_meets_what_the_downs_leave() {
    let _alone = SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let Some(url) = server() else {
        panic!("PostgreSQL must run on 127.0.0.1:5432 for this test (.ci/run starts it)");
    };
    // 0.2.0's down does nothing and says what it leaves, as a chain imported with
    // `--empty-downs nothing` does: downgraded to 0.1.0 and upgraded again, as a
    // rollback and the next deploy would, its up meets its own column.
    let chain = |irreversible: bool| {
        let users =
            format!("description = \"users\"\nirreversible = true\n[[up]]\nsql = '{USERS}'\n");
        let bio = "ALTER TABLE users ADD COLUMN bio TEXT;";
        vec![
            users,
            match irreversible {
                false => spec(
                    "bio",
                    "down_leaves = [\"column users.bio\"]",
                    bio,
                    "SELECT 1;",
                ),
                true => {
                    format!("description = \"bio\"\nirreversible = true\n[[up]]\nsql = '{bio}'\n")
                }
            },
        ]
    };
    // Made irreversible, 0.2.0 is neither downgraded nor run again.
    round_trip_found(
        &url,
        &chain(false),
        &chain(true),
        &[
            "an upgrade after a downgrade of the whole chain fails at this up",
            "up step 1 fails on {engine}",
            "its down and those above it leave column users.bio (0.2.0)",
        ],
    );
}
