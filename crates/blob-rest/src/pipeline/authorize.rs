//! Authorizing one attempt: date, version, request id, and the credential.
//!
//! Runs for every attempt, so each carries a fresh `x-ms-date` (the service refuses requests
//! signed more than 15 minutes ago) and a token the provider considers current.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{AUTHORIZATION, CONTENT_LENGTH};
use http::{HeaderMap, HeaderValue, Method};

use super::Request;
use crate::body::Body;
use url::Url;

use crate::auth::{Credential, SharedKeyCredential};
use crate::error::{Error, Scrubber};
use crate::options::Clock;
use crate::signing::{authorization, string_to_sign};
use crate::API_VERSION;

/// The headers and URL of one attempt, ready to send.
pub(crate) struct Authorized {
    pub(crate) url: Url,
    pub(crate) headers: HeaderMap,
}

/// Adds the per-attempt headers and authorizes the request with `credential`. Every secret
/// put on the request is registered with `scrubber`.
pub(crate) async fn authorize(
    credential: &Credential,
    clock: &dyn Clock,
    request: &Request,
    client_request_id: &HeaderValue,
    scrubber: &mut Scrubber,
) -> Result<Authorized, Error> {
    let method = &request.method;
    let mut headers = request.headers.clone();
    let mut url = request.url.clone();
    let body_len = request.body.as_ref().map(Body::len);
    headers.insert("x-ms-version", HeaderValue::from_static(API_VERSION));
    headers.insert("x-ms-client-request-id", client_request_id.clone());
    let date = request_date(clock.now())?;
    headers.insert(
        "x-ms-date",
        HeaderValue::from_str(&date).expect("an HTTP date is a valid header value"),
    );
    // The length is set here, not left to the HTTP stack, because it is signed.
    match body_len {
        Some(len) => {
            headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
        }
        None if *method == Method::PUT || *method == Method::POST => {
            headers.insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
        }
        None => {}
    }
    match credential {
        Credential::SharedKey(key) => {
            let (header, signature) = shared_key_header(key, method, &url, &headers)?;
            scrubber.add(&signature);
            headers.insert(AUTHORIZATION, header);
        }
        Credential::Bearer(provider) => {
            let token = provider.token().await.map_err(Error::token)?;
            scrubber.add(token.secret());
            let header = zeroize::Zeroizing::new(format!("Bearer {}", token.secret()));
            headers.insert(AUTHORIZATION, sensitive(&header)?);
        }
        Credential::Sas(sas) => {
            let mut query = url.query().unwrap_or_default().to_owned();
            sas.append_to_query(&mut query);
            url.set_query(Some(&query));
            for form in sas.secret_forms() {
                scrubber.add(&form);
            }
        }
        Credential::Anonymous => {}
    }
    Ok(Authorized { url, headers })
}

/// `now` as the request's `x-ms-date`. `httpdate` panics for times before 1970 or after the
/// year 9999, which a wrong clock (a caller's [`Clock`]) can give: those are an error instead.
fn request_date(now: SystemTime) -> Result<String, Error> {
    /// 10000-01-01T00:00:00Z, the first moment an HTTP date cannot express.
    const YEAR_10000: Duration = Duration::from_secs(253_402_300_800);
    match now.duration_since(UNIX_EPOCH) {
        Ok(since) if since < YEAR_10000 => Ok(httpdate::fmt_http_date(now)),
        Ok(_) => Err(Error::config(
            "the clock says it is after the year 9999, which an HTTP date cannot express: \
             check the system clock (or the Clock given in the client options)",
        )),
        Err(_) => Err(Error::config(
            "the clock says it is before 1970, which an HTTP date cannot express: check the \
             system clock (or the Clock given in the client options)",
        )),
    }
}

/// The `Authorization` header of a request signed with `key` (and the bare signature, for
/// the scrubber): the whole per-attempt cost of SharedKey, string-to-sign and HMAC included.
/// `crate::benching` measures exactly this function.
pub(crate) fn shared_key_header(
    key: &SharedKeyCredential,
    method: &Method,
    url: &Url,
    headers: &HeaderMap,
) -> Result<(HeaderValue, zeroize::Zeroizing<String>), Error> {
    let to_sign = string_to_sign(method, url, headers, key.account());
    let (header, signature) = authorization(key, &to_sign);
    Ok((sensitive(&header)?, signature))
}

/// A header value marked sensitive, so the HTTP stack never prints it.
fn sensitive(value: &str) -> Result<HeaderValue, Error> {
    let mut header = HeaderValue::from_str(value).map_err(|_| {
        Error::config(
            "the credential contains characters that cannot be sent in an Authorization header",
        )
    })?;
    header.set_sensitive(true);
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_dates_outside_what_http_dates_express_are_errors_not_panics() {
        let year_10000 = UNIX_EPOCH + Duration::from_secs(253_402_300_800);
        assert_eq!(
            request_date(year_10000 - Duration::from_secs(1)).unwrap(),
            "Fri, 31 Dec 9999 23:59:59 GMT"
        );
        assert_eq!(
            request_date(UNIX_EPOCH).unwrap(),
            "Thu, 01 Jan 1970 00:00:00 GMT"
        );
        for (at, words) in [
            (year_10000, "after the year 9999"),
            (
                UNIX_EPOCH + Duration::from_secs(400_000_000_000),
                "after the year 9999",
            ),
            (UNIX_EPOCH - Duration::from_secs(1), "before 1970"),
        ] {
            let error = request_date(at).unwrap_err();
            assert_eq!(error.kind(), crate::ErrorKind::Config);
            assert!(error.to_string().contains(words), "{error}");
        }
    }
}
