//! The example chain's Rust steps, named by `migrations/v2_1_0__risk_model.toml`: what
//! no declarative op says. The build finds each function by its path and checks its
//! signature; the generated table calls it directly.

use semigrate::rust::{CellOutcome, Context, Database, Outcome, Row};

/// The risk of an accident, within 0..=1, from the codes of the national accident file:
/// severity (`grav`) sets the base; night without lighting (`lum`) and bad weather
/// (`atm`) raise it.
fn risk(grav: i64, lum: Option<i64>, atm: Option<i64>) -> f64 {
    let base = match grav {
        2 => 0.8,  // killed
        3 => 0.55, // hospitalised
        4 => 0.25, // light injury
        _ => 0.05, // unhurt
    };
    let light = match lum {
        Some(3) => 0.15,           // night, no lighting
        Some(4) => 0.1,            // night, lighting off
        Some(2) | Some(5) => 0.05, // dusk or dawn; night, lighting on
        _ => 0.0,
    };
    let weather = match atm {
        Some(3..=5) => 0.1,      // heavy rain, snow or hail, fog
        Some(2 | 6 | 7) => 0.05, // light rain, strong wind, dazzling
        _ => 0.0,
    };
    f64::min(1.0, base + light + weather)
}

/// `rust = "steps::score_risk"`: every accident's `risk_score`, from `risk`.
pub fn score_risk(cx: &mut Context) -> Outcome {
    match &mut cx.database {
        Database::Sqlite(conn) => {
            let accidents = conn
                .prepare("SELECT Num_Acc, grav, lum, atm FROM accidents")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect::<Result<Vec<(String, i64, Option<i64>, Option<i64>)>, _>>()?;
            let mut update =
                conn.prepare("UPDATE accidents SET risk_score = ?1 WHERE Num_Acc = ?2")?;
            for (id, grav, lum, atm) in accidents {
                update.execute(semigrate::rusqlite::params![risk(grav, lum, atm), id])?;
            }
        }
        Database::Postgres(client) => {
            let update =
                client.prepare("UPDATE accidents SET risk_score = $1 WHERE Num_Acc = $2")?;
            for row in client.query("SELECT Num_Acc, grav, lum, atm FROM accidents", &[])? {
                let (id, grav, lum, atm): (String, i32, Option<i32>, Option<i32>) =
                    (row.get(0), row.get(1), row.get(2), row.get(3));
                let score = risk(grav.into(), lum.map(i64::from), atm.map(i64::from)) as f32;
                client.execute(&update, &[&score, &id])?;
            }
        }
    }
    Ok(())
}

/// `[[validate]] rust = "steps::every_accident_is_scored"`: a score for every accident,
/// within 0..=1.
pub fn every_accident_is_scored(cx: &mut Context) -> Outcome {
    let sql = "SELECT count(*) FROM accidents \
               WHERE risk_score IS NULL OR risk_score < 0 OR risk_score > 1";
    let unscored: i64 = match &mut cx.database {
        Database::Sqlite(conn) => conn.query_row(sql, [], |r| r.get(0))?,
        Database::Postgres(client) => client.query_one(sql, &[])?.get(0),
    };
    match unscored {
        0 => Ok(()),
        n => Err(format!("{n} accidents have no risk_score within 0..=1").into()),
    }
}

/// `op = "apply"` on `com`: the commune's number within its département, the INSEE
/// code (`59350`) without the département's prefix (`59`).
pub fn commune_in_departement(value: &str, row: &Row) -> CellOutcome {
    let dep = row.get("dep").unwrap_or_default();
    match value.strip_prefix(dep) {
        Some(number) if !dep.is_empty() => Ok(number.to_owned()),
        _ => Err(format!("the commune `{value}` is not in the département `{dep}`").into()),
    }
}

/// The inverse: the INSEE code again, the département's prefix put back.
pub fn commune_insee_code(value: &str, row: &Row) -> CellOutcome {
    Ok(format!("{}{value}", row.get("dep").unwrap_or_default()))
}
