//! The `kubeadm.k8s.io/v1beta4` documents exactly as users write them in their config file.
//!
//! Field names and shapes mirror kubeadm's `app/apis/kubeadm/v1beta4/types.go`. Every struct
//! rejects unknown fields (kubeadm only warns; see docs/compatibility.md). Defaults are not
//! applied here: see `config::defaults`.

use serde::{Deserialize, Serialize};

/// The API group/version of every kubeadm document plinth reads.
pub const API_VERSION: &str = "kubeadm.k8s.io/v1beta4";

/// `{name, value}` command-line argument (v1beta4 `Arg`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Arg {
    /// Flag name without the leading dashes.
    pub name: String,
    /// Flag value.
    #[serde(default)]
    pub value: String,
}

/// An environment variable (the subset of core `EnvVar` kubeadm documents).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EnvVar {
    /// Variable name.
    pub name: String,
    /// Literal value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// `valueFrom` is passed through untouched to the Pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_from: Option<serde_json::Value>,
}

/// An extra hostPath volume for a control-plane component (v1beta4 `HostPathMount`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HostPathMount {
    /// Volume name; replaces a default volume of the same name.
    pub name: String,
    /// Path on the host.
    pub host_path: String,
    /// Path in the container.
    pub mount_path: String,
    /// Mount read-only.
    #[serde(default)]
    pub read_only: bool,
    /// hostPath type (`DirectoryOrCreate`, `File`, ...). Empty means unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_type: Option<String>,
}

/// A Node taint.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Taint {
    /// Taint key.
    pub key: String,
    /// Taint value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`.
    pub effect: String,
    /// Set by the API server; accepted for round-trips.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_added: Option<String>,
}

/// `InitConfiguration.bootstrapTokens[]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BootstrapToken {
    /// `[a-z0-9]{6}.[a-z0-9]{16}`; generated when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Human description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Go duration, default `24h0m0s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,
    /// RFC 3339 absolute expiry (mutually exclusive with ttl).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// `signing`, `authentication`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usages: Option<Vec<String>>,
    /// Extra groups, `system:bootstrappers:` prefixed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
}

/// `nodeRegistration`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodeRegistrationOptions {
    /// Node name; defaults to the lower-cased hostname.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// CRI socket URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cri_socket: Option<String>,
    /// `None` = the control-plane taint; `Some([])` = no taints (kubeadm: no omitempty).
    #[serde(default)]
    pub taints: Option<Vec<Taint>>,
    /// Extra kubelet flags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubelet_extra_args: Option<Vec<Arg>>,
    /// Preflight checks to ignore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_preflight_errors: Option<Vec<String>>,
    /// `Always`, `IfNotPresent` or `Never`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<String>,
    /// Pull images one at a time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_serial: Option<bool>,
}

/// `localAPIEndpoint`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApiEndpoint {
    /// IP the API server advertises.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advertise_address: Option<String>,
    /// Secure port, default 6443.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind_port: Option<u32>,
}

/// `patches`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Patches {
    /// Directory with `target[suffix][+type].{yaml,json}` files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory: Option<String>,
}

/// `timeouts` (Go durations).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Timeouts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_plane_component_health_check: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubelet_health_check: Option<String>,
    #[serde(
        default,
        rename = "kubernetesAPICall",
        skip_serializing_if = "Option::is_none"
    )]
    pub kubernetes_api_call: Option<String>,
    #[serde(
        default,
        rename = "etcdAPICall",
        skip_serializing_if = "Option::is_none"
    )]
    pub etcd_api_call: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_bootstrap: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade_manifests: Option<String>,
}

/// `InitConfiguration`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InitConfiguration {
    /// Must be `kubeadm.k8s.io/v1beta4`.
    pub api_version: String,
    /// Must be `InitConfiguration`.
    pub kind: String,
    /// Bootstrap tokens to create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap_tokens: Option<Vec<BootstrapToken>>,
    /// Dry-run mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
    /// Node registration.
    #[serde(default)]
    pub node_registration: NodeRegistrationOptions,
    /// Local API endpoint.
    #[serde(default, rename = "localAPIEndpoint")]
    pub local_api_endpoint: ApiEndpoint,
    /// Key for upload-certs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_key: Option<String>,
    /// Phases to skip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_phases: Option<Vec<String>>,
    /// Patches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patches: Option<Patches>,
    /// Timeouts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeouts: Option<Timeouts>,
}

