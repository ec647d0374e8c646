//! The view model handed to each static Pod template: every value already computed in Rust
//! (flags, probes, images, volumes, env), so the templates hold layout only.

use serde::Serialize;

use crate::config::v1beta4::EnvVar;
use crate::config::{ResolvedConfig, join_host_port};
use crate::host::Paths;

use super::volumes::{self, HostPathVolume};
use super::{Component, HostView, args};

/// kube-controller-manager's secure port (kubeadm `KubeControllerManagerPort`).
const KCM_PORT: u16 = 10257;
/// kube-scheduler's secure port (kubeadm `KubeSchedulerPort`).
const SCHEDULER_PORT: u16 = 10259;
/// The startup probe's period; its failure threshold covers the health-check timeout.
const STARTUP_PERIOD_SECONDS: u32 = 10;

/// etcd image tags by Kubernetes minor: the default etcd of the kubeadm release of that minor,
/// so a v1.35 control plane gets the etcd kubeadm 1.35 deploys. kubeadm 1.37.2's own table
/// (`constants.SupportedEtcdVersion`) maps 34, 35 and 36 to 3.7.0-0 and 37 falls back to that;
/// the parity test lists the difference (docs/compatibility.md).
// kubeadm: app/constants/constants.go SupportedEtcdVersion, DefaultEtcdVersion per release
const ETCD_VERSIONS: [(u32, &str); 3] = [(35, "3.6.6-0"), (36, "3.6.8-0"), (37, "3.7.0-0")];

/// The values one static Pod template renders. The same shape serves all four templates;
/// fields a component does not have are `None`/empty and its template does not use them.
#[derive(Debug, Clone, Serialize)]
pub struct StaticPodView {
    /// Pod, container and `component` label name, e.g. `kube-apiserver`.
    pub name: String,
    /// `metadata.annotations`, in order.
    pub annotations: Vec<KeyValue>,
    /// Container image.
    pub image: String,
    /// `command`, the binary first, then whole `--name=value` flags.
    pub command: Vec<String>,
    /// Container environment, sorted by name.
    pub env: Vec<EnvView>,
    /// The container port named `probe-port` every probe targets.
    pub probe_port: u16,
    /// Liveness probe.
    pub liveness: ProbeView,
    /// Readiness probe (not for the controller-manager).
    pub readiness: Option<ProbeView>,
    /// Startup probe.
    pub startup: ProbeView,
    /// CPU request.
    pub cpu_request: String,
    /// Memory request (etcd only).
    pub memory_request: Option<String>,
    /// Container mounts, in kubeadm's order.
    pub volume_mounts: Vec<MountView>,
    /// Pod volumes, sorted by name.
    pub volumes: Vec<VolumeView>,
}

/// A map entry that keeps its position.
#[derive(Debug, Clone, Serialize)]
pub struct KeyValue {
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
}

/// One container environment variable.
#[derive(Debug, Clone, Serialize)]
pub struct EnvView {
    /// Name.
    pub name: String,
    /// Literal value; `None` when empty (kubeadm omits it).
    pub value: Option<String>,
    /// `valueFrom`, passed through as given.
    pub value_from: Option<serde_json::Value>,
}

/// An HTTP GET probe.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeView {
    /// Host to probe; `None` lets the kubelet use the Pod IP.
    pub host: Option<String>,
    /// URL path.
    pub path: String,
    /// `HTTP` or `HTTPS`.
    pub scheme: String,
    /// `initialDelaySeconds`; 0 is omitted from the manifest.
    pub initial_delay_seconds: u32,
    /// `timeoutSeconds`.
    pub timeout_seconds: u32,
    /// `failureThreshold`.
    pub failure_threshold: u32,
    /// `periodSeconds`.
    pub period_seconds: u32,
}

/// A container volume mount.
#[derive(Debug, Clone, Serialize)]
pub struct MountView {
    /// Volume name.
    pub name: String,
    /// Path in the container.
    pub mount_path: String,
    /// Read-only (omitted when false).
    pub read_only: bool,
}

/// A hostPath volume.
#[derive(Debug, Clone, Serialize)]
pub struct VolumeView {
    /// Volume name.
    pub name: String,
    /// Path on the host.
    pub path: String,
    /// hostPath type (may be empty, as kubeadm writes it for untyped extra volumes).
    pub path_type: String,
}

/// Where the probes go, as kubeadm computes it.
struct ProbeTarget {
    host: Option<String>,
    port: u16,
    scheme: &'static str,
}

fn probe(t: &ProbeTarget, path: &str, delay: u32, failure: u32, period: u32) -> ProbeView {
    ProbeView {
        host: t.host.clone(),
        path: path.to_string(),
        scheme: t.scheme.to_string(),
        initial_delay_seconds: delay,
        timeout_seconds: 15,
        failure_threshold: failure,
        period_seconds: period,
    }
}

