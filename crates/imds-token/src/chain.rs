//! Which source to use, and why: chosen in code, or read from the environment in one order.
//!
//! The order, first match wins:
//!
//! 1. A source chosen in code ([`ManagedIdentityBuilder`](crate::ManagedIdentityBuilder)).
//! 2. `AZURE_FEDERATED_TOKEN_FILE` set: AKS workload identity, which also needs
//!    `AZURE_TENANT_ID` and `AZURE_CLIENT_ID` (`AZURE_AUTHORITY_HOST` is optional). The token
//!    file is the one variable that only workload identity sets, so it decides.
//! 3. `IDENTITY_ENDPOINT` and `IDENTITY_HEADER` set: App Service or Functions.
//! 4. Otherwise the instance metadata service of a VM, at `AZURE_POD_IDENTITY_AUTHORITY_HOST`
//!    when set, else at 169.254.169.254.
//!
//! For IMDS and App Service, a selector given in code wins; otherwise `AZURE_CLIENT_ID` picks
//! a user-assigned identity by client id. Empty variables count as unset.

use std::fmt;
use std::path::PathBuf;

use crate::environment::Environment;
use crate::error::Error;
use crate::selector::{Selectors, UserAssignedId};
use crate::sources::{
    imds, workload_identity, AppService, Imds, Source, SourceKind, StaticToken, WorkloadIdentity,
};
use crate::token::{AccessToken, SecretString};

/// Which source a [`ManagedIdentity`](crate::ManagedIdentity) uses, for which identity, and
/// why. Holds no secret: it is meant for logs and diagnostics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceChoice {
    kind: SourceKind,
    endpoint: String,
    identity: Option<UserAssignedId>,
    reason: String,
}

impl SourceChoice {
    /// The kind of source.
    pub fn kind(&self) -> SourceKind {
        self.kind
    }

    /// Where token requests go (no query string), or `(given in code)` for a static token.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The user-assigned identity asked for; `None` means the system-assigned one (or the
    /// only user-assigned one, which the endpoint then picks).
    pub fn identity(&self) -> Option<&UserAssignedId> {
        self.identity.as_ref()
    }

    /// Why this source and identity were chosen, in a sentence.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for SourceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {}, ", self.kind, self.endpoint)?;
        match &self.identity {
            Some(identity) => write!(f, "{identity}")?,
            None if self.kind == SourceKind::Static => f.write_str("identity unknown")?,
            None => f.write_str("system-assigned identity")?,
        }
        write!(f, ": {}", self.reason)
    }
}

/// A source chosen in code.
#[derive(Debug, Clone)]
pub(crate) enum InCode {
    Imds {
        base: Option<String>,
    },
    AppService {
        endpoint: String,
        identity_header: SecretString,
    },
    WorkloadIdentity {
        tenant_id: String,
        client_id: String,
        token_file: PathBuf,
    },
    Static(AccessToken),
}

/// What the builder was told, besides the source.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hints<'a> {
    pub(crate) selectors: &'a Selectors,
    pub(crate) authority_host: Option<&'a str>,
    pub(crate) env: &'a Environment,
}

/// Picks the source and says why.
pub(crate) fn choose(
    in_code: Option<&InCode>,
    hints: Hints<'_>,
) -> Result<(Source, SourceChoice), Error> {
    if let Some(in_code) = in_code {
        return from_code(in_code, hints);
    }
    let env = hints.env;
    if let Some(token_file) = env.get("AZURE_FEDERATED_TOKEN_FILE") {
        let tenant_id = env.get("AZURE_TENANT_ID").ok_or_else(|| {
            Error::config(
                "AZURE_FEDERATED_TOKEN_FILE is set, so AKS workload identity is used, but \
                 AZURE_TENANT_ID is not: set it to the identity's directory (tenant) id",
            )
        })?;
        let client_id = workload_client_id(hints, None)?;
        let (authority, authority_origin) = authority_host(hints);
        let source = WorkloadIdentity::new(
            &authority,
            authority_origin,
            &tenant_id,
            client_id.clone(),
            PathBuf::from(token_file),
        )?;
        return Ok(chosen(
            Source::WorkloadIdentity(source),
            Some(UserAssignedId::ClientId(client_id)),
            "AZURE_FEDERATED_TOKEN_FILE is set (AKS workload identity), with AZURE_TENANT_ID \
             and the client id",
        ));
    }
    match (env.get("IDENTITY_ENDPOINT"), env.get("IDENTITY_HEADER")) {
        (Some(endpoint), Some(header)) => {
            let (identity, selector_origin) = identity(hints)?;
            let source = AppService::new(
                &endpoint,
                "IDENTITY_ENDPOINT",
                SecretString::new(header),
                "IDENTITY_HEADER",
                identity.clone(),
            )?;
            return Ok(chosen(
                Source::AppService(source),
                identity,
                &format!(
                    "IDENTITY_ENDPOINT and IDENTITY_HEADER are set (App Service or Functions){selector_origin}"
                ),
            ));
        }
        (Some(_), None) => {
            return Err(Error::config(
                "IDENTITY_ENDPOINT is set but IDENTITY_HEADER is not: App Service and \
                 Functions set both. (Azure Arc and Service Fabric, which set other \
                 variables, are not supported.) Unset IDENTITY_ENDPOINT to use IMDS",
            ));
        }
        _ => {}
    }
    let (identity, selector_origin) = identity(hints)?;
    let (base, origin, where_) = match env.get("AZURE_POD_IDENTITY_AUTHORITY_HOST") {
        Some(base) => (
            base,
            "AZURE_POD_IDENTITY_AUTHORITY_HOST",
            "at AZURE_POD_IDENTITY_AUTHORITY_HOST",
        ),
        None => (
            imds::DEFAULT_HOST.to_owned(),
            "the IMDS address",
            "at its fixed address",
        ),
    };
    let source = Imds::new(&base, origin, identity.clone())?;
    Ok(chosen(
        Source::Imds(source),
        identity,
        &format!(
            "neither AZURE_FEDERATED_TOKEN_FILE (AKS workload identity) nor IDENTITY_ENDPOINT \
             with IDENTITY_HEADER (App Service) is set, so the VM's instance metadata service \
             {where_}{selector_origin}"
        ),
    ))
}

