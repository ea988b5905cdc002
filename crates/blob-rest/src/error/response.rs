//! Turning a failed HTTP response into an [`Error`].
//!
//! The service reports failures three ways, and any of them may be missing: the status, the
//! `x-ms-error-code` header (the only code a HEAD response has), and an XML body
//! `<Error><Code>..</Code><Message>..</Message></Error>` that may start with a UTF-8 byte-order
//! mark. The header wins over the body. The body is read up to [`MAX_ERROR_BODY_BYTES`] so a
//! huge or endless answer cannot exhaust memory, and anything that is not XML is reported as
//! a short excerpt.
//!
//! Reference: <https://learn.microsoft.com/rest/api/storageservices/status-and-error-codes2>

use std::fmt;

use http::{HeaderMap, StatusCode};
use quick_xml::events::Event;
use quick_xml::Reader;
use zeroize::Zeroizing;

use super::{Error, ErrorKind, ServiceError};

/// The most bytes of an error body that are read.
pub(crate) const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// The most characters kept of a message or excerpt, so one error line stays readable.
const MAX_TEXT_CHARS: usize = 1024;

/// Characters of a non-XML body shown in the error.
const EXCERPT_CHARS: usize = 200;

/// Characters kept of an error code or an echoed header.
const MAX_CODE_CHARS: usize = 256;

/// What an error body said.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct ErrorBody {
    pub(crate) code: Option<String>,
    pub(crate) message: Option<String>,
    pub(crate) authentication_detail: Option<String>,
    /// Set when the body was not a storage error document.
    pub(crate) excerpt: Option<String>,
}

/// Parses a (possibly truncated) error body. Never fails: what cannot be understood becomes
/// an excerpt. Each text is scrubbed of the request's secrets while still whole, and only
/// then cut short: cut first, a secret straddling the cut would leave its prefix behind.
pub(crate) fn parse_error_body(body: &[u8], scrubber: &Scrubber) -> ErrorBody {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let text = String::from_utf8_lossy(body);
    if text.trim().is_empty() {
        return ErrorBody::default();
    }
    let raw = parse_xml(&text);
    let mut parsed = ErrorBody {
        code: raw
            .code
            .map(|v| printable_prefix(&scrubber.scrub(v), MAX_CODE_CHARS)),
        message: raw.message.map(|v| first_line(&scrubber.scrub(v))),
        authentication_detail: raw
            .authentication_detail
            .map(|v| first_line(&scrubber.scrub(v))),
        excerpt: None,
    };
    if parsed.code.is_none() && parsed.message.is_none() {
        let whole = scrubber.scrub(text.trim().to_owned());
        parsed.excerpt = Some(printable_prefix(&whole, EXCERPT_CHARS));
    }
    parsed
}

/// Extracts `Code`, `Message` and `AuthenticationErrorDetail` from an `<Error>` document,
/// keeping whatever was found before a syntax error or the end of a truncated body. The
/// values are whole (trimmed, not yet scrubbed or cut short).
fn parse_xml(text: &str) -> ErrorBody {
    let mut reader = Reader::from_str(text);
    let mut path: Vec<String> = Vec::new();
    let mut result = ErrorBody::default();
    let mut current = String::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(start)) => {
                let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
                if path.is_empty() && name != "Error" {
                    return result;
                }
                path.push(name);
                current.clear();
            }
            Ok(Event::Text(t)) => {
                if let Ok(s) = t.xml_content() {
                    current.push_str(&s);
                }
            }
            Ok(Event::CData(c)) => {
                if let Ok(s) = c.decode() {
                    current.push_str(&s);
                }
            }
            Ok(Event::GeneralRef(r)) => {
                if let Ok(Some(ch)) = r.resolve_char_ref() {
                    current.push(ch);
                } else if let Ok(name) = r.decode() {
                    if let Some(s) = quick_xml::escape::resolve_predefined_entity(&name) {
                        current.push_str(s);
                    }
                }
            }
            Ok(Event::End(_)) => {
                if path.len() == 2 {
                    let value = Some(current.trim().to_owned()).filter(|v| !v.is_empty());
                    match path[1].as_str() {
                        "Code" => result.code = value,
                        "Message" => result.message = value,
                        "AuthenticationErrorDetail" => result.authentication_detail = value,
                        _ => {}
                    }
                }
                path.pop();
                current.clear();
            }
            Ok(Event::Eof) | Err(_) => return result,
            Ok(_) => {}
        }
    }
}

