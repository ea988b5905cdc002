//! The `azblob` binary as a user runs it: exit codes and the exact text of configuration
//! errors, and a few commands against a wiremock Blob service on 127.0.0.1.
//! Every run starts from an empty environment, so nothing of the machine's leaks in.

use std::process::{Command, Output};

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const DEV_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

fn azblob(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_azblob"))
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .expect("azblob runs")
}

/// Runs without blocking the test's runtime (the wiremock server lives on it).
async fn azblob_async(args: &[&str], env: &[(&str, &str)]) -> Output {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_azblob"))
            .args(&args)
            .env_clear()
            .envs(env)
            .output()
            .expect("azblob runs")
    })
    .await
    .unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn no_configuration_exits_2_saying_what_to_set() {
    let output = azblob(&["stat", "images/cat.jpg"], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        "azblob: error: no storage account configured: set AZURE_STORAGE_ACCOUNT to the storage \
         account name (alone it uses the managed identity; add AZURE_STORAGE_KEY or \
         AZURE_STORAGE_SAS_TOKEN for a key or SAS), or set AZURE_STORAGE_CONNECTION_STRING\n"
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn a_key_that_is_not_base64_exits_2() {
    let output = azblob(
        &["rm", "images/cat.jpg"],
        &[
            ("AZURE_STORAGE_ACCOUNT", "photos"),
            ("AZURE_STORAGE_KEY", "not/a:key"),
        ],
    );
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        "azblob: error: AZURE_STORAGE_KEY is not valid base64: copy key1 or key2 from the \
         storage account's Access keys page\n"
    );
}

#[test]
fn an_unknown_connection_string_field_exits_2() {
    let output = azblob(
        &["get", "images/cat.jpg", "-"],
        &[(
            "AZURE_STORAGE_CONNECTION_STRING",
            "AccountName=photos;AcountKey=abc",
        )],
    );
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        "azblob: error: AZURE_STORAGE_CONNECTION_STRING has an unknown field `AcountKey`: the \
         fields are AccountName, AccountKey, DefaultEndpointsProtocol, EndpointSuffix, \
         BlobEndpoint, SharedAccessSignature and UseDevelopmentStorage (QueueEndpoint, \
         TableEndpoint and FileEndpoint are accepted too, and not used)\n"
    );
}

#[test]
fn a_bad_container_name_exits_2() {
    let output = azblob(
        &["stat", "My_Images/cat.jpg"],
        &[(
            "AZURE_STORAGE_CONNECTION_STRING",
            "UseDevelopmentStorage=true",
        )],
    );
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        "azblob: error: container `My_Images` is not a valid container name (it contains \
         `M`): use 3 to 63 lowercase letters, digits and single hyphens, starting and ending \
         with a letter or digit\n"
    );
}

#[test]
fn a_missing_file_exits_2() {
    let output = azblob(
        &["put", "/nonexistent/cat.jpg", "images/cat.jpg"],
        &[(
            "AZURE_STORAGE_CONNECTION_STRING",
            "UseDevelopmentStorage=true",
        )],
    );
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        "azblob: error: cannot read /nonexistent/cat.jpg: No such file or directory (os error 2)\n"
    );
}

#[test]
fn bad_usage_exits_2() {
    let output = azblob(&["put", "cat.jpg", "no-slash"], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).starts_with(
            "error: invalid value 'no-slash' for '<TARGET>': expected CONTAINER/NAME, such as \
             images/cat.jpg"
        ),
        "{}",
        stderr(&output)
    );
    assert_eq!(azblob(&["frobnicate"], &[]).status.code(), Some(2));
}

