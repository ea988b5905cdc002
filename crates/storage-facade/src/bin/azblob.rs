//! `azblob`: put, get, rm, stat and list blobs in Azure Blob Storage and print shareable URLs
//! of them, configured by the same environment variables as the Azure CLI (see
//! `docs/configuration.md`), and `azblob auth` to show which authentication that
//! configuration selects and why.
//!
//! Exit codes: 0 success, 1 the service or the network failed, 2 bad usage or configuration
//! (clap's own usage errors already exit with 2).

use std::error::Error as _;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use base64::Engine as _;
use clap::{Parser, Subcommand};
use futures_util::StreamExt as _;
use indicatif::{ProgressBar, ProgressStyle};
use storage_facade::{Content, Error, ErrorKind, SaveOptions, Storage, StorageConfig, UrlOptions};
use storage_facade::{DownloadOptions, ReadOptions, TransferOptions};
use tokio::io::AsyncWriteExt as _;

/// Transfers smaller than this finish too fast for a progress bar to help.
const PROGRESS_THRESHOLD: u64 = 4 * 1024 * 1024;

const ENVIRONMENT_HELP: &str = "\
Configuration (first match wins):
  AZURE_STORAGE_CONNECTION_STRING              a connection string (UseDevelopmentStorage=true for Azurite)
  AZURE_STORAGE_ACCOUNT + AZURE_STORAGE_KEY    shared key
  AZURE_STORAGE_ACCOUNT + AZURE_STORAGE_SAS_TOKEN  shared access signature
  AZURE_STORAGE_ACCOUNT alone                  managed identity (AZURE_CLIENT_ID picks a user-assigned one)
Also: AZURE_STORAGE_BLOB_ENDPOINT (or AZURE_STORAGE_ENDPOINT), SSL_CERT_FILE (extra root
certificates, PEM), RUST_LOG (log filter, default warn). `azblob auth` shows the choice.

Exit codes: 0 success, 1 service or network error, 2 bad usage or configuration.";

