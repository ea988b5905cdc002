//! The three clients under comparison, behind one small interface: this workspace's
//! `blob-rest` (SharedKey), Apache Arrow's `object_store` (Azure, SharedKey) and bare
//! `reqwest` sending the same requests unsigned, which is the ceiling for any client built on
//! reqwest.

use std::fmt;
use std::sync::Arc;

use blob_rest::{
    AccountKey, BlobServiceClient, ClientOptions, ContainerClient, Credential, Endpoint,
    GetBlobOptions, PutBlobOptions, SharedKeyCredential, UploadOptions,
};
use bytes::Bytes;
use futures_util::{Stream, StreamExt as _};
use object_store::azure::{MicrosoftAzure, MicrosoftAzureBuilder};
use object_store::path::Path as StorePath;
use object_store::{ObjectStore as _, PutPayload, WriteMultipart};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// Azurite's well-known development account and key, published in Azure's documentation.
pub(crate) const DEV_ACCOUNT: &str = "devstoreaccount1";
/// See [`DEV_ACCOUNT`]; not a secret.
pub(crate) const DEV_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// The container every client writes to and reads from.
pub(crate) const CONTAINER: &str = "bench";

/// An error of any client, as text: what the benchmark reports instead of numbers.
pub(crate) type Failure = String;

/// Which client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Kind {
    /// This workspace's client, SharedKey.
    BlobRest,
    /// blob-rest's parallel range download (8 MiB ranges, 4 at once): downloads only.
    BlobRestRanges,
    /// blob-rest's upload without the whole-blob MD5 (`UploadOptions::blob_md5(false)`):
    /// uploads only, to show what that hash costs.
    BlobRestNoBlobMd5,
    /// object_store's Azure client, SharedKey.
    ObjectStore,
    /// reqwest alone, unsigned.
    Reqwest,
}

impl Kind {
    /// The three clients every measurement compares.
    pub(crate) const COMPARED: [Kind; 3] = [Kind::BlobRest, Kind::ObjectStore, Kind::Reqwest];

    pub(crate) fn label(self) -> &'static str {
        match self {
            Kind::BlobRest => "blob-rest",
            Kind::BlobRestRanges => "blob-rest (ranges)",
            Kind::BlobRestNoBlobMd5 => "blob-rest (no blob MD5)",
            Kind::ObjectStore => "object_store",
            Kind::Reqwest => "raw reqwest",
        }
    }

    /// The value of `--client` for this kind.
    pub(crate) fn arg(self) -> &'static str {
        match self {
            Kind::BlobRest => "blob-rest",
            Kind::BlobRestRanges => "blob-rest-ranges",
            Kind::BlobRestNoBlobMd5 => "blob-rest-no-blob-md5",
            Kind::ObjectStore => "object-store",
            Kind::Reqwest => "reqwest",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// How the large transfers are cut: the same for every client.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Blocks {
    pub(crate) size: u64,
    pub(crate) in_flight: usize,
}

/// One client, ready to send. Cheap to clone (connection pools are shared).
#[derive(Clone)]
pub(crate) enum Client {
    BlobRest(ContainerClient),
    ObjectStore(Arc<MicrosoftAzure>),
    Reqwest {
        http: reqwest::Client,
        base: Arc<str>,
    },
}

impl Client {
    /// A client of `kind` for the account endpoint `endpoint`
    /// (`http://127.0.0.1:<port>/devstoreaccount1`), each with its default settings.
    pub(crate) fn new(kind: Kind, endpoint: &str) -> Result<Self, Failure> {
        match kind {
            Kind::BlobRest | Kind::BlobRestRanges | Kind::BlobRestNoBlobMd5 => {
                let key = AccountKey::from_base64(DEV_KEY).map_err(|e| e.to_string())?;
                let credential = Credential::SharedKey(SharedKeyCredential::new(DEV_ACCOUNT, key));
                let endpoint = Endpoint::parse(endpoint).map_err(|e| e.to_string())?;
                let service =
                    BlobServiceClient::new(endpoint, credential, ClientOptions::default())
                        .map_err(|e| e.to_string())?;
                Ok(Client::BlobRest(service.container(CONTAINER)))
            }
            Kind::ObjectStore => {
                let store = MicrosoftAzureBuilder::new()
                    .with_account(DEV_ACCOUNT)
                    .with_access_key(DEV_KEY)
                    .with_container_name(CONTAINER)
                    .with_endpoint(endpoint.to_owned())
                    .with_allow_http(true)
                    .build()
                    .map_err(|e| e.to_string())?;
                Ok(Client::ObjectStore(Arc::new(store)))
            }
            Kind::Reqwest => {
                let http = reqwest::Client::builder()
                    .no_proxy()
                    .build()
                    .map_err(|e| e.to_string())?;
                Ok(Client::Reqwest {
                    http,
                    base: format!("{endpoint}/{CONTAINER}").into(),
                })
            }
        }
    }

