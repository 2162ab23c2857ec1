//! PHP-compatible form decoding: `parse_str` semantics for query strings and
//! `application/x-www-form-urlencoded` bodies, plus the inverse `http_build_query`.
//!
//! Bitrix24 clients send nested parameters such as `fields[PHONE][0][VALUE]=…` or
//! `filter[>=DATE_CREATE]=…` and rely on PHP's exact decoding, so this module mirrors
//! php-src (PHP 8) `main/php_variables.c` (`php_register_variable_ex`,
//! `php_default_treat_data`, `add_post_var`) and `main/url.c` (`php_url_decode`)
//! rather than any generic query-string crate:
//!
//! * pairs are split on `&` only (empty pieces are skipped), each at its first `=`; a
//!   piece without `=` has the value `""`; names and values are form-decoded (`+` is a
//!   space, `%XX`, malformed `%` kept literally);
//! * names are C strings to PHP: a decoded `%00` ends the name, leading spaces are
//!   dropped, and `.`/` ` become `_` in the top-level name (the part before the first
//!   `[`); an empty top-level name drops the pair;
//! * `[idx]` groups follow; an index runs to the next `]` (no nesting), `[]` (or `[ ]`)
//!   appends at the next free integer index, text after a `]` that is not `[` is ignored,
//!   and an unmatched `[` either turns into `_` (first level, PHP ≥ 8.0 also turning later
//!   `.`, ` `, `[` into `_`) or ends the name (deeper levels);
//! * canonical decimal integers (`0`, `7`, `-3`, not `05`, `-0`, `+5`) are integer keys;
//! * a scalar on the way to a nested key is replaced by an array, the final assignment
//!   overwrites in place (last duplicate wins, position kept);
//! * `max_input_nesting_level` / `max_input_vars` are [`Limits`]: a too-deep name also
//!   deletes the whole top-level entry of that name, as PHP does.
//!
//! PHP arrays are ordered maps with int or string keys; they are built here as such and
//! only converted at the end: an array whose keys are exactly `0..n` in insertion order
//! becomes a JSON array, anything else a JSON object (keys stringified, order kept).
//! Leaves are always JSON strings.

use std::collections::HashMap;
use std::fmt;

use super::php_array;
use serde_json::{Map, Value};

/// Bounds on untrusted input (PHP's max_input_nesting_level / max_input_vars).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most `[…]` levels one name may have; a deeper name is dropped and removes the
    /// existing top-level entry with the same name (PHP `max_input_nesting_level`).
    /// It also bounds the recursion used to build the result, so keep it modest.
    pub max_depth: usize,
    /// Only the first `max_vars` pairs are processed, the rest ignored (PHP `max_input_vars`).
    pub max_vars: usize,
    /// Most arrays the whole input may create; a pair that would need more is ignored.
    /// PHP has no such bound, but without it 10,000 names 64 levels deep (a 4 MB body)
    /// become 640,000 arrays and hundreds of megabytes. Ordinary forms need about one
    /// array per pair at most (`fields[PHONE][n][VALUE]`), so the bound is well above
    /// the 10,000 pairs.
    pub max_arrays: usize,
}

impl Default for Limits {
    /// PHP's default nesting level (64) and a var count suited to CRM batch calls.
    fn default() -> Self {
        Self {
            max_depth: 64,
            max_vars: 10_000,
            max_arrays: 25_000,
        }
    }
}

/// Parses a raw `a=1&b[c]=2` string (bytes, possibly invalid UTF-8) with PHP parse_str semantics.
///
/// Invalid UTF-8 in a decoded name or value is replaced with U+FFFD. The input is split
/// binary-safely (like PHP's POST reader), so a raw NUL byte does not end the input.
pub fn parse_str(input: &[u8], limits: &Limits) -> Map<String, Value> {
    let pairs = input
        .split(|&b| b == b'&')
        // php_strtok_r skips empty tokens: `a=1&&b=2` is two pairs and counts as two.
        .filter(|piece| !piece.is_empty())
        .map(|piece| match piece.iter().position(|&b| b == b'=') {
            Some(eq) => (url_decode(&piece[..eq]), url_decode(&piece[eq + 1..])),
            None => (url_decode(piece), String::new()),
        });
    parse_pairs(pairs, limits)
}

