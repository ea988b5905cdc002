//! Storage behaviours against a wiremock Blob service on 127.0.0.1, asserting the exact
//! requests: the ones Azurite cannot show (409 vs 412 for "exists", permission errors, 401
//! and a new token) and the ones where the facade decides what to send.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use storage_facade::{Auth, Content, ErrorKind, SaveOptions, Storage, StorageConfig};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const DEV_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const CONTAINER_PATH: &str = "/devstoreaccount1/images";

fn config(server: &MockServer) -> StorageConfig {
    StorageConfig::with_endpoint(
        &format!("{}/devstoreaccount1/", server.uri()),
        Auth::shared_key(DEV_KEY).unwrap(),
    )
    .unwrap()
    .with_container("images")
    .unwrap()
}

fn storage(server: &MockServer) -> Storage {
    Storage::new(config(server)).unwrap()
}

fn service_error(status: u16, code: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("x-ms-error-code", code)
        .set_body_string(format!(
            "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{code}</Code>\
         <Message>{message}</Message></Error>"
        ))
}

async fn container_exists(server: &MockServer) {
    Mock::given(method("PUT"))
        .and(path(CONTAINER_PATH))
        .and(query_param("restype", "container"))
        .respond_with(service_error(409, "ContainerAlreadyExists", "exists"))
        .mount(server)
        .await;
}

async fn blob_puts(server: &MockServer) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() == "PUT" && r.url.query().is_none())
        .collect()
}

fn header_of<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request.headers.get(name).map(|v| v.to_str().unwrap())
}

/// `cat_<7 letters or digits>.jpg`
fn is_renamed(name: &str, stem: &str, extension: &str) -> bool {
    name.strip_prefix(stem)
        .and_then(|rest| rest.strip_prefix('_'))
        .and_then(|rest| rest.strip_suffix(extension))
        .is_some_and(|random| {
            random.len() == 7 && random.chars().all(|c| c.is_ascii_alphanumeric())
        })
}

#[tokio::test]
async fn first_save_creates_the_container_once_then_puts_create_only() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path(CONTAINER_PATH))
        .and(query_param("restype", "container"))
        .respond_with(ResponseTemplate::new(201))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(201))
        .mount(&server)
        .await;
    let storage = storage(&server);

    assert_eq!(
        storage.save("notes/a.txt", "hello").await.unwrap(),
        "notes/a.txt"
    );
    assert_eq!(
        storage.save(r"\b.png", vec![1u8, 2, 3]).await.unwrap(),
        "b.png"
    );

    let puts = blob_puts(&server).await;
    assert_eq!(puts.len(), 2);
    assert_eq!(puts[0].url.path(), "/devstoreaccount1/images/notes/a.txt");
    assert_eq!(header_of(&puts[0], "if-none-match"), Some("*"));
    assert_eq!(header_of(&puts[0], "x-ms-blob-type"), Some("BlockBlob"));
    assert_eq!(header_of(&puts[0], "content-type"), Some("text/plain"));
    assert_eq!(puts[0].body, b"hello");
    assert_eq!(puts[1].url.path(), "/devstoreaccount1/images/b.png");
    assert_eq!(header_of(&puts[1], "content-type"), Some("image/png"));
    assert_eq!(puts[1].body, [1, 2, 3]);
}

async fn save_after_exists_answer(answer: ResponseTemplate) {
    let server = MockServer::start().await;
    container_exists(&server).await;
    Mock::given(method("PUT"))
        .and(path("/devstoreaccount1/images/cat.jpg"))
        .respond_with(answer)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(201))
        .mount(&server)
        .await;

    let stored = storage(&server).save("cat.jpg", "meow").await.unwrap();

    assert!(is_renamed(&stored, "cat", ".jpg"), "{stored}");
    let puts = blob_puts(&server).await;
    assert_eq!(puts.len(), 2);
    assert_eq!(
        puts[1].url.path(),
        format!("/devstoreaccount1/images/{stored}")
    );
    for put in &puts {
        assert_eq!(header_of(put, "if-none-match"), Some("*"));
        assert_eq!(header_of(put, "content-type"), Some("image/jpeg"));
        assert_eq!(put.body, b"meow");
    }
}

#[tokio::test]
async fn conflict_409_blob_already_exists_saves_under_another_name() {
    save_after_exists_answer(service_error(
        409,
        "BlobAlreadyExists",
        "The specified blob already exists.",
    ))
    .await;
}

#[tokio::test]
async fn precondition_412_on_create_only_saves_under_another_name() {
    save_after_exists_answer(service_error(
        412,
        "ConditionNotMet",
        "The condition specified using HTTP conditional header(s) is not met.",
    ))
    .await;
}

