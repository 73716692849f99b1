//! Data migrations: CSV files transformed by declarative ops. `flow` is pure and shared
//! with the build; the rest streams files and swaps them in step with the store's
//! commit.

pub mod check;
mod expr;
pub mod flow;
pub mod load;
mod pieces;
mod row_writer;
pub mod stream;
pub mod swap;

/// A cell's value as an error shows it: escaped, and cut if long.
pub fn shown_value(bytes: &[u8]) -> String {
    cut(String::from_utf8_lossy(bytes).escape_debug().collect(), 60)
}

fn cut(text: String, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}

/// A file's header as an error shows it: names escaped where they hold control
/// characters, long ones cut, and at most a screenful of them, so that a file that
/// is not what it should be (no line breaks, say) gives one readable line.
pub fn shown_header(names: &[String]) -> String {
    const NAMES: usize = 24;
    const CHARS: usize = 40;
    let mut shown: Vec<String> = names
        .iter()
        .take(NAMES)
        .map(|name| cut(name.escape_debug().collect(), CHARS))
        .collect();
    if names.len() > NAMES {
        shown.push(format!("… ({} more)", names.len() - NAMES));
    }
    shown.join(", ")
}

#[cfg(test)]
mod tests {
    use super::{shown_header, shown_value};

    #[test]
    fn a_header_is_shown_escaped_cut_and_bounded() {
        let names: Vec<String> = ["a\rb", &"x".repeat(50)]
            .into_iter()
            .map(String::from)
            .chain((0..30).map(|i| i.to_string()))
            .collect();
        let shown = shown_header(&names);
        assert!(
            shown.starts_with(&format!("a\\rb, {}…, 0, 1,", "x".repeat(40))),
            "{shown}"
        );
        assert!(shown.ends_with("21, … (8 more)"), "{shown}");
        assert_eq!(shown_value(b"\xFFok\n"), "\u{fffd}ok\\n");
        assert_eq!(
            shown_value("é".repeat(100).as_bytes()),
            format!("{}…", "é".repeat(60))
        );
    }
}
