//! Communications (the PHONE and EMAIL multi-field values) as lookups see them.
//!
//! Two keys are kept beside every stored multi-field value, so that both kinds of lookup a
//! portal offers are served from an index instead of a scan:
//!
//! - the **search key** ([`search_key`]): the value in lower case. A list filter
//!   `{"EMAIL": "Ann@"}` is a case-insensitive *prefix* match on the value as stored (the
//!   portal turns it into `VALUE LIKE 'Ann@%'`), and a prefix of the value is a prefix of
//!   its key, so the filter becomes a range over the key's index.
//! - the **match code** ([`match_code`]): what `crm.duplicate.findbycomm` compares,
//!   exactly as the portal's duplicate index does: an e-mail trimmed and in lower case; a
//!   phone reduced to its digits with the portal's prefix rules ([`normalize_phone`]), so
//!   `+7 (999) 123-45-67`, `79991234567` and `8 999 123 45 67` are one number.

/// The multi-field types `crm.duplicate.findbycomm` searches.
pub const COMM_TYPES: [&str; 2] = ["PHONE", "EMAIL"];

/// The search key of a stored value: each character in lower case (the case folding of
/// the stores' LIKE), so that `key(value)` starts with `key(p)` exactly when `value` starts
/// with `p` ignoring case.
pub fn search_key(value: &str) -> String {
    value.chars().flat_map(char::to_lowercase).collect()
}

/// The match code of a value of multi-field type `type_id`: `None` for the types the
/// duplicate search does not cover and for values that reduce to nothing (a phone without
/// digits, a blank e-mail), which the portal does not index either.
pub fn match_code(type_id: &str, value: &str) -> Option<String> {
    let code = match type_id {
        "PHONE" => normalize_phone(value),
        "EMAIL" => search_key(php_trim(value)),
        _ => return None,
    };
    (!code.is_empty()).then_some(code)
}

/// PHP's `trim`: spaces, tabs, line ends, NUL and vertical tab at both ends.
fn php_trim(s: &str) -> &str {
    s.trim_matches([' ', '\t', '\n', '\r', '\0', '\x0B'])
}

/// A phone number as the portal's duplicate index keeps it:
///
/// 1. everything but digits, `#` and `*` is dropped (a leading `+` too);
/// 2. when ten or more remain: a leading `00` or `011` (international call prefixes) is
///    dropped, a leading `8` becomes `7` (the Russian trunk prefix) unless the number
///    starts `80`, `81` or `82`, and any other leading `0` is dropped; a number written
///    `+8…` keeps its `8` (it is read as `008…`);
/// 3. an extension after `#` is dropped (a `;` or `,` is gone by then with the other
///    punctuation, so what follows it stays part of the number, as on a portal).
///
/// ```
/// use crm_core::comm::normalize_phone;
/// assert_eq!(normalize_phone("+7 (999) 123-45-67"), "79991234567");
/// assert_eq!(normalize_phone("8 (999) 123-45-67"), "79991234567");
/// assert_eq!(normalize_phone("+7 812 999-93-31#404"), "78129999331");
/// ```
pub fn normalize_phone(value: &str) -> String {
    let mut number: String = if value.len() >= 10 && value.starts_with("+8") {
        format!("00{}", &value[1..])
    } else {
        value.to_string()
    };
    number.retain(|c| c.is_ascii_digit() || c == '#' || c == '*');
    if number.len() >= 10 {
        if ["80", "81", "82"].iter().any(|p| number.starts_with(p)) {
        } else if let Some(rest) = number.strip_prefix("00") {
            number = rest.to_string();
        } else if let Some(rest) = number.strip_prefix("011") {
            number = rest.to_string();
        } else if let Some(rest) = number.strip_prefix('8') {
            number = format!("7{rest}");
        } else if let Some(rest) = number.strip_prefix('0') {
            number = rest.to_string();
        }
    }
    if number.is_empty() {
        // Not a phone number: the portal keeps what could be one.
        number = value
            .chars()
            .filter(|c| c.is_ascii_digit() || matches!(c, '#' | '*' | ',' | ';'))
            .collect();
    }
    drop_extensions(&number)
}

/// Each run of digits keeps only itself of what follows it up to the next character that
/// is neither `;`, `#`, a digit nor `,` (the portal's `(\d+)([;#]*)([\d,]*)` → `$1`).
fn drop_extensions(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            out.push_str(&s[start..i]);
            while i < b.len() && matches!(b[i], b';' | b'#') {
                i += 1;
            }
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b',') {
                i += 1;
            }
        } else {
            // Only ASCII is left at this point.
            out.push(char::from(b[i]));
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_reduce_as_the_portal_duplicate_index_does() {
        for (input, code) in [
            ("+7 (999) 123-45-67", "79991234567"),
            ("79991234567", "79991234567"),
            ("89991234567", "79991234567"),
            ("8 (999) 123-45-67", "79991234567"),
            ("8976543", "8976543"),
            ("+1 (415) 555-0100", "14155550100"),
            ("0049301234567", "49301234567"),
            ("011 49 30 1234567", "49301234567"),
            ("0123456789", "123456789"),
            ("8123456789", "8123456789"),
            ("+8 999 123 45 67", "89991234567"),
            ("+78129999331#404812", "78129999331"),
            ("+78129999331;ext=4048", "781299993314048"),
            ("123*45", "123*45"),
            ("12,34", "1234"),
            ("abc", ""),
            ("", ""),
        ] {
            assert_eq!(normalize_phone(input), code, "{input:?}");
        }
    }

    #[test]
    fn match_codes_cover_phones_and_e_mails_only() {
        assert_eq!(
            match_code("EMAIL", "  Ann.Lee@Example.ORG \n").as_deref(),
            Some("ann.lee@example.org")
        );
        assert_eq!(
            match_code("EMAIL", "ÉLODIE@x.fr").as_deref(),
            Some("élodie@x.fr")
        );
        assert_eq!(match_code("EMAIL", "   "), None);
        assert_eq!(match_code("PHONE", "+7 999").as_deref(), Some("7999"));
        assert_eq!(match_code("PHONE", "call me"), None);
        assert_eq!(match_code("WEB", "example.org"), None);
    }

    #[test]
    fn a_prefix_of_a_value_keys_to_a_prefix_of_its_key() {
        for (value, prefix) in [
            ("Ann@Example.org", "ANN@ex"),
            ("Иван@Почта.рф", "иВАН@"),
            ("İstanbul", "İs"),
        ] {
            assert!(
                search_key(value).starts_with(&search_key(prefix)),
                "{value:?} {prefix:?}"
            );
        }
    }
}
