//! Command lines of the four static Pods, computed exactly as kubeadm does: a list of default
//! `{name, value}` arguments, then the user's v1beta4 `extraArgs` applied on top.
//! Knows nothing of templates: the result is a list of whole `--name=value` strings.

use std::collections::BTreeSet;

use crate::config::v1beta4::Arg;
use crate::config::{EtcdMode, ResolvedConfig, join_host_port};
use crate::host::Paths;
use crate::kubeconfig::{CONTROLLER_MANAGER_FILE, SCHEDULER_FILE};
use crate::pki::{
    APISERVER, APISERVER_ETCD_CLIENT, APISERVER_KUBELET_CLIENT, CA, CertSpec, ETCD_CA, ETCD_PEER,
    ETCD_SERVER, FRONT_PROXY_CA, FRONT_PROXY_CLIENT, SA_KEY_FILE, SA_PUB_FILE,
};

use super::Component;

/// The etcd client port (kubeadm `EtcdListenClientPort`).
pub(crate) const ETCD_CLIENT_PORT: u16 = 2379;
/// The etcd peer port (kubeadm `EtcdListenPeerPort`).
pub(crate) const ETCD_PEER_PORT: u16 = 2380;
/// The etcd metrics port used by the probes (kubeadm `EtcdMetricsPort`).
pub(crate) const ETCD_METRICS_PORT: u16 = 2381;

/// The authorization modes kube-apiserver knows (kubeadm `isValidAuthzMode`).
const AUTHZ_MODES: [&str; 6] = [
    "Node",
    "RBAC",
    "Webhook",
    "ABAC",
    "AlwaysAllow",
    "AlwaysDeny",
];

fn arg(name: &str, value: impl Into<String>) -> Arg {
    Arg {
        name: name.to_string(),
        value: value.into(),
    }
}

/// Replaces every default named `name` with one `value` (kubeadm `SetArgValues(.., 1)`).
fn set(args: &mut Vec<Arg>, name: &str, value: impl Into<String>) {
    args.retain(|a| a.name != name);
    args.push(arg(name, value));
}

/// The value of the last `name` in `args` (kubeadm `GetArgValue(args, name, -1)`: Cobra keeps
/// the last occurrence of a flag that may not repeat).
pub(crate) fn last_value<'a>(args: &'a [Arg], name: &str) -> Option<&'a str> {
    args.iter()
        .rev()
        .find(|a| a.name == name)
        .map(|a| a.value.as_str())
}

/// Merges defaults with user overrides into `--name=value` strings.
///
/// Every override removes *all* defaults of the same name; repeated overrides are all kept.
/// Since PR#135400 (1.36, backported to 1.32–1.35 patch releases) only the defaults are sorted
/// (by name, then value); the overrides keep the order the user gave and follow the remaining
/// defaults (kubeadm 1.37 as observed by the parity test; the old doc comment there said the
/// opposite).
// kubeadm: app/util/arguments.go ArgumentsToCommand
#[must_use]
pub fn arguments_to_command(base: &[Arg], overrides: &[Arg]) -> Vec<String> {
    let overridden: BTreeSet<&str> = overrides.iter().map(|a| a.name.as_str()).collect();
    let mut kept: Vec<&Arg> = base
        .iter()
        .filter(|a| !overridden.contains(a.name.as_str()))
        .collect();
    kept.sort_by(|a, b| (&a.name, &a.value).cmp(&(&b.name, &b.value)));
    kept.into_iter()
        .chain(overrides)
        .map(|a| format!("--{}={}", a.name, a.value))
        .collect()
}

/// The advertise address exactly as written in the config (kubeadm passes the string through).
pub(crate) fn advertise_address(cfg: &ResolvedConfig) -> String {
    cfg.init
        .local_api_endpoint
        .advertise_address
        .clone()
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| cfg.advertise_address.to_string())
}

/// `127.0.0.1`, or `::1` when the advertise address is IPv6.
pub(crate) fn loopback(cfg: &ResolvedConfig) -> &'static str {
    if cfg.is_ipv6() { "::1" } else { "127.0.0.1" }
}

/// `https://<advertise>:2379` (kubeadm `etcdutil.GetClientURL`).
pub(crate) fn etcd_client_url(cfg: &ResolvedConfig) -> String {
    format!(
        "https://{}",
        join_host_port(&advertise_address(cfg), ETCD_CLIENT_PORT)
    )
}

