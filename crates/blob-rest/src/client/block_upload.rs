//! Put Block and Put Block List: a block blob uploaded in pieces and then committed.
//!
//! A block is staged with [Put Block](https://learn.microsoft.com/rest/api/storageservices/put-block)
//! (`?comp=block&blockid=<base64>`) and becomes part of the blob only when a
//! [Put Block List](https://learn.microsoft.com/rest/api/storageservices/put-block-list)
//! (`?comp=blocklist`) names it. Each block is a request of its own with its own
//! `Content-MD5` and its own retries (its bytes are in memory, so they can be sent again); the
//! blob's properties, metadata and conditions go with the list.
//!
//! Service rules the client enforces or relies on: block ids are base64 of at most 64 bytes,
//! all ids of one blob have the same length, a blob has at most 50,000 blocks of at most
//! 4,000 MiB each, and staged blocks that are never committed are discarded by the service
//! after a week.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use md5::{Digest, Md5};

use crate::body::Body;
use crate::client::BlobClient;
use crate::encoding::encode_component;
use crate::error::Error;
use crate::models::{PutBlobOptions, PutBlobResponse, PutCondition};
use crate::pipeline::Request;
use crate::properties::put_blob_response;

/// The most blocks a block blob can have.
pub const MAX_BLOCKS: usize = 50_000;

/// The largest block the service accepts (4,000 MiB, service version 2019-12-12 and later).
pub const MAX_BLOCK_SIZE: u64 = 4000 * 1024 * 1024;

/// The most bytes a block id may encode.
const MAX_BLOCK_ID_BYTES: usize = 64;

/// Content at least this long is hashed on tokio's blocking pool rather than on the task that
/// sends it: MD5 runs at about 700 MiB/s on one core, so a block of 8 MiB would hold a runtime
/// worker for over 10 ms, and the blocks in flight could not be hashed side by side.
const HASH_ON_BLOCKING_POOL_FROM: usize = 512 * 1024;

/// The id of a block: base64 of up to 64 bytes. All blocks of one blob must have ids of the
/// same length; [`BlockId::numbered`] makes such ids.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct BlockId(String);

impl BlockId {
    /// The id whose raw (decoded) form is `raw`: 1 to 64 bytes.
    pub fn from_bytes(raw: &[u8]) -> Result<Self, Error> {
        if raw.is_empty() || raw.len() > MAX_BLOCK_ID_BYTES {
            return Err(Error::invalid_input(format!(
                "a block id must have 1 to {MAX_BLOCK_ID_BYTES} bytes before base64 encoding, \
                 not {}",
                raw.len()
            )));
        }
        Ok(Self(STANDARD.encode(raw)))
    }

    /// The id of block `index` of one upload: 8 bytes that tell this upload apart from any
    /// other one staging blocks for the same blob at the same time, then the index as 4
    /// big-endian bytes. Always 16 base64 characters, so every id of an upload (and of any
    /// other upload made this way) has the same length.
    pub fn numbered(upload: [u8; 8], index: u32) -> Self {
        let mut raw = [0u8; 12];
        raw[..8].copy_from_slice(&upload);
        raw[8..].copy_from_slice(&index.to_be_bytes());
        Self(STANDARD.encode(raw))
    }

    /// The base64 form sent to the service.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for BlockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlockId({})", self.0)
    }
}

impl fmt::Display for BlockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl BlobClient {
    /// Stages `content` as the block `id` of this blob, with `Content-MD5` so that the service
    /// refuses bytes damaged on the way. Retried on its own like any request with an
    /// in-memory body. The block is not part of the blob until a
    /// [`put_block_list`](Self::put_block_list) names it.
    ///
    /// [Put Block](https://learn.microsoft.com/rest/api/storageservices/put-block)
    pub async fn put_block(&self, id: &BlockId, content: Bytes) -> Result<(), Error> {
        const OPERATION: &str = "Put Block";
        self.check_names(OPERATION)?;
        if content.len() as u64 > MAX_BLOCK_SIZE {
            return Err(Error::invalid_input(format!(
                "a block may hold at most {MAX_BLOCK_SIZE} bytes, not {}",
                content.len()
            ))
            .with_context(self.context(OPERATION)));
        }
        let mut headers = HeaderMap::new();
        headers.insert("content-md5", md5_header(&md5_of(&content).await));
        let query = format!("comp=block&blockid={}", encode_component(id.as_str()));
        let request = self.request_with_query(OPERATION, &query, headers, Body::from(content))?;
        self.pipeline().send(request).await?;
        Ok(())
    }

