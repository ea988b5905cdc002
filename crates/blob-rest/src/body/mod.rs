//! Request bodies (uploads) and response bodies (downloads).
//!
//! Uploads take bytes already in memory, which can be sent again on a retry, or a stream of
//! known length, which is read once: once it has started to be sent it cannot be replayed, so
//! such a request is not retried after that point. Downloads are [`BlobStream`]s of chunks,
//! resumed where they broke if the connection fails mid-body; nothing buffers a whole blob
//! unless [`BlobStream::collect`] is asked to.

mod download;
mod resume;

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};

pub use download::BlobStream;
pub(crate) use resume::Resumer;

use crate::error::BoxError;

type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, BoxError>> + Send>>;

/// The content of an upload.
pub struct Body {
    kind: Kind,
}

enum Kind {
    Bytes(Bytes),
    Stream {
        len: u64,
        /// Holds the stream until an attempt starts reading it.
        slot: Arc<Mutex<Option<ByteStream>>>,
    },
}

impl Body {
    /// An empty body.
    pub fn empty() -> Self {
        Self::from(Bytes::new())
    }

    /// A body read from `stream`, which must yield exactly `len` bytes in all; a stream that
    /// yields more or fewer fails the upload.
    ///
    /// A stream can be sent once. If an attempt fails after it started reading the stream,
    /// the request is not retried and the error says so.
    pub fn stream<S, E>(len: u64, stream: S) -> Self
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        let stream: ByteStream = Box::pin(stream.map(|item| item.map_err(Into::into)));
        Self {
            kind: Kind::Stream {
                len,
                slot: Arc::new(Mutex::new(Some(stream))),
            },
        }
    }

    /// The number of bytes the body holds.
    pub fn len(&self) -> u64 {
        match &self.kind {
            Kind::Bytes(b) => b.len() as u64,
            Kind::Stream { len, .. } => *len,
        }
    }

    /// Whether the body has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the body can be sent again on a retry (in-memory bytes can, streams cannot).
    pub fn is_replayable(&self) -> bool {
        matches!(self.kind, Kind::Bytes(_))
    }

    /// Whether another attempt can still send this body: always for bytes, and for a stream
    /// only while no attempt has started reading it.
    pub(crate) fn can_send_again(&self) -> bool {
        match &self.kind {
            Kind::Bytes(_) => true,
            Kind::Stream { slot, .. } => slot.lock().is_ok_and(|s| s.is_some()),
        }
    }

    /// The bytes, when the body is in memory.
    pub(crate) fn as_bytes(&self) -> Option<&Bytes> {
        match &self.kind {
            Kind::Bytes(b) => Some(b),
            Kind::Stream { .. } => None,
        }
    }

    /// The body for one attempt, or `None` if a stream body was already read by an earlier
    /// attempt and cannot be sent again.
    pub(crate) fn for_attempt(&self) -> Option<reqwest::Body> {
        match &self.kind {
            Kind::Bytes(b) => Some(reqwest::Body::from(b.clone())),
            Kind::Stream { len, slot } => self.can_send_again().then(|| {
                reqwest::Body::wrap_stream(AttemptStream {
                    slot: Arc::clone(slot),
                    inner: None,
                    declared: *len,
                    seen: 0,
                    done: false,
                })
            }),
        }
    }
}

impl From<Bytes> for Body {
    fn from(bytes: Bytes) -> Self {
        Self {
            kind: Kind::Bytes(bytes),
        }
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Self {
        Self::from(Bytes::from(bytes))
    }
}

impl From<&'static [u8]> for Body {
    fn from(bytes: &'static [u8]) -> Self {
        Self::from(Bytes::from_static(bytes))
    }
}

impl From<String> for Body {
    fn from(text: String) -> Self {
        Self::from(Bytes::from(text))
    }
}

impl From<&'static str> for Body {
    fn from(text: &'static str) -> Self {
        Self::from(Bytes::from_static(text.as_bytes()))
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            Kind::Bytes(_) => "bytes",
            Kind::Stream { .. } => "stream",
        };
        f.debug_struct("Body")
            .field("kind", &kind)
            .field("len", &self.len())
            .finish()
    }
}

/// The stream one attempt sends: takes the caller's stream out of the shared slot on first
/// read (from then on the body cannot be replayed) and holds it to its declared length.
struct AttemptStream {
    slot: Arc<Mutex<Option<ByteStream>>>,
    inner: Option<ByteStream>,
    declared: u64,
    seen: u64,
    done: bool,
}

impl AttemptStream {
    fn fail(&mut self, message: String) -> Poll<Option<Result<Bytes, BoxError>>> {
        self.done = true;
        Poll::Ready(Some(Err(Box::new(io::Error::new(
            io::ErrorKind::InvalidData,
            message,
        )))))
    }
}

impl Stream for AttemptStream {
    type Item = Result<Bytes, BoxError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        if self.inner.is_none() {
            let taken = self.slot.lock().ok().and_then(|mut s| s.take());
            match taken {
                Some(stream) => self.inner = Some(stream),
                None => return self.fail("the upload stream was already read".to_owned()),
            }
        }
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        match inner.as_mut().poll_next(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(chunk))) => {
                self.seen += chunk.len() as u64;
                if self.seen > self.declared {
                    let declared = self.declared;
                    return self.fail(format!(
                        "the upload stream yielded more than its declared length of {declared} \
                         bytes"
                    ));
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => {
                self.done = true;
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => {
                if self.seen < self.declared {
                    let (seen, declared) = (self.seen, self.declared);
                    return self.fail(format!(
                        "the upload stream ended after {seen} of its declared {declared} bytes"
                    ));
                }
                self.done = true;
                Poll::Ready(None)
            }
        }
    }
}
