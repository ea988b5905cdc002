//! Percent-encoding for URL paths and query values.
//!
//! Everything except RFC 3986 unreserved characters is encoded, so the URL handed to the HTTP
//! stack needs no further escaping: the `url` crate leaves such a string untouched, which is
//! what keeps the signed URL and the sent URL identical.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Bytes encoded in a query name or value: all but `A-Z a-z 0-9 - . _ ~`.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Bytes encoded in a blob path: as [`COMPONENT`], but `/` stays the separator.
const PATH: &AsciiSet = &COMPONENT.remove(b'/');

/// Encodes a query name or value (or a single path segment).
pub(crate) fn encode_component(value: &str) -> String {
    utf8_percent_encode(value, COMPONENT).to_string()
}

/// Encodes a blob name for the URL path, keeping `/` as the virtual directory separator.
pub(crate) fn encode_path(value: &str) -> String {
    utf8_percent_encode(value, PATH).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_reserved_and_non_ascii_once() {
        assert_eq!(
            encode_path("a b+c%d#e?f&g=h/été/"),
            "a%20b%2Bc%25d%23e%3Ff%26g%3Dh/%C3%A9t%C3%A9/"
        );
        assert_eq!(encode_component("a/b=="), "a%2Fb%3D%3D");
        assert_eq!(encode_component("AZaz09-._~"), "AZaz09-._~");
    }
}
