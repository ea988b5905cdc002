//! The SharedKey canonicalizer (`blob_rest::signing::string_to_sign`) on any request.
//!
//! Input layout, by lines: the method, then a path and query (appended to a path-style
//! emulator URL), then `name: value` headers (raw bytes; lines that are not a valid header
//! are skipped). Checks, beyond "no panic": the result does not depend on the order in which
//! headers were added; it has the 12 fixed lines, one line per distinct `x-ms-` header in
//! that order, then the canonical resource `/account` + the path as sent.

#![no_main]

use blob_rest::signing::string_to_sign;
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method};
use libfuzzer_sys::fuzz_target;
use url::Url;

const ACCOUNT: &str = "devstoreaccount1";

fuzz_target!(|data: &[u8]| {
    let mut lines = data.split(|b| *b == b'\n');
    let method = lines
        .next()
        .and_then(|m| Method::from_bytes(m).ok())
        .unwrap_or(Method::GET);
    let path = String::from_utf8_lossy(lines.next().unwrap_or_default()).into_owned();
    let Ok(url) = Url::parse(&format!("http://127.0.0.1:10000/{ACCOUNT}/{path}")) else {
        return;
    };
    let headers: Vec<(HeaderName, HeaderValue)> = lines.filter_map(header).collect();

    let forward = string_to_sign(&method, &url, &map(headers.iter()), ACCOUNT);
    // The same headers added in another order (values of one name keep their order, since
    // repeated values are joined in the order they are sent).
    let mut names: Vec<&HeaderName> = Vec::new();
    for (name, _) in &headers {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    let reordered = names
        .iter()
        .rev()
        .flat_map(|name| headers.iter().filter(move |(n, _)| n == *name));
    let backward = string_to_sign(&method, &url, &map(reordered), ACCOUNT);
    assert_eq!(
        forward, backward,
        "the header order changed the string-to-sign"
    );

    let lines: Vec<&str> = forward.split('\n').collect();
    assert_eq!(lines[0], method.as_str());
    let canonical: Vec<&str> = names
        .iter()
        .map(|n| n.as_str())
        .filter(|n| n.starts_with("x-ms-"))
        .collect();
    assert!(lines.len() > 12 + canonical.len(), "{forward:?}");
    let mut signed_names: Vec<&str> = lines[12..12 + canonical.len()]
        .iter()
        .map(|line| line.split_once(':').expect("name:value").0)
        .collect();
    let resource = lines[12 + canonical.len()];
    assert_eq!(resource, format!("/{ACCOUNT}{}", url.path()));
    signed_names.sort_unstable();
    let mut expected = canonical.clone();
    expected.sort_unstable();
    assert_eq!(signed_names, expected, "each x-ms- header is signed once");
});

fn header(line: &[u8]) -> Option<(HeaderName, HeaderValue)> {
    let colon = line.iter().position(|b| *b == b':')?;
    let name = HeaderName::from_bytes(&line[..colon]).ok()?;
    let value = HeaderValue::from_bytes(line[colon + 1..].trim_ascii()).ok()?;
    Some((name, value))
}

fn map<'a>(headers: impl Iterator<Item = &'a (HeaderName, HeaderValue)>) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.append(name.clone(), value.clone());
    }
    map
}