// kubeadm: app/util/staticpod/utils.go LivenessProbe, ReadinessProbe, StartupProbe
fn liveness(t: &ProbeTarget, path: &str) -> ProbeView {
    probe(t, path, 10, 8, 10)
}
fn readiness(t: &ProbeTarget, path: &str) -> ProbeView {
    probe(t, path, 0, 3, 1)
}
fn startup(t: &ProbeTarget, path: &str, cfg: &ResolvedConfig) -> ProbeView {
    let secs = cfg
        .timeouts
        .control_plane_component_health_check
        .as_secs_f64();
    // Enough attempts to cover the whole health-check timeout (initial delay ignored).
    let failure = (secs / f64::from(STARTUP_PERIOD_SECONDS)).ceil();
    // A validated timeout is far below u32::MAX periods.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let failure = failure.max(0.0) as u32;
    probe(
        t,
        path,
        STARTUP_PERIOD_SECONDS,
        failure,
        STARTUP_PERIOD_SECONDS,
    )
}

/// An unspecified bind address cannot be probed: leave the host empty (the Pod IP is used).
// kubeadm: app/util/staticpod/utils.go getProbeAddress
fn probe_address(addr: &str) -> Option<String> {
    (addr != "0.0.0.0" && addr != "::").then(|| addr.to_string())
}

fn bind_address_target(cfg: &ResolvedConfig, c: Component, port: u16) -> ProbeTarget {
    let host = match args::last_value(args::extra_args(cfg, c), "bind-address") {
        Some(a) => probe_address(a),
        None => Some("127.0.0.1".to_string()),
    };
    ProbeTarget {
        host,
        port,
        scheme: "HTTPS",
    }
}

/// etcd's probe endpoint: the first `listen-metrics-urls` entry, else `http://<loopback>:2381`.
// kubeadm: app/util/staticpod/utils.go GetEtcdProbeEndpoint
fn etcd_target(cfg: &ResolvedConfig) -> ProbeTarget {
    let lo = args::loopback(cfg).to_string();
    let default = ProbeTarget {
        host: Some(lo.clone()),
        port: args::ETCD_METRICS_PORT,
        scheme: "HTTP",
    };
    let Some(urls) = args::last_value(
        args::extra_args(cfg, Component::Etcd),
        "listen-metrics-urls",
    ) else {
        return default;
    };
    let first = urls.split(',').next().unwrap_or_default();
    let Some((scheme, rest)) = first.split_once("://") else {
        return default;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let (host, port) = split_authority(authority);
    ProbeTarget {
        host: Some(if host.is_empty() { lo } else { host }),
        port: port
            .and_then(|p| p.parse().ok())
            .unwrap_or(args::ETCD_METRICS_PORT),
        scheme: if scheme == "https" { "HTTPS" } else { "HTTP" },
    }
}

/// `host[:port]` / `[v6][:port]` → (host without brackets, port).
fn split_authority(a: &str) -> (String, Option<&str>) {
    if let Some(rest) = a.strip_prefix('[') {
        let (h, after) = rest.split_once(']').unwrap_or((rest, ""));
        return (h.to_string(), after.strip_prefix(':'));
    }
    match a.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => (h.to_string(), Some(p)),
        _ => (a.to_string(), None),
    }
}

/// `<repository>/<component>:<kubernetesVersion>`; etcd has its own repository and tag.
// kubeadm: app/images/images.go GetKubernetesImage, GetEtcdImage
#[must_use]
pub fn image(cfg: &ResolvedConfig, c: Component) -> String {
    if c == Component::Etcd {
        let local = cfg.cluster.etcd.local.as_ref();
        let repo = local
            .and_then(|l| l.image_repository.clone())
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| cfg.image_repository.clone());
        let tag = local
            .and_then(|l| l.image_tag.clone())
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| etcd_version(cfg.kubernetes_version.minor).to_string());
        return format!("{repo}/etcd:{tag}");
    }
    format!(
        "{}/{}:{}",
        cfg.image_repository,
        c.name(),
        cfg.kubernetes_version
    )
}

/// The etcd tag for a Kubernetes minor; out-of-range minors use the nearest entry.
#[must_use]
pub fn etcd_version(minor: u32) -> &'static str {
    let (first, last) = (ETCD_VERSIONS[0], ETCD_VERSIONS[ETCD_VERSIONS.len() - 1]);
    if minor <= first.0 {
        return first.1;
    }
    ETCD_VERSIONS
        .iter()
        .find(|(m, _)| *m == minor)
        .unwrap_or(&last)
        .1
}

fn extra_envs(cfg: &ResolvedConfig, c: Component) -> &[EnvVar] {
    let cl = &cfg.cluster;
    let v = match c {
        Component::KubeApiserver => cl.api_server.extra_envs.as_deref(),
        Component::KubeControllerManager => cl.controller_manager.extra_envs.as_deref(),
        Component::KubeScheduler => cl.scheduler.extra_envs.as_deref(),
        Component::Etcd => cl.etcd.local.as_ref().and_then(|l| l.extra_envs.as_deref()),
    };
    v.unwrap_or_default()
}

