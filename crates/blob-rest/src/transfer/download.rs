//! Downloads of any size to a file or a writer, in bounded memory, optionally as parallel
//! range reads, and resumable from an offset.
//!
//! With one request in flight the blob (or the rest of it, from the offset) streams straight
//! to the writer. With more, the first request asks for one chunk (`x-ms-range`); its answer
//! tells the blob's size, ETag and stored MD5, and the other chunks are then asked for with
//! `If-Match` on that ETag, so that bytes of two versions of a blob are never mixed (a blob
//! changed meanwhile fails the download with `PreconditionFailed`). Chunks are written in
//! order; at most `max_in_flight` chunks are held in memory at once, the one being written
//! included, so peak memory is about `chunk_size * max_in_flight`.
//!
//! A server that ignores `x-ms-range` and answers the first request with the whole blob (200,
//! no `Content-Range`) gets it streamed to the writer as it arrives, never held in memory.
//! Answers whose `Content-Range` does not hold together, or is not the range asked for, fail
//! the download.
//!
//! Integrity: when the blob has a stored MD5, the bytes written are checked against it, also
//! across ranges and, for [`BlobClient::download_to_file`], across a resume (the bytes already
//! in the file are read back and hashed first). A mismatch is an `Integrity` error.

use std::fmt;
use std::io;
use std::path::Path;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use futures_util::{FutureExt as _, StreamExt as _};
use md5::{Digest, Md5};
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _, AsyncWrite, AsyncWriteExt as _};

use crate::client::BlobClient;
use crate::error::Error;
use crate::models::{BlobProperties, GetBlobOptions, GetBlobResponse};
use crate::transfer::upload::TransferProgress;

const MIB: u64 = 1024 * 1024;

/// How [`BlobClient::download_to`] and [`BlobClient::download_to_file`] read a blob.
#[derive(Clone)]
pub struct DownloadOptions {
    pub(crate) offset: u64,
    pub(crate) if_match: Option<String>,
    pub(crate) chunk_size: u64,
    pub(crate) max_in_flight: usize,
    pub(crate) progress: Option<TransferProgress>,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        Self {
            offset: 0,
            if_match: None,
            chunk_size: 8 * MIB,
            max_in_flight: 4,
            progress: None,
        }
    }
}

impl DownloadOptions {
    /// The whole blob, as parallel range reads of 8 MiB, 4 at a time.
    pub fn new() -> Self {
        Self::default()
    }

    /// Start at this byte of the blob (to resume a download that stopped there).
    pub fn offset(mut self, offset: u64) -> Self {
        self.offset = offset;
        self
    }

    /// Read only if the blob's ETag still is `etag`, e.g. the one it had when a download that
    /// is now resumed started.
    pub fn if_match(mut self, etag: impl Into<String>) -> Self {
        self.if_match = Some(etag.into());
        self
    }

    /// Bytes per range read (default 8 MiB).
    pub fn chunk_size(mut self, bytes: u64) -> Self {
        self.chunk_size = bytes;
        self
    }

    /// Range reads at once, the chunk being written included (default 4). With 1 the blob is
    /// streamed in a single request.
    pub fn max_in_flight(mut self, chunks: usize) -> Self {
        self.max_in_flight = chunks;
        self
    }

    /// Called with the position reached in the blob (the offset plus the bytes written).
    pub fn progress(mut self, progress: impl Fn(u64) + Send + Sync + 'static) -> Self {
        self.progress = Some(std::sync::Arc::new(progress));
        self
    }

    fn check(&self) -> Result<(), Error> {
        if self.chunk_size == 0 {
            return Err(Error::invalid_input(
                "the download chunk size must be at least one byte",
            ));
        }
        if self.max_in_flight == 0 {
            return Err(Error::invalid_input(
                "at least one range read must be allowed in flight: set max_in_flight to 1 or \
                 more",
            ));
        }
        Ok(())
    }

    fn get_options(&self) -> GetBlobOptions {
        match &self.if_match {
            Some(etag) => GetBlobOptions::new().if_match(etag.clone()),
            None => GetBlobOptions::new(),
        }
    }
}

impl fmt::Debug for DownloadOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DownloadOptions")
            .field("offset", &self.offset)
            .field("if_match", &self.if_match)
            .field("chunk_size", &self.chunk_size)
            .field("max_in_flight", &self.max_in_flight)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

/// What a finished download did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Downloaded {
    /// The blob's properties (size of the whole blob, ETag, stored MD5...).
    pub properties: BlobProperties,
    /// Bytes written by this download (the blob's size less the offset).
    pub bytes_written: u64,
    /// Whether the content was checked against the blob's stored MD5 (false when the blob has
    /// none, or when a download to a writer started at an offset): true only if a check ran.
    pub md5_checked: bool,
}

