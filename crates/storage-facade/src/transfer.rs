//! Large files: saves above a threshold go up in blocks, downloads to a file come down as
//! parallel range reads, both in memory bounded by the [`TransferOptions`], never by the size
//! of the file.
//!
//! The work is done by blob-rest (`BlobClient::upload_file`, `upload_stream`,
//! `download_to_file`); this module picks the path for each save and download and keeps the
//! facade's promises around it: create-only saves, names, errors that say what to fix.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use blob_rest::{PutBlobOptions, PutCondition};
use tracing::Instrument as _;

use crate::content::{ProgressFn, SaveOptions, Upload};
use crate::error::{Error, ErrorKind, Result};
use crate::reader::Properties;
use crate::storage::Storage;

const MIB: u64 = 1024 * 1024;

/// How big files are moved: block (and range) size, how many at once, and from which size a
/// save uses blocks. Peak memory of one transfer is about `block_size * max_in_flight`.
#[derive(Clone, PartialEq, Eq)]
pub struct TransferOptions {
    pub(crate) block_size: u64,
    pub(crate) max_in_flight: usize,
    pub(crate) single_put_threshold: u64,
}

impl Default for TransferOptions {
    fn default() -> Self {
        Self {
            block_size: 8 * MIB,
            max_in_flight: 4,
            single_put_threshold: 8 * MIB,
        }
    }
}

impl TransferOptions {
    /// 8 MiB blocks, 4 in flight, blocks for content over 8 MiB.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes per block on upload and per range read on download (default 8 MiB).
    pub fn block_size(mut self, bytes: u64) -> Self {
        self.block_size = bytes;
        self
    }

    /// Blocks or ranges moved at once (default 4).
    pub fn max_in_flight(mut self, count: usize) -> Self {
        self.max_in_flight = count;
        self
    }

    /// Saves of content larger than this use blocks; smaller ones one request (default 8 MiB).
    pub fn single_put_threshold(mut self, bytes: u64) -> Self {
        self.single_put_threshold = bytes;
        self
    }

    /// The bytes one transfer holds in memory at most, content-wise: `block_size` times
    /// `max_in_flight` (saturating at `u64::MAX`), or the threshold if larger.
    pub fn memory_bound(&self) -> u64 {
        self.block_size
            .saturating_mul(u64::try_from(self.max_in_flight).unwrap_or(u64::MAX))
            .max(self.single_put_threshold)
    }

    fn upload(&self, progress: Option<&ProgressFn>) -> blob_rest::UploadOptions {
        let mut upload = blob_rest::UploadOptions::new()
            .block_size(self.block_size)
            .max_in_flight(self.max_in_flight)
            .single_put_threshold(self.single_put_threshold);
        if let Some(progress) = progress {
            let progress = Arc::clone(progress);
            upload = upload.progress(move |sent| progress(sent));
        }
        upload
    }
}

impl fmt::Debug for TransferOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransferOptions")
            .field("block_size", &self.block_size)
            .field("max_in_flight", &self.max_in_flight)
            .field("single_put_threshold", &self.single_put_threshold)
            .finish()
    }
}

/// Options of [`Storage::download_to_file_with`].
#[derive(Clone, Default)]
pub struct DownloadOptions {
    transfer: TransferOptions,
    resume: bool,
    if_match: Option<String>,
    progress: Option<ProgressFn>,
    on_restart: Option<RestartFn>,
}

/// Told why a resumed download starts over from the beginning.
type RestartFn = Arc<dyn Fn(&str) + Send + Sync>;

impl DownloadOptions {
    /// A fresh download with the default [`TransferOptions`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Range size and parallelism.
    pub fn transfer(mut self, transfer: TransferOptions) -> Self {
        self.transfer = transfer;
        self
    }

    /// If the file exists, keep its bytes and download only the rest of the blob.
    ///
    /// A resumable download records the ETag of the blob version it fetches in a sidecar file
    /// beside the file (`<file>.etag`, removed when the download completes) and goes on only
    /// from a file with that record, with `If-Match` on it, so that bytes of two versions are
    /// never joined. It starts over from the beginning (and tells
    /// [`DownloadOptions::on_restart`]) when the record is missing, the blob changed, the
    /// file is longer than the blob, or a file of the blob's full length does not match the
    /// blob's stored MD5 (or the blob has none to check it against). The whole file is
    /// checked against the stored MD5 when there is one.
    pub fn resume(mut self, resume: bool) -> Self {
        self.resume = resume;
        self
    }