fn etcd_peer_url(cfg: &ResolvedConfig) -> String {
    format!(
        "https://{}",
        join_host_port(&advertise_address(cfg), ETCD_PEER_PORT)
    )
}

/// The certificate file of `spec` under the PKI directory, as a string.
fn crt(cfg: &ResolvedConfig, spec: &CertSpec) -> String {
    pki(cfg, &spec.cert_file())
}

/// The key file of `spec` under the PKI directory, as a string.
fn key(cfg: &ResolvedConfig, spec: &CertSpec) -> String {
    pki(cfg, &spec.key_file())
}

/// `filepath.Join(certificatesDir, rel)` as a string.
fn pki(cfg: &ResolvedConfig, rel: &str) -> String {
    cfg.cert_dir.join(rel).display().to_string()
}

/// The user's `extraArgs` of a component.
pub(crate) fn extra_args(cfg: &ResolvedConfig, c: Component) -> &[Arg] {
    let cl = &cfg.cluster;
    let args = match c {
        Component::KubeApiserver => cl.api_server.extra_args.as_deref(),
        Component::KubeControllerManager => cl.controller_manager.extra_args.as_deref(),
        Component::KubeScheduler => cl.scheduler.extra_args.as_deref(),
        Component::Etcd => cl.etcd.local.as_ref().and_then(|l| l.extra_args.as_deref()),
    };
    args.unwrap_or_default()
}

/// A component's full command (`command[0]` is the binary) plus warnings kubeadm would print.
/// `external_ca`: the CA key is absent (kubeadm `certphase.UsingExternalCA`).
#[must_use]
pub fn command(
    cfg: &ResolvedConfig,
    paths: &Paths,
    c: Component,
    external_ca: bool,
) -> (Vec<String>, Vec<String>) {
    let mut warnings = Vec::new();
    let defaults = match c {
        Component::KubeApiserver => apiserver_defaults(cfg, &mut warnings),
        Component::KubeControllerManager => controller_manager_defaults(cfg, paths, external_ca),
        Component::KubeScheduler => scheduler_defaults(paths),
        Component::Etcd => etcd_defaults(cfg),
    };
    let mut cmd = vec![c.name().to_string()];
    cmd.extend(arguments_to_command(&defaults, extra_args(cfg, c)));
    (cmd, warnings)
}

// kubeadm: app/phases/controlplane/manifests.go getAPIServerCommand
fn apiserver_defaults(cfg: &ResolvedConfig, warnings: &mut Vec<String>) -> Vec<Arg> {
    let net = &cfg.cluster.networking;
    let mut a = vec![
        arg("advertise-address", advertise_address(cfg)),
        arg("enable-admission-plugins", "NodeRestriction"),
        arg(
            "service-cluster-ip-range",
            net.service_subnet.clone().unwrap_or_default(),
        ),
        arg("service-account-key-file", pki(cfg, SA_PUB_FILE)),
        arg("service-account-signing-key-file", pki(cfg, SA_KEY_FILE)),
        arg(
            "service-account-issuer",
            format!("https://kubernetes.default.svc.{}", cfg.dns_domain),
        ),
        arg("client-ca-file", crt(cfg, CA)),
        arg("tls-cert-file", crt(cfg, APISERVER)),
        arg("tls-private-key-file", key(cfg, APISERVER)),
        arg(
            "kubelet-client-certificate",
            crt(cfg, APISERVER_KUBELET_CLIENT),
        ),
        arg("kubelet-client-key", key(cfg, APISERVER_KUBELET_CLIENT)),
        arg("enable-bootstrap-token-auth", "true"),
        arg("secure-port", cfg.bind_port.to_string()),
        arg("allow-privileged", "true"),
        arg(
            "kubelet-preferred-address-types",
            "InternalIP,ExternalIP,Hostname",
        ),
        arg("requestheader-username-headers", "X-Remote-User"),
        arg("requestheader-group-headers", "X-Remote-Group"),
        arg("requestheader-extra-headers-prefix", "X-Remote-Extra-"),
        arg("requestheader-client-ca-file", crt(cfg, FRONT_PROXY_CA)),
        arg("requestheader-allowed-names", "front-proxy-client"),
        arg("proxy-client-cert-file", crt(cfg, FRONT_PROXY_CLIENT)),
        arg("proxy-client-key-file", key(cfg, FRONT_PROXY_CLIENT)),
    ];
    match &cfg.etcd {
        EtcdMode::External(ext) => {
            set(&mut a, "etcd-servers", ext.endpoints.join(","));
            if let Some(ca) = &ext.ca_file {
                set(&mut a, "etcd-cafile", ca.display().to_string());
            }
            if let (Some(cert), Some(key)) = (&ext.cert_file, &ext.key_file) {
                set(&mut a, "etcd-certfile", cert.display().to_string());
                set(&mut a, "etcd-keyfile", key.display().to_string());
            }
        }
        EtcdMode::Local(_) => {
            let servers = last_value(extra_args(cfg, Component::Etcd), "advertise-client-urls")
                .map(str::to_string)
                .unwrap_or_else(|| {
                    format!(
                        "https://{}",
                        join_host_port(loopback(cfg), ETCD_CLIENT_PORT)
                    )
                });
            set(&mut a, "etcd-servers", servers);
            set(&mut a, "etcd-cafile", crt(cfg, ETCD_CA));
            set(&mut a, "etcd-certfile", crt(cfg, APISERVER_ETCD_CLIENT));
            set(&mut a, "etcd-keyfile", key(cfg, APISERVER_ETCD_CLIENT));
        }
    }
    let extra = extra_args(cfg, Component::KubeApiserver);
    if last_value(extra, "authorization-config").is_none() {
        let modes = authz_modes(last_value(extra, "authorization-mode"), warnings);
        set(&mut a, "authorization-mode", modes);
    }
    a
}