/// Same rules for already-decoded (name, value) pairs, e.g. multipart/form-data fields, in order.
///
/// Names are not percent-decoded again; only the first `limits.max_vars` pairs count.
pub fn parse_pairs<I, K, V>(pairs: I, limits: &Limits) -> Map<String, Value>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: Into<String>,
{
    let mut root = PhpArray::default();
    let mut arrays = limits.max_arrays;
    for (name, value) in pairs.into_iter().take(limits.max_vars) {
        register(
            &mut root,
            name.as_ref(),
            value.into(),
            limits.max_depth,
            &mut arrays,
        );
    }
    root.into_object()
}

/// The value the top-level variable `name` would end up with if it is a plain string:
/// the last pair named exactly `name` (after PHP's name mangling) unless a later pair makes
/// it an array. Scans the pairs without building the tree; `None` when absent or an array.
pub fn top_level_string(input: &[u8], name: &str, limits: &Limits) -> Option<String> {
    let mut found = None;
    let pieces = input
        .split(|&b| b == b'&')
        .filter(|piece| !piece.is_empty());
    for piece in pieces.take(limits.max_vars) {
        let (raw_name, raw_value) = match piece.iter().position(|&b| b == b'=') {
            Some(eq) => (&piece[..eq], &piece[eq + 1..]),
            None => (piece, &piece[piece.len()..]),
        };
        let decoded = url_decode(raw_name);
        // Cheap rejection first: the mangled top-level name starts with `name` only if
        // the name does, with `_` standing for any byte mangling turns into `_`.
        let head = decoded.trim_start_matches(' ').as_bytes();
        let could_match = head.len() >= name.len()
            && name.bytes().zip(head).all(|(want, got)| {
                want == *got || (want == b'_' && matches!(got, b' ' | b'.' | b'['))
            });
        if !could_match {
            continue;
        }
        let Some(parsed) = parse_name(&decoded, limits.max_depth) else {
            continue;
        };
        if parsed.top != name {
            continue;
        }
        found = if parsed.indices.is_empty() && !parsed.too_deep {
            Some(url_decode(raw_value))
        } else {
            None
        };
    }
    found
}

/// Percent-decodes form encoding (`+` is a space, `%XX`), lossy UTF-8 on invalid bytes.
///
/// Like `php_url_decode`, a `%` not followed by two hex digits is kept as is.
pub fn url_decode(input: &[u8]) -> String {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = input.get(i + 1).copied().and_then(hex_digit);
                let lo = input.get(i + 2).copied().and_then(hex_digit);
                if let (Some(hi), Some(lo)) = (hi, lo) {
                    out.push((hi << 4) | lo);
                    i += 2;
                } else {
                    out.push(b'%');
                }
            }
            _ => out.push(b),
        }
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(text) => text,
        Err(err) => String::from_utf8_lossy(err.as_bytes()).into_owned(),
    }
}

/// Builds a query string from a tree like PHP's http_build_query (RFC1738: space as `+`,
/// brackets percent-encoded as %5B/%5D, nested keys `a[b][0]=…`, bools as 1/0, null skipped,
/// numbers as their JSON text). Used by tests and by batch callers.
///
/// Empty arrays and objects produce nothing, as in PHP.
pub fn build_query(tree: &Map<String, Value>) -> String {
    let mut out = String::new();
    for (key, value) in tree {
        build_pair(&mut out, &url_encode(key), value);
    }
    out
}

fn build_pair(out: &mut String, name: &str, value: &Value) {
    let text = match value {
        Value::Null => return,
        Value::Bool(flag) => String::from(if *flag { "1" } else { "0" }),
        Value::Number(number) => number.to_string(),
        Value::String(text) => url_encode(text),
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                build_pair(out, &format!("{name}%5B{index}%5D"), item);
            }
            return;
        }
        Value::Object(map) => {
            for (key, item) in map {
                let key = url_encode(key);
                build_pair(out, &format!("{name}%5B{key}%5D"), item);
            }
            return;
        }
    };
    if !out.is_empty() {
        out.push('&');
    }
    out.push_str(name);
    out.push('=');
    out.push_str(&text);
}

/// PHP `urlencode`: alphanumerics and `-_.` stay, space is `+`, the rest is `%XX`.
fn url_encode(text: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => out.push(char::from(b)),
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0x0F)]));
            }
        }
    }
    out
}

const fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// A PHP array key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Int(i64),
    Str(String),
}

