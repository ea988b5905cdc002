//! How service failures become errors: code from the header first, the XML body (with or
//! without a byte-order mark) as fallback, bounded body reads, non-XML bodies, HEAD answers
//! without a body, and the kinds callers match on.

mod common;

use blob_rest::{ErrorKind, GetBlobOptions, PutBlobOptions};
use common::{requests, shared_key_client, storage_error, TestClock};
use wiremock::matchers::{any, method};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn server_with(response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(response)
        .mount(&server)
        .await;
    server
}

async fn get_error(response: ResponseTemplate) -> blob_rest::Error {
    let server = server_with(response).await;
    let clock = TestClock::new();
    shared_key_client(&server, &clock)
        .container("photos")
        .blob("cat.jpg")
        .get(GetBlobOptions::new())
        .await
        .unwrap_err()
}

#[tokio::test]
async fn header_code_wins_over_body() {
    let err = get_error(
        ResponseTemplate::new(404)
            .insert_header("x-ms-error-code", "BlobNotFound")
            .insert_header("x-ms-request-id", "rid-9")
            .set_body_raw(
                "<Error><Code>SomethingElse</Code><Message>m</Message></Error>",
                "application/xml",
            ),
    )
    .await;
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(err.status().map(|s| s.as_u16()), Some(404));
    assert_eq!(err.code(), Some("BlobNotFound"));
    assert_eq!(err.message(), Some("m"));
    assert_eq!(err.request_id(), Some("rid-9"));
    assert_eq!(
        err.to_string(),
        "Get Blob photos/cat.jpg: HTTP 404 Not Found BlobNotFound: m [request id rid-9]"
    );
}

#[tokio::test]
async fn xml_body_with_byte_order_mark() {
    let body = "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n<Error>\r\n  <Code>InvalidRange</Code>\r\n  \
                <Message>The range specified is invalid for the current size of the resource.\nRequestId:x\nTime:y</Message>\r\n</Error>";
    let err = get_error(ResponseTemplate::new(416).set_body_raw(body, "application/xml")).await;
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(err.code(), Some("InvalidRange"));
    assert_eq!(
        err.message(),
        Some("The range specified is invalid for the current size of the resource.")
    );
}

#[tokio::test]
async fn huge_body_is_read_only_up_to_64_kib() {
    // The code sits past the first 64 KiB, so it is found only if the whole body were read.
    let padding = "x".repeat(80 * 1024);
    let body = format!("<Error><Message>{padding}</Message><Code>LateCode</Code></Error>");
    let err = get_error(ResponseTemplate::new(500).set_body_raw(body, "application/xml")).await;
    assert_eq!(err.kind(), ErrorKind::ServerBusy);
    assert_eq!(err.code(), None, "a code past 64 KiB must not be read");
    // Ten megabytes of garbage still give a short, one-line error.
    let err =
        get_error(ResponseTemplate::new(502).set_body_bytes(vec![b'z'; 10 * 1024 * 1024])).await;
    assert!(err.to_string().len() < 600, "{}", err.to_string().len());
    assert!(!err.to_string().contains('\n'));
}

#[tokio::test]
async fn non_xml_body_is_quoted_briefly() {
    let err = get_error(ResponseTemplate::new(403).set_body_raw(
        "<html><body><h1>Forbidden by proxy</h1></body></html>",
        "text/html",
    ))
    .await;
    assert_eq!(err.kind(), ErrorKind::AuthenticationFailed);
    assert_eq!(err.code(), None);
    assert!(
        err.to_string()
            .contains("not a storage error document: \"<html><body><h1>Forbidden by proxy"),
        "{err}"
    );
}

#[tokio::test]
async fn head_404_has_only_a_header_code() {
    let server = MockServer::start().await;
    Mock::given(method("HEAD"))
        .respond_with(ResponseTemplate::new(404).insert_header("x-ms-error-code", "BlobNotFound"))
        .mount(&server)
        .await;
    let clock = TestClock::new();
    let err = shared_key_client(&server, &clock)
        .container("photos")
        .blob("gone.txt")
        .get_properties()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(err.code(), Some("BlobNotFound"));
    assert_eq!(err.message(), None);
    assert_eq!(
        err.to_string(),
        "Get Blob Properties photos/gone.txt: HTTP 404 Not Found BlobNotFound"
    );
}

