//! The results as a markdown section, ready to paste into `docs/performance.md`.

use std::fmt::Write as _;
use std::process::Command;

use crate::clients::{Blocks, Kind};
use crate::demo::Phase;
use crate::large::{self, Direction, Series};
use crate::small::{Cell, Op, CONCURRENCY};
use crate::stats::{median, spread};

/// Targets from the issue.
const SIGNING_TARGET_NS: f64 = 2000.0;
const TOKEN_TARGET_NS: f64 = 100.0;
const SMALL_VS_REQWEST: f64 = 0.9;
const LARGE_VS_REQWEST: f64 = 0.8;
const RSS_HEADROOM_MIB: f64 = 64.0;

/// Everything one run measured.
pub(crate) struct Results {
    pub(crate) signing_ns: f64,
    pub(crate) token_ns: (f64, f64),
    pub(crate) md5_4k_ns: f64,
    pub(crate) small: Vec<Cell>,
    pub(crate) small_rounds: usize,
    pub(crate) small_seconds: f64,
    pub(crate) large: Vec<Series>,
    pub(crate) large_size: u64,
    pub(crate) large_rounds: usize,
    pub(crate) blocks: Blocks,
    pub(crate) baseline_rss_mib: f64,
    pub(crate) demo: Option<Vec<Phase>>,
    pub(crate) demo_images: usize,
    pub(crate) seconds: f64,
}

fn met(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "**missed**"
    }
}

/// The markdown section.
pub(crate) fn markdown(results: &Results) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### Run\n");
    let _ = writeln!(
        out,
        "- Command: `cargo xtask bench` (release build of `blob-bench`)"
    );
    let _ = writeln!(out, "- Commit: `{}`", commit());
    let _ = writeln!(out, "- Machine: {}", machine());
    let _ = writeln!(
        out,
        "- Date: {}; the run took {:.0} s",
        httpdate::fmt_http_date(std::time::SystemTime::now()),
        results.seconds
    );
    out.push('\n');
    per_request(&mut out, results);
    small_blobs(&mut out, results);
    large_blob(&mut out, results);
    demo_workload(&mut out, results);
    out
}

/// SharedKey signing and cached token reads.
fn per_request(out: &mut String, results: &Results) {
    let _ = writeln!(out, "### Per-request costs (median of 7 runs)\n");
    let _ = writeln!(out, "| Measurement | Median | Target | |");
    let _ = writeln!(out, "|---|---:|---:|---|");
    let _ = writeln!(
        out,
        "| SharedKey signature of a Put Blob (8 headers) | {:.0} ns | < 2 µs | {} |",
        results.signing_ns,
        met(results.signing_ns < SIGNING_TARGET_NS)
    );
    for (label, ns) in [
        ("Cached token read, 1 thread", results.token_ns.0),
        (
            "Cached token read, 8 threads (wall time / all reads)",
            results.token_ns.1,
        ),
    ] {
        let _ = writeln!(
            out,
            "| {label} | {ns:.1} ns | < 100 ns | {} |",
            met(ns < TOKEN_TARGET_NS)
        );
    }
    let md5_mib_per_s = 4096.0 / results.md5_4k_ns * 1e9 / (1024.0 * 1024.0);
    let _ = writeln!(
        out,
        "| MD5 of a 4 KiB body (blob-rest's `Content-MD5` on every Put Blob and Put Block), \
         i.e. {md5_mib_per_s:.0} MiB/s on one core | {:.0} ns | for reference | |",
        results.md5_4k_ns
    );
    out.push('\n');
}

