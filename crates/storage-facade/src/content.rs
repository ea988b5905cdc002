//! What a save uploads, and the per-save options.
//!
//! Content in memory and files can be sent more than once, which the create-only save needs
//! when it retries under another name; a caller's stream can be sent only once.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use blob_rest::Body;
use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt, TryStreamExt};

use crate::error::{Error, Result};
use crate::transfer::TransferOptions;

/// Reports how many bytes of the current upload attempt have been read so far.
pub type ProgressFn = Arc<dyn Fn(u64) + Send + Sync>;

type ByteStream = BoxStream<'static, Result<Bytes, Box<dyn std::error::Error + Send + Sync>>>;

/// The content of a save.
pub struct Content {
    kind: Kind,
}

enum Kind {
    Bytes(Bytes),
    File(PathBuf),
    /// Taken by the first attempt.
    Stream(Option<(u64, ByteStream)>),
}

/// Size of the chunks a file is read in: small enough to keep memory flat, large enough to
/// keep system calls few.
const FILE_CHUNK: usize = 256 * 1024;

impl Content {
    /// The file at `path`, streamed from disk (never read whole into memory) and opened
    /// again if the save must retry under another name.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self {
            kind: Kind::File(path.into()),
        }
    }

    /// A stream that yields exactly `len` bytes. It can be sent only once: a create-only save
    /// that finds the name taken fails with `AlreadyExists` instead of trying another name.
    pub fn stream<S, E>(len: u64, stream: S) -> Self
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: Into<Box<dyn std::error::Error + Send + Sync>> + 'static,
    {
        let stream: ByteStream = stream.map_err(Into::into).boxed();
        Self {
            kind: Kind::Stream(Some((len, stream))),
        }
    }

    /// What one upload attempt sends: a file, or bytes or a stream longer than `threshold`,
    /// goes up in blocks; anything else as one body. `None` when a one-shot stream was
    /// already used.
    pub(crate) async fn upload(
        &mut self,
        progress: Option<&ProgressFn>,
        threshold: u64,
    ) -> Result<Option<Upload>> {
        match &mut self.kind {
            Kind::File(path) => return Ok(Some(Upload::File(path.clone()))),
            Kind::Bytes(bytes) if bytes.len() as u64 > threshold => {
                return Ok(Some(Upload::Bytes(bytes.clone())));
            }
            Kind::Stream(slot) if slot.as_ref().is_some_and(|(len, _)| *len > threshold) => {
                if let Some((len, stream)) = slot.take() {
                    return Ok(Some(Upload::Stream(len, stream)));
                }
            }
            Kind::Bytes(_) | Kind::Stream(_) => {}
        }
        Ok(self.body(progress).await?.map(Upload::Body))
    }

    /// The body for one upload attempt, or `None` when a one-shot stream was already used.
    pub(crate) async fn body(&mut self, progress: Option<&ProgressFn>) -> Result<Option<Body>> {
        let (len, stream): (u64, ByteStream) = match &mut self.kind {
            Kind::Bytes(bytes) => {
                if let Some(progress) = progress {
                    progress(bytes.len() as u64);
                }
                return Ok(Some(Body::from(bytes.clone())));
            }
            Kind::Stream(slot) => match slot.take() {
                Some(taken) => taken,
                None => return Ok(None),
            },
            Kind::File(path) => {
                let file = tokio::fs::File::open(&*path).await.map_err(|error| {
                    Error::io(format!("cannot read {}: {error}", path.display()), error)
                })?;
                let len = file.metadata().await.map_err(|error| {
                    Error::io(format!("cannot read {}: {error}", path.display()), error)
                })?;
                let stream = tokio_util::io::ReaderStream::with_capacity(file, FILE_CHUNK);
                (len.len(), stream.map_err(Into::into).boxed())
            }
        };
        let stream = match progress {
            Some(progress) => {
                let progress = Arc::clone(progress);
                let mut sent = 0u64;
                stream
                    .inspect_ok(move |chunk| {
                        sent += chunk.len() as u64;
                        progress(sent);
                    })
                    .boxed()
            }
            None => stream,
        };
        Ok(Some(Body::stream(len, stream)))
    }
}

