//! Sending one operation: authorization, retries, timeouts, logging.
//!
//! Each operation gets one `x-ms-client-request-id` and one tracing span (method, operation,
//! container, blob, attempt). Every attempt is authorized afresh (new `x-ms-date`, a token
//! asked from the provider). A bearer request refused as unauthenticated (401, or 403
//! `AuthenticationFailed`) makes the provider drop its token and is tried once more. Retries
//! follow [`RetryPolicy`](crate::RetryPolicy); a body stream that has started to be sent is
//! not replayed, and the error says so. A download whose body breaks is resumed within the
//! same [`Operation`] (see `body::resume`), so its requests share the id, span and budget.

mod authorize;
mod retry;

pub(crate) use authorize::shared_key_header;

use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderValue, Method, StatusCode};
use tracing::Instrument as _;
use url::Url;

use crate::auth::Credential;
use crate::body::Body;
use crate::endpoint::Endpoint;
use crate::error::{chain, from_response, Error, ErrorKind, Scrubber};
use crate::names::check_account_name;
use crate::options::ClientOptions;

/// One request to send: an operation, or the resume of a download that broke.
pub(crate) struct Request {
    /// The operation's name in the REST reference, e.g. "Put Blob".
    pub(crate) operation: &'static str,
    pub(crate) method: Method,
    /// The URL without credentials.
    pub(crate) url: Url,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Option<Body>,
    pub(crate) container: String,
    pub(crate) blob: Option<String>,
    /// Whether a 412 means "already exists" (create-only writes).
    pub(crate) create_only: bool,
}

impl Request {
    /// "Put Blob photos/cat.jpg", the prefix of this operation's errors.
    pub(crate) fn context(&self) -> String {
        match &self.blob {
            Some(blob) => format!(
                "{} {}/{}",
                self.operation,
                self.container,
                blob.escape_debug()
            ),
            None => format!("{} {}", self.operation, self.container),
        }
    }
}

/// One operation on its way: its tracing span, its `x-ms-client-request-id` and its retry
/// budget. A download that resumes continues the operation that started it, so the resume
/// requests share its id and span and count against its attempts.
pub(crate) struct Operation {
    span: tracing::Span,
    client_request_id: String,
    /// Attempts made so far.
    attempts: u32,
    /// Where the total retry deadline counts from.
    since: SystemTime,
}

impl Operation {
    /// The operation's span (`blob_request`), for events that belong to it.
    pub(crate) fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// Attempts made so far.
    pub(crate) fn attempts(&self) -> u32 {
        self.attempts
    }
}

/// The HTTP client, credential and options shared by all clients of one service.
pub(crate) struct Pipeline {
    http: reqwest::Client,
    credential: Credential,
    options: ClientOptions,
}

/// How one attempt ended, when it did not produce a successful response.
enum Failure {
    /// The service answered with an error status.
    Status {
        status: StatusCode,
        error: Error,
        requested_wait: Option<Duration>,
    },
    /// No response: connection failure, timeout, broken upload.
    Transport(Error),
    /// Not worth retrying: no token, unusable credential.
    Fatal(Error),
}