    /// One Put Blob of `content` under `name`.
    pub(crate) async fn put_small(&self, name: &str, content: Bytes) -> Result<(), Failure> {
        match self {
            Client::BlobRest(container) => container
                .blob(name)
                .put(content, PutBlobOptions::new())
                .await
                .map(drop)
                .map_err(|e| e.to_string()),
            Client::ObjectStore(store) => store
                .put(&StorePath::from(name), PutPayload::from_bytes(content))
                .await
                .map(drop)
                .map_err(|e| e.to_string()),
            Client::Reqwest { http, base } => {
                let response = http
                    .put(format!("{base}/{name}"))
                    .header("x-ms-version", blob_rest::API_VERSION)
                    .header("x-ms-blob-type", "BlockBlob")
                    .body(content)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                check_status(&response)
            }
        }
    }

    /// One Get Blob of `name`, read whole into memory (as an app reading a small blob does);
    /// returns its length.
    pub(crate) async fn get_small(&self, name: &str) -> Result<usize, Failure> {
        match self {
            Client::BlobRest(container) => {
                let response = container
                    .blob(name)
                    .get(GetBlobOptions::new())
                    .await
                    .map_err(|e| e.to_string())?;
                let bytes = response.body.collect().await.map_err(|e| e.to_string())?;
                Ok(bytes.len())
            }
            Client::ObjectStore(store) => {
                let result = store
                    .get(&StorePath::from(name))
                    .await
                    .map_err(|e| e.to_string())?;
                let bytes = result.bytes().await.map_err(|e| e.to_string())?;
                Ok(bytes.len())
            }
            Client::Reqwest { http, base } => {
                let response = http
                    .get(format!("{base}/{name}"))
                    .header("x-ms-version", blob_rest::API_VERSION)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                check_status(&response)?;
                let bytes = response.bytes().await.map_err(|e| e.to_string())?;
                Ok(bytes.len())
            }
        }
    }

    /// Uploads everything `source` yields under `name` as blocks of `blocks.size` bytes,
    /// `blocks.in_flight` at a time, then commits them: Put Block + Put Block List for all
    /// three clients.
    pub(crate) async fn upload_large<S>(
        &self,
        name: &str,
        source: S,
        blocks: Blocks,
        kind: Kind,
    ) -> Result<(), Failure>
    where
        S: Stream<Item = Bytes> + Send + Unpin + 'static,
    {
        let block_size = usize::try_from(blocks.size).map_err(|e| e.to_string())?;
        match self {
            Client::BlobRest(container) => {
                let options = UploadOptions::new()
                    .block_size(blocks.size)
                    .max_in_flight(blocks.in_flight)
                    .single_put_threshold(blocks.size)
                    .blob_md5(kind != Kind::BlobRestNoBlobMd5);
                container
                    .blob(name)
                    .upload_stream(
                        source.map(Ok::<_, std::io::Error>),
                        &options,
                        PutBlobOptions::new(),
                    )
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string())
            }
            Client::ObjectStore(store) => {
                let upload = store
                    .put_multipart(&StorePath::from(name))
                    .await
                    .map_err(|e| e.to_string())?;
                let mut writer = WriteMultipart::new_with_chunk_size(upload, block_size);
                let mut source = source;
                while let Some(chunk) = source.next().await {
                    // Back-pressure as the crate documents it: at most `in_flight` parts
                    // being sent while the next one fills.
                    writer
                        .wait_for_capacity(blocks.in_flight)
                        .await
                        .map_err(|e| e.to_string())?;
                    // `put` takes the chunk without copying it, the crate's cheapest path
                    // for a stream of `Bytes`.
                    writer.put(chunk);
                }
                writer.finish().await.map(drop).map_err(|e| e.to_string())
            }
            Client::Reqwest { http, base } => {
                raw_block_upload(http, &format!("{base}/{name}"), source, block_size, blocks).await
            }
        }
    }

    /// Downloads `name` and throws the bytes away as they arrive, never holding the blob;
    /// returns the number of bytes received.
    pub(crate) async fn download_large(&self, name: &str, kind: Kind) -> Result<u64, Failure> {
        match self {
            Client::BlobRest(container) if kind == Kind::BlobRestRanges => {
                let mut sink = tokio::io::sink();
                let done = container
                    .blob(name)
                    .download_to(&mut sink, &blob_rest::DownloadOptions::new())
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(done.bytes_written)
            }
            Client::BlobRest(container) => {
                let response = container
                    .blob(name)
                    .get(GetBlobOptions::new())
                    .await
                    .map_err(|e| e.to_string())?;
                count(response.body.map(|chunk| chunk.map_err(|e| e.to_string()))).await
            }
            Client::ObjectStore(store) => {
                let result = store
                    .get(&StorePath::from(name))
                    .await
                    .map_err(|e| e.to_string())?;
                count(
                    result
                        .into_stream()
                        .map(|chunk| chunk.map_err(|e| e.to_string())),
                )
                .await
            }
            Client::Reqwest { http, base } => {
                let response = http
                    .get(format!("{base}/{name}"))
                    .header("x-ms-version", blob_rest::API_VERSION)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                check_status(&response)?;
                count(
                    response
                        .bytes_stream()
                        .map(|chunk| chunk.map_err(|e| e.to_string())),
                )
                .await
            }
        }
    }
}

