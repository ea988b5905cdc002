//! Blob operations: Put Blob, Get Blob, Get Blob Properties, Delete Blob.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use http::header::{CONTENT_TYPE, IF_MATCH, IF_NONE_MATCH};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use md5::{Digest, Md5};

use crate::body::{BlobStream, Body, Resumer};
use crate::client::ContainerClient;
use crate::error::Error;
use crate::models::{
    BlobProperties, GetBlobOptions, GetBlobResponse, PutBlobOptions, PutBlobResponse, PutCondition,
    MAX_RANGE_MD5_LEN,
};
use crate::names::{
    check_blob_name, check_container_name, check_metadata, check_signed_header_text,
};
use crate::pipeline::{Pipeline, Request};
use crate::properties::{
    blob_properties, checked_content_range, head_content_length, md5, put_blob_response,
};

/// A client for one blob.
#[derive(Clone)]
pub struct BlobClient {
    container: ContainerClient,
    name: String,
}

impl BlobClient {
    pub(crate) fn new(container: ContainerClient, name: &str) -> Self {
        Self {
            container,
            name: name.to_owned(),
        }
    }

    /// The blob's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The name of the blob's container.
    pub fn container_name(&self) -> &str {
        &self.container.name
    }

    /// Uploads `body` as a block blob in one request, replacing an existing blob unless the
    /// options ask otherwise. Sends `Content-MD5` (computed for in-memory bodies), so the
    /// service refuses content damaged on the way.
    ///
    /// A create-only write ([`PutBlobOptions::if_not_exists`]) that finds the blob fails with
    /// [`ErrorKind::AlreadyExists`](crate::ErrorKind::AlreadyExists), whether the service
    /// says so with 409 or 412.
    ///
    /// NOTE (2026-12): if a create-only write succeeds but its response is lost and the retry
    /// then finds the blob, the caller sees `AlreadyExists` for its own write; compare the
    /// stored MD5 with the content's to tell.
    ///
    /// [Put Blob](https://learn.microsoft.com/rest/api/storageservices/put-blob)
    pub async fn put(
        &self,
        body: impl Into<Body>,
        options: PutBlobOptions,
    ) -> Result<PutBlobResponse, Error> {
        const OPERATION: &str = "Put Blob";
        let body = body.into();
        self.check_names(OPERATION)?;
        let mut headers = HeaderMap::new();
        headers.insert("x-ms-blob-type", HeaderValue::from_static("BlockBlob"));
        if let Some(value) = &options.content_type {
            headers.insert(CONTENT_TYPE, self.value(OPERATION, "content type", value)?);
        }
        let content_md5 = options
            .content_md5
            .or_else(|| body.as_bytes().map(|bytes| Md5::digest(bytes).into()));
        if let Some(md5) = content_md5 {
            let value = HeaderValue::from_str(&STANDARD.encode(md5))
                .expect("base64 is a valid header value");
            headers.insert("content-md5", value);
        }
        self.put_headers(OPERATION, &options, &mut headers)?;
        let request = self.request(OPERATION, Method::PUT, headers, Some(body))?;
        let request = Request {
            create_only: options.condition == PutCondition::IfNotExists,
            ..request
        };
        let response = self.container.service.inner.pipeline.send(request).await?;
        Ok(put_blob_response(response.headers()))
    }

