//! The checks of `kubeadm init`'s pre-flight, in kubeadm's order, with kubeadm's names and
//! messages, plus plinth's rule for its own artefacts: a manifest plinth wrote is not in the way,
//! the ports of components whose manifests plinth wrote may be in use, and etcd's data directory
//! may hold the data of plinth's etcd. kubeadm: `app/preflight/checks.go` `InitNodeChecks`,
//! `addCommonChecks`, `checks_linux.go` `addExecChecks`.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::probe::{HostProbe, PortState};
use super::{CheckResult, Outcome, Scope};
use crate::config::{EtcdMode, ResolvedConfig};
use crate::host::owned::{Ownership, ownership};
use crate::host::{Facts, Paths};
use crate::manifests::Component;

/// kubeadm `ControlPlaneNumCPU`.
const MIN_CPUS: usize = 2;
/// kubeadm `ControlPlaneMem` (MB).
const MIN_MEM_MB: u64 = 1700;
/// kubeadm `KubeletPort`.
const KUBELET_PORT: u16 = 10250;
/// kubeadm `KubeSchedulerPort`, `KubeControllerManagerPort`, `EtcdListenClientPort`,
/// `EtcdListenPeerPort`.
const SCHEDULER_PORT: u16 = 10259;
const CONTROLLER_MANAGER_PORT: u16 = 10257;
const ETCD_CLIENT_PORT: u16 = 2379;
const ETCD_PEER_PORT: u16 = 2380;
const IPV4_FORWARD: &str = "/proc/sys/net/ipv4/ip_forward";
const IPV6_FORWARDING: &str = "/proc/sys/net/ipv6/conf/default/forwarding";
/// kubeadm 1.37's executables on `PATH` (`addExecChecks`): `(name, required)`. `conntrack` is
/// only checked for Kubernetes < 1.32; `crictl`, `ip`, `iptables`, `ebtables`, `ethtool`,
/// `socat` and `tc` are no longer checked.
const TOOLS: [(&str, bool); 3] = [("mount", true), ("nsenter", true), ("touch", false)];

/// Names of kubeadm init checks plinth does not run (an ignore entry naming one is expected).
pub const KUBEADM_ONLY_CHECKS: &[&str] = &[
    "KubernetesVersion",
    "Firewalld",
    "HTTPProxy",
    "HTTPProxyCIDR",
    "Hostname",
    "ExternalEtcdVersion",
];

/// kubeadm derives a check's name from a path: every `/` becomes `-`.
fn path_name(prefix: &str, path: &Path) -> String {
    format!("{prefix}-{}", path.display().to_string().replace('/', "-"))
}

fn result(name: impl Into<String>, scope: Scope, outcome: Outcome) -> CheckResult {
    CheckResult {
        name: name.into(),
        outcome,
        scope,
    }
}

/// Who should hold a port for it to be plinth's.
#[derive(Debug, Clone, Copy)]
enum Holder {
    Component(Component),
    Kubelet,
}

/// plinth's own artefacts on this host: which manifests and whether the kubelet config are its.
struct Own {
    manifests: BTreeMap<Component, Ownership>,
    kubelet_config: Ownership,
}

impl Own {
    fn read(paths: &Paths) -> Self {
        let dir = paths.manifests_dir_disk();
        Own {
            manifests: Component::ALL
                .into_iter()
                .map(|c| (c, ownership(&dir.join(c.file_name()))))
                .collect(),
            kubelet_config: ownership(&paths.kubelet_dir_disk().join(crate::kubelet::CONFIG_FILE)),
        }
    }

    fn holds(&self, h: Holder) -> bool {
        match h {
            Holder::Component(c) => self.manifests.get(&c) == Some(&Ownership::Owned),
            Holder::Kubelet => self.kubelet_config == Ownership::Owned,
        }
    }
}

fn port_check(host: &dyn HostProbe, own: &Own, port: u16, holder: Holder) -> CheckResult {
    let outcome = match host.port(port) {
        PortState::Free => Outcome::Ok,
        PortState::InUse if own.holds(holder) => {
            let who = match holder {
                Holder::Component(c) => c.name(),
                Holder::Kubelet => "kubelet",
            };
            Outcome::Own(format!(
                "Port {port} is held by this host's plinth control plane ({who})"
            ))
        }
        PortState::InUse => Outcome::Error(format!("Port {port} is in use")),
        PortState::Unknown(why) => Outcome::Warning(format!("could not check port {port}: {why}")),
    };
    result(format!("Port-{port}"), Scope::Host, outcome)
}

