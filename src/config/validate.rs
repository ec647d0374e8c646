//! Semantic validation of the defaulted documents, collecting every problem with its position.
//! kubeadm: `app/apis/kubeadm/validation/validation.go` (plinth is stricter in places; see
//! docs/compatibility.md).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;

use super::ResolvedConfig;
use super::defaults::SUPPORTED_MINORS;
use super::error::{ErrorKind, Issue};
use super::locate::FieldIndex;
use super::pathpolicy;
use super::v1beta4::{
    Arg, ClusterConfiguration, EnvVar, HostPathMount, InitConfiguration, ResetConfiguration,
    Timeouts,
};
use super::values::{
    Endpoint, EtcdMode, ExternalEtcdConfig, KeyAlgorithm, KubeVersion, LocalEtcdConfig,
    ResolvedTimeouts, parse_go_duration,
};

pub(crate) struct Validator<'a> {
    file: &'a str,
    indexes: BTreeMap<&'a str, &'a FieldIndex>,
    flags: BTreeMap<String, &'static str>,
    issues: Vec<Issue>,
}

const INIT: &str = "InitConfiguration";
const CLUSTER: &str = "ClusterConfiguration";
const RESET: &str = "ResetConfiguration";

/// kubeadm's feature gates in 1.37 (only RootlessControlPlane is left).
const FEATURE_GATES: &[&str] = &["RootlessControlPlane"];

/// Gates kubeadm knows but plinth cannot honour when enabled (rendering refuses them too).
const UNSUPPORTED_FEATURE_GATES: &[&str] = &["RootlessControlPlane"];

impl<'a> Validator<'a> {
    pub(crate) fn new(
        file: &'a str,
        indexes: BTreeMap<&'a str, &'a FieldIndex>,
        flags: BTreeMap<String, &'static str>,
    ) -> Self {
        Validator {
            file,
            indexes,
            flags,
            issues: Vec::new(),
        }
    }

    pub(crate) fn into_issues(mut self) -> Vec<Issue> {
        self.issues
            .sort_by_key(|i| (i.file != self.file, i.line, i.column));
        self.issues
    }

    /// Records a problem at `doc.path`, naming the flag instead when a flag set the value.
    fn err(&mut self, doc: &str, path: &str, message: String, hint: Option<String>) {
        let full = format!("{doc}.{path}");
        if let Some(flag) = self.flags.get(&full) {
            self.issues.push(Issue {
                kind: ErrorKind::InvalidFlag,
                file: "command line".into(),
                line: None,
                column: None,
                field: Some((*flag).to_string()),
                message,
                hint,
            });
            return;
        }
        let pos = self.indexes.get(doc).and_then(|i| i.find(path));
        self.issues.push(Issue {
            kind: ErrorKind::InvalidValue,
            file: self.file.to_string(),
            line: pos.map(|p| p.line),
            column: pos.map(|p| p.column),
            field: Some(full),
            message,
            hint,
        });
    }

    /// Applies the path policy to a directory plinth writes to or cleans; true when it passes.
    fn owned_dir(&mut self, doc: &str, path: &str, dir: &str) -> bool {
        match pathpolicy::check_dir(dir) {
            Ok(()) => true,
            Err(e) => {
                self.err(doc, path, format!("{dir:?}: {e}"), Some(e.hint()));
                false
            }
        }
    }

    /// `certificatesDir`: the path policy, and reset cleans it, so it may not hold the
    /// kubeconfigs, manifests or kubelet files (it may sit inside /etc/kubernetes, as by default).
    fn cert_dir(&mut self, doc: &str, cert_dir: &str) -> bool {
        if !self.owned_dir(doc, "certificatesDir", cert_dir) {
            return false;
        }
        for (other, what) in [
            // kubeadm's fixed directories (`app/constants/constants.go`).
            ("/etc/kubernetes", "the kubeconfig directory"),
            (
                "/etc/kubernetes/manifests",
                "the static Pod manifest directory",
            ),
            ("/var/lib/kubelet", "the kubelet directory"),
        ] {
            if Path::new(other).starts_with(cert_dir) {
                self.err(
                    doc,
                    "certificatesDir",
                    format!("{cert_dir:?} holds {what} {other}"),
                    Some("use a directory of its own, e.g. /etc/kubernetes/pki".into()),
                );
                return false;
            }
        }
        true
    }

