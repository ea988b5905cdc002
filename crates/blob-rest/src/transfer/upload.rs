//! Uploads of any size from a file, a reader or a byte stream, in bounded memory.
//!
//! Content of at most [`UploadOptions::single_put_threshold`] bytes goes up in one Put Blob.
//! Anything larger is cut into blocks of [`UploadOptions::block_size`] bytes, staged with up
//! to [`UploadOptions::max_in_flight`] Put Block requests at a time, and committed with one
//! Put Block List once every block is in (see `client::block_upload`).
//!
//! Memory: a block is read only after a slot among the `max_in_flight` is free, and the slot
//! is given back when the block's request is done (and, with the whole blob's MD5 on, when the
//! block has been added to that hash), so at most `max_in_flight` blocks exist at any time:
//! peak memory is about `block_size * max_in_flight` (or the threshold, for a single put),
//! whatever the size of the content.
//!
//! CPU: every byte is hashed once for its block's `Content-MD5` and, unless turned off with
//! [`UploadOptions::blob_md5`], once more for the whole blob's MD5. Both run on tokio's
//! blocking pool (the blocks in flight side by side, the whole-blob hash one block behind the
//! reader), because MD5 at about 700 MiB/s per core is slower than a fast link.

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, TryStreamExt as _};
use md5::{Digest, Md5};
use tokio::io::{AsyncRead, AsyncReadExt as _};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::client::{BlobClient, BlockId, MAX_BLOCKS, MAX_BLOCK_SIZE};
use crate::error::{BoxError, Error};
use crate::models::{PutBlobOptions, PutBlobResponse};

const MIB: u64 = 1024 * 1024;

/// The largest blob a single Put Blob may carry (5,000 MiB).
const MAX_SINGLE_PUT: u64 = 5000 * MIB;

/// Called with the number of bytes the service has acknowledged so far.
pub type TransferProgress = Arc<dyn Fn(u64) + Send + Sync>;

/// How [`BlobClient::upload_file`], [`upload_reader`](BlobClient::upload_reader) and
/// [`upload_stream`](BlobClient::upload_stream) split content.
#[derive(Clone)]
pub struct UploadOptions {
    pub(crate) block_size: u64,
    pub(crate) max_in_flight: usize,
    pub(crate) single_put_threshold: u64,
    pub(crate) blob_md5: bool,
    pub(crate) progress: Option<TransferProgress>,
}

impl Default for UploadOptions {
    fn default() -> Self {
        Self {
            block_size: 8 * MIB,
            max_in_flight: 4,
            single_put_threshold: 8 * MIB,
            blob_md5: true,
            progress: None,
        }
    }
}

impl UploadOptions {
    /// 8 MiB blocks, 4 in flight, one Put Blob up to 8 MiB, the blob's MD5 stored.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes per block (default 8 MiB; at most 4,000 MiB). When a file of known size would
    /// need more than 50,000 blocks, the block size grows to the smallest whole number of MiB
    /// that fits; content of unknown length that needs more blocks fails instead.
    pub fn block_size(mut self, bytes: u64) -> Self {
        self.block_size = bytes;
        self
    }

    /// How many blocks are read and sent at once (default 4, at least 1).
    pub fn max_in_flight(mut self, blocks: usize) -> Self {
        self.max_in_flight = blocks;
        self
    }

    /// Content of at most this many bytes goes up in one Put Blob (default 8 MiB; at most
    /// 5,000 MiB). It is held in memory, so it also bounds memory.
    pub fn single_put_threshold(mut self, bytes: u64) -> Self {
        self.single_put_threshold = bytes;
        self
    }

    /// Whether to compute the MD5 of the whole content while reading it and store it as the
    /// blob's MD5, so that whole-blob downloads are checked against it (default on). Each
    /// block carries its own MD5 either way.
    pub fn blob_md5(mut self, on: bool) -> Self {
        self.blob_md5 = on;
        self
    }

