//! Flags + file → [`ResolvedConfig`]: overrides are applied to the documents, kubeadm's
//! defaults filled in, host facts (hostname, default address) added, then everything is
//! validated at once. Unlike kubeadm, flags may be combined with `--config`; flags win.

use std::collections::BTreeMap;
use std::path::Path;

use super::ResolvedConfig;
use super::defaults::{
    default_cluster, default_init, default_reset, empty_cluster, empty_init, empty_reset,
};
use super::error::{Error, ErrorKind, Issue};
use super::load::{Documents, FieldIndexHandle, load_documents};
use super::locate::FieldIndex;
use super::source::read_source;
use super::validate::Validator;

/// Command-line values that override the file (kubeadm's flag names).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--kubernetes-version`
    pub kubernetes_version: Option<String>,
    /// `--apiserver-advertise-address`
    pub apiserver_advertise_address: Option<String>,
    /// `--apiserver-bind-port`
    pub apiserver_bind_port: Option<u32>,
    /// `--apiserver-cert-extra-sans` (added to `apiServer.certSANs`)
    pub apiserver_cert_extra_sans: Vec<String>,
    /// `--control-plane-endpoint`
    pub control_plane_endpoint: Option<String>,
    /// `--node-name`
    pub node_name: Option<String>,
    /// `--pod-network-cidr`
    pub pod_network_cidr: Option<String>,
    /// `--service-cidr`
    pub service_cidr: Option<String>,
    /// `--service-dns-domain`
    pub service_dns_domain: Option<String>,
    /// `--cert-dir`
    pub cert_dir: Option<String>,
    /// `--encryption-algorithm`
    pub encryption_algorithm: Option<String>,
    /// `--patches`
    pub patches: Option<String>,
    /// `--cri-socket`
    pub cri_socket: Option<String>,
    /// `--ignore-preflight-errors` (added to `nodeRegistration.ignorePreflightErrors`, as in
    /// kubeadm)
    pub ignore_preflight_errors: Vec<String>,
}

/// The host facts kubeadm's dynamic defaults use, a narrow view of
/// [`host::Facts`](crate::host::Facts) (built by its `config_defaults`), so the config knows
/// nothing else of the host and tests give these two values by hand.
#[derive(Debug, Clone, Default)]
pub struct HostDefaults {
    /// Lower-cased hostname: the default node name.
    pub hostname: Option<String>,
    /// Address of the default-route interface: the default advertise address.
    pub default_address: Option<String>,
}

/// Loads, defaults, validates and resolves the config at `path` (or none) with `overrides`.
///
/// # Errors
/// The errors of [`read_source`] when the input cannot be read or is refused (`-` means
/// standard input); [`Error::Invalid`] listing every problem.
pub fn load(
    path: Option<&Path>,
    overrides: &Overrides,
    host: &HostDefaults,
) -> Result<ResolvedConfig, Error> {
    let (text, name) = match path {
        Some(p) => read_source(p)?,
        None => (String::new(), "<defaults>".to_string()),
    };
    let docs = load_documents(&text, &name).map_err(|issues| Error::Invalid { issues })?;
    let mut r = resolve(docs, overrides, host)?;
    r.source = path.filter(|p| p.as_os_str() != "-").map(Path::to_path_buf);
    Ok(r)
}

/// Like [`load`], from text (deterministic; used by tests).
///
/// # Errors
/// [`Error::Invalid`] listing every problem.
pub fn load_str(
    text: &str,
    file: &str,
    overrides: &Overrides,
    host: &HostDefaults,
) -> Result<ResolvedConfig, Error> {
    let docs = load_documents(text, file).map_err(|issues| Error::Invalid { issues })?;
    resolve(docs, overrides, host)
}

