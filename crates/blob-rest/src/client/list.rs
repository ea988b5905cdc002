//! Listing the blobs of a container, one page at a time or following the continuation
//! markers to the end.
//!
//! Reference: [List Blobs](https://learn.microsoft.com/rest/api/storageservices/list-blobs).
//! A page holds at most 5,000 entries; `NextMarker` says where the next one starts. With a
//! delimiter, names that continue past it after the prefix are rolled up into `BlobPrefix`
//! entries ("directories"). Names the service cannot put in XML as they are come with
//! `Encoded="true"` and percent-encoded; they are decoded here.

use std::collections::{BTreeMap, HashSet};
use std::time::SystemTime;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use futures_util::stream::{self, BoxStream};
use futures_util::StreamExt as _;
use http::{HeaderMap, Method};
use percent_encoding::percent_decode_str;
use quick_xml::events::BytesStart;

use crate::client::ContainerClient;
use crate::error::Error;
use crate::names::check_container_name;
use crate::pipeline::Request;
use crate::xml_body::{is_path, read_capped, walk, Node};

/// The most entries the service returns in one page.
pub const MAX_LIST_RESULTS: u32 = 5000;

/// Largest listing page read; 5,000 entries with metadata stay far below it.
const MAX_PAGE_BYTES: usize = 64 * 1024 * 1024;

const OPERATION: &str = "List Blobs";

/// What to list; see [`ContainerClient::list_blobs`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListBlobsOptions {
    prefix: Option<String>,
    delimiter: Option<String>,
    marker: Option<String>,
    max_results: Option<u32>,
    include_metadata: bool,
}

impl ListBlobsOptions {
    /// Every blob of the container, without metadata, in pages as large as the service makes
    /// them.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only names that start with `prefix` (e.g. `photos/2025/`).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    /// Roll names up at this delimiter (usually `/`): a name that goes on past the delimiter
    /// after the prefix is reported once, as a [`ListBlobsPage::prefixes`] entry.
    pub fn delimiter(mut self, delimiter: impl Into<String>) -> Self {
        self.delimiter = Some(delimiter.into());
        self
    }

    /// Start where an earlier page's [`ListBlobsPage::next_marker`] said.
    pub fn marker(mut self, marker: impl Into<String>) -> Self {
        self.marker = Some(marker.into());
        self
    }

    /// At most this many entries per page (1 to 5,000).
    pub fn max_results(mut self, max_results: u32) -> Self {
        self.max_results = Some(max_results);
        self
    }

    /// Also return each blob's user metadata (`include=metadata`).
    pub fn include_metadata(mut self) -> Self {
        self.include_metadata = true;
        self
    }
}

/// One blob in a listing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct BlobItem {
    /// The full blob name.
    pub name: String,
    /// Size in bytes.
    pub content_length: u64,
    /// Last modification time.
    pub last_modified: Option<SystemTime>,
    /// ETag, with its quotes as Get Blob Properties gives it (ready for `If-Match`).
    pub etag: Option<String>,
    /// Stored content type.
    pub content_type: Option<String>,
    /// Stored MD5 of the content, if it has one.
    pub content_md5: Option<[u8; 16]>,
    /// User metadata, when asked for with [`ListBlobsOptions::include_metadata`].
    pub metadata: BTreeMap<String, String>,
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ListBlobsPage {
    /// The blobs, in the service's (lexicographic) order.
    pub blobs: Vec<BlobItem>,
    /// With a delimiter: the rolled-up prefixes ("directories"), each ending with the
    /// delimiter.
    pub prefixes: Vec<String>,
    /// Where the next page starts, or `None` on the last page.
    pub next_marker: Option<String>,
}