    /// Download only the blob version with this ETag (as [`Properties::etag`] gives it):
    /// another version fails with [`ErrorKind::PreconditionFailed`], and the file is deleted.
    /// A resumed download with this condition never starts over onto another version.
    pub fn if_match(mut self, etag: impl Into<String>) -> Self {
        self.if_match = Some(etag.into());
        self
    }

    /// Called with a sentence saying why a resumed download starts over from the beginning.
    pub fn on_restart(mut self, notify: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.on_restart = Some(Arc::new(notify));
        self
    }

    /// Called with the number of bytes of the blob in the file so far.
    pub fn progress(mut self, progress: impl Fn(u64) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(progress));
        self
    }
}

impl fmt::Debug for DownloadOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DownloadOptions")
            .field("transfer", &self.transfer)
            .field("resume", &self.resume)
            .field("if_match", &self.if_match)
            .field("progress", &self.progress.is_some())
            .field("on_restart", &self.on_restart.is_some())
            .finish()
    }
}

/// Refuses a blob other than the version the caller asked for with
/// [`DownloadOptions::if_match`].
fn wanted_version(
    options: &DownloadOptions,
    blob: &blob_rest::BlobProperties,
    action: &str,
) -> Result<()> {
    match &options.if_match {
        Some(wanted) if blob.etag.as_deref() != Some(wanted.as_str()) => Err(Error::new(
            ErrorKind::PreconditionFailed,
            format!(
                "{action}: the blob is no longer the version asked for (ETag {wanted}, now {}); \
                 read its properties again for the current ETag",
                blob.etag.as_deref().unwrap_or("none")
            ),
        )),
        _ => Ok(()),
    }
}

/// Where a resumable download keeps the ETag of the blob version in `path`: `<path>.etag`.
pub(crate) fn etag_record_path(path: &Path) -> std::path::PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".etag");
    path.with_file_name(name)
}

/// What a resumable download does with the file it finds.
enum Resume {
    /// Fetch the blob from this byte on (0: the whole blob).
    From(u64),
    /// The file already is the whole blob, checked against its stored MD5.
    Complete,
    /// Throw the file away and start over, for this reason.
    Over(String),
}

/// Removes a file that may not exist; a failure only leaves a file that the next download
/// replaces or ignores.
async fn remove_quietly(path: &Path) {
    if let Err(error) = tokio::fs::remove_file(path).await {
        if error.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(path = %path.display(), %error, "cannot remove");
        }
    }
}

/// The MD5 of the file at `path`, read in 1 MiB pieces.
async fn file_md5(path: &Path) -> std::io::Result<[u8; 16]> {
    use md5::Digest as _;
    use tokio::io::AsyncReadExt as _;
    let mut file = tokio::fs::File::open(path).await?;
    let mut md5 = md5::Md5::new();
    let mut buffer = vec![0u8; 1024 * 1024];
    loop {
        let n = file.read(&mut buffer).await?;
        if n == 0 {
            return Ok(md5.finalize().into());
        }
        md5.update(&buffer[..n]);
    }
}

/// How one upload attempt of a save ended.
pub(crate) enum Attempt {
    Stored,
    /// A blob of that name exists (create-only save).
    NameTaken,
    Failed(blob_rest::Error),
}

impl Storage {
    /// Downloads a blob into the file at `path` (created or replaced), as parallel range
    /// reads in bounded memory, checked against the blob's stored MD5 when it has one.
    /// Returns the blob's properties.
    pub async fn download_to_file(&self, name: &str, path: impl AsRef<Path>) -> Result<Properties> {
        self.download_to_file_with(name, path, DownloadOptions::new())
            .await
    }

