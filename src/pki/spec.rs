//! kubeadm's certificate table as static data: which certificates a control plane needs, who
//! signs them, their subjects, usages and SAN kinds. Pure data; no I/O.
//! kubeadm: `app/phases/certs/certlist.go` (`GetDefaultCertList`, `GetCertsWithoutEtcd`).

use crate::config::ResolvedConfig;

/// Extended key usages a certificate is issued for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtUsage {
    /// TLS server authentication (`serverAuth`).
    Server,
    /// TLS client authentication (`clientAuth`).
    Client,
}

/// Where a certificate's subject common name comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommonName {
    /// A fixed name such as `kube-apiserver`.
    Fixed(&'static str),
    /// `nodeRegistration.name` (etcd server and peer).
    NodeName,
}

/// Which subject alternative names a certificate carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SanKind {
    /// None (client certificates).
    None,
    /// A CA: one DNS name equal to its common name (kubeadm does this).
    CaCommonName,
    /// The API server serving certificate (kubeadm `GetAPIServerAltNames`).
    ApiServer,
    /// The etcd server certificate (`etcd.local.serverCertSANs` added).
    EtcdServer,
    /// The etcd peer certificate (`etcd.local.peerCertSANs` added).
    EtcdPeer,
}

/// One certificate (and its key) of the control plane.
#[derive(Debug, PartialEq, Eq)]
pub struct CertSpec {
    /// Phase name, e.g. `apiserver`, `etcd-server`.
    pub name: &'static str,
    /// File base name under the PKI directory, e.g. `apiserver`, `etcd/server`.
    pub base: &'static str,
    /// The phase name of the CA that signs it; `None` for a self-signed CA.
    pub ca: Option<&'static str>,
    /// Subject CN.
    pub cn: CommonName,
    /// Subject O, if any.
    pub org: Option<&'static str>,
    /// Extended key usages (empty for CAs).
    pub usages: &'static [ExtUsage],
    /// SANs.
    pub sans: SanKind,
    /// Whether it belongs to local etcd (skipped with external etcd).
    pub etcd: bool,
    /// One line for help output.
    pub summary: &'static str,
}

const SERVER: &[ExtUsage] = &[ExtUsage::Server];
const CLIENT: &[ExtUsage] = &[ExtUsage::Client];
const SERVER_CLIENT: &[ExtUsage] = &[ExtUsage::Server, ExtUsage::Client];

/// Every certificate, CAs before the certificates they sign, in kubeadm's phase order.
pub static CERTS: [CertSpec; 10] = [
    CertSpec {
        name: "ca",
        base: "ca",
        ca: None,
        cn: CommonName::Fixed("kubernetes"),
        org: None,
        usages: &[],
        sans: SanKind::CaCommonName,
        etcd: false,
        summary: "Generate the self-signed Kubernetes CA to provision identities for other Kubernetes components",
    },
    CertSpec {
        name: "apiserver",
        base: "apiserver",
        ca: Some("ca"),
        cn: CommonName::Fixed("kube-apiserver"),
        org: None,
        usages: SERVER,
        sans: SanKind::ApiServer,
        etcd: false,
        summary: "Generate the certificate for serving the Kubernetes API",
    },
    CertSpec {
        name: "apiserver-kubelet-client",
        base: "apiserver-kubelet-client",
        ca: Some("ca"),
        cn: CommonName::Fixed("kube-apiserver-kubelet-client"),
        // No O in kubeadm 1.37 (parity test): access to the kubelet API comes from the
        // ClusterRoleBinding kubeadm:apiserver-kubelet-client (User kube-apiserver-kubelet-client
        // → system:kubelet-api-admin) that the bootstrap-token phase creates.
        // kubeadm: app/phases/certs/certlist.go KubeadmCertKubeletClient
        org: None,
        usages: CLIENT,
        sans: SanKind::None,
        etcd: false,
        summary: "Generate the certificate for the API server to connect to kubelet",
    },
    CertSpec {
        name: "front-proxy-ca",
        base: "front-proxy-ca",
        ca: None,
        cn: CommonName::Fixed("front-proxy-ca"),
        org: None,
        usages: &[],
        sans: SanKind::CaCommonName,
        etcd: false,
        summary: "Generate the self-signed CA to provision identities for front proxy",
    },
    CertSpec {
        name: "front-proxy-client",
        base: "front-proxy-client",
        ca: Some("front-proxy-ca"),
        cn: CommonName::Fixed("front-proxy-client"),
        org: None,
        usages: CLIENT,
        sans: SanKind::None,
        etcd: false,
        summary: "Generate the certificate for the front proxy client",
    },
    CertSpec {
        name: "etcd-ca",
        base: "etcd/ca",
        ca: None,
        cn: CommonName::Fixed("etcd-ca"),
        org: None,
        usages: &[],
        sans: SanKind::CaCommonName,
        etcd: true,
        summary: "Generate the self-signed CA to provision identities for etcd",
    },
    CertSpec {
        name: "etcd-server",
        base: "etcd/server",
        ca: Some("etcd-ca"),
        cn: CommonName::NodeName,
        org: None,
        usages: SERVER_CLIENT,
        sans: SanKind::EtcdServer,
        etcd: true,
        summary: "Generate the certificate for serving etcd",
    },
    CertSpec {
        name: "etcd-peer",
        base: "etcd/peer",
        ca: Some("etcd-ca"),
        cn: CommonName::NodeName,
        org: None,
        usages: SERVER_CLIENT,
        sans: SanKind::EtcdPeer,
        etcd: true,
        summary: "Generate the certificate for etcd nodes to communicate with each other",
    },
    CertSpec {
        name: "etcd-healthcheck-client",
        base: "etcd/healthcheck-client",
        ca: Some("etcd-ca"),
        cn: CommonName::Fixed("kube-etcd-healthcheck-client"),
        // No O in kubeadm 1.37 (parity test); etcd ignores it anyway.
        // kubeadm: app/phases/certs/certlist.go KubeadmCertEtcdHealthcheck
        org: None,
        usages: CLIENT,
        sans: SanKind::None,
        etcd: true,
        summary: "Generate the certificate for liveness probes to healthcheck etcd",
    },
    CertSpec {
        name: "apiserver-etcd-client",
        base: "apiserver-etcd-client",
        ca: Some("etcd-ca"),
        cn: CommonName::Fixed("kube-apiserver-etcd-client"),
        // No O since kubeadm 1.29 (PR#120521).
        org: None,
        usages: CLIENT,
        sans: SanKind::None,
        etcd: true,
        summary: "Generate the certificate the apiserver uses to access etcd",
    },
];