    /// Called with the number of bytes acknowledged by the service so far.
    pub fn progress(mut self, progress: impl Fn(u64) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(progress));
        self
    }

    /// The block size in use for content of `len` bytes (when known): the configured one,
    /// grown if needed to stay within 50,000 blocks.
    pub fn effective_block_size(&self, len: Option<u64>) -> u64 {
        let needed = len.map_or(0, |len| len.div_ceil(MAX_BLOCKS as u64));
        if needed > self.block_size {
            needed.div_ceil(MIB) * MIB
        } else {
            self.block_size
        }
    }

    fn check(&self) -> Result<(), Error> {
        if self.block_size == 0 || self.block_size > MAX_BLOCK_SIZE {
            return Err(Error::invalid_input(format!(
                "the block size must be 1 to {MAX_BLOCK_SIZE} bytes, not {}",
                self.block_size
            )));
        }
        if self.max_in_flight == 0 {
            return Err(Error::invalid_input(
                "at least one block must be allowed in flight: set max_in_flight to 1 or more",
            ));
        }
        if self.single_put_threshold > MAX_SINGLE_PUT {
            return Err(Error::invalid_input(format!(
                "the single put threshold may be at most {MAX_SINGLE_PUT} bytes (the largest \
                 Put Blob), not {}",
                self.single_put_threshold
            )));
        }
        Ok(())
    }
}

impl fmt::Debug for UploadOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UploadOptions")
            .field("block_size", &self.block_size)
            .field("max_in_flight", &self.max_in_flight)
            .field("single_put_threshold", &self.single_put_threshold)
            .field("blob_md5", &self.blob_md5)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

/// A stream of chunks read as bytes; its errors become the reader's `io::Error`s.
fn stream_reader<S, E>(stream: S) -> impl AsyncRead + Send + Unpin
where
    S: Stream<Item = Result<Bytes, E>> + Send + Unpin,
    E: Into<BoxError>,
{
    tokio_util::io::StreamReader::new(stream.map_err(|e| io::Error::other(e.into())))
}

impl BlobClient {
    /// Uploads the file at `path`, read in blocks and never whole: one Put Blob up to the
    /// threshold, else Put Block + Put Block List (see [`UploadOptions`]).
    ///
    /// The file must hold, to its end, exactly the size it had when it was opened: a file that
    /// grows or shrinks meanwhile (or a `/proc` file, whose size says 0) fails the upload with
    /// an [`ErrorKind::Io`](crate::ErrorKind::Io) error, and nothing is committed.
    pub async fn upload_file(
        &self,
        path: impl AsRef<Path>,
        upload: &UploadOptions,
        options: PutBlobOptions,
    ) -> Result<PutBlobResponse, Error> {
        let path = path.as_ref();
        let context = || self.context("Upload");
        let cannot_read = |error: io::Error| {
            Error::io(format!("cannot read {}: {error}", path.display()), error)
                .with_context(context())
        };
        let file = tokio::fs::File::open(path).await.map_err(cannot_read)?;
        let len = file.metadata().await.map_err(cannot_read)?.len();
        self.upload_source(file, Some(len), upload, options)
            .await
            .map_err(|e| match e {
                Failure::Read(error) => cannot_read(error),
                Failure::Length { expected, found } => {
                    let message = if expected == 0 && matches!(found, Found::More) {
                        // /proc and /sys files, and devices, say 0 whatever they hold.
                        "its size reads 0 but it holds data, as files of /proc and /sys and \
                         devices do, so how much to upload is unknown; copy it to a regular \
                         file and upload that; nothing was committed"
                            .to_owned()
                    } else {
                        format!(
                            "the file changed size while it was uploaded: expected {expected} \
                             bytes (its size when the upload started), but it {found}; nothing \
                             was committed"
                        )
                    };
                    Error::io(
                        format!("cannot upload {}: {message}", path.display()),
                        io::Error::new(io::ErrorKind::InvalidData, message),
                    )
                    .with_context(context())
                }
                Failure::Blob(error) => error,
            })
    }

    /// Uploads everything `reader` yields, in bounded memory (see [`UploadOptions`]).
    pub async fn upload_reader<R>(
        &self,
        reader: R,
        upload: &UploadOptions,
        options: PutBlobOptions,
    ) -> Result<PutBlobResponse, Error>
    where
        R: AsyncRead + Send + Unpin,
    {
        self.upload_declared(reader, None, upload, options).await
    }