    /// Downloads the blob, or a range of it, as a stream.
    ///
    /// A whole-blob download is checked against the blob's stored MD5 when it has one; a
    /// range is checked when [`GetBlobOptions::check_range_md5`] asked the service for its
    /// MD5. A failed check is the last item of the stream: an [`ErrorKind::Integrity`] error.
    ///
    /// If the connection breaks mid-body, the stream asks for the missing bytes with
    /// `If-Match` on the first response's ETag, as often as the retry policy allows, and the
    /// checks cover all bytes across such resumes. A blob changed in the meantime ends the
    /// stream with [`ErrorKind::PreconditionFailed`].
    ///
    /// [`ErrorKind::Integrity`]: crate::ErrorKind::Integrity
    /// [`ErrorKind::PreconditionFailed`]: crate::ErrorKind::PreconditionFailed
    ///
    /// [Get Blob](https://learn.microsoft.com/rest/api/storageservices/get-blob)
    pub async fn get(&self, options: GetBlobOptions) -> Result<GetBlobResponse, Error> {
        const OPERATION: &str = "Get Blob";
        self.check_names(OPERATION)?;
        let mut headers = HeaderMap::new();
        if let Some(range) = options.range {
            let value = range
                .header_value()
                .map_err(|e| e.with_context(self.context(OPERATION)))?;
            headers.insert("x-ms-range", self.value(OPERATION, "range", &value)?);
        }
        if options.range_md5 {
            let fits = options
                .range
                .and_then(|r| r.length)
                .is_some_and(|len| len <= MAX_RANGE_MD5_LEN);
            if !fits {
                return Err(Error::invalid_input(
                    "the service computes a range's MD5 only for ranges of known length up to \
                     4 MiB: give a range with a length of at most 4194304 bytes",
                )
                .with_context(self.context(OPERATION)));
            }
            headers.insert(
                "x-ms-range-get-content-md5",
                HeaderValue::from_static("true"),
            );
        }
        if let Some(etag) = &options.if_match {
            headers.insert(IF_MATCH, self.value(OPERATION, "ETag", etag)?);
        }
        let request = self.request(OPERATION, Method::GET, headers, None)?;
        let pipeline = self.pipeline();
        let mut operation = pipeline.begin(&request);
        let response = pipeline.send_in(&mut operation, request).await?;
        let headers = response.headers();
        let context = || self.context(OPERATION);
        let range = checked_range(&options, &response).map_err(|e| e.with_context(context()))?;
        let properties = blob_properties(headers);
        let expected_md5 = if options.range.is_none() {
            md5(headers, "content-md5").map_err(|e| e.with_context(context()))?
        } else if options.range_md5 {
            let md5 = md5(headers, "content-md5").map_err(|e| e.with_context(context()))?;
            Some(md5.ok_or_else(|| {
                Error::integrity(
                    "the range's MD5 was asked for but the service sent no Content-MD5, so the \
                     content cannot be checked",
                )
                .with_context(context())
            })?)
        } else {
            None
        };
        let resumer = Resumer::new(self.clone(), operation, headers);
        // A range's body is as long as the range (checked above against a Content-Length),
        // also when no Content-Length frames it.
        let length = range.map(|(first, last)| last - first + 1);
        Ok(GetBlobResponse {
            properties,
            range,
            body: BlobStream::new(response, expected_md5, context(), resumer).expecting(length),
        })
    }

    /// Reads the blob's properties and metadata without its content.
    ///
    /// [Get Blob Properties](https://learn.microsoft.com/rest/api/storageservices/get-blob-properties)
    pub async fn get_properties(&self) -> Result<BlobProperties, Error> {
        const OPERATION: &str = "Get Blob Properties";
        self.check_names(OPERATION)?;
        let request = self.request(OPERATION, Method::HEAD, HeaderMap::new(), None)?;
        let response = self.container.service.inner.pipeline.send(request).await?;
        head_content_length(response.headers())
            .map_err(|e| e.with_context(self.context(OPERATION)))?;
        Ok(blob_properties(response.headers()))
    }

    /// Deletes the blob (and fails with [`ErrorKind::NotFound`](crate::ErrorKind::NotFound)
    /// if there is none).
    ///
    /// [Delete Blob](https://learn.microsoft.com/rest/api/storageservices/delete-blob)
    pub async fn delete(&self) -> Result<(), Error> {
        const OPERATION: &str = "Delete Blob";
        self.check_names(OPERATION)?;
        let request = self.request(OPERATION, Method::DELETE, HeaderMap::new(), None)?;
        self.container.service.inner.pipeline.send(request).await?;
        Ok(())
    }

    pub(crate) fn pipeline(&self) -> &Pipeline {
        &self.container.service.inner.pipeline
    }

