//! The ClusterConfiguration's sections: kubernetesVersion, controlPlaneEndpoint, networking,
//! PKI, components, etcd.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;

use super::super::defaults::SUPPORTED_MINORS;
use super::super::pathpolicy;
use super::super::v1beta4::ClusterConfiguration;
use super::super::values::{
    Endpoint, EtcdMode, ExternalEtcdConfig, KeyAlgorithm, KubeVersion, LocalEtcdConfig,
};
use super::syntax::{is_dns_subdomain, parse_endpoint};
use super::{CLUSTER, FEATURE_GATES, UNSUPPORTED_FEATURE_GATES, Validator};

/// What the PKI fields resolve to.
pub(super) struct Pki {
    pub(super) cert_dir: String,
    pub(super) key_algorithm: Option<KeyAlgorithm>,
    pub(super) cert_validity: Duration,
    pub(super) ca_validity: Duration,
    pub(super) apiserver_cert_sans: Vec<String>,
    pub(super) image_repository: String,
    pub(super) cluster_name: String,
}

/// What networking resolves to.
pub(super) struct Networking {
    pub(super) service_subnets: Vec<IpNet>,
    pub(super) pod_subnets: Vec<IpNet>,
    pub(super) dns_domain: String,
}

impl Validator<'_> {
    /// `kubernetesVersion`: an exact release within the supported minors.
    pub(super) fn kubernetes_version(
        &mut self,
        cluster: &ClusterConfiguration,
    ) -> Option<KubeVersion> {
        let version_str = cluster.kubernetes_version.clone().unwrap_or_default();
        match version_str.parse::<KubeVersion>() {
            Ok(v)
                if v.major == 1 && (SUPPORTED_MINORS.0..=SUPPORTED_MINORS.1).contains(&v.minor) =>
            {
                Some(v)
            }
            Ok(v) => {
                self.err(
                    CLUSTER,
                    "kubernetesVersion",
                    format!(
                        "Kubernetes {v} is outside the supported range v1.{}–v1.{}",
                        SUPPORTED_MINORS.0, SUPPORTED_MINORS.1
                    ),
                    Some(format!(
                        "use a v1.{}.x, v1.{}.x or v1.{}.x release",
                        SUPPORTED_MINORS.0,
                        SUPPORTED_MINORS.0 + 1,
                        SUPPORTED_MINORS.1
                    )),
                );
                None
            }
            Err(m) => {
                let hint = if version_str.starts_with("stable")
                    || version_str.starts_with("latest")
                    || version_str.starts_with("ci/")
                {
                    "plinth never resolves release labels over the network; name an exact version such as v1.37.2"
                } else {
                    "write it as vMAJOR.MINOR.PATCH, e.g. v1.37.2"
                };
                self.err(CLUSTER, "kubernetesVersion", m, Some(hint.into()));
                None
            }
        }
    }

    /// `controlPlaneEndpoint`, its port defaulted to the bind port.
    pub(super) fn control_plane_endpoint(
        &mut self,
        cluster: &ClusterConfiguration,
        bind_port: Option<u16>,
        warnings: &mut Vec<String>,
    ) -> Option<Endpoint> {
        match (
            cluster
                .control_plane_endpoint
                .as_deref()
                .filter(|s| !s.is_empty()),
            bind_port,
        ) {
            (Some(s), Some(bp)) => match parse_endpoint(s, bp) {
                Ok(ep) => {
                    if ep.port != bp {
                        warnings.push("[endpoint] WARNING: port specified in controlPlaneEndpoint overrides bindPort in the controlplane address".to_string());
                    }
                    Some(ep)
                }
                Err(m) => {
                    self.err(
                        CLUSTER,
                        "controlPlaneEndpoint",
                        m,
                        Some(
                            "use host or host:port, e.g. cp.example.com:6443 or [fd00::1]:6443"
                                .into(),
                        ),
                    );
                    None
                }
            },
            _ => None,
        }
    }

    /// `networking`: service and pod subnets (dual-stack), their family against the advertise
    /// address, the DNS domain.
    pub(super) fn networking(
        &mut self,
        cluster: &ClusterConfiguration,
        advertise: Option<IpAddr>,
    ) -> Networking {
        let svc = cluster
            .networking
            .service_subnet
            .clone()
            .unwrap_or_default();
        let service_subnets =
            self.cidrs("networking.serviceSubnet", &svc, "service subnet", Some(20));
        let pod_subnets = match &cluster.networking.pod_subnet {
            Some(p) if !p.is_empty() => self.cidrs("networking.podSubnet", p, "pod subnet", None),
            _ => Vec::new(),
        };
        if let (Some(adv), Some(first)) = (advertise, service_subnets.first())
            && service_subnets.len() == 1
            && adv.is_ipv4() != first.addr().is_ipv4()
        {
            self.err(CLUSTER, "networking.serviceSubnet", format!("service subnet {first} and advertise address {adv} are of different IP families"), Some("use a service subnet of the advertise address's family, or a dual-stack pair".into()));
        }
        let dns_domain = cluster.networking.dns_domain.clone().unwrap_or_default();
        if !is_dns_subdomain(&dns_domain) {
            self.err(
                CLUSTER,
                "networking.dnsDomain",
                format!("{dns_domain:?} is not a valid DNS domain"),
                Some("use a lower-case domain such as cluster.local".into()),
            );
        }

        Networking {
            service_subnets,
            pod_subnets,
            dns_domain,
        }
    }

    /// The PKI and identity fields: certificatesDir, encryptionAlgorithm, validity periods,
    /// certSANs, imageRepository, clusterName, featureGates.
    pub(super) fn pki(
        &mut self,
        cluster: &ClusterConfiguration,
        warnings: &mut Vec<String>,
    ) -> Pki {
        let cert_dir = cluster.certificates_dir.clone().unwrap_or_default();
        self.cert_dir(CLUSTER, &cert_dir);
        let alg_str = cluster.encryption_algorithm.clone().unwrap_or_default();
        let key_algorithm = match alg_str.parse::<KeyAlgorithm>() {
            Ok(a) => Some(a),
            Err(m) => {
                self.err(CLUSTER, "encryptionAlgorithm", m, None);
                None
            }
        };
        let year = Duration::from_secs(8760 * 3600);
        let cert_validity = self.duration(
            CLUSTER,
            "certificateValidityPeriod",
            cluster.certificate_validity_period.as_ref(),
            year,
        );
        let ca_validity = self.duration(
            CLUSTER,
            "caCertificateValidityPeriod",
            cluster.ca_certificate_validity_period.as_ref(),
            year * 10,
        );
        if cert_validity.is_zero() {
            self.err(
                CLUSTER,
                "certificateValidityPeriod",
                "validity must be longer than zero".into(),
                None,
            );
        }
        if ca_validity.is_zero() {
            self.err(
                CLUSTER,
                "caCertificateValidityPeriod",
                "validity must be longer than zero".into(),
                None,
            );
        }
        if cert_validity > ca_validity {
            warnings.push("certificateValidityPeriod is longer than caCertificateValidityPeriod: leaf certificates will outlive their CA".into());
        }
        let apiserver_cert_sans = self.sans(
            CLUSTER,
            "apiServer.certSANs",
            cluster.api_server.cert_sans.as_ref(),
        );

        let image_repository = cluster.image_repository.clone().unwrap_or_default();
        if image_repository.is_empty() || image_repository.contains(char::is_whitespace) {
            self.err(
                CLUSTER,
                "imageRepository",
                format!("{image_repository:?} is not an image repository"),
                Some("use e.g. registry.k8s.io or my-registry.example.com/k8s".into()),
            );
        }
        let cluster_name = cluster.cluster_name.clone().unwrap_or_default();
        if cluster_name.is_empty() {
            self.err(CLUSTER, "clusterName", "cluster name is empty".into(), None);
        }
        for (gate, on) in cluster.feature_gates.iter().flatten() {
            if UNSUPPORTED_FEATURE_GATES.contains(&gate.as_str()) && *on {
                // Found here, not by the control-plane phase after the certificates are written.
                self.err(
                    CLUSTER,
                    &format!("featureGates.{gate}"),
                    format!("plinth does not support the {gate} feature gate"),
                    Some(format!(
                        "remove it or set `{gate}: false`; plinth runs the control plane as root"
                    )),
                );
            } else if !FEATURE_GATES.contains(&gate.as_str()) {
                self.err(
                    CLUSTER,
                    &format!("featureGates.{gate}"),
                    format!("unrecognized feature-gate key: {gate}"),
                    Some(format!("kubeadm 1.37 knows: {}", FEATURE_GATES.join(", "))),
                );
            }
        }

        Pki {
            cert_dir,
            key_algorithm,
            cert_validity,
            ca_validity,
            apiserver_cert_sans,
            image_repository,
            cluster_name,
        }
    }

    /// The control-plane components' extraArgs, extraVolumes and extraEnvs.
    pub(super) fn components(&mut self, cluster: &ClusterConfiguration) {
        self.args(
            CLUSTER,
            "apiServer.extraArgs",
            cluster.api_server.extra_args.as_ref(),
        );
        self.volumes(
            CLUSTER,
            "apiServer.extraVolumes",
            cluster.api_server.extra_volumes.as_ref(),
        );
        self.envs(
            CLUSTER,
            "apiServer.extraEnvs",
            cluster.api_server.extra_envs.as_ref(),
        );
        for (name, c) in [
            ("controllerManager", &cluster.controller_manager),
            ("scheduler", &cluster.scheduler),
        ] {
            self.args(CLUSTER, &format!("{name}.extraArgs"), c.extra_args.as_ref());
            self.volumes(
                CLUSTER,
                &format!("{name}.extraVolumes"),
                c.extra_volumes.as_ref(),
            );
            self.envs(CLUSTER, &format!("{name}.extraEnvs"), c.extra_envs.as_ref());
        }
    }

    /// `etcd`: local xor external, endpoints and files, the data directory's path policy.
    pub(super) fn etcd(
        &mut self,
        cluster: &ClusterConfiguration,
        cert_dir: &str,
    ) -> Option<EtcdMode> {
        match (&cluster.etcd.local, &cluster.etcd.external) {
            (Some(_), Some(_)) => {
                self.err(
                    CLUSTER,
                    "etcd",
                    "etcd.local and etcd.external are mutually exclusive".into(),
                    Some("keep only one of them".into()),
                );
                None
            }
            (_, Some(ext)) => {
                if ext.endpoints.is_empty() {
                    self.err(
                        CLUSTER,
                        "etcd.external.endpoints",
                        "at least one endpoint is required".into(),
                        None,
                    );
                }
                for (i, e) in ext.endpoints.iter().enumerate() {
                    if !(e.starts_with("https://") || e.starts_with("http://")) || e.len() < 9 {
                        self.err(
                            CLUSTER,
                            &format!("etcd.external.endpoints[{i}]"),
                            format!("{e:?} is not an http(s) URL"),
                            Some("use e.g. https://10.0.0.5:2379".into()),
                        );
                    }
                }
                if ext.cert_file.is_some() != ext.key_file.is_some() {
                    self.err(
                        CLUSTER,
                        "etcd.external",
                        "certFile and keyFile must be set together".into(),
                        None,
                    );
                }
                for (f, p) in [
                    ("caFile", &ext.ca_file),
                    ("certFile", &ext.cert_file),
                    ("keyFile", &ext.key_file),
                ] {
                    if let Some(p) = p
                        && let Err(e) = pathpolicy::check_read_path(p)
                    {
                        self.err(
                            CLUSTER,
                            &format!("etcd.external.{f}"),
                            format!("{p:?}: {e}"),
                            Some(e.hint()),
                        );
                    }
                }
                Some(EtcdMode::External(ExternalEtcdConfig {
                    endpoints: ext.endpoints.clone(),
                    ca_file: ext.ca_file.as_ref().map(PathBuf::from),
                    cert_file: ext.cert_file.as_ref().map(PathBuf::from),
                    key_file: ext.key_file.as_ref().map(PathBuf::from),
                }))
            }
            (Some(local), None) => {
                let data_dir = local.data_dir.clone().unwrap_or_default();
                if self.owned_dir(CLUSTER, "etcd.local.dataDir", &data_dir) {
                    self.apart(&data_dir, "etcd.local.dataDir", cert_dir);
                }
                self.args(CLUSTER, "etcd.local.extraArgs", local.extra_args.as_ref());
                self.envs(CLUSTER, "etcd.local.extraEnvs", local.extra_envs.as_ref());
                let server_cert_sans = self.sans(
                    CLUSTER,
                    "etcd.local.serverCertSANs",
                    local.server_cert_sans.as_ref(),
                );
                let peer_cert_sans = self.sans(
                    CLUSTER,
                    "etcd.local.peerCertSANs",
                    local.peer_cert_sans.as_ref(),
                );
                Some(EtcdMode::Local(LocalEtcdConfig {
                    data_dir: PathBuf::from(data_dir),
                    server_cert_sans,
                    peer_cert_sans,
                }))
            }
            (None, None) => None,
        }
    }
}
