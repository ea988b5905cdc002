//! The endpoint itself: the VM instance metadata service's token route, on 127.0.0.1.
//!
//! It answers the way the real service does, including its refusals, so that the client is
//! exercised against the same protocol it meets on an Azure VM:
//! <https://learn.microsoft.com/entra/identity/managed-identities-azure-resources/how-to-use-vm-token>

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::jwt::{self, Claims, LOCAL_OBJECT_ID, LOCAL_TENANT_ID};
use crate::LOCAL_CLIENT_ID;

/// The path of the token route, the same as on a VM.
pub const TOKEN_PATH: &str = "/metadata/identity/oauth2/token";

/// How the local endpoint behaves.
#[derive(Debug, Clone)]
pub struct Options {
    /// How long the tokens it mints stay valid.
    pub token_lifetime: Duration,
}

impl Default for Options {
    fn default() -> Self {
        // Managed identity tokens on Azure live about a day.
        Self {
            token_lifetime: Duration::from_secs(24 * 3600),
        }
    }
}

/// A running local managed identity endpoint. Dropping it stops the server.
#[derive(Debug)]
pub struct LocalIdentityServer {
    addr: SocketAddr,
    tokens_issued: Arc<AtomicUsize>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

#[derive(Clone)]
struct AppState {
    options: Options,
    tokens_issued: Arc<AtomicUsize>,
}

impl LocalIdentityServer {
    /// Starts the endpoint on a free port of 127.0.0.1.
    pub async fn start(options: Options) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let tokens_issued = Arc::new(AtomicUsize::new(0));
        let state = AppState {
            options,
            tokens_issued: Arc::clone(&tokens_issued),
        };
        let app = Router::new()
            .route(TOKEN_PATH, get(token))
            .with_state(state);
        let (shutdown, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(error) = served.await {
                tracing::error!(%error, "local identity endpoint stopped with an error");
            }
        });
        tracing::info!(%addr, "local managed identity endpoint listening");
        Ok(Self {
            addr,
            tokens_issued,
            shutdown: Some(shutdown),
            task: Some(task),
        })
    }

    /// The base URL, in the form `AZURE_POD_IDENTITY_AUTHORITY_HOST` takes
    /// (`http://127.0.0.1:<port>`): clients append [`TOKEN_PATH`] to it.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address the endpoint listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many tokens it has handed out so far.
    pub fn tokens_issued(&self) -> usize {
        self.tokens_issued.load(Ordering::SeqCst)
    }

    /// Stops the endpoint and waits until it no longer accepts connections.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for LocalIdentityServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// The token route. Each check mirrors a refusal the real endpoint gives, in the same order.
async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    // IMDS refuses anything that looks like it came through a proxy: the metadata service is
    // only for code running on the VM itself.
    if headers.contains_key("x-forwarded-for") {
        return refuse(
            "invalid_request",
            "Requests with X-Forwarded-For are not accepted",
        );
    }
    // The Metadata header protects against server-side request forgery.
    if headers.get("metadata").and_then(|v| v.to_str().ok()) != Some("true") {
        return refuse("invalid_request", "Required metadata header not specified");
    }
    if query.get("api-version").is_none_or(String::is_empty) {
        return refuse(
            "invalid_request",
            "Required query variable 'api-version' is missing",
        );
    }
    let Some(resource) = query.get("resource").filter(|r| !r.is_empty()) else {
        return refuse(
            "invalid_request",
            "Required query variable 'resource' is missing",
        );
    };
    if resource.trim_end_matches('/') != jwt::STORAGE_AUDIENCE {
        return refuse(
            "invalid_resource",
            &format!("AADSTS500011: The resource principal named {resource} was not found"),
        );
    }
    for selector in ["client_id", "object_id", "msi_res_id"] {
        if let Some(value) = query.get(selector) {
            let ours = match selector {
                "client_id" => LOCAL_CLIENT_ID,
                "object_id" => LOCAL_OBJECT_ID,
                _ => crate::LOCAL_RESOURCE_ID,
            };
            if value != ours {
                return refuse("invalid_request", "Identity not found");
            }
        }
    }

    let now = SystemTime::now();
    let lifetime = state.options.token_lifetime;
    let claims = Claims {
        audience: resource.clone(),
        tenant_id: LOCAL_TENANT_ID.to_owned(),
        object_id: LOCAL_OBJECT_ID.to_owned(),
        client_id: LOCAL_CLIENT_ID.to_owned(),
        issued_at: now,
        expires_at: now + lifetime,
    };
    let access_token = jwt::mint(&claims);
    state.tokens_issued.fetch_add(1, Ordering::SeqCst);
    let epoch = |t: SystemTime| t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    // The real service sends every number as a JSON string; clients must cope with that.
    Json(json!({
        "access_token": access_token,
        "client_id": LOCAL_CLIENT_ID,
        "expires_in": lifetime.as_secs().to_string(),
        "expires_on": epoch(now + lifetime).to_string(),
        "ext_expires_in": lifetime.as_secs().to_string(),
        "not_before": epoch(now).to_string(),
        "resource": resource,
        "token_type": "Bearer",
    }))
    .into_response()
}

fn refuse(error: &str, description: &str) -> Response {
    let body = json!({ "error": error, "error_description": description });
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}
