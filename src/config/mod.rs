//! Configuration: the kubeadm `v1beta4` documents a user keeps in git, loaded strictly,
//! defaulted as kubeadm does, validated, and resolved with command-line overrides into one
//! read-only [`ResolvedConfig`]. Knows nothing of the CLI or of the host beyond reading the file.

mod defaults;
mod error;
mod load;
mod locate;
pub mod pathpolicy;
mod reset;
mod resolve;
mod source;
mod suggest;
pub mod v1beta4;
mod validate;
mod values;

pub(crate) use defaults::{DEFAULT_CERT_DIR, DEFAULT_CRI_SOCKET, DEFAULT_ETCD_DATA_DIR};
pub use defaults::{DEFAULT_IMAGE_REPOSITORY, DEFAULT_KUBERNETES_VERSION, init_defaults_yaml};
pub use error::{Error, ErrorKind};
pub use load::{Documents, MAX_DOCUMENTS, load_documents};
pub use reset::{ResetInput, check_reset, load_reset};
pub use resolve::{HostDefaults, Overrides, load, load_str, resolve};
pub use source::{MAX_CONFIG_BYTES, STDIN_NAME, read_source};
pub use values::{
    Endpoint, EtcdMode, ExternalEtcdConfig, KeyAlgorithm, KubeVersion, LocalEtcdConfig,
    ResolvedTimeouts, format_go_duration, nth_ip, parse_go_duration,
};

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;

/// The whole configuration after loading, defaulting, validation and flag overrides.
///
/// Every phase reads this and nothing else; it is never mutated after [`resolve`] returns.
#[derive(Debug, Clone)]
pub struct ResolvedConfig {
    /// The config file this came from, if any.
    pub source: Option<PathBuf>,
    /// The InitConfiguration with kubeadm's defaults applied (as uploaded to the cluster later).
    pub init: v1beta4::InitConfiguration,
    /// The ClusterConfiguration with kubeadm's defaults applied.
    pub cluster: v1beta4::ClusterConfiguration,
    /// The ResetConfiguration, defaulted.
    pub reset: v1beta4::ResetConfiguration,
    /// A user `KubeletConfiguration` document, kept verbatim for the kubelet phases.
    pub kubelet: Option<serde_json::Value>,
    /// A user `KubeProxyConfiguration` document, kept verbatim for the kube-proxy addon.
    pub kube_proxy: Option<serde_json::Value>,

    /// `kubernetesVersion`, parsed.
    pub kubernetes_version: KubeVersion,
    /// `nodeRegistration.name` (defaulted to the lower-cased hostname).
    pub node_name: String,
    /// `nodeRegistration.criSocket`.
    pub cri_socket: String,
    /// `localAPIEndpoint.advertiseAddress`.
    pub advertise_address: IpAddr,
    /// `localAPIEndpoint.bindPort`.
    pub bind_port: u16,
    /// `controlPlaneEndpoint`, split; the port defaults to `bind_port`.
    pub control_plane_endpoint: Option<Endpoint>,
    /// `networking.serviceSubnet`, split on commas (first = primary family).
    pub service_subnets: Vec<IpNet>,
    /// `networking.podSubnet`, split on commas (may be empty).
    pub pod_subnets: Vec<IpNet>,
    /// `networking.dnsDomain`.
    pub dns_domain: String,
    /// `clusterName`.
    pub cluster_name: String,
    /// `certificatesDir` as it appears inside manifests (a host path).
    pub cert_dir: PathBuf,
    /// `imageRepository`.
    pub image_repository: String,
    /// `encryptionAlgorithm`.
    pub key_algorithm: KeyAlgorithm,
    /// `certificateValidityPeriod`.
    pub cert_validity: Duration,
    /// `caCertificateValidityPeriod`.
    pub ca_validity: Duration,
    /// `apiServer.certSANs`.
    pub apiserver_cert_sans: Vec<String>,
    /// Local or external etcd.
    pub etcd: EtcdMode,
    /// `timeouts`, parsed.
    pub timeouts: ResolvedTimeouts,
    /// `patches.directory` (or `--patches`).
    pub patches_dir: Option<PathBuf>,
    /// `skipPhases` from the file (the `--skip-phases` flag replaces it, as in kubeadm).
    pub skip_phases: Vec<String>,
    /// `nodeRegistration.ignorePreflightErrors` merged with `--ignore-preflight-errors`:
    /// lower-cased, sorted, without duplicates; `all` only alone.
    pub ignore_preflight_errors: Vec<String>,
    /// Non-fatal findings (kubeadm prints these as warnings).
    pub warnings: Vec<String>,
}

impl ResolvedConfig {
    /// The endpoint every client outside this node uses: `controlPlaneEndpoint` if set,
    /// else the local advertise address and bind port.
    #[must_use]
    pub fn control_plane_url(&self) -> String {
        match &self.control_plane_endpoint {
            Some(ep) => ep.url(),
            None => self.local_api_url(),
        }
    }

    /// `https://<advertiseAddress>:<bindPort>` (IPv6 bracketed).
    #[must_use]
    pub fn local_api_url(&self) -> String {
        format!(
            "https://{}",
            join_host_port(&self.advertise_address.to_string(), self.bind_port)
        )
    }

    /// The first address of the first service subnet (kubeadm `GetAPIServerVirtualIP`).
    #[must_use]
    pub fn apiserver_service_ip(&self) -> IpAddr {
        values::nth_ip(&self.service_subnets[0], 1)
    }

    /// Whether the advertise address is IPv6 (loopback addresses then use `::1`).
    #[must_use]
    pub fn is_ipv6(&self) -> bool {
        self.advertise_address.is_ipv6()
    }

    /// Whether etcd is external (no local etcd certs or manifest).
    #[must_use]
    pub fn is_external_etcd(&self) -> bool {
        matches!(self.etcd, EtcdMode::External(_))
    }
}

/// `host:port`, with IPv6 literals bracketed.
#[must_use]
pub fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}