#[test]
fn auth_reports_the_choice_without_the_key() {
    let output = azblob(
        &["auth"],
        &[
            ("AZURE_STORAGE_ACCOUNT", "photos"),
            ("AZURE_STORAGE_KEY", DEV_KEY),
            ("AZURE_STORAGE_SAS_TOKEN", "sv=1&sig=SENTINEL"),
            ("AZURE_STORAGE_CONTAINER", "images"),
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        "account:        photos\n\
         blob endpoint:  https://photos.blob.core.windows.net\n\
         container:      images\n\
         auth:           shared key (account key), because AZURE_STORAGE_ACCOUNT and \
         AZURE_STORAGE_KEY are set (not used: AZURE_STORAGE_SAS_TOKEN)\n"
    );
    assert!(!stdout(&output).contains("SENTINEL") && !stdout(&output).contains(&DEV_KEY[..20]));
}

#[test]
fn whoami_is_auth() {
    let output = azblob(
        &["whoami"],
        &[(
            "AZURE_STORAGE_CONNECTION_STRING",
            "UseDevelopmentStorage=true",
        )],
    );
    assert_eq!(output.status.code(), Some(0));
    assert!(stdout(&output).contains(
        "auth:           shared key (account key), because AZURE_STORAGE_CONNECTION_STRING says \
         UseDevelopmentStorage=true (the emulator's well-known account)\n"
    ));
}

fn wiremock_env(server: &MockServer) -> Vec<(&'static str, String)> {
    vec![(
        "AZURE_STORAGE_CONNECTION_STRING",
        format!(
            "AccountName=devstoreaccount1;AccountKey={DEV_KEY};BlobEndpoint={}/devstoreaccount1",
            server.uri()
        ),
    )]
}

#[tokio::test]
async fn a_missing_data_role_exits_1_naming_the_role() {
    let server = MockServer::start().await;
    Mock::given(method("HEAD"))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("x-ms-error-code", "AuthorizationPermissionMismatch"),
        )
        .mount(&server)
        .await;
    let env = wiremock_env(&server);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();

    let output = azblob_async(&["stat", "images/cat.jpg"], &env).await;

    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    assert!(
        text.contains(
            "azblob: error: cannot read the properties of `cat.jpg` in container `images`: "
        ),
        "{text}"
    );
    assert!(text.contains("Storage Blob Data Contributor"), "{text}");
}

#[tokio::test]
async fn put_prints_the_stored_name_and_get_writes_the_file() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/devstoreaccount1/images/cat.txt"))
        .respond_with(
            ResponseTemplate::new(409).insert_header("x-ms-error-code", "BlobAlreadyExists"),
        )
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(201))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/devstoreaccount1/images/cat.txt"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(b"meow".to_vec()))
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .respond_with(ResponseTemplate::new(404).insert_header("x-ms-error-code", "BlobNotFound"))
        .mount(&server)
        .await;
    let env = wiremock_env(&server);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let dir = std::env::temp_dir().join(format!("azblob-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("cat.txt");
    std::fs::write(&file, b"meow").unwrap();

    let put = azblob_async(&["put", file.to_str().unwrap(), "images/cat.txt"], &env).await;
    let got = azblob_async(&["get", "images/cat.txt", dir.to_str().unwrap()], &env).await;
    let to_stdout = azblob_async(&["get", "images/cat.txt", "-"], &env).await;
    let rm = azblob_async(&["rm", "images/gone.txt"], &env).await;

    assert_eq!(put.status.code(), Some(0), "{}", stderr(&put));
    let stored = stdout(&put);
    let stored = stored
        .trim_end()
        .strip_prefix("images/cat_")
        .expect("renamed");
    assert_eq!(stored.len(), 7 + ".txt".len(), "{stored}");
    assert!(
        stderr(&put).starts_with("azblob: cat.txt exists; stored as cat_"),
        "{}",
        stderr(&put)
    );
    assert_eq!(got.status.code(), Some(0), "{}", stderr(&got));
    assert_eq!(std::fs::read(&file).unwrap(), b"meow");
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        1,
        "no partial file is left behind"
    );
    assert_eq!(to_stdout.stdout, b"meow");
    assert_eq!(rm.status.code(), Some(0), "{}", stderr(&rm));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A wiremock server that fails the test (when dropped) if any request reaches it.
async fn server_expecting_no_request() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    server
}