async fn count<S>(mut stream: S) -> Result<u64, Failure>
where
    S: Stream<Item = Result<Bytes, Failure>> + Unpin,
{
    let mut total = 0;
    while let Some(chunk) = stream.next().await {
        total += chunk?.len() as u64;
    }
    Ok(total)
}

fn check_status(response: &reqwest::Response) -> Result<(), Failure> {
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("the server answered {}", response.status()))
    }
}

/// The ceiling: the same Put Block / Put Block List requests as the clients send, with no
/// signature, no MD5 and no retry logic, `in_flight` blocks at a time. A block is sent as the
/// stream's own chunks with its length declared, so nothing is copied (object_store's
/// cheapest path does the same).
async fn raw_block_upload<S>(
    http: &reqwest::Client,
    url: &str,
    mut source: S,
    block_size: usize,
    blocks: Blocks,
) -> Result<(), Failure>
where
    S: Stream<Item = Bytes> + Send + Unpin + 'static,
{
    let slots = Arc::new(Semaphore::new(blocks.in_flight));
    let mut tasks: JoinSet<Result<(), Failure>> = JoinSet::new();
    let mut ids = Vec::new();
    let mut pending = Bytes::new();
    loop {
        let slot = Arc::clone(&slots)
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        while let Some(done) = tasks.try_join_next() {
            done.map_err(|e| e.to_string())??;
        }
        let mut block = Vec::new();
        let mut len = 0;
        while len < block_size {
            if pending.is_empty() {
                match source.next().await {
                    Some(chunk) => pending = chunk,
                    None => break,
                }
            }
            let take = pending.len().min(block_size - len);
            block.push(Ok::<_, std::io::Error>(pending.split_to(take)));
            len += take;
        }
        if len == 0 {
            break;
        }
        // 16 decimal digits are valid base64 of 12 bytes, and all ids have one length, as
        // the service asks; the bench server does not decode them anyway.
        let id = format!("{:016}", ids.len());
        let request = http
            .put(format!("{url}?comp=block&blockid={id}"))
            .header("x-ms-version", blob_rest::API_VERSION)
            .header(reqwest::header::CONTENT_LENGTH, len)
            .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
                block,
            )));
        ids.push(id);
        tasks.spawn(async move {
            let response = request.send().await.map_err(|e| e.to_string())?;
            drop(slot);
            check_status(&response)
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.map_err(|e| e.to_string())??;
    }
    let mut list = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
    for id in &ids {
        list.push_str("<Latest>");
        list.push_str(id);
        list.push_str("</Latest>");
    }
    list.push_str("</BlockList>");
    let response = http
        .put(format!("{url}?comp=blocklist"))
        .header("x-ms-version", blob_rest::API_VERSION)
        .body(list)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    check_status(&response)
}
