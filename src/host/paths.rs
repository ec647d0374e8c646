//! Every default host path literal lives here (kubeadm's `app/constants/constants.go`).

use std::path::{Component, Path, PathBuf};

/// Where plinth reads and writes on the host.
///
/// Paths are kept as the *host view* (what manifests and kubeconfigs refer to, e.g.
/// `/etc/kubernetes/pki`); [`Paths::disk`] maps them under `root`, which is `/` on a real run
/// and the dry-run directory otherwise, so a dry run writes the host layout under its directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// `/` or the dry-run directory.
    pub root: PathBuf,
    /// Kubeconfig files (`/etc/kubernetes`).
    pub kubeconfig_dir: PathBuf,
    /// PKI (`certificatesDir`, `/etc/kubernetes/pki`).
    pub cert_dir: PathBuf,
    /// Static Pod manifests (`/etc/kubernetes/manifests`).
    pub manifests_dir: PathBuf,
    /// Kubelet files (`/var/lib/kubelet`).
    pub kubelet_dir: PathBuf,
}

/// `/etc/kubernetes`.
pub const KUBERNETES_DIR: &str = "/etc/kubernetes";
/// `/etc/kubernetes/pki` (kubeadm's default `certificatesDir`).
pub const DEFAULT_CERT_DIR: &str = crate::config::DEFAULT_CERT_DIR;
/// `/etc/kubernetes/manifests`.
pub(crate) const DEFAULT_MANIFESTS_DIR: &str = "/etc/kubernetes/manifests";
/// `/var/lib/kubelet`.
pub(crate) const DEFAULT_KUBELET_DIR: &str = "/var/lib/kubelet";
/// The host lock (`host::lock`); `/run` is cleared at boot, like the lock itself.
pub(crate) const LOCK_FILE: &str = "/run/plinth.lock";

impl Paths {
    /// kubeadm's layout on the real host, with the PKI at `cert_dir`.
    #[must_use]
    pub fn host(cert_dir: &Path) -> Self {
        Paths {
            root: PathBuf::from("/"),
            kubeconfig_dir: PathBuf::from(KUBERNETES_DIR),
            cert_dir: cert_dir.to_path_buf(),
            manifests_dir: PathBuf::from(DEFAULT_MANIFESTS_DIR),
            kubelet_dir: PathBuf::from(DEFAULT_KUBELET_DIR),
        }
    }

    /// The same layout re-rooted under `root` (dry run).
    #[must_use]
    pub fn rooted(mut self, root: &Path) -> Self {
        self.root = root.to_path_buf();
        self
    }

    /// Where the host path `p` is on disk for this run. The host path is taken lexically, with
    /// `..` clamped at the root as the kernel does at `/`, so a dry run can never reach outside
    /// its directory (validation already refuses such paths; this is the second line).
    #[must_use]
    pub fn disk(&self, p: &Path) -> PathBuf {
        let mut out = self.root.clone();
        let mut depth = 0usize;
        for c in p.components() {
            match c {
                Component::Normal(n) => {
                    out.push(n);
                    depth += 1;
                }
                Component::ParentDir if depth > 0 => {
                    out.pop();
                    depth -= 1;
                }
                Component::ParentDir | Component::RootDir | Component::CurDir => {}
                Component::Prefix(_) => {}
            }
        }
        out
    }

    /// On-disk PKI directory.
    #[must_use]
    pub fn cert_dir_disk(&self) -> PathBuf {
        self.disk(&self.cert_dir)
    }

    /// On-disk kubeconfig directory.
    #[must_use]
    pub fn kubeconfig_dir_disk(&self) -> PathBuf {
        self.disk(&self.kubeconfig_dir)
    }

    /// On-disk manifest directory.
    #[must_use]
    pub fn manifests_dir_disk(&self) -> PathBuf {
        self.disk(&self.manifests_dir)
    }

    /// On-disk kubelet directory.
    #[must_use]
    pub fn kubelet_dir_disk(&self) -> PathBuf {
        self.disk(&self.kubelet_dir)
    }

    /// Whether this run writes under a directory other than `/`.
    #[must_use]
    pub fn is_rooted(&self) -> bool {
        self.root != Path::new("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rooted_paths_keep_the_host_layout() {
        let p = Paths::host(Path::new("/etc/kubernetes/pki")).rooted(Path::new("/tmp/dry"));
        assert_eq!(
            p.cert_dir_disk(),
            PathBuf::from("/tmp/dry/etc/kubernetes/pki")
        );
        assert_eq!(p.cert_dir, PathBuf::from("/etc/kubernetes/pki"));
        assert!(p.is_rooted());
        assert!(!Paths::host(Path::new("/x")).is_rooted());
    }

    #[test]
    fn a_dry_run_never_maps_outside_its_directory() {
        let p = Paths::host(Path::new("/etc/kubernetes/pki")).rooted(Path::new("/tmp/dry"));
        for host in [
            "/../../../../etc/kubernetes/escaped-pki",
            "../../etc/kubernetes/escaped-pki",
            "/etc/kubernetes/../../../../etc/kubernetes/escaped-pki",
        ] {
            let d = p.disk(Path::new(host));
            assert_eq!(
                d,
                PathBuf::from("/tmp/dry/etc/kubernetes/escaped-pki"),
                "{host}"
            );
        }
        assert_eq!(p.disk(Path::new("")), PathBuf::from("/tmp/dry"));
        assert_eq!(p.disk(Path::new("/a/./b/")), PathBuf::from("/tmp/dry/a/b"));
    }
}