    /// Commits the blocks `blocks`, in this order, as the blob's content, with the content
    /// type, cache control, metadata and condition of `options`. A content MD5 given in the
    /// options is stored as the blob's MD5 (`x-ms-blob-content-md5`), which downloads of the
    /// whole blob are then checked against; the service does not check it here, as the blocks
    /// were checked one by one.
    ///
    /// A create-only commit ([`PutBlobOptions::if_not_exists`]) that finds the blob fails with
    /// [`ErrorKind::AlreadyExists`](crate::ErrorKind::AlreadyExists).
    ///
    /// [Put Block List](https://learn.microsoft.com/rest/api/storageservices/put-block-list)
    pub async fn put_block_list(
        &self,
        blocks: &[BlockId],
        options: PutBlobOptions,
    ) -> Result<PutBlobResponse, Error> {
        const OPERATION: &str = "Put Block List";
        self.check_names(OPERATION)?;
        let context = || self.context(OPERATION);
        if blocks.len() > MAX_BLOCKS {
            return Err(Error::invalid_input(format!(
                "a blob can have at most {MAX_BLOCKS} blocks, not {}: use larger blocks",
                blocks.len()
            ))
            .with_context(context()));
        }
        if let Some(first) = blocks.first() {
            if let Some(other) = blocks.iter().find(|b| b.0.len() != first.0.len()) {
                return Err(Error::invalid_input(format!(
                    "all block ids of a blob must have the same length, but {first} and {other} \
                     differ"
                ))
                .with_context(context()));
            }
        }
        let mut headers = HeaderMap::new();
        if let Some(value) = &options.content_type {
            let value = self.value(OPERATION, "content type", value)?;
            headers.insert("x-ms-blob-content-type", value);
        }
        if let Some(md5) = &options.content_md5 {
            headers.insert("x-ms-blob-content-md5", md5_header(md5));
        }
        self.put_headers(OPERATION, &options, &mut headers)?;
        let body = block_list_xml(blocks);
        headers.insert("content-md5", md5_header(&Md5::digest(&body).into()));
        let request =
            self.request_with_query(OPERATION, "comp=blocklist", headers, Body::from(body))?;
        let request = Request {
            create_only: options.condition == PutCondition::IfNotExists,
            ..request
        };
        let response = self.pipeline().send(request).await?;
        let mut committed = put_blob_response(response.headers());
        // The response's Content-MD5 is the list's, not the blob's.
        committed.content_md5 = options.content_md5;
        Ok(committed)
    }

    /// A request to this blob's URL with `query` (already encoded).
    fn request_with_query(
        &self,
        operation: &'static str,
        query: &str,
        headers: HeaderMap,
        body: Body,
    ) -> Result<Request, Error> {
        let mut request = self.request(operation, Method::PUT, headers, Some(body))?;
        request.url.set_query(Some(query));
        Ok(request)
    }
}

/// `<?xml ...?><BlockList><Latest>id</Latest>...</BlockList>`: every block as the latest
/// version staged under its id. Base64 needs no XML escaping.
fn block_list_xml(blocks: &[BlockId]) -> Vec<u8> {
    let mut xml = String::with_capacity(64 + blocks.len() * 40);
    xml.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
    for block in blocks {
        xml.push_str("<Latest>");
        xml.push_str(block.as_str());
        xml.push_str("</Latest>");
    }
    xml.push_str("</BlockList>");
    xml.into_bytes()
}

/// The MD5 of `content`, long content computed on the blocking pool.
async fn md5_of(content: &Bytes) -> [u8; 16] {
    if content.len() < HASH_ON_BLOCKING_POOL_FROM {
        return Md5::digest(content).into();
    }
    let shared = content.clone();
    match tokio::task::spawn_blocking(move || Md5::digest(&shared).into()).await {
        Ok(md5) => md5,
        // The pool is shutting down (or the hash panicked, which MD5 does not): hash here.
        Err(_) => Md5::digest(content).into(),
    }
}

fn md5_header(md5: &[u8; 16]) -> HeaderValue {
    HeaderValue::from_str(&STANDARD.encode(md5)).expect("base64 is a valid header value")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_ids_have_one_length() {
        let first = BlockId::numbered([7; 8], 0);
        let last = BlockId::numbered([7; 8], u32::MAX);
        assert_eq!(first.as_str(), "BwcHBwcHBwcAAAAA");
        assert_eq!(last.as_str(), "BwcHBwcHBwf/////");
        assert_eq!(first.as_str().len(), last.as_str().len());
    }

    #[test]
    fn ids_of_bad_length_are_refused() {
        assert_eq!(
            BlockId::from_bytes(b"").unwrap_err().kind(),
            crate::ErrorKind::InvalidInput
        );
        assert!(BlockId::from_bytes(&[1; 65]).is_err());
        assert_eq!(BlockId::from_bytes(b"ab").unwrap().as_str(), "YWI=");
    }

    #[test]
    fn block_list_is_latest_ids_in_order() {
        let ids = [BlockId::numbered([0; 8], 1), BlockId::numbered([0; 8], 0)];
        assert_eq!(
            String::from_utf8(block_list_xml(&ids)).unwrap(),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>\
             <Latest>AAAAAAAAAAAAAAAB</Latest><Latest>AAAAAAAAAAAAAAAA</Latest></BlockList>"
        );
    }
}
