//! Reading blob properties from response headers.
//!
//! Reference: [Get Blob Properties, response headers](https://learn.microsoft.com/rest/api/storageservices/get-blob-properties#response-headers).

use std::time::SystemTime;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use http::HeaderMap;

use crate::error::Error;
use crate::models::{BlobProperties, PutBlobResponse};

const META_PREFIX: &str = "x-ms-meta-";

/// A header as text; non-UTF-8 bytes are replaced rather than failing the whole response.
pub(crate) fn text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned())
}

fn date(headers: &HeaderMap, name: &str) -> Option<SystemTime> {
    text(headers, name).and_then(|v| httpdate::parse_http_date(&v).ok())
}

/// A base64 MD5 header: `Ok(None)` when absent, an error when present but not an MD5.
pub(crate) fn md5(headers: &HeaderMap, name: &str) -> Result<Option<[u8; 16]>, Error> {
    let Some(value) = text(headers, name) else {
        return Ok(None);
    };
    STANDARD
        .decode(value.as_bytes())
        .ok()
        .and_then(|bytes| <[u8; 16]>::try_from(bytes.as_slice()).ok())
        .map(Some)
        .ok_or_else(|| {
            Error::integrity(format!(
                "the service sent a {name} header that is not a base64 MD5: {value:?}"
            ))
        })
}

/// The blob's size from a HEAD answer's `Content-Length`. HTTP clients do not check that
/// header on a HEAD answer (there is no body to frame), so an unreadable or contradictory
/// one would otherwise become a size of 0.
///
/// NOTE (2026-12): an answer with no `Content-Length` at all still gives a size of 0: the
/// service always sends one, and some test servers leave it out of empty HEAD answers.
pub(crate) fn head_content_length(headers: &HeaderMap) -> Result<u64, Error> {
    let values: Vec<String> = headers
        .get_all("content-length")
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned())
        .collect();
    let Some(first) = values.first() else {
        return Ok(0);
    };
    match first.parse::<u64>().ok() {
        Some(length) if values.iter().all(|v| v.parse() == Ok(length)) => Ok(length),
        _ => Err(Error::unexpected(format!(
            "the service's answer gives no single readable Content-Length ({values:?}), so \
             the blob's size is unknown; is something other than the Blob service answering?"
        ))),
    }
}

/// Parses `Content-Range: bytes first-last/total`, when it is there and consistent (see
/// [`checked_content_range`]).
pub(crate) fn content_range(headers: &HeaderMap) -> Option<(u64, u64, u64)> {
    checked_content_range(headers).ok().flatten()
}

/// Parses `Content-Range: bytes first-last/total`: `Ok(None)` when there is none, an error
/// when it cannot be read or does not hold together (`first > last`, `last >= total`), so
/// that no length computed from it can wrap.
pub(crate) fn checked_content_range(headers: &HeaderMap) -> Result<Option<(u64, u64, u64)>, Error> {
    let Some(value) = text(headers, "content-range") else {
        return Ok(None);
    };
    let parsed = (|| {
        let rest = value.strip_prefix("bytes ")?;
        let (range, total) = rest.split_once('/')?;
        let (first, last) = range.split_once('-')?;
        Some((
            first.trim().parse::<u64>().ok()?,
            last.trim().parse::<u64>().ok()?,
            total.trim().parse::<u64>().ok()?,
        ))
    })();
    match parsed {
        Some((first, last, total)) if first <= last && last < total => {
            Ok(Some((first, last, total)))
        }
        _ => Err(Error::unexpected(format!(
            "the service sent a Content-Range that is not a byte range within the blob \
             (\"bytes first-last/total\" with first <= last < total): {value:?}; is something \
             other than the Blob service answering?"
        ))),
    }
}