    /// What `reset` reads from a config file, under the same rules as init: the directories it
    /// cleans and its timeouts. (reset used to take these unchecked, and `certificatesDir: "/"`
    /// emptied the root file system.)
    pub(crate) fn reset_paths(
        &mut self,
        cluster: &ClusterConfiguration,
        reset: &ResetConfiguration,
    ) {
        let cert_dir = cluster.certificates_dir.clone();
        if let Some(c) = &cert_dir {
            self.cert_dir(CLUSTER, c);
        }
        if let Some(d) = cluster
            .etcd
            .local
            .as_ref()
            .and_then(|l| l.data_dir.as_ref())
            && self.owned_dir(CLUSTER, "etcd.local.dataDir", d)
        {
            self.apart(
                d,
                "etcd.local.dataDir",
                cert_dir.as_deref().unwrap_or("/etc/kubernetes/pki"),
            );
        }
        if let Some(c) = &reset.certificates_dir {
            self.cert_dir(RESET, c);
        }
        let _ = self.timeouts(RESET, reset.timeouts.as_ref());
        if let Some(s) = reset.cri_socket.as_deref().filter(|s| !s.is_empty())
            && !(s.starts_with("unix:///") || s.starts_with('/'))
        {
            self.err(
                RESET,
                "criSocket",
                format!("{s:?} is not a unix socket"),
                Some("use a URL such as unix:///var/run/containerd/containerd.sock".into()),
            );
        }
    }

    /// etcd's data directory may not hold, or sit inside, plinth's other directories: reset
    /// cleans it, and cleaning must never reach the PKI, the manifests or the kubelet's files.
    fn apart(&mut self, data_dir: &str, path: &str, cert_dir: &str) {
        let d = Path::new(data_dir);
        for (other, what) in [
            (cert_dir, "certificatesDir"),
            // kubeadm's fixed directories (`app/constants/constants.go`).
            ("/etc/kubernetes", "the kubeconfig directory"),
            (
                "/etc/kubernetes/manifests",
                "the static Pod manifest directory",
            ),
            ("/var/lib/kubelet", "the kubelet directory"),
        ] {
            let o = Path::new(other);
            if o.starts_with(d) || d.starts_with(o) {
                self.err(
                    CLUSTER,
                    path,
                    format!("{data_dir:?} overlaps {what} {other}"),
                    Some("give etcd a directory of its own, e.g. /var/lib/etcd".into()),
                );
                return;
            }
        }
    }

    fn duration(
        &mut self,
        doc: &str,
        path: &str,
        v: Option<&String>,
        default: Duration,
    ) -> Duration {
        match v.map(|s| parse_go_duration(s)) {
            Some(Ok(d)) => d,
            Some(Err(m)) => {
                self.err(
                    doc,
                    path,
                    m,
                    Some("use Go duration syntax, e.g. 8760h0m0s".into()),
                );
                default
            }
            None => default,
        }
    }

    fn timeouts(&mut self, doc: &str, t: Option<&Timeouts>) -> ResolvedTimeouts {
        let t = t.cloned().unwrap_or_default();
        let m = |x: u64| Duration::from_secs(x * 60);
        ResolvedTimeouts {
            control_plane_component_health_check: self.duration(
                doc,
                "timeouts.controlPlaneComponentHealthCheck",
                t.control_plane_component_health_check.as_ref(),
                m(4),
            ),
            kubelet_health_check: self.duration(
                doc,
                "timeouts.kubeletHealthCheck",
                t.kubelet_health_check.as_ref(),
                m(4),
            ),
            kubernetes_api_call: self.duration(
                doc,
                "timeouts.kubernetesAPICall",
                t.kubernetes_api_call.as_ref(),
                m(1),
            ),
            etcd_api_call: self.duration(
                doc,
                "timeouts.etcdAPICall",
                t.etcd_api_call.as_ref(),
                m(2),
            ),
            tls_bootstrap: self.duration(
                doc,
                "timeouts.tlsBootstrap",
                t.tls_bootstrap.as_ref(),
                m(5),
            ),
            discovery: self.duration(doc, "timeouts.discovery", t.discovery.as_ref(), m(5)),
            upgrade_manifests: self.duration(
                doc,
                "timeouts.upgradeManifests",
                t.upgrade_manifests.as_ref(),
                m(5),
            ),
        }
    }