/// Save, fetch, inspect, list, share and delete blobs in Azure Blob Storage.
#[derive(Debug, Parser)]
#[command(name = "azblob", version, after_help = ENVIRONMENT_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Upload FILE to CONTAINER/NAME and print the name it was stored under.
    ///
    /// An existing blob is never replaced unless --overwrite is given: the file is stored
    /// under a free name such as NAME_Ab3dE9x.jpg instead, and that name is printed.
    Put {
        /// The local file to upload.
        file: PathBuf,
        /// Where to store it: CONTAINER/NAME, such as images/2026/cat.jpg.
        #[arg(value_parser = parse_blob_path)]
        target: BlobPath,
        /// Content type to store (default: guessed from NAME's extension).
        #[arg(long)]
        content_type: Option<String>,
        /// Replace an existing blob of that name.
        #[arg(long)]
        overwrite: bool,
        /// Replace the blob only if it is still the version with this ETag (as `azblob stat`
        /// prints it), so that someone else's change since is not lost; exits 1 if it changed
        /// or is gone.
        #[arg(long, value_name = "ETAG", conflicts_with = "overwrite")]
        if_match: Option<String>,
        #[command(flatten)]
        transfer: TransferArgs,
    },
    /// Download CONTAINER/NAME to FILE, or to standard output with `-`.
    ///
    /// Without FILE the blob goes to a file named like NAME's last segment in the current
    /// directory. The file is written under a temporary name and renamed at the end, so a
    /// failed download leaves no partial file behind.
    Get {
        /// The blob: CONTAINER/NAME.
        #[arg(value_parser = parse_blob_path)]
        source: BlobPath,
        /// Where to write it: a file, a directory, or `-` for standard output.
        file: Option<PathBuf>,
        /// Go on from the partial file an earlier interrupted `get --resume` of the same blob
        /// kept, instead of starting over, if the blob has not changed since (else it starts
        /// over and says so); the whole file is checked against the blob's MD5.
        #[arg(long)]
        resume: bool,
        /// Download only the blob version with this ETag (as `azblob stat` prints it); exits 1
        /// if the blob changed.
        #[arg(long, value_name = "ETAG")]
        if_match: Option<String>,
        #[command(flatten)]
        transfer: TransferArgs,
    },
    /// Delete CONTAINER/NAME (a blob that does not exist counts as deleted).
    Rm {
        /// The blob: CONTAINER/NAME.
        #[arg(value_parser = parse_blob_path)]
        target: BlobPath,
    },
    /// Print the properties and metadata of CONTAINER/NAME.
    Stat {
        /// The blob: CONTAINER/NAME.
        #[arg(value_parser = parse_blob_path)]
        target: BlobPath,
    },
    /// List the directories and files directly under CONTAINER[/PREFIX].
    ///
    /// PREFIX is a directory path (`images/2026`); names are printed relative to it,
    /// directories with a trailing `/`, sorted by name.
    Ls {
        /// What to list: CONTAINER, or CONTAINER/PREFIX.
        #[arg(value_parser = parse_list_path)]
        target: ListPath,
        /// Long format: size in bytes, last modified, content type, name.
        #[arg(short = 'l', long = "long")]
        long: bool,
    },
    /// Print a URL of CONTAINER/NAME that works without any credential until it expires.
    ///
    /// With an account key it is a service SAS; with a managed identity, a user delegation
    /// SAS (the identity needs a data role such as Storage Blob Data Reader). Read-only unless
    /// --write is given. A configured SAS token cannot sign URLs: use --public for a public
    /// container, or configure a key or a managed identity. The blob need not exist (a write
    /// URL is for uploading it: PUT with the header x-ms-blob-type: BlockBlob).
    Url {
        /// The blob: CONTAINER/NAME.
        #[arg(value_parser = parse_blob_path)]
        target: BlobPath,
        /// How long the URL works: a number with s, m, h or d, such as 30m, 12h or 7d (at
        /// most 7 days).
        #[arg(long, default_value = "1h", value_parser = parse_lifetime)]
        expires: Duration,
        /// Also allow creating or replacing the blob through the URL.
        #[arg(long)]
        write: bool,
        /// Content-Type sent when the blob is downloaded through the URL.
        #[arg(long)]
        content_type: Option<String>,
        /// Content-Disposition sent when the blob is downloaded through the URL, such as
        /// 'attachment; filename="report.pdf"'.
        #[arg(long)]
        content_disposition: Option<String>,
        /// Print the plain URL, without signature (for containers with public read access).
        #[arg(long, conflicts_with_all = ["write", "content_type", "content_disposition"])]
        public: bool,
    },
    /// Print the account, endpoint and authentication the environment selects, and why.
    #[command(visible_alias = "whoami")]
    Auth,
}

/// How big files move: in blocks (uploads) or ranges (downloads), several at once.
#[derive(Debug, Clone, clap::Args)]
struct TransferArgs {
    /// Size of each block or range, in MiB; memory use is about this times --parallel.
    #[arg(long, value_name = "MIB", default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=4000))]
    block_size: u64,
    /// Blocks or ranges moved at once.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=64))]
    parallel: u64,
}

impl TransferArgs {
    fn options(&self) -> TransferOptions {
        let block_size = self.block_size * 1024 * 1024;
        TransferOptions::new()
            .block_size(block_size)
            .single_put_threshold(block_size)
            .max_in_flight(usize::try_from(self.parallel).unwrap_or(4))
    }
}

/// `CONTAINER/NAME` from the command line.
#[derive(Debug, Clone)]
struct BlobPath {
    container: String,
    name: String,
}

fn parse_blob_path(text: &str) -> Result<BlobPath, String> {
    match text.split_once('/') {
        Some((container, name)) if !container.is_empty() && !name.is_empty() => Ok(BlobPath {
            container: container.to_owned(),
            name: name.to_owned(),
        }),
        _ => Err("expected CONTAINER/NAME, such as images/cat.jpg".to_owned()),
    }
}

