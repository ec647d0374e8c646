//! hostPath volumes and mounts of the four static Pods, as kubeadm builds them: per-component
//! defaults keyed by name, the CA-trust directories that exist on the host, the external etcd
//! certificate directories, then `extraVolumes` (which replace a default of the same name).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::config::v1beta4::HostPathMount;
use crate::config::{EtcdMode, ExternalEtcdConfig, ResolvedConfig};
use crate::host::Paths;
use crate::host::facts::CA_TRUST_DIRS;

use super::{Component, HostView};

/// `/etc/ssl/certs`, mounted into the apiserver and the controller-manager.
const CA_CERTS_PATH: &str = "/etc/ssl/certs";

/// One hostPath volume plus its mount in the single container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPathVolume {
    /// Volume (and mount) name.
    pub name: String,
    /// Path on the host.
    pub host_path: String,
    /// Path in the container.
    pub mount_path: String,
    /// Mounted read-only.
    pub read_only: bool,
    /// hostPath `type`; kubeadm writes `""` for an extra volume without a pathType.
    pub path_type: String,
}

fn vol(name: &str, path: &str, read_only: bool, path_type: &str) -> HostPathVolume {
    HostPathVolume {
        name: name.to_string(),
        host_path: path.to_string(),
        mount_path: path.to_string(),
        read_only,
        path_type: path_type.to_string(),
    }
}

const DIR: &str = "DirectoryOrCreate";
const FILE: &str = "FileOrCreate";

/// The volumes of `c`, sorted by name (kubeadm `VolumeMapToSlice`/`VolumeMountMapToSlice`).
///
/// etcd keeps kubeadm's fixed mount order (`etcd-data`, `etcd-certs`); see [`etcd_mounts_order`].
#[must_use]
pub fn volumes(
    cfg: &ResolvedConfig,
    paths: &Paths,
    facts: &HostView,
    c: Component,
) -> Vec<HostPathVolume> {
    let cert_dir = cfg
        .cluster
        .certificates_dir
        .clone()
        .unwrap_or_else(|| cfg.cert_dir.display().to_string());
    let mut m: BTreeMap<String, HostPathVolume> = BTreeMap::new();
    let mut add = |v: HostPathVolume| {
        m.insert(v.name.clone(), v);
    };
    let ca_trust = || {
        CA_TRUST_DIRS
            .iter()
            .filter(|d| facts.ca_trust_dirs.contains(Path::new(d)))
            .map(|d| vol(&d[1..].replace('/', "-"), d, true, DIR))
    };
    match c {
        // kubeadm: app/phases/etcd/local.go GetEtcdPodSpec
        Component::Etcd => {
            if let EtcdMode::Local(l) = &cfg.etcd {
                add(vol(
                    "etcd-data",
                    &l.data_dir.display().to_string(),
                    false,
                    DIR,
                ));
            }
            add(vol("etcd-certs", &format!("{cert_dir}/etcd"), false, DIR));
        }
        // kubeadm: app/phases/controlplane/volumes.go getHostPathVolumesForTheControlPlane
        Component::KubeApiserver => {
            add(vol("k8s-certs", &cert_dir, true, DIR));
            add(vol("ca-certs", CA_CERTS_PATH, true, DIR));
            if let EtcdMode::External(ext) = &cfg.etcd {
                for v in etcd_cert_volumes(ext, &cert_dir) {
                    add(v);
                }
            }
            ca_trust().for_each(&mut add);
        }
        Component::KubeControllerManager => {
            add(vol("k8s-certs", &cert_dir, true, DIR));
            add(vol("ca-certs", CA_CERTS_PATH, true, DIR));
            let kubeconfig = paths
                .kubeconfig_dir
                .join(crate::kubeconfig::CONTROLLER_MANAGER_FILE);
            add(vol(
                "kubeconfig",
                &kubeconfig.display().to_string(),
                true,
                FILE,
            ));
            // No flexvolume-dir any more: kubeadm 1.37 mounts none (parity test).
            ca_trust().for_each(&mut add);
        }
        Component::KubeScheduler => {
            let kubeconfig = paths.kubeconfig_dir.join(crate::kubeconfig::SCHEDULER_FILE);
            add(vol(
                "kubeconfig",
                &kubeconfig.display().to_string(),
                true,
                FILE,
            ));
        }
    }
    for e in extra_volumes(cfg, c) {
        add(HostPathVolume {
            name: e.name.clone(),
            host_path: e.host_path.clone(),
            mount_path: e.mount_path.clone(),
            read_only: e.read_only,
            path_type: e.path_type.clone().unwrap_or_default(),
        });
    }
    m.into_values().collect()
}

