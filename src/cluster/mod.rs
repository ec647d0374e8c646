//! Talking to the new cluster: a small API client, the objects `init` creates (shaped as
//! kubeadm shapes them), bootstrap tokens and the CA pin for `kubeadm join`.
//! Knows nothing of phases or the CLI.

mod client;
pub mod etcd;
pub mod objects;
mod token;

pub use client::{
    ApiClient, ApiError, Applied, FIELD_MANAGER, KubeconfigIdentity, describe, kubeconfig_identity,
    object_path,
};
pub use token::{BootstrapToken, ca_cert_hash, expiration_after, rfc3339};