impl Pipeline {
    pub(crate) fn new(
        endpoint: &Endpoint,
        credential: Credential,
        options: ClientOptions,
    ) -> Result<Self, Error> {
        match &credential {
            Credential::SharedKey(key) => {
                check_account_name(key.account())?;
                if key.account() != endpoint.account() {
                    return Err(Error::config(format!(
                        "the shared key is for account {:?} but the endpoint {endpoint} is for \
                         account {:?}: use the key of the endpoint's account",
                        key.account(),
                        endpoint.account()
                    )));
                }
            }
            Credential::Bearer(_) | Credential::Sas(_)
                if !endpoint.is_https() && !endpoint.is_loopback() =>
            {
                return Err(Error::config(format!(
                    "refusing to send a {} over plain http:// to {endpoint}: anyone on the \
                     network path could read and reuse it; use an https:// endpoint (plain \
                     http is only allowed to a loopback emulator)",
                    credential.kind_name()
                )));
            }
            _ => {}
        }
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(options.connect_timeout)
            .read_timeout(options.read_timeout)
            .user_agent(concat!("blob-rest/", env!("CARGO_PKG_VERSION")));
        if endpoint.is_loopback() {
            // An emulator on this machine is never reached through a proxy.
            builder = builder.no_proxy();
        }
        for pem in &options.extra_root_certificates_pem {
            let certificates = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| {
                Error::config_with_source(
                    "the extra root certificates are not a valid PEM bundle",
                    Box::new(e.without_url()),
                )
            })?;
            if certificates.is_empty() {
                return Err(Error::config(
                    "the extra root certificate bundle holds no PEM certificate",
                ));
            }
            for certificate in certificates {
                builder = builder.add_root_certificate(certificate);
            }
        }
        let http = builder.build().map_err(|e| {
            Error::config_with_source("could not build the HTTP client", Box::new(e.without_url()))
        })?;
        Ok(Self {
            http,
            credential,
            options,
        })
    }

    /// Starts an operation: its client request id, its tracing span and its retry budget.
    pub(crate) fn begin(&self, request: &Request) -> Operation {
        let client_request_id = (self.options.request_ids)();
        let span = tracing::info_span!(
            "blob_request",
            operation = request.operation,
            method = %request.method,
            container = %request.container,
            blob = request.blob.as_deref().unwrap_or_default(),
            client_request_id = %client_request_id,
            attempt = tracing::field::Empty,
        );
        Operation {
            span,
            client_request_id,
            attempts: 0,
            since: self.options.clock.now(),
        }
    }

    /// Sends `request` as an operation of its own until it succeeds or the retry policy gives
    /// up. Returns the response of a successful (2xx) attempt.
    pub(crate) async fn send(&self, request: Request) -> Result<reqwest::Response, Error> {
        let mut operation = self.begin(&request);
        self.send_in(&mut operation, request).await
    }

    /// Sends `request` as part of `operation`: its attempts share the operation's request id
    /// and span, and count against its retry budget.
    pub(crate) async fn send_in(
        &self,
        operation: &mut Operation,
        request: Request,
    ) -> Result<reqwest::Response, Error> {
        let span = operation.span.clone();
        // The context is only formatted when there is an error to put it on.
        self.send_with_retries(operation, &request)
            .instrument(span)
            .await
            .map_err(|e| e.with_context(request.context()))
    }

    /// Waits before resuming a download of `operation` whose body broke with `error`, or
    /// returns `error` with a note when the retry budget does not allow another attempt.
    ///
    /// The broken response was an attempt that failed, so the resume counts against
    /// `max_attempts` like any retry. The total deadline counts from the break: the time the
    /// body took to arrive was spent downloading, not retrying.
    pub(crate) async fn wait_before_resume(
        &self,
        operation: &mut Operation,
        error: Error,
    ) -> Result<(), Error> {
        operation.since = self.options.clock.now();
        let span = operation.span.clone();
        self.wait_for_retry(operation, error, None)
            .instrument(span)
            .await
    }

    async fn send_with_retries(
        &self,
        operation: &mut Operation,
        request: &Request,
    ) -> Result<reqwest::Response, Error> {
        let request_id = HeaderValue::from_str(&operation.client_request_id).map_err(|_| {
            Error::config("the client request id generator produced an invalid header value")
        })?;
        let mut token_renewed = false;
        loop {
            operation.attempts += 1;
            let attempt = operation.attempts;
            tracing::Span::current().record("attempt", attempt);
            let failure = match self.attempt(request, &request_id, attempt).await {
                Ok(response) => return Ok(response),
                Err(failure) => failure,
            };
            let replayable = request.body.as_ref().is_none_or(Body::can_send_again);
            let (error, retryable, requested_wait) = match failure {
                Failure::Fatal(error) => return Err(error),
                Failure::Transport(error) => (error, true, None),
                // 401, or 403 AuthenticationFailed (which Azurite 3.35.0 sends for an
                // expired token): the token may be stale, so get a new one, once.
                Failure::Status { error, .. }
                    if error.kind() == ErrorKind::AuthenticationFailed && !token_renewed =>
                {
                    let Credential::Bearer(provider) = &self.credential else {
                        return Err(error);
                    };
                    token_renewed = true;
                    provider.invalidate();
                    if !replayable {
                        return Err(error.with_note(NOT_REPLAYABLE));
                    }
                    tracing::info!(attempt, "token refused: dropped it, trying once more");
                    continue;
                }
                Failure::Status {
                    status,
                    error,
                    requested_wait,
                } => (error, retry::is_retryable_status(status), requested_wait),
            };
            if !retryable {
                return Err(error);
            }
            if !replayable {
                return Err(error.with_note(NOT_REPLAYABLE));
            }
            self.wait_for_retry(operation, error, requested_wait)
                .await?;
        }
    }

    /// Waits before the next attempt of `operation`, which failed with `error`: as long as the
    /// service asked for, else the policy's backoff. Returns `error` with a note instead when
    /// the attempts are used up or the wait would end past the total deadline.
    async fn wait_for_retry(
        &self,
        operation: &Operation,
        error: Error,
        requested_wait: Option<Duration>,
    ) -> Result<(), Error> {
        let policy = &self.options.retry;
        let clock = self.options.clock.as_ref();
        let attempt = operation.attempts;
        if attempt >= policy.max_attempts.max(1) {
            return Err(error.with_note(format!("gave up after {attempt} attempts")));
        }
        let wait = requested_wait.unwrap_or_else(|| retry::backoff(policy, attempt));
        let elapsed = clock
            .now()
            .duration_since(operation.since)
            .unwrap_or_default();
        if elapsed.saturating_add(wait) > policy.total_deadline {
            return Err(error.with_note(format!(
                "gave up after {attempt} attempts: waiting {wait:?} more would pass the \
                 total retry deadline of {:?}",
                policy.total_deadline
            )));
        }
        tracing::warn!(
            attempt,
            wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            error = %error,
            "attempt failed, retrying"
        );
        clock.sleep(wait).await;
        Ok(())
    }

    async fn attempt(
        &self,
        request: &Request,
        client_request_id: &HeaderValue,
        attempt: u32,
    ) -> Result<reqwest::Response, Failure> {
        let mut scrubber = Scrubber::default();
        let authorized = authorize::authorize(
            &self.credential,
            self.options.clock.as_ref(),
            request,
            client_request_id,
            &mut scrubber,
        )
        .await
        .map_err(Failure::Fatal)?;
        let mut builder = self
            .http
            .request(request.method.clone(), authorized.url)
            .headers(authorized.headers);
        if let Some(body) = &request.body {
            let Some(body) = body.for_attempt() else {
                return Err(Failure::Fatal(Error::transport(NOT_REPLAYABLE, None)));
            };
            builder = builder.body(body);
        }
        tracing::debug!(attempt, "sending request");
        let timeout = self.options.response_timeout;
        let response = match tokio::time::timeout(timeout, builder.send()).await {
            Err(_) => {
                return Err(Failure::Transport(Error::transport(
                    format!("no response within the response timeout of {timeout:?}"),
                    None,
                )))
            }
            Ok(Err(e)) => {
                let e = e.without_url();
                let message = format!(
                    "the request failed before a response arrived: {}",
                    chain(&e)
                );
                tracing::debug!(attempt, error = %message, "no response");
                let permanent = is_permanent(&e);
                let error = Error::transport(message, Some(Box::new(e)));
                return Err(if permanent {
                    Failure::Fatal(error.with_note(PERMANENT))
                } else {
                    Failure::Transport(error)
                });
            }
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        tracing::debug!(
            attempt,
            status = status.as_u16(),
            // Server text, which may echo the request (a SAS in the URL) back.
            request_id = %scrubber.scrub(
                response
                    .headers()
                    .get("x-ms-request-id")
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                    .unwrap_or_default()
            ),
            "response"
        );
        if status.is_success() {
            return Ok(response);
        }
        let requested_wait = retry::requested_wait(response.headers(), self.options.clock.now());
        let error = from_response(response, request.create_only, &scrubber).await;
        Err(Failure::Status {
            status,
            error,
            requested_wait,
        })
    }
}

/// Whether a failure to send cannot be cured by sending again: a TLS handshake that was
/// refused (an untrusted or unsuitable certificate) or an upload stream that broke its
/// declared length. Both surface as `io::ErrorKind::InvalidData` in the error chain.
fn is_permanent(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(current) = next {
        if let Some(io) = current.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::InvalidData {
                return true;
            }
            // An I/O error's `source()` skips the error it wraps, so look into it directly.
            if let Some(inner) = io.get_ref() {
                next = Some(inner);
                continue;
            }
        }
        next = current.source();
    }
    false
}

/// Note added to failures that are not retried because retrying cannot help.
const PERMANENT: &str = "not retried: this failure repeats on every attempt; if the server's \
                         certificate is not trusted, add it (or its CA) to the client's trusted \
                         root certificates, and note that the server's own certificate must \
                         not be a CA certificate";

/// Note added when a failed request could have been retried but for its body.
const NOT_REPLAYABLE: &str = "not retried: the request body is a stream that was already \
                              (partly) sent and cannot be replayed; retry with the content in \
                              memory or a new stream";
