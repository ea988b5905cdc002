//! Sending one attempt to an identity endpoint and judging what came back.
//!
//! The HTTP client is built for identity endpoints only: proxies from the environment never
//! apply (IMDS and App Service answer on the local machine, and IMDS refuses anything that
//! came through a proxy), no redirect is followed, no `X-Forwarded-For` is ever added, and the
//! connect timeout is short so that off Azure the answer "no managed identity here" comes in
//! about a second instead of after the operating system's minutes-long SYN retries.

use std::fmt;
use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use zeroize::Zeroizing;

use crate::error::{add_sentence, Error, ErrorKind};
use crate::response::{parse_error, parse_token, BodyProblem, EndpointError};
use crate::retry::retry_after;
use crate::sources::SourceKind;
use crate::token::{http_date, AccessToken, REDACTED};

/// The most of an answer we read. A token response is a few KiB; anything longer is not one.
const MAX_BODY: usize = 64 * 1024;

/// The HTTP client for identity endpoints.
pub(crate) fn client(connect_timeout: Duration) -> Result<reqwest::Client, Error> {
    reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(connect_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("imds-token/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|error| {
            Error::config(format!("cannot set up the HTTP client: {error}")).with_source(error)
        })
}

/// The secrets one request carries: App Service's identity header, a workload identity
/// assertion. An endpoint may echo its request in a refusal (or in a field of a broken token
/// response); these are taken out of whatever text of the answer goes into an error.
#[derive(Default)]
pub(crate) struct RequestSecrets(Vec<Zeroizing<String>>);

impl RequestSecrets {
    /// Shortest secret that is taken out; shorter strings would blank out ordinary words.
    const MIN_LEN: usize = 8;

    pub(crate) fn add(&mut self, secret: &str) {
        let secret = secret.trim();
        if secret.len() >= Self::MIN_LEN {
            self.0.push(Zeroizing::new(secret.to_owned()));
        }
    }

    fn scrub(&self, text: String) -> String {
        let mut text = text;
        for secret in &self.0 {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), REDACTED);
            }
        }
        text
    }
}

impl fmt::Debug for RequestSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequestSecrets({} secrets)", self.0.len())
    }
}

/// What one attempt came to.
#[derive(Debug)]
pub(crate) enum Attempt {
    /// A usable token.
    Token(AccessToken),
    /// A failure that may go away: try again after a while.
    Retry {
        error: Error,
        /// The endpoint's `Retry-After`, if it sent one.
        retry_after: Option<Duration>,
        /// 410 Gone: IMDS is being updated, which takes up to about 70 seconds.
        gone: bool,
    },
    /// A failure that retrying will not fix.
    Fail(Error),
}

/// What an attempt is about, for judging the answer and for messages.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target<'a> {
    pub(crate) kind: SourceKind,
    pub(crate) endpoint: &'a str,
    pub(crate) resource: &'a str,
    pub(crate) connect_timeout: Duration,
}

impl Target<'_> {
    fn at(&self) -> String {
        format!("the {} at {}", self.kind, self.endpoint)
    }
}

/// Sends one request, waiting at most `timeout` for the whole answer. `secrets` are those the
/// request carries; `asked_at` and `received_at` come from the caller's clock.
pub(crate) async fn send(
    request: reqwest::RequestBuilder,
    secrets: &RequestSecrets,
    timeout: Duration,
    target: Target<'_>,
    asked_at: SystemTime,
    received_at: impl Fn() -> SystemTime,
) -> Attempt {
    let mut response = match request.timeout(timeout).send().await {
        Ok(response) => response,
        Err(error) => return transport_failure(error, timeout, target),
    };
    let status = response.status();
    let retry_after = retry_after(response.headers(), received_at());
    // Sized once for the largest answer read, so the buffer never moves and leaves no stray
    // copies of a token in freed memory; zeroized on drop.
    let mut body = Zeroizing::new(Vec::with_capacity(MAX_BODY));
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) if body.len() + chunk.len() > MAX_BODY => {
                return Attempt::Fail(
                    Error::new(
                        ErrorKind::NoIdentity,
                        format!(
                            "{} answered {status} with more than {} KiB, which is not a token \
                         response: is another service listening there?",
                            target.at(),
                            MAX_BODY / 1024
                        ),
                    )
                    .with_status(status.as_u16()),
                );
            }
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(error) => return transport_failure(error, timeout, target),
        }
    }
    judge(
        status,
        &body,
        retry_after,
        target,
        secrets,
        asked_at,
        received_at(),
    )
}

