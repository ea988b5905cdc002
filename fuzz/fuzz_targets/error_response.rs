//! How `blob-rest` turns a failed response into an error, on any status, `x-ms-error-code`
//! and `x-ms-request-id` bytes and body.
//!
//! Input layout: two bytes of status, one byte of flags, then `code \0 request-id \0 body`
//! (missing parts are absent headers). Checks, beyond "no panic": the error's text is one
//! line of printable characters and bounded length whatever the body's size; a secret the
//! server echoes never appears in it; the status and kind are kept.

#![no_main]

use blob_rest::fuzzing::error_from_response;
use blob_rest::ErrorKind;
use http::{HeaderMap, HeaderValue, StatusCode};
use libfuzzer_sys::fuzz_target;

/// Stands for the request's signature, token and SAS `sig`.
const SECRET: &str = "SENTINELSECRET+7c1d/9e2f=";

/// An error's text is made of a few fields, each cut short (1024 characters at most, in up to
/// 4 bytes each, escaped at worst as `\u{10ffff}`), and a fixed hint.
const MAX_TEXT_BYTES: usize = 24 * 1024;

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let status = StatusCode::from_u16(400 + u16::from_be_bytes([data[0], data[1]]) % 200)
        .expect("400 to 599 are statuses");
    let create_only = data[2] & 1 == 1;
    let mut rest = data[3..].splitn(3, |b| *b == 0);
    let code = rest.next().unwrap_or_default();
    let request_id = rest.next();
    let body = rest.next().unwrap_or_default();

    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("x-ms-error-code", Some(code)),
        ("x-ms-request-id", request_id),
    ] {
        if let Some(Ok(value)) = value.map(HeaderValue::from_bytes) {
            headers.insert(name, value);
        }
    }
    if String::from_utf8_lossy(data).contains("SENTINELSECRET") && !contains(data, SECRET) {
        // A partial sentinel in the input would be echoed legitimately.
        return;
    }

    let error = error_from_response(status, &headers, body, create_only, &[SECRET]);
    let text = error.to_string();
    let debug = format!("{error:?}");
    assert!(!text.contains(SECRET), "secret in {text:?}");
    assert!(!debug.contains(SECRET), "secret in {debug:?}");
    assert!(
        !text.chars().any(char::is_control),
        "not one printable line: {text:?}"
    );
    assert!(text.len() <= MAX_TEXT_BYTES, "{} bytes", text.len());
    assert_eq!(error.status(), Some(status));
    if status == StatusCode::NOT_FOUND {
        assert_eq!(error.kind(), ErrorKind::NotFound);
    }
    for field in [error.code(), error.message(), error.request_id()]
        .into_iter()
        .flatten()
    {
        assert!(!field.is_empty() && !field.chars().any(char::is_control));
    }
});

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}
