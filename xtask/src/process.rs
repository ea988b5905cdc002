//! Detached services in their own process group, and stopping them so that nothing is left.
//!
//! A service is started as the leader of a new process group, so that it outlives the xtask
//! command that started it (the terminal's Ctrl-C does not reach it) and so that stopping the
//! group also stops any child it forked. Liveness is read from `/proc`, where a zombie counts as
//! gone: an orphaned service is reaped by PID 1, which on some machines never happens.

use std::fs;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use crate::cmd;
use crate::error::Error;

/// How long a group gets to exit after SIGTERM before it gets SIGKILL.
const GRACE: Duration = Duration::from_secs(10);
/// How long to wait for the group to vanish after SIGKILL.
const KILL_WAIT: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(50);

/// Children this process started and has not handed over (see [`release`]). The Ctrl-C handler
/// stops them; keeping the `Child` lets us reap them so no zombie is left behind.
static SPAWNED: Mutex<Vec<Child>> = Mutex::new(Vec::new());

fn spawned() -> MutexGuard<'static, Vec<Child>> {
    // A panic elsewhere must not stop the cleanup path from running.
    SPAWNED.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Starts `command` as the leader of a new process group and returns its pid (= the group id).
pub(crate) fn spawn_group(command: &mut Command) -> Result<u32, Error> {
    let child = command
        .stdin(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| Error::Command(format!("could not start `{}`: {e}", cmd::display(command))))?;
    let pid = child.id();
    spawned().push(child);
    Ok(pid)
}

/// How our own child `pid` exited, or `None` while it runs (or when it is not our child).
///
/// For a service just started this is the reliable test: the kernel answers it, whereas
/// reading `/proc/<pid>/cmdline` can come back empty while the process is between two
/// `execve`s (`/usr/bin/env node ...` becoming `node ...`).
pub(crate) fn child_exit_status(pid: u32) -> Option<std::process::ExitStatus> {
    spawned()
        .iter_mut()
        .find(|child| child.id() == pid)
        .and_then(|child| child.try_wait().ok().flatten())
}

/// Forgets the child `pid` so that it keeps running after this process exits.
pub(crate) fn release(pid: u32) {
    spawned().retain(|child| child.id() != pid);
}

/// Stops every group this process started and did not release, and returns the ids of those
/// that are gone. For the Ctrl-C handler.
pub(crate) fn stop_all_spawned() -> Vec<u32> {
    let pids: Vec<u32> = spawned().iter().map(Child::id).collect();
    pids.into_iter()
        .filter(|&pid| match stop_group(pid) {
            Ok(()) => true,
            Err(e) => {
                eprintln!("warning: {e}");
                false
            }
        })
        .collect()
}

/// Live (non-zombie) processes of the group `pgid`. Linux only: this reads `/proc`.
pub(crate) fn group_members(pgid: u32) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| {
            stat(pid).is_some_and(|(state, group)| group == pgid && !matches!(state, 'Z' | 'X'))
        })
        .collect()
}

/// Whether the group `pgid` has a live process whose command line contains `needle`. This guards
/// against a recorded pid that has since been reused by an unrelated program.
pub(crate) fn group_runs(pgid: u32, needle: &str) -> bool {
    group_members(pgid).into_iter().any(|pid| {
        fs::read(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|line| String::from_utf8_lossy(&line).contains(needle))
    })
}

/// Sends SIGTERM to the group, then SIGKILL after [`GRACE`], and waits until no live process of
/// it remains. A group that is already gone is not an error.
pub(crate) fn stop_group(pgid: u32) -> Result<(), Error> {
    let group = Pid::from_raw(
        i32::try_from(pgid)
            .map_err(|_| Error::Command(format!("process group id {pgid} is out of range")))?,
    );
    for (signal, wait) in [(Signal::SIGTERM, GRACE), (Signal::SIGKILL, KILL_WAIT)] {
        match killpg(group, signal) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(e) => {
                return Err(Error::Command(format!(
                    "could not send {signal} to process group {pgid}: {e}"
                )))
            }
        }
        if wait_gone(pgid, wait) {
            forget_reaped(pgid);
            return Ok(());
        }
    }
    Err(Error::Command(format!(
        "process group {pgid} is still alive after SIGKILL: {:?}",
        group_members(pgid)
    )))
}

fn wait_gone(pgid: u32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        reap(pgid);
        if group_members(pgid).is_empty() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(POLL);
    }
}

/// Collects the exit status of our own child `pid`, if it is one, so it does not stay a zombie.
fn reap(pid: u32) {
    for child in spawned().iter_mut().filter(|c| c.id() == pid) {
        // An error here only means the child was reaped already.
        let _ = child.try_wait();
    }
}

/// Reaps our child `pid` (it has exited by now) and drops its handle.
fn forget_reaped(pid: u32) {
    reap(pid);
    release(pid);
}

/// The state letter and process group of `pid`, from `/proc/<pid>/stat`.
fn stat(pid: u32) -> Option<(char, u32)> {
    parse_stat(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Parses `pid (comm) state ppid pgrp ...`, see proc_pid_stat(5).
fn parse_stat(text: &str) -> Option<(char, u32)> {
    // The command name is in parentheses and may itself contain spaces or parentheses.
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let _parent = fields.next()?;
    let group = fields.next()?.parse().ok()?;
    Some((state, group))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_exit_status_is_read_from_the_kernel() {
        let pid = spawn_group(Command::new("sh").args(["-c", "exit 3"])).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = child_exit_status(pid) {
                break status;
            }
            assert!(Instant::now() < deadline, "`sh -c 'exit 3'` did not exit");
            thread::sleep(POLL);
        };
        assert_eq!(status.code(), Some(3));
        release(pid);

        let running = spawn_group(Command::new("sleep").arg("600")).unwrap();
        assert_eq!(child_exit_status(running), None);
        stop_group(running).unwrap();
    }

    #[test]
    fn parses_state_and_group_even_with_parentheses_in_the_name() {
        let line = "4242 (node (azurite) x) S 1 4240 4240 0 -1 4194560 100 0 0 0";
        assert_eq!(parse_stat(line), Some(('S', 4240)));
        assert_eq!(parse_stat("7 (zombie) Z 1 7 7"), Some(('Z', 7)));
        assert_eq!(parse_stat("7 (cut short) R"), None);
        assert_eq!(parse_stat("no parentheses"), None);
    }

    #[test]
    fn stopping_a_group_ends_the_leader_and_its_children() {
        // A shell that forks a child: both must go, and neither may linger as a zombie of ours.
        let pid = spawn_group(Command::new("sh").args(["-c", "sleep 600 & sleep 600; wait"]))
            .expect("sh starts");
        let deadline = Instant::now() + Duration::from_secs(10);
        while group_members(pid).len() < 3 && Instant::now() < deadline {
            thread::sleep(POLL);
        }
        assert_eq!(
            group_members(pid).len(),
            3,
            "sh and its two sleeps run in the group"
        );
        assert!(group_runs(pid, "sleep 600"));
        assert!(!group_runs(pid, "azurite"));

        stop_group(pid).expect("the group stops");
        assert_eq!(group_members(pid), Vec::<u32>::new());
        assert!(
            stat(pid).is_none(),
            "the leader was reaped, not left a zombie"
        );
        assert!(!spawned().iter().any(|c| c.id() == pid));
        stop_group(pid).expect("stopping a stopped group is not an error");
    }
}
