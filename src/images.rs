//! The container images a control-plane node needs for a config, by exact reference, in
//! kubeadm's order: what `plinth config images list` prints, `plinth config images pull` pulls
//! and the `ImagePull` pre-flight check looks for. One place composes them from the functions
//! the manifests and addons render with, so the list cannot drift from what the node runs.
//! kubeadm: `app/images/images.go` (`GetControlPlaneImages`, `GetPauseImage`).

use serde::Serialize;

use crate::config::{EtcdMode, ResolvedConfig};
use crate::manifests::Component;

/// kubeadm 1.37's `constants.PauseVersion`: the sandbox image kubeadm lists and pulls (the
/// runtime's own `sandbox_image` setting decides what it actually runs; preflight compares).
pub const PAUSE_VERSION: &str = "3.10.2";

/// One image of the node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeImage {
    /// What it is for: `kube-apiserver`, `kube-controller-manager`, `kube-scheduler`,
    /// `kube-proxy`, `coredns`, `pause` or `etcd`.
    pub role: &'static str,
    /// The exact reference, e.g. `registry.k8s.io/kube-apiserver:v1.37.2`.
    pub reference: String,
}

/// `<imageRepository>/kube-proxy:<kubernetesVersion>` (the kube-proxy DaemonSet's image).
#[must_use]
pub fn kube_proxy_image(cfg: &ResolvedConfig) -> String {
    format!(
        "{}/kube-proxy:{}",
        cfg.image_repository, cfg.kubernetes_version
    )
}

/// `<imageRepository>/pause:<PAUSE_VERSION>` (kubeadm `GetPauseImage`: never the DNS or etcd
/// repository override).
#[must_use]
pub fn pause_image(cfg: &ResolvedConfig) -> String {
    format!("{}/pause:{PAUSE_VERSION}", cfg.image_repository)
}

/// Every image the node needs, in kubeadm's order: kube-apiserver, kube-controller-manager,
/// kube-scheduler, kube-proxy (unless `proxy.disabled`), CoreDNS (unless `dns.disabled`),
/// pause, etcd (local etcd only).
#[must_use]
pub fn node_images(cfg: &ResolvedConfig) -> Vec<NodeImage> {
    let mut out = Vec::with_capacity(7);
    for c in [
        Component::KubeApiserver,
        Component::KubeControllerManager,
        Component::KubeScheduler,
    ] {
        out.push(NodeImage {
            role: c.name(),
            reference: crate::manifests::context::image(cfg, c),
        });
    }
    if cfg.cluster.proxy.disabled != Some(true) {
        out.push(NodeImage {
            role: "kube-proxy",
            reference: kube_proxy_image(cfg),
        });
    }
    if cfg.cluster.dns.disabled != Some(true) {
        out.push(NodeImage {
            role: "coredns",
            reference: crate::cluster::objects::coredns_image(cfg),
        });
    }
    out.push(NodeImage {
        role: "pause",
        reference: pause_image(cfg),
    });
    if matches!(cfg.etcd, EtcdMode::Local(_)) {
        out.push(NodeImage {
            role: "etcd",
            reference: crate::manifests::context::image(cfg, Component::Etcd),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Overrides, load_str};

    const INIT: &str = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint:\n  advertiseAddress: 10.0.0.5\nnodeRegistration:\n  name: cp-1\n";

    fn refs(cluster: &str) -> Vec<String> {
        let text = if cluster.is_empty() {
            INIT.to_string()
        } else {
            format!(
                "{INIT}---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n{cluster}"
            )
        };
        let cfg = load_str(&text, "c.yaml", &Overrides::default(), &Default::default()).unwrap();
        node_images(&cfg).into_iter().map(|i| i.reference).collect()
    }

    /// What `kubeadm config images list` v1.37.2 prints for these configs (checked against the
    /// real binary by the CLI test `config_images_list_matches_kubeadm` when it is built).
    #[test]
    fn kubeadm_s_list_order_and_overrides() {
        assert_eq!(
            refs(""),
            [
                "registry.k8s.io/kube-apiserver:v1.37.2",
                "registry.k8s.io/kube-controller-manager:v1.37.2",
                "registry.k8s.io/kube-scheduler:v1.37.2",
                "registry.k8s.io/kube-proxy:v1.37.2",
                "registry.k8s.io/coredns/coredns:v1.14.6",
                "registry.k8s.io/pause:3.10.2",
                "registry.k8s.io/etcd:3.7.0-0",
            ]
        );
        assert_eq!(
            refs(
                "kubernetesVersion: v1.36.4\nimageRepository: mirror.example/k8s\ndns:\n  imageTag: v1.99.0\netcd:\n  local:\n    imageRepository: etcd.example\n    imageTag: 3.6.99-0\n"
            ),
            [
                "mirror.example/k8s/kube-apiserver:v1.36.4",
                "mirror.example/k8s/kube-controller-manager:v1.36.4",
                "mirror.example/k8s/kube-scheduler:v1.36.4",
                "mirror.example/k8s/kube-proxy:v1.36.4",
                "mirror.example/k8s/coredns:v1.99.0",
                "mirror.example/k8s/pause:3.10.2",
                "etcd.example/etcd:3.6.99-0",
            ]
        );
    }

    #[test]
    fn disabled_addons_and_external_etcd_drop_their_images() {
        let got = refs(
            "proxy:\n  disabled: true\ndns:\n  disabled: true\netcd:\n  external:\n    endpoints: [https://10.0.0.9:2379]\n",
        );
        assert_eq!(
            got,
            [
                "registry.k8s.io/kube-apiserver:v1.37.2",
                "registry.k8s.io/kube-controller-manager:v1.37.2",
                "registry.k8s.io/kube-scheduler:v1.37.2",
                "registry.k8s.io/pause:3.10.2",
            ]
        );
        // A DNS repository override keeps its own path.
        assert_eq!(
            refs("dns:\n  imageRepository: dns.example/core\n")[4],
            "dns.example/core/coredns:v1.14.6"
        );
    }
}
