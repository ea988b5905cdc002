//! Installing the pinned Azurite with `npm ci` into `.azurite/npm`, once per lock file.
//!
//! The version and the whole dependency tree are pinned by `tools/azurite/package.json` and its
//! lock file. They are copied into the ignored install folder and installed there with `npm ci`,
//! so the repository never holds a `node_modules` and a lock file change triggers a reinstall.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::Paths;
use crate::cmd;
use crate::error::Error;

/// The oldest Node.js major version Azurite 3.35's dependencies support.
const MIN_NODE_MAJOR: u32 = 20;

/// An installed Azurite.
#[derive(Debug)]
pub(super) struct Installed {
    /// The `azurite-blob` launcher.
    pub(super) blob_bin: PathBuf,
    pub(super) version: String,
}

/// Installs the pinned Azurite unless exactly that install is present already.
pub(super) fn ensure_installed(paths: &Paths) -> Result<Installed, Error> {
    let pinned_dir = cmd::workspace_root().join("tools/azurite");
    let manifest = pinned_dir.join("package.json");
    let lock_file = pinned_dir.join("package-lock.json");
    let version = pinned_version(&manifest)?;
    let lock = fs::read(&lock_file).map_err(|e| Error::io("read", &lock_file, e))?;

    let installed = Installed {
        blob_bin: paths.npm.join("node_modules/.bin/azurite-blob"),
        version,
    };
    // The stamp is the lock file as it was when `npm ci` last succeeded here.
    let stamp = paths.npm.join("installed-package-lock.json");
    let up_to_date = installed.blob_bin.exists()
        && fs::read(&stamp).is_ok_and(|s| s == lock)
        && installed_version(&paths.npm).as_deref() == Some(installed.version.as_str());
    if up_to_date {
        return Ok(installed);
    }

    check_node(&installed.version)?;
    println!(
        "Installing Azurite {} with `npm ci` into {} (once per lock file change)...",
        installed.version,
        cmd::relative(&paths.npm).display()
    );
    fs::create_dir_all(&paths.npm).map_err(|e| Error::io("create", &paths.npm, e))?;
    remove_if_present(&stamp)?;
    copy(&manifest, &paths.npm.join("package.json"))?;
    copy(&lock_file, &paths.npm.join("package-lock.json"))?;
    cmd::run(
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&paths.npm),
    )?;

    match installed_version(&paths.npm) {
        Some(found) if found == installed.version => {}
        found => {
            return Err(Error::Azurite(format!(
                "`npm ci` in {} did not install Azurite {} (found {})",
                paths.npm.display(),
                installed.version,
                found.as_deref().unwrap_or("nothing")
            )))
        }
    }
    fs::write(&stamp, &lock).map_err(|e| Error::io("write", &stamp, e))?;
    Ok(installed)
}

/// The exact version `package.json` pins; a range would defeat the pin, so it is refused.
fn pinned_version(manifest: &Path) -> Result<String, Error> {
    let text = fs::read(manifest).map_err(|e| Error::io("read", manifest, e))?;
    let json: serde_json::Value = serde_json::from_slice(&text).map_err(|source| Error::Json {
        path: manifest.to_path_buf(),
        source,
    })?;
    let version = json["dependencies"]["azurite"].as_str().unwrap_or_default();
    if is_exact_version(version) {
        Ok(version.to_owned())
    } else {
        Err(Error::Azurite(format!(
            "{} must pin `azurite` to an exact version such as \"3.35.0\", found {:?}",
            cmd::relative(manifest).display(),
            version
        )))
    }
}

/// `major.minor.patch` in digits: no range (`^`, `~`, `>=`), tag or URL.
fn is_exact_version(version: &str) -> bool {
    let parts: Vec<&str> = version.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

fn installed_version(npm_dir: &Path) -> Option<String> {
    let text = fs::read(npm_dir.join("node_modules/azurite/package.json")).ok()?;
    let json: serde_json::Value = serde_json::from_slice(&text).ok()?;
    json["version"].as_str().map(str::to_owned)
}

fn check_node(azurite_version: &str) -> Result<(), Error> {
    let found = cmd::output(Command::new("node").arg("--version"))?;
    let major = found
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse::<u32>().ok());
    match major {
        Some(major) if major >= MIN_NODE_MAJOR => Ok(()),
        _ => Err(Error::Azurite(format!(
            "Azurite {azurite_version} needs Node.js {MIN_NODE_MAJOR} or newer with npm, \
             found `node --version` = {found}; install Node.js {MIN_NODE_MAJOR} \
             (on Debian or Ubuntu: apt-get install nodejs npm)"
        ))),
    }
}

fn copy(from: &Path, to: &Path) -> Result<(), Error> {
    fs::copy(from, to)
        .map(drop)
        .map_err(|e| Error::io("copy to", to, e))
}

fn remove_if_present(path: &Path) -> Result<(), Error> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io("remove", path, e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_exact_versions_count_as_a_pin() {
        assert!(is_exact_version("3.35.0"));
        for loose in [
            "^3.35.0", "~3.35.0", ">=3.35.0", "3.35", "3.35.x", "latest", "", "3..0",
        ] {
            assert!(!is_exact_version(loose), "{loose:?} is not a pin");
        }
    }

    #[test]
    fn the_repository_pins_azurite_exactly() {
        let manifest = cmd::workspace_root().join("tools/azurite/package.json");
        assert_eq!(pinned_version(&manifest).unwrap(), "3.35.0");
        let lock = cmd::workspace_root().join("tools/azurite/package-lock.json");
        let lock: serde_json::Value = serde_json::from_slice(&fs::read(lock).unwrap()).unwrap();
        assert_eq!(
            lock["packages"]["node_modules/azurite"]["version"],
            "3.35.0"
        );
    }
}
