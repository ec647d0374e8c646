//! plinth: a Kubernetes control-plane bootstrapper, doing what `kubeadm init` and
//! `kubeadm reset` do from the same `kubeadm.k8s.io/v1beta4` config files.
//!
//! Domain modules ([`config`], [`pki`], [`kubeconfig`], [`manifests`], [`kubelet`], [`host`],
//! [`preflight`]) know nothing of the CLI; [`phases`] wires them into kubeadm-style phase
//! trees; [`cli`] is a thin clap layer.

pub mod cli;
pub mod cluster;
pub mod config;
pub mod health;
pub mod host;
pub mod images;
pub mod k8s;
pub mod kubeconfig;
pub mod kubelet;
pub mod manifests;
pub mod phases;
pub mod pki;
pub mod preflight;
pub mod report;
pub mod retry;
