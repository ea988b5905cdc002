//! [`ManagedIdentity`], the handle an application holds, and its builder.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tracing::Instrument;

use crate::cache::TokenCache;
use crate::chain::{self, Hints, InCode, SourceChoice};
use crate::clock::{Clock, SystemClock};
use crate::environment::Environment;
use crate::error::Error;
use crate::resource::Resource;
use crate::retry::RetryPolicy;
use crate::selector::Selectors;
use crate::sources::Source;
use crate::token::{http_date, AccessToken, SecretString};
use crate::transport::{self, Attempt, Target};

const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// Access tokens of this machine's, app's or pod's managed identity, cached and refreshed.
///
/// Cheap to clone: clones share one cache, so an application makes one and hands out clones.
/// See the [crate documentation](crate) for an example and the guarantees.
#[derive(Clone)]
pub struct ManagedIdentity {
    inner: Arc<Inner>,
}

struct Inner {
    source: Source,
    choice: SourceChoice,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    retry: RetryPolicy,
    connect_timeout: Duration,
    attempt_timeout: Duration,
    cache: TokenCache,
}

impl ManagedIdentity {
    /// The source the environment points to, in the order described in
    /// [`ManagedIdentityBuilder`]; the same as `ManagedIdentity::builder().build()`.
    pub fn from_env() -> Result<Self, Error> {
        Self::builder().build()
    }

    /// A builder, to choose the source, the identity, timeouts or the clock in code.
    pub fn builder() -> ManagedIdentityBuilder {
        ManagedIdentityBuilder::default()
    }

    /// A valid token for `resource_or_scope` (`https://storage.azure.com` or
    /// `https://storage.azure.com/.default`; both name the same token).
    ///
    /// Served from the cache while fresh; otherwise fetched once for all concurrent callers.
    pub async fn token(&self, resource_or_scope: &str) -> Result<AccessToken, Error> {
        let inner = &*self.inner;
        // A resource found in the cache was checked when it was first asked for.
        let key = Resource::cache_key(resource_or_scope);
        if let Some(token) = inner.cache.fresh(key, inner.clock.now()) {
            return Ok(token);
        }
        let resource = Resource::parse(resource_or_scope)?;
        // The refresh path holds an HTTP exchange and is large; boxed, it does not make this
        // future (and every caller's) that large, so the cached path above stays cheap.
        Box::pin(
            inner
                .cache
                .refresh(resource.resource(), &*inner.clock, || inner.fetch(resource)),
        )
        .await
    }

    /// Forgets the cached token for `resource_or_scope`, so that the next [`token`] call asks
    /// the endpoint again. Meant for a service that answered 401 to the cached token.
    ///
    /// [`token`]: ManagedIdentity::token
    pub fn invalidate(&self, resource_or_scope: &str) {
        if let Ok(resource) = Resource::parse(resource_or_scope) {
            self.inner.cache.invalidate(resource.resource());
        }
    }

    /// Which source is used, for which identity, and why.
    pub fn source(&self) -> &SourceChoice {
        &self.inner.choice
    }
}

impl fmt::Debug for ManagedIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManagedIdentity")
            .field("source", &self.inner.choice)
            .finish_non_exhaustive()
    }
}

impl Inner {
    /// Asks the source for a token, with retries. Each attempt has its own span.
    async fn fetch(&self, resource: Resource<'_>) -> Result<AccessToken, Error> {
        let kind = self.choice.kind();
        let endpoint = self.choice.endpoint();
        let result = if let Source::Static(token) = &self.source {
            token.token(self.clock.now())
        } else {
            let target = Target {
                kind,
                endpoint,
                resource: resource.resource(),
                connect_timeout: self.connect_timeout,
            };
            self.retry
                .run(&*self.clock, |attempt, remaining| {
                    let span = tracing::info_span!(
                        "managed_identity_token",
                        method = self.source.method(),
                        source = %kind,
                        endpoint,
                        resource = resource.resource(),
                        attempt,
                    );
                    self.attempt(resource, remaining, target).instrument(span)
                })
                .await
        };
        match &result {
            Ok(token) => tracing::info!(
                source = %kind,
                resource = resource.resource(),
                expires_on = %http_date(token.expires_on()),
                "managed identity token obtained"
            ),
            Err(error) => tracing::warn!(
                source = %kind,
                resource = resource.resource(),
                kind = ?error.kind(),
                %error,
                "no managed identity token"
            ),
        }
        result
    }

    async fn attempt(
        &self,
        resource: Resource<'_>,
        remaining: Duration,
        target: Target<'_>,
    ) -> Attempt {
        let (request, secrets) = match self.source.request(&self.http, resource).await {
            Ok(sent) => sent,
            Err(error) => return Attempt::Fail(error),
        };
        let timeout = self
            .attempt_timeout
            .min(remaining)
            .max(Duration::from_millis(1));
        let asked_at = self.clock.now();
        let outcome = transport::send(request, &secrets, timeout, target, asked_at, || {
            self.clock.now()
        })
        .await;
        match &outcome {
            Attempt::Token(_) => tracing::debug!("answered with a token"),
            Attempt::Retry { error, .. } => {
                tracing::debug!(status = error.status(), %error, "transient failure");
            }
            Attempt::Fail(error) => {
                tracing::debug!(status = error.status(), %error, "failure");
            }
        }
        outcome
    }
}

