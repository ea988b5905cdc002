//! `cargo xtask bench`: the benchmarks of `benches/blob-bench`, in one run, with Azurite.
//!
//! The comparison with object_store and raw reqwest runs against blob-bench's own minimal blob
//! server, which blob-bench starts itself; only the demo workload (a thousand images through the
//! facade) needs a real Azurite, so this command starts its HTTP flavour, hands its endpoint to
//! blob-bench, and stops it afterwards whatever happened. The bench is built in release mode:
//! timings of a debug build say nothing about the client.

use crate::azurite::{self, Flavour, Ports};
use crate::cmd;
use crate::error::Error;

/// Options of `cargo xtask bench`.
#[derive(Debug, clap::Args)]
pub(crate) struct BenchArgs {
    /// A short pass that checks every measurement works (64 MiB, 50 images, one round each);
    /// its numbers are too noisy to publish.
    #[arg(long)]
    quick: bool,
    /// Where blob-bench writes the markdown table (relative to the workspace root).
    #[arg(long, default_value = "target/bench/results.md")]
    out: std::path::PathBuf,
    /// Skip the demo workload, and so Azurite.
    #[arg(long)]
    no_azurite: bool,
    #[command(flatten)]
    ports: Ports,
}

/// Builds blob-bench, starts Azurite (HTTP) unless told not to, runs every measurement, stops.
pub(crate) fn run(args: &BenchArgs) -> Result<(), Error> {
    cmd::run(&mut cmd::cargo(["build", "--release", "-p", "blob-bench"]))?;
    let binary = cmd::target_dir().join("release/blob-bench");

    let running = if args.no_azurite {
        None
    } else {
        Some(azurite::start(&[Flavour::Http], args.ports)?)
    };
    let mut command = std::process::Command::new(&binary);
    command
        .current_dir(cmd::workspace_root())
        .arg("run")
        .arg("--out")
        .arg(&args.out);
    if args.quick {
        command.arg("--quick");
    }
    if let Some(endpoint) = running
        .as_ref()
        .and_then(|running| running.blob_endpoint(Flavour::Http))
    {
        command.arg("--azurite").arg(endpoint);
    }
    let result = cmd::run(&mut command);
    // Stop Azurite even when the bench failed; the bench's error is the one to report.
    let stopped = running.map_or(Ok(()), azurite::RunningAzurite::stop);
    result.and(stopped)
}