impl ContainerClient {
    /// Lists one page of blobs.
    ///
    /// [List Blobs](https://learn.microsoft.com/rest/api/storageservices/list-blobs)
    pub async fn list_blobs_page(
        &self,
        options: &ListBlobsOptions,
    ) -> Result<ListBlobsPage, Error> {
        let context = || format!("{OPERATION} {}", self.name);
        check_container_name(&self.name).map_err(|e| e.with_context(context()))?;
        if options
            .max_results
            .is_some_and(|n| !(1..=MAX_LIST_RESULTS).contains(&n))
        {
            return Err(Error::invalid_input(format!(
                "a listing page holds 1 to {MAX_LIST_RESULTS} entries; ask for a number in \
                 that range"
            ))
            .with_context(context()));
        }
        let max_results = options.max_results.map(|n| n.to_string());
        let mut query: Vec<(&str, &str)> = vec![("restype", "container"), ("comp", "list")];
        for (name, value) in [
            ("prefix", options.prefix.as_deref()),
            ("delimiter", options.delimiter.as_deref()),
            ("marker", options.marker.as_deref()),
            ("maxresults", max_results.as_deref()),
            ("include", options.include_metadata.then_some("metadata")),
        ] {
            if let Some(value) = value.filter(|v| !v.is_empty()) {
                query.push((name, value));
            }
        }
        let url = self
            .service
            .inner
            .endpoint
            .resource_url(&self.name, None, &query)
            .map_err(|e| e.with_context(context()))?;
        let request = Request {
            operation: OPERATION,
            method: Method::GET,
            url,
            headers: HeaderMap::new(),
            body: None,
            container: self.name.clone(),
            blob: None,
            create_only: false,
        };
        let response = self.service.inner.pipeline.send(request).await?;
        let body = read_capped(response, MAX_PAGE_BYTES)
            .await
            .map_err(|e| e.with_context(context()))?;
        parse_page(&body).map_err(|e| e.with_context(context()))
    }

    /// Lists every page, following the continuation markers from where `options` starts: a
    /// stream of pages that ends after the last one. Pages are fetched as the stream is
    /// read; a failed page is the stream's last item.
    pub fn list_blobs(
        &self,
        options: ListBlobsOptions,
    ) -> BoxStream<'static, Result<ListBlobsPage, Error>> {
        let client = self.clone();
        // Every marker met so far, the starting one included: a marker seen again (the same
        // one twice in a row, or a cycle such as A, B, A) would make this loop forever.
        let seen: HashSet<String> = options.marker.iter().cloned().collect();
        stream::try_unfold(Some((options, seen)), move |state| {
            let client = client.clone();
            async move {
                let Some((options, mut seen)) = state else {
                    return Ok(None);
                };
                let page = client.list_blobs_page(&options).await?;
                let next = match page.next_marker.as_deref() {
                    None => None,
                    Some(marker) if !seen.insert(marker.to_owned()) => {
                        return Err(Error::unexpected(format!(
                            "{OPERATION} {}: the service returned a continuation marker it \
                             had already returned ({} markers seen), so the listing would \
                             never end; stopping instead of looping",
                            client.name,
                            seen.len()
                        )));
                    }
                    Some(marker) => Some((options.clone().marker(marker), seen)),
                };
                Ok(Some((page, next)))
            }
        })
        .boxed()
    }

    /// Every blob and prefix from where `options` starts to the end, in one page (its
    /// `next_marker` is `None`). Holds the whole listing in memory: for large containers,
    /// read [`list_blobs`](Self::list_blobs) page by page instead.
    pub async fn list_all_blobs(&self, options: ListBlobsOptions) -> Result<ListBlobsPage, Error> {
        let mut all = ListBlobsPage::default();
        let mut pages = self.list_blobs(options);
        while let Some(page) = pages.next().await {
            let page = page?;
            all.blobs.extend(page.blobs);
            all.prefixes.extend(page.prefixes);
        }
        Ok(all)
    }
}