/// Judges a complete answer.
fn judge(
    status: StatusCode,
    body: &[u8],
    retry_after: Option<Duration>,
    target: Target<'_>,
    secrets: &RequestSecrets,
    asked_at: SystemTime,
    received_at: SystemTime,
) -> Attempt {
    let at = target.at();
    let resource = target.resource;
    match status.as_u16() {
        200..=299 => match parse_token(body, asked_at) {
            Ok(token) if token.expires_on() > received_at => Attempt::Token(token),
            Ok(token) => Attempt::Fail(
                Error::new(
                    ErrorKind::InvalidResponse,
                    format!(
                        "{at} answered with a token for {resource} that expired at {} while \
                         this machine's clock says {}: check the clock",
                        http_date(token.expires_on()),
                        http_date(received_at)
                    ),
                )
                .with_status(status.as_u16()),
            ),
            Err(BodyProblem::NotJson) => Attempt::Fail(not_an_identity_endpoint(status, body, &at)),
            Err(BodyProblem::NotAToken(why)) => Attempt::Fail(
                Error::new(
                    ErrorKind::InvalidResponse,
                    format!(
                        "{at} answered {status} for {resource} but not with a usable token: {}",
                        secrets.scrub(why)
                    ),
                )
                .with_status(status.as_u16()),
            ),
        },
        // IMDS answers 404 while its identity service is starting; after the retries it means
        // nothing serves tokens there.
        404 => Attempt::Retry {
            error: answered(ErrorKind::NoIdentity, status, body, target, secrets),
            retry_after,
            gone: false,
        },
        // A page that is not JSON (a proxy's "502 Bad Gateway") may be transient too, but if
        // it lasts, what answers is not an identity endpoint.
        410 | 429 | 500..=599 if !body.is_empty() && parse_error(body).is_none() => {
            Attempt::Retry {
                error: not_an_identity_endpoint(status, body, &at),
                retry_after,
                gone: status == StatusCode::GONE,
            }
        }
        410 | 429 | 500..=599 => Attempt::Retry {
            error: answered(ErrorKind::Unavailable, status, body, target, secrets),
            retry_after,
            gone: status == StatusCode::GONE,
        },
        _ => match parse_error(body) {
            Some(_) => Attempt::Fail(answered(ErrorKind::Refused, status, body, target, secrets)),
            None => Attempt::Fail(not_an_identity_endpoint(status, body, &at)),
        },
    }
}

/// An error for an answer with a status, carrying the endpoint's own words when it sent JSON
/// (without the request's secrets, should it echo them).
fn answered(
    kind: ErrorKind,
    status: StatusCode,
    body: &[u8],
    target: Target<'_>,
    secrets: &RequestSecrets,
) -> Error {
    let at = target.at();
    let resource = target.resource;
    let mut said = parse_error(body).unwrap_or_default();
    said.error = said.error.map(|text| secrets.scrub(text));
    said.description = said.description.map(|text| secrets.scrub(text));
    let words = match (&said.error, &said.description) {
        (Some(error), Some(description)) => format!(": {error}: {description}"),
        (Some(only), None) | (None, Some(only)) => format!(": {only}"),
        (None, None) => String::new(),
    };
    let verb = match kind {
        ErrorKind::Refused => "refused a token for",
        _ => "could not give a token for",
    };
    let mut message = format!("{at} {verb} {resource}: {status}{words}");
    add_sentence(&mut message, hint(status, &said, target.kind));
    Error::new(kind, message)
        .with_status(status.as_u16())
        .with_endpoint_error(said.error, said.description)
}

