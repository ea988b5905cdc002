//! The state file that lets `start`, `stop` and `status` (separate processes) find what runs.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Flavour;
use crate::error::Error;
use crate::process;

/// `.azurite/run/state.json`: what this checkout's Azurite processes are and where they listen.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct State {
    /// The Azurite version that was started, for `status`.
    pub(super) azurite_version: String,
    /// The HTTPS flavour's certificate, which clients trust as their CA.
    pub(super) ca_cert: Option<PathBuf>,
    pub(super) instances: Vec<Instance>,
}

/// One running `azurite-blob` process.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Instance {
    pub(crate) flavour: Flavour,
    /// The process id, which is also the id of its process group.
    pub(crate) pid: u32,
    pub(crate) port: u16,
    /// The blob service endpoint with the development account, path-style.
    pub(crate) endpoint: String,
    /// Azurite's standard output and error (one access-log line per request).
    pub(crate) log: PathBuf,
    /// Azurite's `--debug` log, which shows the string-to-sign it expected on a signature mismatch.
    pub(crate) debug_log: PathBuf,
}

impl Instance {
    /// Whether the recorded process group still runs Azurite (and not a reused pid).
    pub(crate) fn is_alive(&self) -> bool {
        process::group_runs(self.pid, "azurite")
    }
}

impl State {
    /// Reads the state file; a missing file is an empty state.
    pub(super) fn load(path: &Path) -> Result<State, Error> {
        match fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                Error::Azurite(format!(
                    "{} is not a valid Azurite state file ({e}); stop any Azurite started from \
                     this checkout by hand (`pgrep -af azurite-blob`), then delete the file",
                    path.display()
                ))
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(Error::io("read", path, e)),
        }
    }

    /// Writes the state file atomically (a reader never sees half a file), or removes it when
    /// nothing runs any more.
    pub(super) fn save(&self, path: &Path) -> Result<(), Error> {
        if self.instances.is_empty() {
            return match fs::remove_file(path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(Error::io("remove", path, e)),
                _ => Ok(()),
            };
        }
        let json = serde_json::to_vec_pretty(self).map_err(|source| Error::Json {
            path: path.to_path_buf(),
            source,
        })?;
        let temporary = path.with_extension("json.tmp");
        fs::write(&temporary, json).map_err(|e| Error::io("write", &temporary, e))?;
        fs::rename(&temporary, path).map_err(|e| Error::io("write", path, e))
    }

    pub(super) fn instance(&self, flavour: Flavour) -> Option<&Instance> {
        self.instances.iter().find(|i| i.flavour == flavour)
    }

    /// Forgets instances whose process is gone (killed, crashed, or the machine restarted).
    pub(super) fn prune(&mut self) {
        self.instances.retain(Instance::is_alive);
    }

    pub(super) fn remove(&mut self, pid: u32) {
        self.instances.retain(|i| i.pid != pid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(flavour: Flavour, pid: u32, port: u16) -> Instance {
        Instance {
            flavour,
            pid,
            port,
            endpoint: format!("http://127.0.0.1:{port}/devstoreaccount1"),
            log: PathBuf::from(format!("/run/{flavour}.log")),
            debug_log: PathBuf::from(format!("/run/{flavour}-debug.log")),
        }
    }

    #[test]
    fn saves_loads_and_removes_the_file_when_nothing_runs() {
        let dir = std::env::temp_dir().join(format!("xtask-state-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state.json");
        assert!(
            State::load(&path).unwrap().instances.is_empty(),
            "missing file, empty state"
        );

        let mut state = State {
            azurite_version: "3.35.0".to_owned(),
            ca_cert: Some(dir.join("cert.pem")),
            instances: vec![
                instance(Flavour::Http, 11, 10000),
                instance(Flavour::Https, 12, 10001),
            ],
        };
        state.save(&path).unwrap();
        let loaded = State::load(&path).unwrap();
        assert_eq!(loaded.azurite_version, "3.35.0");
        assert_eq!(loaded.ca_cert, Some(dir.join("cert.pem")));
        assert_eq!(loaded.instance(Flavour::Https).unwrap().pid, 12);
        assert_eq!(loaded.instance(Flavour::Http).unwrap().port, 10000);
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains(r#""flavour": "https""#), "{text}");

        state.remove(11);
        state.remove(12);
        state.save(&path).unwrap();
        assert!(!path.exists(), "an empty state leaves no file");
        fs::write(&path, "{ not json").unwrap();
        let error = State::load(&path).unwrap_err().to_string();
        assert!(error.contains("not a valid Azurite state file"), "{error}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