/// `CONTAINER[/PREFIX]` from the command line.
#[derive(Debug, Clone)]
struct ListPath {
    container: String,
    prefix: String,
}

fn parse_list_path(text: &str) -> Result<ListPath, String> {
    let (container, prefix) = text.split_once('/').unwrap_or((text, ""));
    if container.is_empty() {
        return Err("expected CONTAINER or CONTAINER/PREFIX, such as images/2026".to_owned());
    }
    Ok(ListPath {
        container: container.to_owned(),
        prefix: prefix.to_owned(),
    })
}

/// The longest `--expires` accepted: the service's limit for user delegation SAS, applied
/// to both kinds so that a link's lifetime does not depend on how the tool is configured.
const MAX_URL_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);

/// `30s`, `15m`, `12h`, `7d` (units in either case): a positive lifetime of at most 7 days.
fn parse_lifetime(text: &str) -> Result<Duration, String> {
    let usage = "give a number with s, m, h or d, such as 30m, 12h or 7d";
    let text = text.trim();
    // Split before the last character (not byte: the text may be any Unicode).
    let split = text.char_indices().last().map_or(0, |(i, _)| i);
    let (number, unit) = text.split_at(split);
    let seconds_per_unit = match unit.to_ascii_lowercase().as_str() {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{text:?} has no unit: {usage}")),
    };
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a lifetime: {usage}"))?;
    let lifetime = Duration::from_secs(number.saturating_mul(seconds_per_unit));
    if lifetime.is_zero() {
        return Err(format!("{text:?} is no time at all: {usage}"));
    }
    if lifetime > MAX_URL_LIFETIME {
        return Err(format!("{text:?} is longer than the 7 days a URL may last"));
    }
    Ok(lifetime)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("azblob: error: cannot start the async runtime: {error}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) if failure.exit_code >= 128 => {
            // Stopped by a signal: not an error of the tool's.
            eprintln!("azblob: {}", failure.message);
            ExitCode::from(failure.exit_code)
        }
        Err(failure) => {
            eprintln!("azblob: error: {}", failure.message);
            let mut cause = failure.source.as_ref().and_then(|e| e.source());
            while let Some(error) = cause {
                // Our messages usually quote their cause already; print only what is new.
                let text = error.to_string();
                if !failure.message.contains(&text) {
                    eprintln!("  caused by: {text}");
                }
                cause = error.source();
            }
            ExitCode::from(failure.exit_code)
        }
    }
}

/// Logs to stderr, filtered by `RUST_LOG` (default `warn`).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a terminal, not in a log file or a pipe.
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

/// What went wrong, and which exit code says so.
struct Failure {
    message: String,
    exit_code: u8,
    source: Option<Error>,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        let exit_code = match error.kind() {
            ErrorKind::Config
            | ErrorKind::InvalidName
            | ErrorKind::InvalidInput
            | ErrorKind::NoIdentity => 2,
            _ => 1,
        };
        Self {
            message: error.to_string(),
            exit_code,
            source: Some(error),
        }
    }
}

impl Failure {
    fn usage(message: String) -> Self {
        Self {
            message,
            exit_code: 2,
            source: None,
        }
    }

    fn local(message: String) -> Self {
        Self {
            message,
            exit_code: 1,
            source: None,
        }
    }
}

async fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Put {
            file,
            target,
            content_type,
            overwrite,
            if_match,
            transfer,
        } => {
            let replace = match if_match {
                Some(etag) => Replace::IfMatch(etag),
                None if overwrite => Replace::Always,
                None => Replace::Never,
            };
            put(&file, &target, content_type, replace, &transfer).await
        }
        Command::Get {
            source,
            file,
            resume,
            if_match,
            transfer,
        } => get(&source, file.as_deref(), resume, if_match, &transfer).await,
        Command::Rm { target } => Ok(storage(&target.container, false)?
            .delete(&target.name)
            .await?),
        Command::Stat { target } => stat(&target).await,
        Command::Ls { target, long } => ls(&target, long).await,
        Command::Url {
            target,
            expires,
            write,
            content_type,
            content_disposition,
            public,
        } => {
            let mut options = if public {
                UrlOptions::public()
            } else {
                UrlOptions::expires_in(expires)
            };
            if write {
                options = options.write();
            }
            if let Some(value) = content_type {
                options = options.content_type(value);
            }
            if let Some(value) = content_disposition {
                options = options.content_disposition(value);
            }
            let storage = storage(&target.container, false)?;
            let url = storage.url_with(&target.name, options).await?;
            println!("{}", url.as_str());
            Ok(())
        }
        Command::Auth => auth(),
    }
}

fn storage(container: &str, overwrite: bool) -> Result<Storage, Error> {
    let config = StorageConfig::from_env()?
        .with_container(container)?
        .with_overwrite(overwrite);
    Storage::new(config)
}

/// Whether `put` may replace an existing blob.
enum Replace {
    /// Never: a taken name gets a free one instead.
    Never,
    /// Always (`--overwrite`).
    Always,
    /// Only the version with this ETag (`--if-match`).
    IfMatch(String),
}

async fn put(
    file: &Path,
    target: &BlobPath,
    content_type: Option<String>,
    replace: Replace,
    transfer: &TransferArgs,
) -> Result<(), Failure> {
    let metadata = std::fs::metadata(file)
        .map_err(|error| Failure::usage(format!("cannot read {}: {error}", file.display())))?;
    if !metadata.is_file() {
        return Err(Failure::usage(format!(
            "{} is not a file: give a file to upload",
            file.display()
        )));
    }
    // Opened once here so that an unreadable file is a usage error, before any request
    // (the upload opens it again).
    std::fs::File::open(file)
        .map_err(|error| Failure::usage(format!("cannot read {}: {error}", file.display())))?;
    let storage = storage(&target.container, matches!(replace, Replace::Always))?;
    let bar = progress_bar(metadata.len());
    let mut options = SaveOptions::new().transfer(transfer.options());
    if let Replace::IfMatch(etag) = replace {
        options = options.if_match(etag);
    }
    if let Some(content_type) = content_type {
        options = options.content_type(content_type);
    }
    if let Some(bar) = bar.clone() {
        options = options.progress(move |sent| bar.set_position(sent));
    }
    let started = std::time::Instant::now();
    let result = storage
        .save_with(&target.name, Content::file(file), options)
        .await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
        if result.is_ok() {
            eprintln!(
                "azblob: sent {}",
                throughput(metadata.len(), started.elapsed())
            );
        }
    }
    // Everything local in an upload is reading FILE: an I/O error is an input file that
    // could not be read (or was not the size it said), a usage error like any unreadable
    // input file.
    let stored = result.map_err(|error| {
        if error.kind() == ErrorKind::Io {
            Failure {
                exit_code: 2,
                ..Failure::from(error)
            }
        } else {
            Failure::from(error)
        }
    })?;
    let asked = storage.blob_name(&target.name)?;
    if stored != asked {
        eprintln!("azblob: {asked} exists; stored as {stored} (use --overwrite to replace it)");
    }
    println!("{}/{stored}", target.container);
    Ok(())
}

