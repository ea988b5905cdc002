//! Pinned string-to-sign and signature for the awkward cases.
//!
//! Every expected string below was written by hand from the Shared Key reference, and every
//! expected signature was computed independently from that string with Python:
//! `base64(hmac.new(b64decode(DEV_KEY), sts.encode(), sha256).digest())`.

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use url::Url;

use super::{authorization, string_to_sign};
use crate::{AccountKey, Endpoint, SharedKeyCredential};

const DEV_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const DATE: &str = "Tue, 02 Dec 2025 10:30:00 GMT";
const VERSION: &str = "2024-11-04";
/// The eleven standard lines, all empty.
const EMPTY_STANDARD: &str = "\n\n\n\n\n\n\n\n\n\n\n";
const DATE_LINE: &str = "x-ms-date:Tue, 02 Dec 2025 10:30:00 GMT\n";
const VERSION_LINE: &str = "x-ms-version:2024-11-04\n";
const RESOURCE: &str = "/devstoreaccount1/devstoreaccount1/photos/";

fn blob_url(name: &str, query: &[(&str, &str)]) -> Url {
    Endpoint::parse("http://127.0.0.1:10000/devstoreaccount1")
        .unwrap()
        .resource_url("photos", Some(name), query)
        .unwrap()
}

fn headers(extra: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    map.insert("x-ms-date", HeaderValue::from_static(DATE));
    map.insert("x-ms-version", HeaderValue::from_static(VERSION));
    for (name, value) in extra {
        map.insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

fn assert_signed(
    account: &str,
    method: &Method,
    url: &Url,
    headers: &HeaderMap,
    expected_sts: &str,
    expected_signature: &str,
) {
    let sts = string_to_sign(method, url, headers, account);
    assert_eq!(sts, expected_sts);
    let credential = SharedKeyCredential::new(account, AccountKey::from_base64(DEV_KEY).unwrap());
    let (header, signature) = authorization(&credential, &sts);
    assert_eq!(signature.as_str(), expected_signature);
    assert_eq!(
        header.as_str(),
        format!("SharedKey {account}:{expected_signature}")
    );
}

fn assert_get(name: &str, encoded_path: &str, expected_signature: &str) {
    let url = blob_url(name, &[]);
    assert_eq!(
        url.path(),
        format!("/devstoreaccount1/photos/{encoded_path}")
    );
    assert_eq!(url.query(), None);
    let expected =
        format!("GET\n{EMPTY_STANDARD}{DATE_LINE}{VERSION_LINE}{RESOURCE}{encoded_path}");
    assert_signed(
        "devstoreaccount1",
        &Method::GET,
        &url,
        &headers(&[]),
        &expected,
        expected_signature,
    );
}

#[test]
fn put_name_with_space_and_content_headers() {
    let url = blob_url("my file.txt", &[]);
    let headers = headers(&[
        ("content-length", "5"),
        ("content-md5", "XUFAKrxLKna5cZ2REBfFkg=="),
        ("content-type", "text/plain"),
        ("x-ms-blob-type", "BlockBlob"),
        (
            "x-ms-client-request-id",
            "00000000-0000-4000-8000-000000000001",
        ),
    ]);
    let expected = format!(
        "PUT\n\n\n5\nXUFAKrxLKna5cZ2REBfFkg==\ntext/plain\n\n\n\n\n\n\n\
         x-ms-blob-type:BlockBlob\n\
         x-ms-client-request-id:00000000-0000-4000-8000-000000000001\n\
         {DATE_LINE}{VERSION_LINE}{RESOURCE}my%20file.txt"
    );
    assert_signed(
        "devstoreaccount1",
        &Method::PUT,
        &url,
        &headers,
        &expected,
        "t/jz4U8Uo+suKNZAJouYjd/kZ71Ksg6jRoihzswkxT4=",
    );
}

#[test]
fn name_with_plus_and_percent() {
    assert_get(
        "a+b%c.txt",
        "a%2Bb%25c.txt",
        "8MswqA8VEu1BT9xuI/B0pfBtu9/HA6RzrzBXqVr5ubc=",
    );
}

#[test]
fn name_with_hash_question_ampersand_equals_stays_in_the_path() {
    assert_get(
        "q#frag?x&y=z.txt",
        "q%23frag%3Fx%26y%3Dz.txt",
        "3/ekvmr3zzlic7Pq+72klRhp1ZjH28DqTlOj5PFzY+0=",
    );
}

#[test]
fn non_ascii_name() {
    assert_get(
        "été/naïve ü.txt",
        "%C3%A9t%C3%A9/na%C3%AFve%20%C3%BC.txt",
        "tCyZJWAwOmVjhGhUJNSINUOEI+BS4pjdJhXRnRQLkTk=",
    );
}

#[test]
fn trailing_slash() {
    assert_get(
        "dir/sub/",
        "dir/sub/",
        "JSYoHwBMNIw3jRWA6VuHKaR5UbQDT1bYiLK8G17xVUs=",
    );
}

#[test]
fn deep_path() {
    assert_get(
        "a/b/c/d/e/f/g/h.txt",
        "a/b/c/d/e/f/g/h.txt",
        "422dfcI03g/iuTRQFJcaZNB4GyMmz+ZbwGQ3eAdigr0=",
    );
}

#[test]
fn empty_body_signs_an_empty_content_length() {
    let url = blob_url("empty.bin", &[]);
    let headers = headers(&[
        ("content-length", "0"),
        ("content-md5", "1B2M2Y8AsgTpgAmY7PhCfg=="),
        ("x-ms-blob-type", "BlockBlob"),
    ]);
    let expected = format!(
        "PUT\n\n\n\n1B2M2Y8AsgTpgAmY7PhCfg==\n\n\n\n\n\n\n\nx-ms-blob-type:BlockBlob\n\
         {DATE_LINE}{VERSION_LINE}{RESOURCE}empty.bin"
    );
    assert_signed(
        "devstoreaccount1",
        &Method::PUT,
        &url,
        &headers,
        &expected,
        "nAGvzFxcD6T6p0JHVJU4OHhy2MPZJvkUAN0NqN8tJkQ=",
    );
}

#[test]
fn x_ms_range_is_a_canonical_header_not_the_range_line() {
    let url = blob_url("big.bin", &[]);
    let headers = headers(&[
        ("x-ms-range", "bytes=0-99"),
        ("x-ms-range-get-content-md5", "true"),
    ]);
    let expected = format!(
        "GET\n{EMPTY_STANDARD}{DATE_LINE}x-ms-range:bytes=0-99\n\
         x-ms-range-get-content-md5:true\n{VERSION_LINE}{RESOURCE}big.bin"
    );
    assert_signed(
        "devstoreaccount1",
        &Method::GET,
        &url,
        &headers,
        &expected,
        "BJrdwjXsSzRplZq/sn+lBZsST36cVkMZ/PYm9gaBsT4=",
    );
}

#[test]
fn standard_range_header_fills_the_range_line() {
    let url = blob_url("big.bin", &[]);
    let headers = headers(&[("range", "bytes=0-99")]);
    let expected =
        format!("GET\n\n\n\n\n\n\n\n\n\n\nbytes=0-99\n{DATE_LINE}{VERSION_LINE}{RESOURCE}big.bin");
    assert_signed(
        "devstoreaccount1",
        &Method::GET,
        &url,
        &headers,
        &expected,
        "XzttBxPG7hlLFfl39BWS196cSPMUT8mXSQlsGOBxIyI=",
    );
}

#[test]
fn metadata_with_underscore_hyphen_and_digits_in_service_order() {
    let url = blob_url("meta.txt", &[]);
    let headers = headers(&[
        ("content-length", "2"),
        ("content-md5", "x2zXm5bTIjC1B7dKJ+7LzA=="),
        ("x-ms-blob-type", "BlockBlob"),
        ("x-ms-meta-Z9", "v5"),
        ("x-ms-meta-a-c", "v4"),
        ("x-ms-meta-ab", "say \"a  b\"   end"),
        ("x-ms-meta-a1", "v2"),
        ("x-ms-meta-a_b", "  two \t  spaces  "),
    ]);
    // `_` before digits before letters; `-` ignored at first (a-c sorts as "ac"); values
    // trimmed and folded outside quoted strings.
    let expected = format!(
        "PUT\n\n\n2\nx2zXm5bTIjC1B7dKJ+7LzA==\n\n\n\n\n\n\n\nx-ms-blob-type:BlockBlob\n\
         {DATE_LINE}x-ms-meta-a_b:two spaces\nx-ms-meta-a1:v2\n\
         x-ms-meta-ab:say \"a  b\" end\nx-ms-meta-a-c:v4\nx-ms-meta-z9:v5\n\
         {VERSION_LINE}{RESOURCE}meta.txt"
    );
    assert_signed(
        "devstoreaccount1",
        &Method::PUT,
        &url,
        &headers,
        &expected,
        "Z0fVN/K8/Azjcos1RwnsIVFk1g6YMVAq6z9PMdrIFmU=",
    );
}

#[test]
fn block_id_query_is_encoded_on_the_wire_and_decoded_when_signed() {
    let url = blob_url(
        "blocks.bin",
        &[("comp", "block"), ("blockid", "MDAwMDE+Lw==")],
    );
    assert_eq!(url.query(), Some("comp=block&blockid=MDAwMDE%2BLw%3D%3D"));
    let headers = headers(&[("content-length", "3")]);
    let expected = format!(
        "PUT\n\n\n3\n\n\n\n\n\n\n\n\n{DATE_LINE}{VERSION_LINE}{RESOURCE}blocks.bin\n\
         blockid:MDAwMDE+Lw==\ncomp:block"
    );
    assert_signed(
        "devstoreaccount1",
        &Method::PUT,
        &url,
        &headers,
        &expected,
        "2mVdJAuk2B+Znijo0AbE6m8uq2/63k2f84HzSMF/Obg=",
    );
}

#[test]
fn account_url_has_the_account_once() {
    let url = Endpoint::parse("https://myaccount.blob.core.windows.net")
        .unwrap()
        .resource_url("photos", None, &[("restype", "container")])
        .unwrap();
    let headers = headers(&[("content-length", "0")]);
    let expected = format!(
        "PUT\n{EMPTY_STANDARD}{DATE_LINE}{VERSION_LINE}/myaccount/photos\nrestype:container"
    );
    assert_signed(
        "myaccount",
        &Method::PUT,
        &url,
        &headers,
        &expected,
        "rIAooj/MY7rSeFlOpgJTzhjRiEnBWin7/bK2CNBEmiY=",
    );
}

#[test]
fn query_names_lowercased_values_decoded_sorted_and_joined() {
    let url = Url::parse(
        "http://127.0.0.1:10000/devstoreaccount1/photos?restype=container&comp=list\
         &include=snapshots&Include=metadata&prefix=a%20b+c",
    )
    .unwrap();
    let expected = format!(
        "GET\n{EMPTY_STANDARD}{DATE_LINE}{VERSION_LINE}/devstoreaccount1/devstoreaccount1/\
         photos\ncomp:list\ninclude:metadata,snapshots\nprefix:a b c\nrestype:container"
    );
    assert_signed(
        "devstoreaccount1",
        &Method::GET,
        &url,
        &headers(&[]),
        &expected,
        "pbjp79SraCoMglCkuoW5ZDyDMAjXTnG/6hecP2iqMEg=",
    );
}

#[test]
fn date_line_is_used_only_without_x_ms_date() {
    let url = blob_url("x", &[]);
    let mut map = HeaderMap::new();
    map.insert("date", HeaderValue::from_static(DATE));
    let sts = string_to_sign(&Method::GET, &url, &map, "devstoreaccount1");
    assert_eq!(sts, format!("GET\n\n\n\n\n\n{DATE}\n\n\n\n\n\n{RESOURCE}x"));
    map.insert("x-ms-date", HeaderValue::from_static(DATE));
    let sts = string_to_sign(&Method::GET, &url, &map, "devstoreaccount1");
    assert_eq!(sts, format!("GET\n{EMPTY_STANDARD}{DATE_LINE}{RESOURCE}x"));
}
