//! The path policy on the config's directories (`certificatesDir`, `etcd.local.dataDir`) and the
//! patches directory; reset's subset of the checks.

use std::path::Path;

use super::super::pathpolicy;
use super::super::v1beta4::{ClusterConfiguration, ResetConfiguration};
use super::{CLUSTER, INIT, RESET, Validator};

impl Validator<'_> {
    /// Applies the path policy to a directory plinth writes to or cleans; true when it passes.
    pub(super) fn owned_dir(&mut self, doc: &str, path: &str, dir: &str) -> bool {
        match pathpolicy::check_dir(dir) {
            Ok(()) => true,
            Err(e) => {
                self.err(doc, path, format!("{dir:?}: {e}"), Some(e.hint()));
                false
            }
        }
    }

    /// `certificatesDir`: the path policy, and reset cleans it, so it may not hold the
    /// kubeconfigs, manifests or kubelet files (it may sit inside /etc/kubernetes, as by default).
    pub(super) fn cert_dir(&mut self, doc: &str, cert_dir: &str) -> bool {
        if !self.owned_dir(doc, "certificatesDir", cert_dir) {
            return false;
        }
        for (other, what) in [
            // kubeadm's fixed directories (`app/constants/constants.go`).
            ("/etc/kubernetes", "the kubeconfig directory"),
            (
                "/etc/kubernetes/manifests",
                "the static Pod manifest directory",
            ),
            ("/var/lib/kubelet", "the kubelet directory"),
        ] {
            if Path::new(other).starts_with(cert_dir) {
                self.err(
                    doc,
                    "certificatesDir",
                    format!("{cert_dir:?} holds {what} {other}"),
                    Some("use a directory of its own, e.g. /etc/kubernetes/pki".into()),
                );
                return false;
            }
        }
        true
    }

    /// What `reset` reads from a config file, under the same rules as init: the directories it
    /// cleans and its timeouts. (reset used to take these unchecked, and `certificatesDir: "/"`
    /// emptied the root file system.)
    pub(crate) fn reset_paths(
        &mut self,
        cluster: &ClusterConfiguration,
        reset: &ResetConfiguration,
    ) {
        let cert_dir = cluster.certificates_dir.clone();
        if let Some(c) = &cert_dir {
            self.cert_dir(CLUSTER, c);
        }
        if let Some(d) = cluster
            .etcd
            .local
            .as_ref()
            .and_then(|l| l.data_dir.as_ref())
            && self.owned_dir(CLUSTER, "etcd.local.dataDir", d)
        {
            self.apart(
                d,
                "etcd.local.dataDir",
                cert_dir.as_deref().unwrap_or("/etc/kubernetes/pki"),
            );
        }
        if let Some(c) = &reset.certificates_dir {
            self.cert_dir(RESET, c);
        }
        let _ = self.timeouts(RESET, reset.timeouts.as_ref());
        if let Some(s) = reset.cri_socket.as_deref().filter(|s| !s.is_empty())
            && !(s.starts_with("unix:///") || s.starts_with('/'))
        {
            self.err(
                RESET,
                "criSocket",
                format!("{s:?} is not a unix socket"),
                Some("use a URL such as unix:///var/run/containerd/containerd.sock".into()),
            );
        }
    }

    /// etcd's data directory may not hold, or sit inside, plinth's other directories: reset
    /// cleans it, and cleaning must never reach the PKI, the manifests or the kubelet's files.
    pub(super) fn apart(&mut self, data_dir: &str, path: &str, cert_dir: &str) {
        let d = Path::new(data_dir);
        for (other, what) in [
            (cert_dir, "certificatesDir"),
            // kubeadm's fixed directories (`app/constants/constants.go`).
            ("/etc/kubernetes", "the kubeconfig directory"),
            (
                "/etc/kubernetes/manifests",
                "the static Pod manifest directory",
            ),
            ("/var/lib/kubelet", "the kubelet directory"),
        ] {
            let o = Path::new(other);
            if o.starts_with(d) || d.starts_with(o) {
                self.err(
                    CLUSTER,
                    path,
                    format!("{data_dir:?} overlaps {what} {other}"),
                    Some("give etcd a directory of its own, e.g. /var/lib/etcd".into()),
                );
                return;
            }
        }
    }

    /// The patches directory must exist when the config is loaded, not when the first phase
    /// that renders runs (after the certificates are written). A relative path is relative to
    /// the working directory, as in kubeadm.
    pub(super) fn patches_dir(&mut self, dir: &Path) {
        const FIELD: &str = "patches.directory";
        match std::fs::metadata(dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => self.err(
                INIT,
                FIELD,
                format!("patches directory {} is not a directory", dir.display()),
                Some("give the directory that holds the patch files".into()),
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => self.err(
                INIT,
                FIELD,
                format!("patches directory {} does not exist", dir.display()),
                Some("create it, fix the path, or remove patches.directory / --patches".into()),
            ),
            Err(e) => self.err(
                INIT,
                FIELD,
                format!("patches directory {} cannot be read: {e}", dir.display()),
                Some("check the path and its permissions".into()),
            ),
        }
    }
}
