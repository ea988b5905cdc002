//! Listing a "directory": the blob names under a path, split at `/` like a file system.

use std::time::SystemTime;

use blob_rest::ListBlobsOptions;
use tracing::Instrument as _;

use crate::config::quote;
use crate::error::Result;
use crate::names;
use crate::storage::Storage;

/// A file in a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileEntry {
    /// The name relative to the listed directory (no `/` in it).
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// When it was last written.
    pub last_modified: Option<SystemTime>,
    /// The ETag, with its quotes (for [`SaveOptions::if_match`](crate::SaveOptions::if_match)).
    pub etag: Option<String>,
    /// The stored content type.
    pub content_type: Option<String>,
}

impl Storage {
    /// The directories and files directly under `path` (relative to the location prefix; `""`
    /// or `"/"` for the top), each named relative to `path`, sorted by name. Directories are
    /// the names that go on past a further `/`; a directory exists as long as a blob under it
    /// does. Follows the service's continuation markers, so any number of entries is
    /// returned; they are held in memory.
    ///
    /// `path` follows the blob name rules (backslashes, `.` and `..` resolved, no climbing out
    /// of the location prefix). Names that would come out empty (a blob called `dir//x` under
    /// `dir`) are left out.
    pub async fn list_dir(&self, path: &str) -> Result<(Vec<String>, Vec<FileEntry>)> {
        let dir = names::normalize_dir(self.location(), path)?;
        let full = if dir.is_empty() {
            self.location().to_owned()
        } else {
            names::join(self.location(), &dir)
        };
        let prefix = if full.is_empty() {
            String::new()
        } else {
            format!("{full}/")
        };
        let action = format!(
            "cannot list {} in container {}",
            quote(if full.is_empty() { "/" } else { &full }),
            quote(self.container())
        );
        let span =
            tracing::info_span!("storage_list_dir", container = self.container(), prefix = %prefix);
        let listing = self
            .container_client()
            .list_all_blobs(ListBlobsOptions::new().prefix(&prefix).delimiter("/"))
            .instrument(span)
            .await
            .map_err(|e| Self::not_found_or(&action, e))?;
        let relative = |name: &str| name.strip_prefix(&prefix).map(str::to_owned);
        let mut dirs: Vec<String> = listing
            .prefixes
            .iter()
            .filter_map(|p| relative(p))
            .map(|p| p.trim_end_matches('/').to_owned())
            .filter(|p| !p.is_empty())
            .collect();
        let mut files: Vec<FileEntry> = listing
            .blobs
            .into_iter()
            .filter_map(|blob| {
                let name = relative(&blob.name).filter(|n| !n.is_empty())?;
                Some(FileEntry {
                    name,
                    size: blob.content_length,
                    last_modified: blob.last_modified,
                    etag: blob.etag,
                    content_type: blob.content_type,
                })
            })
            .collect();
        dirs.sort();
        dirs.dedup();
        files.sort_by(|a, b| a.name.cmp(&b.name));
        Ok((dirs, files))
    }
}