/// `Node,RBAC`, or the user's modes filtered to known ones, with kubeadm's warnings.
// kubeadm: app/phases/controlplane/manifests.go getAuthzModes
fn authz_modes(user: Option<&str>, warnings: &mut Vec<String>) -> String {
    let default = "Node,RBAC";
    let Some(user) = user.filter(|u| !u.is_empty()) else {
        return default.to_string();
    };
    let mut modes = Vec::new();
    for m in user.split(',') {
        if AUTHZ_MODES.contains(&m) {
            modes.push(m);
        } else {
            warnings.push(format!(
                "ignoring unknown kube-apiserver authorization-mode {m:?}"
            ));
        }
    }
    if modes.is_empty() {
        return default.to_string();
    }
    let joined = modes.join(",");
    if joined != default {
        warnings.push(format!(
            "the default kube-apiserver authorization-mode is {default:?}; using {joined:?}"
        ));
    }
    joined
}

// kubeadm: app/phases/controlplane/manifests.go getControllerManagerCommand
fn controller_manager_defaults(cfg: &ResolvedConfig, paths: &Paths, external_ca: bool) -> Vec<Arg> {
    let kubeconfig = paths
        .kubeconfig_dir
        .join(CONTROLLER_MANAGER_FILE)
        .display()
        .to_string();
    let ca = crt(cfg, CA);
    let mut a = vec![
        arg("bind-address", "127.0.0.1"),
        arg("leader-elect", "true"),
        arg("kubeconfig", kubeconfig.clone()),
        arg("authentication-kubeconfig", kubeconfig.clone()),
        arg("authorization-kubeconfig", kubeconfig),
        arg("client-ca-file", ca.clone()),
        arg("requestheader-client-ca-file", crt(cfg, FRONT_PROXY_CA)),
        arg("root-ca-file", ca.clone()),
        arg("service-account-private-key-file", pki(cfg, SA_KEY_FILE)),
        arg("cluster-signing-cert-file", ca),
        arg("cluster-signing-key-file", key(cfg, CA)),
        arg("use-service-account-credentials", "true"),
        arg("controllers", "*,bootstrapsigner,tokencleaner"),
    ];
    // External CA: empty signing files, so the CSR signer does not start without the CA key.
    if external_ca {
        set(&mut a, "cluster-signing-key-file", "");
        set(&mut a, "cluster-signing-cert-file", "");
    }
    let net = &cfg.cluster.networking;
    if let Some(pod) = net.pod_subnet.as_deref().filter(|p| !p.is_empty()) {
        set(&mut a, "allocate-node-cidrs", "true");
        set(&mut a, "cluster-cidr", pod);
        if let Some(svc) = net.service_subnet.as_deref().filter(|s| !s.is_empty()) {
            set(&mut a, "service-cluster-ip-range", svc);
        }
    }
    if !cfg.cluster_name.is_empty() {
        set(&mut a, "cluster-name", cfg.cluster_name.clone());
    }
    a
}