impl Key {
    /// `zend_symtable_*` / `ZEND_HANDLE_NUMERIC_STR`: a canonical decimal integer within
    /// `zend_long` is an integer key; `05`, `-0`, `+5`, ` 5` and overflowing numbers stay strings.
    fn from_php(text: &str) -> Self {
        let digits = text.strip_prefix('-').unwrap_or(text);
        let canonical = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !(digits.starts_with('0') && text.len() > 1);
        match text.parse() {
            Ok(int) if canonical => Self::Int(int),
            _ => Self::Str(text.to_owned()),
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Int(int) => write!(f, "{int}"),
            Self::Str(text) => f.write_str(text),
        }
    }
}

#[derive(Debug)]
enum Node {
    Leaf(String),
    Array(PhpArray),
}

impl Node {
    fn into_value(self) -> Value {
        match self {
            Self::Leaf(text) => Value::String(text),
            Self::Array(array) => array.into_value(),
        }
    }
}

/// An ordered PHP array (a zend `HashTable`).
#[derive(Debug, Default)]
struct PhpArray {
    /// Entries in insertion order; `None` is an entry deleted by the depth limit.
    slots: Vec<Option<(Key, Node)>>,
    /// Slot of each live key.
    positions: HashMap<Key, usize>,
    /// `nNextFreeElement` with PHP ≤ 8.2 semantics: starts at 0, so negative keys never
    /// lower it (PHP 8.3 would continue after a leading negative key instead).
    next_free: i64,
}

impl PhpArray {
    /// The key `[]` would use, or `None` when it is taken (only possible once
    /// `nNextFreeElement` saturated at `i64::MAX`), where PHP's next-index insert fails.
    fn next_key(&self) -> Option<Key> {
        let key = Key::Int(self.next_free);
        (!self.positions.contains_key(&key)).then_some(key)
    }

    fn get_mut(&mut self, key: &Key) -> Option<&mut Node> {
        let slot = *self.positions.get(key)?;
        self.slots.get_mut(slot)?.as_mut().map(|(_, node)| node)
    }

    fn push(&mut self, key: Key, node: Node) -> Option<&mut Node> {
        if let Key::Int(int) = key
            && int >= self.next_free
        {
            self.next_free = int.saturating_add(1);
        }
        let slot = self.slots.len();
        self.positions.insert(key.clone(), slot);
        self.slots.push(Some((key, node)));
        self.slots.get_mut(slot)?.as_mut().map(|(_, node)| node)
    }

    /// Steps into `key` (`None` = `[]`), creating an array there or replacing a scalar
    /// with one in place, as `php_register_variable_ex` does for every non-final level.
    /// Each array created takes one from `budget`; with none left, `None`.
    fn child_array(&mut self, key: Option<Key>, budget: &mut usize) -> Option<&mut Self> {
        let key = match key {
            Some(key) => key,
            None => self.next_key()?,
        };
        let node = if self.positions.contains_key(&key) {
            self.get_mut(&key)?
        } else {
            *budget = budget.checked_sub(1)?;
            self.push(key, Node::Array(Self::default()))?
        };
        if let Node::Leaf(_) = node {
            *budget = budget.checked_sub(1)?;
            *node = Node::Array(Self::default());
        }
        match node {
            Node::Array(array) => Some(array),
            Node::Leaf(_) => None,
        }
    }

    /// Final assignment: overwrites whatever is at `key`, keeping its position.
    fn set(&mut self, key: Option<Key>, value: String) {
        let Some(key) = key.or_else(|| self.next_key()) else {
            return;
        };
        if let Some(node) = self.get_mut(&key) {
            *node = Node::Leaf(value);
        } else {
            self.push(key, Node::Leaf(value));
        }
    }

    fn remove(&mut self, key: &Key) {
        if let Some(slot) = self.positions.remove(key)
            && let Some(entry) = self.slots.get_mut(slot)
        {
            *entry = None;
        }
    }

    fn into_entries(self) -> impl Iterator<Item = (Key, Node)> {
        self.slots.into_iter().flatten()
    }

    fn into_object(self) -> Map<String, Value> {
        self.into_entries()
            .map(|(key, node)| (key.to_string(), node.into_value()))
            .collect()
    }

    /// A list (keys exactly `0..n` in insertion order, like `array_is_list`) becomes a
    /// JSON array; anything else an object ([`php_array::encode`]). String keys are never
    /// canonical integers here, so comparing the keys' text is the same test.
    fn into_value(self) -> Value {
        php_array::encode(self.into_object())
    }
}

/// A variable name as `php_register_variable_ex` reads it.
#[derive(Debug)]
struct ParsedName {
    /// The mangled top-level name (never empty).
    top: String,
    /// The bracket indices in order; `None` is `[]`.
    indices: Vec<Option<String>>,
    /// The name has more levels than allowed: PHP stops at the extra `[`, having read
    /// `max_depth` indices, and deletes the top-level entry instead of assigning.
    too_deep: bool,
}

