//! A token obtained elsewhere, for tests and for callers with their own way to get tokens.

use std::time::SystemTime;

use crate::error::Error;
use crate::token::{http_date, AccessToken};

#[derive(Debug)]
pub(crate) struct StaticToken {
    token: AccessToken,
}

impl StaticToken {
    pub(crate) fn new(token: AccessToken) -> Self {
        Self { token }
    }

    /// The token while it is valid; after that a clear error rather than a token the service
    /// would refuse.
    pub(crate) fn token(&self, now: SystemTime) -> Result<AccessToken, Error> {
        if self.token.expires_on() <= now {
            return Err(Error::config(format!(
                "the static token given in code expired at {}; give a fresh one",
                http_date(self.token.expires_on())
            )));
        }
        Ok(self.token.clone())
    }
}
