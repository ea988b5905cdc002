//! Running external programs (cargo, npm, node) with errors that name the command that failed.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

use crate::error::Error;

/// The workspace root: xtask lives one level below it.
pub(crate) fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask's manifest directory has a parent")
}

/// Where cargo puts what it builds: `CARGO_TARGET_DIR` when set, else `target/` of the workspace.
pub(crate) fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => workspace_root().join(dir),
        None => workspace_root().join("target"),
    }
}

/// A path relative to the workspace root, for messages (absolute when outside it).
pub(crate) fn relative(path: &Path) -> PathBuf {
    path.strip_prefix(workspace_root())
        .map_or_else(|_| path.to_path_buf(), Path::to_path_buf)
}

/// A `cargo` command run from the workspace root. `cargo xtask` sets `CARGO` to the cargo that
/// built us, so nested commands use the same toolchain.
pub(crate) fn cargo<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: Into<OsString>,
{
    let program = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(program);
    command
        .args(args.into_iter().map(Into::into))
        .current_dir(workspace_root());
    command
}

/// The command line as a user would type it, for messages. Only our own commands pass through
/// here and none of them carries a secret in its arguments.
pub(crate) fn display(command: &Command) -> String {
    let program = Path::new(command.get_program())
        .file_name()
        .unwrap_or(command.get_program())
        .to_string_lossy()
        .into_owned();
    std::iter::once(program)
        .chain(command.get_args().map(|a| a.to_string_lossy().into_owned()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `command` with inherited stdio and fails unless it exits successfully.
pub(crate) fn run(command: &mut Command) -> Result<(), Error> {
    let status = command.status().map_err(|e| spawn_error(command, &e))?;
    check(command, status)
}

/// Runs `command`, capturing its standard output, and returns it trimmed.
pub(crate) fn output(command: &mut Command) -> Result<String, Error> {
    let output = command.output().map_err(|e| spawn_error(command, &e))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(Error::Command(format!(
            "`{}` {}: {}",
            display(command),
            describe(output.status),
            stderr.trim()
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn check(command: &Command, status: ExitStatus) -> Result<(), Error> {
    if status.success() {
        Ok(())
    } else {
        Err(Error::Command(format!(
            "`{}` {}",
            display(command),
            describe(status)
        )))
    }
}

fn describe(status: ExitStatus) -> String {
    match status.code() {
        Some(code) => format!("exited with status {code}"),
        None => "was killed by a signal".to_owned(),
    }
}

fn spawn_error(command: &Command, error: &io::Error) -> Error {
    let program = command.get_program().to_string_lossy();
    let hint = if error.kind() == io::ErrorKind::NotFound {
        format!(" (is `{program}` installed and on PATH?)")
    } else {
        String::new()
    };
    Error::Command(format!(
        "could not run `{}`: {error}{hint}",
        display(command)
    ))
}
