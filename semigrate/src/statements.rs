//! A step's SQL text cut into its statements, for a migration that runs outside a
//! transaction: PostgreSQL runs a text of several statements as one implicit
//! transaction, where `CREATE INDEX CONCURRENTLY` or `VACUUM` cannot run, so each
//! statement is sent on its own. The cut respects what may hold a `;`: strings (with
//! `''`, and backslash escapes in `E'…'`), quoted identifiers, dollar quotes
//! (`$$…$$`, `$tag$…$tag$`), line and block comments (nested, as PostgreSQL has them),
//! and `BEGIN ATOMIC … END` bodies.

/// What a step sends at once: its whole text inside a transaction, each statement on
/// its own outside one.
pub fn batches(sql: &str, transaction: bool) -> Vec<&str> {
    match transaction {
        true => vec![sql],
        false => split(sql),
    }
}

/// Names the failing statement of a step cut into several, for an error message.
pub fn which(index: usize, count: usize) -> String {
    match count {
        1 => String::new(),
        _ => format!(" (statement {} of {count})", index + 1),
    }
}

/// The statements of `sql`, in order, each without its `;` and trimmed; empty ones
/// (a trailing `;`, a comment alone) are left out.
pub fn split(sql: &str) -> Vec<&str> {
    let mut statements = Vec::new();
    let mut start = 0;
    // Inside `BEGIN ATOMIC`: its depth, and the CASEs open within it, whose END is
    // not the body's.
    let (mut atomic, mut cases) = (0usize, 0usize);
    let mut last: Option<Token> = None;
    for (at, token) in tokens(sql) {
        let word = |w: &str| matches!(token, Token::Word(t) if t.eq_ignore_ascii_case(w));
        if token == Token::Punct(b';') && atomic == 0 {
            if last.is_some() {
                statements.push(sql[start..at].trim());
            }
            start = at + 1;
            last = None;
            continue;
        }
        if word("atomic") && matches!(last, Some(Token::Word(b)) if b.eq_ignore_ascii_case("begin"))
        {
            atomic += 1;
        } else if atomic > 0 && word("case") {
            cases += 1;
        } else if atomic > 0 && word("end") {
            match cases {
                0 => atomic -= 1,
                _ => cases -= 1,
            }
        }
        last = Some(token);
    }
    if last.is_some() {
        statements.push(sql[start..].trim());
    }
    statements
}

/// What a statement does to the session's transaction, when it is one of the
/// statements that open or end one (a file that manages its own transaction).
#[cfg(any(feature = "cli", feature = "build"))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// `BEGIN`, `START TRANSACTION`.
    Opens,
    /// `COMMIT`, `END`, `ROLLBACK`, `ABORT`.
    Ends,
}

/// Whether `statement` opens or ends a transaction; `BEGIN ATOMIC` (a function body)
/// does neither.
#[cfg(any(feature = "cli", feature = "build"))]
pub fn control(statement: &str) -> Option<Control> {
    let tokens = tokens(statement);
    let word = |k: usize| match tokens.get(k) {
        Some((_, Token::Word(w))) => w.to_ascii_uppercase(),
        _ => String::new(),
    };
    match (word(0).as_str(), word(1).as_str()) {
        ("BEGIN", "ATOMIC") => None,
        ("BEGIN", _) | ("START", "TRANSACTION") => Some(Control::Opens),
        ("COMMIT" | "END" | "ROLLBACK" | "ABORT", _) => Some(Control::Ends),
        _ => None,
    }
}

/// A piece of SQL text as the splitter and the lints read it. Blanks and comments
/// are not tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Token<'a> {
    /// A keyword or a bare identifier, as written.
    Word(&'a str),
    /// A quoted identifier, its quotes included.
    Quoted(&'a str),
    /// A string (`'…'`, `E'…'`) or a dollar-quoted text, its quotes included.
    Literal(&'a str),
    /// Any other byte: `;`, `,`, `(`, `)`, `.`, an operator's, a digit.
    Punct(u8),
}

/// The tokens of `sql`, each with the offset where it starts.
pub fn tokens(sql: &str) -> Vec<(usize, Token<'_>)> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let (end, token) = match b {
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                i = find(bytes, i, b"\n").map_or(bytes.len(), |e| e + 1);
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = block_comment_end(bytes, i);
                continue;
            }
            _ if b.is_ascii_whitespace() => {
                i += 1;
                continue;
            }
            b'\'' => {
                let end = string_end(bytes, i, false);
                (end, Token::Literal(&sql[i..end]))
            }
            b'"' => {
                let end = string_end(bytes, i, false);
                (end, Token::Quoted(&sql[i..end]))
            }
            b'$' if dollar_tag(bytes, i).is_some() => {
                let tag = dollar_tag(bytes, i).unwrap_or_default();
                let body = i + tag.len();
                let end = find(bytes, body, tag).map_or(bytes.len(), |e| e + tag.len());
                (end, Token::Literal(&sql[i..end]))
            }
            _ if b.is_ascii_alphabetic() || b == b'_' => {
                let end = bytes[i..]
                    .iter()
                    .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
                    .map_or(bytes.len(), |n| i + n);
                match &sql[i..end] {
                    // `E'…'`: backslash escapes.
                    e if e.eq_ignore_ascii_case("e") && bytes.get(end) == Some(&b'\'') => {
                        let end = string_end(bytes, end, true);
                        (end, Token::Literal(&sql[i..end]))
                    }
                    word => (end, Token::Word(word)),
                }
            }
            _ => (i + 1, Token::Punct(b)),
        };
        out.push((i, token));
        i = end;
    }
    out
}

