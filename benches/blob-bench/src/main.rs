//! `blob-bench`: how fast this workspace's clients are, next to object_store and raw reqwest.
//!
//! Run it through `cargo xtask bench`, which builds it in release mode, starts Azurite for the
//! demo workload and stops it afterwards. `blob-bench run` measures, in one run:
//!
//! 1. SharedKey signing of a typical request (ns per signature);
//! 2. cached token reads with 1 and 8 threads (ns per read);
//! 3. 4 KiB Put Blob / Get Blob operations per second at concurrency 1 and 64, for blob-rest,
//!    object_store and raw reqwest, against the minimal server of [`server`];
//! 4. one 1 GiB blob up and down for the same three: MiB/s and peak RSS, each transfer in a
//!    child process (`blob-bench transfer`);
//! 5. the demo workload through `storage_facade::Storage` against Azurite (`--azurite`).
//!
//! It writes the results as markdown (`--out`, default `target/bench/results.md`) and prints
//! them. Any failed request ends the run with an error instead of numbers.

// A benchmark turns counts of bytes, operations and nanoseconds into rates and back: the
// values stay far below 2^52, where the conversions are exact enough for a report.
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

mod clients;
mod demo;
mod large;
mod micro;
mod report;
mod server;
mod small;
mod stats;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};

use clients::{Blocks, Failure, Kind};
use large::Direction;
use server::BenchServer;

const MIB: u64 = 1024 * 1024;

#[derive(Debug, Parser)]
#[command(
    name = "blob-bench",
    about = "Benchmarks of the blob clients (see `cargo xtask bench`)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run every measurement and write the markdown results.
    Run(RunArgs),
    /// One large transfer, run as a child process by `run` to measure its peak memory alone.
    Transfer(TransferArgs),
    /// One small-blob cell alone (one client, operation and concurrency), e.g. under `perf`.
    Cell(CellArgs),
}

#[derive(Debug, clap::Args)]
struct CellArgs {
    #[arg(long, value_enum)]
    client: Kind,
    /// `put` or `get`.
    #[arg(long, value_enum)]
    op: small::Op,
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Blob endpoint of an Azurite (HTTP, SharedKey) for the demo workload; skipped without.
    #[arg(long)]
    azurite: Option<String>,
    /// Where to write the markdown results.
    #[arg(long, default_value = "target/bench/results.md")]
    out: PathBuf,
    /// Rounds of the small-blob measurements.
    #[arg(long, default_value_t = 5)]
    small_rounds: usize,
    /// Seconds per small-blob cell and round.
    #[arg(long, default_value_t = 1.0)]
    small_seconds: f64,
    /// Size of the large blob, in MiB.
    #[arg(long, default_value_t = 1024)]
    large_mib: u64,
    /// Rounds of the large-blob transfers.
    #[arg(long, default_value_t = 3)]
    large_rounds: usize,
    /// Block size of the large upload, in MiB.
    #[arg(long, default_value_t = 8)]
    block_mib: u64,
    /// Blocks in flight during the large upload.
    #[arg(long, default_value_t = 4)]
    in_flight: usize,
    /// Images in the demo workload.
    #[arg(long, default_value_t = 1000)]
    images: usize,
    /// A quick pass to check that everything works: few and short rounds, 64 MiB, 50 images.
    #[arg(long)]
    quick: bool,
}

#[derive(Debug, clap::Args)]
struct TransferArgs {
    #[arg(long, value_enum)]
    client: Kind,
    #[arg(long, value_enum)]
    direction: Direction,
    #[arg(long)]
    endpoint: String,
    #[arg(long)]
    size: u64,
    #[arg(long)]
    block_size: u64,
    #[arg(long)]
    in_flight: usize,
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Run(mut args) => {
            if args.quick {
                args.small_rounds = 1;
                args.small_seconds = 0.3;
                args.large_mib = 64;
                args.large_rounds = 1;
                args.images = 50;
            }
            run(&args)
        }
        Command::Cell(args) => cell(&args),
        Command::Transfer(args) => large::transfer_in_child(
            args.client,
            args.direction,
            &args.endpoint,
            args.size,
            Blocks {
                size: args.block_size,
                in_flight: args.in_flight,
            },
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("blob-bench: error: {failure}");
            eprintln!("blob-bench: no results are reported from a run with failed requests.");
            ExitCode::FAILURE
        }
    }
}

fn cell(args: &CellArgs) -> Result<(), Failure> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    let server = BenchServer::start().map_err(|e| format!("cannot start the server: {e}"))?;
    let ops = small::one_cell(
        &runtime,
        &server,
        args.client,
        args.op,
        args.concurrency,
        args.seconds,
    )?;
    println!(
        "{} {} c={}: {ops:.0} ops/s",
        args.client,
        args.op.label(),
        args.concurrency
    );
    Ok(())
}

fn run(args: &RunArgs) -> Result<(), Failure> {
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    let server = BenchServer::start().map_err(|e| format!("cannot start the server: {e}"))?;
    eprintln!("blob-bench: bench server at {}", server.endpoint());

    eprintln!("blob-bench: signing and token reads");
    let signing_ns = micro::signing_ns();
    let token_ns = micro::token_read_ns();
    let md5_4k_ns = micro::md5_4k_ns();

    eprintln!("blob-bench: small blobs");
    let small = small::run(&runtime, &server, args.small_rounds, args.small_seconds)?;

    eprintln!("blob-bench: one {} MiB blob", args.large_mib);
    let blocks = Blocks {
        size: args.block_mib * MIB,
        in_flight: args.in_flight,
    };
    let (large, baseline_rss_mib) =
        large::run(&server, args.large_mib * MIB, blocks, args.large_rounds)?;

    let demo = match &args.azurite {
        Some(endpoint) => {
            eprintln!(
                "blob-bench: demo workload on Azurite ({} images)",
                args.images
            );
            Some(demo::run(&runtime, endpoint, args.images)?)
        }
        None => None,
    };

    let results = report::Results {
        signing_ns,
        token_ns,
        md5_4k_ns,
        small,
        small_rounds: args.small_rounds,
        small_seconds: args.small_seconds,
        large,
        large_size: args.large_mib * MIB,
        large_rounds: args.large_rounds,
        blocks,
        baseline_rss_mib,
        demo,
        demo_images: args.images,
        seconds: started.elapsed().as_secs_f64(),
    };
    let markdown = report::markdown(&results);
    if let Some(dir) = args.out.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(&args.out, &markdown)
        .map_err(|e| format!("cannot write {}: {e}", args.out.display()))?;
    println!("{markdown}");
    eprintln!("blob-bench: results written to {}", args.out.display());
    Ok(())
}
