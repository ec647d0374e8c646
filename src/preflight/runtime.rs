//! The pre-flight checks that need the node's runtime pieces: the container runtime (through
//! `crictl`), the kubelet binary and unit, and the cgroup controllers. Facts are gathered once
//! into a [`NodeFacts`] value ([`NodeFacts::gather`]); the checks are pure functions of it, so
//! every outcome is tested with made-up facts. Names, messages and error/warning levels are
//! kubeadm's where kubeadm has the check (`app/preflight/checks.go`: `ContainerRuntimeCheck`,
//! `ContainerRuntimeVersionCheck`, `SystemVerificationCheck`, `KubeletVersionCheck`,
//! `ServiceCheck`, `ImagePullCheck`; cgroups: `k8s.io/system-validators`
//! `validators/cgroup_validator_linux.go`). Differences, each on purpose:
//! - `ImagePull` checks and never pulls: it names the missing images (`plinth config images
//!   pull` pulls them), so an offline node is told what to import instead of timing out.
//! - A missing kubelet binary, `crictl` or kubelet unit warns with the fix, and the unit check
//!   also warns when the kubelet would not read plinth's `config.yaml` / `kubeadm-flags.env`.
//! - `SystemVerification` checks cgroups only (kubeadm also checks the kernel config).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::probe::{HostProbe, SocketState};
use super::{CheckResult, Outcome, Scope};
use crate::config::{KubeVersion, ResolvedConfig};
use crate::host::cri::{Crictl, INSTALL_CRICTL, RuntimeImage, RuntimeStatus, on_path, socket_path};
use crate::images::{NodeImage, node_images, pause_image};

/// Where the plinth kubelet drop-in lives in the source tree and where the package installs it.
pub const KUBELET_DROP_IN_SOURCE: &str = "packaging/systemd/kubelet.service.d/10-plinth.conf";
/// Where a package puts the drop-in (`/usr/lib/systemd/system/kubelet.service.d/`); an admin
/// copies it to `/etc/systemd/system/kubelet.service.d/` instead.
pub const KUBELET_DROP_IN_INSTALLED: &str =
    "/usr/lib/systemd/system/kubelet.service.d/10-plinth.conf";

/// The answer to one question put to a tool: not asked (the question made no sense), answered,
/// or failed with the tool's words.
pub type Asked<T> = Option<Result<T, String>>;

/// What the container runtime says, asked through `crictl` only when its socket answers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuntimeFacts {
    /// `crictl` was found.
    pub crictl: bool,
    /// `crictl info`.
    pub info: Asked<RuntimeStatus>,
    /// Whether `crictl runtime-config` is implemented.
    pub runtime_config: Asked<bool>,
    /// `crictl images`.
    pub images: Asked<Vec<RuntimeImage>>,
}

/// The kubelet binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KubeletBinary {
    /// Not on `PATH`.
    Missing,
    /// `kubelet --version` failed; the text says why.
    Failed(String),
    /// What `kubelet --version` printed, e.g. `Kubernetes v1.37.2`.
    Version(String),
}

/// The kubelet's systemd unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KubeletUnit {
    /// systemd is not PID 1: there are no units to check.
    NoSystemd,
    /// `systemctl cat kubelet.service` failed; its words.
    Missing(String),
    /// The unit with its drop-ins (`systemctl cat`), and whether it is enabled.
    Found {
        /// `systemctl cat kubelet.service`.
        text: String,
        /// `systemctl is-enabled kubelet.service` said `enabled`.
        enabled: bool,
    },
}

/// The cgroup facts kubeadm's cgroups validator reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CgroupFacts {
    /// Whether the cgroup hierarchy is v2 (`None`: no cgroup mount found in `/proc/mounts`).
    pub v2: Option<bool>,
    /// `/proc/cgroups` (v1 controllers and whether enabled).
    pub proc_cgroups: Option<String>,
    /// `<unified mount>/cgroup.controllers` (v2).
    pub v2_controllers: Option<String>,
}

/// Everything the checks of this module look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeFacts {
    /// What is at the CRI socket.
    pub socket: SocketState,
    /// What the runtime says.
    pub runtime: RuntimeFacts,
    /// The kubelet binary.
    pub kubelet: KubeletBinary,
    /// The kubelet unit.
    pub unit: KubeletUnit,
    /// cgroups.
    pub cgroups: CgroupFacts,
}

/// The tools [`NodeFacts::gather`] runs (tests substitute scripts).
#[derive(Debug, Clone, Default)]
pub struct Tools {
    /// `crictl`, if installed.
    pub crictl: Option<PathBuf>,
    /// `kubelet`, if installed.
    pub kubelet: Option<PathBuf>,
    /// `systemctl`, when systemd is PID 1.
    pub systemctl: Option<PathBuf>,
}

impl Tools {
    /// The tools of this host: from `PATH`, `systemctl` only when systemd is PID 1.
    #[must_use]
    pub fn from_host() -> Self {
        let systemd = std::fs::read_to_string("/proc/1/comm").is_ok_and(|c| c.trim() == "systemd");
        Tools {
            crictl: on_path("crictl"),
            kubelet: on_path("kubelet"),
            systemctl: if systemd { on_path("systemctl") } else { None },
        }
    }
}