#[tokio::test]
async fn permission_missing_names_the_data_role() {
    let err = get_error(storage_error(
        403,
        "AuthorizationPermissionMismatch",
        "This request is not authorized to perform this operation using this permission.",
    ))
    .await;
    assert_eq!(err.kind(), ErrorKind::PermissionMissing);
    let text = err.to_string();
    assert!(text.contains("Storage Blob Data Contributor"), "{text}");
    assert!(text.contains("[request id req-123]"), "{text}");
}

#[tokio::test]
async fn already_exists_and_precondition_failed() {
    let clock = TestClock::new();
    // Create-only refused with 412 (some servers) or 409 BlobAlreadyExists (others).
    for response in [
        storage_error(
            412,
            "ConditionNotMet",
            "The condition specified using HTTP conditional header(s) is not met.",
        ),
        storage_error(
            409,
            "BlobAlreadyExists",
            "The specified blob already exists.",
        ),
    ] {
        let server = server_with(response).await;
        let err = shared_key_client(&server, &clock)
            .container("photos")
            .blob("cat.jpg")
            .put(&b"x"[..], PutBlobOptions::new().if_not_exists())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{err}");
    }
    // The same 412 on an If-Match write is a failed precondition.
    let server = server_with(storage_error(412, "ConditionNotMet", "not met")).await;
    let err = shared_key_client(&server, &clock)
        .container("photos")
        .blob("cat.jpg")
        .put(&b"x"[..], PutBlobOptions::new().if_match("\"0x1\""))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PreconditionFailed);
}

#[tokio::test]
async fn create_if_not_exists_treats_container_already_exists_as_success() {
    let server = server_with(storage_error(
        409,
        "ContainerAlreadyExists",
        "The specified container already exists.",
    ))
    .await;
    let clock = TestClock::new();
    let container = shared_key_client(&server, &clock).container("photos");
    assert!(!container.create_if_not_exists().await.unwrap());
    let err = container.create().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists);
    // Other conflicts are not "already exists".
    let server = server_with(storage_error(409, "ContainerBeingDeleted", "being deleted")).await;
    let err = shared_key_client(&server, &clock)
        .container("photos")
        .create_if_not_exists()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Other);
    assert_eq!(err.code(), Some("ContainerBeingDeleted"));
}

#[tokio::test]
async fn md5_mismatch_on_upload_is_an_integrity_error() {
    let server = server_with(storage_error(400, "Md5Mismatch", "The MD5 value specified in the request did not match with the MD5 value calculated by the server.")).await;
    let clock = TestClock::new();
    let err = shared_key_client(&server, &clock)
        .container("photos")
        .blob("cat.jpg")
        .put(&b"x"[..], PutBlobOptions::new().content_md5([0; 16]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Integrity);
    assert_eq!(requests(&server).await.len(), 1, "400 is not retried");
}

#[tokio::test]
async fn redirects_are_not_followed() {
    // Following the redirect would end in a connection error to the discard port instead.
    let err =
        get_error(ResponseTemplate::new(307).insert_header("location", "http://127.0.0.1:9/x"))
            .await;
    assert_eq!(err.kind(), ErrorKind::Other);
    assert_eq!(err.status().map(|s| s.as_u16()), Some(307));
}

#[tokio::test]
async fn a_hint_follows_the_services_own_sentence_with_one_full_stop() {
    let body = "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>AuthenticationFailed</Code>\
                <Message>Server failed to authenticate the request. Make sure the value of the \
                Authorization header is formed correctly including the signature.</Message></Error>";
    let err = get_error(
        ResponseTemplate::new(403)
            .insert_header("x-ms-error-code", "AuthenticationFailed")
            .set_body_raw(body, "application/xml"),
    )
    .await;
    assert!(
        err.to_string().contains(
            "HTTP 403 Forbidden AuthenticationFailed: Server failed to authenticate the request. \
             Make sure the value of the Authorization header is formed correctly including the \
             signature. The service did not accept the credential: check the account name and \
             key (or token/SAS), and that this machine's clock is right"
        ),
        "{err}"
    );
    let err = get_error(
        ResponseTemplate::new(403).insert_header("x-ms-error-code", "AuthenticationFailed"),
    )
    .await;
    assert!(
        err.to_string().contains(
            "HTTP 403 Forbidden AuthenticationFailed. The service did not accept the credential"
        ),
        "{err}"
    );
}
