//! The `azblob` command line as a user runs it: a separate process, configured only by its
//! environment, over SharedKey (a connection string) and over a managed identity (an account
//! name and nothing secret).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use azurite_suite::{
    azblob, random_bytes, sha256_hex, unique_container, Azurite, DEV_ACCOUNT, DEV_KEY,
};
use local_identity::{LocalIdentityServer, Options};

fn run(command: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().unwrap();
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("azblob-cli-{name}-{:08x}", fastrand::u32(..)));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// An `azblob` configured by a connection string with the development key, over HTTP.
fn with_connection_string(azurite: &Azurite) -> impl Fn(&mut Command) {
    let connection_string = format!(
        "DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};BlobEndpoint={};",
        azurite.http_endpoint
    );
    move |c: &mut Command| {
        c.env("AZURE_STORAGE_CONNECTION_STRING", &connection_string);
    }
}

/// An `azblob` configured as on an Azure VM: an account name and nothing secret, over HTTPS,
/// with the identity endpoint at `identity_url`.
fn with_managed_identity(azurite: &Azurite, identity_url: &str) -> impl Fn(&mut Command) {
    let (endpoint, cert, identity_url) = (
        azurite.https_endpoint.clone(),
        azurite.ca_cert.clone(),
        identity_url.to_owned(),
    );
    move |c: &mut Command| {
        c.env("AZURE_STORAGE_ACCOUNT", DEV_ACCOUNT)
            .env("AZURE_STORAGE_BLOB_ENDPOINT", &endpoint)
            .env("AZURE_POD_IDENTITY_AUTHORITY_HOST", &identity_url)
            .env("SSL_CERT_FILE", &cert);
    }
}

/// put, stat, get to a file and to stdout, rm, then stat of the removed blob.
fn round_trip(configure: &dyn Fn(&mut Command), container: &str, dir: &Path) {
    let content = random_bytes(42, 300_000);
    let source = dir.join("holiday photo.jpg");
    std::fs::write(&source, &content).unwrap();
    let target = format!("{container}/albums/2026/holiday photo+1.jpg");
    let with = |args: &[&str]| {
        let mut command = azblob();
        configure(&mut command);
        command.args(args);
        command
    };

    let (code, stdout, stderr) = run(with(&["put", source.to_str().unwrap(), &target])
        .arg("--content-type")
        .arg("image/jpeg"));
    assert_eq!(code, 0, "put failed: {stderr}");
    assert_eq!(stdout.trim(), target);

    let (code, stdout, stderr) = run(&mut with(&["stat", &target]));
    assert_eq!(code, 0, "stat failed: {stderr}");
    assert!(stdout.contains("size:           300000 bytes"), "{stdout}");
    assert!(stdout.contains("content type:   image/jpeg"), "{stdout}");

    let copy = dir.join("copy.jpg");
    let (code, _, stderr) = run(&mut with(&["get", &target, copy.to_str().unwrap()]));
    assert_eq!(code, 0, "get failed: {stderr}");
    assert_eq!(
        sha256_hex(&std::fs::read(&copy).unwrap()),
        sha256_hex(&content)
    );

    let output = with(&["get", &target, "-"]).output().unwrap();
    assert!(output.status.success());
    assert_eq!(sha256_hex(&output.stdout), sha256_hex(&content));

    // A second put of the same name keeps the first file and says where the new one went.
    let (code, stdout, stderr) = run(&mut with(&["put", source.to_str().unwrap(), &target]));
    assert_eq!(code, 0, "second put failed: {stderr}");
    let renamed = stdout.trim().to_owned();
    assert_ne!(renamed, target);
    assert!(stderr.contains("exists; stored as"), "{stderr}");

    for blob in [&target, &renamed] {
        let (code, _, stderr) = run(&mut with(&["rm", blob]));
        assert_eq!(code, 0, "rm failed: {stderr}");
    }
    let (code, _, stderr) = run(&mut with(&["stat", &target]));
    assert_eq!(
        code, 1,
        "stat of a removed blob must be a service error: {stderr}"
    );
    assert!(stderr.to_lowercase().contains("not found"), "{stderr}");
}