    fn cidrs(
        &mut self,
        path: &str,
        value: &str,
        what: &str,
        max_host_bits: Option<u32>,
    ) -> Vec<IpNet> {
        let mut out = Vec::new();
        let parts: Vec<&str> = value.split(',').map(str::trim).collect();
        if parts.len() > 2 {
            self.err(
                CLUSTER,
                path,
                format!(
                    "{value:?} has {} CIDRs; at most two (one IPv4, one IPv6) are allowed",
                    parts.len()
                ),
                None,
            );
            return out;
        }
        for p in &parts {
            match p.parse::<IpNet>() {
                Ok(n) => {
                    let host_bits = u32::from(n.max_prefix_len() - n.prefix_len());
                    if let Some(max) = max_host_bits
                        && host_bits > max {
                            self.err(CLUSTER, path, format!("{what} {p} is too large: {host_bits} host bits, at most {max} are allowed"), Some(format!("use a prefix of /{} or longer", n.max_prefix_len() as u32 - max)));
                        }
                    out.push(n.trunc());
                }
                Err(_) => self.err(CLUSTER, path, format!("{p:?} is not a valid {what} CIDR"), Some("write it as address/prefix, e.g. 10.244.0.0/16 or fd00::/56; separate a dual-stack pair with a comma".into())),
            }
        }
        if out.len() == 2 && out[0].addr().is_ipv4() == out[1].addr().is_ipv4() {
            self.err(
                CLUSTER,
                path,
                format!("dual-stack {what} {value:?} must be one IPv4 and one IPv6 CIDR"),
                None,
            );
        }
        out
    }

    fn sans(&mut self, doc: &str, path: &str, list: Option<&Vec<String>>) -> Vec<String> {
        let list = list.cloned().unwrap_or_default();
        for (i, s) in list.iter().enumerate() {
            if s.parse::<IpAddr>().is_err() && !is_dns_subdomain(s.strip_prefix("*.").unwrap_or(s))
            {
                self.err(doc, &format!("{path}[{i}]"), format!("{s:?} is neither an IP address nor a valid DNS name"), Some("use an IP address, a lower-case RFC 1123 DNS name or a wildcard such as *.example.com".into()));
            }
        }
        list
    }

    fn args(&mut self, doc: &str, path: &str, args: Option<&Vec<Arg>>) {
        for (i, a) in args.into_iter().flatten().enumerate() {
            if a.name.is_empty() {
                self.err(
                    doc,
                    &format!("{path}[{i}].name"),
                    "flag name is empty".into(),
                    None,
                );
            } else if a.name.starts_with('-') {
                self.err(
                    doc,
                    &format!("{path}[{i}].name"),
                    format!("flag name {:?} starts with a dash", a.name),
                    Some(format!(
                        "write the name without dashes: {:?}",
                        a.name.trim_start_matches('-')
                    )),
                );
            } else if a.name.contains('=') || a.name.chars().any(char::is_whitespace) {
                self.err(
                    doc,
                    &format!("{path}[{i}].name"),
                    format!("flag name {:?} contains '=' or whitespace", a.name),
                    Some("put the value in `value:`".into()),
                );
            }
        }
    }

    fn envs(&mut self, doc: &str, path: &str, envs: Option<&Vec<EnvVar>>) {
        for (i, e) in envs.into_iter().flatten().enumerate() {
            if e.name.is_empty() || e.name.contains('=') {
                self.err(
                    doc,
                    &format!("{path}[{i}].name"),
                    format!("{:?} is not a valid environment variable name", e.name),
                    None,
                );
            }
            if e.value.is_some() && e.value_from.is_some() {
                self.err(
                    doc,
                    &format!("{path}[{i}]"),
                    "value and valueFrom are mutually exclusive".into(),
                    None,
                );
            }
        }
    }