impl BlobClient {
    /// Downloads the blob, from [`DownloadOptions::offset`] on, into `writer`, and flushes it.
    ///
    /// The writer receives the bytes in order. They are good only if this returns `Ok`: on an
    /// `Integrity` error (content not matching the stored MD5) what was written must be thrown
    /// away.
    pub async fn download_to<W>(
        &self,
        writer: &mut W,
        options: &DownloadOptions,
    ) -> Result<Downloaded, Error>
    where
        W: AsyncWrite + Unpin + Send,
    {
        self.download(writer, options, None).await
    }

    /// Downloads the blob into the file at `path`. With offset 0 the file is created or
    /// truncated; with an offset it must hold at least that many bytes, is cut there, and the
    /// rest of the blob is appended (a resumed download): the bytes already there are read
    /// back so that the whole file is checked against the blob's stored MD5.
    ///
    /// On failure the file keeps what was written, so the download can be resumed from its
    /// length; after an `Integrity` or `PreconditionFailed` error it must start over instead.
    pub async fn download_to_file(
        &self,
        path: impl AsRef<Path>,
        options: &DownloadOptions,
    ) -> Result<Downloaded, Error> {
        let path = path.as_ref();
        let context = || self.context("Download");
        let cannot = |verb: &str, error: io::Error| {
            Error::io(format!("cannot {verb} {}: {error}", path.display()), error)
                .with_context(context())
        };
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(options.offset == 0)
            .open(path)
            .await
            .map_err(|e| cannot("create", e))?;
        if options.offset > 0 {
            let len = file.metadata().await.map_err(|e| cannot("read", e))?.len();
            if len < options.offset {
                return Err(Error::invalid_input(format!(
                    "cannot resume at byte {}: {} holds only {len} bytes",
                    options.offset,
                    path.display()
                ))
                .with_context(context()));
            }
            file.set_len(options.offset)
                .await
                .map_err(|e| cannot("cut", e))?;
            file.seek(io::SeekFrom::Start(options.offset))
                .await
                .map_err(|e| cannot("seek in", e))?;
        }
        let downloaded = self.download(&mut file, options, Some(path)).await?;
        file.sync_all().await.map_err(|e| cannot("write", e))?;
        Ok(downloaded)
    }