#[test]
fn cli_round_trip_with_a_connection_string() {
    let azurite = Azurite::from_env();
    let dir = scratch_dir("key");
    round_trip(
        &with_connection_string(&azurite),
        &unique_container("cli-key"),
        &dir,
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_round_trip_with_managed_identity() {
    let azurite = Azurite::from_env();
    let identity = LocalIdentityServer::start(Options::default())
        .await
        .unwrap();
    let dir = scratch_dir("mi");
    let configure = with_managed_identity(&azurite, &identity.base_url());
    let container = unique_container("cli-mi");
    tokio::task::block_in_place(|| round_trip(&configure, &container, &dir));
    // Every command is its own process with its own token cache.
    assert!(
        identity.tokens_issued() >= 7,
        "{}",
        identity.tokens_issued()
    );

    // `azblob auth` says what it chose, and nothing secret.
    let mut auth = azblob();
    configure(&mut auth);
    let (code, stdout, stderr) = tokio::task::block_in_place(|| run(auth.arg("auth")));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("managed identity"), "{stdout}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_wrong_key_is_a_service_error_that_says_so() {
    let azurite = Azurite::from_env();
    // A well-formed key that is not the account's.
    let wrong_key = DEV_KEY.replace('E', "F");
    let (code, _, stderr) = run(azblob()
        .env("AZURE_STORAGE_ACCOUNT", DEV_ACCOUNT)
        .env("AZURE_STORAGE_KEY", &wrong_key)
        .env("AZURE_STORAGE_BLOB_ENDPOINT", &azurite.http_endpoint)
        .args(["stat", "anything/at-all.txt"]));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("authentic"), "{stderr}");
    assert!(!stderr.contains(&wrong_key), "the key leaked: {stderr}");
}

/// Without `--overwrite` a second put of a name stores under a free name; with it, the blob is
/// replaced and keeps its name.
#[test]
fn put_overwrite_replaces_the_content_under_the_same_name() {
    let azurite = Azurite::from_env();
    let connection_string = format!(
        "DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};BlobEndpoint={};",
        azurite.http_endpoint
    );
    let container = unique_container("cli-overwrite");
    let dir = scratch_dir("overwrite");
    let first = dir.join("first.txt");
    let second = dir.join("second.txt");
    std::fs::write(&first, b"first version").unwrap();
    std::fs::write(&second, b"second version, a little longer").unwrap();
    let target = format!("{container}/notes/today.txt");
    let with = |args: &[&str]| {
        let mut command = azblob();
        command
            .env("AZURE_STORAGE_CONNECTION_STRING", &connection_string)
            .args(args);
        command
    };
    let read = |blob: &str| {
        let output = with(&["get", blob, "-"]).output().unwrap();
        assert!(output.status.success(), "get {blob} failed");
        String::from_utf8(output.stdout).unwrap()
    };

    let (code, stdout, stderr) = run(&mut with(&["put", first.to_str().unwrap(), &target]));
    assert_eq!(
        (code, stdout, stderr),
        (0, format!("{target}\n"), String::new())
    );

    // Without --overwrite: the first blob stays, the second goes to a free name.
    let (code, stdout, stderr) = run(&mut with(&["put", second.to_str().unwrap(), &target]));
    assert_eq!(code, 0, "{stderr}");
    let renamed = stdout.trim_end().to_owned();
    let suffix = renamed
        .strip_prefix(&format!("{container}/notes/today_"))
        .and_then(|rest| rest.strip_suffix(".txt"))
        .unwrap_or_else(|| panic!("not renamed: {renamed}"));
    assert_eq!(suffix.len(), 7, "{renamed}");
    assert!(
        suffix.chars().all(|c| c.is_ascii_alphanumeric()),
        "{renamed}"
    );
    let stored = renamed.strip_prefix(&format!("{container}/")).unwrap();
    assert_eq!(
        stderr,
        format!(
            "azblob: notes/today.txt exists; stored as {stored} (use --overwrite to replace it)\n"
        )
    );
    assert_eq!(read(&target), "first version");
    assert_eq!(read(&renamed), "second version, a little longer");

    // With --overwrite: same name, new content, nothing said on stderr.
    let (code, stdout, stderr) = run(&mut with(&[
        "put",
        second.to_str().unwrap(),
        &target,
        "--overwrite",
    ]));
    assert_eq!(
        (code, stdout, stderr),
        (0, format!("{target}\n"), String::new())
    );
    assert_eq!(read(&target), "second version, a little longer");
    let (code, stdout, stderr) = run(&mut with(&["ls", &format!("{container}/notes")]));
    assert_eq!(code, 0, "{stderr}");
    let renamed_file = stored.strip_prefix("notes/").unwrap();
    let mut expected = vec![renamed_file, "today.txt"];
    expected.sort_unstable();
    assert_eq!(stdout.lines().collect::<Vec<_>>(), expected);
    std::fs::remove_dir_all(dir).unwrap();
}

/// A 24 MiB file up in 4 MiB blocks, 3 at a time, and down as parallel range reads (to a
/// file, resumably, and to stdout), identical each time.
#[test]
fn cli_large_file_in_blocks_and_ranges() {
    const SIZE: usize = 24 * 1024 * 1024 + 12_345;
    let azurite = Azurite::from_env();
    let connection_string = format!(
        "DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};BlobEndpoint={};",
        azurite.http_endpoint
    );
    let container = unique_container("cli-large");
    let dir = scratch_dir("large");
    let content = random_bytes(2024, SIZE);
    let sha256 = sha256_hex(&content);
    let source = dir.join("video.bin");
    std::fs::write(&source, &content).unwrap();
    drop(content);
    let target = format!("{container}/videos/video.bin");
    let transfer = ["--block-size", "4", "--parallel", "3"];
    let with = |args: &[&str]| {
        let mut command = azblob();
        command
            .env("AZURE_STORAGE_CONNECTION_STRING", &connection_string)
            .args(args)
            .args(transfer);
        command
    };

    let (code, stdout, stderr) = run(&mut with(&["put", source.to_str().unwrap(), &target]));
    assert_eq!(code, 0, "put failed: {stderr}");
    assert_eq!(stdout, format!("{target}\n"));

    let mut stat = azblob();
    stat.env("AZURE_STORAGE_CONNECTION_STRING", &connection_string)
        .args(["stat", &target]);
    let (code, stdout, stderr) = run(&mut stat);
    assert_eq!(code, 0, "stat failed: {stderr}");
    assert!(
        stdout.contains(&format!("size:           {SIZE} bytes\n")),
        "{stdout}"
    );

    let copy = dir.join("copy.bin");
    let (code, _, stderr) = run(&mut with(&[
        "get",
        "--resume",
        &target,
        copy.to_str().unwrap(),
    ]));
    assert_eq!(code, 0, "get failed: {stderr}");
    assert_eq!(sha256_hex(&std::fs::read(&copy).unwrap()), sha256);
    let mut left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(
        left,
        ["copy.bin", "video.bin"],
        "no partial file or ETag record left"
    );

    // An interrupted resumable get (the first 10 MiB and the blob's ETag kept) goes on.
    let etag = stdout
        .lines()
        .find_map(|line| line.strip_prefix("etag:           "))
        .expect("stat shows the ETag")
        .to_owned();
    let resumed = dir.join("resumed.bin");
    let copied = std::fs::read(&copy).unwrap();
    std::fs::write(dir.join(".resumed.bin.azblob-partial"), &copied[..10 << 20]).unwrap();
    std::fs::write(dir.join(".resumed.bin.azblob-partial.etag"), &etag).unwrap();
    drop(copied);
    let (code, _, stderr) = run(&mut with(&[
        "get",
        "--resume",
        &target,
        resumed.to_str().unwrap(),
    ]));
    assert_eq!((code, stderr.as_str()), (0, ""), "no restart");
    assert_eq!(sha256_hex(&std::fs::read(&resumed).unwrap()), sha256);
    std::fs::remove_file(&resumed).unwrap();

    let output = with(&["get", &target, "-"]).output().unwrap();
    assert!(output.status.success());
    assert_eq!(output.stdout.len(), SIZE);
    assert_eq!(sha256_hex(&output.stdout), sha256);

    let mut rm = azblob();
    rm.env("AZURE_STORAGE_CONNECTION_STRING", &connection_string)
        .args(["rm", &target]);
    let (code, _, stderr) = run(&mut rm);
    assert_eq!(code, 0, "rm failed: {stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// The ETag line of `azblob stat`.
fn etag_of(configure: &dyn Fn(&mut Command), target: &str) -> String {
    let mut stat = azblob();
    configure(&mut stat);
    let (code, stdout, stderr) = run(stat.args(["stat", target]));
    assert_eq!(code, 0, "stat failed: {stderr}");
    stdout
        .lines()
        .find_map(|line| line.strip_prefix("etag:"))
        .map_or_else(
            || panic!("no etag line in {stdout}"),
            |etag| etag.trim().to_owned(),
        )
}

/// `put --if-match` replaces only the version the caller read, and `get --if-match` reads only
/// that version, to a file and to stdout: an app's update cannot lose someone else's change.
fn if_match_updates(configure: &dyn Fn(&mut Command), container: &str, dir: &Path) {
    let with = |args: &[&str]| {
        let mut command = azblob();
        configure(&mut command);
        command.args(args);
        command
    };
    let target = format!("{container}/notes/todo list.txt");
    let file = |name: &str, content: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let (first, second, third) = (
        file("first.txt", b"first version"),
        file("second.txt", b"second version"),
        file("third.txt", b"third version"),
    );

    let (code, _, stderr) = run(&mut with(&["put", &first, &target]));
    assert_eq!(code, 0, "put failed: {stderr}");
    let read_first = etag_of(configure, &target);

    // Still the version read: replaced in place, under the same name.
    let (code, stdout, stderr) = run(&mut with(&[
        "put",
        &second,
        &target,
        "--if-match",
        &read_first,
    ]));
    assert_eq!((code, stdout.trim()), (0, target.as_str()), "{stderr}");
    let read_second = etag_of(configure, &target);
    assert_ne!(read_first, read_second);

    // Changed since: refused with exit code 1, and the newer content stays.
    let (code, stdout, stderr) = run(&mut with(&[
        "put",
        &third,
        &target,
        "--if-match",
        &read_first,
    ]));
    assert_eq!((code, stdout.as_str()), (1, ""), "{stderr}");
    assert!(
        stderr.contains(
            "HTTP 412 Precondition Failed ConditionNotMet: The condition specified using HTTP \
             conditional header(s) is not met."
        ) && stderr.contains(
            "The blob is not the version its ETag named: someone changed or deleted it since; \
             read its properties again for the current ETag"
        ),
        "{stderr}"
    );
    let output = with(&["get", &target, "-"]).output().unwrap();
    assert_eq!(output.stdout, b"second version");

    // Reads: only the version asked for, to a file (nothing left behind) and to stdout.
    let copy = dir.join("copy.txt");
    let (code, _, stderr) = run(&mut with(&[
        "get",
        &target,
        copy.to_str().unwrap(),
        "--if-match",
        &read_first,
    ]));
    assert_eq!(code, 1, "{stderr}");
    assert!(!copy.exists(), "a refused get left {}", copy.display());
    let output = with(&["get", &target, "-", "--if-match", &read_first])
        .output()
        .unwrap();
    assert_eq!(
        (output.status.code(), output.stdout.as_slice()),
        (Some(1), &b""[..])
    );
    let (code, _, stderr) = run(&mut with(&[
        "get",
        &target,
        copy.to_str().unwrap(),
        "--if-match",
        &read_second,
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(std::fs::read(&copy).unwrap(), b"second version");

    // --if-match and --overwrite contradict each other: a usage error, nothing sent.
    let (code, _, stderr) = run(&mut with(&[
        "put",
        &third,
        &target,
        "--overwrite",
        "--if-match",
        &read_second,
    ]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("cannot be used with"), "{stderr}");

    let (code, _, stderr) = run(&mut with(&["rm", &target]));
    assert_eq!(code, 0, "rm failed: {stderr}");
}

#[test]
fn if_match_updates_with_a_connection_string() {
    let azurite = Azurite::from_env();
    let dir = scratch_dir("if-match-key");
    if_match_updates(
        &with_connection_string(&azurite),
        &unique_container("cli-if-match-key"),
        &dir,
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn if_match_updates_with_managed_identity() {
    let azurite = Azurite::from_env();
    let identity = LocalIdentityServer::start(Options::default())
        .await
        .unwrap();
    let dir = scratch_dir("if-match-mi");
    let configure = with_managed_identity(&azurite, &identity.base_url());
    let container = unique_container("cli-if-match-mi");
    tokio::task::block_in_place(|| if_match_updates(&configure, &container, &dir));
    std::fs::remove_dir_all(dir).unwrap();
}
