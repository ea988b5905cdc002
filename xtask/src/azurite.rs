//! The local Azurite blob emulator: install, start, stop and status.
//!
//! Two flavours run as separate `azurite-blob` processes on 127.0.0.1, both in memory:
//! - HTTP (default port 10000): SharedKey, like `UseDevelopmentStorage=true`;
//! - HTTPS (default port 10001): `--oauth basic`, so bearer tokens are accepted, with a
//!   self-signed certificate generated at each start.
//!
//! Each process leads its own process group and outlives the command that started it;
//! `.azurite/run/state.json` records them so that `stop` and `status`, run later, find them.
//! [`start`] returns a [`RunningAzurite`] guard that stops what it started when dropped, unless
//! [`RunningAzurite::detach`] hands the processes over (as `cargo xtask azurite start` does).

mod install;
mod state;

use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::cert::{self, CertFiles};
use crate::cmd;
use crate::error::Error;
use crate::process;
use state::{Instance, State};

/// Azurite's well-known development account, the first path segment of every endpoint.
pub(crate) const ACCOUNT: &str = "devstoreaccount1";

/// How long Azurite gets to start listening; Node starts it in a few seconds even on a busy
/// 2-core machine.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// What Azurite prints once its listener is bound.
const READY_MARKER: &str = "successfully listens on";
/// How much of Azurite's log an error quotes.
const LOG_TAIL_BYTES: u64 = 4096;

/// The two ways this project runs Azurite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Flavour {
    /// Plain HTTP with SharedKey authentication.
    Http,
    /// HTTPS with `--oauth basic`: bearer tokens (and SharedKey) accepted.
    Https,
}

impl Flavour {
    /// Both flavours, HTTP first.
    pub(crate) const ALL: [Flavour; 2] = [Flavour::Http, Flavour::Https];

    fn scheme(self) -> &'static str {
        match self {
            Flavour::Http => "http",
            Flavour::Https => "https",
        }
    }
}

impl fmt::Display for Flavour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.scheme())
    }
}

/// The emulator's customary ports, which `UseDevelopmentStorage=true` assumes for HTTP.
const DEFAULT_HTTP_PORT: u16 = 10000;
const DEFAULT_HTTPS_PORT: u16 = 10001;

/// The ports Azurite listens on, from the command line or the environment.
#[derive(Debug, Clone, Copy, clap::Args)]
pub(crate) struct Ports {
    /// Port of the HTTP (SharedKey) flavour.
    #[arg(
        long,
        env = "AZURITE_HTTP_PORT",
        default_value_t = DEFAULT_HTTP_PORT,
        value_parser = clap::value_parser!(u16).range(1..)
    )]
    pub(crate) http_port: u16,
    /// Port of the HTTPS (OAuth) flavour.
    #[arg(
        long,
        env = "AZURITE_HTTPS_PORT",
        default_value_t = DEFAULT_HTTPS_PORT,
        value_parser = clap::value_parser!(u16).range(1..)
    )]
    pub(crate) https_port: u16,
}

impl Default for Ports {
    fn default() -> Self {
        Ports {
            http_port: DEFAULT_HTTP_PORT,
            https_port: DEFAULT_HTTPS_PORT,
        }
    }
}

impl Ports {
    fn port(self, flavour: Flavour) -> u16 {
        match flavour {
            Flavour::Http => self.http_port,
            Flavour::Https => self.https_port,
        }
    }
}

/// Where the install and the run state live: `.azurite/` at the workspace root (git-ignored).
struct Paths {
    npm: PathBuf,
    run: PathBuf,
}

impl Paths {
    fn new() -> Paths {
        let base = cmd::workspace_root().join(".azurite");
        Paths {
            npm: base.join("npm"),
            run: base.join("run"),
        }
    }

    fn state_file(&self) -> PathBuf {
        self.run.join("state.json")
    }
}

/// Azurite instances that answer, for the flavours asked for. Dropping it stops the ones this
/// value started (not the ones that were already running); see [`RunningAzurite::detach`].
#[derive(Debug)]
pub(crate) struct RunningAzurite {
    instances: Vec<Instance>,
    ca_cert: Option<PathBuf>,
    /// Process groups started by this value and still to be stopped by it.
    owned: Vec<u32>,
}

