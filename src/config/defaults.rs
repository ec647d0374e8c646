//! kubeadm's static defaults (`app/apis/kubeadm/v1beta4/defaults.go`), plus plinth's one
//! intended difference: ECDSA-P256 keys by default.

use super::v1beta4::{
    self, ApiEndpoint, BootstrapToken, ClusterConfiguration, Etcd, InitConfiguration, LocalEtcd,
    ResetConfiguration, Timeouts,
};

/// Kubernetes version used when the config names none (kubeadm would ask the internet).
pub const DEFAULT_KUBERNETES_VERSION: &str = "v1.37.2";
/// Oldest and newest supported minor (inclusive).
pub(crate) const SUPPORTED_MINORS: (u32, u32) = (35, 37);
pub(crate) const DEFAULT_SERVICE_SUBNET: &str = "10.96.0.0/12";
pub(crate) const DEFAULT_DNS_DOMAIN: &str = "cluster.local";
pub(crate) const DEFAULT_CERT_DIR: &str = "/etc/kubernetes/pki";
/// The default image repository.
pub const DEFAULT_IMAGE_REPOSITORY: &str = "registry.k8s.io";
pub(crate) const DEFAULT_CLUSTER_NAME: &str = "kubernetes";
pub(crate) const DEFAULT_ENCRYPTION_ALGORITHM: &str = "ECDSA-P256";
pub(crate) const DEFAULT_CERT_VALIDITY: &str = "8760h0m0s";
pub(crate) const DEFAULT_CA_VALIDITY: &str = "87600h0m0s";
pub(crate) const DEFAULT_ETCD_DATA_DIR: &str = "/var/lib/etcd";
pub(crate) const DEFAULT_BIND_PORT: u32 = 6443;
pub(crate) const DEFAULT_CRI_SOCKET: &str = "unix:///var/run/containerd/containerd.sock";
pub(crate) const DEFAULT_TOKEN_GROUP: &str = "system:bootstrappers:kubeadm:default-node-token";

fn set<T>(slot: &mut Option<T>, v: T) {
    if slot.is_none() {
        *slot = Some(v);
    }
}

/// kubeadm's default `timeouts`.
pub(crate) fn default_timeouts(t: &mut Timeouts) {
    set(&mut t.control_plane_component_health_check, "4m0s".into());
    set(&mut t.kubelet_health_check, "4m0s".into());
    set(&mut t.kubernetes_api_call, "1m0s".into());
    set(&mut t.etcd_api_call, "2m0s".into());
    set(&mut t.tls_bootstrap, "5m0s".into());
    set(&mut t.discovery, "5m0s".into());
    set(&mut t.upgrade_manifests, "5m0s".into());
}

/// Applies kubeadm's static defaults to an InitConfiguration (host-derived ones come later).
pub(crate) fn default_init(c: &mut InitConfiguration) {
    let tokens = c
        .bootstrap_tokens
        .get_or_insert_with(|| vec![BootstrapToken::default()]);
    for t in tokens {
        set(&mut t.ttl, "24h0m0s".into());
        set(
            &mut t.usages,
            vec!["signing".into(), "authentication".into()],
        );
        set(&mut t.groups, vec![DEFAULT_TOKEN_GROUP.into()]);
    }
    let nr = &mut c.node_registration;
    set(&mut nr.cri_socket, DEFAULT_CRI_SOCKET.into());
    set(&mut nr.image_pull_policy, "IfNotPresent".into());
    set(&mut nr.image_pull_serial, true);
    set(&mut c.local_api_endpoint.bind_port, DEFAULT_BIND_PORT);
    default_timeouts(c.timeouts.get_or_insert_with(Timeouts::default));
}

/// Applies kubeadm's static defaults to a ClusterConfiguration.
pub(crate) fn default_cluster(c: &mut ClusterConfiguration) {
    if c.etcd.external.is_none() {
        let local = c.etcd.local.get_or_insert_with(LocalEtcd::default);
        set(&mut local.data_dir, DEFAULT_ETCD_DATA_DIR.into());
    }
    set(
        &mut c.networking.service_subnet,
        DEFAULT_SERVICE_SUBNET.into(),
    );
    set(&mut c.networking.dns_domain, DEFAULT_DNS_DOMAIN.into());
    set(&mut c.kubernetes_version, DEFAULT_KUBERNETES_VERSION.into());
    set(&mut c.certificates_dir, DEFAULT_CERT_DIR.into());
    set(&mut c.image_repository, DEFAULT_IMAGE_REPOSITORY.into());
    set(&mut c.cluster_name, DEFAULT_CLUSTER_NAME.into());
    set(
        &mut c.encryption_algorithm,
        DEFAULT_ENCRYPTION_ALGORITHM.into(),
    );
    set(
        &mut c.certificate_validity_period,
        DEFAULT_CERT_VALIDITY.into(),
    );
    set(
        &mut c.ca_certificate_validity_period,
        DEFAULT_CA_VALIDITY.into(),
    );
}

/// Applies kubeadm's defaults to a ResetConfiguration.
pub(crate) fn default_reset(c: &mut ResetConfiguration, cert_dir: &str) {
    set(&mut c.certificates_dir, cert_dir.into());
    set(&mut c.cleanup_tmp_dir, false);
    set(&mut c.force, false);
    default_timeouts(c.timeouts.get_or_insert_with(Timeouts::default));
}

/// An empty document of each kind with only apiVersion/kind set.
pub(crate) fn empty_init() -> InitConfiguration {
    InitConfiguration {
        api_version: v1beta4::API_VERSION.into(),
        kind: "InitConfiguration".into(),
        ..InitConfiguration::default()
    }
}

/// See [`empty_init`].
pub(crate) fn empty_cluster() -> ClusterConfiguration {
    ClusterConfiguration {
        api_version: v1beta4::API_VERSION.into(),
        kind: "ClusterConfiguration".into(),
        ..ClusterConfiguration::default()
    }
}

/// See [`empty_init`].
pub(crate) fn empty_reset() -> ResetConfiguration {
    ResetConfiguration {
        api_version: v1beta4::API_VERSION.into(),
        kind: "ResetConfiguration".into(),
        ..ResetConfiguration::default()
    }
}

/// `plinth config print init-defaults`: kubeadm's two documents with static placeholders
/// (kubeadm prints `1.2.3.4`, `node` and a fixed example token the same way).
#[must_use]
pub fn init_defaults_yaml() -> String {
    let mut init = empty_init();
    init.bootstrap_tokens = Some(vec![BootstrapToken {
        token: Some("abcdef.0123456789abcdef".into()),
        ..Default::default()
    }]);
    init.local_api_endpoint = ApiEndpoint {
        advertise_address: Some("1.2.3.4".into()),
        bind_port: None,
    };
    init.node_registration.name = Some("node".into());
    default_init(&mut init);
    let mut cluster = empty_cluster();
    cluster.etcd = Etcd::default();
    default_cluster(&mut cluster);
    let a = serde_saphyr::to_string(&init).unwrap_or_default();
    let b = serde_saphyr::to_string(&cluster).unwrap_or_default();
    format!("{a}---\n{b}")
}
