//! Talking to the new cluster: a small API client, the objects `init` creates (shaped as
//! kubeadm shapes them), applying them (live or dry run), bootstrap tokens and the CA pin for
//! `kubeadm join`.
//! Knows nothing of phases or the CLI.

mod apply;
mod client;
pub mod etcd;
pub mod objects;
mod token;

pub use apply::{Applier, ApplyError, DryRunApplier, LiveApplier, Outcome};
pub use client::{
    ApiClient, ApiError, Applied, FIELD_MANAGER, KubeconfigIdentity, describe, kubeconfig_identity,
    object_path,
};
pub use token::{
    BootstrapToken, GENERATED_TOKEN_DESCRIPTION, PlannedToken, TOKEN_REUSE_MIN_LEFT, TokenError,
    ca_cert_hash, expiration_after, may_reuse, plan_tokens, reusable_token, rfc3339,
};