    /// Uploads what `reader` yields, which must be exactly `len` bytes, in bounded memory
    /// (see [`UploadOptions`]; the block size is chosen for `len`). A reader that ends early
    /// or yields more fails the upload with an [`ErrorKind::Io`](crate::ErrorKind::Io) error
    /// before anything is committed.
    pub async fn upload_reader_with_length<R>(
        &self,
        len: u64,
        reader: R,
        upload: &UploadOptions,
        options: PutBlobOptions,
    ) -> Result<PutBlobResponse, Error>
    where
        R: AsyncRead + Send + Unpin,
    {
        self.upload_declared(reader, Some(len), upload, options)
            .await
    }

    /// Uploads what `stream` yields, which must be exactly `len` bytes (as
    /// [`Body::stream`](crate::Body::stream) declares them), in bounded memory (see
    /// [`UploadOptions`]; the block size is chosen for `len`). A stream that ends early or
    /// yields more fails the upload with an [`ErrorKind::Io`](crate::ErrorKind::Io) error
    /// before anything is committed.
    pub async fn upload_stream_with_length<S, E>(
        &self,
        len: u64,
        stream: S,
        upload: &UploadOptions,
        options: PutBlobOptions,
    ) -> Result<PutBlobResponse, Error>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + Unpin,
        E: Into<BoxError>,
    {
        self.upload_declared(stream_reader(stream), Some(len), upload, options)
            .await
    }

    /// An upload from a caller's reader, of the declared length `len` when there is one.
    async fn upload_declared<R>(
        &self,
        reader: R,
        len: Option<u64>,
        upload: &UploadOptions,
        options: PutBlobOptions,
    ) -> Result<PutBlobResponse, Error>
    where
        R: AsyncRead + Send + Unpin,
    {
        self.upload_source(reader, len, upload, options)
            .await
            .map_err(|e| match e {
                Failure::Read(error) => Error::io(
                    format!("reading the content to upload failed: {error}"),
                    error,
                )
                .with_context(self.context("Upload")),
                Failure::Length { expected, found } => {
                    let message = format!(
                        "the content to upload is not its declared length: expected {expected} \
                         bytes, but it {found}; nothing was committed"
                    );
                    Error::io(
                        message.clone(),
                        io::Error::new(io::ErrorKind::InvalidData, message),
                    )
                    .with_context(self.context("Upload"))
                }
                Failure::Blob(error) => error,
            })
    }

    /// Uploads everything `stream` yields, in bounded memory (see [`UploadOptions`]).
    pub async fn upload_stream<S, E>(
        &self,
        stream: S,
        upload: &UploadOptions,
        options: PutBlobOptions,
    ) -> Result<PutBlobResponse, Error>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + Unpin,
        E: Into<BoxError>,
    {
        self.upload_reader(stream_reader(stream), upload, options)
            .await
    }

    async fn upload_source<R>(
        &self,
        mut reader: R,
        len: Option<u64>,
        upload: &UploadOptions,
        options: PutBlobOptions,
    ) -> Result<PutBlobResponse, Failure>
    where
        R: AsyncRead + Send + Unpin,
    {
        upload
            .check()
            .map_err(|e| Failure::Blob(e.with_context(self.context("Upload"))))?;
        let threshold = upload.single_put_threshold;
        // Read up to one byte past the threshold to learn whether one Put Blob will do.
        let limit = match len {
            Some(len) if len > threshold => 0,
            Some(len) => len,
            None => threshold.saturating_add(1),
        };
        let head = read_up_to(&mut reader, limit).await?;
        let single = match len {
            Some(len) => len <= threshold,
            None => head.len() as u64 <= threshold,
        };
        if single {
            let size = head.len() as u64;
            if let Some(len) = len {
                check_length(&mut reader, len, size).await?;
            }
            let response = self.put(head, options).await.map_err(Failure::Blob)?;
            if let Some(progress) = &upload.progress {
                progress(size);
            }
            return Ok(response);
        }
        self.upload_blocks(head, reader, len, upload, options).await
    }

    /// The block size for content of `len` bytes (when known), grown to stay within 50,000
    /// blocks, or an error if even the largest blocks are too few.
    fn block_size(&self, upload: &UploadOptions, len: Option<u64>) -> Result<u64, Error> {
        let block_size = upload.effective_block_size(len);
        if block_size > MAX_BLOCK_SIZE {
            return Err(Error::invalid_input(format!(
                "the content ({} bytes) is too large for a block blob: it would need blocks of \
                 {block_size} bytes, more than the {MAX_BLOCK_SIZE} allowed",
                len.unwrap_or_default()
            ))
            .with_context(self.context("Upload")));
        }
        if block_size != upload.block_size {
            tracing::info!(
                block_size,
                configured = upload.block_size,
                "block size grown to stay within 50,000 blocks"
            );
        }
        Ok(block_size)
    }