fn scratch_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "azblob-cli-{name}-{}-{:08x}",
        std::process::id(),
        fastrand::u32(..)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_url_override_that_cannot_be_a_header_exits_2() {
    let output = azblob(
        &[
            "url",
            "docs/cv.pdf",
            "--content-disposition",
            "attachment; filename=\"résumé.pdf\"",
        ],
        &[(
            "AZURE_STORAGE_CONNECTION_STRING",
            "UseDevelopmentStorage=true",
        )],
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert_eq!(
        stderr(&output),
        "azblob: error: cannot make a URL for `cv.pdf` in container `docs`: create a SAS URL \
         for docs/cv.pdf: the SAS content disposition override must be printable ASCII (it \
         becomes a response header); for a file name with other letters use the RFC 6266 form \
         filename*=UTF-8''<percent-encoded name>\n"
    );
    assert!(output.stdout.is_empty());
}

#[tokio::test]
async fn a_content_type_that_cannot_be_sent_exits_2_before_any_request() {
    let server = server_expecting_no_request().await;
    let env = wiremock_env(&server);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let dir = scratch_dir("content-type");
    let file = dir.join("cat.jpg");
    std::fs::write(&file, b"meow").unwrap();

    let output = azblob_async(
        &[
            "put",
            "--content-type",
            "image/jpég",
            file.to_str().unwrap(),
            "images/cat.jpg",
        ],
        &env,
    )
    .await;

    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert_eq!(
        stderr(&output),
        "azblob: error: cannot save `cat.jpg` in container `images`: the content type \
         `image/jpég` is not printable ASCII (or holds a tab): give printable ASCII with single \
         spaces, such as image/jpeg\n"
    );
    assert!(output.stdout.is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
    server.verify().await;
}

/// A regular file that exists but that this process cannot open for reading: a file with no
/// permissions, or (as root, who may read anything on disk) a write-only sysctl.
fn unreadable_file(dir: &std::path::Path) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    let file = dir.join("secret.jpg");
    std::fs::write(&file, b"meow").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o000)).unwrap();
    let candidates = [file, "/proc/sys/vm/compact_memory".into()];
    candidates.into_iter().find(|path| {
        std::fs::metadata(path).is_ok_and(|m| m.is_file())
            && std::fs::File::open(path)
                .is_err_and(|e| e.kind() == std::io::ErrorKind::PermissionDenied)
    })
}

#[tokio::test]
async fn a_file_that_cannot_be_opened_exits_2_naming_it_before_any_request() {
    let server = server_expecting_no_request().await;
    let env = wiremock_env(&server);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let dir = scratch_dir("unreadable");
    let Some(file) = unreadable_file(&dir) else {
        eprintln!("skipped: no file here that this user cannot open");
        std::fs::remove_dir_all(&dir).unwrap();
        return;
    };

    let output = azblob_async(&["put", file.to_str().unwrap(), "images/cat.jpg"], &env).await;

    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert_eq!(
        stderr(&output),
        format!(
            "azblob: error: cannot read {}: Permission denied (os error 13)\n",
            file.display()
        )
    );
    std::fs::remove_dir_all(&dir).unwrap();
    server.verify().await;
}

/// The usage line and the flags (without their descriptions) of `azblob COMMAND --help`.
fn usage_and_flags(help: &str) -> (String, Vec<String>) {
    let usage = help
        .lines()
        .find(|line| line.starts_with("Usage: "))
        .unwrap_or_default()
        .to_owned();
    let flags = help
        .lines()
        .filter(|line| line.starts_with("  -") || line.starts_with("      --"))
        .map(|line| {
            let line = line.trim_start();
            line.split_once("  ")
                .map_or(line, |(flag, _)| flag)
                .to_owned()
        })
        .collect();
    (usage, flags)
}