#[tokio::test]
async fn a_file_is_sent_again_under_the_new_name() {
    let server = MockServer::start().await;
    container_exists(&server).await;
    Mock::given(method("PUT"))
        .and(path("/devstoreaccount1/images/up/report.pdf"))
        .respond_with(service_error(409, "BlobAlreadyExists", "exists"))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(201))
        .mount(&server)
        .await;
    let dir = std::env::temp_dir().join(format!("storage-facade-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("report.pdf");
    let content: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&file, &content).unwrap();

    let stored = storage(&server)
        .save("up/report.pdf", Content::file(&file))
        .await
        .unwrap();

    std::fs::remove_dir_all(&dir).unwrap();
    assert!(is_renamed(&stored, "up/report", ".pdf"), "{stored}");
    let puts = blob_puts(&server).await;
    assert_eq!(puts.len(), 2);
    for put in &puts {
        assert_eq!(put.body, content);
        assert_eq!(header_of(put, "content-type"), Some("application/pdf"));
    }
}

#[tokio::test]
async fn a_one_shot_stream_cannot_be_renamed() {
    let server = MockServer::start().await;
    container_exists(&server).await;
    Mock::given(method("PUT"))
        .respond_with(service_error(409, "BlobAlreadyExists", "exists"))
        .mount(&server)
        .await;
    let stream = futures_util::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from("abc"))]);

    let error = storage(&server)
        .save("s.bin", Content::stream(3, stream))
        .await
        .unwrap_err();

    assert_eq!(error.kind(), ErrorKind::AlreadyExists);
    assert_eq!(
        error.to_string(),
        "cannot save `s.bin` in container `images`: a blob of that name exists, and the content \
         was a stream that cannot be sent again under another name: save from a file or bytes, \
         or turn overwriting on"
    );
}

#[tokio::test]
async fn gives_up_after_eight_taken_names() {
    let server = MockServer::start().await;
    container_exists(&server).await;
    Mock::given(method("PUT"))
        .respond_with(service_error(409, "BlobAlreadyExists", "exists"))
        .expect(8)
        .mount(&server)
        .await;

    let error = storage(&server).save("cat.jpg", "x").await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::AlreadyExists);
    assert_eq!(
        error.to_string(),
        "cannot save `cat.jpg` in container `images`: the name and 7 alternatives are all taken: \
         choose another name"
    );
}

#[tokio::test]
async fn overwrite_sends_no_condition_and_keeps_the_name() {
    let server = MockServer::start().await;
    container_exists(&server).await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(201))
        .mount(&server)
        .await;
    let storage = Storage::new(
        config(&server)
            .with_overwrite(true)
            .with_cache_control("max-age=3600")
            .with_metadata("origin", "upload")
            .unwrap()
            .with_metadata("owner", "alice")
            .unwrap(),
    )
    .unwrap();

    let stored = storage
        .save_with(
            "cat.jpg",
            "x",
            SaveOptions::new()
                .content_type("image/webp")
                .metadata("Owner", "bob"),
        )
        .await
        .unwrap();

    assert_eq!(stored, "cat.jpg");
    let puts = blob_puts(&server).await;
    assert_eq!(header_of(&puts[0], "if-none-match"), None);
    assert_eq!(header_of(&puts[0], "content-type"), Some("image/webp"));
    assert_eq!(
        header_of(&puts[0], "x-ms-blob-cache-control"),
        Some("max-age=3600")
    );
    assert_eq!(header_of(&puts[0], "x-ms-meta-origin"), Some("upload"));
    assert_eq!(header_of(&puts[0], "x-ms-meta-owner"), Some("bob"));
}

#[tokio::test]
async fn a_location_prefix_is_applied_on_the_wire_and_not_returned() {
    let server = MockServer::start().await;
    container_exists(&server).await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(201))
        .mount(&server)
        .await;
    let storage = Storage::new(config(&server).with_location("media/").unwrap()).unwrap();

    assert_eq!(
        storage.save("./a/../cat.jpg", "x").await.unwrap(),
        "cat.jpg"
    );
    assert_eq!(storage.blob_name("cat.jpg").unwrap(), "media/cat.jpg");
    assert_eq!(
        blob_puts(&server).await[0].url.path(),
        "/devstoreaccount1/images/media/cat.jpg"
    );
}

#[tokio::test]
async fn refused_names_send_nothing() {
    let server = MockServer::start().await;
    let storage = Storage::new(config(&server).with_location("media").unwrap()).unwrap();

    let error = storage.save("../etc/passwd", "x").await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::InvalidName);
    assert_eq!(
        error.to_string(),
        "blob name `../etc/passwd` climbs out of the location prefix `media` with `..`: remove \
         the `..` segments"
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn permission_mismatch_names_the_data_role() {
    let server = MockServer::start().await;
    container_exists(&server).await;
    Mock::given(method("PUT"))
        .respond_with(service_error(
            403,
            "AuthorizationPermissionMismatch",
            "This request is not authorized to perform this operation using this permission.",
        ))
        .mount(&server)
        .await;

    let error = storage(&server).save("cat.jpg", "x").await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::PermissionMissing);
    let message = error.to_string();
    assert!(
        message.starts_with("cannot save `cat.jpg` in container `images`: "),
        "{message}"
    );
    assert!(
        message.contains("Storage Blob Data Contributor"),
        "{message}"
    );
    assert!(
        message.contains("AuthorizationPermissionMismatch"),
        "{message}"
    );
}

