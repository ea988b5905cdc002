//! The one error type of this crate.
//!
//! Every message says what to fix. Errors from the layers below (`blob-rest`, `imds-token`,
//! the file system) are kept as the [`std::error::Error::source`] of ours, so a caller can walk
//! the chain; the CLI prints it as `error: ...` followed by `caused by: ...` lines.

use std::error::Error as StdError;

/// What kind of failure an [`Error`] is, for callers that branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The configuration is wrong: environment variables, connection string, account or
    /// container name, key, SAS token, endpoint, metadata name. No request was sent.
    Config,
    /// A blob name breaks the name rules (empty, too long, control characters, climbs out of
    /// the location prefix). No request was sent.
    InvalidName,
    /// The blob or its container does not exist.
    NotFound,
    /// A blob of that name exists and no free name was found (or the content could not be
    /// sent a second time under another name).
    AlreadyExists,
    /// An `If-Match`/`If-None-Match` condition failed for another reason than "exists".
    PreconditionFailed,
    /// The service refused the credentials (bad key, expired SAS, token for another audience).
    AuthenticationFailed,
    /// The credentials are valid but lack a permission: for an identity, a data role such as
    /// Storage Blob Data Contributor.
    PermissionMissing,
    /// No managed identity answered on this machine.
    NoIdentity,
    /// The managed identity endpoint answered but refused to issue a token.
    IdentityRefused,
    /// The service is throttling or busy and retries did not get through.
    Unavailable,
    /// The content does not match its checksum.
    Integrity,
    /// The network failed (connection refused, reset, timeout).
    Transport,
    /// A local file could not be read or written.
    Io,
    /// Anything else the service refused.
    Other,
}

/// An error of this crate: a kind to match on, a message that says what to fix, and the
/// underlying error as its source.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    kind: ErrorKind,
    message: String,
    #[source]
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, message)
    }

    pub(crate) fn invalid_name(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidName, message)
    }

    pub(crate) fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message alone, without the chain of causes.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
