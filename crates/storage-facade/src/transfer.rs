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
    progress: Option<ProgressFn>,
}

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

    /// If the file exists, keep its bytes and download only the rest of the blob. The whole
    /// file is then checked against the blob's stored MD5; a blob without one cannot be
    /// checked, so resume only a file that is a prefix of the same blob.
    pub fn resume(mut self, resume: bool) -> Self {
        self.resume = resume;
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
            .field("progress", &self.progress.is_some())
            .finish()
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
    /// [`DownloadOptions::resume`] can go on from there.
    pub async fn download_to_file_with(
        &self,
        name: &str,
        path: impl AsRef<Path>,
        options: DownloadOptions,
    ) -> Result<Properties> {
        let path = path.as_ref();
        let name = self.resolve(name)?;
        let action = self.action("download", &name.full);
        let offset = if options.resume {
            match tokio::fs::metadata(path).await {
                Ok(metadata) => metadata.len(),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => 0,
                Err(error) => {
                    return Err(Error::io(
                        format!("{action}: cannot read {}: {error}", path.display()),
                        error,
                    ))
                }
            }
        } else {
            0
        };
        let transfer = &options.transfer;
        let mut download = blob_rest::DownloadOptions::new()
            .offset(offset)
            .chunk_size(transfer.block_size)
            .max_in_flight(transfer.max_in_flight);
        if let Some(progress) = &options.progress {
            let progress = Arc::clone(progress);
            download = download.progress(move |at| progress(at));
        }
        let span = tracing::info_span!(
            "storage_download",
            container = self.container(),
            blob = %name.full,
            offset
        );
        let downloaded = self
            .blob(&name.full)
            .download_to_file(path, &download)
            .instrument(span)
            .await
            .map_err(|e| Self::not_found_or(&action, e))?;
        tracing::debug!(
            bytes = downloaded.bytes_written,
            md5_checked = downloaded.md5_checked,
            "downloaded"
        );
        Ok(Properties::from(downloaded.properties))
    }

    /// Sends one upload attempt of a save to `full_name`: one Put Blob for small content, or
    /// blocks for a large file or stream. A create-only save of a large upload first asks
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
            Upload::Stream(stream) => blob.upload_stream(stream, &transfer, put).await,
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