async fn get(
    source: &BlobPath,
    file: Option<&Path>,
    resume: bool,
    if_match: Option<String>,
    transfer: &TransferArgs,
) -> Result<(), Failure> {
    if resume && file == Some(Path::new("-")) {
        return Err(Failure::usage(
            "--resume needs a file to go on from; it does not work with - (standard output)"
                .to_owned(),
        ));
    }
    let storage = storage(&source.container, false)?;
    let blob_name = storage.blob_name(&source.name)?;
    let base_name = blob_name
        .rsplit('/')
        .next()
        .unwrap_or(&blob_name)
        .to_owned();
    let destination = match file {
        Some(path) if path == Path::new("-") => None,
        Some(path) if path.is_dir() => Some(path.join(&base_name)),
        Some(path) => Some(path.to_owned()),
        None => Some(PathBuf::from(&base_name)),
    };
    let Some(destination) = destination else {
        return get_to_stdout(&storage, source, if_match).await;
    };

    // The size is asked for first only to size the progress bar on a terminal.
    let bar = if std::io::stderr().is_terminal() {
        progress_bar(storage.properties(&source.name).await?.content_length)
    } else {
        None
    };
    let partial = partial_path(&destination);
    let mut options = DownloadOptions::new()
        .transfer(transfer.options())
        .resume(resume)
        .on_restart(|reason| eprintln!("azblob: {reason}"));
    if let Some(etag) = if_match {
        options = options.if_match(etag);
    }
    if let Some(bar) = bar.clone() {
        options = options.progress(move |at| bar.set_position(at));
    }
    let started = std::time::Instant::now();
    let download = async {
        let properties = storage
            .download_to_file_with(&source.name, &partial, options)
            .await?;
        tokio::fs::rename(&partial, &destination)
            .await
            .map_err(|e| write_failure(&destination.display().to_string(), &e))?;
        Ok::<_, Failure>(properties.content_length)
    };
    let result = tokio::select! {
        result = download => result,
        signal = interrupt() => {
            if let Some(bar) = &bar {
                bar.finish_and_clear();
            }
            return Err(interrupted(signal, resume, &partial).await);
        }
    };
    if let Some(bar) = bar {
        bar.finish_and_clear();
        if let Ok(size) = result {
            eprintln!("azblob: received {}", throughput(size, started.elapsed()));
        }
    }
    match result {
        Ok(_) => Ok(()),
        // After an integrity or changed-blob error the partial file is gone: nothing to go on
        // from.
        Err(failure) if resume && partial.exists() => Err(Failure {
            message: format!(
                "{}; the bytes received are kept in {}: run the same command again to go on",
                failure.message,
                partial.display()
            ),
            ..failure
        }),
        Err(failure) => {
            // Without --resume nothing half-written is left behind; the error says why.
            let _ = tokio::fs::remove_file(&partial).await;
            Err(failure)
        }
    }
}

/// A signal that stops a download.
#[derive(Debug, Clone, Copy)]
enum Signal {
    /// SIGINT (Ctrl-C): exit code 130.
    Interrupt,
    /// SIGTERM: exit code 143.
    Terminate,
}

/// Waits for SIGINT or SIGTERM (forever if neither can be watched).
async fn interrupt() -> Signal {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::pin!(terminate);
    tokio::select! {
        result = tokio::signal::ctrl_c() => {
            if result.is_err() {
                // SIGINT cannot be watched: wait for SIGTERM alone.
                (&mut terminate).await;
                return Signal::Terminate;
            }
            Signal::Interrupt
        }
        () = &mut terminate => Signal::Terminate,
    }
}

/// Cleans up after a download stopped by `signal`: without --resume nothing half-written
/// stays behind; with it, the partial file and its ETag record stay for the next run.
async fn interrupted(signal: Signal, resume: bool, partial: &Path) -> Failure {
    let message = if resume && partial.exists() {
        format!(
            "interrupted; the bytes received are kept in {}: run the same command with \
             --resume again to go on",
            partial.display()
        )
    } else {
        let _ = tokio::fs::remove_file(partial).await;
        let _ = tokio::fs::remove_file(etag_record_path(partial)).await;
        "interrupted".to_owned()
    };
    Failure {
        message,
        exit_code: match signal {
            Signal::Interrupt => 130,
            Signal::Terminate => 143,
        },
        source: None,
    }
}