/// Parses one `EnumerationResults` document.
pub(crate) fn parse_page(body: &[u8]) -> Result<ListBlobsPage, Error> {
    const BLOB: [&str; 3] = ["EnumerationResults", "Blobs", "Blob"];
    const PREFIX: [&str; 3] = ["EnumerationResults", "Blobs", "BlobPrefix"];
    let mut page = ListBlobsPage::default();
    let mut root_seen = false;
    let mut blob = BlobItem::default();
    let mut name_encoded = false;
    let mut bad: Option<Error> = None;
    walk(body, |node| match node {
        Node::Open(path, start) => {
            if path.len() == 1 {
                root_seen = path[0] == "EnumerationResults";
            }
            if path.last().is_some_and(|n| n == "Name") {
                name_encoded = is_encoded(start);
            }
            if is_path(path, &BLOB) {
                blob = BlobItem::default();
            }
        }
        Node::Close(path, text) => {
            let name = || decode_name(text, name_encoded);
            if is_path(path, &BLOB) {
                page.blobs.push(std::mem::take(&mut blob));
            } else if path.len() == 4 && is_path(&path[..3], &BLOB) && path[3] == "Name" {
                blob.name = name();
            } else if path.len() == 4 && is_path(&path[..3], &PREFIX) && path[3] == "Name" {
                page.prefixes.push(name());
            } else if path.len() == 5 && is_path(&path[..3], &BLOB) && path[3] == "Properties" {
                if let Err(e) = property(&mut blob, &path[4], text.trim()) {
                    bad.get_or_insert(e);
                }
            } else if path.len() == 5 && is_path(&path[..3], &BLOB) && path[3] == "Metadata" {
                // The service reports names it cannot return as `x-ms-invalid-name`.
                if path[4] != "x-ms-invalid-name" {
                    blob.metadata
                        .insert(path[4].to_lowercase(), text.to_owned());
                }
            } else if is_path(path, &["EnumerationResults", "NextMarker"]) {
                page.next_marker = Some(text.trim().to_owned()).filter(|m| !m.is_empty());
            }
        }
    })?;
    if !root_seen {
        return Err(Error::unexpected(
            "the answer is not a List Blobs document (no EnumerationResults)",
        ));
    }
    match bad {
        Some(e) => Err(e),
        None => Ok(page),
    }
}

fn is_encoded(start: &BytesStart<'_>) -> bool {
    start
        .try_get_attribute("Encoded")
        .ok()
        .flatten()
        .is_some_and(|a| a.value.eq_ignore_ascii_case(b"true"))
}

fn decode_name(text: &str, encoded: bool) -> String {
    if encoded {
        percent_decode_str(text).decode_utf8_lossy().into_owned()
    } else {
        text.to_owned()
    }
}