fn first_line(text: &str) -> String {
    printable_prefix(
        text.lines().next().unwrap_or_default().trim(),
        MAX_TEXT_CHARS,
    )
}

/// At most `max` characters, control characters replaced, so an error stays one line.
fn printable_prefix(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .take(max)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

/// The category for a status and service code. `create_only` tells whether the request was
/// a create-only write (`If-None-Match: *`), whose refusal means "already exists" whether it
/// comes as 412 or as 409 `BlobAlreadyExists`.
///
/// NOTE (2026-12): Azurite 3.35.0 answers a wrong SharedKey signature with 403
/// `AuthorizationFailure` and the message "Server failed to authenticate the request", where
/// the service says `AuthenticationFailed`; the service uses `AuthorizationFailure` for
/// authenticated requests that are not allowed (network rules, SAS permissions). The message
/// tells the two apart.
pub(crate) fn classify(
    status: StatusCode,
    code: Option<&str>,
    message: Option<&str>,
    create_only: bool,
) -> ErrorKind {
    match status.as_u16() {
        404 => ErrorKind::NotFound,
        409 if matches!(code, Some("BlobAlreadyExists" | "ContainerAlreadyExists")) => {
            ErrorKind::AlreadyExists
        }
        412 if create_only => ErrorKind::AlreadyExists,
        412 => ErrorKind::PreconditionFailed,
        401 => ErrorKind::AuthenticationFailed,
        403 => match code {
            None | Some("AuthenticationFailed" | "InvalidAuthenticationInfo") => {
                ErrorKind::AuthenticationFailed
            }
            Some("AuthorizationFailure")
                if message.is_some_and(|m| m.contains("failed to authenticate")) =>
            {
                ErrorKind::AuthenticationFailed
            }
            Some(_) => ErrorKind::PermissionMissing,
        },
        429 => ErrorKind::Throttled,
        408 | 500 | 502 | 503 | 504 => ErrorKind::ServerBusy,
        400 if code == Some("Md5Mismatch") => ErrorKind::Integrity,
        400 | 411 | 413 | 414 | 416 | 431 => ErrorKind::InvalidInput,
        _ => ErrorKind::Other,
    }
}

/// Secrets of one request (signature, token, SAS `sig`), removed from any text a server
/// echoes back before that text becomes part of an error.
#[derive(Default)]
pub(crate) struct Scrubber {
    secrets: Vec<Zeroizing<String>>,
}

impl Scrubber {
    /// Shortest secret that is scrubbed; shorter strings would blank out ordinary words.
    const MIN_SECRET_LEN: usize = 8;

    pub(crate) fn add(&mut self, secret: &str) {
        if secret.len() >= Self::MIN_SECRET_LEN {
            self.secrets.push(Zeroizing::new(secret.to_owned()));
        }
    }

    pub(crate) fn scrub(&self, text: String) -> String {
        let mut text = text;
        for secret in &self.secrets {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), "<redacted>");
            }
        }
        text
    }
}

impl fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Scrubber({} secrets)", self.secrets.len())
    }
}

/// A header's text, scrubbed while whole and then cut short (see [`parse_error_body`]).
fn header_text(headers: &HeaderMap, name: &str, scrubber: &Scrubber) -> Option<String> {
    let value = headers.get(name)?;
    let text = scrubber.scrub(String::from_utf8_lossy(value.as_bytes()).trim().to_owned());
    Some(printable_prefix(&text, MAX_CODE_CHARS)).filter(|t| !t.is_empty())
}

/// Reads at most [`MAX_ERROR_BODY_BYTES`] of a body; a read error ends the body early.
async fn read_capped(mut response: reqwest::Response) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < MAX_ERROR_BODY_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    body.truncate(MAX_ERROR_BODY_BYTES);
    body
}

/// Builds the error for a response with a failure status, reading its body (capped).
pub(crate) async fn from_response(
    response: reqwest::Response,
    create_only: bool,
    scrubber: &Scrubber,
) -> Error {
    let status = response.status();
    let headers = response.headers().clone();
    let body = read_capped(response).await;
    from_parts(status, &headers, &body, create_only, scrubber)
}

