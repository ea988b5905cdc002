//! What endpoints answer: number and string fields, date strings, refusals and garbage.

use std::time::Duration;

use imds_token::{Clock, ErrorKind, ManualClock};
use serde_json::json;
use wiremock::{MockServer, ResponseTemplate};

use crate::common::{
    assert_imds_request, epoch, imds_identity, mount_imds, mount_imds_times, ok_token, requests,
    DAY, IMDS_STORAGE_QUERY, STORAGE,
};

async fn expiry_from(body: serde_json::Value, clock: &ManualClock) -> u64 {
    let server = MockServer::start().await;
    mount_imds(&server, ResponseTemplate::new(200).set_body_json(body)).await;
    let token = imds_identity(&server, clock).token(STORAGE).await.unwrap();
    assert_eq!(token.secret(), "eyJ-fields");
    assert_imds_request(&requests(&server).await[0], IMDS_STORAGE_QUERY);
    epoch(token.expires_on())
}

#[tokio::test]
async fn numbers_as_numbers_or_strings() {
    let clock = ManualClock::default();
    let in_an_hour = epoch(clock.now()) + 3600;
    let as_numbers =
        json!({"access_token": "eyJ-fields", "expires_in": 3599, "expires_on": in_an_hour});
    let as_strings = json!({
        "access_token": "eyJ-fields",
        "expires_in": "3599",
        "expires_on": in_an_hour.to_string(),
    });
    assert_eq!(expiry_from(as_numbers, &clock).await, in_an_hour);
    assert_eq!(expiry_from(as_strings, &clock).await, in_an_hour);
}

#[tokio::test]
async fn expires_in_alone_counts_from_the_request() {
    let clock = ManualClock::default();
    let body = json!({"access_token": "eyJ-fields", "expires_in": "3599"});
    assert_eq!(expiry_from(body, &clock).await, epoch(clock.now()) + 3599);
}

#[tokio::test]
async fn date_string_expires_on_forms() {
    // The manual clock starts at 2026-01-01T00:00:00Z.
    let clock = ManualClock::default();
    let cases = [
        ("01/01/2026 13:30:00 +00:00", 48_600),
        ("1/1/2026 1:30:00 PM +00:00", 48_600),
        ("01/01/2026 09:15:00 AM +00:00", 33_300),
    ];
    for (text, offset) in cases {
        let body = json!({"access_token": "eyJ-fields", "expires_on": text, "resource": STORAGE});
        assert_eq!(
            expiry_from(body, &clock).await,
            epoch(clock.now()) + offset,
            "{text}"
        );
    }
}

/// A failure that must not be cached: after the failure backoff the next call asks again and
/// gets the token.
async fn fails_then_recovers(bad: ResponseTemplate, kind: ErrorKind, message: &str) {
    let server = MockServer::start().await;
    let clock = ManualClock::default();
    mount_imds_times(&server, bad, 1).await;
    mount_imds(&server, ok_token("eyJ-good", &clock, DAY)).await;
    let identity = imds_identity(&server, &clock);

    let error = identity.token(STORAGE).await.unwrap_err();
    assert_eq!(error.kind(), kind);
    assert_eq!(error.to_string(), message.replace("{uri}", &server.uri()));
    assert_eq!(requests(&server).await.len(), 1, "no retry");

    // Within the backoff the failure is answered without a request ...
    let again = identity.token(STORAGE).await.unwrap_err();
    assert_eq!(again.kind(), kind);
    assert_eq!(requests(&server).await.len(), 1);
    // ... and after it, the endpoint is asked again.
    clock.advance(Duration::from_secs(2));
    assert_eq!(identity.token(STORAGE).await.unwrap().secret(), "eyJ-good");
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 2);
    for request in &sent {
        assert_imds_request(request, IMDS_STORAGE_QUERY);
    }
}

#[tokio::test]
async fn a_proxy_page_is_no_identity_and_not_cached() {
    fails_then_recovers(
        ResponseTemplate::new(200)
            .insert_header("content-type", "text/html")
            .set_body_string("<html><body>Please sign in to the guest network</body></html>"),
        ErrorKind::NoIdentity,
        "the IMDS at {uri}/metadata/identity/oauth2/token answered 200 OK with 61 bytes that \
         are not JSON, so it is not a managed identity endpoint: is a proxy, a captive portal or \
         another service answering there?",
    )
    .await;
}

#[tokio::test]
async fn a_200_without_a_token_is_invalid_and_not_cached() {
    fails_then_recovers(
        ResponseTemplate::new(200)
            .set_body_json(json!({"expires_in": "3599", "token_type": "Bearer"})),
        ErrorKind::InvalidResponse,
        "the IMDS at {uri}/metadata/identity/oauth2/token answered 200 OK for \
         https://storage.azure.com but not with a usable token: it has no access_token",
    )
    .await;
}

