//! Entry points for the fuzz targets of the workspace's `fuzz/` package, which can only reach
//! public items. Not part of the API: hidden from the docs and free to change.

use http::{HeaderMap, StatusCode};

use crate::error::{from_parts, Error, Scrubber};

/// The error the client makes of a failed response with this status, these headers and this
/// body, as for an answer read from the network (the body cut at the same cap). `secrets`
/// stand for the request's signature, token and SAS `sig`: they are scrubbed from whatever the
/// body or headers echo, as the client scrubs its own.
pub fn error_from_response(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    create_only: bool,
    secrets: &[&str],
) -> Error {
    let mut scrubber = Scrubber::default();
    for secret in secrets {
        scrubber.add(secret);
    }
    from_parts(status, headers, body, create_only, &scrubber)
}
