//! What the PostgreSQL text alone shows, for a build without a server to measure on:
//! the statements that lock a busy table for as long as they read or rewrite it,
//! recognised from their tokens (`statements::tokens`, so strings and comments never
//! match), each reported as a warning with its rule's name. A migration that accepts
//! the table's locks (`locks`) is not warned about it, as the measured check does not
//! fail it. Tables the migration itself creates are empty: nothing waits on them.

use crate::model::{Engine, Migration, Step};
use crate::statements::{Token, split, tokens};
use std::collections::BTreeSet;

/// The hazards of one rule, in words, with the lock PostgreSQL takes.
struct Rule {
    name: &'static str,
    what: &'static str,
}

const INDEX: Rule = Rule {
    name: "index-without-concurrently",
    what: "builds an index under a SHARE lock, reading the whole table: writes wait (build it CONCURRENTLY, with transaction = false)",
};
const TYPE_CHANGE: Rule = Rule {
    name: "type-change",
    what: "changes a column's type under an ACCESS EXCLUSIVE lock, most often rewriting the table: reads and writes wait",
};
const SET_NOT_NULL: Rule = Rule {
    name: "set-not-null",
    what: "sets NOT NULL under an ACCESS EXCLUSIVE lock, reading the whole table: reads and writes wait (add a CHECK (col IS NOT NULL) NOT VALID, VALIDATE it, then SET NOT NULL)",
};
const NOT_VALID: Rule = Rule {
    name: "constraint-without-not-valid",
    what: "adds a constraint that is checked against every row under a lock that blocks writes (add it NOT VALID, then VALIDATE CONSTRAINT)",
};
const VOLATILE_DEFAULT: Rule = Rule {
    name: "volatile-default",
    what: "adds a column whose default is volatile, rewriting the table under an ACCESS EXCLUSIVE lock: reads and writes wait (add it without a default, then backfill)",
};

/// Functions whose value changes from row to row: a default calling one is computed
/// for every existing row.
const VOLATILE: [&str; 7] = [
    "random",
    "clock_timestamp",
    "timeofday",
    "gen_random_uuid",
    "uuid_generate_v1",
    "uuid_generate_v4",
    "nextval",
];

/// Every hazard the text of `m`'s PostgreSQL steps shows on a table it does not
/// create and does not accept: `up step 1: CREATE INDEX on accidents ... [rule]`.
pub fn lint(m: &Migration) -> Vec<String> {
    let mut found = Vec::new();
    for (direction, steps) in [("up", &m.up), ("down", &m.down)] {
        let mut created = BTreeSet::new();
        for (i, step) in steps.iter().enumerate() {
            let Step::Sql(sql) = step else { continue };
            let Some(text) = sql.for_engine(Engine::Postgres) else {
                continue;
            };
            for statement in split(text) {
                for (table, rule) in hazards(statement, &mut created) {
                    if !m.locks.accepted.covers(&table) {
                        found.push(format!(
                            "{direction} step {}: on table {table}, {} [{}]",
                            i + 1,
                            rule.what,
                            rule.name
                        ));
                    }
                }
            }
        }
    }
    found
}

/// The hazards of one statement, by table; records the tables it creates.
fn hazards(statement: &str, created: &mut BTreeSet<String>) -> Vec<(String, &'static Rule)> {
    let tokens: Vec<Token> = tokens(statement).into_iter().map(|(_, t)| t).collect();
    let is = |i: usize, word: &str| matches!(tokens.get(i), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word));
    let mut found = Vec::new();
    if is(0, "create") {
        let mut i = 1;
        if is(i, "unique") {
            i += 1;
        }
        if is(i, "table") {
            let name = skip(&tokens, i + 1, &["if", "not", "exists"]);
            if let Some((table, _)) = name_at(&tokens, name) {
                created.insert(table);
            }
        } else if is(i, "index") {
            let concurrently = is(i + 1, "concurrently");
            let on = (i..tokens.len()).find(|&k| is(k, "on"));
            let table = on.and_then(|on| name_at(&tokens, skip(&tokens, on + 1, &["only"])));
            if let Some((table, _)) = table
                && !concurrently
                && !created.contains(&table)
            {
                found.push((table, &INDEX));
            }
        }
    } else if is(0, "alter") && is(1, "table") {
        let start = skip(&tokens, 2, &["if", "exists", "only"]);
        let Some((table, next)) = name_at(&tokens, start) else {
            return found;
        };
        if created.contains(&table) {
            return found;
        }
        for action in actions(&tokens[next..]) {
            if let Some(rule) = action_hazard(action) {
                found.push((table.clone(), rule));
            }
        }
    }
    found
}