/// Where a resumable download records the blob version its partial file holds (the
/// facade's naming: `<partial>.etag`).
fn etag_record_path(partial: &Path) -> PathBuf {
    let mut name = partial.file_name().unwrap_or_default().to_os_string();
    name.push(".etag");
    partial.with_file_name(name)
}

/// `azblob get C/N -`: the blob as a stream to standard output.
async fn get_to_stdout(
    storage: &Storage,
    source: &BlobPath,
    if_match: Option<String>,
) -> Result<(), Failure> {
    let mut read = ReadOptions::new();
    if let Some(etag) = &if_match {
        read = read.if_match(etag.clone());
    }
    let mut reader = storage.open_with(&source.name, read).await?;
    let bar = progress_bar(reader.properties().content_length);
    let mut stdout = tokio::io::stdout();
    // A reader that stops reading (`azblob get C/N - | head`) chose to: nothing is lost, so a
    // broken pipe ends the command quietly and successfully.
    let end_on_write_error = |error: &std::io::Error| {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            Ok(())
        } else {
            Err(write_failure("standard output", error))
        }
    };
    while let Some(chunk) = reader.next().await {
        let chunk = chunk?;
        if let Err(error) = stdout.write_all(&chunk).await {
            return end_on_write_error(&error);
        }
        if let Some(bar) = &bar {
            bar.inc(chunk.len() as u64);
        }
    }
    if let Err(error) = stdout.flush().await {
        return end_on_write_error(&error);
    }
    Ok(())
}

/// "256.0 MiB in 3.2 s (80.0 MiB/s)".
fn throughput(bytes: u64, elapsed: std::time::Duration) -> String {
    #[allow(clippy::cast_precision_loss)] // display only
    let mib = bytes as f64 / (1024.0 * 1024.0);
    let seconds = elapsed.as_secs_f64().max(0.001);
    format!(
        "{mib:.1} MiB in {seconds:.1} s ({:.1} MiB/s)",
        mib / seconds
    )
}

/// `dir/.name.azblob-partial` beside the destination, so the final rename stays on one disk.
fn partial_path(destination: &Path) -> PathBuf {
    let name = destination
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    destination.with_file_name(format!(".{name}.azblob-partial"))
}

fn write_failure(target: &str, error: &std::io::Error) -> Failure {
    Failure::local(format!("cannot write {target}: {error}"))
}

async fn stat(target: &BlobPath) -> Result<(), Failure> {
    let storage = storage(&target.container, false)?;
    let properties = storage.properties(&target.name).await?;
    let or_none = |value: Option<String>| value.unwrap_or_else(|| "(none)".to_owned());
    println!(
        "name:           {}/{}",
        target.container,
        storage.blob_name(&target.name)?
    );
    println!("size:           {} bytes", properties.content_length);
    println!(
        "content type:   {}",
        or_none(properties.content_type.clone())
    );
    println!(
        "last modified:  {}",
        or_none(properties.last_modified.map(httpdate::fmt_http_date))
    );
    println!("etag:           {}", or_none(properties.etag.clone()));
    println!(
        "content md5:    {}",
        or_none(
            properties
                .content_md5
                .map(|md5| base64::engine::general_purpose::STANDARD.encode(md5))
        )
    );
    println!(
        "cache control:  {}",
        or_none(properties.cache_control.clone())
    );
    if properties.metadata.is_empty() {
        println!("metadata:       (none)");
    }
    for (name, value) in &properties.metadata {
        println!("metadata:       {name}={value}");
    }
    Ok(())
}

