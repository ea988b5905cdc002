//! The one error type of xtask: each variant says what went wrong and, where it helps, what to do.

use std::io;
use std::path::{Path, PathBuf};

/// Everything an xtask command can fail with. The variants are the kinds callers match on.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// A file or socket operation failed; `context` says which and on what.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    /// A JSON file of ours (the Azurite state, the npm manifest) could not be read or written.
    #[error("{}: {source}", path.display())]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// An external command (cargo, npm, node) could not start or exited unsuccessfully.
    #[error("{0}")]
    Command(String),
    /// Azurite could not be installed, started, reached or stopped.
    #[error("{0}")]
    Azurite(String),
    /// The emulator's TLS certificate could not be generated.
    #[error("could not generate the self-signed certificate for Azurite: {0}")]
    Certificate(#[from] rcgen::Error),
    /// The demo could not run or its app failed.
    #[error("{0}")]
    Demo(String),
    /// The benchmark's results could not be put into the performance page.
    #[error("{0}")]
    Bench(String),
    /// A fuzz target crashed, hung or was asked for by a wrong name.
    #[error("{0}")]
    Fuzz(String),
    /// A step of `cargo xtask test` failed; the summary has been printed already.
    #[error("step `{step}` failed: {source}")]
    Step {
        step: &'static str,
        #[source]
        source: Box<Error>,
    },
}

impl Error {
    /// An I/O error with the operation and the path it was about.
    pub(crate) fn io(action: &str, path: &Path, source: io::Error) -> Self {
        Error::Io {
            context: format!("could not {action} {}", path.display()),
            source,
        }
    }
}
