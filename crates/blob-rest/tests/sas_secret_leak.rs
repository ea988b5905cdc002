//! Neither a user delegation key's value, nor the bearer token that fetched it, nor a SAS
//! signature appears in any tracing event, `Debug` output or error of the SAS paths.
//!
//! One test function, because it installs the process-wide tracing subscriber.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use blob_rest::{BearerToken, ClientOptions, Clock, Credential, SasOptions, StaticTokenProvider};
use common::{client, requests, TestClock};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "SENTINEL-TOKEN-93c1d0aa";
/// base64 of 32 bytes spelling a sentinel.
const KEY_VALUE: &str = "U0VOVElORUwtVURLLVZBTFVFLTAxMjM0NTY3ODlhYmM=";

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

/// A key from before the pinned test date until two days after it.
const KEY_DOCUMENT: &str = "<UserDelegationKey><SignedOid>o</SignedOid><SignedTid>t</SignedTid>\
    <SignedStart>2025-12-02T10:20:00Z</SignedStart><SignedExpiry>2025-12-04T10:30:00Z</SignedExpiry>\
    <SignedService>b</SignedService><SignedVersion>2024-11-04</SignedVersion>\
    <Value>U0VOVElORUwtVURLLVZBTFVFLTAxMjM0NTY3ODlhYmM=</Value></UserDelegationKey>";

#[tokio::test]
async fn sas_secrets_stay_out_of_logs_debug_and_errors() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string(KEY_DOCUMENT))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    // Later key requests are refused with the request's token echoed back.
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(403).set_body_string(format!(
            "<Error><Code>AuthenticationFailed</Code><Message>bad token {TOKEN}</Message>\
             </Error>"
        )))
        .mount(&server)
        .await;
    let provider = StaticTokenProvider::new(BearerToken::new(TOKEN.to_owned()));
    let clock = TestClock::new();
    let options = ClientOptions::default().clock(Arc::clone(&clock) as Arc<dyn Clock>);
    let service = client(&server, Credential::bearer(provider), options);
    let photos = service.container("photos");

    let mut shown = Vec::new();
    let mut signatures = Vec::new();
    for name in ["a.jpg", "b c.jpg"] {
        let url = photos
            .blob_sas_url(name, &SasOptions::expires_in(Duration::from_secs(3600)))
            .await
            .unwrap();
        signatures.push(url.as_str().split("&sig=").nth(1).unwrap().to_owned());
        shown.push(format!("{url:?} {}", url.redacted()));
    }
    // A SAS longer than the cached key needs a new key, which is refused.
    let err = photos
        .blob_sas_url(
            "a.jpg",
            &SasOptions::expires_in(Duration::from_secs(5 * 24 * 3600)),
        )
        .await
        .unwrap_err();
    shown.push(format!("{err} {err:?}"));
    let now = clock.now();
    let err = service
        .get_user_delegation_key(now, now + Duration::from_secs(60))
        .await
        .unwrap_err();
    shown.push(format!("{err} {err:?}"));
    // One key, then two refused requests, each tried once more with a renewed token.
    assert_eq!(requests(&server).await.len(), 5);

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("obtained a user delegation key"), "{logs}");
    let everything = format!("{logs}\n{}", shown.join("\n"));
    for secret in [KEY_VALUE, TOKEN]
        .into_iter()
        .chain(signatures.iter().map(String::as_str))
    {
        assert!(
            !everything.contains(secret),
            "{secret} leaked:\n{everything}"
        );
    }
}