    /// The download itself; `resumed_file` is where the bytes before the offset are, if they
    /// can be read back for the MD5 check.
    async fn download<W>(
        &self,
        writer: &mut W,
        options: &DownloadOptions,
        resumed_file: Option<&Path>,
    ) -> Result<Downloaded, Error>
    where
        W: AsyncWrite + Unpin + Send,
    {
        let context = || self.context("Download");
        options.check().map_err(|e| e.with_context(context()))?;
        let offset = options.offset;
        let first = if options.max_in_flight == 1 {
            if offset == 0 {
                options.get_options()
            } else {
                options.get_options().range_from(offset)
            }
        } else {
            options.get_options().range(offset, options.chunk_size)
        };
        let response = match self.get(first).await {
            Ok(response) => response,
            // Nothing at or after the offset: an empty blob, or a download already complete.
            Err(error) if error.status() == Some(http::StatusCode::RANGE_NOT_SATISFIABLE) => {
                return self.nothing_to_read(offset, error).await;
            }
            Err(error) => return Err(error),
        };
        let properties = response.properties.clone();
        // No Content-Range: the service sent the whole blob, also when a range was asked for
        // (a server may ignore `x-ms-range`). Then it is streamed to the writer as it is.
        let whole = response.range.is_none();
        if whole && offset > 0 {
            return Err(Error::unexpected(format!(
                "the read from byte {offset} was answered with the whole blob (no \
                 Content-Range), which cannot continue the bytes already there"
            ))
            .with_context(context()));
        }
        // The stream checks the stored MD5 itself when it got the whole blob without asking
        // for a range; otherwise we hash what we write and check it here.
        let checked_by_stream = whole && response.body.is_md5_checked();
        let mut md5 = match properties.content_md5 {
            Some(_) if !checked_by_stream => self.hash_prefix(resumed_file, offset).await?,
            _ => None,
        };
        let md5_checked = checked_by_stream || md5.is_some();
        let mut sink = Sink {
            writer,
            written: 0,
            offset,
            progress: options.progress.as_ref(),
        };

        let mut chunks = if whole || options.max_in_flight == 1 {
            response.body.boxed()
        } else {
            self.range_reads(response, options)
                .map_err(|e| e.with_context(context()))?
        };
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk?;
            if let Some(md5) = md5.as_mut() {
                md5.update(&chunk);
            }
            sink.write(&chunk)
                .await
                .map_err(|e| e.with_context(context()))?;
        }
        sink.flush().await.map_err(|e| e.with_context(context()))?;
        if let (Some(md5), Some(stored)) = (md5, properties.content_md5) {
            let actual: [u8; 16] = md5.finalize().into();
            if actual != stored {
                return Err(Error::integrity(format!(
                    "the downloaded content has MD5 {} but the blob's stored MD5 is {}: the \
                     content is damaged or the blob changed; download it again from the start",
                    hex(&actual),
                    hex(&stored)
                ))
                .with_context(context()));
            }
        }
        Ok(Downloaded {
            bytes_written: sink.written,
            properties,
            md5_checked,
        })
    }

    /// The chunks of a parallel download, in order: the body of the first range read
    /// (`first`), then range reads of the rest with `If-Match` on the blob's ETag, up to
    /// `max_in_flight` at once.
    fn range_reads(
        &self,
        first: GetBlobResponse,
        options: &DownloadOptions,
    ) -> Result<BoxStream<'_, Result<Bytes, Error>>, Error> {
        let etag = options
            .if_match
            .clone()
            .or_else(|| first.properties.etag.clone());
        let start = response_len(&first)
            .and_then(|len| options.offset.checked_add(len))
            .ok_or_else(|| {
                Error::unexpected(format!(
                    "the first range read's Content-Range ({:?}) does not fit in the blob",
                    first.range
                ))
            })?;
        let total = first.properties.content_length;
        let chunk_size = options.chunk_size;
        let head: BoxFuture<'_, Result<Bytes, Error>> = first.body.collect().boxed();
        let rest = std::iter::successors(Some(start), move |&at| at.checked_add(chunk_size))
            .take_while(move |&at| at < total)
            .map(move |at| {
                let len = chunk_size.min(total - at);
                self.range_read(at, len, etag.clone()).boxed()
            });
        Ok(
            futures_util::stream::iter(std::iter::once(head).chain(rest))
                .buffered(options.max_in_flight)
                .boxed(),
        )
    }

    /// `len` bytes from `at`, with `If-Match` on `etag`.
    async fn range_read(&self, at: u64, len: u64, etag: Option<String>) -> Result<Bytes, Error> {
        let mut options = GetBlobOptions::new().range(at, len);
        if let Some(etag) = etag {
            options = options.if_match(etag);
        }
        let response = self.get(options).await?;
        let bytes = response.body.collect().await?;
        if bytes.len() as u64 != len {
            return Err(Error::transport(
                format!(
                    "the range read at byte {at} returned {} bytes instead of {len}",
                    bytes.len()
                ),
                None,
            )
            .with_context(self.context("Download")));
        }
        Ok(bytes)
    }

    /// The answer when the first read found no byte at the offset (416).
    async fn nothing_to_read(&self, offset: u64, refused: Error) -> Result<Downloaded, Error> {
        let properties = self.get_properties().await?;
        if properties.content_length != offset {
            return Err(refused);
        }
        Ok(Downloaded {
            properties,
            bytes_written: 0,
            md5_checked: false,
        })
    }

    /// An MD5 hasher fed with the first `offset` bytes of `file`, or `None` when those bytes
    /// went to a writer and cannot be read back (then no whole-content check is possible).
    async fn hash_prefix(&self, file: Option<&Path>, offset: u64) -> Result<Option<Md5>, Error> {
        let mut md5 = Md5::new();
        if offset == 0 {
            return Ok(Some(md5));
        }
        let Some(path) = file else {
            return Ok(None);
        };
        let cannot = |error: io::Error| {
            Error::io(
                format!("cannot read back {}: {error}", path.display()),
                error,
            )
            .with_context(self.context("Download"))
        };
        let file = tokio::fs::File::open(path).await.map_err(cannot)?;
        let mut prefix = file.take(offset);
        let mut buffer = vec![0u8; 1024 * 1024];
        loop {
            let n = prefix.read(&mut buffer).await.map_err(cannot)?;
            if n == 0 {
                break;
            }
            md5.update(&buffer[..n]);
        }
        Ok(Some(md5))
    }
}

/// Bytes in a (range) response's body; `None` if its range does not hold together.
fn response_len(response: &GetBlobResponse) -> Option<u64> {
    match response.range {
        Some((first, last)) => last.checked_sub(first)?.checked_add(1),
        None => Some(response.properties.content_length),
    }
}

/// The writer, with the count of bytes written and the progress callback.
struct Sink<'a, W> {
    writer: &'a mut W,
    written: u64,
    offset: u64,
    progress: Option<&'a TransferProgress>,
}

impl<W: AsyncWrite + Unpin> Sink<'_, W> {
    async fn write(&mut self, chunk: &[u8]) -> Result<(), Error> {
        self.writer
            .write_all(chunk)
            .await
            .map_err(|e| Error::io(format!("cannot write the downloaded content: {e}"), e))?;
        self.written += chunk.len() as u64;
        if let Some(progress) = self.progress {
            progress(self.offset + self.written);
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), Error> {
        self.writer
            .flush()
            .await
            .map_err(|e| Error::io(format!("cannot write the downloaded content: {e}"), e))
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