/// Small blobs: operations per second and ratios.
fn small_blobs(out: &mut String, results: &Results) {
    let _ = writeln!(
        out,
        "### Small blobs (4 KiB): operations per second (median of {} rounds of {:.1} s)\n",
        results.small_rounds, results.small_seconds
    );
    let _ = writeln!(
        out,
        "| Operation | blob-rest | object_store | raw reqwest | blob-rest / reqwest | blob-rest / object_store | Target (>= 0.9 of reqwest, >= object_store) |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---|");
    for op in Op::ALL {
        for concurrency in CONCURRENCY {
            let ops = |kind: Kind| {
                results
                    .small
                    .iter()
                    .find(|c| c.op == op && c.concurrency == concurrency && c.kind == kind)
                    .map_or(f64::NAN, |c| median(&c.rounds))
            };
            let (ours, store, raw) = (
                ops(Kind::BlobRest),
                ops(Kind::ObjectStore),
                ops(Kind::Reqwest),
            );
            let ok = ours >= SMALL_VS_REQWEST * raw && ours >= store;
            let _ = writeln!(
                out,
                "| {} c={concurrency} | {ours:.0} | {store:.0} | {raw:.0} | {:.2} | {:.2} | {} |",
                op.label(),
                ours / raw,
                ours / store,
                met(ok)
            );
        }
    }
    let _ = writeln!(
        out,
        "\nEvery round (ops/s, min–max over rounds; connections opened after the warm-up):\n"
    );
    for cell in &results.small {
        let (lo, hi) = spread(&cell.rounds);
        let _ = writeln!(
            out,
            "- {} c={} {}: {lo:.0}–{hi:.0}; {} connections",
            cell.op.label(),
            cell.concurrency,
            cell.kind,
            cell.connections
        );
    }
    out.push('\n');
}

/// The large blob: throughput and peak memory.
fn large_blob(out: &mut String, results: &Results) {
    let size_mib = results.large_size as f64 / (1024.0 * 1024.0);
    let block_mib = results.blocks.size as f64 / (1024.0 * 1024.0);
    let rss_bound = block_mib * results.blocks.in_flight as f64 + RSS_HEADROOM_MIB;
    let _ = writeln!(
        out,
        "### One {size_mib:.0} MiB blob (median of {} rounds; blocks of {block_mib:.0} MiB, {} in flight)\n",
        results.large_rounds, results.blocks.in_flight
    );
    let _ = writeln!(
        out,
        "| Transfer | blob-rest | object_store | raw reqwest | blob-rest / reqwest | blob-rest / object_store | Target | |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---|---|");
    for direction in [Direction::Up, Direction::Down] {
        let series = |kind: Kind| {
            results
                .large
                .iter()
                .find(|s| s.direction == direction && s.kind == kind)
        };
        let speed = |kind: Kind| {
            series(kind).map_or(f64::NAN, |s| {
                median(&s.rounds.iter().map(|t| t.mib_per_s).collect::<Vec<_>>())
            })
        };
        let rss = |kind: Kind| {
            series(kind).map_or(f64::NAN, |s| {
                s.rounds
                    .iter()
                    .map(|t| t.peak_rss_mib)
                    .fold(f64::NAN, f64::max)
            })
        };
        let what = if direction == Direction::Up {
            "Upload"
        } else {
            "Download (one streamed GET)"
        };
        let (ours, store, raw) = (
            speed(Kind::BlobRest),
            speed(Kind::ObjectStore),
            speed(Kind::Reqwest),
        );
        let _ = writeln!(
            out,
            "| {what}, MiB/s | {ours:.0} | {store:.0} | {raw:.0} | {:.2} | {:.2} | >= 0.8 of reqwest | {} |",
            ours / raw,
            ours / store,
            met(ours >= LARGE_VS_REQWEST * raw)
        );
        let (ours_rss, store_rss, raw_rss) = (
            rss(Kind::BlobRest),
            rss(Kind::ObjectStore),
            rss(Kind::Reqwest),
        );
        let _ = writeln!(
            out,
            "| {what}, peak RSS MiB (highest round) | {ours_rss:.0} | {store_rss:.0} | {raw_rss:.0} | {:.2} | {:.2} | < {rss_bound:.0} MiB | {} |",
            ours_rss / raw_rss,
            ours_rss / store_rss,
            met(ours_rss < rss_bound)
        );
        for (kind, label) in [
            (
                Kind::BlobRestRanges,
                "Download, blob-rest `download_to` (8 MiB ranges, 4 at once)",
            ),
            (
                Kind::BlobRestNoBlobMd5,
                "Upload, blob-rest with `blob_md5(false)` (per-block MD5 only)",
            ),
        ] {
            if large::kinds(direction).contains(&kind) {
                let (speed, peak) = (speed(kind), rss(kind));
                let _ = writeln!(
                    out,
                    "| {label}: MiB/s; peak RSS MiB | {speed:.0}; {peak:.0} | | | {:.2} | {:.2} | for reference | |",
                    speed / raw,
                    speed / store
                );
            }
        }
    }
    large_rounds(out, results);
}