async fn ls(target: &ListPath, long: bool) -> Result<(), Failure> {
    let storage = storage(&target.container, false)?;
    let (dirs, files) = storage.list_dir(&target.prefix).await?;
    let mut lines: Vec<(String, String)> = dirs
        .into_iter()
        .map(|dir| {
            let line = if long {
                format!("{:>12}  {:<29}  {:<24}  {dir}/", "-", "-", "-")
            } else {
                format!("{dir}/")
            };
            (dir, line)
        })
        .collect();
    lines.extend(files.into_iter().map(|file| {
        let line = if long {
            format!(
                "{:>12}  {:<29}  {:<24}  {}",
                file.size,
                file.last_modified
                    .map_or_else(|| "-".to_owned(), httpdate::fmt_http_date),
                file.content_type.as_deref().unwrap_or("-"),
                file.name
            )
        } else {
            file.name.clone()
        };
        (file.name, line)
    }));
    lines.sort();
    for (_, line) in lines {
        println!("{line}");
    }
    Ok(())
}

/// Prints the configuration the environment selects; sends no request to storage.
fn auth() -> Result<(), Failure> {
    let config = StorageConfig::from_env()?;
    println!(
        "account:        {}",
        config.account().unwrap_or("(from the endpoint)")
    );
    println!("blob endpoint:  {}", config.blob_endpoint());
    println!(
        "container:      {}",
        config
            .container()
            .unwrap_or("(none; the commands take it from CONTAINER/NAME)")
    );
    println!("auth:           {}", config.auth_choice());
    if let storage_facade::AuthMethod::ManagedIdentity { client_id } = config.auth_choice().method()
    {
        let mut builder = imds_token::ManagedIdentity::builder();
        // A client id from AZURE_CLIENT_ID is left for imds-token to read there too, so that
        // the reason printed says it came from the environment, not from code.
        let from_environment = std::env::var("AZURE_CLIENT_ID").ok() == *client_id;
        if let Some(client_id) = client_id.as_ref().filter(|_| !from_environment) {
            builder = builder.client_id(client_id);
        }
        let identity = builder.build().map_err(|error| Failure {
            message: format!("the managed identity cannot be set up: {error}"),
            exit_code: 2,
            source: None,
        })?;
        println!("identity:       {}", identity.source());
    }
    if let Some(path) = config.root_certificates_file() {
        println!("extra roots:    {}", path.display());
    }
    Ok(())
}

/// A progress bar on stderr, only for a terminal and a transfer worth watching.
fn progress_bar(total: u64) -> Option<ProgressBar> {
    if total < PROGRESS_THRESHOLD || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new(total);
    let style = ProgressStyle::with_template(
        "{bar:40} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    Some(bar)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_are_positive_and_at_most_seven_days() {
        assert_eq!(parse_lifetime("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_lifetime(" 15m "), Ok(Duration::from_secs(900)));
        assert_eq!(parse_lifetime("12h"), Ok(Duration::from_secs(43_200)));
        assert_eq!(parse_lifetime("7d"), Ok(MAX_URL_LIFETIME));
        assert_eq!(parse_lifetime("1H"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_lifetime("2D"), Ok(Duration::from_secs(172_800)));
        assert_eq!(parse_lifetime("30M"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_lifetime("45S"), Ok(Duration::from_secs(45)));
        for (bad, why) in [
            ("8d", "longer than the 7 days"),
            ("0h", "no time at all"),
            ("10", "no unit"),
            ("", "no unit"),
            ("5é", "no unit"),
            ("xh", "not a lifetime"),
            ("-1h", "not a lifetime"),
            ("99999999999999999999d", "not a lifetime"),
        ] {
            let err = parse_lifetime(bad).unwrap_err();
            assert!(err.contains(why), "{bad:?}: {err}");
        }
    }

    #[test]
    fn list_paths_take_an_optional_prefix() {
        let path = parse_list_path("images").unwrap();
        assert_eq!(
            (path.container.as_str(), path.prefix.as_str()),
            ("images", "")
        );
        let path = parse_list_path("images/2026/cats").unwrap();
        assert_eq!(
            (path.container.as_str(), path.prefix.as_str()),
            ("images", "2026/cats")
        );
        assert!(parse_list_path("/x").is_err());
    }
}