impl RunningAzurite {
    /// The blob endpoint of `flavour`, e.g. `http://127.0.0.1:10000/devstoreaccount1`, if it runs.
    pub(crate) fn blob_endpoint(&self, flavour: Flavour) -> Option<&str> {
        self.instance(flavour).map(|i| i.endpoint.as_str())
    }

    /// The PEM certificate clients must trust to reach the HTTPS flavour, if it runs.
    pub(crate) fn ca_cert(&self) -> Option<&Path> {
        self.instance(Flavour::Https).and(self.ca_cert.as_deref())
    }

    /// The variables the Azurite suite reads: `AZURITE_BLOB_HTTP`, `AZURITE_BLOB_HTTPS` and
    /// `AZURITE_CA_CERT`, for the flavours that run.
    pub(crate) fn env_vars(&self) -> Vec<(&'static str, String)> {
        let mut vars = Vec::new();
        if let Some(endpoint) = self.blob_endpoint(Flavour::Http) {
            vars.push(("AZURITE_BLOB_HTTP", endpoint.to_owned()));
        }
        if let Some(endpoint) = self.blob_endpoint(Flavour::Https) {
            vars.push(("AZURITE_BLOB_HTTPS", endpoint.to_owned()));
        }
        if let Some(cert) = self.ca_cert() {
            vars.push(("AZURITE_CA_CERT", cert.display().to_string()));
        }
        vars
    }

    /// Leaves the processes running after this command exits; `cargo xtask azurite stop` ends
    /// them later.
    pub(crate) fn detach(mut self) {
        for pid in self.owned.drain(..) {
            process::release(pid);
        }
    }

    /// Stops the processes this value started, reporting a failure instead of printing it.
    pub(crate) fn stop(mut self) -> Result<(), Error> {
        self.stop_owned()
    }

    fn instance(&self, flavour: Flavour) -> Option<&Instance> {
        self.instances.iter().find(|i| i.flavour == flavour)
    }

