//! What `plinth reset` reads from a config file: the documents, checked strictly and with the
//! same path policy as init (kubeadm's reset reads `ResetConfiguration` and the cluster's
//! `ClusterConfiguration`; `app/cmd/reset.go` `newResetData`). Not defaulted or resolved like
//! init's config: reset needs no hostname, address or version, only what it cleans.

use std::collections::BTreeMap;
use std::path::Path;

use super::error::Error;
use super::load::{Documents, load_documents};
use super::v1beta4::{ClusterConfiguration, InitConfiguration, ResetConfiguration};
use super::validate::Validator;

/// The documents a reset uses, each at its zero value when the file has none.
#[derive(Debug, Clone, Default)]
pub struct ResetInput {
    /// `ResetConfiguration`.
    pub reset: ResetConfiguration,
    /// `ClusterConfiguration` (certificatesDir, etcd data directory).
    pub cluster: ClusterConfiguration,
    /// `InitConfiguration` (advertise address, bind port, criSocket).
    pub init: InitConfiguration,
}

/// Reads and checks the config file of a reset (none: every setting at its default).
///
/// # Errors
/// [`Error::Read`] when the file cannot be read; [`Error::Invalid`] listing every problem, with
/// file, line and field, before anything is removed.
pub fn load_reset(path: Option<&Path>) -> Result<ResetInput, Error> {
    let Some(p) = path else {
        return Ok(ResetInput::default());
    };
    // The same bounded reader as init's: regular files (or `-`) up to 1 MiB.
    let (text, name) = super::read_source(p)?;
    let docs = load_documents(&text, &name).map_err(|issues| Error::Invalid { issues })?;
    check_reset(&docs)?;
    Ok(ResetInput {
        reset: docs.reset.map(|(r, _)| r).unwrap_or_default(),
        cluster: docs.cluster.map(|(c, _)| c).unwrap_or_default(),
        init: docs.init.map(|(i, _)| i).unwrap_or_default(),
    })
}

/// The path policy and value checks on the documents a reset uses.
///
/// # Errors
/// [`Error::Invalid`] listing every problem.
pub fn check_reset(docs: &Documents) -> Result<(), Error> {
    let mut indexes = BTreeMap::new();
    if let Some((_, i)) = &docs.cluster {
        indexes.insert("ClusterConfiguration", &i.0);
    }
    if let Some((_, i)) = &docs.reset {
        indexes.insert("ResetConfiguration", &i.0);
    }
    let mut v = Validator::new(&docs.file, indexes, BTreeMap::new());
    let default_cluster = ClusterConfiguration::default();
    let default_reset = ResetConfiguration::default();
    v.reset_paths(
        docs.cluster.as_ref().map_or(&default_cluster, |(c, _)| c),
        docs.reset.as_ref().map_or(&default_reset, |(r, _)| r),
    );
    let issues = v.into_issues();
    if issues.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid { issues })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Result<(), Error> {
        let docs =
            load_documents(text, "reset.yaml").map_err(|issues| Error::Invalid { issues })?;
        check_reset(&docs)
    }

    #[test]
    fn reset_refuses_the_directories_that_emptied_a_host_with_their_line() {
        for (doc, field, line) in [
            (
                "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ResetConfiguration\ncertificatesDir: \"\"\n",
                "ResetConfiguration.certificatesDir",
                3,
            ),
            (
                "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\ncertificatesDir: /\n",
                "ClusterConfiguration.certificatesDir",
                3,
            ),
            (
                "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\ncertificatesDir: etc\n",
                "ClusterConfiguration.certificatesDir",
                3,
            ),
            (
                "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\netcd:\n  local:\n    dataDir: /var\n",
                "ClusterConfiguration.etcd.local.dataDir",
                5,
            ),
            (
                "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\netcd:\n  local:\n    dataDir: /var/lib/etcd/../../..\n",
                "ClusterConfiguration.etcd.local.dataDir",
                5,
            ),
            (
                "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\netcd:\n  local:\n    dataDir: /etc/kubernetes\n",
                "ClusterConfiguration.etcd.local.dataDir",
                5,
            ),
        ] {
            let Err(Error::Invalid { issues }) = check(doc) else {
                panic!("accepted: {doc}");
            };
            assert_eq!(issues[0].field.as_deref(), Some(field), "{issues:?}");
            assert_eq!(issues[0].line, Some(line), "{issues:?}");
            assert!(issues[0].hint.is_some());
        }
    }

    #[test]
    fn kubeadm_defaults_pass() {
        check("apiVersion: kubeadm.k8s.io/v1beta4\nkind: ResetConfiguration\ncertificatesDir: /etc/kubernetes/pki\n---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\netcd:\n  local:\n    dataDir: /var/lib/etcd\n").unwrap();
    }
}
