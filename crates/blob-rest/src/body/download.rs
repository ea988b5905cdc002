//! The body of a Get Blob response, as a stream of chunks that checks what it delivers.
//!
//! Checks: the number of bytes against `Content-Length`, and, when an MD5 is known for
//! exactly the bytes downloaded (the stored MD5 of a whole blob, or the MD5 the service
//! computed for a requested range), the MD5 of what arrived. A failed check is the last item
//! of the stream, an error; a consumer must treat the data as good only when the stream ends
//! without one. [`BlobStream::collect`] does that.
//!
//! When the connection breaks mid-body, the stream asks for the rest (see `resume`) and goes
//! on yielding chunks as if nothing happened; the checks cover the stitched content as a whole.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bytes::{Bytes, BytesMut};
use futures_util::future::BoxFuture;
use futures_util::{Stream, StreamExt};
use md5::{Digest, Md5};

use super::resume::Resumer;
use crate::error::{chain, Error};

/// The most bytes [`BlobStream::collect`] reserves up front; beyond that the buffer grows as
/// data arrives, so a lying `Content-Length` cannot make it allocate a huge buffer.
const MAX_PREALLOCATION: u64 = 64 * 1024 * 1024;

type ChunkStream = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// Downloaded content, as a stream of chunks (`Result<Bytes, Error>`).
///
/// If the connection breaks mid-body, the rest is asked for again within the client's retry
/// policy, with `If-Match` on the first response's ETag, and the chunks go on seamlessly.
pub struct BlobStream {
    state: State,
    /// Asks for the rest after a break; taken while a resume is under way.
    resumer: Option<Resumer>,
    expected_len: Option<u64>,
    /// Bytes received since the start of the first response, across resumes.
    received: u64,
    md5: Option<(Md5, [u8; 16])>,
    context: String,
}

enum State {
    /// Reading the body of a response.
    Receiving(ChunkStream),
    /// Asking for the rest after a break.
    Resuming(BoxFuture<'static, Result<(Resumer, reqwest::Response), Error>>),
    Finished,
}

impl BlobStream {
    /// The stream of `response`'s body; `expected_md5` is the MD5 of all of it.
    pub(crate) fn new(
        response: reqwest::Response,
        expected_md5: Option<[u8; 16]>,
        context: String,
        resumer: Resumer,
    ) -> Self {
        Self {
            expected_len: response.content_length(),
            state: State::Receiving(Box::pin(response.bytes_stream())),
            resumer: Some(resumer),
            received: 0,
            md5: expected_md5.map(|m| (Md5::new(), m)),
            context,
        }
    }

    /// Expects `length` bytes when the response did not announce a `Content-Length` (a
    /// range read's length, from its `Content-Range`).
    pub(crate) fn expecting(mut self, length: Option<u64>) -> Self {
        self.expected_len = self.expected_len.or(length);
        self
    }

    /// The number of bytes the service announced (`Content-Length`).
    pub fn content_length(&self) -> Option<u64> {
        self.expected_len
    }

    /// Whether the content will be checked against an MD5 when the stream ends.
    pub fn is_md5_checked(&self) -> bool {
        self.md5.is_some()
    }

    /// Reads the whole stream into memory and returns it only if every check passed.
    pub async fn collect(mut self) -> Result<Bytes, Error> {
        let capacity = self.expected_len.unwrap_or(0).min(MAX_PREALLOCATION);
        let mut buffer = BytesMut::with_capacity(usize::try_from(capacity).unwrap_or(0));
        while let Some(chunk) = self.next().await {
            buffer.extend_from_slice(&chunk?);
        }
        Ok(buffer.freeze())
    }

    /// The error for a body that broke after `self.received` bytes.
    fn broke(&self, error: reqwest::Error) -> Error {
        let error = error.without_url();
        let message = format!(
            "the download broke after {} bytes: {}",
            self.received,
            chain(&error)
        );
        Error::transport(message, Some(Box::new(error))).with_context(self.context.clone())
    }

    fn finish(&mut self) -> Option<Error> {
        self.state = State::Finished;
        if let Some(expected) = self.expected_len {
            if self.received != expected {
                return Some(
                    Error::transport(
                        format!(
                            "the download ended after {} of {expected} announced bytes",
                            self.received
                        ),
                        None,
                    )
                    .with_context(self.context.clone()),
                );
            }
        }
        if let Some((hasher, expected)) = self.md5.take() {
            let actual: [u8; 16] = hasher.finalize().into();
            if actual != expected {
                tracing::warn!(context = %self.context, "downloaded content failed its MD5 check");
                return Some(
                    Error::integrity(format!(
                        "the downloaded content does not match its MD5: the service has {} \
                         but the {} bytes received hash to {}; the data is corrupt and must \
                         not be used",
                        STANDARD.encode(expected),
                        self.received,
                        STANDARD.encode(actual)
                    ))
                    .with_context(self.context.clone()),
                );
            }
        }
        None
    }
}

impl Stream for BlobStream {
    type Item = Result<Bytes, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            match &mut this.state {
                State::Finished => return Poll::Ready(None),
                State::Resuming(resume) => match resume.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok((resumer, response))) => {
                        this.resumer = Some(resumer);
                        this.state = State::Receiving(Box::pin(response.bytes_stream()));
                    }
                    Poll::Ready(Err(e)) => {
                        this.state = State::Finished;
                        return Poll::Ready(Some(Err(e)));
                    }
                },
                State::Receiving(chunks) => match chunks.as_mut().poll_next(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Some(Ok(chunk))) => {
                        this.received += chunk.len() as u64;
                        if let Some((hasher, _)) = this.md5.as_mut() {
                            hasher.update(&chunk);
                        }
                        return Poll::Ready(Some(Ok(chunk)));
                    }
                    Poll::Ready(Some(Err(e))) => {
                        let error = this.broke(e);
                        let Some(resumer) = this.resumer.take() else {
                            this.state = State::Finished;
                            return Poll::Ready(Some(Err(error)));
                        };
                        let received = this.received;
                        this.state = State::Resuming(Box::pin(resumer.resume(received, error)));
                    }
                    Poll::Ready(None) => return Poll::Ready(this.finish().map(Err)),
                },
            }
        }
    }
}

impl fmt::Debug for BlobStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlobStream")
            .field("content_length", &self.expected_len)
            .field("received", &self.received)
            .field("md5_checked", &self.md5.is_some())
            .field("resuming", &matches!(self.state, State::Resuming(_)))
            .finish_non_exhaustive()
    }
}