/// kubeadm lists etcd's mounts in a fixed order rather than sorted by name.
// kubeadm: app/phases/etcd/local.go GetEtcdPodSpec (VolumeMounts literal)
#[must_use]
pub fn etcd_mounts_order(mut v: Vec<HostPathVolume>) -> Vec<HostPathVolume> {
    v.sort_by_key(|x| match x.name.as_str() {
        "etcd-data" => 0,
        "etcd-certs" => 1,
        _ => 2,
    });
    v
}

fn extra_volumes(cfg: &ResolvedConfig, c: Component) -> &[HostPathMount] {
    let cl = &cfg.cluster;
    let v = match c {
        Component::KubeApiserver => cl.api_server.extra_volumes.as_deref(),
        Component::KubeControllerManager => cl.controller_manager.extra_volumes.as_deref(),
        Component::KubeScheduler => cl.scheduler.extra_volumes.as_deref(),
        Component::Etcd => None,
    };
    v.unwrap_or_default()
}

/// Go's `filepath.Dir` for the absolute or relative paths kubeadm sees here.
fn go_dir(p: &str) -> String {
    match Path::new(p).parent() {
        None if p.starts_with('/') => "/".to_string(),
        None => ".".to_string(),
        Some(d) if d.as_os_str().is_empty() => ".".to_string(),
        Some(d) => d.display().to_string(),
    }
}

/// Directories holding the external etcd CA, cert and key that no default volume covers.
// kubeadm: app/phases/controlplane/volumes.go getEtcdCertVolumes
fn etcd_cert_volumes(ext: &ExternalEtcdConfig, cert_dir: &str) -> Vec<HostPathVolume> {
    let files = [&ext.ca_file, &ext.cert_file, &ext.key_file];
    let mut dirs: BTreeSet<String> = BTreeSet::new();
    for f in files {
        let path = f
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let dir = go_dir(&path);
        // kubeadm compares plain string prefixes here, not path components.
        let covered = CA_TRUST_DIRS.iter().any(|d| dir.starts_with(d))
            || dir.starts_with(CA_CERTS_PATH)
            || dir.starts_with(cert_dir);
        if dir == "." || covered {
            continue;
        }
        let mut already = false;
        for existing in dirs.clone() {
            if existing.starts_with(&dir) {
                dirs.remove(&existing);
            } else if dir.starts_with(&existing) {
                already = true;
            }
        }
        if !already {
            dirs.insert(dir);
        }
    }
    dirs.iter()
        .enumerate()
        .map(|(i, d)| vol(&format!("etcd-certs-{i}"), d, true, DIR))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn ext(ca: &str, cert: &str, key: &str) -> ExternalEtcdConfig {
        let p = |s: &str| (!s.is_empty()).then(|| PathBuf::from(s));
        ExternalEtcdConfig {
            endpoints: vec![],
            ca_file: p(ca),
            cert_file: p(cert),
            key_file: p(key),
        }
    }

    fn names(v: &[HostPathVolume]) -> Vec<(&str, &str)> {
        v.iter()
            .map(|v| (v.name.as_str(), v.host_path.as_str()))
            .collect()
    }

    #[test]
    fn external_etcd_cert_dirs_follow_kubeadm() {
        // Cases from kubeadm volumes_test.go TestGetEtcdCertVolumes.
        let pki = "/etc/kubernetes/pki";
        assert!(etcd_cert_volumes(&ext("", "", ""), pki).is_empty());
        assert!(etcd_cert_volumes(&ext("/etc/kubernetes/pki/etcd/ca.crt", "", ""), pki).is_empty());
        assert!(etcd_cert_volumes(&ext("/etc/ssl/certs/ca.crt", "", ""), pki).is_empty());
        assert!(etcd_cert_volumes(&ext("/etc/pki/ca-trust/x/ca.crt", "", ""), pki).is_empty());
        let v = etcd_cert_volumes(
            &ext(
                "/var/lib/certs/etcd/my-etcd-ca.crt",
                "/var/lib/certs/etcd/my-etcd.crt",
                "/var/lib/certs/private/my-etcd.key",
            ),
            pki,
        );
        assert_eq!(
            names(&v),
            vec![
                ("etcd-certs-0", "/var/lib/certs/etcd"),
                ("etcd-certs-1", "/var/lib/certs/private")
            ]
        );
        // A parent directory replaces its children.
        let v = etcd_cert_volumes(
            &ext(
                "/etc/certs/etcd/ca.crt",
                "/etc/certs/etcd/x.crt",
                "/etc/certs/x.key",
            ),
            pki,
        );
        assert_eq!(names(&v), vec![("etcd-certs-0", "/etc/certs")]);
    }

    #[test]
    fn go_dir_matches_filepath_dir() {
        assert_eq!(go_dir(""), ".");
        assert_eq!(go_dir("ca.crt"), ".");
        assert_eq!(go_dir("/ca.crt"), "/");
        assert_eq!(go_dir("/a/b/ca.crt"), "/a/b");
        assert_eq!(go_dir("a/ca.crt"), "a");
    }
}