    fn volumes(&mut self, doc: &str, path: &str, vols: Option<&Vec<HostPathMount>>) {
        const TYPES: &[&str] = &[
            "",
            "DirectoryOrCreate",
            "Directory",
            "FileOrCreate",
            "File",
            "Socket",
            "CharDevice",
            "BlockDevice",
        ];
        for (i, v) in vols.into_iter().flatten().enumerate() {
            if !is_dns_label(&v.name) {
                self.err(
                    doc,
                    &format!("{path}[{i}].name"),
                    format!("{:?} is not a valid volume name", v.name),
                    Some("use lower-case letters, digits and '-', at most 63 characters".into()),
                );
            }
            for (f, p) in [("hostPath", &v.host_path), ("mountPath", &v.mount_path)] {
                if !p.starts_with('/') {
                    self.err(
                        doc,
                        &format!("{path}[{i}].{f}"),
                        format!("{p:?} is not an absolute path"),
                        None,
                    );
                }
            }
            if let Some(t) = &v.path_type
                && !TYPES.contains(&t.as_str())
            {
                self.err(
                    doc,
                    &format!("{path}[{i}].pathType"),
                    format!("unknown hostPath type {t:?}"),
                    Some(format!("use one of {}", TYPES[1..].join(", "))),
                );
            }
        }
    }

