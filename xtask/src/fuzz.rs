//! `cargo xtask fuzz`: every cargo-fuzz target of `fuzz/`, each for a bounded time, failing
//! on the first crash with the path of the input that reproduces it.
//!
//! cargo-fuzz needs compiler flags that only nightly accepts; the machine has the stable
//! toolchain, so the builds run with `RUSTC_BOOTSTRAP=1`. The targets are built without a
//! sanitizer: the crates they reach forbid `unsafe` code, so what fuzzing can find there is
//! panics, overflows (debug assertions are on), hangs and broken properties, and an
//! uninstrumented build runs several times more inputs per second than one with
//! AddressSanitizer. Not part of `cargo xtask test`: it takes minutes.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::cmd;
use crate::error::Error;

/// Options of `cargo xtask fuzz`.
#[derive(Debug, clap::Args)]
pub(crate) struct FuzzArgs {
    /// How long to fuzz each target, in seconds.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    seconds: u64,
    /// Only these targets (default: every target `cargo fuzz list` shows).
    targets: Vec<String>,
}

/// Longest time one input may take before libFuzzer calls it a hang, in seconds.
const INPUT_TIMEOUT_SECONDS: u32 = 10;

/// What one target's run gave.
struct Outcome {
    target: String,
    runs: Option<u64>,
    /// The input that reproduces a crash, hang or memory blow-up.
    failure: Option<String>,
}

/// Installs cargo-fuzz if needed, builds the targets once, and fuzzes each in turn.
pub(crate) fn run(args: &FuzzArgs) -> Result<(), Error> {
    ensure_cargo_fuzz()?;
    let available = cmd::output(&mut cargo_fuzz(&["list"]))?;
    let available: Vec<String> = available.lines().map(str::to_owned).collect();
    let targets = if args.targets.is_empty() {
        available
    } else {
        if let Some(unknown) = args.targets.iter().find(|t| !available.contains(t)) {
            return Err(Error::Fuzz(format!(
                "there is no fuzz target `{unknown}`; the targets are: {}",
                available.join(", ")
            )));
        }
        args.targets.clone()
    };

    cmd::run(cargo_fuzz(&["build", "--sanitizer", "none"]).args(target_dir_args()))?;
    let mut outcomes = Vec::new();
    for target in &targets {
        let outcome = fuzz_one(target, args.seconds)?;
        let failed = outcome.failure.is_some();
        outcomes.push(outcome);
        if failed {
            break;
        }
    }
    report(&outcomes, args.seconds)
}

/// `cargo fuzz` when it answers; otherwise installs it from crates.io.
fn ensure_cargo_fuzz() -> Result<(), Error> {
    let installed = cargo_fuzz(&["--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !installed {
        println!("cargo-fuzz is not installed: installing it from crates.io");
        cmd::run(&mut cmd::cargo(["install", "cargo-fuzz", "--locked"]))?;
    }
    Ok(())
}

/// `cargo fuzz ARGS` from the workspace root (where it finds `fuzz/`), allowed the nightly
/// flags it needs on the stable toolchain.
fn cargo_fuzz(args: &[&str]) -> Command {
    let mut command = cmd::cargo(["fuzz"]);
    command.args(args).env("RUSTC_BOOTSTRAP", "1");
    command
}

/// Builds go to the workspace's target directory, not `fuzz/target`.
fn target_dir_args() -> [String; 2] {
    [
        "--target-dir".to_owned(),
        cmd::target_dir().join("fuzz").display().to_string(),
    ]
}

/// Fuzzes one target for `seconds`, starting from the checked-in seeds and the inputs kept
/// from earlier runs; libFuzzer's output goes to a log file.
fn fuzz_one(target: &str, seconds: u64) -> Result<Outcome, Error> {
    let root = cmd::workspace_root();
    // New inputs go to the first directory: kept between runs, never checked in.
    let work_corpus = cmd::target_dir().join("fuzz-corpus").join(target);
    let seeds = root.join("fuzz").join("corpus").join(target);
    let log = cmd::target_dir()
        .join("fuzz-logs")
        .join(format!("{target}.log"));
    for dir in [
        &work_corpus,
        &seeds,
        &log.parent().map(Path::to_path_buf).unwrap_or_default(),
    ] {
        fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
    }
    let log_file = fs::File::create(&log).map_err(|e| Error::io("create", &log, e))?;
    let stdout = log_file
        .try_clone()
        .map_err(|e| Error::io("open", &log, e))?;

    println!(
        "fuzz: {target} for {seconds} s (log: {})",
        cmd::relative(&log).display()
    );
    let started = Instant::now();
    let mut command = cargo_fuzz(&["run", "--sanitizer", "none"]);
    command
        .args(target_dir_args())
        .arg(target)
        .arg(&work_corpus)
        .arg(&seeds)
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!("-timeout={INPUT_TIMEOUT_SECONDS}"))
        // Counts the runs also when a crash cuts the run short.
        .arg("-print_final_stats=1")
        .stdout(stdout)
        .stderr(log_file);
    let status = command
        .status()
        .map_err(|e| Error::Command(format!("could not run `{}`: {e}", cmd::display(&command))))?;
    let text = fs::read_to_string(&log).map_err(|e| Error::io("read", &log, e))?;
    let outcome = Outcome {
        target: target.to_owned(),
        runs: runs(&text),
        failure: (!status.success()).then(|| describe_failure(&text, &log)),
    };
    println!(
        "fuzz: {target}: {} runs in {:.0} s{}",
        outcome
            .runs
            .map_or_else(|| "?".to_owned(), |n| n.to_string()),
        started.elapsed().as_secs_f64(),
        if outcome.failure.is_some() {
            ", FAILED"
        } else {
            ""
        }
    );
    Ok(outcome)
}