fn run(tool: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new(tool)
        .args(args)
        .output()
        .map_err(|e| format!("running {}: {e}", tool.display()))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
        Err(if err.is_empty() {
            format!(
                "{} {} exited with {}",
                tool.display(),
                args.join(" "),
                out.status
            )
        } else {
            err
        })
    }
}

/// The mount point of the cgroup hierarchy kubeadm's validator reads, and whether it is v2
/// (`getUnifiedMountpoint`).
fn unified_mount(mounts: &str, host: &dyn HostProbe) -> Option<(String, bool)> {
    let mut v1 = None;
    for line in mounts.lines().filter(|l| l.contains("cgroup")) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 3 {
            continue;
        }
        if f[1] == "/sys/fs/cgroup" {
            if f[2] == "tmpfs" {
                // A tmpfs with per-controller mounts below: v1, unless there is no memory one.
                let v2 = !host.exists(Path::new("/sys/fs/cgroup/memory"));
                return Some((f[1].to_string(), v2));
            }
            return Some((f[1].to_string(), f[2] == "cgroup2"));
        }
        match f[2] {
            "cgroup2" => return Some((f[1].to_string(), true)),
            "cgroup" if v1.is_none() => v1 = Some(f[1].to_string()),
            _ => {}
        }
    }
    v1.map(|m| (m, false))
}

impl NodeFacts {
    /// Asks this host: the socket through `host`, the runtime through `tools.crictl` (only when
    /// the socket answers), the kubelet binary and unit, and the cgroup files.
    #[must_use]
    pub fn gather(cfg: &ResolvedConfig, host: &dyn HostProbe, tools: &Tools) -> Self {
        let socket = host.socket(Path::new(socket_path(&cfg.cri_socket)));
        let mut runtime = RuntimeFacts {
            crictl: tools.crictl.is_some(),
            ..RuntimeFacts::default()
        };
        if let (SocketState::Answers, Some(tool)) = (&socket, &tools.crictl) {
            let c = Crictl::at(tool, &cfg.cri_socket);
            let text = |e: crate::host::cri::CriError| e.to_string();
            runtime.info = Some(c.info().map_err(text));
            if matches!(runtime.info, Some(Ok(_))) {
                runtime.runtime_config = Some(c.runtime_config_implemented().map_err(text));
                runtime.images = Some(c.images().map_err(text));
            }
        }
        let kubelet = match &tools.kubelet {
            None => KubeletBinary::Missing,
            Some(k) => match run(k, &["--version"]) {
                Ok(v) => KubeletBinary::Version(v.trim().to_string()),
                Err(e) => KubeletBinary::Failed(e),
            },
        };
        let unit = match &tools.systemctl {
            None => KubeletUnit::NoSystemd,
            Some(s) => match run(s, &["cat", "kubelet.service"]) {
                Err(e) => KubeletUnit::Missing(e),
                Ok(text) => KubeletUnit::Found {
                    text,
                    enabled: run(s, &["is-enabled", "kubelet.service"])
                        .is_ok_and(|o| o.trim() == "enabled"),
                },
            },
        };
        let unified = host
            .read(Path::new("/proc/mounts"))
            .ok()
            .and_then(|m| unified_mount(&m, host));
        let v2_controllers = unified
            .as_ref()
            .filter(|(_, v2)| *v2)
            .and_then(|(m, _)| host.read(&Path::new(m).join("cgroup.controllers")).ok());
        NodeFacts {
            socket,
            runtime,
            kubelet,
            unit,
            cgroups: CgroupFacts {
                v2: unified.map(|(_, v2)| v2),
                proc_cgroups: host.read(Path::new("/proc/cgroups")).ok(),
                v2_controllers,
            },
        }
    }
}

fn result(name: &str, outcome: Outcome) -> CheckResult {
    CheckResult {
        name: name.to_string(),
        outcome,
        scope: Scope::Host,
    }
}

/// `CRI`: the socket is there and answers, and the runtime says it is ready.
fn cri(cfg: &ResolvedConfig, f: &NodeFacts) -> CheckResult {
    let path = socket_path(&cfg.cri_socket);
    let outcome = match &f.socket {
        SocketState::Missing => Outcome::Warning(format!(
            "container runtime socket {path} not found: is the container runtime installed and running? Install one (e.g. containerd) and start it, or set nodeRegistration.criSocket"
        )),
        SocketState::NotASocket => {
            Outcome::Error(format!("container runtime endpoint {path} is not a socket"))
        }
        SocketState::Refused(why) => Outcome::Error(format!(
            "container runtime is not running: cannot connect to {path}: {why}"
        )),
        SocketState::Answers if !f.runtime.crictl => Outcome::Warning(format!(
            "cannot ask the container runtime at {path} whether it is ready: crictl is not installed; {INSTALL_CRICTL}"
        )),
        SocketState::Answers => match &f.runtime.info {
            Some(Err(e)) => Outcome::Error(format!("container runtime is not running: {e}")),
            Some(Ok(status)) => status
                .conditions
                .iter()
                // kubeadm `IsRunning`: NetworkReady is deliberately not tested (no CNI yet).
                .find(|c| c.kind == "RuntimeReady" && !c.status)
                .map_or(Outcome::Ok, |c| {
                    Outcome::Error(format!(
                        "container runtime condition \"RuntimeReady\" is not true. reason: {}, message: {}",
                        c.reason, c.message
                    ))
                }),
            None => Outcome::Ok,
        },
    };
    result("CRI", outcome)
}

