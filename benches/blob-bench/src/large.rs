//! One large blob (1 GiB by default) up and down: throughput and peak memory.
//!
//! Each transfer runs in a child process (this binary re-executed with `transfer`), so that
//! its peak resident set (`VmHWM` in `/proc/self/status`, read by the child when it is done)
//! is the client's alone: not the bench server's, not another client's. The child times only
//! the transfer, not its own start. Uploads read a generated stream of 256 KiB chunks (slices
//! of one buffer, so generating costs nothing and no 1 GiB buffer exists); downloads throw the
//! bytes away as they arrive. Rounds interleave the clients like the small-blob rounds.

use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::Bytes;
use futures_util::Stream;

use crate::clients::{Blocks, Client, Failure, Kind};
use crate::server::BenchServer;

/// The size of one chunk of the generated upload stream.
const CHUNK: usize = 256 * 1024;

/// Which way a transfer goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Direction {
    /// Upload: Put Block + Put Block List.
    Up,
    /// Download: one streamed Get Blob (or parallel ranges for `blob-rest-ranges`).
    Down,
    /// Nothing: the child's own footprint (runtime and client built), for reference.
    None,
}

impl Direction {
    pub(crate) fn arg(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
            Direction::None => "none",
        }
    }
}

/// What one child reported.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Transfer {
    pub(crate) mib_per_s: f64,
    pub(crate) peak_rss_mib: f64,
}

/// Results per (direction, client), one value per round.
#[derive(Debug, Clone)]
pub(crate) struct Series {
    pub(crate) direction: Direction,
    pub(crate) kind: Kind,
    pub(crate) rounds: Vec<Transfer>,
}

/// The clients measured in each direction.
pub(crate) fn kinds(direction: Direction) -> &'static [Kind] {
    match direction {
        Direction::Down => &[
            Kind::BlobRest,
            Kind::ObjectStore,
            Kind::Reqwest,
            Kind::BlobRestRanges,
        ],
        Direction::Up => &[
            Kind::BlobRest,
            Kind::ObjectStore,
            Kind::Reqwest,
            Kind::BlobRestNoBlobMd5,
        ],
        Direction::None => &Kind::COMPARED,
    }
}

/// Runs `rounds` rounds of every transfer against `server`; fails on the first error.
pub(crate) fn run(
    server: &BenchServer,
    size: u64,
    blocks: Blocks,
    rounds: usize,
) -> Result<(Vec<Series>, f64), Failure> {
    let baseline = child(server, Kind::BlobRest, Direction::None, size, blocks)?;
    let mut all: Vec<Series> = Vec::new();
    for direction in [Direction::Up, Direction::Down] {
        for &kind in kinds(direction) {
            all.push(Series {
                direction,
                kind,
                rounds: Vec::new(),
            });
        }
    }
    for round in 0..rounds {
        eprintln!("  large blob: round {} of {rounds}", round + 1);
        for series in &mut all {
            let received_before = server.stats().bytes_received.load(Ordering::Relaxed);
            let refused_before = server.stats().refused.load(Ordering::Relaxed);
            let transfer = child(server, series.kind, series.direction, size, blocks)?;
            let received = server.stats().bytes_received.load(Ordering::Relaxed) - received_before;
            let refused = server.stats().refused.load(Ordering::Relaxed) - refused_before;
            if refused > 0 {
                return Err(format!(
                    "the bench server refused {refused} requests of the {} {} transfer",
                    series.kind,
                    series.direction.arg()
                ));
            }
            // The block list's XML comes on top of the content.
            if series.direction == Direction::Up && received < size {
                return Err(format!(
                    "the {} upload reported success but the server received only {received} of \
                     {size} bytes",
                    series.kind
                ));
            }
            series.rounds.push(transfer);
        }
    }
    Ok((all, baseline.peak_rss_mib))
}

/// Runs one transfer in a child process and reads its report.
fn child(
    server: &BenchServer,
    kind: Kind,
    direction: Direction,
    size: u64,
    blocks: Blocks,
) -> Result<Transfer, Failure> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let output = Command::new(exe)
        .args(["transfer", "--client", kind.arg(), "--direction"])
        .arg(direction.arg())
        .arg("--endpoint")
        .arg(server.endpoint())
        .arg("--size")
        .arg(size.to_string())
        .arg("--block-size")
        .arg(blocks.size.to_string())
        .arg("--in-flight")
        .arg(blocks.in_flight.to_string())
        .output()
        .map_err(|e| format!("cannot start the transfer child: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "the {kind} {} transfer failed: {}",
            direction.arg(),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let field = |name: &str| -> Result<f64, Failure> {
        stdout
            .split_whitespace()
            .find_map(|word| word.strip_prefix(name)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("the transfer child printed no {name}: {stdout:?}"))
    };
    Ok(Transfer {
        mib_per_s: field("mib_per_s")?,
        peak_rss_mib: field("peak_rss_kib")? / 1024.0,
    })
}

/// The child's side: one transfer, then one line on stdout with its speed and peak memory.
pub(crate) fn transfer_in_child(
    kind: Kind,
    direction: Direction,
    endpoint: &str,
    size: u64,
    blocks: Blocks,
) -> Result<(), Failure> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    let client = Client::new(kind, endpoint)?;
    // The name tells the bench server the size to answer a download with.
    let name = format!("{size}/large-{}", kind.arg());
    let started = Instant::now();
    let moved = runtime.block_on(async {
        match direction {
            Direction::Up => client
                .upload_large(&name, generated(size), blocks, kind)
                .await
                .map(|()| size),
            Direction::Down => client.download_large(&name, kind).await,
            Direction::None => Ok(0),
        }
    })?;
    let seconds = started.elapsed().as_secs_f64();
    if direction == Direction::Down && moved != size {
        return Err(format!("the download brought {moved} bytes, not {size}"));
    }
    let mib_per_s = if moved == 0 {
        0.0
    } else {
        moved as f64 / (1024.0 * 1024.0) / seconds
    };
    println!(
        "transfer mib_per_s={mib_per_s:.1} seconds={seconds:.3} peak_rss_kib={}",
        peak_rss_kib()?
    );
    Ok(())
}

/// `size` bytes as 256 KiB chunks of one shared buffer, as a file read chunk by chunk would
/// yield them.
fn generated(size: u64) -> impl Stream<Item = Bytes> + Send + Unpin + 'static {
    let mut pattern = vec![0u8; CHUNK];
    let mut rng = fastrand::Rng::with_seed(7);
    rng.fill(&mut pattern);
    let pattern = Bytes::from(pattern);
    let chunks = size.div_ceil(CHUNK as u64);
    futures_util::stream::iter((0..chunks).map(move |i| {
        let left = size - i * CHUNK as u64;
        pattern.slice(..usize::try_from(left).unwrap_or(CHUNK).min(CHUNK))
    }))
}

/// This process's peak resident set (`VmHWM`), in KiB.
fn peak_rss_kib() -> Result<u64, Failure> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| format!("cannot read /proc/self/status: {e}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| "no VmHWM line in /proc/self/status".to_owned())
}