/// Local (stacked) etcd settings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LocalEtcd {
    /// Image repository override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_repository: Option<String>,
    /// Image tag override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_tag: Option<String>,
    /// Data directory, default `/var/lib/etcd`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<String>,
    /// Extra flags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_args: Option<Vec<Arg>>,
    /// Extra environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_envs: Option<Vec<EnvVar>>,
    /// Extra server SANs.
    #[serde(
        default,
        rename = "serverCertSANs",
        skip_serializing_if = "Option::is_none"
    )]
    pub server_cert_sans: Option<Vec<String>>,
    /// Extra peer SANs.
    #[serde(
        default,
        rename = "peerCertSANs",
        skip_serializing_if = "Option::is_none"
    )]
    pub peer_cert_sans: Option<Vec<String>>,
}

/// External etcd settings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExternalEtcd {
    /// Client endpoints (`https://host:2379`).
    pub endpoints: Vec<String>,
    /// CA bundle for the etcd servers.
    #[serde(default, rename = "caFile", skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// Client certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<String>,
    /// Client key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<String>,
    /// 1.35+: separate HTTP endpoints for health checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_endpoints: Option<Vec<String>>,
}

/// `etcd`: exactly one of local/external.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Etcd {
    /// Stacked etcd.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<LocalEtcd>,
    /// External etcd cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalEtcd>,
}

/// `networking`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Networking {
    /// Service CIDR(s), comma separated for dual-stack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_subnet: Option<String>,
    /// Pod CIDR(s), comma separated for dual-stack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_subnet: Option<String>,
    /// Cluster DNS domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_domain: Option<String>,
}

/// `controllerManager` / `scheduler` (the common ControlPlaneComponent).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ControlPlaneComponent {
    /// Extra flags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_args: Option<Vec<Arg>>,
    /// Extra hostPath volumes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_volumes: Option<Vec<HostPathMount>>,
    /// Extra environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_envs: Option<Vec<EnvVar>>,
}

/// `apiServer`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApiServer {
    /// Extra flags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_args: Option<Vec<Arg>>,
    /// Extra hostPath volumes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_volumes: Option<Vec<HostPathMount>>,
    /// Extra environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_envs: Option<Vec<EnvVar>>,
    /// Extra serving-certificate SANs.
    #[serde(default, rename = "certSANs", skip_serializing_if = "Option::is_none")]
    pub cert_sans: Option<Vec<String>>,
}

/// `dns`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Dns {
    /// Image repository override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_repository: Option<String>,
    /// Image tag override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_tag: Option<String>,
    /// Do not install CoreDNS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
}

/// `proxy`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Proxy {
    /// Do not install kube-proxy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
}

/// `ClusterConfiguration`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClusterConfiguration {
    /// Must be `kubeadm.k8s.io/v1beta4`.
    pub api_version: String,
    /// Must be `ClusterConfiguration`.
    pub kind: String,
    /// etcd.
    #[serde(default)]
    pub etcd: Etcd,
    /// networking.
    #[serde(default)]
    pub networking: Networking,
    /// `vX.Y.Z`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_version: Option<String>,
    /// Shared endpoint `host[:port]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_plane_endpoint: Option<String>,
    /// kube-apiserver.
    #[serde(default)]
    pub api_server: ApiServer,
    /// kube-controller-manager.
    #[serde(default)]
    pub controller_manager: ControlPlaneComponent,
    /// kube-scheduler.
    #[serde(default)]
    pub scheduler: ControlPlaneComponent,
    /// CoreDNS.
    #[serde(default)]
    pub dns: Dns,
    /// kube-proxy.
    #[serde(default)]
    pub proxy: Proxy,
    /// PKI directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificates_dir: Option<String>,
    /// Registry for control-plane images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_repository: Option<String>,
    /// kubeadm feature gates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature_gates: Option<std::collections::BTreeMap<String, bool>>,
    /// Cluster name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_name: Option<String>,
    /// Key algorithm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_algorithm: Option<String>,
    /// Leaf validity (Go duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_validity_period: Option<String>,
    /// CA validity (Go duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_certificate_validity_period: Option<String>,
}

/// `ResetConfiguration`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ResetConfiguration {
    /// Must be `kubeadm.k8s.io/v1beta4`.
    pub api_version: String,
    /// Must be `ResetConfiguration`.
    pub kind: String,
    /// Remove /etc/kubernetes/tmp too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleanup_tmp_dir: Option<bool>,
    /// PKI directory to clean.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificates_dir: Option<String>,
    /// CRI socket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cri_socket: Option<String>,
    /// Dry-run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
    /// Do not prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force: Option<bool>,
    /// Preflight errors to ignore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_preflight_errors: Option<Vec<String>>,
    /// Phases to skip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_phases: Option<Vec<String>>,
    /// Unmount flags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unmount_flags: Option<Vec<String>>,
    /// Timeouts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeouts: Option<Timeouts>,
}