/// Named rows of [`CERTS`], for code that needs one certificate's files (`CA.cert_file()` is
/// `ca.crt`) rather than retyping its name; a test pins each to its row.
pub static CA: &CertSpec = &CERTS[0];
/// The API server's serving certificate.
pub static APISERVER: &CertSpec = &CERTS[1];
/// The API server's client certificate for the kubelets.
pub static APISERVER_KUBELET_CLIENT: &CertSpec = &CERTS[2];
/// The front-proxy CA.
pub static FRONT_PROXY_CA: &CertSpec = &CERTS[3];
/// The API server's front-proxy client certificate.
pub static FRONT_PROXY_CLIENT: &CertSpec = &CERTS[4];
/// The etcd CA.
pub static ETCD_CA: &CertSpec = &CERTS[5];
/// etcd's serving certificate.
pub static ETCD_SERVER: &CertSpec = &CERTS[6];
/// etcd's peer certificate.
pub static ETCD_PEER: &CertSpec = &CERTS[7];
/// The etcd health-check client certificate.
pub static ETCD_HEALTHCHECK_CLIENT: &CertSpec = &CERTS[8];
/// The API server's etcd client certificate.
pub static APISERVER_ETCD_CLIENT: &CertSpec = &CERTS[9];

/// The service-account signing key pair: `sa.key` and `sa.pub` (no certificate).
pub const SA_NAME: &str = "sa";
/// `sa.key`.
pub const SA_KEY_FILE: &str = "sa.key";
/// `sa.pub`.
pub const SA_PUB_FILE: &str = "sa.pub";
/// Help line of the `sa` phase.
pub const SA_SUMMARY: &str =
    "Generate a private key for signing service account tokens along with its public key";

impl CertSpec {
    /// Whether this is a (self-signed) CA.
    #[must_use]
    pub fn is_ca(&self) -> bool {
        self.ca.is_none()
    }

    /// The spec of the CA that signs this certificate.
    #[must_use]
    pub fn ca_spec(&self) -> Option<&'static CertSpec> {
        self.ca.and_then(find)
    }

    /// `<base>.crt`, relative to the PKI directory.
    #[must_use]
    pub fn cert_file(&self) -> String {
        format!("{}.crt", self.base)
    }

    /// `<base>.key`, relative to the PKI directory.
    #[must_use]
    pub fn key_file(&self) -> String {
        format!("{}.key", self.base)
    }

    /// The subject common name for this config.
    #[must_use]
    pub fn common_name(&self, cfg: &ResolvedConfig) -> String {
        match self.cn {
            CommonName::Fixed(s) => s.to_string(),
            CommonName::NodeName => cfg.node_name.clone(),
        }
    }

    /// Whether the certificate is a TLS server certificate.
    #[must_use]
    pub fn is_server(&self) -> bool {
        self.usages.contains(&ExtUsage::Server)
    }

    /// The certificates this CA signs (empty for a leaf), in table order.
    pub fn signed_certs(&self) -> impl Iterator<Item = &'static CertSpec> + '_ {
        CERTS.iter().filter(move |c| c.ca == Some(self.name))
    }
}

