//! Phase trees: kubeadm-style workflows (`init`, `reset`) whose leaves are thin adapters over
//! the domain modules. No crypto or YAML details live here.

pub mod init;
pub mod reset;
pub mod runner;