/// The child's own footprint and every round of every large transfer.
fn large_rounds(out: &mut String, results: &Results) {
    let _ = writeln!(
        out,
        "\nA child process that starts a runtime and builds a client and transfers nothing peaks at {:.1} MiB.\n",
        results.baseline_rss_mib
    );
    let _ = writeln!(out, "Every round (MiB/s, peak RSS MiB):\n");
    for series in &results.large {
        let rounds: Vec<String> = series
            .rounds
            .iter()
            .map(|t| format!("{:.0} ({:.0})", t.mib_per_s, t.peak_rss_mib))
            .collect();
        let _ = writeln!(
            out,
            "- {} {}: {}",
            series.direction.arg(),
            series.kind,
            rounds.join(", ")
        );
    }
    out.push('\n');
}

/// The demo workload on Azurite, when it ran.
fn demo_workload(out: &mut String, results: &Results) {
    let _ = writeln!(
        out,
        "### Demo workload on Azurite: {} images, 10 KiB to 2 MiB, through `Storage` (SharedKey, HTTP)\n",
        results.demo_images
    );
    match &results.demo {
        None => {
            let _ = writeln!(out, "Not run: no Azurite endpoint was given (`--azurite`).");
        }
        Some(phases) => {
            let _ = writeln!(out, "| Phase | Operations | Time | ops/s | MiB/s |");
            let _ = writeln!(out, "|---|---:|---:|---:|---:|");
            let mut total_ops = 0;
            let mut total = std::time::Duration::ZERO;
            for phase in phases {
                let seconds = phase.took.as_secs_f64();
                let mib = if phase.bytes == 0 {
                    String::new()
                } else {
                    format!("{:.1}", phase.bytes as f64 / (1024.0 * 1024.0) / seconds)
                };
                let _ = writeln!(
                    out,
                    "| {} | {} | {seconds:.2} s | {:.0} | {mib} |",
                    phase.name,
                    phase.ops,
                    phase.ops as f64 / seconds
                );
                total_ops += phase.ops;
                total += phase.took;
            }
            let _ = writeln!(
                out,
                "| total | {total_ops} | {:.2} s | {:.0} | |",
                total.as_secs_f64(),
                total_ops as f64 / total.as_secs_f64()
            );
            if let Some(save) = phases.first() {
                let _ = writeln!(
                    out,
                    "\n{:.1} MiB of images in all.",
                    save.bytes as f64 / (1024.0 * 1024.0)
                );
            }
        }
    }
}

/// `git rev-parse HEAD`, marked when the tree has changes.
fn commit() -> String {
    let run = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let Some(head) = run(&["rev-parse", "HEAD"]) else {
        return "unknown (not a git checkout)".to_owned();
    };
    let dirty =
        run(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    if dirty {
        format!("{head} (with uncommitted changes in the tree)")
    } else {
        head
    }
}

/// Cores, CPU model and compiler.
fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let rustc = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned()))
        .arg("--version")
        .output()
        .ok()
        .map_or_else(
            || "rustc unknown".to_owned(),
            |o| String::from_utf8_lossy(&o.stdout).trim().to_owned(),
        );
    format!("{cores} cores (nproc), {model}, {rustc}")
}
