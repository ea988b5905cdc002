//! Sentinel secrets (account key, bearer token, SAS signature, and the SharedKey signatures
//! they produce) never appear in any Debug or Display output of a public type or error, nor
//! in any tracing event or span, through successes, auth failures, exhausted retries,
//! connection failures and bad configuration.
//!
//! One test function, because it installs the process-wide tracing subscriber that captures
//! events from every task, including the HTTP client's.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use blob_rest::{
    AccountKey, BearerToken, BlobServiceClient, Body, ClientOptions, Credential, Endpoint,
    GetBlobOptions, PutBlobOptions, SasToken, SharedKeyCredential, StaticTokenProvider,
};
use common::{requests, TestClock};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const TOKEN: &str = "SENTINEL-TOKEN-5f2a9c71e3b04d68";
const SAS_SIG: &str = "SENTINELSASSIG+7c1d/9e2f=";
const SAS_SIG_ENCODED: &str = "SENTINELSASSIG%2B7c1d%2F9e2f%3D";

/// A valid 64-byte key whose bytes spell a sentinel.
fn sentinel_key_bytes() -> Vec<u8> {
    b"SENTINELKEY-".iter().copied().cycle().take(64).collect()
}

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

/// Echoes the request's secrets back in an error body, as a careless server or proxy might.
fn echo_secrets(status: u16) -> impl Fn(&Request) -> ResponseTemplate + Send + Sync + 'static {
    move |request: &Request| {
        let auth = request
            .headers
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let signature = auth.rsplit(':').next().unwrap_or_default().to_owned();
        let token = auth.strip_prefix("Bearer ").unwrap_or_default();
        let query = request.url.query().unwrap_or_default();
        ResponseTemplate::new(status)
            .insert_header("x-ms-error-code", "AuthenticationFailed")
            .set_body_raw(
                format!(
                    "<Error><Code>AuthenticationFailed</Code><Message>Server failed: {auth} \
                     token {token} query {query}</Message><AuthenticationErrorDetail>The MAC \
                     signature found in the HTTP request '{signature}' is not the same as any \
                     computed signature.</AuthenticationErrorDetail></Error>"
                ),
                "application/xml",
            )
    }
}

/// Every credential through auth failures that echo its secrets, exhausted retries, and a
/// connection failure with the SAS in the URL. Returns the outputs and the signatures sent.
async fn drive_failures(
    clock: &Arc<TestClock>,
    key: &AccountKey,
    sas: &SasToken,
) -> (Vec<String>, Vec<String>) {
    let options = || common::options(clock).retry(common::fast_retry(2));
    let mut outputs = Vec::new();
    let server = MockServer::start().await;
    let endpoint = common::endpoint(&server);
    let provider = StaticTokenProvider::new(BearerToken::new(TOKEN.to_owned()));
    let credentials = [
        Credential::SharedKey(SharedKeyCredential::new("devstoreaccount1", key.clone())),
        Credential::Bearer(Arc::new(provider)),
        Credential::Sas(sas.clone()),
    ];
    outputs.push(format!("{credentials:?} {:?}", options()));
    Mock::given(any())
        .respond_with(echo_secrets(403))
        .up_to_n_times(3)
        .mount(&server)
        .await;
    Mock::given(any())
        .respond_with(echo_secrets(503))
        .mount(&server)
        .await;
    for credential in credentials {
        let service = BlobServiceClient::new(endpoint.clone(), credential, options()).unwrap();
        let container = service.container("photos");
        let blob = container.blob("secret test.txt");
        outputs.push(format!("{service:?} {container:?} {blob:?}"));
        let err = blob
            .put(&b"data"[..], PutBlobOptions::new())
            .await
            .unwrap_err();
        outputs.push(format!("{err} {err:?}"));
        let err = blob.get(GetBlobOptions::new()).await.unwrap_err();
        outputs.push(format!(
            "{err} {err:?} {:?}",
            std::error::Error::source(&err)
        ));
        let err = blob.get_properties().await.unwrap_err();
        outputs.push(format!("{err} {err:?}"));
    }
    let signatures: Vec<String> = requests(&server)
        .await
        .iter()
        .filter_map(|r| r.headers.get("authorization"))
        .filter_map(|v| {
            let value = v.to_str().unwrap();
            value
                .strip_prefix("SharedKey devstoreaccount1:")
                .map(str::to_owned)
        })
        .collect();
    assert!(signatures.len() >= 3, "the SharedKey requests were signed");

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = Endpoint::parse(&format!("http://127.0.0.1:{port}/devstoreaccount1")).unwrap();
    let service = BlobServiceClient::new(dead, Credential::Sas(sas.clone()), options()).unwrap();
    let err = service
        .container("photos")
        .blob("x")
        .get(GetBlobOptions::new())
        .await
        .unwrap_err();
    outputs.push(format!("{err} {err:?}"));
    (outputs, signatures)
}

