//! Where each tool puts its files, mapped onto one logical layout so the two can be compared:
//! `pki/<rel>`, `kubeconfig/<name>.conf`, `manifests/<name>.yaml`, `kubelet/<name>`, and
//! `other/<rel>` for anything unexpected (which then shows up as a difference).
//!
//! kubeadm's `KUBEADM_INIT_DRYRUN_DIR` is flat: certificates (with an `etcd/` sub-directory),
//! kubeconfig files, the static Pod manifests and the kubelet files all sit side by side.
//! `plinth init --dry-run --dry-run-dir DIR` keeps the host layout below DIR
//! (`DIR/etc/kubernetes/pki/ca.crt`, `DIR/var/lib/kubelet/config.yaml`, ...).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The files one tool wrote: logical name → path on disk.
#[derive(Debug, Default, Clone)]
pub struct Tree {
    /// Logical name (`pki/etcd/ca.crt`) → file.
    pub files: BTreeMap<String, PathBuf>,
    /// Where the API objects of the post-API phases are, if anywhere.
    pub api: Option<ApiSource>,
}

/// Where a tool's dry run put the API objects it would create.
#[derive(Debug, Clone)]
pub enum ApiSource {
    /// kubeadm prints them: its output, saved next to its dry-run directory as `<dir>.log`.
    KubeadmLog(PathBuf),
    /// plinth writes one file per object into `<dry-run-dir>/api-objects/`.
    PlinthDir(PathBuf),
}

/// The kubelet files kubeadm writes next to everything else in its dry-run directory.
const KUBELET_FILES: [&str; 3] = ["config.yaml", "instance-config.yaml", "kubeadm-flags.env"];

fn walk(root: &Path) -> Result<Vec<String>> {
    fn go(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
        let entries =
            std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
        for e in entries {
            let e = e.with_context(|| format!("reading {}", dir.display()))?;
            let p = e.path();
            if e.file_type()?.is_dir() {
                go(root, &p, out)?;
            } else {
                let rel = p.strip_prefix(root).unwrap_or(&p);
                out.push(rel.to_string_lossy().into_owned());
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    go(root, root, &mut out)?;
    out.sort();
    Ok(out)
}

fn is_pki_file(name: &str) -> bool {
    name.ends_with(".crt") || name.ends_with(".key") || name.ends_with(".pub")
}

/// Maps kubeadm's flat dry-run directory; its printed output is read from `<dir>.log` when
/// that file exists (`scripts/parity` saves it there).
///
/// # Errors
/// When the directory cannot be read.
pub fn kubeadm_tree(dir: &Path) -> Result<Tree> {
    let log = dir.with_extension("log");
    let mut t = Tree {
        api: log.is_file().then_some(ApiSource::KubeadmLog(log)),
        ..Tree::default()
    };
    for rel in walk(dir)? {
        let logical = if is_pki_file(&rel) {
            format!("pki/{rel}")
        } else if rel.ends_with(".conf") && !rel.contains('/') {
            format!("kubeconfig/{rel}")
        } else if KUBELET_FILES.contains(&rel.as_str()) {
            format!("kubelet/{rel}")
        } else if rel.ends_with(".yaml") && !rel.contains('/') {
            format!("manifests/{rel}")
        } else {
            format!("other/{rel}")
        };
        t.files.insert(logical, dir.join(&rel));
    }
    Ok(t)
}

/// Maps plinth's dry-run directory (the host layout below `dir`). The certificates directory
/// is wherever `ca.crt` is (outside an `etcd` directory), so a custom `certificatesDir` works.
/// `api-objects/` holds API objects, not host files: see [`ApiSource`].
///
/// # Errors
/// When the directory cannot be read.
pub fn plinth_tree(dir: &Path) -> Result<Tree> {
    let files = walk(dir)?;
    let pki_root = files
        .iter()
        .filter_map(|f| f.strip_suffix("/ca.crt"))
        .find(|d| !d.ends_with("/etcd"))
        .map(|d| format!("{d}/"));
    let api = dir.join("api-objects");
    let mut t = Tree {
        api: api.is_dir().then_some(ApiSource::PlinthDir(api)),
        ..Tree::default()
    };
    for rel in files {
        if rel.starts_with("api-objects/") {
            continue;
        }
        let logical = if let Some(r) = pki_root.as_deref().and_then(|p| rel.strip_prefix(p)) {
            format!("pki/{r}")
        } else if let Some(r) = rel.strip_prefix("etc/kubernetes/manifests/") {
            format!("manifests/{r}")
        } else if let Some(r) = rel.strip_prefix("var/lib/kubelet/") {
            format!("kubelet/{r}")
        } else if let Some(r) = rel
            .strip_prefix("etc/kubernetes/")
            .filter(|r| r.ends_with(".conf") && !r.contains('/'))
        {
            format!("kubeconfig/{r}")
        } else {
            format!("other/{rel}")
        };
        t.files.insert(logical, dir.join(&rel));
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(root: &Path, rel: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "").unwrap();
    }

    #[test]
    fn both_layouts_map_to_the_same_logical_names() {
        let k = tempfile::tempdir().unwrap();
        for f in [
            "ca.crt",
            "etcd/ca.crt",
            "sa.pub",
            "admin.conf",
            "etcd.yaml",
            "kube-apiserver.yaml",
            "config.yaml",
            "kubeadm-flags.env",
            "surprise.txt",
        ] {
            touch(k.path(), f);
        }
        let p = tempfile::tempdir().unwrap();
        for f in [
            "srv/pki/ca.crt",
            "srv/pki/etcd/ca.crt",
            "srv/pki/sa.pub",
            "etc/kubernetes/admin.conf",
            "etc/kubernetes/manifests/etcd.yaml",
            "etc/kubernetes/manifests/kube-apiserver.yaml",
            "var/lib/kubelet/config.yaml",
            "var/lib/kubelet/kubeadm-flags.env",
            "etc/kubernetes/surprise.txt",
            "api-objects/001-ConfigMap_kube-system_x.yaml",
        ] {
            touch(p.path(), f);
        }
        let kn: Vec<_> = kubeadm_tree(k.path()).unwrap().files.into_keys().collect();
        let pn: Vec<_> = plinth_tree(p.path()).unwrap().files.into_keys().collect();
        let common = [
            "kubeconfig/admin.conf",
            "kubelet/config.yaml",
            "kubelet/kubeadm-flags.env",
            "manifests/etcd.yaml",
            "manifests/kube-apiserver.yaml",
            "pki/ca.crt",
            "pki/etcd/ca.crt",
            "pki/sa.pub",
        ];
        assert_eq!(
            kn.iter().filter(|n| common.contains(&n.as_str())).count(),
            8
        );
        assert_eq!(
            pn.iter().filter(|n| common.contains(&n.as_str())).count(),
            8
        );
        assert!(kn.contains(&"other/surprise.txt".to_string()));
        assert!(pn.contains(&"other/etc/kubernetes/surprise.txt".to_string()));
        assert!(!pn.iter().any(|n| n.contains("api-objects")));
    }
}
