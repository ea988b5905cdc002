//! No secret leaks across the three crates: sentinel secrets (an account key given in code and
//! in a connection string, a SAS signature, a static bearer token, a managed identity token
//! from a wiremock IMDS, an App Service identity header, a workload identity assertion) go
//! through every failure path a caller can meet: the service refusing them and echoing them
//! back, retries running out, identity endpoints refusing and echoing the request, redirects,
//! and bad configuration. Every Debug and Display string of the values and errors (with their
//! source chains) and every tracing event at TRACE level is captured, and no sentinel may
//! appear in any of them.
//!
//! Also: redirects are not followed, so the redirect target never receives a credential.
//!
//! Its own test binary with one leak test, because it installs the process-wide tracing
//! subscriber that captures events from every task, including the HTTP clients'.

use std::fmt::Write as _;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use blob_rest::{BearerToken, StaticTokenProvider, TokenProvider};
use imds_token::{Environment, ManagedIdentity, ManualClock};
use storage_facade::{
    Auth, ErrorKind, ManagedIdentityTokenProvider, Storage, StorageConfig, STORAGE_RESOURCE,
};
use wiremock::matchers::{any, method};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const SAS_SIG_ENCODED: &str = "SENTINELSASSIG%2B7c1d%2F9e2f%3D";
const STATIC_TOKEN: &str = "SENTINEL-TOKEN-static-5f2a9c71";
const IMDS_TOKEN: &str = "SENTINEL-TOKEN-imds-77d1e0";
const IDENTITY_HEADER: &str = "SENTINEL-HEADER-91c2b4";
const ASSERTION: &str = "SENTINEL-ASSERTION-55d0a8";

/// A valid 64-byte account key whose bytes spell a sentinel.
fn key_bytes() -> Vec<u8> {
    b"SENTINELKEY-".iter().copied().cycle().take(64).collect()
}

fn key_base64() -> String {
    STANDARD.encode(key_bytes())
}

fn sas() -> String {
    format!("sv=2024-11-04&ss=b&srt=sco&sp=rwdlac&sig={SAS_SIG_ENCODED}")
}

/// Everything the subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Display, alternate Display, Debug and the whole source chain of an error.
fn everything(error: &(dyn std::error::Error + 'static)) -> String {
    let mut shown = format!("{error} | {error:#} | {error:?} | {error:#?}");
    let mut source = error.source();
    while let Some(cause) = source {
        write!(shown, " | {cause} | {cause:?}").unwrap();
        source = cause.source();
    }
    shown
}

/// Echoes every credential of the request (Authorization, the query with the SAS, the
/// identity header) in the body and in `x-ms-request-id`, as a careless server or proxy
/// might.
fn echo(status: u16) -> impl Fn(&Request) -> ResponseTemplate + Send + Sync + 'static {
    move |request: &Request| {
        let authorization = request
            .headers
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let query = request.url.query().unwrap_or_default().to_owned();
        let echoed = format!("{authorization} {query}");
        ResponseTemplate::new(status)
            .insert_header("x-ms-error-code", "AuthenticationFailed")
            .insert_header("x-ms-request-id", echoed.as_str())
            .insert_header("x-ms-retry-after-ms", "1")
            .set_body_raw(
                format!(
                    "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>AuthenticationFailed</Code>\
                     <Message>Server failed to authenticate the request: {echoed}</Message>\
                     <AuthenticationErrorDetail>Signature or token '{authorization}' \
                     with query '{query}' is not valid.</AuthenticationErrorDetail></Error>"
                ),
                "application/xml",
            )
    }
}

async fn echo_server(status: u16) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(echo(status))
        .mount(&server)
        .await;
    server
}

/// Every storage operation against a storage that fails, with all that can be seen of it.
async fn drive(storage: &Storage, shown: &mut Vec<String>) {
    shown.push(format!(
        "{} {:?} {:?} {} {}",
        storage.auth_choice(),
        storage.auth_choice(),
        storage.identity_source(),
        storage.blob_endpoint(),
        storage.account()
    ));
    let errors = [
        storage.save("secret test.txt", "data").await.unwrap_err(),
        storage.read("secret test.txt").await.unwrap_err(),
        storage
            .open("secret test.txt")
            .await
            .map(|_| ())
            .unwrap_err(),
        storage.exists("secret test.txt").await.unwrap_err(),
        storage.size("secret test.txt").await.unwrap_err(),
        storage.properties("secret test.txt").await.unwrap_err(),
        storage.delete("secret test.txt").await.unwrap_err(),
    ];
    for error in &errors {
        shown.push(everything(error));
    }
}