fn from_code(in_code: &InCode, hints: Hints<'_>) -> Result<(Source, SourceChoice), Error> {
    match in_code {
        InCode::Imds { base } => {
            let (identity, selector_origin) = identity(hints)?;
            let source = Imds::new(
                base.as_deref().unwrap_or(imds::DEFAULT_HOST),
                "the IMDS endpoint given in code",
                identity.clone(),
            )?;
            let reason = format!("chosen in code{selector_origin}");
            Ok(chosen(Source::Imds(source), identity, &reason))
        }
        InCode::AppService {
            endpoint,
            identity_header,
        } => {
            let (identity, selector_origin) = identity(hints)?;
            let source = AppService::new(
                endpoint,
                "the App Service endpoint given in code",
                identity_header.clone(),
                "the identity header given in code",
                identity.clone(),
            )?;
            let reason = format!("chosen in code{selector_origin}");
            Ok(chosen(Source::AppService(source), identity, &reason))
        }
        InCode::WorkloadIdentity {
            tenant_id,
            client_id,
            token_file,
        } => {
            let client_id = workload_client_id(hints, Some(client_id))?;
            let (authority, authority_origin) = authority_host(hints);
            let source = WorkloadIdentity::new(
                &authority,
                authority_origin,
                tenant_id.trim(),
                client_id.clone(),
                token_file.clone(),
            )?;
            Ok(chosen(
                Source::WorkloadIdentity(source),
                Some(UserAssignedId::ClientId(client_id)),
                "chosen in code",
            ))
        }
        InCode::Static(token) => {
            if hints.selectors.one()?.is_some() {
                return Err(Error::config(
                    "a client id, object id or resource id has no meaning with a static \
                     token: remove the selector or choose a managed identity source",
                ));
            }
            Ok(chosen(
                Source::Static(StaticToken::new(token.clone())),
                None,
                "a token given in code",
            ))
        }
    }
}

/// The identity for IMDS and App Service, and where it came from (for the reason).
fn identity(hints: Hints<'_>) -> Result<(Option<UserAssignedId>, String), Error> {
    if let Some(identity) = hints.selectors.one()? {
        return Ok((Some(identity), ", with the identity set in code".to_owned()));
    }
    Ok(match hints.env.get("AZURE_CLIENT_ID") {
        Some(client_id) => (
            Some(UserAssignedId::ClientId(client_id)),
            ", with the client id from AZURE_CLIENT_ID".to_owned(),
        ),
        None => (None, String::new()),
    })
}

/// Workload identity names its identity by client id only.
fn workload_client_id(hints: Hints<'_>, given: Option<&String>) -> Result<String, Error> {
    let selectors = hints.selectors;
    if selectors.object_id.is_some() || selectors.resource_id.is_some() {
        return Err(Error::config(
            "AKS workload identity names its identity by client id only: remove the object id \
             or resource id, and give the client id (AZURE_CLIENT_ID)",
        ));
    }
    given
        .and_then(|id| Selectors::given(id.as_str()))
        .or_else(|| selectors.client_id.clone())
        .or_else(|| hints.env.get("AZURE_CLIENT_ID"))
        .ok_or_else(|| {
            Error::config(
                "AKS workload identity needs the identity's client id: set AZURE_CLIENT_ID \
                 (the azure.workload.identity/client-id annotation of the service account)",
            )
        })
}

fn authority_host(hints: Hints<'_>) -> (String, &'static str) {
    if let Some(host) = hints.authority_host {
        return (host.to_owned(), "the authority host given in code");
    }
    match hints.env.get("AZURE_AUTHORITY_HOST") {
        Some(host) => (host, "AZURE_AUTHORITY_HOST"),
        None => (
            workload_identity::DEFAULT_AUTHORITY_HOST.to_owned(),
            "the default authority host",
        ),
    }
}

fn chosen(
    source: Source,
    identity: Option<UserAssignedId>,
    reason: &str,
) -> (Source, SourceChoice) {
    let choice = SourceChoice {
        kind: source.kind(),
        endpoint: source.endpoint().to_owned(),
        identity,
        reason: reason.to_owned(),
    };
    (source, choice)
}