    /// Stages the content as blocks, `head` (already read) first, then commits them.
    async fn upload_blocks<R>(
        &self,
        head: Bytes,
        reader: R,
        len: Option<u64>,
        upload: &UploadOptions,
        options: PutBlobOptions,
    ) -> Result<PutBlobResponse, Failure>
    where
        R: AsyncRead + Send + Unpin,
    {
        let block_size = self.block_size(upload, len).map_err(Failure::Blob)?;
        let upload_id = fastrand::u64(..).to_be_bytes();
        // With a declared length, read no further than it (and check that the content ends
        // there once every block is read).
        let limit = len.map_or(u64::MAX, |len| len.saturating_sub(head.len() as u64));
        let mut blocks = Blocks {
            head,
            reader: reader.take(limit),
            block_size,
        };
        let mut read = 0u64;
        let slots = Arc::new(Semaphore::new(upload.max_in_flight));
        let acknowledged = Arc::new(AtomicU64::new(0));
        let mut tasks = JoinSet::new();
        let mut ids = Vec::new();
        let mut md5 = upload.blob_md5.then(|| RunningMd5::Idle(Md5::new()));
        loop {
            // The slot is shared by the block's request and, when the whole blob is hashed,
            // by its hashing: it is free again only when both are done with the block.
            let slot = Arc::new(
                Arc::clone(&slots)
                    .acquire_owned()
                    .await
                    .expect("the semaphore is never closed"),
            );
            // A failed block ends the upload at once; dropping the set aborts the others.
            while let Some(done) = tasks.try_join_next() {
                finished(done)?;
            }
            let block = blocks.next().await?;
            if block.is_empty() {
                if let Some(len) = len {
                    // Before the commit: a failure here drops the staged blocks' tasks.
                    check_length(blocks.reader.get_mut(), len, read).await?;
                }
                break;
            }
            read += block.len() as u64;
            if ids.len() == MAX_BLOCKS {
                return Err(Failure::Blob(
                    Error::invalid_input(format!(
                        "the content needs more than {MAX_BLOCKS} blocks of {block_size} bytes: \
                         upload it with a larger block size"
                    ))
                    .with_context(self.context("Upload")),
                ));
            }
            let index = u32::try_from(ids.len()).expect("at most 50,000 blocks");
            let id = BlockId::numbered(upload_id, index);
            ids.push(id.clone());
            let blob = self.clone();
            let acknowledged = Arc::clone(&acknowledged);
            let progress = upload.progress.clone();
            let for_hash = md5.is_some().then(|| (block.clone(), Arc::clone(&slot)));
            tasks.spawn(async move {
                let size = block.len() as u64;
                blob.put_block(&id, block).await?;
                drop(slot);
                let total = acknowledged.fetch_add(size, Ordering::Relaxed) + size;
                if let Some(progress) = progress {
                    progress(total);
                }
                Ok(())
            });
            // The block is on its way; now add it to the whole blob's hash, after waiting for
            // the previous block's hashing if it is still running.
            if let (Some(running), Some((block, slot))) = (md5.take(), for_hash) {
                let running = running.update(block, slot).await;
                md5 = Some(
                    running.map_err(|e| Failure::Blob(e.with_context(self.context("Upload"))))?,
                );
            }
        }
        while let Some(done) = tasks.join_next().await {
            finished(done)?;
        }
        let options = match md5 {
            Some(running) => options.content_md5(
                running
                    .finish()
                    .await
                    .map_err(|e| Failure::Blob(e.with_context(self.context("Upload"))))?,
            ),
            None => options,
        };
        tracing::debug!(
            blocks = ids.len(),
            block_size,
            "all blocks staged, committing"
        );
        self.put_block_list(&ids, options)
            .await
            .map_err(Failure::Blob)
    }
}

/// The MD5 of the whole content, one block at a time in order, each block hashed on the
/// blocking pool while the next is read and the blocks in flight are sent (and hashed for
/// their own `Content-MD5`): on a fast link, hashing inline would be the upload's bottleneck.
enum RunningMd5 {
    Idle(Md5),
    Hashing(tokio::task::JoinHandle<Md5>),
}

