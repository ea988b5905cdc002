//! `cargo xtask`: the project's automation, in Rust so it runs wherever cargo does.
//!
//! - `cargo xtask demo [FILE]`: the main job, an image stored with no key anywhere;
//! - `cargo xtask azurite start|stop|status`: the local Azurite blob emulator;
//! - `cargo xtask test`: fmt, clippy, unit tests, then the Azurite suite, as CI runs them;
//! - `cargo xtask fuzz [--seconds N]`: each cargo-fuzz target for a bounded time;
//! - `cargo xtask bench [--quick]`: the benchmarks against object_store and raw reqwest.

mod azurite;
mod bench;
mod cert;
mod cmd;
mod demo;
mod error;
mod fuzz;
mod process;
mod test;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use azurite::{Flavour, Ports};
use error::Error;

#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    about = "Project automation: the demo, Azurite and the test suite."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Store an image in Azurite as an app on an Azure VM would: managed identity, no key.
    ///
    /// Starts Azurite over HTTPS with OAuth and a local managed identity endpoint, runs the
    /// demo app configured only by its environment (account name, no key), and stops both.
    /// With AZURE_STORAGE_CONNECTION_STRING=UseDevelopmentStorage=true it takes the key path.
    Demo {
        /// The file to store (default: the picture in assets/).
        file: Option<std::path::PathBuf>,
        #[command(flatten)]
        ports: Ports,
    },
    /// Install, start, stop or inspect the local Azurite blob emulator.
    Azurite {
        #[command(subcommand)]
        action: AzuriteAction,
    },
    /// Run fmt, clippy, the unit tests and the Azurite suite, as CI does.
    Test(test::TestArgs),
    /// Run each cargo-fuzz target of fuzz/ for a bounded time; fail on a crash.
    ///
    /// Installs cargo-fuzz if it is missing. Not part of `test`: it takes minutes.
    Fuzz(fuzz::FuzzArgs),
    /// Measure signing, token reads, small and large blobs against object_store and raw
    /// reqwest, and the demo workload on Azurite; write a markdown table of the results.
    ///
    /// Not part of `test`: a full run takes several minutes.
    Bench(bench::BenchArgs),
}

#[derive(Debug, Subcommand)]
enum AzuriteAction {
    /// Install Azurite if needed and start it in the background on 127.0.0.1.
    Start {
        /// Which flavour to run: HTTP with SharedKey, HTTPS with OAuth, or both.
        #[arg(long, value_enum, default_value_t = FlavourChoice::Both)]
        flavour: FlavourChoice,
        #[command(flatten)]
        ports: Ports,
    },
    /// Stop the Azurite processes started from this checkout.
    Stop,
    /// Show what runs, where it listens and where it logs.
    Status,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FlavourChoice {
    Http,
    Https,
    Both,
}

impl FlavourChoice {
    fn flavours(self) -> &'static [Flavour] {
        match self {
            FlavourChoice::Http => &[Flavour::Http],
            FlavourChoice::Https => &[Flavour::Https],
            FlavourChoice::Both => &Flavour::ALL,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Processes started in their own group do not see the terminal's Ctrl-C: stop them here.
    let handler = ctrlc::set_handler(|| {
        eprintln!("\nInterrupted: stopping what this command started.");
        azurite::stop_started_here();
        std::process::exit(130);
    });
    if let Err(e) = handler {
        eprintln!("warning: no Ctrl-C handler ({e}); an interrupted run may leave Azurite running");
    }

    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Every variant's message already includes its cause.
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<(), Error> {
    match command {
        Command::Azurite { action } => match action {
            AzuriteAction::Start { flavour, ports } => {
                let running = azurite::start(flavour.flavours(), ports)?;
                for (name, value) in running.env_vars() {
                    println!("export {name}={value}");
                }
                running.detach();
                Ok(())
            }
            AzuriteAction::Stop => azurite::stop(),
            AzuriteAction::Status => azurite::status(),
        },
        Command::Demo { file, ports } => demo::run(file, ports, demo::Auth::from_env()),
        Command::Test(args) => test::run(&args),
        Command::Fuzz(args) => fuzz::run(&args),
        Command::Bench(args) => bench::run(&args),
    }
}
