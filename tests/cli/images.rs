//! `plinth config images list` against real kubeadm: for the same config both print the same
//! references in the same order. kubeadm comes from the component cache
//! (`scripts/build-components`, which maintains `/var/cache/plinth-e2e/current/bin`, or
//! `PLINTH_KUBEADM`); without it the comparison is skipped with a message and the expected lists
//! are checked by the unit tests of `plinth::images`.

use std::path::PathBuf;
use std::process::Command;

use crate::util::{plinth, text};

fn kubeadm() -> Option<PathBuf> {
    let p = std::env::var_os("PLINTH_KUBEADM").map_or_else(
        || PathBuf::from("/var/cache/plinth-e2e/current/bin/kubeadm"),
        PathBuf::from,
    );
    p.is_file().then_some(p)
}

const INIT: &str = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint:\n  advertiseAddress: 10.0.0.5\nnodeRegistration:\n  name: cp-1\n---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n";

/// Configs covering every input of the list. kubernetesVersion is always set: without it
/// kubeadm looks up the latest release on the internet. Only v1.37 releases are compared:
/// kubeadm v1.37.2 gives every older minor its own CoreDNS v1.14.6 and etcd 3.7.0-0, while
/// plinth renders what that minor's kubeadm deploys (`coredns_version`, `etcd_version`).
const CASES: [(&str, &str); 5] = [
    ("defaults", "kubernetesVersion: v1.37.2\n"),
    (
        "mirror",
        "kubernetesVersion: v1.37.0\nimageRepository: mirror.example/k8s\n",
    ),
    (
        "overrides",
        "kubernetesVersion: v1.37.2\ndns:\n  imageRepository: dns.example/core\n  imageTag: v1.99.0\netcd:\n  local:\n    imageRepository: etcd.example\n    imageTag: 3.6.99-0\n",
    ),
    (
        "external-etcd",
        "kubernetesVersion: v1.37.2\netcd:\n  external:\n    endpoints: [https://10.0.0.9:2379]\n",
    ),
    (
        "no-addons",
        "kubernetesVersion: v1.37.1\nproxy:\n  disabled: true\ndns:\n  disabled: true\n",
    ),
];

fn plinth_list(cfg: &std::path::Path, json: bool) -> String {
    let mut args = vec![
        "config",
        "images",
        "list",
        "--config",
        cfg.to_str().unwrap(),
    ];
    if json {
        args.extend(["-o", "json"]);
    }
    let o = plinth(&args);
    assert!(o.status.success(), "{}", text(&o));
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn config_images_list_matches_kubeadm() {
    let Some(kubeadm) = kubeadm() else {
        eprintln!(
            "SKIPPED config_images_list_matches_kubeadm: no kubeadm binary (run scripts/build-components or set PLINTH_KUBEADM)"
        );
        return;
    };
    let d = tempfile::tempdir().unwrap();
    for (name, cluster) in CASES {
        let cfg = d.path().join(format!("{name}.yaml"));
        std::fs::write(&cfg, format!("{INIT}{cluster}")).unwrap();
        let k = Command::new(&kubeadm)
            .args(["config", "images", "list", "--config"])
            .arg(&cfg)
            .output()
            .unwrap();
        assert!(k.status.success(), "kubeadm on {name}: {}", text(&k));
        let want = String::from_utf8(k.stdout).unwrap();
        assert_eq!(plinth_list(&cfg, false), want, "case {name}");

        let k = Command::new(&kubeadm)
            .args(["config", "images", "list", "-o", "json", "--config"])
            .arg(&cfg)
            .output()
            .unwrap();
        let want: serde_json::Value = serde_json::from_slice(&k.stdout).unwrap();
        let have: serde_json::Value = serde_json::from_str(&plinth_list(&cfg, true)).unwrap();
        assert_eq!(have, want, "case {name} (-o json)");
    }
}

#[test]
fn config_images_list_without_kubeadm() {
    let d = tempfile::tempdir().unwrap();
    let cfg = d.path().join("c.yaml");
    std::fs::write(&cfg, format!("{INIT}{}", CASES[3].1)).unwrap();
    assert_eq!(
        plinth_list(&cfg, false),
        "registry.k8s.io/kube-apiserver:v1.37.2\nregistry.k8s.io/kube-controller-manager:v1.37.2\nregistry.k8s.io/kube-scheduler:v1.37.2\nregistry.k8s.io/kube-proxy:v1.37.2\nregistry.k8s.io/coredns/coredns:v1.14.6\nregistry.k8s.io/pause:3.10.2\n"
    );
    // A bad config is a usage error naming the file.
    std::fs::write(&cfg, format!("{INIT}imageRepositry: x\n")).unwrap();
    let o = plinth(&[
        "config",
        "images",
        "list",
        "--config",
        cfg.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("c.yaml"), "{}", text(&o));
}

#[test]
fn config_images_pull_without_a_runtime_fails_clearly() {
    let d = tempfile::tempdir().unwrap();
    let cfg = d.path().join("c.yaml");
    std::fs::write(&cfg, format!("{INIT}{}", CASES[0].1)).unwrap();
    let sock = d.path().join("none.sock");
    let o = plinth(&[
        "config",
        "images",
        "pull",
        "--config",
        cfg.to_str().unwrap(),
        "--cri-socket",
        &format!("unix://{}", sock.display()),
    ]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    // Without crictl on PATH the message says how to install it; with it, that the socket
    // is missing.
    assert!(
        t.contains("install cri-tools") || t.contains("no container runtime socket at"),
        "{t}"
    );
}