    /// "Get Blob photos/cat.jpg", the prefix of this blob's errors.
    /// The headers Put Blob and Put Block List share: cache control, user metadata and the
    /// write condition of `options`, checked before anything is sent.
    pub(crate) fn put_headers(
        &self,
        operation: &str,
        options: &PutBlobOptions,
        headers: &mut HeaderMap,
    ) -> Result<(), Error> {
        check_metadata(&options.metadata).map_err(|e| e.with_context(self.context(operation)))?;
        if let Some(value) = &options.cache_control {
            check_signed_header_text("the cache control value", value)
                .map_err(|e| e.with_context(self.context(operation)))?;
            let value = self.value(operation, "cache control", value)?;
            headers.insert("x-ms-blob-cache-control", value);
        }
        for (name, value) in &options.metadata {
            let header =
                HeaderName::from_bytes(format!("x-ms-meta-{name}").to_lowercase().as_bytes())
                    .map_err(|_| {
                        Error::invalid_input(format!("the metadata name {name:?} is not valid"))
                            .with_context(self.context(operation))
                    })?;
            headers.insert(header, self.value(operation, "metadata value", value)?);
        }
        match &options.condition {
            PutCondition::Overwrite => {}
            PutCondition::IfNotExists => {
                headers.insert(IF_NONE_MATCH, HeaderValue::from_static("*"));
            }
            PutCondition::IfMatch(etag) => {
                headers.insert(IF_MATCH, self.value(operation, "ETag", etag)?);
            }
        }
        Ok(())
    }

    pub(crate) fn context(&self, operation: &str) -> String {
        format!(
            "{operation} {}/{}",
            self.container.name.escape_debug(),
            self.name.escape_debug()
        )
    }

    pub(crate) fn check_names(&self, operation: &str) -> Result<(), Error> {
        check_container_name(&self.container.name)
            .and_then(|()| check_blob_name(&self.name))
            .map_err(|e| e.with_context(self.context(operation)))
    }

    pub(crate) fn value(
        &self,
        operation: &str,
        what: &str,
        value: &str,
    ) -> Result<HeaderValue, Error> {
        HeaderValue::from_str(value).map_err(|_| {
            Error::invalid_input(format!(
                "the {what} {value:?} has characters that an HTTP header cannot carry"
            ))
            .with_context(self.context(operation))
        })
    }

    pub(crate) fn request(
        &self,
        operation: &'static str,
        method: Method,
        headers: HeaderMap,
        body: Option<Body>,
    ) -> Result<Request, Error> {
        let url = self
            .container
            .service
            .inner
            .endpoint
            .resource_url(&self.container.name, Some(&self.name), &[])
            .map_err(|e| e.with_context(self.context(operation)))?;
        Ok(Request {
            operation,
            method,
            url,
            headers,
            body,
            container: self.container.name.clone(),
            blob: Some(self.name.clone()),
            create_only: false,
        })
    }
}

/// The first and last byte of a Get Blob answer's `Content-Range`, checked: it must hold
/// together, start where the requested range starts and end within it, and agree with the
/// `Content-Length`. `None` when the answer has no `Content-Range` (a whole blob).
fn checked_range(
    options: &GetBlobOptions,
    response: &reqwest::Response,
) -> Result<Option<(u64, u64)>, Error> {
    let Some((first, last, _)) = checked_content_range(response.headers())? else {
        if response.status() == http::StatusCode::PARTIAL_CONTENT {
            return Err(Error::unexpected(
                "the service answered 206 Partial Content without a Content-Range, so where \
                 the bytes sit in the blob is unknown",
            ));
        }
        return Ok(None);
    };
    let length = last - first + 1;
    if let Some(asked) = options.range {
        let asked_last = asked
            .length
            .and_then(|len| asked.offset.checked_add(len.checked_sub(1)?))
            .unwrap_or(u64::MAX);
        if first != asked.offset || last > asked_last {
            return Err(Error::unexpected(format!(
                "the service answered with bytes {first}-{last} of the blob, which is not the \
                 range asked for (from byte {}{}); not using them",
                asked.offset,
                asked
                    .length
                    .map_or_else(String::new, |len| format!(", {len} bytes"))
            )));
        }
    }
    if let Some(announced) = response.content_length() {
        if announced != length {
            return Err(Error::unexpected(format!(
                "the service answered with bytes {first}-{last} of the blob ({length} bytes) \
                 but a Content-Length of {announced}; not using them"
            )));
        }
    }
    Ok(Some((first, last)))
}

impl fmt::Debug for BlobClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlobClient")
            .field("endpoint", &self.container.service.inner.endpoint)
            .field("container", &self.container.name)
            .field("name", &self.name)
            .finish()
    }
}