    /// The patches directory must exist when the config is loaded, not when the first phase
    /// that renders runs (after the certificates are written). A relative path is relative to
    /// the working directory, as in kubeadm.
    fn patches_dir(&mut self, dir: &Path) {
        const FIELD: &str = "patches.directory";
        match std::fs::metadata(dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => self.err(
                INIT,
                FIELD,
                format!("patches directory {} is not a directory", dir.display()),
                Some("give the directory that holds the patch files".into()),
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => self.err(
                INIT,
                FIELD,
                format!("patches directory {} does not exist", dir.display()),
                Some("create it, fix the path, or remove patches.directory / --patches".into()),
            ),
            Err(e) => self.err(
                INIT,
                FIELD,
                format!("patches directory {} cannot be read: {e}", dir.display()),
                Some("check the path and its permissions".into()),
            ),
        }
    }

    #[allow(clippy::too_many_lines)]
    pub(crate) fn resolve(
        &mut self,
        init: InitConfiguration,
        cluster: ClusterConfiguration,
        reset: ResetConfiguration,
        kubelet: Option<serde_json::Value>,
        kube_proxy: Option<serde_json::Value>,
    ) -> Option<ResolvedConfig> {
        let mut warnings = Vec::new();

        // kubernetesVersion
        let version_str = cluster.kubernetes_version.clone().unwrap_or_default();
        let version = match version_str.parse::<KubeVersion>() {
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
        };

        // nodeRegistration
        let nr = &init.node_registration;
        let node_name = nr.name.clone().unwrap_or_default();
        if node_name.is_empty() {
            self.err(
                INIT,
                "nodeRegistration.name",
                "the node name is empty and the hostname could not be read".into(),
                Some("set nodeRegistration.name or pass --node-name".into()),
            );
        } else if !is_dns_subdomain(&node_name) {
            self.err(
                INIT,
                "nodeRegistration.name",
                format!("{node_name:?} is not a valid node name"),
                Some("use a lower-case RFC 1123 DNS subdomain, e.g. cp-1".into()),
            );
        }
        // kubeadm ValidateIgnorePreflightErrors: case-insensitive names, file and flag merged,
        // `all` alone.
        let mut ignore_preflight_errors: Vec<String> = nr
            .ignore_preflight_errors
            .iter()
            .flatten()
            .map(|n| n.trim().to_lowercase())
            .filter(|n| !n.is_empty())
            .collect();
        ignore_preflight_errors.sort();
        ignore_preflight_errors.dedup();
        if ignore_preflight_errors.len() > 1 && ignore_preflight_errors.iter().any(|n| n == "all") {
            self.err(
                INIT,
                "nodeRegistration.ignorePreflightErrors",
                format!(
                    "{:?}: don't specify individual checks if 'all' is used",
                    ignore_preflight_errors.join(",")
                ),
                Some("give either all or a list of check names".into()),
            );
        }
        let cri_socket = nr.cri_socket.clone().unwrap_or_default();
        if !(cri_socket.starts_with("unix:///") || cri_socket.starts_with('/')) {
            self.err(
                INIT,
                "nodeRegistration.criSocket",
                format!("{cri_socket:?} is not a unix socket"),
                Some("use a URL such as unix:///var/run/containerd/containerd.sock".into()),
            );
        }
        if let Some(p) = &nr.image_pull_policy
            && !["Always", "IfNotPresent", "Never"].contains(&p.as_str())
        {
            self.err(
                INIT,
                "nodeRegistration.imagePullPolicy",
                format!("unknown image pull policy {p:?}"),
                Some("use Always, IfNotPresent or Never".into()),
            );
        }
        for (i, t) in nr.taints.iter().flatten().enumerate() {
            if !["NoSchedule", "PreferNoSchedule", "NoExecute"].contains(&t.effect.as_str()) {
                self.err(
                    INIT,
                    &format!("nodeRegistration.taints[{i}].effect"),
                    format!("unknown taint effect {:?}", t.effect),
                    Some("use NoSchedule, PreferNoSchedule or NoExecute".into()),
                );
            }
            if t.key.is_empty() {
                self.err(
                    INIT,
                    &format!("nodeRegistration.taints[{i}].key"),
                    "taint key is empty".into(),
                    None,
                );
            }
        }
        self.args(
            INIT,
            "nodeRegistration.kubeletExtraArgs",
            nr.kubelet_extra_args.as_ref(),
        );

        // localAPIEndpoint
        let adv_str = init
            .local_api_endpoint
            .advertise_address
            .clone()
            .unwrap_or_default();
        let advertise = if adv_str.is_empty() {
            self.err(
                INIT,
                "localAPIEndpoint.advertiseAddress",
                "no advertise address is set and no default-route address was found".into(),
                Some(
                    "set localAPIEndpoint.advertiseAddress or pass --apiserver-advertise-address"
                        .into(),
                ),
            );
            None
        } else {
            match adv_str.parse::<IpAddr>() {
                Ok(ip) if ip.is_unspecified() || ip.is_multicast() || is_broadcast(ip) => {
                    self.err(
                        INIT,
                        "localAPIEndpoint.advertiseAddress",
                        format!("{ip} cannot be advertised"),
                        Some("use the node's own unicast address".into()),
                    );
                    None
                }
                Ok(ip) => Some(ip),
                Err(_) => {
                    self.err(
                        INIT,
                        "localAPIEndpoint.advertiseAddress",
                        format!("{adv_str:?} is not an IP address"),
                        Some("use an IPv4 or IPv6 address such as 192.168.1.10".into()),
                    );
                    None
                }
            }
        };
        let bind_port = match init.local_api_endpoint.bind_port {
            Some(p) if (1..=65535).contains(&p) => u16::try_from(p).ok(),
            Some(p) => {
                self.err(
                    INIT,
                    "localAPIEndpoint.bindPort",
                    format!("port {p} is out of range"),
                    Some("use 1-65535".into()),
                );
                None
            }
            None => Some(6443),
        };

        // controlPlaneEndpoint
        let cpe = match (
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
        };

        // networking
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

        // PKI
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

        // components
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

        // etcd
        let etcd = match (&cluster.etcd.local, &cluster.etcd.external) {
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
                    self.apart(&data_dir, "etcd.local.dataDir", &cert_dir);
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
        };

        // bootstrap tokens
        for (i, t) in init.bootstrap_tokens.iter().flatten().enumerate() {
            if let Some(tok) = &t.token
                && !is_token(tok)
            {
                self.err(INIT, &format!("bootstrapTokens[{i}].token"), "the token does not match [a-z0-9]{6}.[a-z0-9]{16}".into(), Some("generate one with `plinth token generate` or leave it empty to get a random one".into()));
            }
            if t.ttl.is_some() && t.expires.is_some() {
                self.err(
                    INIT,
                    &format!("bootstrapTokens[{i}]"),
                    "ttl and expires are mutually exclusive".into(),
                    None,
                );
            }
            if let Some(ttl) = &t.ttl
                && let Err(m) = parse_go_duration(ttl)
            {
                self.err(INIT, &format!("bootstrapTokens[{i}].ttl"), m, None);
            }
            for (j, u) in t.usages.iter().flatten().enumerate() {
                if !["signing", "authentication"].contains(&u.as_str()) {
                    self.err(
                        INIT,
                        &format!("bootstrapTokens[{i}].usages[{j}]"),
                        format!("unknown token usage {u:?}"),
                        Some("use signing and/or authentication".into()),
                    );
                }
            }
            for (j, g) in t.groups.iter().flatten().enumerate() {
                if !is_bootstrap_group(g) {
                    self.err(
                        INIT,
                        &format!("bootstrapTokens[{i}].groups[{j}]"),
                        format!("{g:?} is not a bootstrap group"),
                        Some("groups must match system:bootstrappers:[a-z0-9:-]*[a-z0-9]".into()),
                    );
                }
            }
        }

        let timeouts = self.timeouts(INIT, init.timeouts.as_ref());
        let _ = self.timeouts(RESET, reset.timeouts.as_ref());
        if let Some(c) = &reset.certificates_dir {
            // Defaulted from certificatesDir, which is already checked above.
            if cluster.certificates_dir.as_ref() != Some(c) {
                self.cert_dir(RESET, c);
            }
        }
        let patches_dir = init
            .patches
            .as_ref()
            .and_then(|p| p.directory.as_ref())
            .filter(|d| !d.is_empty())
            .map(PathBuf::from);
        if let Some(d) = &patches_dir {
            self.patches_dir(d);
        }
        let skip_phases = init.skip_phases.clone().unwrap_or_default();

        Some(ResolvedConfig {
            source: None,
            kubernetes_version: version?,
            node_name,
            cri_socket,
            advertise_address: advertise?,
            bind_port: bind_port?,
            control_plane_endpoint: cpe,
            service_subnets,
            pod_subnets,
            dns_domain,
            cluster_name,
            cert_dir: PathBuf::from(cert_dir),
            image_repository,
            key_algorithm: key_algorithm?,
            cert_validity,
            ca_validity,
            apiserver_cert_sans,
            etcd: etcd?,
            timeouts,
            patches_dir,
            skip_phases,
            ignore_preflight_errors,
            warnings,
            init,
            cluster,
            reset,
            kubelet,
            kube_proxy,
        })
    }
}

/// Splits `host[:port]` / `[v6]:port` / bare IPv6.
fn parse_endpoint(s: &str, default_port: u16) -> Result<Endpoint, String> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (h, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("{s:?} has an unclosed '['"))?;
        match after.strip_prefix(':') {
            Some(p) => (h.to_string(), Some(p)),
            None if after.is_empty() => (h.to_string(), None),
            None => return Err(format!("{s:?} is not host:port")),
        }
    } else if s.parse::<IpAddr>().is_ok() {
        (s.to_string(), None)
    } else if let Some((h, p)) = s.rsplit_once(':') {
        (h.to_string(), Some(p))
    } else {
        (s.to_string(), None)
    };
    if host.parse::<IpAddr>().is_err() && !is_dns_subdomain(&host) {
        return Err(format!(
            "{host:?} is neither an IP address nor a valid DNS name"
        ));
    }
    let port = match port {
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => n,
            _ => return Err(format!("{p:?} is not a valid port")),
        },
        None => default_port,
    };
    Ok(Endpoint { host, port })
}

