//! The crate's one error type.
//!
//! Every failure (a service answer, a broken connection, bad configuration, a corrupt
//! download) is an [`Error`] whose [`kind`](Error::kind) callers can match on. The text says
//! what went wrong and, where it can, what to fix. No key, signature, token or SAS `sig` is
//! ever part of it: messages echoed by a server are scrubbed of the secrets of the request
//! they answer.

mod response;

use std::fmt;

use http::StatusCode;

pub(crate) use response::{from_parts, from_response, Scrubber};

/// Boxed source error.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What kind of failure an [`Error`] is, for callers to match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The container or blob does not exist (404).
    NotFound,
    /// The container or blob already exists: 409 `ContainerAlreadyExists`/`BlobAlreadyExists`,
    /// or a create-only write refused with 412.
    AlreadyExists,
    /// A condition such as `If-Match` did not hold (412 on a conditional, not create-only,
    /// request).
    PreconditionFailed,
    /// The service did not accept the credential: wrong key, expired or invalid token, bad
    /// SAS (401, or 403 `AuthenticationFailed`), or no token could be obtained.
    AuthenticationFailed,
    /// The caller is authenticated but not allowed to do this, e.g. an identity without a
    /// blob data role (403 `AuthorizationPermissionMismatch`).
    PermissionMissing,
    /// The service asked the client to slow down (429).
    Throttled,
    /// The service failed or was unavailable (408, 500, 502, 503, 504), also after retries.
    ServerBusy,
    /// The request was refused before sending (bad blob name, bad metadata) or by the service
    /// as malformed (400, 416).
    InvalidInput,
    /// Content did not match its MD5: a download whose bytes differ from the stored hash, or an
    /// upload the service refused with `Md5Mismatch`.
    Integrity,
    /// The connection failed, timed out or broke while sending or receiving.
    Transport,
    /// The client was configured wrongly: endpoint, key, certificates, credential kind.
    Config,
    /// A local file, reader or writer failed during an upload from it or a download to it.
    Io,
    /// Anything else, such as an unexpected status code.
    Other,
}

/// An error from this crate. See [`ErrorKind`] for the categories.
#[derive(thiserror::Error)]
#[error(transparent)]
pub struct Error(Box<Inner>);

#[derive(Debug, thiserror::Error)]
#[error("{context}{detail}{notes}")]
struct Inner {
    kind: ErrorKind,
    context: Context,
    detail: Detail,
    notes: Notes,
    #[source]
    source: Option<BoxError>,
}

/// What the client was doing: an operation name and its target.
#[derive(Debug, Default, Clone)]
struct Context(Option<String>);

impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(text) => write!(f, "{text}: "),
            None => Ok(()),
        }
    }
}

/// Extra sentences appended to the message (retry history, replay limits).
#[derive(Debug, Default, Clone)]
struct Notes(Vec<String>);

impl fmt::Display for Notes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for note in &self.0 {
            write!(f, "; {note}")?;
        }
        Ok(())
    }
}

#[derive(Debug)]
enum Detail {
    Service(ServiceError),
    Text(String),
}

impl fmt::Display for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Service(service) => service.fmt(f),
            Self::Text(text) => f.write_str(text),
        }
    }
}

/// What the service said about a failed request.
#[derive(Debug, Clone)]
pub(crate) struct ServiceError {
    pub(crate) status: StatusCode,
    pub(crate) code: Option<String>,
    pub(crate) message: Option<String>,
    pub(crate) authentication_detail: Option<String>,
    pub(crate) request_id: Option<String>,
    /// A short printable excerpt of a body that was not a storage error document.
    pub(crate) body_excerpt: Option<String>,
    pub(crate) kind: ErrorKind,
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write as _;
        // Written to a string first, so that the hint can follow the service's own sentence
        // without doubling its full stop.
        let mut text = format!("HTTP {}", self.status);
        if let Some(code) = &self.code {
            write!(text, " {code}")?;
        }
        if let Some(message) = &self.message {
            write!(text, ": {message}")?;
        }
        if let Some(detail) = &self.authentication_detail {
            write!(text, " ({detail})")?;
        }
        if let Some(excerpt) = &self.body_excerpt {
            write!(
                text,
                ": the response was not a storage error document: {excerpt:?}"
            )?;
        }
        if let Some(hint) = hint(self.kind, self.code.as_deref(), self.status) {
            text.push_str(if text.ends_with('.') { " " } else { ". " });
            text.push_str(hint);
        }
        if let Some(id) = &self.request_id {
            write!(text, " [request id {id}]")?;
        }
        f.write_str(&text)
    }
}

