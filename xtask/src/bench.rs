//! `cargo xtask bench`: the benchmarks of `benches/blob-bench`, in one run, with Azurite.
//!
//! The comparison with object_store and raw reqwest runs against blob-bench's own minimal blob
//! server, which blob-bench starts itself; only the demo workload (a thousand images through the
//! facade) needs a real Azurite, so this command starts its HTTP flavour, hands its endpoint to
//! blob-bench, and stops it afterwards whatever happened. The bench is built in release mode:
//! timings of a debug build say nothing about the client.
//!
//! A full run puts its results into `docs/performance.md`, between two marker lines, so the
//! page's analysis stays as written and the numbers are always one run's; `--quick` runs
//! leave the page alone.

use std::path::Path;

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
    result.and(stopped)?;
    if args.quick {
        println!("A --quick run: docs/performance.md is left as it was.");
        return Ok(());
    }
    let root = cmd::workspace_root();
    publish(&root.join(&args.out), &root.join(PERFORMANCE_PAGE))?;
    println!("Results written into {PERFORMANCE_PAGE}.");
    Ok(())
}

/// The page that holds the latest full run.
const PERFORMANCE_PAGE: &str = "docs/performance.md";
const BEGIN: &str = "<!-- cargo xtask bench: results begin -->";
const END: &str = "<!-- cargo xtask bench: results end -->";

/// Replaces what stands between the markers of `page` with the results in `results`.
fn publish(results: &Path, page: &Path) -> Result<(), Error> {
    let read = |path: &Path| {
        std::fs::read_to_string(path)
            .map_err(|e| Error::Bench(format!("cannot read {}: {e}", path.display())))
    };
    let updated = splice(&read(page)?, &read(results)?).ok_or_else(|| {
        Error::Bench(format!(
            "{} has no `{BEGIN}` line followed by an `{END}` line to put the results between",
            page.display()
        ))
    })?;
    std::fs::write(page, updated)
        .map_err(|e| Error::Bench(format!("cannot write {}: {e}", page.display())))
}

/// `page` with the text between its marker lines replaced by `results`; `None` without them.
fn splice(page: &str, results: &str) -> Option<String> {
    let begin = page.find(BEGIN)? + BEGIN.len();
    let end = begin + page[begin..].find(END)?;
    Some(format!(
        "{}\n\n{}\n\n{}",
        &page[..begin],
        results.trim(),
        &page[end..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_replace_only_what_stands_between_the_markers() {
        let page = format!("# Performance\n\nWhy.\n\n{BEGIN}\nold numbers\n{END}\n\nMore.\n");
        assert_eq!(
            splice(&page, "### Run\n\n| a |\n").unwrap(),
            format!("# Performance\n\nWhy.\n\n{BEGIN}\n\n### Run\n\n| a |\n\n{END}\n\nMore.\n")
        );
        assert_eq!(splice("no markers", "x"), None);
        assert_eq!(splice(&format!("{END}\n{BEGIN}"), "x"), None);
    }
}
