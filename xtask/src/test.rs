//! `cargo xtask test`: everything CI checks, in order, stopping at the first failure.
//!
//! fmt, clippy, the unit and wiremock tests of every package but the Azurite suite, then Azurite
//! (both flavours), the suite against it, and the demo (the README's main job) on the same
//! Azurite, over a managed identity and over the key path. Azurite is stopped afterwards whatever happened:
//! by the [`RunningAzurite`](crate::azurite::RunningAzurite) guard on an error or a panic, and by
//! the Ctrl-C handler in `main` on an interruption.

use std::time::{Duration, Instant};

use crate::azurite::{self, Flavour, Ports};
use crate::cmd;
use crate::demo;
use crate::error::Error;

/// Options of `cargo xtask test`.
#[derive(Debug, clap::Args)]
pub(crate) struct TestArgs {
    /// Skip `cargo fmt --check` and `cargo clippy`.
    #[arg(long)]
    no_lint: bool,
    #[command(flatten)]
    ports: Ports,
}

/// The steps, in the order they run.
const STEPS: [&str; 8] = [
    "fmt",
    "clippy",
    "unit tests",
    "azurite start",
    "azurite suite",
    "demo",
    "demo (key)",
    "azurite stop",
];

/// Runs every step and prints one summary line per step; the error names the failed step.
pub(crate) fn run(args: &TestArgs) -> Result<(), Error> {
    let mut report = Report::default();
    let result = run_steps(args, &mut report);
    report.print();
    result
}

fn run_steps(args: &TestArgs, report: &mut Report) -> Result<(), Error> {
    if args.no_lint {
        report.skipped("fmt");
        report.skipped("clippy");
    } else {
        report.step("fmt", || {
            cmd::run(&mut cmd::cargo(["fmt", "--all", "--", "--check"]))
        })?;
        report.step("clippy", || {
            cmd::run(&mut cmd::cargo([
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ]))
        })?;
    }
    report.step("unit tests", || {
        cmd::run(&mut cmd::cargo([
            "test",
            "--workspace",
            "--exclude",
            "azurite-suite",
        ]))
    })?;

    let running = report.step("azurite start", || {
        azurite::start(&Flavour::ALL, args.ports)
    })?;
    let suite = report.step("azurite suite", || {
        // The suite runs the azblob CLI as a user would: as a separate, built program.
        cmd::run(&mut cmd::cargo([
            "build",
            "-p",
            "storage-facade",
            "--bin",
            "azblob",
        ]))?;
        let mut command = cmd::cargo(["test", "-p", "azurite-suite"]);
        command
            .envs(running.env_vars())
            .env("AZBLOB_BIN", cmd::target_dir().join("debug/azblob"));
        cmd::run(&mut command)
    });
    // The README's main job must keep working: run it as a user would, on the same Azurite,
    // over a managed identity and over the key path the README also shows.
    let demo = suite
        .and_then(|()| {
            report.step("demo", || {
                demo::run(None, args.ports, demo::Auth::ManagedIdentity)
            })
        })
        .and_then(|()| {
            report.step("demo (key)", || {
                demo::run(None, args.ports, demo::Auth::DevelopmentKey)
            })
        });
    // Stop even when the suite failed; the suite's error is the one to report.
    let stopped = report.step("azurite stop", || running.stop());
    demo.and(stopped)
}

/// What each step did and how long it took.
#[derive(Default)]
struct Report {
    outcomes: Vec<(&'static str, Outcome)>,
}

enum Outcome {
    Passed(Duration),
    Failed(Duration),
    Skipped,
}

impl Report {
    fn step<T>(
        &mut self,
        name: &'static str,
        body: impl FnOnce() -> Result<T, Error>,
    ) -> Result<T, Error> {
        println!("==> {name}");
        let started = Instant::now();
        let result = body();
        let elapsed = started.elapsed();
        match result {
            Ok(value) => {
                self.outcomes.push((name, Outcome::Passed(elapsed)));
                Ok(value)
            }
            Err(source) => {
                self.outcomes.push((name, Outcome::Failed(elapsed)));
                Err(Error::Step {
                    step: name,
                    source: Box::new(source),
                })
            }
        }
    }

    fn skipped(&mut self, name: &'static str) {
        self.outcomes.push((name, Outcome::Skipped));
    }

    fn print(&self) {
        println!();
        println!("cargo xtask test summary:");
        for name in STEPS {
            let line = match self.outcomes.iter().find(|(n, _)| *n == name) {
                Some((_, Outcome::Passed(took))) => {
                    format!("ok       {name:<14} {:>7.1} s", took.as_secs_f64())
                }
                Some((_, Outcome::Failed(took))) => {
                    format!("FAILED   {name:<14} {:>7.1} s", took.as_secs_f64())
                }
                Some((_, Outcome::Skipped)) => format!("skipped  {name}"),
                None => format!("not run  {name}"),
            };
            println!("  {line}");
        }
        println!("{}", self.totals());
    }

    /// The closing line, in the `N passed, N failed, N skipped` form CI logs are read for.
    fn totals(&self) -> String {
        let count =
            |wanted: fn(&Outcome) -> bool| self.outcomes.iter().filter(|(_, o)| wanted(o)).count();
        let passed = count(|o| matches!(o, Outcome::Passed(_)));
        let failed = count(|o| matches!(o, Outcome::Failed(_)));
        let skipped = STEPS.len() - passed - failed;
        format!("steps: {passed} passed, {failed} failed, {skipped} skipped")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_count_steps_not_run_as_skipped() {
        let mut report = Report::default();
        report.skipped("fmt");
        report.skipped("clippy");
        report.step("unit tests", || Ok(())).unwrap();
        let failed = report
            .step("azurite start", || -> Result<(), Error> {
                Err(Error::Azurite("port 10000 is taken".to_owned()))
            })
            .unwrap_err();
        assert_eq!(
            failed.to_string(),
            "step `azurite start` failed: port 10000 is taken"
        );
        assert_eq!(report.totals(), "steps: 1 passed, 1 failed, 6 skipped");
    }
}
