//! An application that depends on semigrate and brings its store to the newest version
//! compiled in when it starts, then refuses to run on anything older than it needs.
//!
//! `cargo run --example embed -- var/app.db var/data`

use semigrate::Migrator;

use accidents::{CHAIN, Version};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let database = args.next().unwrap_or_else(|| "var/app.db".into());
    let data_dir = args.next().unwrap_or_else(|| "var/data".into());
    let mut conn = rusqlite::Connection::open(&database)?;

    let migrator = Migrator::new(&CHAIN).data_dir(&data_dir);
    let at = migrator.upgrade(&mut conn)?;
    migrator.require(&mut conn, Version::V2_0_0)?;

    // From here on the application uses its connection as it always does.
    let accidents: i64 = conn.query_row("SELECT count(*) FROM accidents", [], |r| r.get(0))?;
    println!("{database} is at {at}: {accidents} accidents");
    Ok(())
}
