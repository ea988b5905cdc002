//! List Blobs against a mock service: the exact request, pages followed by their markers, and
//! the stops that keep a bad answer from looping or from being taken as a listing.

mod common;

use std::fmt::Write as _;

use blob_rest::{ErrorKind, ListBlobsOptions};
use common::{header, requests, shared_key_client, TestClock, DATE};
use futures_util::StreamExt as _;
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn page(names: &[&str], prefixes: &[&str], next_marker: &str) -> ResponseTemplate {
    let mut entries = String::new();
    for name in names {
        let len = name.len();
        write!(
            entries,
            "<Blob><Name>{name}</Name><Properties>\
             <Last-Modified>{DATE}</Last-Modified><Etag>0x8DD{len}</Etag>\
             <Content-Length>{len}</Content-Length><Content-Type>text/plain</Content-Type>\
             </Properties><Metadata><Owner>{name}</Owner></Metadata></Blob>"
        )
        .unwrap();
    }
    for prefix in prefixes {
        write!(entries, "<BlobPrefix><Name>{prefix}</Name></BlobPrefix>").unwrap();
    }
    ResponseTemplate::new(200).set_body_raw(
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><EnumerationResults \
             ContainerName=\"photos\"><Blobs>{entries}</Blobs>\
             <NextMarker>{next_marker}</NextMarker></EnumerationResults>"
        ),
        "application/xml",
    )
}

#[tokio::test]
async fn one_page_request_is_exact() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(page(&["a/1.txt"], &["a/b/"], ""))
        .mount(&server)
        .await;
    let clock = TestClock::new();
    let listing = shared_key_client(&server, &clock)
        .container("photos")
        .list_blobs_page(
            &ListBlobsOptions::new()
                .prefix("a/ é+")
                .delimiter("/")
                .marker("m 1/=")
                .max_results(2)
                .include_metadata(),
        )
        .await
        .unwrap();
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 1);
    let r = &sent[0];
    assert_eq!(r.url.path(), "/devstoreaccount1/photos");
    assert_eq!(
        r.url.query(),
        Some(
            "restype=container&comp=list&prefix=a%2F%20%C3%A9%2B&delimiter=%2F\
             &marker=m%201%2F%3D&maxresults=2&include=metadata"
        )
    );
    let authorization = header(r, "authorization").unwrap();
    assert!(authorization.starts_with("SharedKey devstoreaccount1:"));
    assert_eq!(listing.blobs.len(), 1);
    let blob = &listing.blobs[0];
    assert_eq!(blob.name, "a/1.txt");
    assert_eq!(blob.content_length, 7);
    assert_eq!(blob.etag.as_deref(), Some("\"0x8DD7\""));
    assert_eq!(
        blob.metadata.get("owner").map(String::as_str),
        Some("a/1.txt")
    );
    assert_eq!(listing.prefixes, ["a/b/"]);
    assert_eq!(listing.next_marker, None);
}

#[tokio::test]
async fn pages_are_followed_to_the_end() {
    let server = MockServer::start().await;
    Mock::given(path("/devstoreaccount1/photos"))
        .and(query_param_is_missing("marker"))
        .respond_with(page(&["a", "b"], &[], "marker-2"))
        .mount(&server)
        .await;
    Mock::given(path("/devstoreaccount1/photos"))
        .and(query_param("marker", "marker-2"))
        .respond_with(page(&["c", "d"], &[], "marker-3"))
        .mount(&server)
        .await;
    Mock::given(path("/devstoreaccount1/photos"))
        .and(query_param("marker", "marker-3"))
        .respond_with(page(&["e"], &["f/"], ""))
        .mount(&server)
        .await;
    let clock = TestClock::new();
    let photos = shared_key_client(&server, &clock).container("photos");

    let pages: Vec<_> = photos
        .list_blobs(ListBlobsOptions::new().max_results(2))
        .collect()
        .await;
    let sizes: Vec<usize> = pages
        .iter()
        .map(|p| p.as_ref().unwrap().blobs.len())
        .collect();
    assert_eq!(sizes, [2, 2, 1]);

    let all = photos
        .list_all_blobs(ListBlobsOptions::new().max_results(2))
        .await
        .unwrap();
    let names: Vec<&str> = all.blobs.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c", "d", "e"]);
    assert_eq!(all.prefixes, ["f/"]);
    assert_eq!(all.next_marker, None);
    let queries: Vec<String> = requests(&server)
        .await
        .iter()
        .map(|r| r.url.query().unwrap().to_owned())
        .collect();
    assert_eq!(
        queries[..3],
        [
            "restype=container&comp=list&maxresults=2",
            "restype=container&comp=list&marker=marker-2&maxresults=2",
            "restype=container&comp=list&marker=marker-3&maxresults=2",
        ]
    );
}