/// What one upload attempt of a save sends.
pub(crate) enum Upload {
    /// One Put Blob.
    Body(Body),
    /// A file, read in blocks (or in one Put Blob if small).
    File(PathBuf),
    /// Content in memory too long for one Put Blob.
    Bytes(Bytes),
    /// A caller's stream too long for one Put Blob, and the length it declared.
    Stream(u64, ByteStream),
}

impl From<Bytes> for Content {
    fn from(bytes: Bytes) -> Self {
        Self {
            kind: Kind::Bytes(bytes),
        }
    }
}

impl From<Vec<u8>> for Content {
    fn from(bytes: Vec<u8>) -> Self {
        Bytes::from(bytes).into()
    }
}

impl From<&'static [u8]> for Content {
    fn from(bytes: &'static [u8]) -> Self {
        Bytes::from_static(bytes).into()
    }
}

impl From<String> for Content {
    fn from(text: String) -> Self {
        Bytes::from(text).into()
    }
}

impl From<&'static str> for Content {
    fn from(text: &'static str) -> Self {
        Bytes::from_static(text.as_bytes()).into()
    }
}

impl fmt::Debug for Content {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Bytes(bytes) => write!(f, "Content::Bytes({} bytes)", bytes.len()),
            Kind::File(path) => write!(f, "Content::File({})", path.display()),
            Kind::Stream(Some((len, _))) => write!(f, "Content::Stream({len} bytes)"),
            Kind::Stream(None) => f.write_str("Content::Stream(used)"),
        }
    }
}

/// Options of one save; anything not set comes from the [`StorageConfig`](crate::StorageConfig)
/// defaults.
#[derive(Clone, Default)]
pub struct SaveOptions {
    pub(crate) content_type: Option<String>,
    pub(crate) cache_control: Option<String>,
    pub(crate) metadata: Vec<(String, String)>,
    pub(crate) overwrite: Option<bool>,
    pub(crate) transfer: TransferOptions,
    pub(crate) if_match: Option<String>,
    pub(crate) progress: Option<ProgressFn>,
}

impl SaveOptions {
    /// No per-save settings.
    pub fn new() -> Self {
        Self::default()
    }

    /// The content type, instead of the default or the guess from the name's extension.
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    /// The `Cache-Control` stored with the blob.
    pub fn cache_control(mut self, cache_control: impl Into<String>) -> Self {
        self.cache_control = Some(cache_control.into());
        self
    }

    /// Adds a user metadata pair (wins over a default of the same name).
    pub fn metadata(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.push((name.into(), value.into()));
        self
    }

    /// Replace an existing blob (`true`) or pick a free name (`false`), whatever the config
    /// says.
    pub fn overwrite(mut self, overwrite: bool) -> Self {
        self.overwrite = Some(overwrite);
        self
    }

    /// Replace the blob only if its ETag still is `etag` (`If-Match`), as read from
    /// [`Storage::properties`](crate::Storage::properties) or a listing: an app updates a
    /// file without losing someone else's change made in between. A changed (or deleted)
    /// blob fails the save with [`ErrorKind::PreconditionFailed`](crate::ErrorKind::PreconditionFailed);
    /// the name is never changed. Wins over the overwrite setting.
    pub fn if_match(mut self, etag: impl Into<String>) -> Self {
        self.if_match = Some(etag.into());
        self
    }

    /// Block size, parallelism and the size from which the content goes up in blocks.
    pub fn transfer(mut self, transfer: TransferOptions) -> Self {
        self.transfer = transfer;
        self
    }

    /// Called with the number of bytes sent so far in the current attempt (for content that
    /// goes up in blocks: acknowledged by the service).
    pub fn progress(mut self, progress: impl Fn(u64) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(progress));
        self
    }
}

impl fmt::Debug for SaveOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SaveOptions")
            .field("content_type", &self.content_type)
            .field("cache_control", &self.cache_control)
            .field("metadata", &self.metadata)
            .field("overwrite", &self.overwrite)
            .field("if_match", &self.if_match)
            .field("transfer", &self.transfer)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}