/// Resolves parsed documents (see [`load`]).
///
/// # Errors
/// [`Error::Invalid`] listing every problem.
pub fn resolve(
    docs: Documents,
    o: &Overrides,
    host: &HostDefaults,
) -> Result<ResolvedConfig, Error> {
    let file = docs.file.clone();
    let (mut init, init_idx) = docs
        .init
        .unwrap_or_else(|| (empty_init(), FieldIndexHandle::default()));
    let (mut cluster, cluster_idx) = docs
        .cluster
        .unwrap_or_else(|| (empty_cluster(), FieldIndexHandle::default()));
    let (mut reset, reset_idx) = docs
        .reset
        .unwrap_or_else(|| (empty_reset(), FieldIndexHandle::default()));

    // Overrides: remember which field each flag set, so errors name the flag.
    let mut flags: BTreeMap<String, &'static str> = BTreeMap::new();
    let mut put =
        |slot: &mut Option<String>, v: &Option<String>, path: &str, flag: &'static str| {
            if let Some(v) = v {
                *slot = Some(v.clone());
                flags.insert(path.to_string(), flag);
            }
        };
    put(
        &mut cluster.kubernetes_version,
        &o.kubernetes_version,
        "ClusterConfiguration.kubernetesVersion",
        "--kubernetes-version",
    );
    put(
        &mut init.local_api_endpoint.advertise_address,
        &o.apiserver_advertise_address,
        "InitConfiguration.localAPIEndpoint.advertiseAddress",
        "--apiserver-advertise-address",
    );
    put(
        &mut cluster.control_plane_endpoint,
        &o.control_plane_endpoint,
        "ClusterConfiguration.controlPlaneEndpoint",
        "--control-plane-endpoint",
    );
    put(
        &mut init.node_registration.name,
        &o.node_name,
        "InitConfiguration.nodeRegistration.name",
        "--node-name",
    );
    put(
        &mut cluster.networking.pod_subnet,
        &o.pod_network_cidr,
        "ClusterConfiguration.networking.podSubnet",
        "--pod-network-cidr",
    );
    put(
        &mut cluster.networking.service_subnet,
        &o.service_cidr,
        "ClusterConfiguration.networking.serviceSubnet",
        "--service-cidr",
    );
    put(
        &mut cluster.networking.dns_domain,
        &o.service_dns_domain,
        "ClusterConfiguration.networking.dnsDomain",
        "--service-dns-domain",
    );
    put(
        &mut cluster.certificates_dir,
        &o.cert_dir,
        "ClusterConfiguration.certificatesDir",
        "--cert-dir",
    );
    put(
        &mut cluster.encryption_algorithm,
        &o.encryption_algorithm,
        "ClusterConfiguration.encryptionAlgorithm",
        "--encryption-algorithm",
    );
    put(
        &mut init.node_registration.cri_socket,
        &o.cri_socket,
        "InitConfiguration.nodeRegistration.criSocket",
        "--cri-socket",
    );
    if let Some(d) = &o.patches {
        init.patches.get_or_insert_with(Default::default).directory = Some(d.clone());
        flags.insert("InitConfiguration.patches.directory".into(), "--patches");
    }
    if let Some(p) = o.apiserver_bind_port {
        init.local_api_endpoint.bind_port = Some(p);
        flags.insert(
            "InitConfiguration.localAPIEndpoint.bindPort".into(),
            "--apiserver-bind-port",
        );
    }
    if !o.ignore_preflight_errors.is_empty() {
        // kubeadm merges the flag's names with the file's.
        init.node_registration
            .ignore_preflight_errors
            .get_or_insert_with(Vec::new)
            .extend(o.ignore_preflight_errors.iter().cloned());
        flags.insert(
            "InitConfiguration.nodeRegistration.ignorePreflightErrors".into(),
            "--ignore-preflight-errors",
        );
    }
    if !o.apiserver_cert_extra_sans.is_empty() {
        let sans = cluster.api_server.cert_sans.get_or_insert_with(Vec::new);
        for s in &o.apiserver_cert_extra_sans {
            flags.insert(
                format!("ClusterConfiguration.apiServer.certSANs[{}]", sans.len()),
                "--apiserver-cert-extra-sans",
            );
            sans.push(s.clone());
        }
    }

    // Dynamic defaults from the host (kubeadm: SetInitDynamicDefaults).
    let mut warnings = docs.warnings;
    if init.node_registration.name.is_none() {
        init.node_registration.name = host.hostname.clone();
    }
    if init.local_api_endpoint.advertise_address.is_none() {
        init.local_api_endpoint.advertise_address = host.default_address.clone();
    }
    default_init(&mut init);
    default_cluster(&mut cluster);
    let cert_dir = cluster.certificates_dir.clone().unwrap_or_default();
    default_reset(&mut reset, &cert_dir);

    let indexes: BTreeMap<&str, &FieldIndex> = [
        ("InitConfiguration", &init_idx.0),
        ("ClusterConfiguration", &cluster_idx.0),
        ("ResetConfiguration", &reset_idx.0),
    ]
    .into_iter()
    .collect();
    let mut v = Validator::new(&file, indexes, flags);
    let resolved = v.resolve_config(init, cluster, reset, docs.kubelet, docs.kube_proxy);
    let mut issues: Vec<Issue> = v.into_issues();
    match resolved {
        Some(mut r) if issues.is_empty() => {
            warnings.append(&mut r.warnings);
            r.warnings = warnings;
            Ok(r)
        }
        _ => {
            if issues.is_empty() {
                issues.push(Issue {
                    kind: ErrorKind::InvalidValue,
                    file,
                    line: None,
                    column: None,
                    field: None,
                    message: "configuration could not be resolved".into(),
                    hint: None,
                });
            }
            Err(Error::Invalid { issues })
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::{EtcdMode, KeyAlgorithm};

    fn facts() -> HostDefaults {
        HostDefaults {
            hostname: Some("cp-1".into()),
            default_address: Some("192.168.122.10".into()),
        }
    }

    #[test]
    fn empty_config_gets_kubeadm_defaults_and_host_facts() {
        let r = load_str("", "<defaults>", &Overrides::default(), &facts()).unwrap();
        assert_eq!(r.node_name, "cp-1");
        assert_eq!(r.advertise_address.to_string(), "192.168.122.10");
        assert_eq!(r.bind_port, 6443);
        assert_eq!(r.kubernetes_version.to_string(), "v1.37.2");
        assert_eq!(r.service_subnets[0].to_string(), "10.96.0.0/12");
        assert_eq!(r.apiserver_service_ip().to_string(), "10.96.0.1");
        assert!(r.pod_subnets.is_empty());
        assert_eq!(r.dns_domain, "cluster.local");
        assert_eq!(r.cluster_name, "kubernetes");
        assert_eq!(r.cert_dir, std::path::PathBuf::from("/etc/kubernetes/pki"));
        assert_eq!(r.image_repository, "registry.k8s.io");
        // plinth's one intended difference from kubeadm's defaults.
        assert_eq!(r.key_algorithm, KeyAlgorithm::EcdsaP256);
        assert_eq!(r.cert_validity, Duration::from_secs(8760 * 3600));
        assert_eq!(r.ca_validity, Duration::from_secs(87600 * 3600));
        assert_eq!(
            r.timeouts.control_plane_component_health_check,
            Duration::from_secs(240)
        );
        assert_eq!(r.timeouts.kubernetes_api_call, Duration::from_secs(60));
        assert_eq!(r.cri_socket, "unix:///var/run/containerd/containerd.sock");
        assert!(matches!(&r.etcd, EtcdMode::Local(l) if l.data_dir == Path::new("/var/lib/etcd")));
        let tokens = r.init.bootstrap_tokens.as_ref().unwrap();
        assert_eq!(tokens.len(), 1);
        assert_eq!(tokens[0].ttl.as_deref(), Some("24h0m0s"));
        assert_eq!(
            tokens[0].token, None,
            "tokens are generated by the bootstrap-token phase"
        );
        assert_eq!(r.init.node_registration.taints, None);
        assert_eq!(r.control_plane_url(), "https://192.168.122.10:6443");
    }

    #[test]
    fn flags_override_the_file() {
        let yaml = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nnetworking:\n  podSubnet: 10.244.0.0/16\nencryptionAlgorithm: RSA-2048\n";
        let o = Overrides {
            pod_network_cidr: Some("10.32.0.0/16".into()),
            encryption_algorithm: Some("RSA-4096".into()),
            apiserver_cert_extra_sans: vec!["extra.example.com".into()],
            control_plane_endpoint: Some("cp.example.com".into()),
            apiserver_bind_port: Some(8443),
            ..Overrides::default()
        };
        let r = load_str(yaml, "c.yaml", &o, &facts()).unwrap();
        assert_eq!(r.pod_subnets[0].to_string(), "10.32.0.0/16");
        assert_eq!(r.key_algorithm, KeyAlgorithm::Rsa4096);
        assert_eq!(r.apiserver_cert_sans, vec!["extra.example.com"]);
        // An endpoint without a port takes the bind port (kubeadm).
        assert_eq!(r.control_plane_url(), "https://cp.example.com:8443");
        assert_eq!(r.local_api_url(), "https://192.168.122.10:8443");
    }

    #[test]
    fn ignore_preflight_errors_merge_file_and_flag_case_insensitively() {
        let yaml = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nnodeRegistration:\n  ignorePreflightErrors:\n  - Swap\n  - NumCPU\n";
        let flag = |names: &[&str]| Overrides {
            ignore_preflight_errors: names.iter().map(|n| (*n).to_string()).collect(),
            ..Overrides::default()
        };
        let r = load_str(yaml, "c.yaml", &flag(&["Port-6443", "SWAP"]), &facts()).unwrap();
        assert_eq!(
            r.ignore_preflight_errors,
            vec!["numcpu", "port-6443", "swap"]
        );
        let r = load_str("", "c.yaml", &flag(&["ALL"]), &facts()).unwrap();
        assert_eq!(r.ignore_preflight_errors, vec!["all"]);
        // `all` with names is an error (kubeadm's rule), naming the flag when it took part...
        let e = load_str(yaml, "c.yaml", &flag(&["all"]), &facts())
            .unwrap_err()
            .to_string();
        assert!(e.contains("--ignore-preflight-errors"), "{e}");
        assert!(
            e.contains("\"all,numcpu,swap\": don't specify individual checks if 'all' is used"),
            "{e}"
        );
        // ... and the file's line when the file alone mixes them.
        let mixed = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nnodeRegistration:\n  ignorePreflightErrors: [all, Swap]\n";
        let e = load_str(mixed, "c.yaml", &Overrides::default(), &facts())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("c.yaml:4") && e.contains("nodeRegistration.ignorePreflightErrors"),
            "{e}"
        );
    }

    #[test]
    fn ipv6_and_dual_stack() {
        let yaml = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint:\n  advertiseAddress: fd00::10\n---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nnetworking:\n  serviceSubnet: fd00:10:96::/112,10.96.0.0/16\n  podSubnet: fd00:10:244::/56,10.244.0.0/16\n";
        let r = load_str(yaml, "c.yaml", &Overrides::default(), &facts()).unwrap();
        assert!(r.is_ipv6());
        assert_eq!(r.apiserver_service_ip().to_string(), "fd00:10:96::1");
        assert_eq!(r.service_subnets.len(), 2);
        assert_eq!(r.pod_subnets.len(), 2);
        assert_eq!(r.local_api_url(), "https://[fd00::10]:6443");
    }

    #[test]
    fn kubelet_and_proxy_documents_are_kept_and_join_is_ignored_with_a_warning() {
        let yaml = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncgroupDriver: systemd\n---\napiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: nftables\n---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: JoinConfiguration\n";
        let r = load_str(yaml, "c.yaml", &Overrides::default(), &facts()).unwrap();
        assert_eq!(r.kubelet.as_ref().unwrap()["cgroupDriver"], "systemd");
        assert_eq!(r.kube_proxy.as_ref().unwrap()["mode"], "nftables");
        assert!(
            r.warnings
                .iter()
                .any(|w| w.contains("JoinConfiguration") && w.contains("ignored"))
        );
    }

    #[test]
    fn missing_host_facts_are_reported_with_a_fix() {
        let e = load_str(
            "",
            "<defaults>",
            &Overrides::default(),
            &HostDefaults::default(),
        )
        .unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("--node-name"), "{msg}");
        assert!(msg.contains("--apiserver-advertise-address"), "{msg}");
        assert_eq!(e.issues().len(), 2);
    }
}