#[test]
fn every_command_has_help_with_its_flags() {
    let transfer = ["--block-size <MIB>", "--parallel <N>"];
    let cases: [(&str, &str, Vec<&str>); 7] = [
        (
            "put",
            "Usage: azblob put [OPTIONS] <FILE> <TARGET>",
            [
                &[
                    "--content-type <CONTENT_TYPE>",
                    "--overwrite",
                    "--if-match <ETAG>",
                ][..],
                &transfer,
            ]
            .concat(),
        ),
        (
            "get",
            "Usage: azblob get [OPTIONS] <SOURCE> [FILE]",
            [&["--resume", "--if-match <ETAG>"][..], &transfer].concat(),
        ),
        ("rm", "Usage: azblob rm <TARGET>", vec![]),
        ("stat", "Usage: azblob stat <TARGET>", vec![]),
        (
            "ls",
            "Usage: azblob ls [OPTIONS] <TARGET>",
            vec!["-l, --long"],
        ),
        (
            "url",
            "Usage: azblob url [OPTIONS] <TARGET>",
            vec![
                "--expires <EXPIRES>",
                "--write",
                "--content-type <CONTENT_TYPE>",
                "--content-disposition <CONTENT_DISPOSITION>",
                "--public",
            ],
        ),
        ("auth", "Usage: azblob auth", vec![]),
    ];
    for (command, usage, flags) in cases {
        let output = azblob(&[command, "--help"], &[]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{command}: {}",
            stderr(&output)
        );
        assert!(output.stderr.is_empty(), "{command}: {}", stderr(&output));
        let mut expected: Vec<String> = flags.iter().map(|f| (*f).to_owned()).collect();
        expected.push("-h, --help".to_owned());
        assert_eq!(
            usage_and_flags(&stdout(&output)),
            (usage.to_owned(), expected),
            "{command}"
        );
    }
}

/// Get Blob Properties and Get Blob of `images/video.bin` (content "meow", ETag 0x8DV1), the
/// latter with `content_md5` as its stored MD5.
async fn video_blob(content_md5: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("HEAD"))
        .and(path("/devstoreaccount1/images/video.bin"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("etag", "\"0x8DV1\"")
                .insert_header("content-length", "4"),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/devstoreaccount1/images/video.bin"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("etag", "\"0x8DV1\"")
                .insert_header("content-md5", content_md5)
                .set_body_bytes(b"meow".to_vec()),
        )
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn get_resume_says_when_it_starts_over() {
    // The MD5 of "meow".
    let server = video_blob("SkvkDJasYxTpHZPzgEOmNA==").await;
    let env = wiremock_env(&server);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let dir = scratch_dir("restart");
    let partial = dir.join(".video.bin.azblob-partial");
    std::fs::write(&partial, b"purr").unwrap();
    let target = dir.join("video.bin");

    let output = azblob_async(
        &[
            "get",
            "--resume",
            "--parallel",
            "1",
            "images/video.bin",
            target.to_str().unwrap(),
        ],
        &env,
    )
    .await;

    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        stderr(&output),
        format!(
            "azblob: {0} has no record of the blob version it holds ({0}.etag is missing); \
             starting over from the beginning\n",
            partial.display()
        )
    );
    assert_eq!(std::fs::read(&target).unwrap(), b"meow");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "only the file");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn get_resume_after_an_md5_mismatch_keeps_nothing() {
    let server = video_blob("AAECAwQFBgcICQoLDA0ODw==").await;
    let env = wiremock_env(&server);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let dir = scratch_dir("mismatch");
    let target = dir.join("video.bin");

    let output = azblob_async(
        &[
            "get",
            "--resume",
            "--parallel",
            "1",
            "images/video.bin",
            target.to_str().unwrap(),
        ],
        &env,
    )
    .await;

    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let text = stderr(&output);
    assert!(
        text.contains("azblob: error: cannot download `video.bin` in container `images`: "),
        "{text}"
    );
    assert!(text.contains("MD5"), "{text}");
    assert!(!text.contains("kept"), "{text}");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "nothing left");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_file_that_is_not_what_its_size_says_exits_2() {
    let server = MockServer::start().await;
    Mock::given(method("HEAD"))
        .respond_with(ResponseTemplate::new(404).insert_header("x-ms-error-code", "BlobNotFound"))
        .mount(&server)
        .await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(201))
        .mount(&server)
        .await;
    let env = wiremock_env(&server);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();

    // Its size says 0 bytes, but reading it gives more.
    let output = azblob_async(&["put", "/proc/self/status", "images/status.txt"], &env).await;

    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let text = stderr(&output);
    assert!(text.starts_with("azblob: error: "), "{text}");
    assert!(text.contains("cannot upload"), "{text}");
    assert!(output.stdout.is_empty());
}