#[tokio::test]
async fn a_cut_off_body_is_not_json() {
    fails_then_recovers(
        ResponseTemplate::new(200).set_body_string(r#"{"access_token":"eyJ-cut","expires_in":"35"#),
        ErrorKind::NoIdentity,
        "the IMDS at {uri}/metadata/identity/oauth2/token answered 200 OK with 42 bytes that \
         are not JSON, so it is not a managed identity endpoint: is a proxy, a captive portal or \
         another service answering there?",
    )
    .await;
}

#[tokio::test]
async fn an_unreadable_expiry_is_invalid() {
    fails_then_recovers(
        ResponseTemplate::new(200)
            .set_body_json(json!({"access_token": "eyJ-x", "expires_on": "next tuesday"})),
        ErrorKind::InvalidResponse,
        "the IMDS at {uri}/metadata/identity/oauth2/token answered 200 OK for \
         https://storage.azure.com but not with a usable token: its expires_on \"next tuesday\" \
         is neither seconds since 1970 nor a date",
    )
    .await;
}

#[tokio::test]
async fn an_already_expired_token_is_invalid() {
    let clock = ManualClock::default();
    let an_hour_ago = epoch(clock.now()) - 3600;
    fails_then_recovers(
        ResponseTemplate::new(200)
            .set_body_json(json!({"access_token": "eyJ-old", "expires_on": an_hour_ago})),
        ErrorKind::InvalidResponse,
        "the IMDS at {uri}/metadata/identity/oauth2/token answered with a token for \
         https://storage.azure.com that expired at Wed, 31 Dec 2025 23:00:00 GMT while this \
         machine's clock says Thu, 01 Jan 2026 00:00:00 GMT: check the clock",
    )
    .await;
}

#[tokio::test]
async fn an_answer_too_large_for_a_token_is_not_read() {
    fails_then_recovers(
        ResponseTemplate::new(200).set_body_string("x".repeat(70 * 1024)),
        ErrorKind::NoIdentity,
        "the IMDS at {uri}/metadata/identity/oauth2/token answered 200 OK with more than 64 KiB, \
         which is not a token response: is another service listening there?",
    )
    .await;
}

#[tokio::test]
async fn a_400_html_page_is_no_identity() {
    fails_then_recovers(
        ResponseTemplate::new(400).set_body_string("<html>Bad Request</html>"),
        ErrorKind::NoIdentity,
        "the IMDS at {uri}/metadata/identity/oauth2/token answered 400 Bad Request with 24 \
         bytes that are not JSON, so it is not a managed identity endpoint: is a proxy, a \
         captive portal or another service answering there?",
    )
    .await;
}

#[tokio::test]
async fn refusals_carry_the_endpoints_words() {
    let cases = [
        (
            400,
            "invalid_request",
            "Identity not found",
            ". Check that a managed identity is assigned to this VM or app, and that the client \
             id, object id or resource id given (if any) is one of its identities.",
        ),
        (
            400,
            "invalid_request",
            "Multiple user assigned identities exist, please specify the clientId / resourceId \
             of the identity in the token request",
            ". Several identities are assigned here: choose one with AZURE_CLIENT_ID, or with a \
             client id, object id or resource id in code.",
        ),
        (
            400,
            "invalid_resource",
            "AADSTS500011: The resource principal named https://storage.azure.com was not found \
             in the tenant",
            ". Check the resource name, such as https://storage.azure.com.",
        ),
        (403, "forbidden", "The caller is not allowed", ""),
    ];
    for (status, code, description, hint) in cases {
        let server = MockServer::start().await;
        let clock = ManualClock::default();
        mount_imds(
            &server,
            ResponseTemplate::new(status)
                .set_body_json(json!({"error": code, "error_description": description})),
        )
        .await;
        let identity = imds_identity(&server, &clock);

        let error = identity.token(STORAGE).await.unwrap_err();

        assert_eq!(error.kind(), ErrorKind::Refused, "{description}");
        assert_eq!(error.status(), Some(status));
        assert_eq!(error.endpoint_error(), Some(code));
        assert_eq!(error.error_description(), Some(description));
        let reason = if status == 400 {
            "Bad Request"
        } else {
            "Forbidden"
        };
        assert_eq!(
            error.to_string(),
            format!(
                "the IMDS at {}/metadata/identity/oauth2/token refused a token for \
                 https://storage.azure.com: {status} {reason}: {code}: {description}{hint}",
                server.uri()
            )
        );
        let sent = requests(&server).await;
        assert_eq!(sent.len(), 1, "refusals are not retried");
        assert_imds_request(&sent[0], IMDS_STORAGE_QUERY);
    }
}