fn manifest_check(paths: &Paths, own: &Own, c: Component) -> CheckResult {
    let shown = paths.manifests_dir.join(c.file_name());
    let outcome = match own.manifests.get(&c) {
        None | Some(Ownership::Absent) => Outcome::Ok,
        Some(Ownership::Owned) => Outcome::Own(format!(
            "{} is this host's plinth manifest for {}",
            shown.display(),
            c.name()
        )),
        Some(Ownership::Foreign(why)) => {
            Outcome::Error(format!("{} already exists and {why}", shown.display()))
        }
    };
    result(path_name("FileAvailable", &shown), Scope::Files, outcome)
}

/// The value of `--<flag>=` in the first container of a static Pod manifest (none when the file
/// is absent, not a Pod, or has no such flag). Lenient: the manifest may be kubeadm's or edited
/// by hand, not one that passes plinth's own static Pod checks.
fn manifest_flag(manifest: &Path, flag: &str) -> Option<String> {
    let text = std::fs::read_to_string(manifest).ok()?;
    let pod: k8s_openapi::api::core::v1::Pod = serde_saphyr::from_str(&text).ok()?;
    let spec = pod.spec?;
    let container = spec.containers.first()?;
    let prefix = format!("--{flag}=");
    container
        .command
        .iter()
        .flatten()
        .chain(container.args.iter().flatten())
        .find_map(|a| a.strip_prefix(&prefix).map(str::to_string))
}

/// `--data-dir` of a static etcd manifest (none when the file is absent or not an etcd Pod).
#[must_use]
pub fn etcd_data_dir(manifest: &Path) -> Option<PathBuf> {
    manifest_flag(manifest, "data-dir").map(PathBuf::from)
}

/// The certificates directory a kube-apiserver manifest uses: the directory of its
/// `--client-ca-file` (kubeadm writes `<certificatesDir>/ca.crt` there).
#[must_use]
pub fn apiserver_cert_dir(manifest: &Path) -> Option<PathBuf> {
    manifest_flag(manifest, "client-ca-file")
        .and_then(|f| Path::new(&f).parent().map(Path::to_path_buf))
}

