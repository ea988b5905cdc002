//! Resuming a download whose connection broke in the middle of the body.
//!
//! The retry policy covers a request up to its response headers. When the body breaks after
//! that (a reset, a read timeout), the bytes received so far are still good, so only the rest
//! is asked for, with a new [Get Blob](https://learn.microsoft.com/rest/api/storageservices/get-blob)
//! request:
//!
//! - `x-ms-range: bytes=<next>-<last>`, from the byte after the last one received to the last
//!   byte of the first response (open-ended if the first response did not say);
//! - `If-Match: <ETag of the first response>`, so that bytes of two versions of a blob are
//!   never stitched together: if the blob changed meanwhile the service answers 412 and the
//!   download fails with [`ErrorKind::PreconditionFailed`](crate::ErrorKind::PreconditionFailed),
//!   saying so.
//!
//! A resume continues the operation that started the download: same client request id and
//! tracing span, signed again like any attempt, counted against the same `max_attempts`
//! (the deadline counts from the break, see `Pipeline::wait_before_resume`). The answer must
//! be a 206 that starts exactly at the byte asked for. The stream's checks (length, MD5) go on
//! over every byte across resumes, so they judge the stitched content as a whole.

use http::header::IF_MATCH;
use http::{HeaderMap, HeaderValue, Method, StatusCode};

use crate::client::BlobClient;
use crate::error::{Error, ErrorKind};
use crate::pipeline::Operation;
use crate::properties::{content_range, text};

const OPERATION: &str = "Get Blob";

/// What it takes to ask for the rest of a download: the blob, the operation it continues and
/// where the first response's bytes sit in the blob.
pub(crate) struct Resumer {
    blob: BlobClient,
    operation: Operation,
    /// The first response's ETag, as received; without one nothing is resumed.
    etag: Option<HeaderValue>,
    /// Offset in the blob of the first byte of the first response.
    first: u64,
    /// Offset of its last byte, when the response said (`Content-Range` or `Content-Length`).
    last: Option<u64>,
}

impl Resumer {
    /// A resumer for the download whose first response has `headers`.
    pub(crate) fn new(blob: BlobClient, operation: Operation, headers: &HeaderMap) -> Self {
        let (first, last) = if let Some((first, last, _)) = content_range(headers) {
            (first, Some(last))
        } else {
            let length = text(headers, "content-length").and_then(|v| v.parse::<u64>().ok());
            (0, length.and_then(|len| len.checked_sub(1)))
        };
        Self {
            blob,
            operation,
            etag: headers.get("etag").cloned(),
            first,
            last,
        }
    }

    /// Asks for what follows the `received` bytes after the body broke with `broke`: waits as
    /// the retry policy says, sends the request and checks that the answer continues exactly
    /// where the broken body stopped. On failure returns `broke` or the resume request's
    /// error, with a note saying why the download could not be completed.
    pub(crate) async fn resume(
        mut self,
        received: u64,
        broke: Error,
    ) -> Result<(Self, reqwest::Response), Error> {
        let Some(etag) = self.etag.clone() else {
            return Err(broke.with_note(
                "not resumed: the response carried no ETag, which a resume needs to be sure \
                 the rest comes from the same version of the blob",
            ));
        };
        let next = self.first.saturating_add(received);
        if self.last.is_some_and(|last| next > last) {
            // Every announced byte arrived; there is nothing left to ask for.
            return Err(broke);
        }
        let pipeline = self.blob.pipeline();
        pipeline
            .wait_before_resume(&mut self.operation, broke)
            .await?;
        tracing::info!(
            parent: self.operation.span(),
            attempt = self.operation.attempts() + 1,
            offset = next,
            received,
            "the download broke; asking for the rest"
        );
        let range = match self.last {
            Some(last) => format!("bytes={next}-{last}"),
            None => format!("bytes={next}-"),
        };
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-ms-range",
            HeaderValue::from_str(&range).expect("a byte range is a valid header value"),
        );
        headers.insert(IF_MATCH, etag.clone());
        let request = self.blob.request(OPERATION, Method::GET, headers, None)?;
        let response = pipeline
            .send_in(&mut self.operation, request)
            .await
            .map_err(|e| explain(e, received, &etag))?;
        check_continuation(&response, next, &etag, received)
            .map_err(|e| e.with_context(self.blob.context(OPERATION)))?;
        Ok((self, response))
    }
}

/// Adds to the resume request's error what it means for the download.
fn explain(error: Error, received: u64, etag: &HeaderValue) -> Error {
    if error.kind() == ErrorKind::PreconditionFailed {
        error.with_note(blob_changed(received, etag))
    } else {
        error.with_note(format!(
            "the download broke after {received} bytes and asking for the rest failed"
        ))
    }
}

fn blob_changed(received: u64, etag: &HeaderValue) -> String {
    format!(
        "the blob changed during the download: it no longer has the ETag {} it had when the \
         download started, so the {received} bytes received cannot be completed and must not \
         be used; download it again",
        String::from_utf8_lossy(etag.as_bytes())
    )
}

/// Checks that `response` holds the same blob's bytes from offset `next` on.
fn check_continuation(
    response: &reqwest::Response,
    next: u64,
    etag: &HeaderValue,
    received: u64,
) -> Result<(), Error> {
    let headers = response.headers();
    if headers.get("etag").is_some_and(|e| e != etag) {
        return Err(Error::precondition_failed(blob_changed(received, etag)));
    }
    let status = response.status();
    let start = content_range(headers).map(|(first, _, _)| first);
    if status != StatusCode::PARTIAL_CONTENT || start != Some(next) {
        let answer = match start {
            Some(start) => format!("HTTP {status} starting at offset {start}"),
            None => format!("HTTP {status} without a Content-Range"),
        };
        return Err(Error::transport(
            format!(
                "the download broke after {received} bytes, and the request for the rest from \
                 offset {next} was answered with {answer}; not stitched together"
            ),
            None,
        ));
    }
    Ok(())
}
