//! SharedKey request signing for the Blob service.
//!
//! Reference: [Authorize with Shared Key](https://learn.microsoft.com/rest/api/storageservices/authorize-with-shared-key).
//!
//! [`string_to_sign`] is a pure function of the method, the URL exactly as it is sent, and the
//! headers. The client builds the final [`Url`] first and signs what that `Url` holds, so
//! nothing can change the URL between signing and sending. Facts that other clients got
//! wrong, and that this module follows:
//!
//! - `Content-Length` is an empty line when the body is empty (never `0`).
//! - With `x-ms-date` present the `Date` line stays empty; `x-ms-range` is a canonical header
//!   and only a standard `Range` header fills the Range line.
//! - Canonical headers: every `x-ms-` header, lower-cased names in the service's collation
//!   (see the private `collation` module), values trimmed with inner runs of whitespace folded to one space
//!   outside quoted strings.
//! - Canonical resource: `/account` + the path exactly as sent (still percent-encoded), so
//!   path-style emulator URLs carry the account twice (`/devstoreaccount1/devstoreaccount1/c`);
//!   then each query parameter as `name:value` on its own line, names lower-cased, names and
//!   values percent-decoded, sorted by name, repeated values sorted and joined by commas.

mod collation;

use std::collections::BTreeMap;

use http::{HeaderMap, Method};
use percent_encoding::percent_decode_str;
use url::Url;
use zeroize::Zeroizing;

use crate::auth::SharedKeyCredential;

/// Standard headers whose values fill fixed lines of the string-to-sign, in order.
const STANDARD_HEADERS: [&str; 11] = [
    "content-encoding",
    "content-language",
    "content-length",
    "content-md5",
    "content-type",
    "date",
    "if-modified-since",
    "if-match",
    "if-none-match",
    "if-unmodified-since",
    "range",
];

/// The SharedKey string-to-sign of a request.
///
/// `url` must be the URL exactly as it is sent and `headers` every header that is sent
/// (the HTTP stack may add others, but none that are signed). `account` is the account name
/// of the key, which starts the canonical resource.
pub fn string_to_sign(method: &Method, url: &Url, headers: &HeaderMap, account: &str) -> String {
    let mut out = String::with_capacity(256);
    out.push_str(method.as_str());
    out.push('\n');
    for name in STANDARD_HEADERS {
        out.push_str(&standard_value(name, headers));
        out.push('\n');
    }
    out.push_str(&canonical_headers(headers));
    out.push_str(&canonical_resource(account, url));
    out
}

/// The `Authorization` header value for a string-to-sign: `SharedKey account:signature`.
pub(crate) fn authorization(
    credential: &SharedKeyCredential,
    string_to_sign: &str,
) -> (Zeroizing<String>, Zeroizing<String>) {
    let signature = credential
        .key()
        .hmac_sha256_base64(string_to_sign.as_bytes());
    let header = Zeroizing::new(format!(
        "SharedKey {}:{}",
        credential.account(),
        signature.as_str()
    ));
    (header, signature)
}

fn joined_values(name: &str, headers: &HeaderMap) -> Option<String> {
    let mut values = headers.get_all(name).iter().peekable();
    values.peek()?;
    let parts: Vec<String> = values
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    Some(parts.join(","))
}

fn standard_value(name: &str, headers: &HeaderMap) -> String {
    match name {
        // Since version 2015-02-21 an empty body is signed as an empty line, not "0".
        "content-length" => joined_values(name, headers)
            .filter(|v| v.trim() != "0")
            .unwrap_or_default(),
        // x-ms-date takes the place of Date, which then stays empty.
        "date" if headers.contains_key("x-ms-date") => String::new(),
        _ => joined_values(name, headers).unwrap_or_default(),
    }
}

/// The canonical `x-ms-` headers, one `name:value\n` line each.
fn canonical_headers(headers: &HeaderMap) -> String {
    let mut names: Vec<&str> = headers
        .keys()
        .map(http::HeaderName::as_str)
        .filter(|n| n.starts_with("x-ms-"))
        .collect();
    names.sort_by(|a, b| collation::compare(a, b));
    names.dedup();
    let mut out = String::new();
    for name in names {
        out.push_str(name);
        out.push(':');
        out.push_str(&fold_whitespace(
            &joined_values(name, headers).unwrap_or_default(),
        ));
        out.push('\n');
    }
    out
}

/// Trims a header value and folds inner runs of whitespace to one space, except inside
/// quoted strings, as the Shared Key reference asks.
fn fold_whitespace(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut in_quotes = false;
    let mut escaped = false;
    let mut pending_space = false;
    for c in value.trim_matches(is_linear_whitespace).chars() {
        if in_quotes {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_quotes = false;
            }
            continue;
        }
        if is_linear_whitespace(c) {
            pending_space = true;
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        if c == '"' {
            in_quotes = true;
        }
        out.push(c);
    }
    out
}

fn is_linear_whitespace(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// `/account/path` and the decoded, sorted query parameters.
fn canonical_resource(account: &str, url: &Url) -> String {
    let mut out = format!("/{account}{}", url.path());
    let mut params: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for part in url
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (name, value) = part.split_once('=').unwrap_or((part, ""));
        params
            .entry(decode_query(name).to_lowercase())
            .or_default()
            .push(decode_query(value));
    }
    for (name, mut values) in params {
        values.sort();
        out.push('\n');
        out.push_str(&name);
        out.push(':');
        out.push_str(&values.join(","));
    }
    out
}

/// Decodes a query name or value; `+` means a space in a query string, as the service reads it.
fn decode_query(raw: &str) -> String {
    percent_decode_str(&raw.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests;