fn etcd_dir_check(paths: &Paths, own: &Own, data_dir: &Path) -> CheckResult {
    let disk = paths.disk(data_dir);
    let empty = match std::fs::read_dir(&disk) {
        Ok(mut entries) => entries.next().is_none(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
        Err(e) => {
            return result(
                path_name("DirAvailable", data_dir),
                Scope::Files,
                Outcome::Error(format!(
                    "unable to check if {} is empty: {e}",
                    data_dir.display()
                )),
            );
        }
    };
    let manifest = paths.manifests_dir_disk().join(Component::Etcd.file_name());
    let outcome = if empty {
        Outcome::Ok
    } else if own.holds(Holder::Component(Component::Etcd))
        && etcd_data_dir(&manifest).as_deref() == Some(data_dir)
    {
        Outcome::Own(format!(
            "{} holds the data of this host's plinth etcd",
            data_dir.display()
        ))
    } else {
        Outcome::Error(format!("{} is not empty", data_dir.display()))
    };
    result(path_name("DirAvailable", data_dir), Scope::Files, outcome)
}

fn content_check(host: &dyn HostProbe, path: &str) -> CheckResult {
    let outcome = match host.read(Path::new(path)) {
        Err(_) => Outcome::Error(format!("{path} does not exist")),
        Ok(s) if s.starts_with('1') => Outcome::Ok,
        Ok(_) => Outcome::Error(format!("{path} contents are not set to 1")),
    };
    result(
        path_name("FileContent", Path::new(path)),
        Scope::Host,
        outcome,
    )
}

fn swap_check(host: &dyn HostProbe) -> CheckResult {
    // kubeadm SwapCheck: any line after /proc/swaps' header is an active swap area.
    let outcome = match host.read(Path::new("/proc/swaps")) {
        Ok(s) if s.lines().count() > 1 => Outcome::Warning(
            "swap is supported for cgroup v2 only. The kubelet must be properly configured to use \
             swap. Please refer to https://kubernetes.io/docs/concepts/architecture/nodes/#swap-memory, \
             or disable swap on the node"
                .into(),
        ),
        _ => Outcome::Ok,
    };
    result("Swap", Scope::Host, outcome)
}

/// Every `init` pre-flight check for `cfg` on this host, in kubeadm's order. Files are read
/// under `paths` (re-rooted for a dry run); the user, CPUs and memory come from the host's
/// `facts`, read once; ports, sockets, kernel settings and tools are probed now through `host`.
#[must_use]
pub fn init_checks(
    cfg: &ResolvedConfig,
    paths: &Paths,
    facts: &Facts,
    host: &dyn HostProbe,
) -> Vec<CheckResult> {
    let own = Own::read(paths);
    let mut out = Vec::new();

    let root = match facts.effective_uid {
        Some(0) => Outcome::Ok,
        _ => Outcome::Error("user is not running as root".into()),
    };
    out.push(result("IsPrivilegedUser", Scope::Host, root));
    let cpus = facts.cpus;
    out.push(result(
        "NumCPU",
        Scope::Host,
        if cpus < MIN_CPUS {
            Outcome::Error(format!(
                "the number of available CPUs {cpus} is less than the required {MIN_CPUS}"
            ))
        } else {
            Outcome::Ok
        },
    ));
    out.push(result(
        "Mem",
        Scope::Host,
        match facts.memory_mb {
            Some(mb) if mb < MIN_MEM_MB => Outcome::Error(format!(
                "the system RAM ({mb} MB) is less than the minimum {MIN_MEM_MB} MB"
            )),
            Some(_) => Outcome::Ok,
            None => Outcome::Warning("failed to read the system RAM from /proc/meminfo".into()),
        },
    ));

    out.push(port_check(
        host,
        &own,
        cfg.bind_port,
        Holder::Component(Component::KubeApiserver),
    ));
    out.push(port_check(
        host,
        &own,
        SCHEDULER_PORT,
        Holder::Component(Component::KubeScheduler),
    ));
    out.push(port_check(
        host,
        &own,
        CONTROLLER_MANAGER_PORT,
        Holder::Component(Component::KubeControllerManager),
    ));
    // kubeadm checks all four, external etcd or not.
    for c in [
        Component::KubeApiserver,
        Component::KubeControllerManager,
        Component::KubeScheduler,
        Component::Etcd,
    ] {
        out.push(manifest_check(paths, &own, c));
    }

    // CRI and ContainerRuntimeVersion come here in kubeadm's order: `super::runtime`.
    out.push(swap_check(host));
    for (tool, required) in TOOLS {
        let outcome = if host.in_path(tool) {
            Outcome::Ok
        } else if required {
            Outcome::Error(format!("{tool} not found in system path"))
        } else {
            Outcome::Warning(format!("{tool} not found in system path"))
        };
        out.push(result(format!("FileExisting-{tool}"), Scope::Host, outcome));
    }
    out.push(port_check(host, &own, KUBELET_PORT, Holder::Kubelet));

    // Forwarding for each family in use (kubeadm: service and Pod subnets, advertise address).
    let families = cfg
        .service_subnets
        .iter()
        .chain(&cfg.pod_subnets)
        .map(|n| n.addr())
        .chain([cfg.advertise_address]);
    let (mut v4, mut v6) = (false, false);
    for a in families {
        match a {
            IpAddr::V4(_) => v4 = true,
            IpAddr::V6(_) => v6 = true,
        }
    }
    if v4 {
        out.push(content_check(host, IPV4_FORWARD));
    }
    if v6 {
        out.push(content_check(host, IPV6_FORWARDING));
    }

    match &cfg.etcd {
        EtcdMode::Local(local) => {
            out.push(port_check(
                host,
                &own,
                ETCD_CLIENT_PORT,
                Holder::Component(Component::Etcd),
            ));
            out.push(port_check(
                host,
                &own,
                ETCD_PEER_PORT,
                Holder::Component(Component::Etcd),
            ));
            out.push(etcd_dir_check(paths, &own, &local.data_dir));
        }
        EtcdMode::External(ext) => {
            for f in [&ext.ca_file, &ext.cert_file, &ext.key_file]
                .into_iter()
                .flatten()
            {
                let outcome = if host.exists(f) {
                    Outcome::Ok
                } else {
                    Outcome::Error(format!("{} doesn't exist", f.display()))
                };
                out.push(result(
                    "ExternalEtcdClientCertificates",
                    Scope::Host,
                    outcome,
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::io;

    use super::*;
    use crate::config::{Overrides, load_str};
    use crate::host::owned::write_owned;
    use crate::preflight::SocketState;

    /// Made-up host facts: a healthy, empty control-plane host unless changed.
    struct Fake {
        facts: Facts,
        ports: BTreeMap<u16, PortState>,
        files: BTreeMap<String, String>,
        tools: BTreeSet<&'static str>,
        socket: SocketState,
        existing: BTreeSet<PathBuf>,
    }

    impl Default for Fake {
        fn default() -> Self {
            Fake {
                facts: Facts {
                    effective_uid: Some(0),
                    cpus: 2,
                    memory_mb: Some(4096),
                    ..Facts::default()
                },
                ports: BTreeMap::new(),
                files: [
                    (IPV4_FORWARD.to_string(), "1\n".to_string()),
                    (IPV6_FORWARDING.to_string(), "1\n".to_string()),
                    (
                        "/proc/swaps".to_string(),
                        "Filename\tType\tSize\tUsed\tPriority\n".to_string(),
                    ),
                ]
                .into_iter()
                .collect(),
                tools: ["mount", "nsenter", "touch"].into_iter().collect(),
                socket: SocketState::Answers,
                existing: BTreeSet::new(),
            }
        }
    }

    impl HostProbe for Fake {
        fn port(&self, port: u16) -> PortState {
            self.ports.get(&port).cloned().unwrap_or(PortState::Free)
        }
        fn read(&self, path: &Path) -> io::Result<String> {
            self.files
                .get(&path.display().to_string())
                .cloned()
                .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
        }
        fn in_path(&self, exe: &str) -> bool {
            self.tools.contains(exe)
        }
        fn socket(&self, _: &Path) -> SocketState {
            self.socket.clone()
        }
        fn exists(&self, path: &Path) -> bool {
            self.existing.contains(path)
        }
    }

    /// The checks over the fake's facts and probes.
    fn checks(cfg: &ResolvedConfig, paths: &Paths, host: &Fake) -> Vec<CheckResult> {
        init_checks(cfg, paths, &host.facts, host)
    }

    use crate::preflight::test_config::{CONFIG, cfg};

    fn setup() -> (tempfile::TempDir, Paths) {
        let d = tempfile::tempdir().unwrap();
        let paths = Paths::host(Path::new("/etc/kubernetes/pki")).rooted(d.path());
        (d, paths)
    }

    fn find<'a>(rs: &'a [CheckResult], name: &str) -> &'a CheckResult {
        rs.iter()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("no check {name} in {rs:?}"))
    }

    fn outcome(rs: &[CheckResult], name: &str) -> Outcome {
        find(rs, name).outcome.clone()
    }

    /// A manifest as plinth writes it (recorded in the ledger).
    fn write_manifest(paths: &Paths, c: Component, yaml: &str) {
        write_owned(
            &paths.manifests_dir_disk().join(c.file_name()),
            yaml.as_bytes(),
            0o600,
            0o700,
        )
        .unwrap();
    }

    const ETCD_MANIFEST: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: etcd\n  namespace: kube-system\nspec:\n  hostNetwork: true\n  containers:\n  - name: etcd\n    image: registry.k8s.io/etcd:3.6.0-0\n    command:\n    - etcd\n    - --data-dir=/var/lib/etcd\n";

    #[test]
    fn a_fresh_host_passes_with_kubeadm_names_in_kubeadm_order() {
        let (_d, paths) = setup();
        let rs = checks(&cfg(""), &paths, &Fake::default());
        let names: Vec<&str> = rs.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            vec![
                "IsPrivilegedUser",
                "NumCPU",
                "Mem",
                "Port-6443",
                "Port-10259",
                "Port-10257",
                "FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml",
                "FileAvailable--etc-kubernetes-manifests-kube-controller-manager.yaml",
                "FileAvailable--etc-kubernetes-manifests-kube-scheduler.yaml",
                "FileAvailable--etc-kubernetes-manifests-etcd.yaml",
                "Swap",
                "FileExisting-mount",
                "FileExisting-nsenter",
                "FileExisting-touch",
                "Port-10250",
                "FileContent--proc-sys-net-ipv4-ip_forward",
                "Port-2379",
                "Port-2380",
                "DirAvailable--var-lib-etcd",
            ]
        );
        assert!(rs.iter().all(|r| r.outcome == Outcome::Ok), "{rs:?}");
    }

    #[test]
    fn host_facts_give_kubeadm_errors_and_warnings() {
        let (_d, paths) = setup();
        let mut host = Fake {
            facts: Facts {
                effective_uid: Some(1000),
                cpus: 1,
                memory_mb: Some(1024),
                ..Facts::default()
            },
            ..Fake::default()
        };
        host.tools.remove("nsenter");
        host.tools.remove("touch");
        host.files.insert(IPV4_FORWARD.into(), "0\n".into());
        host.files.insert(
            "/proc/swaps".into(),
            "Filename\tType\n/swapfile file 1024 0 -2\n".into(),
        );
        let rs = checks(&cfg(""), &paths, &host);
        assert_eq!(
            outcome(&rs, "IsPrivilegedUser"),
            Outcome::Error("user is not running as root".into())
        );
        assert_eq!(
            outcome(&rs, "NumCPU"),
            Outcome::Error("the number of available CPUs 1 is less than the required 2".into())
        );
        assert_eq!(
            outcome(&rs, "Mem"),
            Outcome::Error("the system RAM (1024 MB) is less than the minimum 1700 MB".into())
        );
        assert_eq!(
            outcome(&rs, "FileContent--proc-sys-net-ipv4-ip_forward"),
            Outcome::Error("/proc/sys/net/ipv4/ip_forward contents are not set to 1".into())
        );
        assert!(
            matches!(outcome(&rs, "Swap"), Outcome::Warning(m) if m.starts_with("swap is supported for cgroup v2 only"))
        );
        assert_eq!(
            outcome(&rs, "FileExisting-nsenter"),
            Outcome::Error("nsenter not found in system path".into())
        );
        assert_eq!(
            outcome(&rs, "FileExisting-touch"),
            Outcome::Warning("touch not found in system path".into())
        );
        for r in &rs {
            if r.name.starts_with("FileAvailable") || r.name.starts_with("DirAvailable") {
                assert_eq!(r.scope, Scope::Files);
            } else {
                assert_eq!(r.scope, Scope::Host, "{}", r.name);
            }
        }
    }

    #[test]
    fn foreign_listeners_and_files_are_errors() {
        let (_d, paths) = setup();
        let mut host = Fake::default();
        host.ports.insert(10259, PortState::InUse);
        host.ports
            .insert(443, PortState::Unknown("permission denied".into()));
        let manifests = paths.manifests_dir_disk();
        std::fs::create_dir_all(&manifests).unwrap();
        std::fs::write(manifests.join("etcd.yaml"), ETCD_MANIFEST).unwrap();
        let data = paths.disk(Path::new("/var/lib/etcd/member"));
        std::fs::create_dir_all(data).unwrap();
        let bind443 = load_str(
            CONFIG,
            "c.yaml",
            &Overrides {
                apiserver_bind_port: Some(443),
                ..Overrides::default()
            },
            &Default::default(),
        )
        .unwrap();
        let rs = checks(&bind443, &paths, &host);
        assert_eq!(
            outcome(&rs, "Port-10259"),
            Outcome::Error("Port 10259 is in use".into())
        );
        assert_eq!(
            outcome(&rs, "Port-443"),
            Outcome::Warning("could not check port 443: permission denied".into())
        );
        assert_eq!(
            outcome(&rs, "FileAvailable--etc-kubernetes-manifests-etcd.yaml"),
            Outcome::Error(
                "/etc/kubernetes/manifests/etcd.yaml already exists and was not written by plinth"
                    .into()
            )
        );
        assert_eq!(
            outcome(&rs, "DirAvailable--var-lib-etcd"),
            Outcome::Error("/var/lib/etcd is not empty".into())
        );
    }

    #[test]
    fn plinth_s_own_control_plane_passes() {
        let (_d, paths) = setup();
        for c in Component::ALL {
            let yaml = if c == Component::Etcd {
                ETCD_MANIFEST.to_string()
            } else {
                format!("{}: manifest", c.name())
            };
            write_manifest(&paths, c, &yaml);
        }
        write_owned(
            &paths.kubelet_dir_disk().join("config.yaml"),
            b"kind: KubeletConfiguration\n",
            0o644,
            0o700,
        )
        .unwrap();
        std::fs::create_dir_all(paths.disk(Path::new("/var/lib/etcd/member"))).unwrap();
        let mut host = Fake::default();
        for p in [6443, 10259, 10257, 10250, 2379, 2380] {
            host.ports.insert(p, PortState::InUse);
        }
        let rs = checks(&cfg(""), &paths, &host);
        assert!(
            rs.iter()
                .all(|r| matches!(r.outcome, Outcome::Ok | Outcome::Own(_))),
            "{rs:?}"
        );
        assert_eq!(
            outcome(&rs, "Port-10257"),
            Outcome::Own(
                "Port 10257 is held by this host's plinth control plane (kube-controller-manager)"
                    .into()
            )
        );
        assert_eq!(
            outcome(&rs, "Port-10250"),
            Outcome::Own("Port 10250 is held by this host's plinth control plane (kubelet)".into())
        );
        assert_eq!(
            outcome(&rs, "DirAvailable--var-lib-etcd"),
            Outcome::Own("/var/lib/etcd holds the data of this host's plinth etcd".into())
        );
        assert!(matches!(
            outcome(&rs, "FileAvailable--etc-kubernetes-manifests-kube-scheduler.yaml"),
            Outcome::Own(m) if m.contains("plinth manifest")
        ));

        // A half-finished run (manifests written, nothing running) passes too.
        assert!(
            checks(&cfg(""), &paths, &Fake::default())
                .iter()
                .all(|r| matches!(r.outcome, Outcome::Ok | Outcome::Own(_)))
        );

        // An edited manifest is foreign again, and so are the ports of its component.
        let sched = paths.manifests_dir_disk().join("kube-scheduler.yaml");
        std::fs::write(&sched, "edited").unwrap();
        let rs = checks(&cfg(""), &paths, &host);
        assert_eq!(
            outcome(&rs, "FileAvailable--etc-kubernetes-manifests-kube-scheduler.yaml"),
            Outcome::Error(
                "/etc/kubernetes/manifests/kube-scheduler.yaml already exists and was changed since plinth wrote it"
                    .into()
            )
        );
        assert_eq!(
            outcome(&rs, "Port-10259"),
            Outcome::Error("Port 10259 is in use".into())
        );
    }

    #[test]
    fn etcd_data_is_plinth_s_only_when_its_manifest_points_there() {
        let (_d, paths) = setup();
        write_manifest(
            &paths,
            Component::Etcd,
            &ETCD_MANIFEST.replace("/var/lib/etcd", "/srv/etcd"),
        );
        std::fs::create_dir_all(paths.disk(Path::new("/var/lib/etcd/member"))).unwrap();
        let rs = checks(&cfg(""), &paths, &Fake::default());
        assert_eq!(
            outcome(&rs, "DirAvailable--var-lib-etcd"),
            Outcome::Error("/var/lib/etcd is not empty".into())
        );
    }

    #[test]
    fn names_follow_the_configured_paths_and_families() {
        let (_d, mut paths) = setup();
        paths.manifests_dir = PathBuf::from("/srv/k8s/manifests");
        let extra = "---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\netcd:\n  local:\n    dataDir: /data/etcd\nnetworking:\n  serviceSubnet: 10.96.0.0/16,fd00:10:96::/112\n";
        let rs = checks(&cfg(extra), &paths, &Fake::default());
        find(&rs, "FileAvailable--srv-k8s-manifests-etcd.yaml");
        find(&rs, "DirAvailable--data-etcd");
        find(&rs, "FileContent--proc-sys-net-ipv4-ip_forward");
        find(
            &rs,
            "FileContent--proc-sys-net-ipv6-conf-default-forwarding",
        );
    }

    #[test]
    fn external_etcd_checks_client_files_instead_of_etcd_ports() {
        let (_d, paths) = setup();
        let extra = "---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\netcd:\n  external:\n    endpoints: [https://10.0.0.9:2379]\n    caFile: /etc/etcd/ca.crt\n    certFile: /etc/etcd/client.crt\n    keyFile: /etc/etcd/client.key\n";
        let mut host = Fake::default();
        host.existing.insert(PathBuf::from("/etc/etcd/ca.crt"));
        let rs = checks(&cfg(extra), &paths, &host);
        assert!(
            !rs.iter()
                .any(|r| r.name == "Port-2379" || r.name.starts_with("DirAvailable"))
        );
        let ext: Vec<&Outcome> = rs
            .iter()
            .filter(|r| r.name == "ExternalEtcdClientCertificates")
            .map(|r| &r.outcome)
            .collect();
        assert_eq!(
            ext,
            vec![
                &Outcome::Ok,
                &Outcome::Error("/etc/etcd/client.crt doesn't exist".into()),
                &Outcome::Error("/etc/etcd/client.key doesn't exist".into()),
            ]
        );
    }
}
