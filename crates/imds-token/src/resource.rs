//! Resources and scopes: what callers name, and the form each endpoint wants.
//!
//! The managed identity endpoints (IMDS, App Service) take a *resource*
//! (`https://storage.azure.com`) and refuse a scope; Microsoft Entra's v2 token endpoint, used
//! by workload identity, takes a *scope*, the resource followed by `/.default`. Callers may give
//! either; both name the same token and share one cache entry.
//!
//! The mapping is the plain one, `scope = resource + "/.default"`, with no slash trimmed: Entra
//! reads `https://storage.azure.com//.default` as the resource `https://storage.azure.com/`,
//! and that is the audience such a caller asked for.

use crate::error::Error;

const DEFAULT_SUFFIX: &str = "/.default";

/// A resource, borrowed from the caller's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Resource<'a> {
    resource: &'a str,
}

impl<'a> Resource<'a> {
    /// The resource named by a resource or scope, unchecked: what the cache is keyed by.
    /// Only text that [`parse`](Self::parse) accepted is ever stored under a key.
    pub(crate) fn cache_key(resource_or_scope: &str) -> &str {
        resource_or_scope
            .strip_suffix(DEFAULT_SUFFIX)
            .unwrap_or(resource_or_scope)
    }

    /// Reads a resource or a `.../.default` scope.
    pub(crate) fn parse(resource_or_scope: &'a str) -> Result<Self, Error> {
        let resource = Self::cache_key(resource_or_scope);
        if resource.is_empty() {
            return Err(Error::config(format!(
                "no resource given (got {resource_or_scope:?}): name the resource, such as \
                 https://storage.azure.com, or its scope https://storage.azure.com/.default"
            )));
        }
        // Bytes, not chars: this runs on every cached read, and ASCII spaces and controls are
        // the mistakes seen in practice (several scopes in one string, a pasted newline).
        if resource.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(Error::config(format!(
                "the resource {resource_or_scope:?} contains spaces or control characters: \
                 ask for one resource at a time, such as https://storage.azure.com"
            )));
        }
        Ok(Self { resource })
    }

    /// The resource, as IMDS and App Service want it (never ends in `/.default`).
    pub(crate) fn resource(self) -> &'a str {
        self.resource
    }

    /// The scope, as Entra's v2 token endpoint wants it.
    pub(crate) fn scope(self) -> String {
        format!("{}{DEFAULT_SUFFIX}", self.resource)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn resource_and_scope_name_the_same_token() {
        for given in [
            "https://storage.azure.com",
            "https://storage.azure.com/.default",
        ] {
            let parsed = Resource::parse(given).unwrap();
            assert_eq!(parsed.resource(), "https://storage.azure.com");
            assert_eq!(parsed.scope(), "https://storage.azure.com/.default");
        }
    }

    #[test]
    fn a_trailing_slash_is_part_of_the_resource() {
        let parsed = Resource::parse("https://storage.azure.com/").unwrap();
        assert_eq!(parsed.resource(), "https://storage.azure.com/");
        assert_eq!(parsed.scope(), "https://storage.azure.com//.default");
        let back = Resource::parse("https://storage.azure.com//.default").unwrap();
        assert_eq!(back.resource(), "https://storage.azure.com/");
    }

    #[test]
    fn empty_or_several_resources_are_config_errors() {
        for bad in ["", "/.default", "https://a https://b", "https://a\n"] {
            let error = Resource::parse(bad).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::Config, "{bad:?}");
            assert!(
                error.to_string().contains("https://storage.azure.com"),
                "{error}"
            );
        }
    }
}
