//! kubeadm's kubeconfig table: which files `init` writes, for whom, and which API server URL
//! each one uses. kubeadm: `app/phases/kubeconfig/kubeconfig.go` (`getKubeConfigSpecsBase`).

use crate::config::ResolvedConfig;

/// Where a kubeconfig's client identity comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientName {
    /// A fixed CN such as `kubernetes-admin`.
    Fixed(&'static str),
    /// `system:node:<nodeName>`.
    Node,
}

/// Which API server URL a kubeconfig points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    /// `controlPlaneEndpoint` if set, else the local endpoint (admin-type files).
    ControlPlane,
    /// `https://<advertiseAddress>:<bindPort>` (components on this node; kubelet since
    /// ControlPlaneKubeletLocalMode went GA in 1.35).
    Local,
}

/// One kubeconfig file.
#[derive(Debug, PartialEq, Eq)]
pub struct KubeconfigSpec {
    /// Phase name: `admin`, `super-admin`, `kubelet`, `controller-manager`, `scheduler`.
    pub name: &'static str,
    /// File name under the kubeconfig directory.
    pub file: &'static str,
    /// Client certificate CN (= user name).
    pub client: ClientName,
    /// Client certificate O, if any.
    pub org: Option<&'static str>,
    /// Server URL kind.
    pub server: ServerKind,
    /// Whether `certs check-expiration` lists it (kubeadm leaves out kubelet.conf, whose
    /// certificate the kubelet rotates).
    pub check_expiration: bool,
    /// One line for help output.
    pub summary: &'static str,
}

/// `admin.conf`: the admin's (and plinth's own) kubeconfig.
pub const ADMIN_FILE: &str = "admin.conf";
/// `super-admin.conf`: `system:masters`, used only to bootstrap the admin's binding.
pub const SUPER_ADMIN_FILE: &str = "super-admin.conf";
/// `kubelet.conf`.
pub const KUBELET_FILE: &str = "kubelet.conf";
/// `controller-manager.conf`.
pub const CONTROLLER_MANAGER_FILE: &str = "controller-manager.conf";
/// `scheduler.conf`.
pub const SCHEDULER_FILE: &str = "scheduler.conf";
/// kubeadm's `bootstrap-kubelet.conf`: plinth never writes it (the kubelet gets `kubelet.conf`
/// directly), but reset removes it as kubeadm's reset does.
pub const BOOTSTRAP_KUBELET_FILE: &str = "bootstrap-kubelet.conf";

/// Every kubeconfig `init` writes, in kubeadm's phase order.
pub static KUBECONFIGS: [KubeconfigSpec; 5] = [
    KubeconfigSpec {
        name: "admin",
        file: ADMIN_FILE,
        client: ClientName::Fixed("kubernetes-admin"),
        org: Some("kubeadm:cluster-admins"),
        server: ServerKind::ControlPlane,
        check_expiration: true,
        summary: "Generate a kubeconfig file for the admin to use and for kubeadm itself",
    },
    KubeconfigSpec {
        name: "super-admin",
        file: SUPER_ADMIN_FILE,
        client: ClientName::Fixed("kubernetes-super-admin"),
        org: Some("system:masters"),
        server: ServerKind::ControlPlane,
        check_expiration: true,
        summary: "Generate a kubeconfig file for the super-admin",
    },
    KubeconfigSpec {
        name: "kubelet",
        file: KUBELET_FILE,
        client: ClientName::Node,
        org: Some("system:nodes"),
        server: ServerKind::Local,
        check_expiration: false,
        summary: "Generate a kubeconfig file for the kubelet to use *only* for cluster bootstrapping purposes",
    },
    KubeconfigSpec {
        name: "controller-manager",
        file: CONTROLLER_MANAGER_FILE,
        client: ClientName::Fixed("system:kube-controller-manager"),
        org: None,
        server: ServerKind::Local,
        check_expiration: true,
        summary: "Generate a kubeconfig file for the controller manager to use",
    },
    KubeconfigSpec {
        name: "scheduler",
        file: SCHEDULER_FILE,
        client: ClientName::Fixed("system:kube-scheduler"),
        org: None,
        server: ServerKind::Local,
        check_expiration: true,
        summary: "Generate a kubeconfig file for the scheduler to use",
    },
];

impl KubeconfigSpec {
    /// The client CN, which is also the kubeconfig user name.
    #[must_use]
    pub fn client_name(&self, cfg: &ResolvedConfig) -> String {
        match self.client {
            ClientName::Fixed(s) => s.to_string(),
            ClientName::Node => format!("system:node:{}", cfg.node_name),
        }
    }

    /// The API server URL (IPv6 bracketed).
    #[must_use]
    pub fn server_url(&self, cfg: &ResolvedConfig) -> String {
        match self.server {
            ServerKind::ControlPlane => cfg.control_plane_url(),
            ServerKind::Local => cfg.local_api_url(),
        }
    }
}

/// The spec with phase name `name`.
#[must_use]
pub fn find(name: &str) -> Option<&'static KubeconfigSpec> {
    KUBECONFIGS.iter().find(|k| k.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::testutil::cfg;

    #[test]
    fn names_users_and_servers_follow_kubeadm() {
        let c = cfg(
            "localAPIEndpoint:\n  advertiseAddress: fd00::10\n  bindPort: 7443",
            "controlPlaneEndpoint: cp.example.com\nnetworking:\n  serviceSubnet: fd00:10:96::/112",
        );
        let get = |n| find(n).unwrap();
        assert_eq!(get("admin").client_name(&c), "kubernetes-admin");
        assert_eq!(get("admin").org, Some("kubeadm:cluster-admins"));
        assert_eq!(get("super-admin").org, Some("system:masters"));
        assert_eq!(get("kubelet").client_name(&c), "system:node:cp-1");
        assert_eq!(get("kubelet").org, Some("system:nodes"));
        assert_eq!(get("admin").server_url(&c), "https://cp.example.com:7443");
        assert_eq!(
            get("super-admin").server_url(&c),
            "https://cp.example.com:7443"
        );
        for local in ["kubelet", "controller-manager", "scheduler"] {
            assert_eq!(
                get(local).server_url(&c),
                "https://[fd00::10]:7443",
                "{local}"
            );
        }
        let files: Vec<_> = KUBECONFIGS.iter().map(|k| k.file).collect();
        assert_eq!(
            files,
            [
                "admin.conf",
                "super-admin.conf",
                "kubelet.conf",
                "controller-manager.conf",
                "scheduler.conf"
            ]
        );
        let plain = cfg("", "");
        assert_eq!(
            get("admin").server_url(&plain),
            "https://192.168.122.10:6443"
        );
    }
}