/// The ways to authenticate with a secret, against `endpoint` (path-style, with account).
fn secret_auths(endpoint: &str, imds: &MockServer, clock: &ManualClock) -> Vec<StorageConfig> {
    let static_provider: Arc<dyn TokenProvider> = Arc::new(StaticTokenProvider::new(
        BearerToken::new(STATIC_TOKEN.to_owned()),
    ));
    let identity = ManagedIdentity::builder()
        .clock(clock.clone())
        .imds_endpoint(imds.uri())
        .build()
        .unwrap();
    let auths = [
        Auth::shared_key(&key_base64()).unwrap(),
        Auth::sas(&sas()).unwrap(),
        Auth::token_provider(static_provider),
        Auth::managed_identity_with(identity),
    ];
    let mut configs: Vec<StorageConfig> = auths
        .into_iter()
        .map(|auth| StorageConfig::with_endpoint(endpoint, auth).unwrap())
        .collect();
    configs.push(
        StorageConfig::from_connection_string(&format!(
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={};\
             BlobEndpoint={endpoint}",
            key_base64()
        ))
        .unwrap(),
    );
    configs.push(
        StorageConfig::from_connection_string(&format!(
            "BlobEndpoint={endpoint};SharedAccessSignature=?{}",
            sas()
        ))
        .unwrap(),
    );
    configs
        .into_iter()
        .map(|config| config.with_container("images").unwrap())
        .collect()
}

/// The service refuses every credential (403 echoing it), then answers 503 (echoing it)
/// until the retries run out.
async fn service_failures(clock: &ManualClock, shown: &mut Vec<String>) -> Vec<String> {
    let imds = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": IMDS_TOKEN,
            "expires_in": "86399",
            "resource": STORAGE_RESOURCE,
            "token_type": "Bearer",
        })))
        .mount(&imds)
        .await;
    let mut signatures = Vec::new();
    for status in [403, 503] {
        let server = echo_server(status).await;
        let endpoint = format!("{}/devstoreaccount1", server.uri());
        for config in secret_auths(&endpoint, &imds, clock) {
            shown.push(format!(
                "{config:?} {:?} {}",
                config.auth(),
                config.auth_choice()
            ));
            let storage = Storage::new(config).unwrap();
            drive(&storage, shown).await;
        }
        let received = server.received_requests().await.unwrap();
        assert!(
            received.iter().any(|r| r
                .headers
                .get("authorization")
                .is_some_and(|v| v.to_str().unwrap() == format!("Bearer {IMDS_TOKEN}"))),
            "the managed identity's token was sent"
        );
        signatures.extend(received.iter().filter_map(|r| {
            let value = r.headers.get("authorization")?.to_str().unwrap();
            value
                .strip_prefix("SharedKey devstoreaccount1:")
                .map(str::to_owned)
        }));
        if status == 503 {
            // All attempts of one operation share one client request id.
            let first_id = received[0].headers["x-ms-client-request-id"].clone();
            let attempts = received
                .iter()
                .filter(|r| r.headers["x-ms-client-request-id"] == first_id)
                .count();
            assert_eq!(attempts, 4, "503s were retried until the attempts ran out");
        }
    }
    assert!(signatures.len() >= 10, "SharedKey requests were signed");
    signatures
}

