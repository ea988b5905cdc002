//! The order in which the service sorts canonical `x-ms-` header names.
//!
//! The Shared Key reference says "sort lexicographically", but the service compares names
//! with the culture-aware string comparison of the platform it runs on (Windows/.NET), not
//! byte by byte. For the characters that can occur in an HTTP header name this means:
//!
//! 1. At the first level `-` and `'` are ignored, and the remaining characters are ordered
//!    `! # $ % & * . ^ _ ` | ~`, then `+`, then the digits, then the letters (case-blind).
//!    So `_` sorts before digits and letters, where a byte sort puts it after the digits and
//!    upper-case letters.
//! 2. Names equal at the first level are told apart by where their ignored characters sit:
//!    a name with no ignored character comes first, and one whose first ignored character
//!    comes later sorts earlier.
//! 3. Anything still equal is ordered by bytes, which only leaves truly equal names equal.
//!
//! Metadata names are where a byte sort goes wrong: with `x-ms-meta-a_b` and `x-ms-meta-a1`
//! the service signs `a_b` first.
//!
//! NOTE (2026-12): Azurite 3.35.0 sorts with JavaScript's `localeCompare` (ICU root
//! collation), in which `-` is not ignored but sorts before digits and letters (after `_`).
//! It agrees with the order above whenever the metadata names are C# identifiers (letters,
//! digits, `_`), which is all that the service and Azurite accept; it disagrees for names
//! that contain `-`, such as `a-b` against `a1` or `aa`, which both the service and Azurite
//! refuse with `InvalidMetadata` after checking the signature. This client refuses such names
//! before sending, so the disagreement cannot be reached through it. See docs/blob-rest.md.

use std::cmp::Ordering;

/// Symbols in the order of their first-level weight, before digits and letters.
const SYMBOL_ORDER: &[u8] = b"!#$%&*.^_`|~+";

/// First-level weight of a byte, or `None` when the byte is ignored at that level.
fn primary_weight(byte: u8) -> Option<u16> {
    match byte {
        b'-' | b'\'' => None,
        b'0'..=b'9' => Some(100 + u16::from(byte - b'0')),
        b'a'..=b'z' => Some(200 + u16::from(byte - b'a')),
        b'A'..=b'Z' => Some(200 + u16::from(byte - b'A')),
        _ => match SYMBOL_ORDER.iter().position(|&s| s == byte) {
            // The position is below the length of a short constant table.
            Some(rank) => Some(u16::try_from(rank).unwrap_or(u16::MAX)),
            // Not a character an HTTP header name can hold; order it after everything else.
            None => Some(1000 + u16::from(byte)),
        },
    }
}

/// Positions and kinds of the characters ignored at the first level.
fn ignored_positions(name: &[u8]) -> impl Iterator<Item = (usize, u8)> + '_ {
    name.iter()
        .enumerate()
        .filter(|&(_, &b)| primary_weight(b).is_none())
        .map(|(i, &b)| (i, b))
}

/// Compares two header names the way the service orders canonical headers. Names are
/// expected in lower case, as they are canonicalized; case is not a tie-breaker here.
pub(crate) fn compare(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let first = a
        .iter()
        .filter_map(|&x| primary_weight(x))
        .cmp(b.iter().filter_map(|&x| primary_weight(x)));
    if first != Ordering::Equal {
        return first;
    }
    let mut left = ignored_positions(a);
    let mut right = ignored_positions(b);
    loop {
        match (left.next(), right.next()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some((pa, ka)), Some((pb, kb))) => {
                // The later an ignored character sits, the earlier the name sorts; at the same
                // place an apostrophe sorts before a hyphen.
                let by_place = pb.cmp(&pa).then_with(|| ka.cmp(&kb));
                if by_place != Ordering::Equal {
                    return by_place;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(names: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
        v.sort_by(|a, b| compare(a, b));
        v
    }

    #[test]
    fn underscore_sorts_before_digits_and_letters() {
        assert_eq!(
            sorted(&[
                "x-ms-meta-ab",
                "x-ms-meta-a1",
                "x-ms-meta-a_b",
                "x-ms-meta-a"
            ]),
            [
                "x-ms-meta-a",
                "x-ms-meta-a_b",
                "x-ms-meta-a1",
                "x-ms-meta-ab"
            ]
        );
        assert_eq!(
            sorted(&["x-ms-meta-foo2_bar", "x-ms-meta-foo_bar"]),
            ["x-ms-meta-foo_bar", "x-ms-meta-foo2_bar"]
        );
    }

    #[test]
    fn hyphen_is_ignored_at_the_first_level() {
        // Byte order would put "a-c" first because '-' < 'b'.
        assert_eq!(
            sorted(&["x-ms-meta-ab", "x-ms-meta-a-c"]),
            ["x-ms-meta-ab", "x-ms-meta-a-c"]
        );
        assert_eq!(
            sorted(&["x-ms-meta-a1", "x-ms-meta-a-b"]),
            ["x-ms-meta-a1", "x-ms-meta-a-b"]
        );
        // Equal without hyphens: no hyphen first, then the later hyphen first.
        assert_eq!(
            sorted(&["x-ms-meta-a-bc", "x-ms-meta-abc", "x-ms-meta-ab-c"]),
            ["x-ms-meta-abc", "x-ms-meta-ab-c", "x-ms-meta-a-bc"]
        );
    }

    #[test]
    fn standard_headers_keep_their_usual_order() {
        assert_eq!(
            sorted(&[
                "x-ms-version",
                "x-ms-meta-k",
                "x-ms-date",
                "x-ms-client-request-id",
                "x-ms-blob-type",
                "x-ms-blob-cache-control",
                "x-ms-range-get-content-md5",
                "x-ms-range",
            ]),
            [
                "x-ms-blob-cache-control",
                "x-ms-blob-type",
                "x-ms-client-request-id",
                "x-ms-date",
                "x-ms-meta-k",
                "x-ms-range",
                "x-ms-range-get-content-md5",
                "x-ms-version",
            ]
        );
    }

    #[test]
    fn equal_names_are_equal() {
        assert_eq!(compare("x-ms-meta-a_1", "x-ms-meta-a_1"), Ordering::Equal);
    }
}