    /// [`Storage::download_to_file`] with options: transfer sizes, resume, progress.
    ///
    /// On failure the file keeps what was written, so that a later call with
    /// [`DownloadOptions::resume`] can go on from there (when this call resumed or was
    /// resumable too: see there). After an `Integrity` or `PreconditionFailed` error the file
    /// is deleted instead: such a download must start over.
    pub async fn download_to_file_with(
        &self,
        name: &str,
        path: impl AsRef<Path>,
        options: DownloadOptions,
    ) -> Result<Properties> {
        let path = path.as_ref();
        let name = self.resolve(name)?;
        let action = self.action("download", &name.full);
        let record = etag_record_path(path);
        if !options.resume {
            // A record left by an earlier resumable download would describe other bytes.
            remove_quietly(&record).await;
            return self
                .download_fresh(&name.full, &action, path, &options)
                .await;
        }
        let restart = |reason: &str| {
            tracing::info!(blob = %name.full, reason, "starting the download over");
            if let Some(notify) = &options.on_restart {
                notify(reason);
            }
        };
        let mut changed_once = false;
        loop {
            let blob = self
                .blob(&name.full)
                .get_properties()
                .await
                .map_err(|e| Self::not_found_or(&action, e))?;
            if let Err(error) = wanted_version(&options, &blob, &action) {
                remove_quietly(path).await;
                remove_quietly(&record).await;
                return Err(error);
            }
            let offset = match self.resume_from(path, &record, &blob, &action).await? {
                Resume::Complete => {
                    remove_quietly(&record).await;
                    return Ok(Properties::from(blob));
                }
                Resume::Over(reason) => {
                    remove_quietly(path).await;
                    remove_quietly(&record).await;
                    restart(&reason);
                    0
                }
                Resume::From(offset) => offset,
            };
            if offset == 0 {
                match &blob.etag {
                    Some(etag) => tokio::fs::write(&record, etag).await.map_err(|error| {
                        Error::io(
                            format!("{action}: cannot write {}: {error}", record.display()),
                            error,
                        )
                    })?,
                    None => remove_quietly(&record).await,
                }
            }
            let result = self
                .download_from(
                    &name.full,
                    &action,
                    path,
                    offset,
                    blob.etag.clone(),
                    &options,
                )
                .await;
            match result {
                Ok(properties) => {
                    remove_quietly(&record).await;
                    return Ok(properties);
                }
                Err(error)
                    if matches!(
                        error.kind(),
                        ErrorKind::Integrity | ErrorKind::PreconditionFailed
                    ) =>
                {
                    remove_quietly(path).await;
                    remove_quietly(&record).await;
                    // With a caller's If-Match, another version is the caller's error to see.
                    if error.kind() == ErrorKind::Integrity
                        || changed_once
                        || options.if_match.is_some()
                    {
                        return Err(error);
                    }
                    changed_once = true;
                    restart(&format!(
                        "{} changed during the download; starting over from the beginning",
                        crate::config::quote(&name.full)
                    ));
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// A download from the beginning, with the caller's `If-Match` if any; after an
    /// integrity or changed-blob error the file is deleted, since it cannot be gone on from.
    async fn download_fresh(
        &self,
        full_name: &str,
        action: &str,
        path: &Path,
        options: &DownloadOptions,
    ) -> Result<Properties> {
        let etag = options.if_match.clone();
        let result = self
            .download_from(full_name, action, path, 0, etag, options)
            .await;
        if let Err(error) = &result {
            if matches!(
                error.kind(),
                ErrorKind::Integrity | ErrorKind::PreconditionFailed
            ) {
                remove_quietly(path).await;
            }
        }
        result
    }

    /// What a resumable download does with the file at `path`, given the blob's properties.
    async fn resume_from(
        &self,
        path: &Path,
        record: &Path,
        blob: &blob_rest::BlobProperties,
        action: &str,
    ) -> Result<Resume> {
        let len = match tokio::fs::metadata(path).await {
            Ok(metadata) => metadata.len(),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => 0,
            Err(error) => {
                return Err(Error::io(
                    format!("{action}: cannot read {}: {error}", path.display()),
                    error,
                ))
            }
        };
        if len == 0 {
            return Ok(Resume::From(0));
        }
        let shown = path.display();
        let over = |why: String| {
            Ok(Resume::Over(format!(
                "{why}; starting over from the beginning"
            )))
        };
        let saved = tokio::fs::read_to_string(record)
            .await
            .ok()
            .map(|text| text.trim().to_owned())
            .filter(|text| !text.is_empty());
        let Some(saved) = saved else {
            return over(format!(
                "{shown} has no record of the blob version it holds ({} is missing)",
                record.display()
            ));
        };
        if blob.etag.as_deref() != Some(saved.as_str()) {
            return over(format!(
                "the blob changed since {shown} was started (ETag {saved}, now {})",
                blob.etag.as_deref().unwrap_or("none")
            ));
        }
        if len > blob.content_length {
            return over(format!(
                "{shown} holds {len} bytes, more than the blob's {}",
                blob.content_length
            ));
        }
        if len < blob.content_length {
            return Ok(Resume::From(len));
        }
        let Some(stored) = blob.content_md5 else {
            return over(format!(
                "{shown} has the blob's full length, but the blob has no stored MD5 to check it \
                 against"
            ));
        };
        let actual = file_md5(path)
            .await
            .map_err(|error| Error::io(format!("{action}: cannot read {shown}: {error}"), error))?;
        if actual == stored {
            Ok(Resume::Complete)
        } else {
            over(format!(
                "{shown} has the blob's full length but not its stored MD5"
            ))
        }
    }

    /// One download into `path` from `offset` on, with `If-Match` on `etag` if given.
    async fn download_from(
        &self,
        full_name: &str,
        action: &str,
        path: &Path,
        offset: u64,
        etag: Option<String>,
        options: &DownloadOptions,
    ) -> Result<Properties> {
        let transfer = &options.transfer;
        let mut download = blob_rest::DownloadOptions::new()
            .offset(offset)
            .chunk_size(transfer.block_size)
            .max_in_flight(transfer.max_in_flight);
        if let Some(etag) = etag {
            download = download.if_match(etag);
        }
        if let Some(progress) = &options.progress {
            let progress = Arc::clone(progress);
            download = download.progress(move |at| progress(at));
        }
        let span = tracing::info_span!(
            "storage_download",
            container = self.container(),
            blob = %full_name,
            offset
        );
        let downloaded = self
            .blob(full_name)
            .download_to_file(path, &download)
            .instrument(span)
            .await
            .map_err(|e| Self::not_found_or(action, e))?;
        tracing::debug!(
            bytes = downloaded.bytes_written,
            md5_checked = downloaded.md5_checked,
            "downloaded"
        );
        Ok(Properties::from(downloaded.properties))
    }

    /// Sends one upload attempt of a save to `full_name`: one Put Blob for small content, or
    /// blocks for a large file, stream or content in memory. A create-only save of a large upload first asks
    /// whether the name is taken, so that gigabytes are not sent only to be refused at the
    /// commit (which still checks, for saves that race).
    pub(crate) async fn put_content(
        &self,
        full_name: &str,
        upload: Upload,
        put: PutBlobOptions,
        options: &SaveOptions,
    ) -> Result<Attempt> {
        let blob = self.blob(full_name);
        if !matches!(upload, Upload::Body(_))
            && *put.condition_in_use() == PutCondition::IfNotExists
        {
            match blob.get_properties().await {
                Ok(_) => return Ok(Attempt::NameTaken),
                Err(error) if error.kind() == blob_rest::ErrorKind::NotFound => {}
                Err(error) => return Ok(Attempt::Failed(error)),
            }
        }
        let transfer = options.transfer.upload(options.progress.as_ref());
        let result = match upload {
            Upload::Body(body) => blob.put(body, put).await,
            Upload::File(path) => blob.upload_file(&path, &transfer, put).await,
            Upload::Bytes(bytes) => {
                let len = bytes.len() as u64;
                let reader = std::io::Cursor::new(bytes);
                blob.upload_reader_with_length(len, reader, &transfer, put)
                    .await
            }
            // A stream that is not its declared length fails before the commit.
            Upload::Stream(len, stream) => {
                blob.upload_stream_with_length(len, stream, &transfer, put)
                    .await
            }
        };
        Ok(match result {
            Ok(_) => Attempt::Stored,
            Err(error) if error.kind() == blob_rest::ErrorKind::AlreadyExists => Attempt::NameTaken,
            Err(error) if error.kind() == blob_rest::ErrorKind::Io => {
                return Err(Error::new(
                    ErrorKind::Io,
                    format!("{}: {error}", self.action("save", full_name)),
                )
                .with_source(error));
            }
            Err(error) => Attempt::Failed(error),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_bound_saturates_instead_of_overflowing() {
        let huge = TransferOptions::new()
            .block_size(u64::MAX / 2)
            .max_in_flight(3);
        assert_eq!(huge.memory_bound(), u64::MAX);
        let usual = TransferOptions::new().block_size(4 * MIB).max_in_flight(8);
        assert_eq!(usual.memory_bound(), 32 * MIB);
        let threshold = TransferOptions::new()
            .block_size(MIB)
            .max_in_flight(2)
            .single_put_threshold(64 * MIB);
        assert_eq!(threshold.memory_bound(), 64 * MIB);
    }
}