/// C `isspace` in the "C" locale (PHP skips one such byte right after `[`).
const fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0B' | b'\x0C' | b'\r')
}

fn parse_name(name: &str, max_depth: usize) -> Option<ParsedName> {
    // PHP handles names as C strings: a decoded %00 ends the name.
    let name = name.find('\0').map_or(name, |nul| &name[..nul]);
    let name = name.trim_start_matches(' ');
    let bytes = name.as_bytes();
    let first_open = name.find('[');
    let head = &name[..first_open.unwrap_or(name.len())];
    let top = head.replace([' ', '.'], "_");
    // CVE-2022-31629: drop names that mangling turned into a cookie-prefix lookalike.
    for prefix in ["__Host-", "__Secure-"] {
        if top.starts_with(prefix) && !name.starts_with(prefix) {
            return None;
        }
    }
    if top.is_empty() {
        return None;
    }
    let mut parsed = ParsedName {
        top,
        indices: Vec::new(),
        too_deep: false,
    };
    let Some(mut open) = first_open else {
        return Some(parsed);
    };
    loop {
        // PHP checks `++nest_level > max_input_nesting_level` before reading each index.
        if parsed.indices.len() >= max_depth {
            parsed.too_deep = true;
            break;
        }
        let start = open + 1;
        let mut cursor = start;
        if bytes.get(cursor).copied().is_some_and(is_c_space) {
            cursor += 1;
        }
        let close = if bytes.get(cursor) == Some(&b']') {
            // `[]` and `[ ]` both append.
            parsed.indices.push(None);
            cursor
        } else if let Some(offset) = name[cursor..].find(']') {
            // The index keeps a leading space: `a[ x]` is key " x".
            parsed
                .indices
                .push(Some(name[start..cursor + offset].to_owned()));
            cursor + offset
        } else {
            if parsed.indices.is_empty() {
                // Not an index: the `[` becomes `_` and, since PHP 8.0 (bug #78236), so
                // do later ` `, `.` and `[`: `a[b.c=1` is `a_b_c`.
                parsed.top.push('_');
                parsed.top.extend(name[start..].chars().map(|c| match c {
                    ' ' | '.' | '[' => '_',
                    other => other,
                }));
            }
            // Deeper down, the name simply ends at the previous index.
            break;
        };
        match bytes.get(close + 1) {
            Some(b'[') => open = close + 1,
            // `a[b]c=1` is `a[b]`: whatever follows a `]` other than `[` is ignored.
            _ => break,
        }
    }
    Some(parsed)
}