/// Runs `azblob get` of `images/video.bin` into `target` against a blob whose content never
/// comes (the GET is answered after 30 s), sends `signal` once the GET arrived, and returns
/// what the command printed and its exit code.
async fn get_interrupted_by(signal: &str, resume: bool, target: &std::path::Path) -> Output {
    let server = MockServer::start().await;
    Mock::given(method("HEAD"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("etag", "\"0x8DV1\"")
                .insert_header("content-length", "4"),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("etag", "\"0x8DV1\"")
                .set_body_bytes(b"meow".to_vec())
                .set_delay(std::time::Duration::from_secs(30)),
        )
        .mount(&server)
        .await;
    let env = wiremock_env(&server);
    let mut args = vec!["get", "images/video.bin", target.to_str().unwrap()];
    if resume {
        args.push("--resume");
    }
    let child = Command::new(env!("CARGO_BIN_EXE_azblob"))
        .args(&args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("azblob runs");
    let pid = child.id().to_string();
    let mut arrived = false;
    for _ in 0..200 {
        let requests = server.received_requests().await.unwrap_or_default();
        if requests
            .iter()
            .any(|r| r.method == wiremock::http::Method::GET)
        {
            arrived = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(arrived, "the GET never arrived");
    let kill = Command::new("kill")
        .args([signal, &pid])
        .status()
        .expect("kill runs");
    assert!(kill.success());
    tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_get_stopped_by_sigterm_exits_143_leaving_no_partial_file() {
    let dir = scratch_dir("sigterm");
    let target = dir.join("video.bin");

    let output = get_interrupted_by("-TERM", false, &target).await;

    assert_eq!(output.status.code(), Some(143), "{}", stderr(&output));
    assert_eq!(stderr(&output), "azblob: interrupted\n");
    assert!(output.stdout.is_empty());
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "nothing left");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_get_resume_stopped_by_ctrl_c_exits_130_keeping_the_partial_file() {
    let dir = scratch_dir("sigint");
    let target = dir.join("video.bin");
    let partial = dir.join(".video.bin.azblob-partial");

    let output = get_interrupted_by("-INT", true, &target).await;

    assert_eq!(output.status.code(), Some(130), "{}", stderr(&output));
    assert_eq!(
        stderr(&output),
        format!(
            "azblob: interrupted; the bytes received are kept in {}: run the same command with \
             --resume again to go on\n",
            partial.display()
        )
    );
    assert!(partial.exists());
    assert!(dir.join(".video.bin.azblob-partial.etag").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn get_resume_to_standard_output_exits_2() {
    let output = azblob(&["get", "images/video.bin", "-", "--resume"], &[]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert_eq!(
        stderr(&output),
        "azblob: error: --resume needs a file to go on from; it does not work with - \
         (standard output)\n"
    );
    assert!(output.stdout.is_empty());
}

#[tokio::test]
async fn get_to_a_reader_that_stops_reading_exits_0_quietly() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![b'x'; 4 * 1024 * 1024]))
        .mount(&server)
        .await;
    let env = wiremock_env(&server);
    let mut child = Command::new(env!("CARGO_BIN_EXE_azblob"))
        .args(["get", "images/video.bin", "-"])
        .env_clear()
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("azblob runs");
    // The reader goes away before reading anything, as `head -c 0` would.
    drop(child.stdout.take());

    let output = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();

    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stderr(&output), "");
}

#[tokio::test]
async fn log_lines_to_a_pipe_have_no_colour_codes() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&server)
        .await;
    let mut env = wiremock_env(&server);
    env.push(("RUST_LOG", "debug".to_owned()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();

    let output = azblob_async(&["rm", "images/gone.txt"], &env).await;

    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stderr(&output);
    assert!(text.contains("DEBUG"), "{text}");
    assert!(!text.contains('\u{1b}'), "{text:?}");
}

#[test]
fn a_url_content_type_that_cannot_be_a_header_exits_2_without_file_name_advice() {
    let output = azblob(
        &["url", "docs/cv.pdf", "--content-type", "é"],
        &[(
            "AZURE_STORAGE_CONNECTION_STRING",
            "UseDevelopmentStorage=true",
        )],
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert_eq!(
        stderr(&output),
        "azblob: error: cannot make a URL for `cv.pdf` in container `docs`: the SAS content \
         type override `é` must be printable ASCII (it becomes a response header), such as \
         text/plain\n"
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn a_root_certificate_file_without_a_certificate_exits_2_naming_it() {
    let dir = scratch_dir("no-pem");
    let file = dir.join("hostname");
    std::fs::write(&file, b"myhost\n").unwrap();

    let output = azblob(
        &["stat", "images/cat.jpg"],
        &[
            (
                "AZURE_STORAGE_CONNECTION_STRING",
                "UseDevelopmentStorage=true",
            ),
            ("SSL_CERT_FILE", file.to_str().unwrap()),
        ],
    );

    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert_eq!(
        stderr(&output),
        format!(
            "azblob: error: SSL_CERT_FILE names {}, which holds no PEM certificate (no \
             `-----BEGIN CERTIFICATE-----` line): point it at a PEM file of the certificates \
             to trust, or unset it\n",
            file.display()
        )
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An `openssl s_server` with a fresh self-signed certificate on 127.0.0.1, and its port;
/// `None` where openssl is not installed.
fn tls_server(dir: &std::path::Path) -> Option<(std::process::Child, u16)> {
    let (key, cert) = (dir.join("key.pem"), dir.join("cert.pem"));
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args([
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .args([
            "-days",
            "1",
            "-keyout",
            key.to_str()?,
            "-out",
            cert.to_str()?,
        ])
        .output()
        .ok()?;
    if !made.status.success() {
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = Command::new("openssl")
        .args([
            "s_server",
            "-quiet",
            "-accept",
            &format!("127.0.0.1:{port}"),
        ])
        .args(["-cert", cert.to_str()?, "-key", key.to_str()?])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some((server, port));
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    panic!("openssl s_server did not start listening");
}

#[test]
fn an_untrusted_certificate_gets_the_ssl_cert_file_hint_only() {
    let dir = scratch_dir("tls");
    let (mut server, port) = tls_server(&dir)
        .expect("this test needs the openssl command (Debian package openssl) for a TLS server");
    let connection_string = format!(
        "AccountName=devstoreaccount1;AccountKey={DEV_KEY};\
         BlobEndpoint=https://127.0.0.1:{port}/devstoreaccount1"
    );

    let output = azblob(
        &["stat", "images/cat.jpg"],
        &[("AZURE_STORAGE_CONNECTION_STRING", &connection_string)],
    );
    let _ = server.kill();
    let _ = server.wait();
    std::fs::remove_dir_all(&dir).unwrap();

    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let text = stderr(&output);
    assert!(
        text.starts_with(
            "azblob: error: cannot read the properties of `cat.jpg` in container `images`: "
        ),
        "{text}"
    );
    assert!(
        text.lines().next().unwrap_or_default().ends_with(
            " To trust a self-signed certificate (an emulator's), set SSL_CERT_FILE to its \
             PEM file (StorageConfig::with_root_certificates_file in code)"
        ),
        "{text}"
    );
    assert!(!text.contains("ClientOptions"), "{text}");
}

#[test]
fn auth_says_a_client_id_came_from_the_environment() {
    let output = azblob(
        &["auth"],
        &[
            ("AZURE_STORAGE_ACCOUNT", "photos"),
            ("AZURE_CLIENT_ID", "not-a-guid"),
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    let identity = text
        .lines()
        .find(|line| line.starts_with("identity:       "))
        .unwrap_or_default();
    assert!(
        identity.contains("client id not-a-guid")
            && identity.ends_with(", with the client id from AZURE_CLIENT_ID"),
        "{text}"
    );
    assert!(!text.contains("in code"), "{text}");
}