/// The hazard of one action of an ALTER TABLE (`ALTER COLUMN … TYPE`, `ADD …`).
fn action_hazard(action: &[Token]) -> Option<&'static Rule> {
    let is = |i: usize, word: &str| matches!(action.get(i), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word));
    let has = |word: &str| (0..action.len()).any(|i| is(i, word));
    let followed =
        |first: &str, second: &str| (0..action.len()).any(|i| is(i, first) && is(i + 1, second));
    if is(0, "alter") {
        if followed("set", "not") && has("null") {
            return Some(&SET_NOT_NULL);
        }
        if has("type") && !followed("set", "default") {
            return Some(&TYPE_CHANGE);
        }
        return None;
    }
    if !is(0, "add") {
        return None;
    }
    let constraint = is(1, "constraint") || is(1, "check") || is(1, "foreign");
    if constraint {
        let checked = has("check") || followed("foreign", "key");
        return (checked && !followed("not", "valid")).then_some(&NOT_VALID);
    }
    // ADD [COLUMN] name type ... DEFAULT expr
    let serial = [
        "serial",
        "bigserial",
        "smallserial",
        "serial4",
        "serial8",
        "serial2",
    ]
    .iter()
    .any(|t| has(t));
    let volatile = action.iter().enumerate().any(|(i, t)| {
        matches!(t, Token::Word(w) if VOLATILE.iter().any(|v| w.eq_ignore_ascii_case(v)))
            && action.get(i + 1) == Some(&Token::Punct(b'('))
    });
    (serial || (has("default") && volatile)).then_some(&VOLATILE_DEFAULT)
}

