//! Options and results of the blob operations.

use std::collections::BTreeMap;
use std::time::SystemTime;

use bytes::Bytes;

use crate::body::BlobStream;
use crate::error::Error;

/// How Put Blob treats a blob that already exists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum PutCondition {
    /// Replace it (the default).
    #[default]
    Overwrite,
    /// Refuse with [`ErrorKind::AlreadyExists`](crate::ErrorKind::AlreadyExists)
    /// (`If-None-Match: *`).
    IfNotExists,
    /// Replace it only if its ETag still is this one (`If-Match`); otherwise
    /// [`ErrorKind::PreconditionFailed`](crate::ErrorKind::PreconditionFailed).
    IfMatch(String),
}

/// Options of [`BlobClient::put`](crate::BlobClient::put).
#[derive(Debug, Clone, Default)]
pub struct PutBlobOptions {
    pub(crate) content_type: Option<String>,
    pub(crate) cache_control: Option<String>,
    pub(crate) content_md5: Option<[u8; 16]>,
    pub(crate) metadata: Vec<(String, String)>,
    pub(crate) condition: PutCondition,
}

impl PutBlobOptions {
    /// Default options: overwrite, no content type (the service stores
    /// `application/octet-stream`), no metadata.
    pub fn new() -> Self {
        Self::default()
    }

    /// The content type stored with the blob and returned on download.
    pub fn content_type(mut self, value: impl Into<String>) -> Self {
        self.content_type = Some(value.into());
        self
    }

    /// The `Cache-Control` value stored with the blob and returned on download.
    pub fn cache_control(mut self, value: impl Into<String>) -> Self {
        self.cache_control = Some(value.into());
        self
    }

    /// The MD5 of the content. Computed by the client for in-memory bodies when not given;
    /// for streams only this value is sent. The service refuses content that does not match.
    pub fn content_md5(mut self, md5: [u8; 16]) -> Self {
        self.content_md5 = Some(md5);
        self
    }

    /// Adds a user metadata pair. Names are C# identifiers and come back in lower case;
    /// values are printable ASCII.
    pub fn metadata(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.push((name.into(), value.into()));
        self
    }

    /// Write only if no blob of this name exists yet.
    pub fn if_not_exists(mut self) -> Self {
        self.condition = PutCondition::IfNotExists;
        self
    }

    /// Write only if the blob's current ETag is `etag`.
    pub fn if_match(mut self, etag: impl Into<String>) -> Self {
        self.condition = PutCondition::IfMatch(etag.into());
        self
    }

    /// Sets the overwrite condition.
    pub fn condition(mut self, condition: PutCondition) -> Self {
        self.condition = condition;
        self
    }

    /// The overwrite condition these options carry.
    pub fn condition_in_use(&self) -> &PutCondition {
        &self.condition
    }
}

/// What Put Blob returns.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PutBlobResponse {
    /// The new blob's ETag (with its quotes, ready for `If-Match`).
    pub etag: Option<String>,
    /// When the blob was written.
    pub last_modified: Option<SystemTime>,
    /// The MD5 the service stored for the content.
    pub content_md5: Option<[u8; 16]>,
    /// The service's request id.
    pub request_id: Option<String>,
}

/// A byte range of a blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobRange {
    /// Offset of the first byte.
    pub offset: u64,
    /// Number of bytes, or `None` for everything from `offset` to the end.
    pub length: Option<u64>,
}

impl BlobRange {
    /// The `bytes=first-last` form of `x-ms-range`.
    pub(crate) fn header_value(self) -> Result<String, Error> {
        match self.length {
            None => Ok(format!("bytes={}-", self.offset)),
            Some(0) => Err(Error::invalid_input(
                "a byte range of length 0 was asked for; ask for at least one byte",
            )),
            Some(length) => {
                let last = self.offset.checked_add(length - 1).ok_or_else(|| {
                    Error::invalid_input("the byte range ends beyond the largest possible offset")
                })?;
                Ok(format!("bytes={}-{last}", self.offset))
            }
        }
    }
}

/// The largest range for which the service computes an MD5 (4 MiB).
pub(crate) const MAX_RANGE_MD5_LEN: u64 = 4 * 1024 * 1024;

/// Options of [`BlobClient::get`](crate::BlobClient::get).
#[derive(Debug, Clone, Default)]
pub struct GetBlobOptions {
    pub(crate) range: Option<BlobRange>,
    pub(crate) range_md5: bool,
    pub(crate) if_match: Option<String>,
}

impl GetBlobOptions {
    /// Download the whole blob, checked against its stored MD5 when it has one.
    pub fn new() -> Self {
        Self::default()
    }

    /// Download `length` bytes from `offset`.
    pub fn range(mut self, offset: u64, length: u64) -> Self {
        self.range = Some(BlobRange {
            offset,
            length: Some(length),
        });
        self
    }

    /// Download everything from `offset` to the end.
    pub fn range_from(mut self, offset: u64) -> Self {
        self.range = Some(BlobRange {
            offset,
            length: None,
        });
        self
    }

    /// Ask the service for the MD5 of the range (`x-ms-range-get-content-md5`) and check the
    /// downloaded bytes against it. Needs a range of at most 4 MiB.
    pub fn check_range_md5(mut self) -> Self {
        self.range_md5 = true;
        self
    }

    /// Read only if the blob's ETag still is `etag` (`If-Match`); otherwise the download
    /// fails with [`ErrorKind::PreconditionFailed`](crate::ErrorKind::PreconditionFailed).
    /// Range reads of one blob use it so that they never mix two versions.
    pub fn if_match(mut self, etag: impl Into<String>) -> Self {
        self.if_match = Some(etag.into());
        self
    }
}

/// A blob's properties and metadata, from Get Blob Properties or the headers of Get Blob.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct BlobProperties {
    /// Size of the whole blob in bytes (also on range reads).
    pub content_length: u64,
    /// Stored content type.
    pub content_type: Option<String>,
    /// Stored MD5 of the whole blob, if it has one.
    pub content_md5: Option<[u8; 16]>,
    /// Stored `Content-Encoding`.
    pub content_encoding: Option<String>,
    /// Stored `Content-Language`.
    pub content_language: Option<String>,
    /// Stored `Content-Disposition`.
    pub content_disposition: Option<String>,
    /// Stored `Cache-Control`.
    pub cache_control: Option<String>,
    /// ETag, with its quotes.
    pub etag: Option<String>,
    /// Last modification time.
    pub last_modified: Option<SystemTime>,
    /// Creation time.
    pub created_on: Option<SystemTime>,
    /// `BlockBlob`, `PageBlob` or `AppendBlob`.
    pub blob_type: Option<String>,
    /// User metadata; names in lower case as HTTP headers carry them.
    pub metadata: BTreeMap<String, String>,
    /// The service's request id.
    pub request_id: Option<String>,
}

/// What Get Blob returns: the properties and the content as a stream.
#[derive(Debug)]
#[non_exhaustive]
pub struct GetBlobResponse {
    /// The blob's properties.
    pub properties: BlobProperties,
    /// First and last byte of the range returned, for range reads.
    pub range: Option<(u64, u64)>,
    /// The content (or the range), as a checked stream of chunks.
    pub body: BlobStream,
}

impl GetBlobResponse {
    /// Reads the whole content into memory; fails if any check failed.
    pub async fn collect(self) -> Result<Bytes, Error> {
        self.body.collect().await
    }
}