/// Builds a [`ManagedIdentity`]. Anything not set here comes from the environment.
///
/// The source, when none is chosen here, is the first that applies of:
///
/// 1. `AZURE_FEDERATED_TOKEN_FILE` set: AKS workload identity (with `AZURE_TENANT_ID`,
///    `AZURE_CLIENT_ID`, and `AZURE_AUTHORITY_HOST` or the public cloud's authority).
/// 2. `IDENTITY_ENDPOINT` and `IDENTITY_HEADER` set: App Service or Functions.
/// 3. IMDS, at `AZURE_POD_IDENTITY_AUTHORITY_HOST` if set, else at 169.254.169.254.
///
/// For IMDS and App Service, a selector set here (client id, object id or resource id; at
/// most one) wins; otherwise `AZURE_CLIENT_ID` selects a user-assigned identity. Empty values
/// count as not given.
#[derive(Debug, Clone)]
pub struct ManagedIdentityBuilder {
    env: Environment,
    in_code: Option<InCode>,
    selectors: Selectors,
    authority_host: Option<String>,
    clock: Arc<dyn Clock>,
    connect_timeout: Duration,
    attempt_timeout: Duration,
    retry: RetryPolicy,
}

impl Default for ManagedIdentityBuilder {
    fn default() -> Self {
        Self {
            env: Environment::process(),
            in_code: None,
            selectors: Selectors::default(),
            authority_host: None,
            clock: Arc::new(SystemClock),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            attempt_timeout: DEFAULT_ATTEMPT_TIMEOUT,
            retry: RetryPolicy::default(),
        }
    }
}

impl ManagedIdentityBuilder {
    /// Reads variables from `env` instead of the process environment.
    pub fn environment(mut self, env: Environment) -> Self {
        self.env = env;
        self
    }

    /// Uses IMDS at its standard address, whatever the environment says about other sources.
    pub fn imds(mut self) -> Self {
        self.in_code = Some(InCode::Imds { base: None });
        self
    }

    /// Uses IMDS at `base_url` (such as `http://127.0.0.1:8080`), to which
    /// `/metadata/identity/oauth2/token` is appended.
    pub fn imds_endpoint(mut self, base_url: impl Into<String>) -> Self {
        self.in_code = Some(InCode::Imds {
            base: Some(base_url.into()),
        });
        self
    }

    /// Uses App Service's endpoint, sending `identity_header` as `X-IDENTITY-HEADER`.
    pub fn app_service(
        mut self,
        endpoint: impl Into<String>,
        identity_header: impl Into<String>,
    ) -> Self {
        self.in_code = Some(InCode::AppService {
            endpoint: endpoint.into(),
            identity_header: SecretString::new(identity_header.into()),
        });
        self
    }

    /// Uses AKS workload identity: the federated token in `token_file` (read for every
    /// request) exchanged for the identity `client_id` of tenant `tenant_id`.
    pub fn workload_identity(
        mut self,
        tenant_id: impl Into<String>,
        client_id: impl Into<String>,
        token_file: impl Into<PathBuf>,
    ) -> Self {
        self.in_code = Some(InCode::WorkloadIdentity {
            tenant_id: tenant_id.into(),
            client_id: client_id.into(),
            token_file: token_file.into(),
        });
        self
    }

    /// The Microsoft Entra authority for workload identity, instead of `AZURE_AUTHORITY_HOST`
    /// or `https://login.microsoftonline.com/`.
    pub fn authority_host(mut self, url: impl Into<String>) -> Self {
        self.authority_host = Some(url.into());
        self
    }

    /// Hands out `token` until it expires, then fails with a [`Config`] error.
    ///
    /// [`Config`]: crate::ErrorKind::Config
    pub fn static_token(mut self, token: AccessToken) -> Self {
        self.in_code = Some(InCode::Static(token));
        self
    }

    /// Selects the user-assigned identity with this client id. Empty means not given.
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.selectors.client_id = Selectors::given(client_id);
        self
    }

    /// Selects the user-assigned identity with this object (principal) id.
    pub fn object_id(mut self, object_id: impl Into<String>) -> Self {
        self.selectors.object_id = Selectors::given(object_id);
        self
    }

    /// Selects the user-assigned identity with this Azure resource id.
    pub fn resource_id(mut self, resource_id: impl Into<String>) -> Self {
        self.selectors.resource_id = Selectors::given(resource_id);
        self
    }

    /// The clock for cache freshness, backoff and the deadline (default: the system clock).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// How long to wait for a connection (default 1 s): off Azure nothing answers, and this
    /// is how long it takes to find out.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long one attempt may take, from sending to the end of the answer (default 10 s).
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = timeout;
        self
    }

    /// How long one token fetch may take in all, retries and waits included (default 90 s,
    /// which lets 410 answers be retried for the 70 s Azure recommends).
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.retry.deadline = deadline;
        self
    }

    /// How many times 404, 429 and 5xx answers are retried (default 5). 410 is retried for
    /// 70 s regardless.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.retry.max_retries = retries;
        self
    }

    /// Chooses the source and checks the configuration. Sends no request.
    pub fn build(self) -> Result<ManagedIdentity, Error> {
        for (name, value) in [
            ("connect timeout", self.connect_timeout),
            ("attempt timeout", self.attempt_timeout),
            ("deadline", self.retry.deadline),
        ] {
            if value.is_zero() {
                return Err(Error::config(format!(
                    "the {name} must be longer than zero"
                )));
            }
        }
        let hints = Hints {
            selectors: &self.selectors,
            authority_host: self.authority_host.as_deref(),
            env: &self.env,
        };
        let (source, choice) = chain::choose(self.in_code.as_ref(), hints)?;
        let http = transport::client(self.connect_timeout)?;
        tracing::debug!(source = %choice, "managed identity source chosen");
        Ok(ManagedIdentity {
            inner: Arc::new(Inner {
                source,
                choice,
                http,
                clock: self.clock,
                retry: self.retry,
                connect_timeout: self.connect_timeout,
                attempt_timeout: self.attempt_timeout,
                cache: TokenCache::default(),
            }),
        })
    }
}
