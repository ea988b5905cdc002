//! Transfers of any size in bounded memory: uploads as Put Block + Put Block List above a
//! threshold, downloads as parallel range reads written in order, resumable from an offset.

mod download;
mod upload;

pub use download::{DownloadOptions, Downloaded};
pub use upload::{TransferProgress, UploadOptions};