/// Fills one `Properties` child into `blob`.
fn property(blob: &mut BlobItem, name: &str, value: &str) -> Result<(), Error> {
    let invalid = |what: &str| {
        Error::unexpected(format!(
            "the listing gives blob {:?} a {what} that cannot be read: {value:?}",
            blob.name
        ))
    };
    match name {
        "Content-Length" => {
            blob.content_length = value.parse().map_err(|_| invalid("Content-Length"))?;
        }
        "Last-Modified" => {
            blob.last_modified =
                Some(httpdate::parse_http_date(value).map_err(|_| invalid("Last-Modified"))?);
        }
        "Etag" if !value.is_empty() => {
            blob.etag = Some(if value.starts_with('"') {
                value.to_owned()
            } else {
                format!("\"{value}\"")
            });
        }
        "Content-Type" if !value.is_empty() => blob.content_type = Some(value.to_owned()),
        "Content-MD5" if !value.is_empty() => {
            let md5 = STANDARD
                .decode(value)
                .ok()
                .and_then(|bytes| <[u8; 16]>::try_from(bytes.as_slice()).ok())
                .ok_or_else(|| invalid("Content-MD5"))?;
            blob.content_md5 = Some(md5);
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    const PAGE: &str = "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?>\
        <EnumerationResults ServiceEndpoint=\"https://acct1.blob.core.windows.net/\" ContainerName=\"photos\">\
        <Prefix>2025/</Prefix><MaxResults>3</MaxResults><Delimiter>/</Delimiter><Blobs>\
        <Blob><Name>2025/a &amp; b.jpg</Name><Properties>\
        <Creation-Time>Tue, 02 Dec 2025 10:00:00 GMT</Creation-Time>\
        <Last-Modified>Tue, 02 Dec 2025 10:30:00 GMT</Last-Modified><Etag>0x8DDE1</Etag>\
        <Content-Length>1234</Content-Length><Content-Type>image/jpeg</Content-Type>\
        <Content-MD5>XUFAKrxLKna5cZ2REBfFkg==</Content-MD5><BlobType>BlockBlob</BlobType>\
        </Properties><Metadata><Camera>X100</Camera><x-ms-invalid-name>bad</x-ms-invalid-name></Metadata></Blob>\
        <BlobPrefix><Name>2025/raw/</Name></BlobPrefix>\
        <Blob><Name Encoded=\"true\">2025/%EF%BF%BE%20odd</Name><Properties>\
        <Last-Modified>Tue, 02 Dec 2025 10:31:00 GMT</Last-Modified><Etag>\"0x8DDE2\"</Etag>\
        <Content-Length>0</Content-Length><Content-Type /><Content-MD5 /></Properties><Metadata /></Blob>\
        </Blobs><NextMarker>2!72!MDAwMDEx</NextMarker></EnumerationResults>";

    #[test]
    fn parses_blobs_prefixes_and_the_marker() {
        let page = parse_page(PAGE.as_bytes()).unwrap();
        assert_eq!(page.blobs.len(), 2);
        let first = &page.blobs[0];
        assert_eq!(first.name, "2025/a & b.jpg");
        assert_eq!(first.content_length, 1234);
        assert_eq!(first.etag.as_deref(), Some("\"0x8DDE1\""));
        assert_eq!(first.content_type.as_deref(), Some("image/jpeg"));
        assert_eq!(
            first.last_modified,
            Some(httpdate::parse_http_date("Tue, 02 Dec 2025 10:30:00 GMT").unwrap())
        );
        assert_eq!(
            first.content_md5,
            Some(*b"\x5d\x41\x40\x2a\xbc\x4b\x2a\x76\xb9\x71\x9d\x91\x10\x17\xc5\x92")
        );
        assert_eq!(
            first.metadata,
            BTreeMap::from([("camera".to_owned(), "X100".to_owned())])
        );
        let second = &page.blobs[1];
        assert_eq!(second.name, "2025/\u{fffe} odd");
        assert_eq!(second.etag.as_deref(), Some("\"0x8DDE2\""));
        assert_eq!(second.content_type, None);
        assert_eq!(second.content_md5, None);
        assert_eq!(page.prefixes, ["2025/raw/"]);
        assert_eq!(page.next_marker.as_deref(), Some("2!72!MDAwMDEx"));
    }

    #[test]
    fn the_last_page_has_no_marker() {
        let page = parse_page(b"<EnumerationResults><Blobs /><NextMarker /></EnumerationResults>")
            .unwrap();
        assert!(page.blobs.is_empty() && page.prefixes.is_empty());
        assert_eq!(page.next_marker, None);
    }

    #[test]
    fn foreign_or_broken_documents_are_errors() {
        let err = parse_page(b"<Error><Code>x</Code></Error>").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Other);
        assert!(
            err.to_string().contains("not a List Blobs document"),
            "{err}"
        );
        let cut = &PAGE.as_bytes()[..PAGE.len() / 2];
        assert!(parse_page(cut).is_err());
        let bad_length = PAGE.replace("<Content-Length>1234", "<Content-Length>lots");
        let err = parse_page(bad_length.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("Content-Length"), "{err}");
    }
}