#[tokio::test]
async fn a_marker_that_does_not_move_stops_the_listing() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(page(&["a"], &[], "stuck"))
        .mount(&server)
        .await;
    let clock = TestClock::new();
    let err = shared_key_client(&server, &clock)
        .container("photos")
        .list_all_blobs(ListBlobsOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Other);
    assert!(
        err.to_string()
            .contains("returned a continuation marker it had already returned (1 markers seen)"),
        "{err}"
    );
    assert_eq!(requests(&server).await.len(), 2);
}

#[tokio::test]
async fn markers_that_cycle_stop_the_listing() {
    // A, B, A, B...: no marker repeats the one just before it, but the listing never ends.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(query_param_is_missing("marker"))
        .respond_with(page(&["a"], &[], "A"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(query_param("marker", "A"))
        .respond_with(page(&["b"], &[], "B"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(query_param("marker", "B"))
        .respond_with(page(&["c"], &[], "A"))
        .mount(&server)
        .await;
    let clock = TestClock::new();
    let mut pages = shared_key_client(&server, &clock)
        .container("photos")
        .list_blobs(ListBlobsOptions::new());
    let mut names = Vec::new();
    let err = loop {
        match pages.next().await.expect("the listing ends with an error") {
            Ok(page) => names.extend(page.blobs.into_iter().map(|b| b.name)),
            Err(err) => break err,
        }
    };
    assert!(pages.next().await.is_none());
    assert_eq!(names, ["a", "b"]);
    assert_eq!(err.kind(), ErrorKind::Other);
    assert_eq!(
        err.to_string(),
        "List Blobs photos: the service returned a continuation marker it had already \
         returned (2 markers seen), so the listing would never end; stopping instead of looping"
    );
    let markers: Vec<Option<String>> = requests(&server)
        .await
        .iter()
        .map(|r| {
            r.url
                .query_pairs()
                .find(|(n, _)| n == "marker")
                .map(|(_, v)| v.into_owned())
        })
        .collect();
    assert_eq!(markers, [None, Some("A".to_owned()), Some("B".to_owned())]);
}

#[tokio::test]
async fn answers_that_are_not_listings_are_errors() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>proxy login</html>"))
        .mount(&server)
        .await;
    let clock = TestClock::new();
    let photos = shared_key_client(&server, &clock).container("photos");
    let err = photos
        .list_blobs_page(&ListBlobsOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Other);
    assert!(
        err.to_string()
            .starts_with("List Blobs photos: the answer is not a List Blobs document"),
        "{err}"
    );
}

#[tokio::test]
async fn bad_options_are_refused_before_sending() {
    let server = MockServer::start().await;
    let clock = TestClock::new();
    let client = shared_key_client(&server, &clock);
    for max in [0, 5001] {
        let err = client
            .container("photos")
            .list_blobs_page(&ListBlobsOptions::new().max_results(max))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.to_string().contains("1 to 5000"), "{err}");
    }
    let err = client
        .container("Bad_Name")
        .list_blobs_page(&ListBlobsOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(requests(&server).await.is_empty());
}