/// A sentence telling the user what to do about a service error, where there is one.
fn hint(kind: ErrorKind, code: Option<&str>, status: StatusCode) -> Option<&'static str> {
    match (kind, code) {
        (ErrorKind::PermissionMissing, Some("AuthorizationPermissionMismatch")) => Some(
            "The identity is authenticated but has no data role that allows this operation: \
             assign it a data role such as \"Storage Blob Data Contributor\" (or \"Storage Blob \
             Data Reader\" for reading) on the storage account or container; management roles \
             such as Owner or Contributor do not grant access to blob data",
        ),
        (ErrorKind::PermissionMissing, _) => Some(
            "The request is authenticated but not authorized: check the identity's data role \
             (such as \"Storage Blob Data Contributor\"), the SAS permissions, and the \
             account's network rules",
        ),
        (ErrorKind::AuthenticationFailed, _) if status == StatusCode::FORBIDDEN => Some(
            "The service did not accept the credential: check the account name and key (or \
             token/SAS), and that this machine's clock is right",
        ),
        _ => None,
    }
}

impl Error {
    fn new(kind: ErrorKind, detail: Detail, source: Option<BoxError>) -> Self {
        Self(Box::new(Inner {
            kind,
            context: Context::default(),
            detail,
            notes: Notes::default(),
            source,
        }))
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, Detail::Text(message.into()), None)
    }

    pub(crate) fn config_with_source(message: impl Into<String>, source: BoxError) -> Self {
        Self::new(
            ErrorKind::Config,
            Detail::Text(message.into()),
            Some(source),
        )
    }

    pub(crate) fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, Detail::Text(message.into()), None)
    }

    pub(crate) fn integrity(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Integrity, Detail::Text(message.into()), None)
    }

    pub(crate) fn precondition_failed(message: impl Into<String>) -> Self {
        Self::new(
            ErrorKind::PreconditionFailed,
            Detail::Text(message.into()),
            None,
        )
    }

    pub(crate) fn transport(message: impl Into<String>, source: Option<BoxError>) -> Self {
        Self::new(ErrorKind::Transport, Detail::Text(message.into()), source)
    }

    pub(crate) fn io(message: impl Into<String>, source: std::io::Error) -> Self {
        Self::new(
            ErrorKind::Io,
            Detail::Text(message.into()),
            Some(Box::new(source)),
        )
    }

    /// A successful answer whose content is not what the operation returns (a malformed
    /// listing or key document).
    pub(crate) fn unexpected(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Other, Detail::Text(message.into()), None)
    }

    pub(crate) fn token(source: BoxError) -> Self {
        Self::new(
            ErrorKind::AuthenticationFailed,
            Detail::Text(format!(
                "the token provider could not produce a bearer token: {}",
                chain(source.as_ref())
            )),
            Some(source),
        )
    }

    pub(crate) fn service(service: ServiceError) -> Self {
        Self::new(service.kind, Detail::Service(service), None)
    }

    /// Names the operation and its target in front of the message.
    pub(crate) fn with_context(mut self, context: String) -> Self {
        self.0.context = Context(Some(context));
        self
    }

    /// Appends a sentence, such as how many attempts were made.
    pub(crate) fn with_note(mut self, note: impl Into<String>) -> Self {
        self.0.notes.0.push(note.into());
        self
    }

    /// The category of this error.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The HTTP status the service answered with, when the service answered.
    pub fn status(&self) -> Option<StatusCode> {
        self.service_error().map(|s| s.status)
    }

    /// The service's error code (`x-ms-error-code`, or `<Code>` in the body), e.g.
    /// `BlobNotFound`.
    pub fn code(&self) -> Option<&str> {
        self.service_error().and_then(|s| s.code.as_deref())
    }

    /// The service's own message (first line of `<Message>`).
    pub fn message(&self) -> Option<&str> {
        self.service_error().and_then(|s| s.message.as_deref())
    }

    /// The service's request id (`x-ms-request-id`), to quote when asking Azure support.
    pub fn request_id(&self) -> Option<&str> {
        self.service_error().and_then(|s| s.request_id.as_deref())
    }

    fn service_error(&self) -> Option<&ServiceError> {
        match &self.0.detail {
            Detail::Service(service) => Some(service),
            Detail::Text(_) => None,
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The Display text is already secret-free; the source chain is rendered as text so
        // that no foreign Debug output (which might include a URL) is printed.
        let mut s = f.debug_struct("Error");
        s.field("kind", &self.kind());
        if let Some(status) = self.status() {
            s.field("status", &status.as_u16());
        }
        if let Some(code) = self.code() {
            s.field("code", &code);
        }
        if let Some(id) = self.request_id() {
            s.field("request_id", &id);
        }
        s.field("message", &self.to_string());
        if let Some(source) = &self.0.source {
            s.field("source", &chain(source.as_ref()));
        }
        s.finish()
    }
}

/// An error and its sources as one line: `outer: inner: innermost`.
pub(crate) fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut next = error.source();
    while let Some(source) = next {
        let part = source.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        next = source.source();
    }
    text
}