/// Configuration mistakes made with secrets in hand.
fn config_errors(key_base64: &str) -> Vec<String> {
    let bad = [
        AccountKey::from_base64(&format!("{key_base64}!")).unwrap_err(),
        AccountKey::from_base64(&key_base64[..40]).unwrap_err(),
        SasToken::parse(&format!("sig={SAS_SIG_ENCODED}&sig={SAS_SIG_ENCODED}")).unwrap_err(),
        SasToken::parse(&format!("sv=1&{SAS_SIG_ENCODED}")).unwrap_err(),
        Endpoint::parse(&format!(
            "https://acct.blob.core.windows.net/?sig={SAS_SIG_ENCODED}"
        ))
        .unwrap_err(),
        Endpoint::parse(&format!("https://u:{TOKEN}@acct.blob.core.windows.net")).unwrap_err(),
        Endpoint::parse(&format!("not a url {TOKEN}")).unwrap_err(),
    ];
    bad.iter().map(|err| format!("{err} {err:?}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_debug_display_errors_or_logs() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let key_base64 = STANDARD.encode(sentinel_key_bytes());
    let key = AccountKey::from_base64(&key_base64).unwrap();
    let shared = SharedKeyCredential::new("devstoreaccount1", key.clone());
    let token = BearerToken::new(TOKEN.to_owned());
    let provider = StaticTokenProvider::new(token.clone());
    let sas = SasToken::parse(&format!("sv=2024-11-04&sp=r&sig={SAS_SIG_ENCODED}")).unwrap();
    let mut outputs = vec![
        format!("{key:?} {shared:?} {token:?} {provider:?} {sas:?}"),
        format!(
            "{:?} {:?}",
            Body::from(b"x".to_vec()),
            ClientOptions::default()
        ),
    ];
    let clock = TestClock::new();
    let (driven, signatures) = drive_failures(&clock, &key, &sas).await;
    outputs.extend(driven);
    outputs.extend(config_errors(&key_base64));

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("attempt failed, retrying"),
        "tracing was captured: {logs}"
    );
    assert!(logs.contains("blob_request"), "spans were captured");
    let all = format!("{}\n{logs}", outputs.join("\n"));
    let mut forbidden = vec![
        key_base64.clone(),
        String::from_utf8(sentinel_key_bytes()).unwrap(),
        "SENTINELKEY".to_owned(),
        TOKEN.to_owned(),
        SAS_SIG.to_owned(),
        SAS_SIG_ENCODED.to_owned(),
        "SENTINELSASSIG".to_owned(),
    ];
    forbidden.extend(signatures);
    for secret in &forbidden {
        assert!(
            !all.contains(secret.as_str()),
            "secret {secret:?} leaked into:\n{all}"
        );
    }
    // The echoed messages were kept, with the secrets replaced.
    assert!(all.contains("<redacted>"), "{all}");
}