fn register(root: &mut PhpArray, name: &str, value: String, max_depth: usize, arrays: &mut usize) {
    let Some(parsed) = parse_name(name, max_depth) else {
        return;
    };
    let top = Key::from_php(&parsed.top);
    let mut path: Vec<Option<Key>> = Vec::with_capacity(parsed.indices.len() + 1);
    path.push(Some(top.clone()));
    path.extend(
        parsed
            .indices
            .iter()
            .map(|index| index.as_deref().map(Key::from_php)),
    );
    let Some(last) = path.pop() else {
        return;
    };
    // PHP creates every container on the way (even for a too-deep name, before it
    // notices); a failed `[]` insert drops the variable.
    let mut current = &mut *root;
    for key in path {
        current = match current.child_array(key, arrays) {
            Some(child) => child,
            None => return,
        };
    }
    if parsed.too_deep {
        root.remove(&top);
    } else {
        current.set(last, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn parse(input: &str) -> Value {
        Value::Object(parse_str(input.as_bytes(), &Limits::default()))
    }

    /// Compares values and, through their serialization, key order too (serde_json's
    /// `Map` equality ignores order).
    fn assert_tree(got: &Value, expected: &Value, msg: &str) {
        assert_eq!(got, expected, "{msg}");
        assert_eq!(got.to_string(), expected.to_string(), "{msg} (key order)");
    }

    #[test]
    fn parses_like_php() {
        let cases: Vec<(&str, Value, &str)> = vec![
            (
                "fields[PHONE][0][VALUE]=1",
                json!({"fields": {"PHONE": [{"VALUE": "1"}]}}),
                "multifield nesting",
            ),
            (
                "select[]=ID&select[]=TITLE",
                json!({"select": ["ID", "TITLE"]}),
                "[] appends into a list",
            ),
            (
                "filter%5B%3E%3DDATE_CREATE%5D=2024-01-01T00:00:00%2B03:00",
                json!({"filter": {">=DATE_CREATE": "2024-01-01T00:00:00+03:00"}}),
                "encoded filter operator prefix, %2B is a plus",
            ),
            (
                "filter[>=DATE_CREATE]=2024-01-01T00:00:00%2B03:00",
                json!({"filter_>": "DATE_CREATE]=2024-01-01T00:00:00+03:00"}),
                "a raw = inside brackets splits the pair there, as in PHP",
            ),
            (
                "filter[<DATE]=1",
                json!({"filter": {"<DATE": "1"}}),
                "raw operator without = is fine",
            ),
            (
                "filter[!STATUS_ID]=NEW",
                json!({"filter": {"!STATUS_ID": "NEW"}}),
                "negation prefix kept",
            ),
            (
                "filter[%TITLE]=abc",
                json!({"filter": {"%TITLE": "abc"}}),
                "% not followed by two hex digits stays literal",
            ),
            (
                "filter[%BAD]=1",
                json!({"filter": {"\u{FFFD}D": "1"}}),
                "%BA is decoded even inside a key (PHP does), lossy UTF-8",
            ),
            (
                "a[5]=x",
                json!({"a": {"5": "x"}}),
                "sparse index is an object",
            ),
            (
                "a[0]=x&a[2]=y",
                json!({"a": {"0": "x", "2": "y"}}),
                "gap makes an object",
            ),
            (
                "a[1]=x&a[0]=y",
                json!({"a": {"1": "x", "0": "y"}}),
                "0..n out of order is an object",
            ),
            ("a[]=1&a[]=2", json!({"a": ["1", "2"]}), "appends"),
            ("id=1&id=2", json!({"id": "2"}), "last duplicate wins"),
            (
                "a=1&b=2&a=3",
                json!({"a": "3", "b": "2"}),
                "overwrite keeps the first position",
            ),
            (
                "fields%5BTITLE%5D=Hi",
                json!({"fields": {"TITLE": "Hi"}}),
                "encoded brackets are brackets",
            ),
            ("a.b=1", json!({"a_b": "1"}), "dot in top-level name"),
            ("a b=1", json!({"a_b": "1"}), "space in top-level name"),
            ("a+b=1", json!({"a_b": "1"}), "+ is a space in names too"),
            ("+ a=1", json!({"a": "1"}), "leading spaces skipped"),
            ("+=1", json!({}), "name of only spaces is empty"),
            (
                "a[b.c]=1",
                json!({"a": {"b.c": "1"}}),
                "dots inside brackets kept",
            ),
            ("a[b=1", json!({"a_b": "1"}), "unmatched [ becomes _"),
            (
                "a[b.c d[e=1",
                json!({"a_b_c_d_e": "1"}),
                "PHP 8 also mangles . space [ after an unmatched [",
            ),
            (
                "a[[[=1",
                json!({"a___": "1"}),
                "all unmatched brackets become _",
            ),
            ("a[b]c=1", json!({"a": {"b": "1"}}), "text after ] ignored"),
            (
                "a[x]y[z]=1",
                json!({"a": {"x": "1"}}),
                "text after ] ends the name",
            ),
            (
                "a[b][c=1",
                json!({"a": {"b": "1"}}),
                "unmatched deeper [ dropped",
            ),
            (
                "a[][x=1",
                json!({"a": ["1"]}),
                "unmatched after [] still appends",
            ),
            (
                "a[b[c]]=1",
                json!({"a": {"b[c": "1"}}),
                "no nested brackets",
            ),
            (
                "a[ ]=1&a[ ]=2",
                json!({"a": ["1", "2"]}),
                "[ ] appends (isspace)",
            ),
            (
                "a[ x]=1",
                json!({"a": {" x": "1"}}),
                "index keeps a leading space",
            ),
            (
                "q=hello+world&name=a%20b",
                json!({"q": "hello world", "name": "a b"}),
                "+ and %20 are spaces",
            ),
            (
                "v=a%26b%3Dc&w=1",
                json!({"v": "a&b=c", "w": "1"}),
                "%26 and %3D inside a value",
            ),
            ("v=a=b", json!({"v": "a=b"}), "split at the first ="),
            ("a=", json!({"a": ""}), "empty value"),
            ("a", json!({"a": ""}), "no = gives an empty value"),
            ("=1", json!({}), "empty name skipped"),
            ("=", json!({}), "lone ="),
            ("", json!({}), "empty input"),
            ("&&&", json!({}), "only separators"),
            (
                "a=1&&b=2&",
                json!({"a": "1", "b": "2"}),
                "empty pieces skipped",
            ),
            (
                "]]]]=1",
                json!({"]]]]": "1"}),
                "stray ] is part of the name",
            ),
            ("[a]=1", json!({}), "no top-level name"),
            (
                "a[]=1&a[5]=2&a[]=3",
                json!({"a": {"0": "1", "5": "2", "6": "3"}}),
                "append continues after the highest integer key",
            ),
            ("a=1&a[]=2", json!({"a": ["2"]}), "scalar replaced by array"),
            ("a[]=1&a=2", json!({"a": "2"}), "array replaced by scalar"),
            (
                "a[x]=1&a[x][y]=2",
                json!({"a": {"x": {"y": "2"}}}),
                "nested scalar replaced by array",
            ),
            (
                "a[]=x&a[0]=y",
                json!({"a": ["y"]}),
                "explicit index overwrites",
            ),
            (
                "a[-1]=x&a[]=y",
                json!({"a": {"-1": "x", "0": "y"}}),
                "negative integer key",
            ),
            (
                "a[-5]=x&a[]=y",
                json!({"a": {"-5": "x", "0": "y"}}),
                "next free index never below 0 (PHP <= 8.2)",
            ),
            (
                "a[05]=x&a[5]=y",
                json!({"a": {"05": "x", "5": "y"}}),
                "05 is a string key distinct from 5",
            ),
            (
                "a[-0]=x&a[0]=y",
                json!({"a": {"-0": "x", "0": "y"}}),
                "-0 is a string key",
            ),
            (
                "a[9223372036854775807]=x&a[]=y",
                json!({"a": {"9223372036854775807": "x"}}),
                "append after i64::MAX fails and is dropped",
            ),
            (
                "a[9223372036854775808]=x&a[]=y",
                json!({"a": {"9223372036854775808": "x", "0": "y"}}),
                "beyond i64 is a string key",
            ),
            (
                "5=a&05=b",
                json!({"5": "a", "05": "b"}),
                "numeric top-level names",
            ),
            (
                "cmd[lead]=crm.lead.add%3Ffields%5BTITLE%5D%3DX",
                json!({"cmd": {"lead": "crm.lead.add?fields[TITLE]=X"}}),
                "batch command decoded exactly once",
            ),
            (
                "name=%FF&x%FF=1",
                json!({"name": "\u{FFFD}", "x\u{FFFD}": "1"}),
                "invalid UTF-8 is replaced",
            ),
            (
                "%=%&%zz=%4",
                json!({"%": "%", "%zz": "%4"}),
                "malformed escapes kept",
            ),
            (
                "a%00b=1&v=x%00y",
                json!({"a": "1", "v": "x\u{0}y"}),
                "NUL ends a name but not a value",
            ),
            (
                "..Host-x=1&__Host-y=2",
                json!({"__Host-y": "2"}),
                "mangling into __Host- is refused",
            ),
            (
                "items[0][CONTACT_ID]=1&items[0][SORT]=10&items[1][CONTACT_ID]=2",
                json!({"items": [{"CONTACT_ID": "1", "SORT": "10"}, {"CONTACT_ID": "2"}]}),
                "list of objects",
            ),
            (
                "a[][b]=1&a[][b]=2",
                json!({"a": [{"b": "1"}, {"b": "2"}]}),
                "append of containers",
            ),
            (
                "a[b][]=1&a[b][]=2&a[c]=3",
                json!({"a": {"b": ["1", "2"], "c": "3"}}),
                "nested lists",
            ),
        ];
        assert!(cases.len() >= 30);
        for (input, expected, msg) in cases {
            assert_tree(&parse(input), &expected, &format!("{msg}: {input:?}"));
        }
    }

    #[test]
    fn raw_invalid_utf8_does_not_panic() {
        let got = parse_str(b"a\xff[\xfe]=\xc3&b=\x00", &Limits::default());
        assert_tree(
            &Value::Object(got),
            &json!({"a\u{FFFD}": {"\u{FFFD}": "\u{FFFD}"}, "b": "\u{0}"}),
            "raw bytes",
        );
    }

    #[test]
    fn depth_limit_drops_and_removes_the_top_level_entry() {
        let limits = Limits {
            max_depth: 3,
            max_vars: 100,
            max_arrays: 100,
        };
        let parse = |input: &str| Value::Object(parse_str(input.as_bytes(), &limits));
        assert_tree(
            &parse("a[x]=1&b=2&a[1][2][3][4]=deep"),
            &json!({"b": "2"}),
            "a too-deep name deletes the earlier a",
        );
        assert_tree(
            &parse("a[1][2][3][4]=deep&a[x]=1"),
            &json!({"a": {"x": "1"}}),
            "a later shallow a is kept",
        );
        assert_tree(
            &parse("a[1][2][3]=ok"),
            &json!({"a": {"1": {"2": {"3": "ok"}}}}),
            "exactly max_depth levels is kept",
        );
        assert_tree(
            &parse("a=1&a[1][2][3][x=2"),
            &json!({}),
            "depth is checked before an unmatched [",
        );
        let zero = Limits {
            max_depth: 0,
            max_vars: 100,
            max_arrays: 100,
        };
        let got = Value::Object(parse_str(b"a=1&a[b]=2&c=3", &zero));
        assert_tree(&got, &json!({"c": "3"}), "max_depth 0 forbids brackets");

        let deep = |levels: usize| format!("a{}=v", "[k]".repeat(levels));
        let kept = parse_str(deep(64).as_bytes(), &Limits::default());
        let mut node = kept.get("a");
        for _ in 0..63 {
            node = node.and_then(|n| n.get("k"));
        }
        assert_eq!(
            node.and_then(|n| n.get("k")),
            Some(&json!("v")),
            "64 levels kept by default"
        );
        let input = format!("a=1&{}", deep(65));
        assert!(parse_str(input.as_bytes(), &Limits::default()).is_empty());
    }

    #[test]
    fn var_limit_ignores_later_pairs() {
        let limits = Limits {
            max_depth: 64,
            max_vars: 3,
            max_arrays: 100,
        };
        let got = Value::Object(parse_str(b"a=1&b=2&c=3&d=4", &limits));
        assert_tree(
            &got,
            &json!({"a": "1", "b": "2", "c": "3"}),
            "fourth ignored",
        );
        let got = Value::Object(parse_str(b"a=1&&b=2&&c=3&d=4", &limits));
        assert_tree(
            &got,
            &json!({"a": "1", "b": "2", "c": "3"}),
            "empty pieces are not counted",
        );
        let got = Value::Object(parse_str(b"=x&a=1&b=2&c=3", &limits));
        assert_tree(&got, &json!({"a": "1", "b": "2"}), "an empty name counts");
        let pairs = [("x[]", "1"), ("x[]", "2"), ("y", "3"), ("z", "4")];
        let got = Value::Object(parse_pairs(pairs, &limits));
        assert_tree(&got, &json!({"x": ["1", "2"], "y": "3"}), "parse_pairs too");
    }

    #[test]
    fn top_level_strings_are_found_without_the_tree() {
        let limits = Limits::default();
        let find = |input: &str| top_level_string(input.as_bytes(), "auth", &limits);
        assert_eq!(find("a=1&auth=x%20y&b=2"), Some("x y".into()));
        assert_eq!(find("auth=1&auth=2"), Some("2".into()));
        assert_eq!(find("auth=1&auth[x]=2"), None, "a later array wins");
        assert_eq!(find("auth[x]=2&auth=3"), Some("3".into()));
        assert_eq!(
            find("%20auth=4&authx=5"),
            Some("4".into()),
            "leading spaces dropped"
        );
        assert_eq!(find("au.th=6"), None);
        assert_eq!(
            top_level_string(b"au.th=6", "au_th", &limits),
            Some("6".into()),
            "mangled like PHP"
        );
        assert_eq!(find(""), None);
        // The same answers as the full parse.
        for input in [
            "x=1&auth=a&auth[]=b",
            "auth[]=b&auth=a",
            "auth",
            "auth=&x=1",
        ] {
            let tree = parse_str(input.as_bytes(), &limits);
            let want = tree.get("auth").and_then(Value::as_str).map(str::to_string);
            assert_eq!(find(input), want, "{input}");
        }
    }

    #[test]
    fn array_budget_ignores_pairs_past_it() {
        let limits = Limits {
            max_depth: 64,
            max_vars: 100,
            max_arrays: 5,
        };
        // a, a[b], a[b][c] = 3 arrays; d[e] takes two more; f[g] finds none left.
        let got = Value::Object(parse_str(
            b"a[b][c][]=1&a[b][c][]=2&d[e][]=3&f[g]=4&h=5",
            &limits,
        ));
        assert_tree(
            &got,
            &json!({"a": {"b": {"c": ["1", "2"]}}, "d": {"e": ["3"]}, "h": "5"}),
            "arrays past the budget",
        );
        // A scalar replaced by an array counts too.
        let got = Value::Object(parse_str(
            b"x=1&x[y]=2",
            &Limits {
                max_arrays: 0,
                ..limits
            },
        ));
        assert_tree(&got, &json!({"x": "1"}), "no array left for x[y]");
    }

    #[test]
    fn parse_pairs_does_not_decode_again() {
        let pairs = vec![
            ("fields[TITLE]".to_owned(), "a+b%20c".to_owned()),
            ("fields%5BX%5D".to_owned(), "1".to_owned()),
            ("fields[EMAIL][0][VALUE]".to_owned(), "x@y".to_owned()),
        ];
        let got = Value::Object(parse_pairs(pairs, &Limits::default()));
        assert_tree(
            &got,
            &json!({
                "fields": {"TITLE": "a+b%20c", "EMAIL": [{"VALUE": "x@y"}]},
                "fields%5BX%5D": "1"
            }),
            "multipart names and values are used as given",
        );
    }

    #[test]
    fn url_decode_rules() {
        assert_eq!(url_decode(b"a+b%20c%2b%2B"), "a b c++");
        assert_eq!(url_decode(b"%"), "%");
        assert_eq!(url_decode(b"%4"), "%4");
        assert_eq!(url_decode(b"%4g%41"), "%4gA");
        assert_eq!(url_decode(b"%C3%A9%FF"), "\u{e9}\u{FFFD}");
    }

    #[test]
    fn build_query_like_php() {
        let tree = json!({
            "a b": {"c": [1, true, null, "x y&z"], "e": {}, "f": false},
            "n": 1.5,
            "s": "~é",
        });
        let Value::Object(tree) = tree else {
            panic!("object literal");
        };
        assert_eq!(
            build_query(&tree),
            "a+b%5Bc%5D%5B0%5D=1&a+b%5Bc%5D%5B1%5D=1&a+b%5Bc%5D%5B3%5D=x+y%26z\
             &a+b%5Bf%5D=0&n=1.5&s=%7E%C3%A9"
        );
    }

    fn key() -> impl Strategy<Value = String> {
        "[A-Za-z][A-Za-z0-9_]{0,7}"
    }

    fn text() -> impl Strategy<Value = String> {
        prop_oneof!["[ &=+%\\[\\]a-zA-Z0-9._-]{0,12}", "\\PC{0,12}"]
    }

    fn node() -> impl Strategy<Value = Value> {
        text()
            .prop_map(Value::String)
            .prop_recursive(4, 48, 4, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 1..4).prop_map(Value::Array),
                    prop::collection::vec((key(), inner), 1..4)
                        .prop_map(|entries| Value::Object(entries.into_iter().collect())),
                ]
            })
    }

    fn tree() -> impl Strategy<Value = Map<String, Value>> {
        prop::collection::vec((key(), node()), 1..5)
            .prop_map(|entries| entries.into_iter().collect())
    }

    fn only_string_leaves(value: &Value) -> bool {
        match value {
            Value::String(_) => true,
            Value::Array(items) => items.iter().all(only_string_leaves),
            Value::Object(map) => map.values().all(only_string_leaves),
            Value::Null | Value::Bool(_) | Value::Number(_) => false,
        }
    }

    fn fuzz_bytes() -> impl Strategy<Value = Vec<u8>> {
        let special = prop::sample::select(b"[]&=%+. 05aF\0\t".to_vec());
        prop::collection::vec(prop_oneof![any::<u8>(), special], 0..80)
    }

    proptest! {
        #[test]
        fn build_then_parse_round_trips(tree in tree()) {
            let query = build_query(&tree);
            let parsed = parse_str(query.as_bytes(), &Limits::default());
            let (got, expected) = (Value::Object(parsed), Value::Object(tree));
            prop_assert_eq!(&got, &expected, "query {}", query);
            prop_assert_eq!(got.to_string(), expected.to_string(), "order, query {}", query);
        }

        #[test]
        fn never_panics_and_leaves_are_strings(
            bytes in fuzz_bytes(),
            max_depth in 0_usize..5,
            max_vars in 0_usize..20,
        ) {
            for limits in [Limits { max_depth, max_vars, max_arrays: 8 }, Limits::default()] {
                let parsed = parse_str(&bytes, &limits);
                prop_assert!(parsed.values().all(only_string_leaves));
                prop_assert!(!parsed.contains_key(""));
            }
        }
    }
}