/// What to check, for the refusals whose cause is known.
fn hint(status: StatusCode, said: &EndpointError, kind: SourceKind) -> &'static str {
    let text = format!(
        "{} {}",
        said.error.as_deref().unwrap_or_default(),
        said.description.as_deref().unwrap_or_default()
    )
    .to_ascii_lowercase();
    if text.contains("multiple user assigned identities") {
        "Several identities are assigned here: choose one with AZURE_CLIENT_ID, or with a \
         client id, object id or resource id in code."
    } else if text.contains("identity not found") || text.contains("unable to load") {
        "Check that a managed identity is assigned to this VM or app, and that the client id, \
         object id or resource id given (if any) is one of its identities."
    } else if text.contains("invalid_resource") || text.contains("aadsts500011") {
        "Check the resource name, such as https://storage.azure.com."
    } else if text.contains("aadsts70021") {
        "No federated credential of the identity matches this service account: check its \
         issuer and subject."
    } else if text.contains("aadsts700016") || text.contains("aadsts90002") {
        "Check AZURE_CLIENT_ID and AZURE_TENANT_ID."
    } else if kind == SourceKind::AppService
        && matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)
    {
        "The endpoint did not accept X-IDENTITY-HEADER: check IDENTITY_HEADER."
    } else {
        ""
    }
}

/// Something answered that is not an identity endpoint. The body is not quoted: it could be
/// a cut-off token response.
fn not_an_identity_endpoint(status: StatusCode, body: &[u8], at: &str) -> Error {
    Error::new(
        ErrorKind::NoIdentity,
        format!(
            "{at} answered {status} with {} bytes that are not JSON, so it is not a managed \
             identity endpoint: is a proxy, a captive portal or another service answering \
             there?",
            body.len()
        ),
    )
    .with_status(status.as_u16())
}

fn transport_failure(error: reqwest::Error, timeout: Duration, target: Target<'_>) -> Attempt {
    let at = target.at();
    if error.is_connect() {
        let why = if error.is_timeout() {
            format!("no connection within {:?}", target.connect_timeout)
        } else {
            "the connection failed or was refused".to_owned()
        };
        return Attempt::Fail(
            Error::new(
                ErrorKind::NoIdentity,
                format!(
                    "no managed identity endpoint answered: {at}: {why}. Off Azure this is \
                     expected; on Azure, check that this VM or app has a managed identity"
                ),
            )
            .with_source(error),
        );
    }
    let (kind, message) = if error.is_timeout() {
        (
            ErrorKind::Timeout,
            format!("{at} accepted the connection but gave no complete answer within {timeout:?}"),
        )
    } else {
        (
            ErrorKind::NoIdentity,
            format!("{at} closed the connection without a complete HTTP answer"),
        )
    };
    Attempt::Retry {
        error: Error::new(kind, message).with_source(error),
        retry_after: None,
        gone: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_an_endpoint_echoes_are_taken_out_of_errors() {
        let mut secrets = RequestSecrets::default();
        secrets.add("header-secret-91c2");
        secrets.add("short");
        let target = Target {
            kind: SourceKind::AppService,
            endpoint: "http://127.0.0.1:9/msi/token",
            resource: "https://storage.azure.com",
            connect_timeout: Duration::from_secs(1),
        };
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let judged = |status: StatusCode, body: &[u8]| match judge(
            status, body, None, target, &secrets, now, now,
        ) {
            Attempt::Fail(error) | Attempt::Retry { error, .. } => error,
            Attempt::Token(_) => panic!("not a token answer"),
        };

        // A refusal quoting the request's identity header, in both fields.
        let error = judged(
            StatusCode::BAD_REQUEST,
            br#"{"error":"bad header-secret-91c2","message":"X-IDENTITY-HEADER header-secret-91c2 short"}"#,
        );
        assert_eq!(error.endpoint_error(), Some("bad <redacted>"));
        assert_eq!(
            error.error_description(),
            Some("X-IDENTITY-HEADER <redacted> short"),
            "secrets shorter than 8 characters are left alone"
        );
        // The same as a retried 500, and in a field of a broken token response.
        let error = judged(
            StatusCode::INTERNAL_SERVER_ERROR,
            br#"{"error":"header-secret-91c2"}"#,
        );
        assert_eq!(error.endpoint_error(), Some("<redacted>"));
        let error = judged(
            StatusCode::OK,
            br#"{"access_token":"t","expires_in":"header-secret-91c2"}"#,
        );
        for shown in [error.to_string(), format!("{error:?}")] {
            assert!(!shown.contains("header-secret"), "{shown}");
            assert!(shown.contains("<redacted>"), "{shown}");
        }
        assert_eq!(format!("{secrets:?}"), "RequestSecrets(1 secrets)");
    }
}
