//! The one line format of every list in the bundle (IOC lists, image names, machine-image
//! publishers): `VALUE | NOTE | SOURCE` per line, `#` comments and blank lines ignored.
//! The shape is checked here, strictly, so a broken line fails loading with its file and
//! line instead of silently matching nothing; what a value must look like is the caller's
//! business.

use std::collections::HashMap;

use crate::ContentError;

/// One entry of a list file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListLine<'a> {
    /// 1-based line number, for messages.
    pub line: usize,
    /// The indicator or name, trimmed.
    pub value: &'a str,
    /// What it is; never empty.
    pub note: &'a str,
    /// One http(s) URL of the public page that states the fact.
    pub source: &'a str,
}

/// A malformed-content error for `path`, naming the line.
pub fn list_error(path: &str, line: usize, message: impl std::fmt::Display) -> ContentError {
    ContentError::Invalid {
        path: path.to_string(),
        message: format!("line {line}: {message}"),
    }
}

/// Splits `bytes` into entries. `shape` names the value in messages (`VALUE`,
/// `PUBLISHER:VALUE`); `key` says when two values are the same entry, and a second one is an
/// error naming both lines.
pub fn parse_list<'a>(
    path: &str,
    bytes: &'a [u8],
    shape: &str,
    key: impl Fn(&str) -> String,
) -> Result<Vec<ListLine<'a>>, ContentError> {
    let text = std::str::from_utf8(bytes).map_err(|e| ContentError::Invalid {
        path: path.to_string(),
        message: format!("not UTF-8: {e}"),
    })?;
    let mut out = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = raw.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = l.split('|').map(str::trim).collect();
        let [value, note, source] = fields[..] else {
            return Err(list_error(
                path,
                line,
                format!(
                    "expected `{shape} | NOTE | SOURCE`, found {} field(s)",
                    fields.len()
                ),
            ));
        };
        if value.is_empty() || note.is_empty() {
            return Err(list_error(path, line, "empty value or note"));
        }
        if !(source.starts_with("https://") || source.starts_with("http://"))
            || source.contains(char::is_whitespace)
        {
            return Err(list_error(
                path,
                line,
                format!("source `{source}` is not one http(s) URL"),
            ));
        }
        if let Some(first) = seen.insert(key(value), line) {
            return Err(list_error(
                path,
                line,
                format!("`{value}` is already listed on line {first}"),
            ));
        }
        out.push(ListLine {
            line,
            value,
            note,
            source,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_comments_and_errors() {
        let ok = b"# c\n\na.com | note | https://x.example/\nb.com|n|http://y.example/p\n";
        let l = parse_list("ioc/x.txt", ok, "VALUE", str::to_string).unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!((l[1].line, l[1].value, l[1].note), (4, "b.com", "n"));
        for (bad, why) in [
            (
                &b"a.com | note\n"[..],
                "line 1: expected `VALUE | NOTE | SOURCE`, found 2",
            ),
            (b"a.com |  | https://x/\n", "line 1: empty value or note"),
            (b"a.com | n | ftp://x/\n", "is not one http(s) URL"),
            (b"a.com | n | https://x/ y\n", "is not one http(s) URL"),
            (
                b"a | n | https://x/\nA | n | https://y/\n",
                "line 2: `A` is already listed on line 1",
            ),
            (b"\xff | n | https://x/\n", "not UTF-8"),
        ] {
            let e = parse_list("ioc/x.txt", bad, "VALUE", |v| v.to_ascii_lowercase())
                .unwrap_err()
                .to_string();
            assert!(e.contains(why) && e.contains("ioc/x.txt"), "{e}");
        }
    }
}
