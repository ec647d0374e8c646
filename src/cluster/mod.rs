//! Talking to the new cluster: a small API client (JSON objects and a typed surface over
//! k8s-openapi resources), the objects `init` creates (shaped as kubeadm shapes them), applying
//! them (live or dry run), bootstrap tokens and the CA pin for `kubeadm join`, and one error
//! type ([`Error`]) for the cluster area.
//! Knows nothing of phases or the CLI.

mod apply;
mod client;
pub mod discovery;
mod error;
pub mod etcd;
pub mod objects;
mod token;

pub use apply::{Applier, ApplyError, DRY_RUN_UID, DryRunApplier, LiveApplier, Outcome};
pub use client::{
    Api, ApiClient, Applied, FIELD_MANAGER, KubeconfigIdentity, ListParams, describe,
    kubeconfig_identity, object_path, resource_path,
};
pub use error::{Error, Status, Verb};
pub use token::{
    BootstrapToken, GENERATED_TOKEN_DESCRIPTION, PlannedToken, TOKEN_REUSE_MIN_LEFT, TokenError,
    ca_cert_hash, expiration_after, may_reuse, plan_tokens, reusable_token, rfc3339,
};
