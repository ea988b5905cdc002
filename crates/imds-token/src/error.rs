//! The crate's one error type, and the kinds callers match on.
//!
//! Messages say what happened and what to check. They never hold a token, an identity header
//! or a client assertion: a token response body is never quoted, only the `error` and
//! `error_description` fields of a refusal, which the endpoints fill with prose and codes.

use std::sync::Arc;

/// What went wrong, in the terms a caller decides on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No managed identity here: nothing answered at the endpoint (connection refused, or no
    /// connection within the connect timeout), or something answered that is not an identity
    /// endpoint (a proxy's or portal's page, a redirect, a 404 that never went away). Typical
    /// off Azure. A later call tries again.
    NoIdentity,
    /// The identity endpoint answered and refused: no identity or the wrong one assigned,
    /// several identities and no selector, an unknown resource, a 401 or 403. See
    /// [`Error::endpoint_error`] and [`Error::error_description`] for the endpoint's own words.
    Refused,
    /// The endpoint answered 200 with JSON that is not a usable token (no `access_token`, no
    /// readable expiry, an expiry in the past).
    InvalidResponse,
    /// The endpoint kept answering with a transient failure (410, 429, 5xx) until the retries or
    /// the deadline ran out.
    Unavailable,
    /// The endpoint accepted the connection but did not answer in time.
    Timeout,
    /// The configuration cannot work: a malformed URL or resource, several selectors at once,
    /// a missing variable or an unreadable federated token file. The message says what to fix.
    Config,
}

/// An error from getting a managed identity token.
///
/// Boxed inside, so that a `Result<AccessToken, Error>` stays small on the cached path.
#[derive(Debug, Clone, thiserror::Error)]
#[error(transparent)]
pub struct Error(Box<Details>);

#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
struct Details {
    kind: ErrorKind,
    message: String,
    status: Option<u16>,
    /// The endpoint's `error` field.
    code: Option<String>,
    /// The endpoint's `error_description` field.
    description: Option<String>,
    // Shared so that one failed refresh can be handed to every caller that waited for it.
    #[source]
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self(Box::new(Details {
            kind,
            message: message.into(),
            status: None,
            code: None,
            description: None,
            source: None,
        }))
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, message)
    }

    pub(crate) fn with_status(mut self, status: u16) -> Self {
        self.0.status = Some(status);
        self
    }

    pub(crate) fn with_endpoint_error(
        mut self,
        error: Option<String>,
        description: Option<String>,
    ) -> Self {
        self.0.code = error;
        self.0.description = description;
        self
    }

    pub(crate) fn with_source(
        mut self,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        self.0.source = Some(Arc::new(source));
        self
    }

    /// Adds a sentence to the message, such as why retrying stopped.
    pub(crate) fn context(mut self, sentence: &str) -> Self {
        add_sentence(&mut self.0.message, sentence);
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The HTTP status of the last answer, when there was one.
    pub fn status(&self) -> Option<u16> {
        self.0.status
    }

    /// The endpoint's `error` code, such as `invalid_request` or `invalid_resource`.
    pub fn endpoint_error(&self) -> Option<&str> {
        self.0.code.as_deref()
    }

    /// The endpoint's `error_description` (or `message`), such as `Identity not found`.
    pub fn error_description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
}

/// Appends `sentence` to `message`, ending the sentence before it with a full stop unless it
/// has an ending already (endpoints' descriptions sometimes do, sometimes not).
pub(crate) fn add_sentence(message: &mut String, sentence: &str) {
    if sentence.is_empty() {
        return;
    }
    if !message.ends_with(['.', '?', '!']) {
        message.push('.');
    }
    message.push(' ');
    message.push_str(sentence);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_are_joined_with_one_full_stop() {
        let mut message = "refused: Identity not found".to_owned();
        add_sentence(&mut message, "Check the id.");
        assert_eq!(message, "refused: Identity not found. Check the id.");
        let mut message = "refused: Unable to load.".to_owned();
        add_sentence(&mut message, "Check the id.");
        assert_eq!(message, "refused: Unable to load. Check the id.");
        add_sentence(&mut message, "");
        assert_eq!(message, "refused: Unable to load. Check the id.");
    }
}
