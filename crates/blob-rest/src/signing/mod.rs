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

use http::header::{self, HeaderName};
use http::{HeaderMap, Method};
use percent_encoding::percent_decode_str;
use url::Url;
use zeroize::Zeroizing;

use crate::auth::SharedKeyCredential;

/// `http` has no constant for it.
const CONTENT_MD5: HeaderName = HeaderName::from_static("content-md5");

/// Standard headers whose values fill fixed lines of the string-to-sign, in order. Typed
/// names, so that looking them up does not parse a string each time.
const STANDARD_HEADERS: [HeaderName; 11] = [
    header::CONTENT_ENCODING,
    header::CONTENT_LANGUAGE,
    header::CONTENT_LENGTH,
    CONTENT_MD5,
    header::CONTENT_TYPE,
    header::DATE,
    header::IF_MODIFIED_SINCE,
    header::IF_MATCH,
    header::IF_NONE_MATCH,
    header::IF_UNMODIFIED_SINCE,
    header::RANGE,
];

/// The SharedKey string-to-sign of a request.
///
/// `url` must be the URL exactly as it is sent and `headers` every header that is sent
/// (the HTTP stack may add others, but none that are signed). `account` is the account name
/// of the key, which starts the canonical resource.
///
/// Every part is written straight into one buffer: this runs on every attempt of every
/// request, and intermediate strings per header were most of its cost.
pub fn string_to_sign(method: &Method, url: &Url, headers: &HeaderMap, account: &str) -> String {
    let mut out = String::with_capacity(512);
    out.push_str(method.as_str());
    out.push('\n');
    for name in &STANDARD_HEADERS {
        standard_value(&mut out, name, headers);
        out.push('\n');
    }
    canonical_headers(&mut out, headers);
    canonical_resource(&mut out, account, url);
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

/// Appends the values of `name`, joined by commas, as the service joins repeated headers.
/// Returns whether there was any.
fn push_joined(out: &mut String, name: &HeaderName, headers: &HeaderMap) -> bool {
    let mut any = false;
    for value in headers.get_all(name) {
        if any {
            out.push(',');
        }
        out.push_str(&String::from_utf8_lossy(value.as_bytes()));
        any = true;
    }
    any
}

fn standard_value(out: &mut String, name: &HeaderName, headers: &HeaderMap) {
    // x-ms-date takes the place of Date, which then stays empty.
    if name == header::DATE && headers.contains_key("x-ms-date") {
        return;
    }
    let start = out.len();
    push_joined(out, name, headers);
    // Since version 2015-02-21 an empty body is signed as an empty line, not "0".
    if name == header::CONTENT_LENGTH && out[start..].trim() == "0" {
        out.truncate(start);
    }
}

/// The canonical `x-ms-` headers, one `name:value\n` line each.
fn canonical_headers(out: &mut String, headers: &HeaderMap) {
    let mut names: Vec<&HeaderName> = headers
        .keys()
        .filter(|n| n.as_str().starts_with("x-ms-"))
        .collect();
    names.sort_by(|a, b| collation::compare(a.as_str(), b.as_str()));
    names.dedup();
    for name in names {
        out.push_str(name.as_str());
        out.push(':');
        let mut values = headers.get_all(name).iter();
        if let (Some(value), None) = (values.next(), values.next()) {
            // The usual case, one value: folded straight from the header.
            fold_whitespace(out, &String::from_utf8_lossy(value.as_bytes()));
        } else {
            let mut joined = String::new();
            push_joined(&mut joined, name, headers);
            fold_whitespace(out, &joined);
        }
        out.push('\n');
    }
}

/// Trims a header value and folds inner runs of whitespace to one space, except inside
/// quoted strings, as the Shared Key reference asks; appends the result to `out`.
fn fold_whitespace(out: &mut String, value: &str) {
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
}

fn is_linear_whitespace(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// `/account/path` and the decoded, sorted query parameters.
fn canonical_resource(out: &mut String, account: &str, url: &Url) {
    out.push('/');
    out.push_str(account);
    out.push_str(url.path());
    let Some(query) = url.query() else {
        return;
    };
    let mut params: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for part in query.split('&').filter(|p| !p.is_empty()) {
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
}

/// Decodes a query name or value; `+` means a space in a query string, as the service reads it.
fn decode_query(raw: &str) -> String {
    percent_decode_str(&raw.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests;
