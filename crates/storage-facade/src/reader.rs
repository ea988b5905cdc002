//! What reading a blob returns: its [`Properties`], and a [`BlobReader`] streaming its content.

use std::collections::BTreeMap;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::SystemTime;

use blob_rest::{BlobStream, GetBlobResponse};
use bytes::Bytes;
use futures_util::Stream;

use crate::error::{Error, Result};

/// A blob's properties.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Properties {
    /// The stored content type.
    pub content_type: Option<String>,
    /// The size in bytes.
    pub content_length: u64,
    /// When the blob was last written.
    pub last_modified: Option<SystemTime>,
    /// The ETag, with its quotes.
    pub etag: Option<String>,
    /// The MD5 of the content, when the service stored one.
    pub content_md5: Option<[u8; 16]>,
    /// The stored `Cache-Control`.
    pub cache_control: Option<String>,
    /// User metadata (names in lower case, as the service returns them).
    pub metadata: BTreeMap<String, String>,
}

impl From<blob_rest::BlobProperties> for Properties {
    fn from(properties: blob_rest::BlobProperties) -> Self {
        Self {
            content_type: properties.content_type,
            content_length: properties.content_length,
            last_modified: properties.last_modified,
            etag: properties.etag,
            content_md5: properties.content_md5,
            cache_control: properties.cache_control,
            metadata: properties.metadata,
        }
    }
}

/// Conditions of one read ([`Storage::open_with`](crate::Storage::open_with)).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadOptions {
    pub(crate) if_match: Option<String>,
}

impl ReadOptions {
    /// No condition.
    pub fn new() -> Self {
        Self::default()
    }

    /// Read only if the blob's ETag still is `etag` (`If-Match`); otherwise fail with
    /// [`ErrorKind::PreconditionFailed`](crate::ErrorKind::PreconditionFailed).
    pub fn if_match(mut self, etag: impl Into<String>) -> Self {
        self.if_match = Some(etag.into());
        self
    }
}

/// An open blob: its properties, and its content as a stream of `Result<Bytes>` chunks.
///
/// The last item is an error if the content was cut short or does not match the stored MD5:
/// treat the data as good only when the stream ends without one.
pub struct BlobReader {
    properties: Properties,
    stream: BlobStream,
    action: String,
}

impl BlobReader {
    pub(crate) fn new(response: GetBlobResponse, action: String) -> Self {
        Self {
            properties: Properties::from(response.properties),
            stream: response.body,
            action,
        }
    }

    /// The blob's properties, from the response headers.
    pub fn properties(&self) -> &Properties {
        &self.properties
    }

    /// Reads the rest into memory; fails if any check failed.
    pub async fn collect(self) -> Result<Bytes> {
        let action = self.action;
        self.stream
            .collect()
            .await
            .map_err(|e| Error::from_blob(&action, e))
    }
}

impl Stream for BlobReader {
    type Item = Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        Pin::new(&mut this.stream)
            .poll_next(cx)
            .map(|item| item.map(|chunk| chunk.map_err(|e| Error::from_blob(&this.action, e))))
    }
}

impl fmt::Debug for BlobReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlobReader")
            .field("properties", &self.properties)
            .finish_non_exhaustive()
    }
}