/// Properties from the headers of a HEAD or GET response. On a range read the size comes
/// from `Content-Range` and the stored MD5 from `x-ms-blob-content-md5`.
pub(crate) fn blob_properties(headers: &HeaderMap) -> BlobProperties {
    let range = content_range(headers);
    let content_length = match range {
        Some((_, _, total)) => total,
        None => text(headers, "content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    };
    let stored_md5 = md5(headers, "x-ms-blob-content-md5").ok().flatten();
    let content_md5 = if range.is_some() {
        stored_md5
    } else {
        md5(headers, "content-md5").ok().flatten().or(stored_md5)
    };
    let metadata = headers
        .iter()
        .filter_map(|(name, value)| {
            let key = name.as_str().strip_prefix(META_PREFIX)?;
            Some((
                key.to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            ))
        })
        .collect();
    BlobProperties {
        content_length,
        content_type: text(headers, "content-type"),
        content_md5,
        content_encoding: text(headers, "content-encoding"),
        content_language: text(headers, "content-language"),
        content_disposition: text(headers, "content-disposition"),
        cache_control: text(headers, "cache-control"),
        etag: text(headers, "etag"),
        last_modified: date(headers, "last-modified"),
        created_on: date(headers, "x-ms-creation-time"),
        blob_type: text(headers, "x-ms-blob-type"),
        metadata,
        request_id: text(headers, "x-ms-request-id"),
    }
}

/// The result of Put Blob from its response headers.
pub(crate) fn put_blob_response(headers: &HeaderMap) -> PutBlobResponse {
    PutBlobResponse {
        etag: text(headers, "etag"),
        last_modified: date(headers, "last-modified"),
        content_md5: md5(headers, "content-md5").ok().flatten(),
        request_id: text(headers, "x-ms-request-id"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_range_reads_and_metadata() {
        let mut h = HeaderMap::new();
        h.insert("content-length", "10".parse().unwrap());
        h.insert("content-range", "bytes 5-14/100".parse().unwrap());
        h.insert("content-md5", "CY9rzUYh03PK3k6DJie09g==".parse().unwrap());
        h.insert(
            "x-ms-blob-content-md5",
            "XUFAKrxLKna5cZ2REBfFkg==".parse().unwrap(),
        );
        h.insert("x-ms-meta-a_b", "x y".parse().unwrap());
        h.insert(
            "last-modified",
            "Tue, 02 Dec 2025 10:30:00 GMT".parse().unwrap(),
        );
        let p = blob_properties(&h);
        assert_eq!(p.content_length, 100);
        // MD5("hello") is the stored one; the Content-MD5 of the range is not the blob's.
        assert_eq!(
            p.content_md5,
            Some(*b"\x5d\x41\x40\x2a\xbc\x4b\x2a\x76\xb9\x71\x9d\x91\x10\x17\xc5\x92")
        );
        assert_eq!(p.metadata.get("a_b").map(String::as_str), Some("x y"));
        assert_eq!(
            p.last_modified,
            Some(httpdate::parse_http_date("Tue, 02 Dec 2025 10:30:00 GMT").unwrap())
        );
        assert_eq!(content_range(&h), Some((5, 14, 100)));
    }

    #[test]
    fn content_ranges_that_do_not_hold_together_are_errors() {
        let with = |value: &str| {
            let mut h = HeaderMap::new();
            h.insert("content-range", value.parse().unwrap());
            checked_content_range(&h)
        };
        assert_eq!(with("bytes 0-0/1").unwrap(), Some((0, 0, 1)));
        assert_eq!(with("bytes 5-14/100").unwrap(), Some((5, 14, 100)));
        assert_eq!(
            with("bytes 0-18446744073709551613/18446744073709551614").unwrap(),
            Some((0, u64::MAX - 2, u64::MAX - 1))
        );
        assert_eq!(checked_content_range(&HeaderMap::new()).unwrap(), None);
        for bad in [
            "bytes 14-5/100",
            "bytes 5-100/100",
            "bytes 5-200/100",
            "bytes 0-18446744073709551615/18446744073709551615",
            "bytes 0-18446744073709551616/18446744073709551615",
            "bytes 0-9/*",
            "bytes */100",
            "items 0-9/100",
            "bytes -1-9/100",
        ] {
            let err = with(bad).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::Other, "{bad}");
            assert_eq!(
                err.to_string(),
                format!(
                    "the service sent a Content-Range that is not a byte range within the blob \
                     (\"bytes first-last/total\" with first <= last < total): {bad:?}; is \
                     something other than the Blob service answering?"
                )
            );
            let mut h = HeaderMap::new();
            h.insert("content-range", bad.parse().unwrap());
            assert_eq!(content_range(&h), None, "{bad}");
        }
    }

    #[test]
    fn a_head_answer_needs_one_readable_content_length() {
        let with = |values: &[&str]| {
            let mut h = HeaderMap::new();
            for value in values {
                h.append("content-length", value.parse().unwrap());
            }
            head_content_length(&h)
        };
        assert_eq!(with(&["1234"]).unwrap(), 1234);
        assert_eq!(with(&["5", "5"]).unwrap(), 5);
        assert_eq!(with(&[]).unwrap(), 0);
        for bad in [
            &["five"][..],
            &["-5"],
            &["5", "10"],
            &["99999999999999999999"],
        ] {
            let err = with(bad).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::Other);
            assert!(
                err.to_string()
                    .contains("no single readable Content-Length"),
                "{err}"
            );
        }
    }

    #[test]
    fn bad_md5_headers_are_errors() {
        let mut h = HeaderMap::new();
        h.insert("content-md5", "bm90IGFuIG1kNQ==".parse().unwrap());
        let err = md5(&h, "content-md5").unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Integrity);
        assert_eq!(md5(&HeaderMap::new(), "content-md5").unwrap(), None);
    }
}