impl RunningMd5 {
    /// Adds `block` after the blocks before it. Waits only for the previous block's hashing,
    /// which keeps the blocks in order and the number of blocks held bounded; `slot` is held
    /// until this block is hashed.
    async fn update<T>(self, block: Bytes, slot: Arc<T>) -> Result<Self, Error>
    where
        T: Send + Sync + 'static,
    {
        let mut md5 = self.current().await?;
        Ok(Self::Hashing(tokio::task::spawn_blocking(move || {
            md5.update(&block);
            drop(slot);
            md5
        })))
    }

    /// The digest of everything added.
    async fn finish(self) -> Result<[u8; 16], Error> {
        Ok(self.current().await?.finalize().into())
    }

    async fn current(self) -> Result<Md5, Error> {
        match self {
            Self::Idle(md5) => Ok(md5),
            Self::Hashing(task) => task.await.map_err(|e| {
                Error::transport(
                    format!("hashing the upload's content stopped: {e}"),
                    Some(Box::new(e)),
                )
            }),
        }
    }
}

/// Why an upload failed: reading the source, a source not of its declared length, or the
/// service.
enum Failure {
    Read(io::Error),
    Length { expected: u64, found: Found },
    Blob(Error),
}

/// What a source of the wrong length held.
enum Found {
    /// It ended after this many bytes.
    Fewer(u64),
    /// It had more bytes than declared.
    More,
}

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fewer(read) => write!(f, "ended after {read} bytes"),
            Self::More => f.write_str("holds more than that"),
        }
    }
}

/// Checks that a source declared to hold `expected` bytes, of which `read` were read, ends
/// exactly there: `read` must be `expected`, and one more read must find the end.
async fn check_length<R: AsyncRead + Unpin>(
    reader: &mut R,
    expected: u64,
    read: u64,
) -> Result<(), Failure> {
    if read < expected {
        return Err(Failure::Length {
            expected,
            found: Found::Fewer(read),
        });
    }
    let mut byte = [0u8; 1];
    if read > expected || reader.read(&mut byte).await? > 0 {
        return Err(Failure::Length {
            expected,
            found: Found::More,
        });
    }
    Ok(())
}

impl From<io::Error> for Failure {
    fn from(error: io::Error) -> Self {
        Self::Read(error)
    }
}

/// The outcome of one block's task.
fn finished(done: Result<Result<(), Error>, tokio::task::JoinError>) -> Result<(), Failure> {
    match done {
        Ok(result) => result.map_err(Failure::Blob),
        Err(error) => Err(Failure::Blob(Error::transport(
            format!("a block upload task failed: {error}"),
            Some(Box::new(error)),
        ))),
    }
}

/// Cuts what was read ahead (`head`) and then the reader into blocks of `block_size` bytes.
struct Blocks<R> {
    head: Bytes,
    reader: R,
    block_size: u64,
}

impl<R: AsyncRead + Unpin> Blocks<R> {
    /// The next block, short only at the end, empty when there is nothing left.
    async fn next(&mut self) -> io::Result<Bytes> {
        let size = usize::try_from(self.block_size).unwrap_or(usize::MAX);
        if self.head.len() >= size {
            return Ok(self.head.split_to(size));
        }
        let mut block = BytesMut::with_capacity(size);
        block.extend_from_slice(&self.head);
        self.head = Bytes::new();
        fill(&mut self.reader, &mut block, size).await?;
        Ok(block.freeze())
    }
}

/// Reads until `buffer` holds `size` bytes or the reader ends.
async fn fill<R: AsyncRead + Unpin>(
    reader: &mut R,
    buffer: &mut BytesMut,
    size: usize,
) -> io::Result<()> {
    while buffer.len() < size {
        let wanted = (size - buffer.len()) as u64;
        if (&mut *reader).take(wanted).read_buf(buffer).await? == 0 {
            break;
        }
    }
    Ok(())
}

/// Reads up to `limit` bytes (fewer only at the end of the reader).
async fn read_up_to<R: AsyncRead + Unpin>(reader: &mut R, limit: u64) -> io::Result<Bytes> {
    let size = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut buffer = BytesMut::with_capacity(size);
    fill(reader, &mut buffer, size).await?;
    Ok(buffer.freeze())
}
