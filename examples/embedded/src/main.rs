//! A to-do application that keeps its own chain in migrations/ and brings its store up
//! to date when it starts. Usage: embedded-todo DATABASE

use embedded_todo::{CHAIN, Version};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let database = std::env::args().nth(1).unwrap_or_else(|| "todo.db".into());
    let mut conn = rusqlite::Connection::open(&database)?;
    let migrator = semigrate::Migrator::new(&CHAIN);
    let at = migrator.upgrade(&mut conn)?;
    migrator.require(&mut conn, Version::V0_2_0)?;
    conn.execute(
        "INSERT INTO tasks (title, due) VALUES ('write the tour', '2026-12-01')",
        [],
    )?;
    let tasks: i64 = conn.query_row("SELECT count(*) FROM tasks", [], |r| r.get(0))?;
    println!("{database} is at {at}: {tasks} tasks");
    Ok(())
}