/// `ContainerRuntimeVersion`: the runtime implements the CRI `RuntimeConfig` call (which the
/// kubelet uses to learn the cgroup driver).
fn runtime_version(f: &NodeFacts) -> CheckResult {
    let outcome = match &f.runtime.runtime_config {
        None | Some(Ok(true)) => Outcome::Ok,
        Some(Ok(false)) => Outcome::Warning(
            "You must update your container runtime to a version that supports the CRI method RuntimeConfig. \
             Falling back to using cgroupDriver from kubelet config will be removed in 1.38. \
             For more information, see https://git.k8s.io/enhancements/keps/sig-node/4033-group-driver-detection-over-cri"
                .into(),
        ),
        Some(Err(e)) => Outcome::Error(format!(
            "could not check if the runtime config is available: {e}"
        )),
    };
    result("ContainerRuntimeVersion", outcome)
}

/// The version `kubelet --version` printed (`Kubernetes v1.37.2`, maybe with a suffix).
fn kubelet_version(out: &str) -> Option<KubeVersion> {
    let v = out.trim().strip_prefix("Kubernetes ")?.trim();
    if !v.starts_with('v') {
        return None;
    }
    let end = v[1..]
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or(v.len(), |i| i + 1);
    v[..end].parse().ok()
}

/// `KubeletVersion`: not older than three minors below the control plane and not newer than
/// it (kubeadm: `MinimumKubeletVersion` is its own version minus 3; plinth measures from the
/// configured `kubernetesVersion`).
fn kubelet_version_check(cfg: &ResolvedConfig, f: &NodeFacts) -> CheckResult {
    let cp = cfg.kubernetes_version;
    let outcome = match &f.kubelet {
        KubeletBinary::Missing => Outcome::Warning(format!(
            "kubelet not found in system path: install the kubelet {}.{} (same minor as the control plane) and its systemd unit",
            cp.major, cp.minor
        )),
        KubeletBinary::Failed(e) => Outcome::Error(format!("couldn't get kubelet version: {e}")),
        KubeletBinary::Version(out) => match kubelet_version(out) {
            None => Outcome::Error(format!(
                "couldn't get kubelet version: cannot parse {out:?}"
            )),
            Some(k) if k.major < cp.major || k.minor + 3 < cp.minor => Outcome::Error(format!(
                "Kubelet version \"{k}\" is lower than plinth can support for control plane {cp}. Please upgrade kubelet"
            )),
            Some(k) if k.major > cp.major || k.minor > cp.minor => Outcome::Error(format!(
                "the kubelet version is higher than the control plane version. This is not a supported version skew and may lead to a malfunctional cluster. Kubelet version: \"{k}\" Control plane version: \"{cp}\""
            )),
            Some(_) => Outcome::Ok,
        },
    };
    result("KubeletVersion", outcome)
}

/// kubeadm's required and optional cgroup controllers (system-validators `DefaultSysSpec`).
const CGROUPS_V1: [&str; 7] = [
    "cpu", "cpuacct", "cpuset", "devices", "freezer", "memory", "pids",
];
const CGROUPS_V1_OPTIONAL: [&str; 2] = ["hugetlb", "blkio"];
const CGROUPS_V2: [&str; 6] = ["cpu", "cpuset", "devices", "freezer", "memory", "pids"];
const CGROUPS_V2_OPTIONAL: [&str; 2] = ["hugetlb", "io"];

const CGROUP_V1_DEPRECATED: &str = "cgroups v1 support is deprecated and will be removed in a future release. \
Please migrate to cgroups v2. To explicitly enable cgroups v1 support for kubelet v1.35 or newer, \
you must set the kubelet configuration option 'FailCgroupV1' to 'false'. You must also explicitly \
skip this validation. For more information, see https://git.k8s.io/enhancements/keps/sig-node/5573-remove-cgroup-v1";