/// Where `needle` starts at or after `from`.
fn find(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(&bytes[from..], needle).map(|n| from + n)
}

/// Past the block comment that opens at `i`; PostgreSQL nests them.
fn block_comment_end(bytes: &[u8], mut i: usize) -> usize {
    let mut depth = 0;
    while i < bytes.len() {
        if bytes[i] == b'/' && bytes.get(i + 1) == Some(&b'*') {
            depth += 1;
            i += 2;
        } else if bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    bytes.len()
}

/// Past the quoted text that opens at `i` (`'` or `"`): a doubled quote stays inside,
/// and with `escapes`, so does a backslash and what follows it.
fn string_end(bytes: &[u8], i: usize, escapes: bool) -> usize {
    let quote = bytes[i];
    let mut j = i + 1;
    while j < bytes.len() {
        match bytes[j] {
            b'\\' if escapes => j += 2,
            q if q == quote && bytes.get(j + 1) == Some(&quote) => j += 2,
            q if q == quote => return j + 1,
            _ => j += 1,
        }
    }
    bytes.len()
}

/// The dollar quote's tag (`$$`, `$body$`) that opens at `i`, if one does: not a
/// parameter (`$1`), nor a `$` inside a word.
fn dollar_tag(bytes: &[u8], i: usize) -> Option<&[u8]> {
    if i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_') {
        return None;
    }
    let rest = &bytes[i + 1..];
    let len = rest
        .iter()
        .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))?;
    if rest[len] != b'$' || rest.first().is_some_and(u8::is_ascii_digit) {
        return None;
    }
    Some(&bytes[i..i + len + 2])
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    #[cfg(any(feature = "cli", feature = "build"))]
    fn statements_that_open_or_end_a_transaction_are_known() {
        use super::{Control, control};
        assert_eq!(control("BEGIN"), Some(Control::Opens));
        assert_eq!(control("-- why\nbegin transaction"), Some(Control::Opens));
        assert_eq!(
            control("START TRANSACTION ISOLATION LEVEL SERIALIZABLE"),
            Some(Control::Opens)
        );
        assert_eq!(control("COMMIT"), Some(Control::Ends));
        assert_eq!(control("rollback"), Some(Control::Ends));
        assert_eq!(control("END"), Some(Control::Ends));
        assert_eq!(control("BEGIN ATOMIC SELECT 1; END"), None);
        assert_eq!(control("UPDATE t SET begin = 1"), None);
        assert_eq!(control("START_AT"), None);
    }

    #[test]
    fn statements_are_cut_at_semicolons_and_trimmed() {
        assert_eq!(
            split("ALTER TABLE a ADD COLUMN r REAL;\n CREATE INDEX CONCURRENTLY ix ON a (r);\n"),
            [
                "ALTER TABLE a ADD COLUMN r REAL",
                "CREATE INDEX CONCURRENTLY ix ON a (r)"
            ]
        );
        assert_eq!(split("VACUUM"), ["VACUUM"]);
        assert_eq!(split(" ; -- nothing\n;/* nor here */"), Vec::<&str>::new());
    }

    #[test]
    fn semicolons_inside_strings_identifiers_and_comments_do_not_cut() {
        let sql = "INSERT INTO t VALUES ('a;b', 'it''s; fine', E'esc\\'; aped');\
                   SELECT \"odd;name\" FROM t -- a; comment\n;\
                   /* outer /* inner; */ still; */ SELECT 2";
        assert_eq!(
            split(sql),
            [
                "INSERT INTO t VALUES ('a;b', 'it''s; fine', E'esc\\'; aped')",
                "SELECT \"odd;name\" FROM t -- a; comment",
                "/* outer /* inner; */ still; */ SELECT 2"
            ]
        );
    }

    #[test]
    fn dollar_quotes_and_atomic_bodies_hold_their_semicolons() {
        let function = "CREATE FUNCTION f() RETURNS int AS $body$ BEGIN RETURN 1; END; $body$ LANGUAGE plpgsql";
        let atomic = "CREATE FUNCTION g(x int) RETURNS int BEGIN ATOMIC SELECT CASE WHEN x > 0 THEN 1 ELSE 0 END; SELECT 2; END";
        let sql = format!("{function};\n{atomic};\nSELECT $1, $$a;b$$");
        assert_eq!(split(&sql), [function, atomic, "SELECT $1, $$a;b$$"]);
    }
}