/// An ALTER TABLE's actions: its tokens cut at the commas outside parentheses.
fn actions<'a, 'b>(tokens: &'b [Token<'a>]) -> Vec<&'b [Token<'a>]> {
    let (mut out, mut start, mut depth) = (Vec::new(), 0, 0i32);
    for (i, t) in tokens.iter().enumerate() {
        match t {
            Token::Punct(b'(') => depth += 1,
            Token::Punct(b')') => depth -= 1,
            Token::Punct(b',') if depth == 0 => {
                out.push(&tokens[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&tokens[start..]);
    out
}

/// Past the optional words at `i` (`IF NOT EXISTS`, `ONLY`).
fn skip(tokens: &[Token], mut i: usize, optional: &[&str]) -> usize {
    while matches!(tokens.get(i), Some(Token::Word(w)) if optional.iter().any(|o| w.eq_ignore_ascii_case(o)))
    {
        i += 1;
    }
    i
}

/// The table named at `i` (`t`, `"T"`, `schema.t`), as PostgreSQL folds it, and the
/// index past it.
fn name_at(tokens: &[Token], mut i: usize) -> Option<(String, usize)> {
    let mut name = None;
    loop {
        name = Some(match tokens.get(i)? {
            Token::Word(w) => w.to_ascii_lowercase(),
            Token::Quoted(q) => q[1..q.len() - 1].replace("\"\"", "\""),
            _ => return name.map(|n| (n, i)),
        });
        i += 1;
        if tokens.get(i) != Some(&Token::Punct(b'.')) {
            return name.map(|n| (n, i));
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Accepted, Locks, SqlText, Text};

    fn migration(up: &str, accepted: Accepted) -> Migration {
        let step = |sql: &str| {
            Step::Sql(SqlText {
                sqlite: None,
                postgres: Some(Text::Owned(sql.to_owned())),
            })
        };
        Migration {
            version: crate::model::SemVer::new(1, 0, 0),
            file: "v1_0_0.toml".into(),
            description: "".into(),
            transaction: true,
            foreign_keys: true,
            irreversible: false,
            destructive: false,
            up: vec![step(up)].into(),
            down: vec![].into(),
            validate: vec![].into(),
            checksum: "".into(),
            timeouts: Default::default(),
            locks: Locks {
                accepted,
                measured: None,
            },
            schema: None,
            schema_postgres: None,
            schema_digest: None,
            origin: None,
            down_leaves: crate::model::List::Borrowed(&[]),
            fails_on_rows: false,
        }
    }

    /// The rule each statement breaks, in order.
    fn rules(up: &str) -> Vec<String> {
        lint(&migration(up, Accepted::None))
            .iter()
            .map(|w| w[w.rfind('[').unwrap() + 1..w.len() - 1].to_owned())
            .collect()
    }

    #[test]
    fn each_hazard_is_named_with_its_rule_and_table() {
        assert_eq!(
            rules("CREATE INDEX ix ON accidents (dep, com)"),
            ["index-without-concurrently"]
        );
        assert_eq!(
            rules("create unique index if not exists ix on only public.\"Acc\" (x)"),
            ["index-without-concurrently"]
        );
        assert_eq!(
            rules(
                "ALTER TABLE accidents ALTER COLUMN lat TYPE REAL USING lat::real, ALTER grav SET NOT NULL"
            ),
            ["type-change", "set-not-null"]
        );
        assert_eq!(
            rules("ALTER TABLE u ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES t (id)"),
            ["constraint-without-not-valid"]
        );
        assert_eq!(
            rules("ALTER TABLE u ADD CHECK (a > 0)"),
            ["constraint-without-not-valid"]
        );
        assert_eq!(
            rules("ALTER TABLE u ADD COLUMN id uuid DEFAULT gen_random_uuid()"),
            ["volatile-default"]
        );
        assert_eq!(
            rules("ALTER TABLE u ADD COLUMN n bigserial"),
            ["volatile-default"]
        );
        let warning = &lint(&migration("CREATE INDEX ix ON \"Acc\" (x)", Accepted::None))[0];
        assert!(
            warning.starts_with("up step 1: on table Acc, builds an index under a SHARE lock"),
            "{warning}"
        );
    }

    #[test]
    fn the_safe_forms_and_what_strings_and_comments_hold_are_not_hazards() {
        for safe in [
            "CREATE INDEX CONCURRENTLY ix ON accidents (dep)",
            "ALTER TABLE u ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES t (id) NOT VALID; ALTER TABLE u VALIDATE CONSTRAINT fk",
            "ALTER TABLE u ADD CONSTRAINT c CHECK (a > 0) NOT VALID",
            "ALTER TABLE u ADD COLUMN risk REAL DEFAULT 0, ADD COLUMN at timestamptz DEFAULT now()",
            "ALTER TABLE u ALTER COLUMN a SET DEFAULT 1, ALTER COLUMN a DROP NOT NULL",
            "COMMENT ON TABLE u IS 'CREATE INDEX ix ON u (a); ALTER TABLE u ALTER a TYPE int'",
            "-- CREATE INDEX ix ON u (a)\nSELECT 1",
            // Tables the migration creates are empty.
            "CREATE TABLE fresh (a int); CREATE INDEX ix ON fresh (a); ALTER TABLE fresh ALTER a SET NOT NULL",
        ] {
            assert_eq!(rules(safe), Vec::<String>::new(), "{safe}");
        }
    }

    #[test]
    fn accepting_a_table_silences_its_hazards_only() {
        let up = "CREATE INDEX a_ix ON a (x); CREATE INDEX b_ix ON b (x)";
        let listed = Accepted::Tables(vec![Text::Borrowed("a")].into());
        let left = lint(&migration(up, listed));
        assert_eq!(left.len(), 1);
        assert!(left[0].contains("on table b"), "{left:?}");
        assert_eq!(lint(&migration(up, Accepted::All)), Vec::<String>::new());
    }
}