/// `SystemVerification` (cgroups): the required controllers are present; cgroup v1 is an
/// error with a kubelet ≥ 1.35 (which refuses v1 unless `failCgroupV1: false`) and a warning
/// with an older or unknown one, as in kubeadm.
fn system_verification(f: &NodeFacts) -> CheckResult {
    let name = "SystemVerification";
    let Some(v2) = f.cgroups.v2 else {
        return result(
            name,
            Outcome::Error(
                "cannot get a cgroup mount point: no cgroup filesystem in /proc/mounts".into(),
            ),
        );
    };
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let (present, required, optional): (Vec<String>, &[&'static str], &[&'static str]) = if v2 {
        // The v2 validator adds `devices` (always there) and `freezer` (cgroup.freeze, kernel
        // 5.2+: assumed) to cgroup.controllers.
        let mut p: Vec<String> = vec!["devices".into(), "freezer".into()];
        p.extend(
            f.cgroups
                .v2_controllers
                .as_deref()
                .unwrap_or("")
                .split_whitespace()
                .map(str::to_string),
        );
        (p, &CGROUPS_V2, &CGROUPS_V2_OPTIONAL)
    } else {
        let kubelet_v1_refused = match &f.kubelet {
            KubeletBinary::Version(out) => kubelet_version(out).is_some_and(|k| k.minor >= 35),
            _ => false,
        };
        if kubelet_v1_refused {
            errors.push(CGROUP_V1_DEPRECATED.to_string());
        } else {
            warnings.push(CGROUP_V1_DEPRECATED.to_string());
        }
        // `/proc/cgroups`: name, hierarchy, num_cgroups, enabled.
        let p = f
            .cgroups
            .proc_cgroups
            .as_deref()
            .unwrap_or("")
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let p: Vec<&str> = l.split_whitespace().collect();
                (p.len() >= 4 && p[3] != "0").then(|| p[0].to_string())
            })
            .collect();
        (p, &CGROUPS_V1, &CGROUPS_V1_OPTIONAL)
    };
    let missing = |want: &[&'static str]| -> Vec<&'static str> {
        want.iter()
            .copied()
            .filter(|c| !present.iter().any(|p| p == c))
            .collect()
    };
    let req = missing(required);
    if !req.is_empty() {
        errors.push(format!("missing required cgroups: {}", req.join(" ")));
    }
    let opt = missing(optional);
    if !opt.is_empty() {
        warnings.push(format!("missing optional cgroups: {}", opt.join(" ")));
    }
    let outcome = if !errors.is_empty() {
        errors.extend(warnings);
        Outcome::Error(errors.join("; "))
    } else if !warnings.is_empty() {
        Outcome::Warning(warnings.join("; "))
    } else {
        Outcome::Ok
    };
    result(name, outcome)
}

/// `Service-kubelet`: the unit exists, is enabled, and reads plinth's files (a warning with the
/// fix otherwise; kubeadm checks only exists/enabled).
fn kubelet_unit(kubelet_dir: &Path, f: &NodeFacts) -> CheckResult {
    let install = format!(
        "install plinth's kubelet drop-in ({KUBELET_DROP_IN_INSTALLED} from the plinth package, or copy {KUBELET_DROP_IN_SOURCE} of the plinth source to /etc/systemd/system/kubelet.service.d/), then run `systemctl daemon-reload`"
    );
    let outcome = match &f.unit {
        KubeletUnit::NoSystemd => Outcome::Warning(
            "no supported init system detected (systemd is not PID 1), skipping checking for services: make sure the kubelet runs and reads plinth's files".into(),
        ),
        KubeletUnit::Missing(why) => Outcome::Warning(format!(
            "kubelet service does not exist ({why}): install the kubelet package (or a kubelet.service unit), and {install}"
        )),
        KubeletUnit::Found { text, enabled } => {
            let wanted = [
                kubelet_dir.join(crate::kubelet::CONFIG_FILE),
                kubelet_dir.join(crate::kubelet::FLAGS_ENV_FILE),
            ];
            let unread: Vec<String> = wanted
                .iter()
                .map(|p| p.display().to_string())
                .filter(|p| !text.contains(p.as_str()))
                .collect();
            let mut w = Vec::new();
            if !unread.is_empty() {
                w.push(format!(
                    "the kubelet service does not read {} (no drop-in of plinth or kubeadm references it), so the kubelet would ignore what plinth writes: {install}",
                    unread.join(" and ")
                ));
            }
            if !enabled {
                w.push(
                    "kubelet service is not enabled, please run 'systemctl enable kubelet.service'"
                        .into(),
                );
            }
            if w.is_empty() {
                Outcome::Ok
            } else {
                Outcome::Warning(w.join("; "))
            }
        }
    };
    result("Service-kubelet", outcome)
}