// kubeadm: app/phases/controlplane/manifests.go getSchedulerCommand
fn scheduler_defaults(paths: &Paths) -> Vec<Arg> {
    let kubeconfig = paths
        .kubeconfig_dir
        .join(SCHEDULER_FILE)
        .display()
        .to_string();
    vec![
        arg("bind-address", "127.0.0.1"),
        arg("leader-elect", "true"),
        arg("kubeconfig", kubeconfig.clone()),
        arg("authentication-kubeconfig", kubeconfig.clone()),
        arg("authorization-kubeconfig", kubeconfig),
    ]
}

// kubeadm: app/phases/etcd/local.go getEtcdCommand (init: a single-member cluster)
fn etcd_defaults(cfg: &ResolvedConfig) -> Vec<Arg> {
    let lo = loopback(cfg);
    let client = etcd_client_url(cfg);
    let peer = etcd_peer_url(cfg);
    let data_dir = match &cfg.etcd {
        EtcdMode::Local(l) => l.data_dir.display().to_string(),
        EtcdMode::External(_) => String::new(),
    };
    vec![
        arg("name", cfg.node_name.clone()),
        arg("feature-gates", "InitialCorruptCheck=true"),
        arg(
            "listen-client-urls",
            format!("https://{},{client}", join_host_port(lo, ETCD_CLIENT_PORT)),
        ),
        arg("advertise-client-urls", client),
        arg("listen-peer-urls", peer.clone()),
        arg("initial-advertise-peer-urls", peer.clone()),
        arg("data-dir", data_dir),
        arg("cert-file", crt(cfg, ETCD_SERVER)),
        arg("key-file", key(cfg, ETCD_SERVER)),
        arg("trusted-ca-file", crt(cfg, ETCD_CA)),
        arg("client-cert-auth", "true"),
        arg("peer-cert-file", crt(cfg, ETCD_PEER)),
        arg("peer-key-file", key(cfg, ETCD_PEER)),
        arg("peer-trusted-ca-file", crt(cfg, ETCD_CA)),
        arg("peer-client-cert-auth", "true"),
        arg("snapshot-count", "10000"),
        arg(
            "listen-metrics-urls",
            format!("http://{}", join_host_port(lo, ETCD_METRICS_PORT)),
        ),
        arg("watch-progress-notify-interval", "5s"),
        arg("initial-cluster", format!("{}={peer}", cfg.node_name)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(n: &str, v: &str) -> Arg {
        arg(n, v)
    }

    #[test]
    fn overrides_remove_every_default_of_the_name_and_keep_their_order() {
        let base = vec![a("b", "1"), a("a", "2"), a("c", "3"), a("c", "0")];
        let over = vec![a("z", "9"), a("c", "x"), a("c", "a")];
        assert_eq!(
            arguments_to_command(&base, &over),
            vec!["--a=2", "--b=1", "--z=9", "--c=x", "--c=a"]
        );
        // Defaults alone are sorted by name, then value.
        assert_eq!(
            arguments_to_command(&base, &[]),
            vec!["--a=2", "--b=1", "--c=0", "--c=3"]
        );
        // An empty value is kept ("--name=").
        assert_eq!(arguments_to_command(&[], &[a("x", "")]), vec!["--x="]);
    }

    #[test]
    fn authorization_modes_are_filtered_with_warnings() {
        let mut w = Vec::new();
        assert_eq!(authz_modes(None, &mut w), "Node,RBAC");
        assert_eq!(authz_modes(Some("Node,RBAC"), &mut w), "Node,RBAC");
        assert!(w.is_empty());
        assert_eq!(
            authz_modes(Some("Node,Bogus,Webhook"), &mut w),
            "Node,Webhook"
        );
        assert_eq!(w.len(), 2, "{w:?}");
        assert_eq!(authz_modes(Some("Bogus"), &mut Vec::new()), "Node,RBAC");
    }
}