    fn stop_owned(&mut self) -> Result<(), Error> {
        // Processes first: a state file that cannot be read must not keep them alive.
        let mut stopped = Vec::new();
        let mut first_error = None;
        for pid in std::mem::take(&mut self.owned) {
            match process::stop_group(pid) {
                Ok(()) => stopped.push(pid),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        let forgotten = forget(&stopped);
        first_error.map_or(forgotten, Err)
    }
}

impl Drop for RunningAzurite {
    fn drop(&mut self) {
        if !self.owned.is_empty() {
            if let Err(e) = self.stop_owned() {
                eprintln!("warning: could not stop Azurite: {e}");
            }
        }
    }
}

/// Makes sure Azurite runs for each of `flavours` on `ports`: installs it if needed, reuses an
/// instance of this checkout that already answers, starts the others and waits until they
/// listen.
///
/// Fails, naming the port, when a port is taken by some other program.
pub(crate) fn start(flavours: &[Flavour], ports: Ports) -> Result<RunningAzurite, Error> {
    if ports.http_port == ports.https_port && flavours.len() > 1 {
        return Err(Error::Azurite(format!(
            "both flavours are set to port {}; give HTTP and HTTPS different ports",
            ports.http_port
        )));
    }
    let paths = Paths::new();
    let installed = install::ensure_installed(&paths)?;
    fs::create_dir_all(&paths.run).map_err(|e| Error::io("create", &paths.run, e))?;
    let mut state = State::load(&paths.state_file())?;
    state.prune();
    state.azurite_version.clone_from(&installed.version);

    // From here on, dropping `running` (on an error too) stops what was started.
    let mut running = RunningAzurite {
        instances: Vec::new(),
        ca_cert: None,
        owned: Vec::new(),
    };
    // First decide, so that a taken port is reported before anything starts.
    let mut to_start = Vec::new();
    for &flavour in flavours {
        let port = ports.port(flavour);
        match state.instance(flavour).cloned() {
            Some(existing) if existing.port != port => {
                return Err(Error::Azurite(format!(
                    "Azurite ({flavour}) of this checkout already runs on port {} (pid {}), \
                     not on {port}; stop it first with `cargo xtask azurite stop`",
                    existing.port, existing.pid
                )));
            }
            Some(existing) => {
                // It may still be coming up, started by a concurrent command.
                wait_ready(&existing)?;
                println!(
                    "Azurite ({flavour}) is already running: pid {}, {}",
                    existing.pid, existing.endpoint
                );
                running.instances.push(existing);
            }
            None => {
                check_port_free(flavour, port)?;
                to_start.push((flavour, port));
            }
        }
    }

    let mut starting = Vec::new();
    for (flavour, port) in to_start {
        let cert = match flavour {
            Flavour::Http => None,
            Flavour::Https => {
                let files = cert::generate_self_signed(&paths.run)?;
                state.ca_cert = Some(files.cert.clone());
                Some(files)
            }
        };
        let instance = spawn(&installed.blob_bin, &paths, flavour, port, cert.as_ref())?;
        running.owned.push(instance.pid);
        state.instances.push(instance.clone());
        state.save(&paths.state_file())?;
        starting.push(instance);
    }
    for instance in starting {
        wait_ready(&instance)?;
        println!(
            "Azurite {} ({}) started: pid {}, {}",
            installed.version, instance.flavour, instance.pid, instance.endpoint
        );
        running.instances.push(instance);
    }
    running.ca_cert.clone_from(&state.ca_cert);
    Ok(running)
}

/// Stops the Azurite processes this process started and has not detached, and forgets them in
/// the state file. For the Ctrl-C handler, which cannot rely on guards being dropped.
pub(crate) fn stop_started_here() {
    let stopped = process::stop_all_spawned();
    if let Err(e) = forget(&stopped) {
        eprintln!("warning: {e}");
    }
}

/// Removes the stopped process groups `pids` from the state file.
fn forget(pids: &[u32]) -> Result<(), Error> {
    if pids.is_empty() {
        return Ok(());
    }
    let state_file = Paths::new().state_file();
    let mut state = State::load(&state_file)?;
    for &pid in pids {
        state.remove(pid);
    }
    state.save(&state_file)
}

/// Stops every Azurite process this checkout recorded, and forgets them.
pub(crate) fn stop() -> Result<(), Error> {
    let paths = Paths::new();
    let mut state = State::load(&paths.state_file())?;
    if state.instances.is_empty() {
        println!(
            "Azurite is not running (nothing recorded in {}).",
            shown(&paths.state_file())
        );
        return Ok(());
    }
    let mut first_error = None;
    for instance in state.instances.clone() {
        if !instance.is_alive() {
            println!(
                "Azurite ({}) pid {} had already exited.",
                instance.flavour, instance.pid
            );
            state.remove(instance.pid);
            continue;
        }
        match process::stop_group(instance.pid) {
            Ok(()) => {
                println!(
                    "Stopped Azurite ({}) pid {} on port {}.",
                    instance.flavour, instance.pid, instance.port
                );
                state.remove(instance.pid);
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    state.save(&paths.state_file())?;
    first_error.map_or(Ok(()), Err)
}

/// Prints what runs. Fails when nothing runs or a recorded instance does not answer, so that
/// scripts can test it.
pub(crate) fn status() -> Result<(), Error> {
    let paths = Paths::new();
    let state = State::load(&paths.state_file())?;
    if state.instances.is_empty() {
        return Err(Error::Azurite(
            "Azurite is not running; start it with `cargo xtask azurite start`".to_owned(),
        ));
    }
    let mut healthy = true;
    for instance in &state.instances {
        let condition = if !instance.is_alive() {
            "exited"
        } else if port_answers(instance.port) {
            "running"
        } else {
            "not answering"
        };
        healthy &= condition == "running";
        println!(
            "Azurite {} ({}): {condition}, pid {}, {}",
            state.azurite_version, instance.flavour, instance.pid, instance.endpoint
        );
        println!(
            "  logs: {} and {}",
            shown(&instance.log),
            shown(&instance.debug_log)
        );
        if instance.flavour == Flavour::Https {
            if let Some(cert) = &state.ca_cert {
                println!("  CA certificate: {}", shown(cert));
            }
        }
    }
    if healthy {
        Ok(())
    } else {
        Err(Error::Azurite(
            "some recorded Azurite instance is not running; `cargo xtask azurite stop` clears \
             them, then start again"
                .to_owned(),
        ))
    }
}

fn spawn(
    blob_bin: &Path,
    paths: &Paths,
    flavour: Flavour,
    port: u16,
    cert: Option<&CertFiles>,
) -> Result<Instance, Error> {
    let log = paths.run.join(format!("{flavour}.log"));
    let debug_log = paths.run.join(format!("{flavour}-debug.log"));
    let log_file = File::create(&log).map_err(|e| Error::io("create", &log, e))?;
    let stderr = log_file
        .try_clone()
        .map_err(|e| Error::io("open", &log, e))?;

    let mut command = Command::new(blob_bin);
    command
        .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
        .args([
            "--disableTelemetry",
            "--skipApiVersionCheck",
            "--inMemoryPersistence",
        ])
        .arg("--debug")
        .arg(&debug_log);
    if let Some(cert) = cert {
        command
            .args(["--oauth", "basic", "--cert"])
            .arg(&cert.cert)
            .arg("--key")
            .arg(&cert.key);
    }
    // Azurite writes nothing else with in-memory persistence, but keep its working directory ours.
    command
        .current_dir(&paths.run)
        .stdout(log_file)
        .stderr(stderr);
    let pid = process::spawn_group(&mut command)?;
    Ok(Instance {
        flavour,
        pid,
        port,
        endpoint: format!("{}://127.0.0.1:{port}/{ACCOUNT}", flavour.scheme()),
        log,
        debug_log,
    })
}

/// Refuses a port that something already listens on, rather than letting Azurite fail later.
fn check_port_free(flavour: Flavour, port: u16) -> Result<(), Error> {
    match TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => Err(Error::Azurite(format!(
            "port {port} on 127.0.0.1 is already in use, so Azurite ({flavour}) cannot listen \
             there; stop the program holding it (another Azurite?) or choose another port with \
             --{flavour}-port or AZURITE_{}_PORT",
            flavour.scheme().to_uppercase()
        ))),
        Err(e) => Err(Error::Io {
            context: format!("could not check whether port {port} on 127.0.0.1 is free"),
            source: e,
        }),
    }
}

/// Waits until Azurite says it listens and the port accepts a connection; on failure, quotes
/// the end of its log.
fn wait_ready(instance: &Instance) -> Result<(), Error> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Some(status) = process::child_exit_status(instance.pid) {
            return Err(Error::Azurite(format!(
                "Azurite ({}) exited during start-up ({status}); end of {}:\n{}",
                instance.flavour,
                shown(&instance.log),
                log_tail(&instance.log)
            )));
        }
        // The marker proves that our process bound the port, not some other program.
        let said_ready = fs::read_to_string(&instance.log).is_ok_and(|l| l.contains(READY_MARKER));
        if said_ready && port_answers(instance.port) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Error::Azurite(format!(
                "Azurite ({}) did not answer on 127.0.0.1:{} within {} s; end of {}:\n{}",
                instance.flavour,
                instance.port,
                READY_TIMEOUT.as_secs(),
                shown(&instance.log),
                log_tail(&instance.log)
            )));
        }
        thread::sleep(Duration::from_millis(100));
    }
}

fn port_answers(port: u16) -> bool {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    TcpStream::connect_timeout(&address, Duration::from_millis(500)).is_ok()
}

/// The last few KiB of a log file, for error messages.
fn log_tail(path: &Path) -> String {
    let read = || -> io::Result<String> {
        let mut file = File::open(path)?;
        let length = file.metadata()?.len();
        file.seek(SeekFrom::Start(length.saturating_sub(LOG_TAIL_BYTES)))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    read().unwrap_or_else(|e| format!("(could not read the log: {e})"))
}

fn shown(path: &Path) -> String {
    cmd::relative(path).display().to_string()
}