/// `ImagePull` as a check: every image of the node is in the runtime; the missing ones are
/// named. Skipped when `nodeRegistration.imagePullPolicy` is `Never` (as kubeadm) or the
/// runtime cannot be asked (the `CRI` check says why).
fn image_check(cfg: &ResolvedConfig, f: &NodeFacts) -> CheckResult {
    let name = "ImagePull";
    if cfg.init.node_registration.image_pull_policy.as_deref() == Some("Never") {
        return result(name, Outcome::Ok);
    }
    let outcome = match &f.runtime.images {
        None => Outcome::Ok,
        Some(Err(e)) => Outcome::Error(format!(
            "could not list the images of the container runtime: {e}"
        )),
        Some(Ok(have)) => {
            let missing: Vec<NodeImage> = missing_images(&node_images(cfg), have);
            let sandbox = match &f.runtime.info {
                Some(Ok(RuntimeStatus {
                    sandbox_image: Some(s),
                    ..
                })) if *s != pause_image(cfg) => Some(s.clone()),
                _ => None,
            };
            if !missing.is_empty() {
                let list: Vec<&str> = missing.iter().map(|i| i.reference.as_str()).collect();
                Outcome::Error(format!(
                    "{} of the node's images are not in the container runtime: {}. plinth does not pull during init: run `plinth config images pull`, or import them into the runtime (containerd: `ctr -n k8s.io images import`)",
                    missing.len(),
                    list.join(", ")
                ))
            } else if let Some(s) = sandbox {
                Outcome::Warning(format!(
                    "detected that the sandbox image \"{s}\" of the container runtime is inconsistent with that used by plinth. It is recommended to use \"{}\" as the CRI sandbox image",
                    pause_image(cfg)
                ))
            } else {
                Outcome::Ok
            }
        }
    };
    result(name, outcome)
}

/// The images of `want` that no image of `have` answers to, in order.
#[must_use]
pub fn missing_images(want: &[NodeImage], have: &[RuntimeImage]) -> Vec<NodeImage> {
    want.iter()
        .filter(|w| !have.iter().any(|h| h.answers_to(&w.reference)))
        .cloned()
        .collect()
}

/// The checks of this module, each with the kubeadm check it stands after: `CRI` and
/// `ContainerRuntimeVersion` go before `Swap`; `SystemVerification`, `KubeletVersion`,
/// `Service-kubelet` before `Port-10250` (kubeadm `addCommonChecks`); `ImagePull` last (kubeadm
/// runs it after the others).
#[must_use]
pub fn node_checks(cfg: &ResolvedConfig, kubelet_dir: &Path, f: &NodeFacts) -> NodeChecks {
    NodeChecks {
        runtime: vec![cri(cfg, f), runtime_version(f)],
        kubelet: vec![
            system_verification(f),
            kubelet_version_check(cfg, f),
            kubelet_unit(kubelet_dir, f),
        ],
        images: image_check(cfg, f),
    }
}

/// [`node_checks`]' results, grouped by where they go in kubeadm's order.
#[derive(Debug, Clone)]
pub struct NodeChecks {
    /// `CRI`, `ContainerRuntimeVersion`.
    pub runtime: Vec<CheckResult>,
    /// `SystemVerification`, `KubeletVersion`, `Service-kubelet`.
    pub kubelet: Vec<CheckResult>,
    /// `ImagePull`.
    pub images: CheckResult,
}

impl NodeChecks {
    /// Puts the checks into `base` (the other init checks, in kubeadm's order) where kubeadm
    /// runs them: before `Swap`, before `Port-10250`, and at the end. A `CRI` entry of `base`
    /// is replaced.
    #[must_use]
    pub fn splice_into(self, base: Vec<CheckResult>) -> Vec<CheckResult> {
        let mut out = Vec::with_capacity(base.len() + 6);
        let (mut runtime, mut kubelet) = (Some(self.runtime), Some(self.kubelet));
        for r in base {
            if r.name == "CRI" {
                continue;
            }
            if r.name == "Swap" {
                out.extend(runtime.take().into_iter().flatten());
            }
            if r.name == "Port-10250" {
                out.extend(kubelet.take().into_iter().flatten());
            }
            out.push(r);
        }
        out.extend(runtime.into_iter().flatten());
        out.extend(kubelet.into_iter().flatten());
        out.push(self.images);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::cri::Condition;

    use crate::preflight::test_config::cfg;

    const V2_MOUNTS: &str = "cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid 0 0\n";
    const V1_MOUNTS: &str =
        "tmpfs /sys/fs/cgroup tmpfs rw 0 0\ncgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\n";
    const PROC_CGROUPS: &str = "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpuset\t3\t1\t1\ncpu\t1\t1\t1\ncpuacct\t2\t1\t1\nblkio\t7\t1\t1\nmemory\t4\t26\t1\ndevices\t5\t1\t1\nfreezer\t6\t1\t1\nhugetlb\t0\t1\t1\npids\t8\t1\t1\n";

    fn all_images(c: &ResolvedConfig) -> Vec<RuntimeImage> {
        node_images(c)
            .into_iter()
            .map(|i| RuntimeImage {
                tags: vec![i.reference],
                digests: vec![],
            })
            .collect()
    }

    /// A healthy node: containerd answers and holds every image, kubelet 1.37 with plinth's
    /// drop-in, cgroup v2.
    fn healthy(c: &ResolvedConfig) -> NodeFacts {
        NodeFacts {
            socket: SocketState::Answers,
            runtime: RuntimeFacts {
                crictl: true,
                info: Some(Ok(RuntimeStatus {
                    conditions: vec![Condition {
                        kind: "RuntimeReady".into(),
                        status: true,
                        reason: String::new(),
                        message: String::new(),
                    }],
                    sandbox_image: Some("registry.k8s.io/pause:3.10.2".into()),
                })),
                runtime_config: Some(Ok(true)),
                images: Some(Ok(all_images(c))),
            },
            kubelet: KubeletBinary::Version("Kubernetes v1.37.2".into()),
            unit: KubeletUnit::Found {
                text: "# /usr/lib/systemd/system/kubelet.service\n[Service]\nExecStart=/usr/bin/kubelet\n# /usr/lib/systemd/system/kubelet.service.d/10-plinth.conf\n[Service]\nEnvironment=\"KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml\"\nEnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env\n".into(),
                enabled: true,
            },
            cgroups: CgroupFacts {
                v2: Some(true),
                proc_cgroups: None,
                v2_controllers: Some("cpuset cpu io memory hugetlb pids rdma misc".into()),
            },
        }
    }

    fn check(c: &ResolvedConfig, f: &NodeFacts, name: &str) -> Outcome {
        let all = node_checks(c, Path::new("/var/lib/kubelet"), f).splice_into(vec![]);
        all.into_iter()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("no {name}"))
            .outcome
    }