/// 255.255.255.255 (the limited broadcast address): no API server can be reached there.
fn is_broadcast(ip: IpAddr) -> bool {
    matches!(ip, IpAddr::V4(v4) if v4.is_broadcast())
}

fn is_token(t: &str) -> bool {
    let ok = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    matches!(t.split_once('.'), Some((a, b)) if ok(a, 6) && ok(b, 16))
}

fn is_bootstrap_group(g: &str) -> bool {
    let Some(rest) = g.strip_prefix("system:bootstrappers:") else {
        return false;
    };
    !rest.is_empty()
        && rest.len() <= 256
        && rest
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b':' || b == b'-')
        && rest
            .bytes()
            .last()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// RFC 1123 label: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters.
pub(crate) fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// RFC 1123 subdomain: dot-separated labels, at most 253 characters.
pub(crate) fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns_label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        assert_eq!(
            parse_endpoint("cp.example.com", 6443).unwrap(),
            Endpoint {
                host: "cp.example.com".into(),
                port: 6443
            }
        );
        assert_eq!(parse_endpoint("10.0.0.1:443", 6443).unwrap().port, 443);
        assert_eq!(
            parse_endpoint("[fd00::1]:8443", 6443).unwrap(),
            Endpoint {
                host: "fd00::1".into(),
                port: 8443
            }
        );
        assert_eq!(parse_endpoint("fd00::1", 6443).unwrap().host, "fd00::1");
        assert!(parse_endpoint("cp.example.com:0", 6443).is_err());
        assert!(parse_endpoint("bad_host:6443", 6443).is_err());
        assert!(parse_endpoint("[fd00::1", 6443).is_err());
    }

    #[test]
    fn tokens_and_groups() {
        assert!(is_token("abcdef.0123456789abcdef"));
        assert!(!is_token("ABCDEF.0123456789abcdef"));
        assert!(!is_token("abcdef0123456789abcdef"));
        assert!(is_bootstrap_group(
            "system:bootstrappers:kubeadm:default-node-token"
        ));
        assert!(!is_bootstrap_group("system:masters"));
    }

    fn load(yaml: &str, o: &crate::config::Overrides) -> Result<ResolvedConfig, Vec<Issue>> {
        let facts = crate::config::HostFacts {
            hostname: Some("cp-1".into()),
            default_address: Some("10.0.0.10".into()),
        };
        crate::config::load_str(yaml, "c.yaml", o, &facts).map_err(|e| e.issues().to_vec())
    }

    const INIT_DOC: &str = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\n";

    #[test]
    fn the_limited_broadcast_address_cannot_be_advertised() {
        let yaml = format!("{INIT_DOC}localAPIEndpoint:\n  advertiseAddress: 255.255.255.255\n");
        let i = load(&yaml, &Default::default()).unwrap_err();
        assert_eq!(i.len(), 1, "{i:?}");
        assert_eq!(
            i[0].field.as_deref(),
            Some("InitConfiguration.localAPIEndpoint.advertiseAddress")
        );
        assert_eq!(i[0].line, Some(4));
        assert!(i[0].message.contains("cannot be advertised"), "{}", i[0]);
        let flag = crate::config::Overrides {
            apiserver_advertise_address: Some("255.255.255.255".into()),
            ..Default::default()
        };
        let i = load("", &flag).unwrap_err();
        assert_eq!(i[0].field.as_deref(), Some("--apiserver-advertise-address"));
        // A subnet's last address may be a host address: only the limited broadcast is known.
        let yaml = format!("{INIT_DOC}localAPIEndpoint:\n  advertiseAddress: 10.0.0.255\n");
        assert!(load(&yaml, &Default::default()).is_ok());
    }

    #[test]
    fn an_enabled_rootless_control_plane_gate_is_a_located_config_error() {
        let doc = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nfeatureGates:\n  RootlessControlPlane: true\n";
        let i = load(doc, &Default::default()).unwrap_err();
        assert_eq!(i.len(), 1, "{i:?}");
        assert_eq!(
            i[0].field.as_deref(),
            Some("ClusterConfiguration.featureGates.RootlessControlPlane")
        );
        assert_eq!((i[0].line, i[0].column), (Some(4), Some(3)));
        assert!(i[0].message.contains("does not support"), "{}", i[0]);
        assert!(i[0].hint.as_deref().unwrap().contains("false"), "{}", i[0]);
        assert!(load(&doc.replace("true", "false"), &Default::default()).is_ok());
    }

    #[test]
    fn a_missing_patches_directory_is_a_located_config_error() {
        let d = tempfile::tempdir().unwrap();
        let missing = d.path().join("nope");
        let yaml = format!("{INIT_DOC}patches:\n  directory: {}\n", missing.display());
        let i = load(&yaml, &Default::default()).unwrap_err();
        assert_eq!(i.len(), 1, "{i:?}");
        assert_eq!(
            i[0].field.as_deref(),
            Some("InitConfiguration.patches.directory")
        );
        assert_eq!(i[0].line, Some(4));
        assert!(i[0].message.contains("does not exist"), "{}", i[0]);
        // A file is not a directory.
        let file = d.path().join("f");
        std::fs::write(&file, "").unwrap();
        let yaml = format!("{INIT_DOC}patches:\n  directory: {}\n", file.display());
        let i = load(&yaml, &Default::default()).unwrap_err();
        assert!(i[0].message.contains("is not a directory"), "{}", i[0]);
        // The flag is named when the flag gave it.
        let flag = crate::config::Overrides {
            patches: Some(missing.display().to_string()),
            ..Default::default()
        };
        let i = load("", &flag).unwrap_err();
        assert_eq!(i[0].field.as_deref(), Some("--patches"));
        // An existing directory is fine.
        let yaml = format!("{INIT_DOC}patches:\n  directory: {}\n", d.path().display());
        assert!(load(&yaml, &Default::default()).is_ok());
    }
}
