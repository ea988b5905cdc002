//! Entry points for the fuzz targets of the workspace's `fuzz/` package, which can only reach
//! public items. Not part of the API: hidden from the docs and free to change.

use std::time::SystemTime;

use crate::response::{parse_error, parse_token, BodyProblem};
use crate::token::AccessToken;

/// Reads a 200 answer of an identity endpoint, as the client does; `asked_at` is when the
/// request was sent. The error is the sentence the client puts in its own error.
pub fn token_response(body: &[u8], asked_at: SystemTime) -> Result<AccessToken, String> {
    parse_token(body, asked_at).map_err(|problem| match problem {
        BodyProblem::NotJson => "not JSON".to_owned(),
        BodyProblem::NotAToken(text) => text,
    })
}

/// Reads a refusal body: the endpoint's `error` and description, or `None` when the body is
/// not a JSON object.
pub fn refusal(body: &[u8]) -> Option<(Option<String>, Option<String>)> {
    parse_error(body).map(|said| (said.error, said.description))
}
