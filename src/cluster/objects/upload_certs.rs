//! The `kubeadm-certs` Secret (`init --upload-certs`), its short-lived owner token and the Role
//! that lets bootstrap tokens read it. kubeadm: `app/phases/copycerts/copycerts.go`
//! (`UploadCerts`, `createShortLivedBootstrapToken`, `createRBAC`).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use super::NODE_BOOTSTRAP_GROUP;

/// The Secret's name in kube-system.
pub const CERTS_SECRET: &str = "kubeadm-certs";
/// The Role and RoleBinding that let joining nodes read it (kubeadm's `KubeadmCertsClusterRoleName`).
pub const CERTS_ROLE: &str = "kubeadm:kubeadm-certs";
/// The description of the token that owns the Secret.
pub const CERTS_TOKEN_DESCRIPTION: &str = "Proxy for managing TTL for the kubeadm-certs secret";
/// How long the owner token, and so the Secret, lives (kubeadm's `DefaultCertTokenDuration`):
/// when the token expires the controller-manager's token cleaner deletes it and the garbage
/// collector deletes the Secret it owns.
pub const CERTS_TOKEN_TTL: Duration = Duration::from_secs(2 * 3600);

/// The Secret: `data` is the sealed file contents by Secret key; its controller owner is the
/// token Secret `bootstrap-token-<owner_id>` with `owner_uid`.
#[must_use]
pub fn kubeadm_certs_secret(
    data: &BTreeMap<String, Vec<u8>>,
    owner_id: &str,
    owner_uid: &str,
) -> Value {
    use base64::Engine as _;
    let data: serde_json::Map<String, Value> = data
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                json!(base64::engine::general_purpose::STANDARD.encode(v)),
            )
        })
        .collect();
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": CERTS_SECRET,
            "namespace": "kube-system",
            "ownerReferences": [{
                "apiVersion": "v1",
                "kind": "Secret",
                "name": format!("bootstrap-token-{owner_id}"),
                "uid": owner_uid,
                "controller": true,
                "blockOwnerDeletion": true,
            }],
        },
        "data": data,
    })
}

/// The Role allowing `get` on exactly that Secret, bound to the bootstrap-token group.
#[must_use]
pub fn kubeadm_certs_rbac() -> Vec<Value> {
    vec![
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": CERTS_ROLE, "namespace": "kube-system"},
            "rules": [{
                "apiGroups": [""],
                "resources": ["secrets"],
                "resourceNames": [CERTS_SECRET],
                "verbs": ["get"],
            }],
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": CERTS_ROLE, "namespace": "kube-system"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": CERTS_ROLE},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": NODE_BOOTSTRAP_GROUP}],
        }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::{core::v1 as core, rbac::v1 as rbac};

    #[test]
    fn the_secret_is_owned_by_its_token_and_carries_base64_values() {
        let data = BTreeMap::from([
            ("ca.crt".to_string(), b"sealed".to_vec()),
            ("ca.key".into(), vec![]),
        ]);
        let v = kubeadm_certs_secret(&data, "abcdef", "uid-1");
        let s: core::Secret = serde_json::from_value(v).unwrap();
        assert_eq!(s.metadata.name.as_deref(), Some("kubeadm-certs"));
        assert_eq!(s.type_, None, "kubeadm leaves the type unset (Opaque)");
        let d = s.data.unwrap();
        assert_eq!(d["ca.crt"].0, b"sealed");
        assert!(
            d["ca.key"].0.is_empty(),
            "a missing file is an empty value, key kept"
        );
        let owner = &s.metadata.owner_references.unwrap()[0];
        assert_eq!(
            (
                owner.kind.as_str(),
                owner.name.as_str(),
                owner.uid.as_str(),
                owner.controller,
                owner.block_owner_deletion
            ),
            (
                "Secret",
                "bootstrap-token-abcdef",
                "uid-1",
                Some(true),
                Some(true)
            )
        );
    }

    #[test]
    fn only_bootstrap_tokens_may_get_only_that_secret() {
        let objs = kubeadm_certs_rbac();
        let role: rbac::Role = serde_json::from_value(objs[0].clone()).unwrap();
        let rule = &role.rules.unwrap()[0];
        assert_eq!(
            rule.resource_names.as_deref(),
            Some(&["kubeadm-certs".to_string()][..])
        );
        assert_eq!(rule.verbs, ["get"]);
        let rb: rbac::RoleBinding = serde_json::from_value(objs[1].clone()).unwrap();
        assert_eq!(rb.role_ref.name, CERTS_ROLE);
        assert_eq!(rb.subjects.unwrap()[0].name, NODE_BOOTSTRAP_GROUP);
    }
}
