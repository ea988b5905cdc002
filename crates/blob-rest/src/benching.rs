//! Entry points for the workspace's benchmarks (`benches/blob-bench`), which can only reach
//! public items. Not part of the API: hidden from the docs and free to change.

use http::{HeaderMap, HeaderValue, Method};
use url::Url;

use crate::auth::SharedKeyCredential;
use crate::error::Error;

/// The `Authorization` header value the client would send for this request: the same
/// function the pipeline calls on every attempt (string-to-sign, HMAC-SHA256, base64, the
/// header marked sensitive). `headers` must already hold `x-ms-date`, `x-ms-version` and the
/// rest of what is sent, as in the pipeline.
///
/// The value carries a signature: do not print it.
pub fn shared_key_authorization(
    credential: &SharedKeyCredential,
    method: &Method,
    url: &Url,
    headers: &HeaderMap,
) -> Result<HeaderValue, Error> {
    crate::pipeline::shared_key_header(credential, method, url, headers).map(|(header, _)| header)
}
