//! Service SAS: a blob SAS signed with the account key.
//!
//! Reference: [Create a service SAS](https://learn.microsoft.com/rest/api/storageservices/create-service-sas),
//! layout of version 2020-12-06 and later (so of the pinned [`SAS_VERSION`]): sixteen lines,
//! joined by `\n`, without a trailing newline:
//!
//! ```text
//! signedPermissions        sp
//! signedStart              st (empty when not signed)
//! signedExpiry             se
//! canonicalizedResource    /blob/<account>/<container>/<raw blob name>
//! signedIdentifier         (empty: no stored access policy)
//! signedIP                 (empty)
//! signedProtocol           spr
//! signedVersion            sv
//! signedResource           sr = b
//! signedSnapshotTime       (empty)
//! signedEncryptionScope    (empty)
//! rscc                     (empty)
//! rscd                     content disposition override, or empty
//! rsce                     (empty)
//! rscl                     (empty)
//! rsct                     content type override, or empty
//! ```
//!
//! Azurite 3.35.0 checks the same layout for every `sv` from 2020-12-06 on
//! (`generateBlobSASSignature20201206`).

use crate::auth::SharedKeyCredential;
use crate::sas::{SasFields, SasQuery, SAS_VERSION, SIGNED_RESOURCE_BLOB};

/// The service SAS string-to-sign of `fields`.
pub(crate) fn service_string_to_sign(fields: &SasFields) -> String {
    [
        fields.permissions.as_str(),
        fields.start.as_deref().unwrap_or_default(),
        fields.expiry.as_str(),
        fields.canonical_resource.as_str(),
        "",
        "",
        fields.protocol,
        SAS_VERSION,
        SIGNED_RESOURCE_BLOB,
        "",
        "",
        "",
        fields.content_disposition.as_deref().unwrap_or_default(),
        "",
        "",
        fields.content_type.as_deref().unwrap_or_default(),
    ]
    .join("\n")
}

/// The query of a service SAS for `fields`, signed with `credential`'s key.
pub(crate) fn sign_service_sas(fields: &SasFields, credential: &SharedKeyCredential) -> SasQuery {
    let to_sign = zeroize::Zeroizing::new(service_string_to_sign(fields));
    let signature = credential.key().hmac_sha256_base64(to_sign.as_bytes());
    let mut query = SasQuery::new();
    query.push("sv", SAS_VERSION);
    query.push("spr", fields.protocol);
    query.push_opt("st", fields.start.as_ref());
    query.push("se", fields.expiry.clone());
    query.push("sr", SIGNED_RESOURCE_BLOB);
    query.push("sp", fields.permissions.clone());
    query.push_opt("rscd", fields.content_disposition.as_ref());
    query.push_opt("rsct", fields.content_type.as_ref());
    query.push("sig", signature.as_str());
    query
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AccountKey;

    const DEV_KEY: &str =
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    fn credential() -> SharedKeyCredential {
        SharedKeyCredential::new(
            "devstoreaccount1",
            AccountKey::from_base64(DEV_KEY).unwrap(),
        )
    }

    fn fields() -> SasFields {
        SasFields {
            permissions: "r".to_owned(),
            start: None,
            expiry: "2025-12-02T11:30:00Z".to_owned(),
            canonical_resource: "/blob/devstoreaccount1/photos/a b+c%d#e/été.jpg".to_owned(),
            protocol: "https,http",
            content_disposition: None,
            content_type: None,
        }
    }

    // Expected signatures computed independently with python3:
    // base64(hmac.new(b64decode(DEV_KEY), string_to_sign.encode(), sha256).digest())

    #[test]
    fn read_only_sas_for_an_awkward_name() {
        let fields = fields();
        assert_eq!(
            service_string_to_sign(&fields),
            "r\n\n2025-12-02T11:30:00Z\n/blob/devstoreaccount1/photos/a b+c%d#e/été.jpg\n\n\n\
             https,http\n2022-11-02\nb\n\n\n\n\n\n\n"
        );
        let query = sign_service_sas(&fields, &credential());
        assert_eq!(
            query.encode().as_str(),
            "sv=2022-11-02&spr=https%2Chttp&se=2025-12-02T11%3A30%3A00Z&sr=b&sp=r\
             &sig=tUBUF48i9pqe5G8T5DC9QdayMzErLJ2VVOBeHp5a9Ow%3D"
        );
    }

    #[test]
    fn write_sas_with_start_and_overrides() {
        let fields = SasFields {
            permissions: "rcw".to_owned(),
            start: Some("2025-12-02T10:25:00Z".to_owned()),
            protocol: "https",
            content_disposition: Some(
                "attachment; filename=\"cat 100%.jpg\"; filename*=UTF-8''%C3%A9t%C3%A9.jpg"
                    .to_owned(),
            ),
            content_type: Some("image/jpeg".to_owned()),
            ..fields()
        };
        assert_eq!(
            service_string_to_sign(&fields),
            "rcw\n2025-12-02T10:25:00Z\n2025-12-02T11:30:00Z\n\
             /blob/devstoreaccount1/photos/a b+c%d#e/été.jpg\n\n\nhttps\n2022-11-02\nb\n\n\n\n\
             attachment; filename=\"cat 100%.jpg\"; filename*=UTF-8''%C3%A9t%C3%A9.jpg\n\n\nimage/jpeg"
        );
        let query = sign_service_sas(&fields, &credential());
        assert_eq!(
            query.encode().as_str(),
            "sv=2022-11-02&spr=https&st=2025-12-02T10%3A25%3A00Z&se=2025-12-02T11%3A30%3A00Z\
             &sr=b&sp=rcw&rscd=attachment%3B%20filename%3D%22cat%20100%25.jpg%22%3B%20filename%2A%3D\
             UTF-8%27%27%25C3%25A9t%25C3%25A9.jpg&rsct=image%2Fjpeg\
             &sig=op5LzLzvR2fSY88UIUWciIbicws%2B4RkF9Ft%2Bbwkties%3D"
        );
    }
}
