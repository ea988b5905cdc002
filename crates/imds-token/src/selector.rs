//! Choosing a user-assigned identity: by client id, object id or Azure resource id.
//!
//! A VM or an app can carry one system-assigned identity and several user-assigned ones. With
//! no selector the endpoint answers for the system-assigned identity, or for the only
//! user-assigned one; with several and no selector it refuses. At most one selector may be
//! sent, and an empty one must not be sent at all.

use std::fmt;

use crate::error::Error;

/// Which user-assigned identity to get tokens for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UserAssignedId {
    /// The identity's client (application) id, a GUID. `AZURE_CLIENT_ID` gives this one.
    ClientId(String),
    /// The identity's object (principal) id, a GUID.
    ObjectId(String),
    /// The identity's Azure resource id,
    /// `/subscriptions/<sub>/resourceGroups/<group>/providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name>`.
    ResourceId(String),
}

impl UserAssignedId {
    /// The id itself.
    pub fn value(&self) -> &str {
        match self {
            Self::ClientId(id) | Self::ObjectId(id) | Self::ResourceId(id) => id,
        }
    }

    /// The query parameter IMDS reads it from.
    pub(crate) fn imds_parameter(&self) -> &'static str {
        match self {
            Self::ClientId(_) => "client_id",
            Self::ObjectId(_) => "object_id",
            Self::ResourceId(_) => "msi_res_id",
        }
    }

    /// The query parameter App Service reads it from (not IMDS's `msi_res_id`).
    pub(crate) fn app_service_parameter(&self) -> &'static str {
        match self {
            Self::ClientId(_) => "client_id",
            Self::ObjectId(_) => "object_id",
            Self::ResourceId(_) => "mi_res_id",
        }
    }
}

impl fmt::Display for UserAssignedId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Self::ClientId(_) => "client id",
            Self::ObjectId(_) => "object id",
            Self::ResourceId(_) => "resource id",
        };
        write!(f, "user-assigned identity with {name} {}", self.value())
    }
}

/// The selectors given in code, each empty or blank one counted as not given.
// The fields carry the Azure names of the three selectors.
#[allow(clippy::struct_field_names)]
#[derive(Debug, Clone, Default)]
pub(crate) struct Selectors {
    pub(crate) client_id: Option<String>,
    pub(crate) object_id: Option<String>,
    pub(crate) resource_id: Option<String>,
}

impl Selectors {
    /// Keeps a selector value unless it is empty or blank.
    pub(crate) fn given(value: impl Into<String>) -> Option<String> {
        let value = value.into();
        let trimmed = value.trim();
        (!trimmed.is_empty()).then(|| trimmed.to_owned())
    }

    /// The one identity chosen, if any; two or three at once is a configuration error.
    pub(crate) fn one(&self) -> Result<Option<UserAssignedId>, Error> {
        let given: Vec<UserAssignedId> = [
            self.client_id.clone().map(UserAssignedId::ClientId),
            self.object_id.clone().map(UserAssignedId::ObjectId),
            self.resource_id.clone().map(UserAssignedId::ResourceId),
        ]
        .into_iter()
        .flatten()
        .collect();
        match given.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(one.clone())),
            several => {
                let names: Vec<String> = several.iter().map(ToString::to_string).collect();
                Err(Error::config(format!(
                    "choose one user-assigned identity, not {}: {}; keep only the client id, \
                     the object id or the resource id",
                    several.len(),
                    names.join(", ")
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn blank_selectors_are_not_given() {
        assert_eq!(Selectors::given(""), None);
        assert_eq!(Selectors::given("  "), None);
        assert_eq!(Selectors::given(" abc "), Some("abc".to_owned()));
    }

    #[test]
    fn exactly_one_selector() {
        let none = Selectors::default();
        assert_eq!(none.one().unwrap(), None);
        let object = Selectors {
            object_id: Some("o-1".to_owned()),
            ..Selectors::default()
        };
        assert_eq!(
            object.one().unwrap(),
            Some(UserAssignedId::ObjectId("o-1".to_owned()))
        );
        let two = Selectors {
            client_id: Some("c-1".to_owned()),
            resource_id: Some("/subscriptions/s/r".to_owned()),
            ..Selectors::default()
        };
        let error = two.one().unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Config);
        assert_eq!(
            error.to_string(),
            "choose one user-assigned identity, not 2: user-assigned identity with client id \
             c-1, user-assigned identity with resource id /subscriptions/s/r; keep only the \
             client id, the object id or the resource id"
        );
    }

    #[test]
    fn parameter_names_per_endpoint() {
        let id = UserAssignedId::ResourceId("/subscriptions/s".to_owned());
        assert_eq!(id.imds_parameter(), "msi_res_id");
        assert_eq!(id.app_service_parameter(), "mi_res_id");
        assert_eq!(
            UserAssignedId::ClientId(String::new()).imds_parameter(),
            "client_id"
        );
        assert_eq!(
            UserAssignedId::ObjectId(String::new()).app_service_parameter(),
            "object_id"
        );
    }
}