/// The spec with phase name `name`.
#[must_use]
pub fn find(name: &str) -> Option<&'static CertSpec> {
    CERTS.iter().find(|c| c.name == name)
}

/// The certificates a control plane with (`external_etcd = true`) or without external etcd
/// needs, in phase order (kubeadm `GetCertsWithoutEtcd` / `GetDefaultCertList`).
pub fn certs_for(external_etcd: bool) -> impl Iterator<Item = &'static CertSpec> {
    CERTS.iter().filter(move |c| !(external_etcd && c.etcd))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_rows_are_the_rows_of_their_names() {
        let named = [
            (CA, "ca", "ca.crt"),
            (APISERVER, "apiserver", "apiserver.crt"),
            (
                APISERVER_KUBELET_CLIENT,
                "apiserver-kubelet-client",
                "apiserver-kubelet-client.crt",
            ),
            (FRONT_PROXY_CA, "front-proxy-ca", "front-proxy-ca.crt"),
            (
                FRONT_PROXY_CLIENT,
                "front-proxy-client",
                "front-proxy-client.crt",
            ),
            (ETCD_CA, "etcd-ca", "etcd/ca.crt"),
            (ETCD_SERVER, "etcd-server", "etcd/server.crt"),
            (ETCD_PEER, "etcd-peer", "etcd/peer.crt"),
            (
                ETCD_HEALTHCHECK_CLIENT,
                "etcd-healthcheck-client",
                "etcd/healthcheck-client.crt",
            ),
            (
                APISERVER_ETCD_CLIENT,
                "apiserver-etcd-client",
                "apiserver-etcd-client.crt",
            ),
        ];
        assert_eq!(named.len(), CERTS.len());
        for (spec, name, file) in named {
            assert_eq!((spec.name, spec.cert_file().as_str()), (name, file));
        }
    }

    #[test]
    fn order_matches_kubeadm_phases_and_cas_come_first() {
        let names: Vec<_> = CERTS.iter().map(|c| c.name).collect();
        assert_eq!(
            names,
            [
                "ca",
                "apiserver",
                "apiserver-kubelet-client",
                "front-proxy-ca",
                "front-proxy-client",
                "etcd-ca",
                "etcd-server",
                "etcd-peer",
                "etcd-healthcheck-client",
                "apiserver-etcd-client"
            ]
        );
        for (i, c) in CERTS.iter().enumerate() {
            if let Some(ca) = c.ca {
                let pos = CERTS.iter().position(|x| x.name == ca).unwrap();
                assert!(pos < i, "{} is listed before its CA {ca}", c.name);
                assert!(CERTS[pos].is_ca(), "{ca} signs {} but is not a CA", c.name);
            }
        }
    }

    #[test]
    fn subjects_and_usages_follow_kubeadm() {
        let get = |n| find(n).unwrap();
        assert_eq!(get("ca").cn, CommonName::Fixed("kubernetes"));
        assert_eq!(get("apiserver").cn, CommonName::Fixed("kube-apiserver"));
        assert_eq!(get("apiserver").usages, [ExtUsage::Server]);
        assert_eq!(get("apiserver-kubelet-client").org, None);
        assert_eq!(get("etcd-healthcheck-client").org, None);
        assert_eq!(get("apiserver-etcd-client").org, None);
        assert_eq!(get("apiserver-etcd-client").ca, Some("etcd-ca"));
        assert_eq!(get("front-proxy-client").ca, Some("front-proxy-ca"));
        assert_eq!(get("etcd-server").cn, CommonName::NodeName);
        assert_eq!(
            get("etcd-peer").usages,
            [ExtUsage::Server, ExtUsage::Client]
        );
        assert_eq!(get("etcd-server").base, "etcd/server");
        assert_eq!(get("etcd-server").cert_file(), "etcd/server.crt");
        assert!(
            CERTS
                .iter()
                .filter(|c| c.is_ca())
                .all(|c| c.usages.is_empty() && c.sans == SanKind::CaCommonName && c.org.is_none())
        );
        let ca_signs: Vec<_> = get("ca").signed_certs().map(|c| c.name).collect();
        assert_eq!(ca_signs, ["apiserver", "apiserver-kubelet-client"]);
    }

    #[test]
    fn external_etcd_drops_every_etcd_cert() {
        let names: Vec<_> = certs_for(true).map(|c| c.name).collect();
        assert_eq!(
            names,
            [
                "ca",
                "apiserver",
                "apiserver-kubelet-client",
                "front-proxy-ca",
                "front-proxy-client"
            ]
        );
        assert_eq!(certs_for(false).count(), 10);
        assert!(CERTS.iter().all(|c| c.etcd == c.name.contains("etcd")));
    }
}
