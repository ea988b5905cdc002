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
    /// A value given for one operation cannot be sent as it is (a content type, cache control
    /// or URL override that is not printable ASCII, a bad range): fix the value. No request
    /// was sent.
    InvalidInput,
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

impl Error {
    /// Wraps a blob-rest error: `action` says what was being done (`cannot save `x` in
    /// container `y``), the blob-rest text (operation, status, service code and its hint, such
    /// as the data role an identity lacks) follows, and the blob-rest error stays the source.
    ///
    /// A bearer token that could not be obtained surfaces from blob-rest as an authentication
    /// failure with the identity error somewhere in its chain; that case gets the identity's
    /// kind and a hint about what to configure instead.
    pub(crate) fn from_blob(action: &str, error: blob_rest::Error) -> Self {
        use blob_rest::ErrorKind as Blob;
        if let Some(identity) = find_in_chain::<imds_token::Error>(&error) {
            let (kind, hint) = identity_hint(identity.kind());
            let mut message = format!("{action}: no token from the managed identity: {identity}");
            append_sentence(&mut message, hint);
            return Self::new(kind, message).with_source(error);
        }
        let kind = match error.kind() {
            Blob::NotFound => ErrorKind::NotFound,
            Blob::AlreadyExists => ErrorKind::AlreadyExists,
            Blob::PreconditionFailed => ErrorKind::PreconditionFailed,
            Blob::AuthenticationFailed => ErrorKind::AuthenticationFailed,
            Blob::PermissionMissing => ErrorKind::PermissionMissing,
            Blob::Throttled | Blob::ServerBusy => ErrorKind::Unavailable,
            Blob::Integrity => ErrorKind::Integrity,
            Blob::Transport => ErrorKind::Transport,
            Blob::Config => ErrorKind::Config,
            Blob::Io => ErrorKind::Io,
            // Refused before sending (no status): the caller's value is at fault. A 400 from
            // the service stays a service error.
            Blob::InvalidInput if error.status().is_none() => ErrorKind::InvalidInput,
            _ => ErrorKind::Other,
        };
        let mut message = format!("{action}: {error}");
        if kind == ErrorKind::PreconditionFailed {
            append_sentence(
                &mut message,
                "The blob is not the version its ETag named: someone changed or deleted it \
                 since; read its properties again for the current ETag",
            );
        }
        // blob-rest's advice names its own API; the facade's users set SSL_CERT_FILE instead.
        if kind == ErrorKind::Transport && message.contains("certificate") {
            append_sentence(&mut message, CERTIFICATE_HINT);
        }
        Self::new(kind, message).with_source(error)
    }

    /// Wraps an imds-token error raised while setting up the identity (before any request).
    pub(crate) fn from_identity(action: &str, error: imds_token::Error) -> Self {
        let (kind, hint) = identity_hint(error.kind());
        let mut message = format!("{action}: {error}");
        append_sentence(&mut message, hint);
        Self::new(kind, message).with_source(error)
    }

    pub(crate) fn io(message: impl Into<String>, source: std::io::Error) -> Self {
        Self::new(ErrorKind::Io, message).with_source(source)
    }
}

/// What the facade's users do about a certificate that is not trusted.
const CERTIFICATE_HINT: &str = "To trust a self-signed certificate (an emulator's), set \
                                SSL_CERT_FILE to its PEM file \
                                (StorageConfig::with_root_certificates_file in code)";

/// Appends `sentence` (if not empty) to `message` as a new sentence, with one full stop
/// between them even when `message` already ends with one (as the service's and the
/// identity endpoint's texts often do).
fn append_sentence(message: &mut String, sentence: &str) {
    if sentence.is_empty() {
        return;
    }
    message.truncate(message.trim_end().len());
    message.push_str(if message.ends_with('.') { " " } else { ". " });
    message.push_str(sentence);
}

/// Our kind for an identity failure, and a sentence on what to do about it (or none).
fn identity_hint(kind: imds_token::ErrorKind) -> (ErrorKind, &'static str) {
    use imds_token::ErrorKind as Identity;
    match kind {
        Identity::NoIdentity => (
            ErrorKind::NoIdentity,
            "Run where a managed identity is assigned (an Azure VM, App Service, AKS with \
             workload identity), or configure a key instead: AZURE_STORAGE_KEY, \
             AZURE_STORAGE_SAS_TOKEN or AZURE_STORAGE_CONNECTION_STRING",
        ),
        Identity::Refused => (
            ErrorKind::IdentityRefused,
            "Check that the identity is assigned to this machine or app, and that \
             AZURE_CLIENT_ID (if set) is the client id of a user-assigned identity it has",
        ),
        Identity::Config => (ErrorKind::Config, ""),
        Identity::Unavailable | Identity::Timeout => (ErrorKind::Unavailable, ""),
        _ => (ErrorKind::IdentityRefused, ""),
    }
}

/// The first error of type `T` in `error`'s source chain (itself included).
fn find_in_chain<'a, T: StdError + 'static>(error: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut next = Some(error);
    while let Some(current) = next {
        if let Some(found) = current.downcast_ref::<T>() {
            return Some(found);
        }
        next = current.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::append_sentence;

    #[test]
    fn an_appended_sentence_follows_one_full_stop() {
        for (before, after) in [
            (
                "Gave up after 6 attempts in 12s.",
                "Gave up after 6 attempts in 12s. Run there",
            ),
            (
                "including the signature. ",
                "including the signature. Run there",
            ),
            ("no full stop", "no full stop. Run there"),
            ("cut short...", "cut short... Run there"),
        ] {
            let mut message = before.to_owned();
            append_sentence(&mut message, "Run there");
            assert_eq!(message, after);
        }
        let mut message = "unchanged.".to_owned();
        append_sentence(&mut message, "");
        assert_eq!(message, "unchanged.");
    }
}