/// Identity endpoints that refuse and echo what they were sent: App Service (the identity
/// header), workload identity (the assertion), each as a refusal and as retried 500s.
async fn identity_failures(clock: &ManualClock, shown: &mut Vec<String>) {
    let storage_server = echo_server(403).await;
    let endpoint = format!("{}/devstoreaccount1", storage_server.uri());

    let app_service = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(|request: &Request| {
            let header = request.headers.get("x-identity-header").unwrap();
            let header = header.to_str().unwrap().to_owned();
            let status = if request.url.query().is_some_and(|q| q.contains("client_id")) {
                500
            } else {
                400
            };
            ResponseTemplate::new(status).set_body_json(serde_json::json!({
                "statusCode": status,
                "message": format!("X-IDENTITY-HEADER {header} is not the one expected"),
                "error": format!("bad_header_{header}"),
            }))
        })
        .mount(&app_service)
        .await;
    let entra = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(|request: &Request| {
            let form = String::from_utf8_lossy(&request.body).into_owned();
            ResponseTemplate::new(400).set_body_json(serde_json::json!({
                "error": "invalid_client",
                "error_description": format!("AADSTS50027: JWT token is invalid: {form}"),
            }))
        })
        .mount(&entra)
        .await;
    let dir = std::env::temp_dir().join(format!("secret-leak-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let assertion_file = dir.join("federated-token");
    std::fs::write(&assertion_file, ASSERTION).unwrap();

    let app_service_env = |client_id: Option<&str>| {
        let mut vars = vec![
            (
                "IDENTITY_ENDPOINT",
                format!("{}/msi/token", app_service.uri()),
            ),
            ("IDENTITY_HEADER", IDENTITY_HEADER.to_owned()),
        ];
        if let Some(id) = client_id {
            vars.push(("AZURE_CLIENT_ID", id.to_owned()));
        }
        Environment::from_vars(vars)
    };
    let builders = [
        ManagedIdentity::builder().environment(app_service_env(None)),
        ManagedIdentity::builder().environment(app_service_env(Some("5e1f"))),
        ManagedIdentity::builder()
            .app_service(format!("{}/msi/token", app_service.uri()), IDENTITY_HEADER),
        ManagedIdentity::builder()
            .environment(Environment::empty())
            .workload_identity("tenant1", "client1", &assertion_file)
            .authority_host(entra.uri()),
    ];
    for builder in builders {
        let builder = builder.clock(clock.clone());
        shown.push(format!("{builder:?}"));
        let identity = builder.build().unwrap();
        shown.push(format!(
            "{identity:?} {} {:?}",
            identity.source(),
            identity.source()
        ));
        shown.push(everything(
            &identity.token(STORAGE_RESOURCE).await.unwrap_err(),
        ));
        let provider = ManagedIdentityTokenProvider::new(identity.clone());
        shown.push(format!("{provider:?}"));
        let config = StorageConfig::with_endpoint(&endpoint, Auth::managed_identity_with(identity))
            .unwrap()
            .with_container("images")
            .unwrap();
        shown.push(format!("{config:?}"));
        let storage = Storage::new(config).unwrap();
        drive(&storage, shown).await;
    }
    let sent = app_service.received_requests().await.unwrap();
    assert!(
        sent.iter()
            .any(|r| r.headers["x-identity-header"] == IDENTITY_HEADER),
        "the identity header was sent"
    );
    let sent = entra.received_requests().await.unwrap();
    assert!(
        sent.iter()
            .any(|r| String::from_utf8_lossy(&r.body).contains(ASSERTION)),
        "the assertion was sent"
    );
    assert!(
        storage_server.received_requests().await.unwrap().is_empty(),
        "no token, no blob request"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Configuration mistakes made with secrets in hand: each an error that must not quote them.
fn config_failures(shown: &mut Vec<String>) {
    let key = key_base64();
    let token_provider = || -> Arc<dyn TokenProvider> {
        Arc::new(StaticTokenProvider::new(BearerToken::new(
            STATIC_TOKEN.to_owned(),
        )))
    };
    let mut errors = vec![
        Auth::shared_key(&format!("{key}!")).unwrap_err(),
        Auth::shared_key(&key[..40]).unwrap_err(),
        Auth::shared_key(&format!("{key}{key}")).unwrap_err(),
        Auth::sas(&format!("sv=2024-11-04&{SAS_SIG_ENCODED}")).unwrap_err(),
        Auth::sas(&format!("sv=2024-11-04&si={SAS_SIG_ENCODED}&sig=")).unwrap_err(),
        StorageConfig::with_endpoint(
            &format!("https://u:{STATIC_TOKEN}@acct.blob.core.windows.net"),
            Auth::anonymous(),
        )
        .unwrap_err(),
        StorageConfig::with_endpoint(
            &format!("https://acct.blob.core.windows.net/?sig={SAS_SIG_ENCODED}"),
            Auth::anonymous(),
        )
        .unwrap_err(),
        // Bearer tokens and SAS over plain http to a host that is not loopback.
        Storage::new(
            StorageConfig::with_endpoint(
                "http://acct.blob.core.windows.net",
                Auth::token_provider(token_provider()),
            )
            .unwrap()
            .with_container("images")
            .unwrap(),
        )
        .map(|_| ())
        .unwrap_err(),
        Storage::new(
            StorageConfig::with_endpoint(
                "http://acct.blob.core.windows.net",
                Auth::sas(&sas()).unwrap(),
            )
            .unwrap()
            .with_container("images")
            .unwrap(),
        )
        .map(|_| ())
        .unwrap_err(),
        // A storage without a container, holding a key.
        Storage::new(StorageConfig::new("photos", Auth::shared_key(&key).unwrap()).unwrap())
            .map(|_| ())
            .unwrap_err(),
    ];
    for connection_string in [
        format!("AccountName=photos;AccountKey={key}!"),
        format!("AccountName=photos;AccountKey={}", &key[..60]),
        format!("AccountKey={key}"),
        format!("AccountName=photos;{key}"),
        format!("AccountName=photos;AccountKey={key};AccountKey={key}"),
        format!(
            "AccountName=photos;AccountKey={key};SharedAccessSignature={}",
            sas()
        ),
        format!("AccountName=photos;SharedAccessSignature=sv=1&x={SAS_SIG_ENCODED}"),
        format!("AccountName=photos;Key{key}=x;AccountKey={key}"),
        format!("UseDevelopmentStorage=true;AccountKey={key}"),
        format!("AccountName=photos;AccountKey={key};DefaultEndpointsProtocol=ftp"),
    ] {
        errors.push(StorageConfig::from_connection_string(&connection_string).unwrap_err());
    }
    let env_sets: [&[(&str, &str)]; 4] = [
        &[("AZURE_STORAGE_KEY", &key)],
        &[
            ("AZURE_STORAGE_ACCOUNT", "photos"),
            ("AZURE_STORAGE_KEY", &key[1..]),
        ],
        &[
            ("AZURE_STORAGE_ACCOUNT", "photos"),
            ("AZURE_STORAGE_SAS_TOKEN", SAS_SIG_ENCODED),
        ],
        &[(
            "AZURE_STORAGE_CONNECTION_STRING",
            &format!("AccountKey={key};x"),
        )],
    ];
    for vars in env_sets {
        let lookup = |name: &str| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        };
        errors.push(StorageConfig::from_lookup(lookup).unwrap_err());
    }
    for error in &errors {
        assert_eq!(error.kind(), ErrorKind::Config, "{error}");
        shown.push(everything(error));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_any_output_of_any_crate() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();
    let clock = ManualClock::new(SystemTime::now());
    let mut shown = Vec::new();

    let signatures = service_failures(&clock, &mut shown).await;
    identity_failures(&clock, &mut shown).await;
    config_failures(&mut shown);

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    // The capture saw every layer: blob requests and retries, identity requests, hyper.
    for expected in [
        "blob_request",
        "attempt failed, retrying",
        "managed_identity_token",
        "managed identity token obtained",
        "hyper",
    ] {
        assert!(logs.contains(expected), "{expected:?} was not logged");
    }
    let all = format!("{}\n{logs}", shown.join("\n"));
    let mut forbidden = vec![
        "SENTINEL".to_owned(),
        key_base64(),
        key_base64()[..16].to_owned(),
        SAS_SIG_ENCODED.to_owned(),
    ];
    forbidden.extend(signatures);
    for secret in &forbidden {
        if let Some(at) = all.find(secret.as_str()) {
            let start = all[..at]
                .char_indices()
                .rev()
                .nth(300)
                .map_or(0, |(i, _)| i);
            let end = (at + 300).min(all.len());
            let end = (end..all.len())
                .find(|i| all.is_char_boundary(*i))
                .unwrap_or(all.len());
            panic!("secret {secret:?} leaked:\n…{}…", &all[start..end]);
        }
    }
    // The echoed server messages were kept, with the secrets taken out.
    assert!(all.contains("<redacted>"));
}

/// A 307 to another server is not followed: the other server receives nothing, so no
/// credential (SharedKey signature, bearer token, SAS in the URL) reaches it.
#[tokio::test]
async fn redirects_are_not_followed_with_credentials() {
    let elsewhere = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_string("followed"))
        .mount(&elsewhere)
        .await;
    let redirecting = MockServer::start().await;
    let target = elsewhere.uri();
    Mock::given(any())
        .respond_with(move |request: &Request| {
            let query = request
                .url
                .query()
                .map(|q| format!("?{q}"))
                .unwrap_or_default();
            ResponseTemplate::new(307)
                .insert_header("location", format!("{target}{}{query}", request.url.path()))
        })
        .mount(&redirecting)
        .await;
    let endpoint = format!("{}/devstoreaccount1", redirecting.uri());
    let provider: Arc<dyn TokenProvider> = Arc::new(StaticTokenProvider::new(BearerToken::new(
        "token-for-this-host-only".to_owned(),
    )));
    let auths = [
        Auth::shared_key(&key_base64()).unwrap(),
        Auth::sas(&sas()).unwrap(),
        Auth::token_provider(provider),
    ];
    for auth in auths {
        let config = StorageConfig::with_endpoint(&endpoint, auth)
            .unwrap()
            .with_container("images")
            .unwrap();
        let storage = Storage::new(config).unwrap();
        let error = storage.read("photo.jpg").await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Other, "{error}");
        assert!(everything(&error).contains("307"), "{error}");
        storage.save("photo.jpg", "data").await.unwrap_err();
        storage.exists("photo.jpg").await.unwrap_err();
    }
    let sent = redirecting.received_requests().await.unwrap();
    assert!(sent.iter().all(|r| r.headers.contains_key("authorization")
        || r.url.query().is_some_and(|q| q.contains("sig="))));
    assert!(sent.len() >= 9, "{} requests", sent.len());
    assert_eq!(
        elsewhere.received_requests().await.unwrap().len(),
        0,
        "the redirect was followed"
    );
}