    fn is_warning(o: &Outcome, needle: &str) -> bool {
        matches!(o, Outcome::Warning(m) if m.contains(needle))
    }

    fn is_error(o: &Outcome, needle: &str) -> bool {
        matches!(o, Outcome::Error(m) if m.contains(needle))
    }

    #[test]
    fn a_healthy_node_passes_and_checks_land_in_kubeadm_s_order() {
        let c = cfg("");
        let f = healthy(&c);
        let base = [
            "CRI",
            "Swap",
            "FileExisting-mount",
            "Port-10250",
            "Port-2379",
        ]
        .map(|n| result(n, Outcome::Ok))
        .to_vec();
        let all = node_checks(&c, Path::new("/var/lib/kubelet"), &f).splice_into(base);
        let names: Vec<&str> = all.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "CRI",
                "ContainerRuntimeVersion",
                "Swap",
                "FileExisting-mount",
                "SystemVerification",
                "KubeletVersion",
                "Service-kubelet",
                "Port-10250",
                "Port-2379",
                "ImagePull"
            ]
        );
        assert!(all.iter().all(|r| r.outcome == Outcome::Ok), "{all:?}");
        assert!(all.iter().all(|r| r.scope == Scope::Host));
    }

    #[test]
    fn runtime_socket_and_readiness() {
        let c = cfg("");
        let mut f = healthy(&c);
        f.socket = SocketState::Missing;
        f.runtime = RuntimeFacts::default();
        assert!(is_warning(
            &check(&c, &f, "CRI"),
            "/var/run/containerd/containerd.sock not found"
        ));
        // Nothing to ask: no version or image findings of their own.
        assert_eq!(check(&c, &f, "ContainerRuntimeVersion"), Outcome::Ok);
        assert_eq!(check(&c, &f, "ImagePull"), Outcome::Ok);

        f.socket = SocketState::Refused("connection refused".into());
        assert!(is_error(
            &check(&c, &f, "CRI"),
            "container runtime is not running"
        ));
        f.socket = SocketState::NotASocket;
        assert!(is_error(&check(&c, &f, "CRI"), "is not a socket"));

        let mut f = healthy(&c);
        f.runtime.crictl = false;
        f.runtime.info = None;
        assert!(is_warning(&check(&c, &f, "CRI"), "install cri-tools"));

        let mut f = healthy(&c);
        f.runtime.info = Some(Err(
            "crictl info -o json: connect: connection refused".into()
        ));
        assert!(is_error(&check(&c, &f, "CRI"), "connection refused"));

        let mut f = healthy(&c);
        if let Some(Ok(s)) = &mut f.runtime.info {
            s.conditions[0].status = false;
            s.conditions[0].reason = "NoRunc".into();
            s.conditions[0].message = "runc not found".into();
            s.conditions.push(Condition {
                kind: "NetworkReady".into(),
                status: false,
                reason: "NetworkPluginNotReady".into(),
                message: "cni plugin not initialized".into(),
            });
        }
        assert_eq!(
            check(&c, &f, "CRI"),
            Outcome::Error(
                "container runtime condition \"RuntimeReady\" is not true. reason: NoRunc, message: runc not found".into()
            )
        );
    }

    #[test]
    fn runtime_config_support() {
        let c = cfg("");
        let mut f = healthy(&c);
        f.runtime.runtime_config = Some(Ok(false));
        assert!(is_warning(
            &check(&c, &f, "ContainerRuntimeVersion"),
            "supports the CRI method RuntimeConfig"
        ));
        f.runtime.runtime_config = Some(Err("deadline exceeded".into()));
        assert!(is_error(
            &check(&c, &f, "ContainerRuntimeVersion"),
            "could not check if the runtime config is available: deadline exceeded"
        ));
    }

    #[test]
    fn missing_images_are_named_and_never_pulled() {
        let c = cfg("");
        let mut f = healthy(&c);
        if let Some(Ok(imgs)) = &mut f.runtime.images {
            imgs.retain(|i| !i.tags[0].contains("etcd") && !i.tags[0].contains("coredns"));
        }
        let o = check(&c, &f, "ImagePull");
        assert_eq!(
            o,
            Outcome::Error("2 of the node's images are not in the container runtime: registry.k8s.io/coredns/coredns:v1.14.6, registry.k8s.io/etcd:3.7.0-0. plinth does not pull during init: run `plinth config images pull`, or import them into the runtime (containerd: `ctr -n k8s.io images import`)".into())
        );
        // imagePullPolicy: Never skips the check, as in kubeadm.
        let never = cfg("  imagePullPolicy: Never\n");
        assert_eq!(check(&never, &f, "ImagePull"), Outcome::Ok);
        // A listing failure is an error with crictl's words.
        f.runtime.images = Some(Err("crictl images -o json: boom".into()));
        assert!(is_error(&check(&c, &f, "ImagePull"), "boom"));
        // Every image there, but the runtime runs another pause image.
        let mut f = healthy(&c);
        if let Some(Ok(s)) = &mut f.runtime.info {
            s.sandbox_image = Some("registry.k8s.io/pause:3.9".into());
        }
        assert!(is_warning(
            &check(&c, &f, "ImagePull"),
            "sandbox image \"registry.k8s.io/pause:3.9\""
        ));
    }

    #[test]
    fn kubelet_version_skew() {
        let c = cfg("");
        let with = |v: KubeletBinary| {
            let mut f = healthy(&c);
            f.kubelet = v;
            check(&c, &f, "KubeletVersion")
        };
        assert_eq!(
            with(KubeletBinary::Version("Kubernetes v1.34.9".into())),
            Outcome::Ok
        );
        assert_eq!(
            with(KubeletBinary::Version("Kubernetes v1.37.2-dirty".into())),
            Outcome::Ok
        );
        assert!(is_error(
            &with(KubeletBinary::Version("Kubernetes v1.38.0".into())),
            "the kubelet version is higher than the control plane version"
        ));
        assert!(is_error(
            &with(KubeletBinary::Version("Kubernetes v1.33.1".into())),
            "Kubelet version \"v1.33.1\" is lower than plinth can support"
        ));
        assert!(is_warning(
            &with(KubeletBinary::Missing),
            "kubelet not found in system path: install the kubelet 1.37"
        ));
        assert!(is_error(
            &with(KubeletBinary::Failed("exit status 1".into())),
            "couldn't get kubelet version: exit status 1"
        ));
        assert!(is_error(
            &with(KubeletBinary::Version("garbage".into())),
            "cannot parse"
        ));
    }

    #[test]
    fn cgroups_v2_v1_and_missing_controllers() {
        let c = cfg("");
        let mut f = healthy(&c);
        assert_eq!(check(&c, &f, "SystemVerification"), Outcome::Ok);
        f.cgroups.v2_controllers = Some("cpuset cpu memory".into());
        assert_eq!(
            check(&c, &f, "SystemVerification"),
            Outcome::Error(
                "missing required cgroups: pids; missing optional cgroups: hugetlb io".into()
            )
        );

        // This machine's layout: v1 under a tmpfs, every controller enabled.
        let mut f = healthy(&c);
        f.cgroups = CgroupFacts {
            v2: Some(false),
            proc_cgroups: Some(PROC_CGROUPS.into()),
            v2_controllers: None,
        };
        let v1 = |f: &NodeFacts| {
            node_checks(&c, Path::new("/var/lib/kubelet"), f)
                .kubelet
                .remove(0)
                .outcome
        };
        // kubelet 1.37 refuses v1 by default: an error, as kubeadm 1.37.
        assert!(is_error(&v1(&f), "cgroups v1 support is deprecated"));
        f.kubelet = KubeletBinary::Version("Kubernetes v1.34.3".into());
        assert!(is_warning(&v1(&f), "cgroups v1 support is deprecated"));
        f.kubelet = KubeletBinary::Missing;
        assert!(is_warning(&v1(&f), "cgroups v1 support is deprecated"));
        // A disabled required controller.
        f.cgroups.proc_cgroups = Some(PROC_CGROUPS.replace("pids\t8\t1\t1", "pids\t8\t1\t0"));
        assert!(is_error(&v1(&f), "missing required cgroups: pids"));

        f.cgroups.v2 = None;
        assert!(is_error(&v1(&f), "cannot get a cgroup mount point"));
    }

    #[test]
    fn the_cgroup_layout_is_read_as_kubeadm_reads_it() {
        let mut host = Host(Default::default(), false);
        assert_eq!(
            unified_mount(V2_MOUNTS, &host),
            Some(("/sys/fs/cgroup".into(), true))
        );
        // A tmpfs at /sys/fs/cgroup with a memory directory: v1 (this machine).
        host.1 = true;
        assert_eq!(
            unified_mount(V1_MOUNTS, &host),
            Some(("/sys/fs/cgroup".into(), false))
        );
        // v1 controllers mounted elsewhere, and a v2 hierarchy elsewhere.
        let v1 = "cgroup /cg/cpu cgroup rw,cpu 0 0\n";
        assert_eq!(unified_mount(v1, &host), Some(("/cg/cpu".into(), false)));
        let v2 = "cgroup /cg/cpu cgroup rw,cpu 0 0\ncgroup2 /cg/unified cgroup2 rw 0 0\n";
        assert_eq!(unified_mount(v2, &host), Some(("/cg/unified".into(), true)));
        assert_eq!(unified_mount("proc /proc proc rw 0 0\n", &host), None);
    }

    #[test]
    fn the_kubelet_unit_must_read_plinth_s_files() {
        let c = cfg("");
        let mut f = healthy(&c);
        f.unit = KubeletUnit::Found {
            text: "[Service]\nExecStart=/usr/bin/kubelet\n".into(),
            enabled: false,
        };
        let o = check(&c, &f, "Service-kubelet");
        assert!(
            is_warning(
                &o,
                "the kubelet service does not read /var/lib/kubelet/config.yaml and /var/lib/kubelet/kubeadm-flags.env"
            ),
            "{o:?}"
        );
        assert!(is_warning(&o, KUBELET_DROP_IN_SOURCE));
        assert!(is_warning(&o, "systemctl enable kubelet.service"));
        f.unit = KubeletUnit::Missing("Unit kubelet.service could not be found.".into());
        assert!(is_warning(
            &check(&c, &f, "Service-kubelet"),
            "kubelet service does not exist"
        ));
        f.unit = KubeletUnit::NoSystemd;
        assert!(is_warning(
            &check(&c, &f, "Service-kubelet"),
            "no supported init system detected"
        ));
    }

    /// A fake host for `gather`: a socket that answers, files from a map, and whether every
    /// other path exists.
    struct Host(std::collections::BTreeMap<&'static str, String>, bool);

    impl HostProbe for Host {
        fn port(&self, _: u16) -> super::super::PortState {
            super::super::PortState::Free
        }
        fn read(&self, path: &Path) -> std::io::Result<String> {
            self.0
                .get(path.to_str().unwrap())
                .cloned()
                .ok_or_else(|| std::io::ErrorKind::NotFound.into())
        }
        fn in_path(&self, _: &str) -> bool {
            true
        }
        fn socket(&self, _: &Path) -> SocketState {
            SocketState::Answers
        }
        fn exists(&self, _: &Path) -> bool {
            self.1
        }
    }

    fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt as _;
        let p = dir.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    #[test]
    fn gather_asks_crictl_kubelet_systemctl_and_the_cgroup_files() {
        use crate::host::cri::fake;
        let d = tempfile::tempdir().unwrap();
        let c = cfg("");
        let crictl = fake::crictl(d.path());
        fake::answer(
            d.path(),
            "info",
            r#"{"status":{"conditions":[{"type":"RuntimeReady","status":true}]}}"#,
        );
        fake::answer(
            d.path(),
            "images",
            r#"{"images":[{"repoTags":["registry.k8s.io/pause:3.10.2"]}]}"#,
        );
        let tools = Tools {
            crictl: Some(crictl),
            kubelet: Some(script(d.path(), "kubelet", "echo 'Kubernetes v1.37.2'")),
            systemctl: Some(script(
                d.path(),
                "systemctl",
                "case \"$1\" in cat) echo '[Service]';; is-enabled) echo disabled; exit 1;; esac",
            )),
        };
        let host = Host(
            [
                ("/proc/mounts", V2_MOUNTS.to_string()),
                ("/sys/fs/cgroup/cgroup.controllers", "cpu pids".to_string()),
            ]
            .into_iter()
            .collect(),
            false,
        );
        let f = NodeFacts::gather(&c, &host, &tools);
        assert_eq!(
            f.kubelet,
            KubeletBinary::Version("Kubernetes v1.37.2".into())
        );
        assert_eq!(
            f.unit,
            KubeletUnit::Found {
                text: "[Service]\n".into(),
                enabled: false
            }
        );
        assert_eq!(f.cgroups.v2_controllers.as_deref(), Some("cpu pids"));
        assert!(matches!(&f.runtime.info, Some(Ok(s)) if s.conditions[0].status));
        assert_eq!(f.runtime.runtime_config, Some(Ok(true)));
        assert!(matches!(&f.runtime.images, Some(Ok(i)) if i.len() == 1));
        assert_eq!(
            fake::calls(d.path()),
            ["info -o json", "runtime-config", "images -o json"]
        );
        // The runtime does not answer: nothing more is asked.
        fake::fail(d.path(), "info", "connection refused");
        let f = NodeFacts::gather(&c, &host, &tools);
        assert_eq!(f.runtime.images, None);
        assert!(is_error(&check(&c, &f, "CRI"), "connection refused"));
        // No tools at all.
        let f = NodeFacts::gather(&c, &host, &Tools::default());
        assert_eq!(f.kubelet, KubeletBinary::Missing);
        assert_eq!(f.unit, KubeletUnit::NoSystemd);
        assert!(!f.runtime.crictl);
    }
}