/// Builds the error for a failed response from its status, headers and body (of which at
/// most [`MAX_ERROR_BODY_BYTES`] are read).
pub(crate) fn from_parts(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    create_only: bool,
    scrubber: &Scrubber,
) -> Error {
    // Echoed headers are server text like the body: a proxy may put anything there.
    let header_code = header_text(headers, "x-ms-error-code", scrubber);
    let request_id = header_text(headers, "x-ms-request-id", scrubber);
    let parsed = parse_error_body(&body[..body.len().min(MAX_ERROR_BODY_BYTES)], scrubber);
    let code = header_code.or(parsed.code);
    let kind = classify(
        status,
        code.as_deref(),
        parsed.message.as_deref(),
        create_only,
    );
    Error::service(ServiceError {
        status,
        code,
        message: parsed.message,
        authentication_detail: parsed.authentication_detail,
        request_id,
        body_excerpt: parsed.excerpt,
        kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_code_and_first_message_line_with_bom() {
        let body = "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>BlobNotFound</Code>\
                    <Message>The specified blob does not exist.\nRequestId:1\nTime:x</Message></Error>";
        let parsed = parse_error_body(body.as_bytes(), &Scrubber::default());
        assert_eq!(parsed.code.as_deref(), Some("BlobNotFound"));
        assert_eq!(
            parsed.message.as_deref(),
            Some("The specified blob does not exist.")
        );
        assert_eq!(parsed.excerpt, None);
    }

    #[test]
    fn resolves_entities_and_keeps_auth_detail() {
        let body = "<Error><Code>AuthenticationFailed</Code><Message>a &amp; b &#x41;</Message>\
                    <AuthenticationErrorDetail>The MAC signature found</AuthenticationErrorDetail></Error>";
        let parsed = parse_error_body(body.as_bytes(), &Scrubber::default());
        assert_eq!(parsed.message.as_deref(), Some("a & b A"));
        assert_eq!(
            parsed.authentication_detail.as_deref(),
            Some("The MAC signature found")
        );
    }

    #[test]
    fn non_xml_bodies_become_a_short_excerpt() {
        let body = format!("<html><body>Bad gateway {}</body></html>", "x".repeat(500));
        let parsed = parse_error_body(body.as_bytes(), &Scrubber::default());
        assert_eq!(parsed.code, None);
        let excerpt = parsed.excerpt.unwrap();
        assert!(excerpt.starts_with("<html><body>Bad gateway"));
        assert_eq!(excerpt.chars().count(), EXCERPT_CHARS + 1);
        let parsed = parse_error_body(b"\x00\xff\xfe garbage", &Scrubber::default());
        assert!(parsed.excerpt.is_some());
        assert_eq!(
            parse_error_body(b"   ", &Scrubber::default()),
            ErrorBody::default()
        );
    }

    #[test]
    fn truncated_xml_keeps_what_was_complete() {
        let parsed = parse_error_body(
            b"<Error><Code>ServerBusy</Code><Message>Ingress is ov",
            &Scrubber::default(),
        );
        assert_eq!(parsed.code.as_deref(), Some("ServerBusy"));
        assert_eq!(parsed.message, None);
    }

    #[test]
    fn nested_elements_do_not_count_as_code() {
        let parsed = parse_error_body(
            b"<Error><Detail><Code>Inner</Code></Detail></Error>",
            &Scrubber::default(),
        );
        assert_eq!(parsed.code, None);
        let parsed = parse_error_body(b"<Other><Code>X</Code></Other>", &Scrubber::default());
        assert_eq!(parsed.code, None);
        assert!(parsed.excerpt.is_some());
    }

    #[test]
    fn classification() {
        use ErrorKind as K;
        let c = |s: u16, code: Option<&str>, create_only| {
            classify(StatusCode::from_u16(s).unwrap(), code, None, create_only)
        };
        assert_eq!(c(404, Some("BlobNotFound"), false), K::NotFound);
        assert_eq!(c(409, Some("BlobAlreadyExists"), true), K::AlreadyExists);
        assert_eq!(
            c(409, Some("ContainerAlreadyExists"), false),
            K::AlreadyExists
        );
        assert_eq!(c(409, Some("LeaseIdMissing"), false), K::Other);
        assert_eq!(c(412, Some("ConditionNotMet"), true), K::AlreadyExists);
        assert_eq!(
            c(412, Some("ConditionNotMet"), false),
            K::PreconditionFailed
        );
        assert_eq!(c(401, None, false), K::AuthenticationFailed);
        assert_eq!(
            c(403, Some("AuthenticationFailed"), false),
            K::AuthenticationFailed
        );
        assert_eq!(
            c(403, Some("AuthorizationPermissionMismatch"), false),
            K::PermissionMissing
        );
        assert_eq!(
            c(403, Some("AuthorizationFailure"), false),
            K::PermissionMissing
        );
        let azurite_bad_signature = classify(
            StatusCode::FORBIDDEN,
            Some("AuthorizationFailure"),
            Some("Server failed to authenticate the request. Make sure the value of the ..."),
            false,
        );
        assert_eq!(azurite_bad_signature, K::AuthenticationFailed);
        assert_eq!(c(429, None, false), K::Throttled);
        assert_eq!(c(503, Some("ServerBusy"), false), K::ServerBusy);
        assert_eq!(c(400, Some("Md5Mismatch"), false), K::Integrity);
        assert_eq!(c(400, Some("InvalidHeaderValue"), false), K::InvalidInput);
        assert_eq!(c(501, None, false), K::Other);
    }

    #[test]
    fn secrets_echoed_in_any_header_or_body_field_are_scrubbed() {
        // Found by fuzzing: a secret echoed in x-ms-request-id reached the error's text.
        let secret = "SENTINEL-SIGNATURE+7c1d/9e2f=";
        let mut scrubber = Scrubber::default();
        scrubber.add(secret);
        let mut headers = HeaderMap::new();
        for name in ["x-ms-error-code", "x-ms-request-id"] {
            headers.insert(name, format!("a {secret} b").parse().unwrap());
        }
        let body = format!(
            "<Error><Code>c</Code><Message>m {secret}</Message>\
             <AuthenticationErrorDetail>d {secret}</AuthenticationErrorDetail></Error>"
        );
        let error = from_parts(
            StatusCode::FORBIDDEN,
            &headers,
            body.as_bytes(),
            false,
            &scrubber,
        );
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains(secret), "{shown}");
        assert_eq!(error.request_id(), Some("a <redacted> b"));
        assert_eq!(error.code(), Some("a <redacted> b"));
        assert_eq!(error.message(), Some("m <redacted>"));
        let excerpt = from_parts(
            StatusCode::BAD_GATEWAY,
            &HeaderMap::new(),
            format!("<html>{secret}</html>").as_bytes(),
            false,
            &scrubber,
        );
        assert!(
            excerpt.to_string().contains("<html><redacted></html>"),
            "{excerpt}"
        );
    }

    #[test]
    fn secrets_straddling_a_cut_are_scrubbed_before_the_cut() {
        let secret = "sig=SENTINEL+7c1d/9e2fQz0=";
        let mut scrubber = Scrubber::default();
        scrubber.add(secret);
        // The secret starts 10 characters before each cut: the excerpt's (200), the
        // message's (1024) and an echoed header's (256).
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-ms-request-id",
            format!("{}{secret}", "h".repeat(MAX_CODE_CHARS - 10))
                .parse()
                .unwrap(),
        );
        let excerpt = from_parts(
            StatusCode::BAD_GATEWAY,
            &headers,
            format!("{}{secret} tail", "e".repeat(EXCERPT_CHARS - 10)).as_bytes(),
            false,
            &scrubber,
        );
        let message = from_parts(
            StatusCode::FORBIDDEN,
            &headers,
            format!(
                "<Error><Code>AuthenticationFailed</Code><Message>{}{secret} tail</Message>\
                 <AuthenticationErrorDetail>{}{secret}</AuthenticationErrorDetail></Error>",
                "m".repeat(MAX_TEXT_CHARS - 10),
                "d".repeat(MAX_TEXT_CHARS - 10),
            )
            .as_bytes(),
            false,
            &scrubber,
        );
        for error in [&excerpt, &message] {
            let shown = format!("{error} {error:?}");
            for end in Scrubber::MIN_SECRET_LEN..=secret.len() {
                assert!(
                    !shown.contains(&secret[..end]),
                    "{:?} in {shown}",
                    &secret[..end]
                );
            }
            assert_eq!(
                error.request_id(),
                Some(format!("{}<redacted>", "h".repeat(MAX_CODE_CHARS - 10)).as_str())
            );
        }
        assert!(
            excerpt
                .to_string()
                .contains(&format!("{}<redacted>…\"", "e".repeat(EXCERPT_CHARS - 10))),
            "{excerpt}"
        );
        assert_eq!(
            message.message(),
            Some(format!("{}<redacted>…", "m".repeat(MAX_TEXT_CHARS - 10)).as_str())
        );
    }

    #[test]
    fn scrubber_removes_secrets_and_ignores_short_ones() {
        let mut scrubber = Scrubber::default();
        scrubber.add("SENTINEL-SIGNATURE");
        scrubber.add("abc");
        assert_eq!(
            scrubber.scrub("found 'SENTINEL-SIGNATURE' abc".to_owned()),
            "found '<redacted>' abc"
        );
    }
}