/// Proxy variables (not for etcd) merged with `extraEnvs`: later wins, sorted by name.
// kubeadm: app/util/env.go MergeKubeadmEnvVars; app/util/env.go GetProxyEnvVars
fn env(cfg: &ResolvedConfig, facts: &HostView, c: Component) -> Vec<EnvView> {
    let mut m: std::collections::BTreeMap<String, EnvView> = std::collections::BTreeMap::new();
    if c != Component::Etcd {
        for (name, value) in &facts.proxy_env {
            m.insert(
                name.clone(),
                EnvView {
                    name: name.clone(),
                    value: Some(value.clone()),
                    value_from: None,
                },
            );
        }
    }
    for e in extra_envs(cfg, c) {
        m.insert(
            e.name.clone(),
            EnvView {
                name: e.name.clone(),
                value: e.value.clone().filter(|v| !v.is_empty()),
                value_from: e.value_from.as_ref().map(crate::k8s::default_value_from),
            },
        );
    }
    m.into_values().collect()
}

/// Builds the view model of component `c` and returns it with kubeadm's warnings.
#[must_use]
pub fn view(
    cfg: &ResolvedConfig,
    paths: &Paths,
    facts: &HostView,
    c: Component,
) -> (StaticPodView, Vec<String>) {
    let (command, warnings) = args::command(cfg, paths, c, facts.external_ca);
    let adv = args::advertise_address(cfg);
    let (target, annotations, cpu, memory) = match c {
        Component::KubeApiserver => (
            ProbeTarget {
                host: probe_address(&adv),
                port: cfg.bind_port,
                scheme: "HTTPS",
            },
            vec![KeyValue {
                key: "kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint".into(),
                value: join_host_port(&adv, cfg.bind_port),
            }],
            "250m",
            None,
        ),
        Component::KubeControllerManager => {
            (bind_address_target(cfg, c, KCM_PORT), vec![], "200m", None)
        }
        Component::KubeScheduler => (
            bind_address_target(cfg, c, SCHEDULER_PORT),
            vec![],
            "100m",
            None,
        ),
        Component::Etcd => (
            etcd_target(cfg),
            vec![KeyValue {
                key: "kubeadm.kubernetes.io/etcd.advertise-client-urls".into(),
                value: args::etcd_client_url(cfg),
            }],
            "100m",
            Some("100Mi".to_string()),
        ),
    };
    let (live_path, ready_path, start_path) = match c {
        Component::KubeApiserver | Component::KubeScheduler => {
            ("/livez", Some("/readyz"), "/livez")
        }
        Component::KubeControllerManager => ("/healthz", None, "/healthz"),
        Component::Etcd => ("/livez", Some("/readyz"), "/readyz"),
    };
    let vols = volumes::volumes(cfg, paths, facts, c);
    let mounts: Vec<HostPathVolume> = if c == Component::Etcd {
        volumes::etcd_mounts_order(vols.clone())
    } else {
        vols.clone()
    };
    let view = StaticPodView {
        name: c.name().to_string(),
        annotations,
        image: image(cfg, c),
        command,
        env: env(cfg, facts, c),
        probe_port: target.port,
        liveness: liveness(&target, live_path),
        readiness: ready_path.map(|p| readiness(&target, p)),
        startup: startup(&target, start_path, cfg),
        cpu_request: cpu.to_string(),
        memory_request: memory,
        volume_mounts: mounts
            .into_iter()
            .map(|v| MountView {
                name: v.name,
                mount_path: v.mount_path,
                read_only: v.read_only,
            })
            .collect(),
        volumes: vols
            .into_iter()
            .map(|v| VolumeView {
                name: v.name,
                path: v.host_path,
                path_type: v.path_type,
            })
            .collect(),
    };
    (view, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etcd_tags_by_minor() {
        assert_eq!(etcd_version(35), "3.6.6-0");
        assert_eq!(etcd_version(36), "3.6.8-0");
        assert_eq!(etcd_version(37), "3.7.0-0");
        assert_eq!(etcd_version(30), "3.6.6-0");
        assert_eq!(etcd_version(40), "3.7.0-0");
    }

    #[test]
    fn authorities_split_like_go_url() {
        assert_eq!(
            split_authority("127.0.0.1:2381"),
            ("127.0.0.1".into(), Some("2381"))
        );
        assert_eq!(split_authority("[::1]:2381"), ("::1".into(), Some("2381")));
        assert_eq!(split_authority("[::1]"), ("::1".into(), None));
        assert_eq!(split_authority("host"), ("host".into(), None));
        assert_eq!(split_authority(":2381"), (String::new(), Some("2381")));
    }
}