/// libFuzzer's final statistics (`stat::number_of_executed_units: 1234567`), also printed
/// after a crash.
fn runs(log: &str) -> Option<u64> {
    log.lines().rev().find_map(|line| {
        line.strip_prefix("stat::number_of_executed_units:")?
            .trim()
            .parse()
            .ok()
    })
}

/// The panic message and the reproducer's path, from libFuzzer's output.
fn describe_failure(log: &str, log_path: &Path) -> String {
    let reproducer = log
        .lines()
        .find_map(|line| {
            line.split_once("Test unit written to ")
                .map(|(_, p)| p.trim())
        })
        .map(|path| cmd::workspace_root().join("fuzz").join(path))
        .map(|path| absolute_or_same(&path));
    let cause = log
        .lines()
        .skip_while(|line| !line.contains("panicked at") && !line.contains("ERROR: libFuzzer"))
        .take(4)
        .collect::<Vec<_>>()
        .join("\n    ");
    match reproducer {
        Some(path) => format!(
            "{cause}\n  reproducer: {}\n  run it again with: cargo fuzz run --sanitizer none {} {}",
            path.display(),
            target_of(log).unwrap_or("TARGET"),
            path.display()
        ),
        None => format!(
            "{cause}\n  no reproducer was written; see {}",
            cmd::relative(log_path).display()
        ),
    }
}

/// libFuzzer writes the reproducer's path relative to where cargo-fuzz ran it, `fuzz/`.
fn absolute_or_same(path: &Path) -> PathBuf {
    fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The target's name, from the artifact path `artifacts/<target>/crash-...`.
fn target_of(log: &str) -> Option<&str> {
    log.lines()
        .find_map(|line| line.split_once("Test unit written to "))
        .and_then(|(_, path)| path.trim().split('/').rev().nth(1))
}

fn report(outcomes: &[Outcome], seconds: u64) -> Result<(), Error> {
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| o.failure.is_some()).collect();
    println!(
        "fuzz: {} targets, up to {seconds} s each: {}",
        outcomes.len(),
        outcomes
            .iter()
            .map(|o| format!(
                "{} {} runs",
                o.target,
                o.runs.map_or_else(|| "?".to_owned(), |n| n.to_string())
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );
    match failed.first() {
        None => {
            println!("fuzz: no crash found");
            Ok(())
        }
        Some(outcome) => Err(Error::Fuzz(format!(
            "fuzz target `{}` failed:\n    {}",
            outcome.target,
            outcome.failure.as_deref().unwrap_or_default()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_runs_and_the_reproducer_from_libfuzzer_output() {
        let log = "#1000\tpulse  cov: 10\n\
                   thread '<unnamed>' panicked at fuzz_targets/x.rs:1:2:\n\
                   boom\n\
                   ==1== ERROR: libFuzzer: deadly signal\n\
                   artifact_prefix='/w/fuzz/artifacts/token_response/'; Test unit written to \
                   /w/fuzz/artifacts/token_response/crash-abc\n";
        assert_eq!(runs(log), None);
        assert_eq!(
            runs("Done 1234567 runs in 30 second(s)\nstat::number_of_executed_units: 1234567\n"),
            Some(1_234_567)
        );
        assert_eq!(target_of(log), Some("token_response"));
        let text = describe_failure(log, Path::new("/w/log"));
        assert!(
            text.starts_with("thread '<unnamed>' panicked at fuzz_targets/x.rs:1:2:\n    boom"),
            "{text}"
        );
        assert!(
            text.contains("reproducer: /w/fuzz/artifacts/token_response/crash-abc"),
            "{text}"
        );
        assert!(
            text.contains("cargo fuzz run --sanitizer none token_response /w/fuzz/artifacts/token_response/crash-abc"),
            "{text}"
        );
    }
}