#[tokio::test]
async fn no_permission_to_create_the_container_still_uploads() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(query_param("restype", "container"))
        .respond_with(service_error(403, "AuthorizationPermissionMismatch", "no"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(201))
        .mount(&server)
        .await;
    let storage = storage(&server);

    assert_eq!(storage.save("a.txt", "1").await.unwrap(), "a.txt");
    assert_eq!(storage.save("b.txt", "2").await.unwrap(), "b.txt");
    assert_eq!(blob_puts(&server).await.len(), 2);
}

#[tokio::test]
async fn delete_of_a_missing_blob_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path("/devstoreaccount1/images/gone.txt"))
        .respond_with(service_error(
            404,
            "BlobNotFound",
            "The specified blob does not exist.",
        ))
        .expect(1)
        .mount(&server)
        .await;

    storage(&server).delete("gone.txt").await.unwrap();
}

#[tokio::test]
async fn missing_blobs_do_not_exist_and_cannot_be_read() {
    let server = MockServer::start().await;
    Mock::given(method("HEAD"))
        .respond_with(ResponseTemplate::new(404).insert_header("x-ms-error-code", "BlobNotFound"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/devstoreaccount1/images/gone.txt"))
        .respond_with(service_error(
            404,
            "BlobNotFound",
            "The specified blob does not exist.",
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/devstoreaccount1/images/nocontainer.txt"))
        .respond_with(service_error(
            404,
            "ContainerNotFound",
            "The specified container does not exist.",
        ))
        .mount(&server)
        .await;
    let storage = storage(&server);

    assert!(!storage.exists("gone.txt").await.unwrap());
    let error = storage.read("gone.txt").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound);
    assert_eq!(
        error.to_string(),
        "cannot read `gone.txt` in container `images`: no such blob"
    );
    let error = storage.read("nocontainer.txt").await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "cannot read `nocontainer.txt` in container `images`: the container does not exist (the \
         first save creates it, or create it in the portal)"
    );
}

#[tokio::test]
async fn properties_size_and_read() {
    let server = MockServer::start().await;
    let headers = |template: ResponseTemplate| {
        template
            .insert_header("content-type", "image/jpeg")
            .insert_header("last-modified", "Wed, 01 Jul 2026 10:00:00 GMT")
            .insert_header("etag", "\"0x8DCAFE\"")
            .insert_header("content-md5", "AAECAwQFBgcICQoLDA0ODw==")
            .insert_header("cache-control", "max-age=60")
            .insert_header("x-ms-meta-owner", "alice")
            .insert_header("x-ms-blob-type", "BlockBlob")
    };
    Mock::given(method("HEAD"))
        .and(path("/devstoreaccount1/images/cat.jpg"))
        .respond_with(headers(ResponseTemplate::new(200)).insert_header("content-length", "1234"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/devstoreaccount1/images/small.txt"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/plain")
                .set_body_bytes(b"hello world".to_vec()),
        )
        .mount(&server)
        .await;
    let storage = storage(&server);

    let properties = storage.properties("cat.jpg").await.unwrap();
    assert_eq!(properties.content_type.as_deref(), Some("image/jpeg"));
    assert_eq!(properties.content_length, 1234);
    assert_eq!(
        properties.last_modified,
        Some(UNIX_EPOCH + Duration::from_secs(1_782_900_000))
    );
    assert_eq!(properties.etag.as_deref(), Some("\"0x8DCAFE\""));
    assert_eq!(
        properties.content_md5,
        Some([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15])
    );
    assert_eq!(
        properties.metadata.get("owner").map(String::as_str),
        Some("alice")
    );
    assert_eq!(storage.size("cat.jpg").await.unwrap(), 1234);
    assert!(storage.exists("cat.jpg").await.unwrap());

    assert_eq!(
        &storage.read("small.txt").await.unwrap()[..],
        b"hello world"
    );
    let reader = storage.open("small.txt").await.unwrap();
    assert_eq!(
        reader.properties().content_type.as_deref(),
        Some("text/plain")
    );
    assert_eq!(reader.properties().content_length, 11);
}

// ---- managed identity through a local IMDS ----

fn token_body(token: &str) -> serde_json::Value {
    let expires_on = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    serde_json::json!({
        "access_token": token,
        "expires_on": expires_on.to_string(),
        "expires_in": "3600",
        "resource": "https://storage.azure.com",
        "token_type": "Bearer",
    })
}

#[tokio::test]
async fn managed_identity_tokens_and_a_new_token_after_401() {
    let imds = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/metadata/identity/oauth2/token"))
        .and(query_param("resource", "https://storage.azure.com"))
        .and(header("metadata", "true"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body("first-token")))
        .up_to_n_times(1)
        .expect(1)
        .mount(&imds)
        .await;
    Mock::given(method("GET"))
        .and(path("/metadata/identity/oauth2/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body("second-token")))
        .expect(1)
        .mount(&imds)
        .await;
    let blobs = MockServer::start().await;
    Mock::given(method("HEAD"))
        .and(header("authorization", "Bearer first-token"))
        .respond_with(
            ResponseTemplate::new(401)
                .insert_header("x-ms-error-code", "InvalidAuthenticationInfo"),
        )
        .mount(&blobs)
        .await;
    Mock::given(method("HEAD"))
        .and(header("authorization", "Bearer second-token"))
        .respond_with(ResponseTemplate::new(200).insert_header("content-length", "5"))
        .mount(&blobs)
        .await;
    let identity = imds_token::ManagedIdentity::builder()
        .environment(imds_token::Environment::empty())
        .imds_endpoint(imds.uri())
        .build()
        .unwrap();
    let config = StorageConfig::with_endpoint(
        &format!("{}/devstoreaccount1", blobs.uri()),
        Auth::managed_identity_with(identity),
    )
    .unwrap()
    .with_container("images")
    .unwrap();
    let storage = Storage::new(config).unwrap();

    assert_eq!(storage.size("cat.jpg").await.unwrap(), 5);
    assert_eq!(
        storage
            .identity_source()
            .map(imds_token::SourceChoice::kind),
        Some(imds_token::SourceKind::Imds)
    );
}

#[tokio::test]
async fn no_managed_identity_says_what_to_configure_instead() {
    // A port with nothing listening: connections are refused at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let identity = imds_token::ManagedIdentity::builder()
        .environment(imds_token::Environment::empty())
        .imds_endpoint(format!("http://127.0.0.1:{port}"))
        .max_retries(0)
        .build()
        .unwrap();
    let blobs = MockServer::start().await;
    let config = StorageConfig::with_endpoint(
        &format!("{}/devstoreaccount1", blobs.uri()),
        Auth::managed_identity_with(identity),
    )
    .unwrap()
    .with_container("images")
    .unwrap();

    let error = Storage::new(config)
        .unwrap()
        .exists("cat.jpg")
        .await
        .unwrap_err();

    assert_eq!(error.kind(), ErrorKind::NoIdentity);
    let message = error.to_string();
    assert!(
        message.starts_with(
            "cannot read the properties of `cat.jpg` in container `images`: no token from the \
             managed identity: "
        ),
        "{message}"
    );
    assert!(
        message.ends_with(
            ". Run where a managed identity is assigned (an Azure VM, App Service, AKS with \
             workload identity), or configure a key instead: AZURE_STORAGE_KEY, \
             AZURE_STORAGE_SAS_TOKEN or AZURE_STORAGE_CONNECTION_STRING"
        ),
        "{message}"
    );
    assert!(blobs.received_requests().await.unwrap().is_empty());
}

// ---- building a storage ----

#[test]
fn a_storage_needs_a_container() {
    let config = StorageConfig::development_storage();
    let error = Storage::new(config).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config);
    assert_eq!(
        error.to_string(),
        "no container configured: set AZURE_STORAGE_CONTAINER or call \
         StorageConfig::with_container"
    );
}

#[test]
fn an_unreadable_root_certificate_file_is_a_config_error() {
    let config = StorageConfig::development_storage()
        .with_container("images")
        .unwrap()
        .with_root_certificates_file("/nonexistent/azurite.pem");
    let error = Storage::new(config).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config);
    assert_eq!(
        error.to_string(),
        "the root certificate file /nonexistent/azurite.pem (SSL_CERT_FILE) cannot be read (No \
         such file or directory (os error 2)): fix the path or unset SSL_CERT_FILE"
    );
}

#[test]
fn bearer_tokens_over_plain_http_to_a_remote_host_are_refused_before_any_request() {
    let config = StorageConfig::with_endpoint(
        "http://photos.blob.core.windows.net",
        Auth::managed_identity(),
    )
    .unwrap()
    .with_container("images")
    .unwrap();
    let error = Storage::new(config).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config);
    assert!(
        error
            .to_string()
            .starts_with("the storage client cannot be set up: "),
        "{error}"
    );
}

#[test]
fn debug_output_shows_no_secret() {
    let sentinel = "SENTINEL0SIG";
    let config = StorageConfig::new(
        "photos",
        Auth::sas(&format!("sv=2024&sig={sentinel}")).unwrap(),
    )
    .unwrap()
    .with_container("images")
    .unwrap();
    let storage = Storage::new(config.clone()).unwrap();
    for text in [
        format!("{config:?}"),
        format!("{storage:?}"),
        storage.auth_choice().to_string(),
    ] {
        assert!(!text.contains(sentinel), "{text}");
    }
    assert_eq!(
        format!("{storage:?}"),
        "Storage { endpoint: \"https://photos.blob.core.windows.net\", container: \"images\", \
         location: \"\", auth: SharedAccessSignature, .. }"
    );
}

// ---- resumable downloads ----

/// A blob served by wiremock: Get Blob Properties, and Get Blob whole or from an offset
/// (`x-ms-range: bytes=N-`), honouring `If-Match` (412 when it names another ETag).
#[derive(Clone)]
struct FakeBlob {
    content: Vec<u8>,
    etag: &'static str,
    /// The stored MD5, if the blob has one.
    md5: Option<[u8; 16]>,
}

impl FakeBlob {
    fn new(content: &[u8], etag: &'static str, with_md5: bool) -> Self {
        use md5::Digest as _;
        Self {
            content: content.to_vec(),
            etag,
            md5: with_md5.then(|| md5::Md5::digest(content).into()),
        }
    }

    async fn mount(&self, server: &MockServer) {
        let blob = self.clone();
        Mock::given(path("/devstoreaccount1/images/video.bin"))
            .respond_with(move |request: &Request| blob.respond(request))
            .mount(server)
            .await;
    }

    fn respond(&self, request: &Request) -> ResponseTemplate {
        use base64::Engine as _;
        let md5 = self
            .md5
            .map(|md5| base64::engine::general_purpose::STANDARD.encode(md5));
        let if_match = header_of(request, "if-match");
        if if_match.is_some_and(|etag| etag != self.etag) {
            return service_error(412, "ConditionNotMet", "The condition specified is not met");
        }
        let mut answer = ResponseTemplate::new(200)
            .insert_header("etag", self.etag)
            .insert_header("x-ms-blob-type", "BlockBlob")
            .insert_header("last-modified", "Wed, 01 Jul 2026 10:00:00 GMT");
        let len = self.content.len();
        if request.method.as_str() == "HEAD" {
            answer = answer.insert_header("content-length", len.to_string().as_str());
            if let Some(md5) = &md5 {
                answer = answer.insert_header("content-md5", md5.as_str());
            }
            return answer;
        }
        let from = header_of(request, "x-ms-range").map_or(0, |range| {
            let offset = range.strip_prefix("bytes=").unwrap().strip_suffix('-');
            offset.expect("an open range").parse::<usize>().unwrap()
        });
        if header_of(request, "x-ms-range").is_some() {
            answer = ResponseTemplate::new(206)
                .insert_header("etag", self.etag)
                .insert_header("x-ms-blob-type", "BlockBlob")
                .insert_header(
                    "content-range",
                    format!("bytes {from}-{}/{len}", len - 1).as_str(),
                );
            if let Some(md5) = &md5 {
                answer = answer.insert_header("x-ms-blob-content-md5", md5.as_str());
            }
        } else if let Some(md5) = &md5 {
            answer = answer.insert_header("content-md5", md5.as_str());
        }
        answer.set_body_bytes(self.content[from..].to_vec())
    }
}

const VIDEO: &[u8] = b"The quick brown fox jumps over the lazy dog";

/// A scratch directory with the partial file `video.bin` and its ETag record.
struct Partial {
    dir: std::path::PathBuf,
    file: std::path::PathBuf,
    record: std::path::PathBuf,
}

impl Partial {
    fn new(content: Option<&[u8]>, record: Option<&str>) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "facade-resume-{}-{:08x}",
            std::process::id(),
            fastrand::u32(..)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("video.bin");
        let record_path = dir.join("video.bin.etag");
        if let Some(content) = content {
            std::fs::write(&file, content).unwrap();
        }
        if let Some(etag) = record {
            std::fs::write(&record_path, etag).unwrap();
        }
        Self {
            dir,
            file,
            record: record_path,
        }
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Resumable download options, one request at a time, collecting the restart notices.
fn resumable() -> (
    storage_facade::DownloadOptions,
    std::sync::Arc<std::sync::Mutex<Vec<String>>>,
) {
    let notices = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = std::sync::Arc::clone(&notices);
    let options = storage_facade::DownloadOptions::new()
        .transfer(storage_facade::TransferOptions::new().max_in_flight(1))
        .resume(true)
        .on_restart(move |reason| sink.lock().unwrap().push(reason.to_owned()));
    (options, notices)
}

/// The Get Blob requests received, as (x-ms-range, If-Match).
async fn blob_gets(server: &MockServer) -> Vec<(Option<String>, Option<String>)> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "GET")
        .map(|r| {
            (
                header_of(r, "x-ms-range").map(str::to_owned),
                header_of(r, "if-match").map(str::to_owned),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_resumed_download_goes_on_with_if_match_on_the_recorded_etag() {
    let server = MockServer::start().await;
    FakeBlob::new(VIDEO, "\"0x8DV1\"", true)
        .mount(&server)
        .await;
    let partial = Partial::new(Some(&VIDEO[..10]), Some("\"0x8DV1\""));
    let (options, notices) = resumable();

    let properties = storage(&server)
        .download_to_file_with("video.bin", &partial.file, options)
        .await
        .unwrap();

    assert_eq!(properties.content_length, VIDEO.len() as u64);
    assert_eq!(std::fs::read(&partial.file).unwrap(), VIDEO);
    assert!(!partial.record.exists(), "the record is removed at the end");
    assert!(notices.lock().unwrap().is_empty());
    assert_eq!(
        blob_gets(&server).await,
        [(Some("bytes=10-".to_owned()), Some("\"0x8DV1\"".to_owned()))]
    );
}

#[tokio::test]
async fn a_resumable_download_records_the_etag_and_keeps_it_on_a_service_error() {
    let server = MockServer::start().await;
    Mock::given(method("HEAD"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("etag", "\"0x8DV1\"")
                .insert_header("content-length", "43"),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(service_error(403, "AuthorizationPermissionMismatch", "no"))
        .mount(&server)
        .await;
    let partial = Partial::new(None, None);
    let (options, _) = resumable();

    let error = storage(&server)
        .download_to_file_with("video.bin", &partial.file, options)
        .await
        .unwrap_err();

    assert_eq!(error.kind(), ErrorKind::PermissionMissing);
    assert_eq!(
        std::fs::read_to_string(&partial.record).unwrap(),
        "\"0x8DV1\""
    );
    assert_eq!(
        blob_gets(&server).await,
        [(None, Some("\"0x8DV1\"".to_owned()))]
    );
}

#[tokio::test]
async fn a_resumed_download_starts_over_when_the_partial_file_cannot_be_trusted() {
    let other: &[u8] = b"Lorem ipsum dolor sit amet, consectetur adi";
    assert_eq!(other.len(), VIDEO.len());
    // (partial file, its record, blob has an MD5, the notice)
    let cases: [(&[u8], Option<&str>, bool, &str); 5] = [
        (
            &other[..10],
            Some("\"0x8DOLD\""),
            true,
            "the blob changed since {file} was started (ETag \"0x8DOLD\", now \"0x8DV2\"); \
             starting over from the beginning",
        ),
        (
            &other[..10],
            None,
            true,
            "{file} has no record of the blob version it holds ({record} is missing); starting \
             over from the beginning",
        ),
        (
            other,
            Some("\"0x8DV2\""),
            true,
            "{file} has the blob's full length but not its stored MD5; starting over from the \
             beginning",
        ),
        (
            VIDEO,
            Some("\"0x8DV2\""),
            false,
            "{file} has the blob's full length, but the blob has no stored MD5 to check it \
             against; starting over from the beginning",
        ),
        (
            b"The quick brown fox jumps over the lazy dog, and more",
            Some("\"0x8DV2\""),
            true,
            "{file} holds 53 bytes, more than the blob's 43; starting over from the beginning",
        ),
    ];
    for (content, record, with_md5, notice) in cases {
        let server = MockServer::start().await;
        FakeBlob::new(VIDEO, "\"0x8DV2\"", with_md5)
            .mount(&server)
            .await;
        let partial = Partial::new(Some(content), record);
        let (options, notices) = resumable();

        storage(&server)
            .download_to_file_with("video.bin", &partial.file, options)
            .await
            .unwrap();

        let notice = notice
            .replace("{file}", &partial.file.display().to_string())
            .replace("{record}", &partial.record.display().to_string());
        assert_eq!(*notices.lock().unwrap(), [notice]);
        assert_eq!(std::fs::read(&partial.file).unwrap(), VIDEO);
        assert!(!partial.record.exists());
        assert_eq!(
            blob_gets(&server).await,
            [(None, Some("\"0x8DV2\"".to_owned()))],
            "the whole blob again, pinned to its ETag"
        );
    }
}

#[tokio::test]
async fn a_partial_file_of_full_length_matching_the_stored_md5_is_complete() {
    let server = MockServer::start().await;
    FakeBlob::new(VIDEO, "\"0x8DV1\"", true)
        .mount(&server)
        .await;
    let partial = Partial::new(Some(VIDEO), Some("\"0x8DV1\""));
    let (options, notices) = resumable();

    let properties = storage(&server)
        .download_to_file_with("video.bin", &partial.file, options)
        .await
        .unwrap();

    assert_eq!(properties.etag.as_deref(), Some("\"0x8DV1\""));
    assert_eq!(std::fs::read(&partial.file).unwrap(), VIDEO);
    assert!(!partial.record.exists());
    assert!(notices.lock().unwrap().is_empty());
    assert!(blob_gets(&server).await.is_empty(), "nothing left to fetch");
}

#[tokio::test]
async fn an_integrity_failure_deletes_the_partial_file() {
    for resume in [true, false] {
        let server = MockServer::start().await;
        let mut blob = FakeBlob::new(VIDEO, "\"0x8DV1\"", true);
        blob.md5 = Some([7; 16]);
        blob.mount(&server).await;
        let partial = Partial::new(Some(&VIDEO[..10]), Some("\"0x8DV1\""));
        let (options, notices) = resumable();

        let error = storage(&server)
            .download_to_file_with("video.bin", &partial.file, options.resume(resume))
            .await
            .unwrap_err();

        assert_eq!(error.kind(), ErrorKind::Integrity, "{error}");
        assert!(!partial.file.exists(), "resume {resume}: the file is kept");
        assert!(
            !partial.record.exists(),
            "resume {resume}: the record is kept"
        );
        assert!(notices.lock().unwrap().is_empty());
    }
}

#[tokio::test]
async fn a_blob_that_keeps_changing_starts_over_once_then_fails_without_a_partial_file() {
    let server = MockServer::start().await;
    // Every Get Blob finds another version than the properties said.
    Mock::given(method("HEAD"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("etag", "\"0x8DV1\"")
                .insert_header("content-length", "43"),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(service_error(412, "ConditionNotMet", "not met"))
        .mount(&server)
        .await;
    let partial = Partial::new(None, None);
    let (options, notices) = resumable();

    let error = storage(&server)
        .download_to_file_with("video.bin", &partial.file, options)
        .await
        .unwrap_err();

    assert_eq!(error.kind(), ErrorKind::PreconditionFailed, "{error}");
    assert_eq!(
        *notices.lock().unwrap(),
        ["`video.bin` changed during the download; starting over from the beginning"]
    );
    assert!(!partial.file.exists() && !partial.record.exists());
    assert_eq!(blob_gets(&server).await.len(), 2);
}

#[tokio::test]
async fn a_download_without_resume_removes_a_stale_etag_record() {
    let server = MockServer::start().await;
    FakeBlob::new(VIDEO, "\"0x8DV2\"", true)
        .mount(&server)
        .await;
    let partial = Partial::new(Some(&VIDEO[..10]), Some("\"0x8DOLD\""));
    let (options, _) = resumable();

    storage(&server)
        .download_to_file_with("video.bin", &partial.file, options.resume(false))
        .await
        .unwrap();

    assert_eq!(std::fs::read(&partial.file).unwrap(), VIDEO);
    assert!(!partial.record.exists());
    assert_eq!(blob_gets(&server).await, [(None, None)]);
}

// ---- client options ----

#[tokio::test]
async fn a_configured_retry_policy_sets_the_number_of_attempts() {
    for max_attempts in [1, 3] {
        let server = MockServer::start().await;
        Mock::given(method("HEAD"))
            .respond_with(ResponseTemplate::new(503))
            .mount(&server)
            .await;
        // No waiting between attempts.
        let policy = storage_facade::RetryPolicy {
            max_attempts,
            base_delay: Duration::ZERO,
            max_delay: Duration::ZERO,
            total_deadline: Duration::from_secs(60),
        };
        let storage = Storage::new(config(&server).with_retry_policy(policy)).unwrap();

        let error = storage.properties("cat.jpg").await.unwrap_err();

        assert_eq!(error.kind(), ErrorKind::Unavailable, "{error}");
        assert_eq!(
            server.received_requests().await.unwrap().len(),
            max_attempts as usize
        );
    }
}

#[tokio::test]
async fn client_options_keep_the_extra_root_certificates() {
    let server = MockServer::start().await;
    Mock::given(method("HEAD"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let options = storage_facade::ClientOptions::default()
        .retry(storage_facade::RetryPolicy::none())
        .response_timeout(Duration::from_secs(5));
    // A certificate file that cannot be read still fails the build: the options do not
    // replace the facade's root certificate handling.
    let unreadable = config(&server)
        .with_client_options(options.clone())
        .with_root_certificates_file("/nonexistent/ca.pem");
    assert_eq!(
        unreadable
            .client_options()
            .unwrap()
            .retry_policy()
            .max_attempts,
        1
    );
    let error = Storage::new(unreadable).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config);
    assert!(error.to_string().contains("/nonexistent/ca.pem"), "{error}");

    let storage = Storage::new(config(&server).with_client_options(options)).unwrap();
    let error = storage.properties("cat.jpg").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unavailable, "{error}");
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

// ---- content in blocks ----

/// A container that exists, a free name, and Put Block / Put Block List that succeed.
async fn block_service() -> MockServer {
    let server = MockServer::start().await;
    container_exists(&server).await;
    Mock::given(method("HEAD"))
        .respond_with(ResponseTemplate::new(404).insert_header("x-ms-error-code", "BlobNotFound"))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(201).insert_header("etag", "\"0x8DB\""))
        .mount(&server)
        .await;
    server
}

/// The Blob service operations received, as `comp` (or `blob` for Put Blob) and body length.
async fn blob_operations(server: &MockServer) -> Vec<(String, usize)> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "PUT" && !r.url.as_str().contains("restype=container"))
        .map(|r| {
            let comp = r
                .url
                .query_pairs()
                .find(|(k, _)| k == "comp")
                .map_or_else(|| "blob".to_owned(), |(_, v)| v.into_owned());
            (comp, r.body.len())
        })
        .collect()
}

fn small_blocks() -> storage_facade::TransferOptions {
    storage_facade::TransferOptions::new()
        .block_size(1024)
        .single_put_threshold(1024)
        .max_in_flight(2)
}

#[tokio::test]
async fn bytes_above_the_threshold_go_up_in_blocks() {
    let server = block_service().await;
    let content: Vec<u8> = (0..2500u32).map(|i| (i % 251) as u8).collect();

    let stored = storage(&server)
        .save_with(
            "big.bin",
            content.clone(),
            SaveOptions::new().transfer(small_blocks()),
        )
        .await
        .unwrap();

    assert_eq!(stored, "big.bin");
    let operations = blob_operations(&server).await;
    let blocks: Vec<usize> = operations
        .iter()
        .filter(|(comp, _)| comp == "block")
        .map(|(_, len)| *len)
        .collect();
    assert_eq!(blocks.iter().sum::<usize>(), 2500);
    assert_eq!(
        {
            let mut sorted = blocks.clone();
            sorted.sort_unstable();
            sorted
        },
        [452, 1024, 1024]
    );
    assert_eq!(
        operations
            .iter()
            .filter(|(comp, _)| comp == "blocklist")
            .count(),
        1
    );
    assert!(
        operations.iter().all(|(comp, _)| comp != "blob"),
        "{operations:?}"
    );
    let mut sent: Vec<u8> = Vec::new();
    for request in server.received_requests().await.unwrap() {
        if request
            .url
            .query()
            .is_some_and(|q| q.contains("comp=block&"))
        {
            sent.extend_from_slice(&request.body);
        }
    }
    // Blocks may arrive in any order; their bytes are the content's.
    sent.sort_unstable();
    let mut expected = content;
    expected.sort_unstable();
    assert_eq!(sent, expected);

    // At the threshold: one Put Blob.
    let server = block_service().await;
    storage(&server)
        .save_with(
            "small.bin",
            vec![7u8; 1024],
            SaveOptions::new().transfer(small_blocks()),
        )
        .await
        .unwrap();
    assert_eq!(blob_operations(&server).await, [("blob".to_owned(), 1024)]);
}

#[tokio::test]
async fn a_stream_shorter_than_declared_fails_before_the_commit() {
    let server = block_service().await;
    let chunks = vec![
        Ok::<_, std::io::Error>(bytes::Bytes::from(vec![1u8; 1500])),
        Ok(bytes::Bytes::from(vec![2u8; 500])),
    ];
    let content = Content::stream(3000, futures_util::stream::iter(chunks));

    let error = storage(&server)
        .save_with(
            "short.bin",
            content,
            SaveOptions::new().transfer(small_blocks()),
        )
        .await
        .unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Io, "{error}");
    assert!(
        error
            .to_string()
            .contains("the content to upload is not its declared length: expected 3000 bytes"),
        "{error}"
    );
    let operations = blob_operations(&server).await;
    assert!(
        operations.iter().all(|(comp, _)| comp == "block"),
        "nothing committed: {operations:?}"
    );
}

/// A resumable download held to a version with `if_match` fails at once when the blob is
/// another version now: no Get Blob, no starting over onto the new version, and neither the
/// partial file nor its record is left to resume from.
#[tokio::test]
async fn a_resumable_download_held_to_an_etag_refuses_another_version_without_reading() {
    let server = MockServer::start().await;
    Mock::given(method("HEAD"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("etag", "\"0x8DV2\"")
                .insert_header("content-length", "43"),
        )
        .mount(&server)
        .await;
    let partial = Partial::new(Some(b"the first"), Some("\"0x8DV1\""));
    let (options, notices) = resumable();

    let error = storage(&server)
        .download_to_file_with("video.bin", &partial.file, options.if_match("\"0x8DV1\""))
        .await
        .unwrap_err();

    assert_eq!(error.kind(), ErrorKind::PreconditionFailed, "{error}");
    assert_eq!(
        error.to_string(),
        "cannot download `video.bin` in container `images`: the blob is no longer the version \
         asked for (ETag \"0x8DV1\", now \"0x8DV2\"); read its properties again for the current \
         ETag"
    );
    assert!(notices.lock().unwrap().is_empty());
    assert!(blob_gets(&server).await.is_empty());
    assert!(!partial.file.exists() && !partial.record.exists());
}
