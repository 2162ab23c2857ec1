//! SQLite's `like()` replaced by one that ignores case for all of Unicode, as PostgreSQL's
//! `ILIKE` under ICU (and a portal's MySQL) do: built-in SQLite folds only ASCII, so
//! `"иван"` would not find `"Иван"`. `%` and `_` are the wildcards; nothing escapes.

use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;
use rusqlite::types::{Value, ValueRef};

/// Installs the function on a connection (every connection of the store gets it).
pub(super) fn install(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        "like",
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let (Some(pattern), Some(text)) = (text_of(ctx.get_raw(0)), text_of(ctx.get_raw(1)))
            else {
                return Ok(Value::Null);
            };
            Ok(Value::Integer(i64::from(matches(&pattern, &text))))
        },
    )
}

/// An argument as text, the way SQLite's LIKE sees it; `None` for NULL.
fn text_of(v: ValueRef<'_>) -> Option<String> {
    match v {
        ValueRef::Null => None,
        ValueRef::Integer(i) => Some(i.to_string()),
        ValueRef::Real(f) => Some(f.to_string()),
        ValueRef::Text(t) | ValueRef::Blob(t) => Some(String::from_utf8_lossy(t).into_owned()),
    }
}

fn fold(s: &str) -> Vec<char> {
    s.chars().flat_map(char::to_lowercase).collect()
}

/// Whether `text` matches the LIKE `pattern`, ignoring case: `%` matches any run of
/// characters, `_` any one character. Backtracks only to the last `%`, so it never
/// recurses.
pub(crate) fn matches(pattern: &str, text: &str) -> bool {
    let (p, t) = (fold(pattern), fold(text));
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '%' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && (p[pi] == '_' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '%')
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn like_ignores_unicode_case_and_has_no_escape() {
        for (pattern, text, want) in [
            ("%иван%", "Иван Петров", true),
            ("ИВАН", "иван", true),
            ("straße", "STRASSE", false),
            ("%ab%", "xxABxx", true),
            ("a_c", "abc", true),
            ("a_c", "ac", false),
            ("a%c", "ac", true),
            ("%", "", true),
            ("", "", true),
            ("", "a", false),
            ("a\\_c", "a\\_c", true),
            ("a\\_c", "a_c", false),
            ("%a%b%c", "xaxbxcx", false),
            ("%a%b%c", "xaxbxc", true),
            ("Ärger%", "ärgerlich", true),
        ] {
            assert_eq!(matches(pattern, text), want, "{pattern:?} ~ {text:?}");
        }
    }
}
