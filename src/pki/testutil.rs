//! Test helpers shared by the pki and kubeconfig tests.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::config::{HostDefaults, Overrides, ResolvedConfig, load_str};

/// A config from InitConfiguration / ClusterConfiguration fragments, on host `cp-1` at
/// 192.168.122.10.
pub(crate) fn cfg(extra_init: &str, extra_cluster: &str) -> ResolvedConfig {
    let yaml = format!(
        "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\n{extra_init}\n---\n\
         apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n{extra_cluster}\n"
    );
    load_str(
        &yaml,
        "test.yaml",
        &Overrides::default(),
        &HostDefaults {
            hostname: Some("cp-1".into()),
            default_address: Some("192.168.122.10".into()),
        },
    )
    .unwrap()
}

/// Every file under `dir`: content, mtime and mode.
pub(crate) fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (Vec<u8>, SystemTime, u32)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = std::fs::metadata(&p).unwrap();
            if m.is_dir() {
                stack.push(p);
            } else {
                out.insert(
                    p.clone(),
                    (
                        std::fs::read(&p).unwrap(),
                        m.modified().unwrap(),
                        m.permissions().mode() & 0o7777,
                    ),
                );
            }
        }
    }
    out
}
