//! Static Pod manifests: strict parsing into `k8s_openapi` Pods and the checks that turn a Pod into a
//! [`PodPlan`] the stand-in can run faithfully as a host process, or a clear rejection.
//!
//! Owns image → binary resolution (only through `--bin-dir`), `$(VAR)` expansion of env, command and
//! args, the static Pod name and UID, and probe defaulting. It starts nothing.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, Pod, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use sha2::{Digest, Sha256};

use crate::expand::expand;

/// Settings that influence how a manifest becomes a plan.
#[derive(Debug, Clone)]
pub struct PlanContext {
    /// The only directory binaries are taken from.
    pub bin_dir: PathBuf,
    /// The node name, appended to static Pod names as the kubelet does.
    pub node_name: String,
    /// The node IP, used for `status.hostIP`/`status.podIP` field references.
    pub node_ip: Option<IpAddr>,
    /// Caps every termination grace period (a stand-in option; the kubelet has none).
    pub max_grace: Option<Duration>,
}

/// A static Pod the stand-in can run: one host process with its environment, volumes and probes.
#[derive(Debug, Clone, PartialEq)]
pub struct PodPlan {
    /// The manifest file.
    pub file: PathBuf,
    /// SHA-256 (hex) of the manifest bytes.
    pub manifest_hash: String,
    /// The static Pod UID (kubelet: a hash of the manifest, the node and the file path).
    pub uid: String,
    /// `metadata.name` as written in the manifest; the status key.
    pub name: String,
    /// `<name>-<node>`, the name the kubelet gives the Pod.
    pub full_name: String,
    /// `metadata.namespace`, defaulted to `default`.
    pub namespace: String,
    /// The single container.
    pub container: ContainerPlan,
    /// hostPath volumes, created or checked before each start.
    pub host_paths: Vec<HostPathVolume>,
    /// SIGTERM → SIGKILL delay when the Pod is stopped.
    pub grace_period: Duration,
    /// `spec.restartPolicy`.
    pub restart_policy: RestartPolicy,
    /// The parsed Pod, for mirror Pods.
    pub pod: Pod,
}

/// The container of a [`PodPlan`].
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerPlan {
    /// `containers[0].name`.
    pub name: String,
    /// `containers[0].image`.
    pub image: String,
    /// The resolved executable inside `--bin-dir`.
    pub program: PathBuf,
    /// argv[1..], already `$(VAR)`-expanded.
    pub args: Vec<String>,
    /// The complete environment of the process.
    pub env: Vec<(String, String)>,
    /// `workingDir`, default `/`.
    pub working_dir: PathBuf,
    /// `startupProbe`.
    pub startup: Option<ProbeSpec>,
    /// `livenessProbe`.
    pub liveness: Option<ProbeSpec>,
    /// `readinessProbe`.
    pub readiness: Option<ProbeSpec>,
}

/// `spec.restartPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartPolicy {
    /// Restart after every exit (the default).
    Always,
    /// Restart only after a non-zero exit or a probe kill.
    OnFailure,
    /// Never restart.
    Never,
}

/// A hostPath volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPathVolume {
    /// The volume name.
    pub name: String,
    /// `hostPath.path`.
    pub path: PathBuf,
    /// `hostPath.type`.
    pub kind: HostPathType,
}

/// `hostPath.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostPathType {
    /// `""`: no check; containerd creates a missing source as a directory.
    Unset,
    /// Create the directory (0755) when missing.
    DirectoryOrCreate,
    /// Must be an existing directory.
    Directory,
    /// Create an empty file (0644) when missing; the parent must exist.
    FileOrCreate,
    /// Must be an existing file.
    File,
    /// Must be an existing socket.
    Socket,
    /// Must be an existing character device.
    CharDevice,
    /// Must be an existing block device.
    BlockDevice,
}

/// An HTTP or TCP probe with Kubernetes defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeSpec {
    /// What to check.
    pub action: ProbeAction,
    /// `initialDelaySeconds` (default 0).
    pub initial_delay: Duration,
    /// `periodSeconds` (default 10).
    pub period: Duration,
    /// `timeoutSeconds` (default 1).
    pub timeout: Duration,
    /// `successThreshold` (default 1).
    pub success_threshold: u32,
    /// `failureThreshold` (default 3).
    pub failure_threshold: u32,
    /// `terminationGracePeriodSeconds` of the probe, overriding the Pod's for probe kills.
    pub termination_grace: Option<Duration>,
}

/// The probe handler.
#[derive(Debug, Clone, PartialEq)]
pub enum ProbeAction {
    /// `httpGet`: success is a status in 200..=399.
    Http {
        /// The full URL.
        url: String,
        /// `httpHeaders`, in order.
        headers: Vec<(String, String)>,
    },
    /// `tcpSocket`: success is an accepted connection.
    Tcp {
        /// `host:port`.
        addr: String,
    },
}

/// Why a manifest file is not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Rejection {
    /// The status key: the Pod name when it could be read, otherwise the file name.
    pub key: String,
    /// SHA-256 (hex) of the manifest bytes.
    pub manifest_hash: String,
    /// A one-line reason.
    pub message: String,
}

/// SHA-256 of `data` as lowercase hex.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The static Pod UID. kubelet (`config/common.go` `applyDefaults`) takes an MD5 of the deep-hashed Pod,
/// then `host:<node>` and `file:<path>`; the stand-in hashes the file bytes instead of the decoded object,
/// with the same node and path suffixes, and keeps the first 128 bits of a SHA-256 (32 hex digits, like MD5).
pub fn static_pod_uid(content: &[u8], node_name: &str, file: &Path) -> String {
    let mut h = Sha256::new();
    h.update(content);
    h.update(format!("host:{node_name}").as_bytes());
    h.update(format!("file:{}", file.display()).as_bytes());
    hex(&h.finalize()[..16])
}

/// The binary name an image stands for: the last path segment of the repository, without tag or digest.
/// `registry.k8s.io/kube-apiserver:v1.37.2` → `kube-apiserver`.
pub fn image_binary_name(image: &str) -> Option<&str> {
    let without_digest = image.split('@').next().unwrap_or(image);
    let last = without_digest.rsplit('/').next().unwrap_or(without_digest);
    let name = last.split(':').next().unwrap_or(last);
    valid_binary_name(name).then_some(name)
}

fn valid_binary_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains('/')
}

/// Resolves the executable for a container: `command[0]` (by basename) when a command is given, else the
/// image's binary, always inside `bin_dir` and never through the host `PATH`. Returns the program and the
/// remaining argv.
pub fn resolve_program(
    bin_dir: &Path,
    image: &str,
    command: &[String],
    args: &[String],
) -> Result<(PathBuf, Vec<String>), String> {
    let image_bin = image_binary_name(image)
        .ok_or_else(|| format!("cannot derive a binary name from image {image:?}"))?;
    match command.split_first() {
        Some((first, rest)) => {
            let base = Path::new(first)
                .file_name()
                .and_then(|n| n.to_str())
                .filter(|n| valid_binary_name(n))
                .ok_or_else(|| format!("cannot resolve command {first:?} to a binary name"))?;
            let mut argv = rest.to_vec();
            argv.extend_from_slice(args);
            Ok((bin_dir.join(base), argv))
        }
        // No command: the image entrypoint, which for the Kubernetes images is the binary itself.
        None => Ok((bin_dir.join(image_bin), args.to_vec())),
    }
}

/// The result of strict parsing: the Pod and the unknown fields found on the way.
#[derive(Debug)]
pub struct Parsed {
    /// The decoded Pod (unknown fields dropped).
    pub pod: Pod,
    /// Paths of unknown fields, e.g. `spec.hostNetwrk`.
    pub unknown_fields: Vec<String>,
}

/// Decodes YAML or JSON into a Pod, recording unknown fields instead of ignoring them silently.
///
/// # Errors
/// A syntax or type error, or a document that is not `apiVersion: v1`, `kind: Pod`.
pub fn parse_pod(text: &str) -> Result<Parsed, String> {
    let mut unknown = Vec::new();
    let record = |path: serde_ignored::Path<'_>| unknown.push(clean_path(&path.to_string()));
    let pod: Pod = if text.trim_start().starts_with('{') {
        let mut de = serde_json::Deserializer::from_str(text);
        let pod = serde_ignored::deserialize(&mut de, record).map_err(|e| e.to_string())?;
        de.end().map_err(|e| e.to_string())?;
        pod
    } else {
        serde_saphyr::with_deserializer_from_str(text, |de| serde_ignored::deserialize(de, record))
            .map_err(|e| e.to_string())?
    };
    Ok(Parsed {
        pod,
        unknown_fields: unknown,
    })
}

fn clean_path(path: &str) -> String {
    path.split('.')
        .filter(|seg| *seg != "?")
        .collect::<Vec<_>>()
        .join(".")
}

/// Parses and checks one manifest file.
///
/// # Errors
/// A [`Rejection`] naming the first reason the Pod cannot be run faithfully.
pub fn load_plan(file: &Path, content: &[u8], ctx: &PlanContext) -> Result<PodPlan, Rejection> {
    let manifest_hash = sha256_hex(content);
    let file_key = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let reject = |key: &str, message: String| Rejection {
        key: key.to_owned(),
        manifest_hash: manifest_hash.clone(),
        message,
    };
    let text = std::str::from_utf8(content)
        .map_err(|e| reject(&file_key, format!("{}: not UTF-8: {e}", file.display())))?;
    let parsed = parse_pod(text).map_err(|e| {
        reject(
            &file_key,
            format!("{}: couldn't parse as pod: {e}", file.display()),
        )
    })?;
    let name = parsed.pod.metadata.name.clone().unwrap_or_default();
    let key = if name.is_empty() {
        file_key.clone()
    } else {
        name.clone()
    };
    if !parsed.unknown_fields.is_empty() {
        return Err(reject(
            &key,
            format!(
                "{}: unknown field(s): {}",
                file.display(),
                parsed.unknown_fields.join(", ")
            ),
        ));
    }
    build_plan(file, content, parsed.pod, ctx, manifest_hash.clone())
        .map_err(|message| reject(&key, format!("pod {key:?} rejected: {message}")))
}

fn build_plan(
    file: &Path,
    content: &[u8],
    pod: Pod,
    ctx: &PlanContext,
    manifest_hash: String,
) -> Result<PodPlan, String> {
    let name = pod.metadata.name.clone().unwrap_or_default();
    validate_name(&name)?;
    let namespace = pod.metadata.namespace.clone().filter(|n| !n.is_empty());
    let namespace = namespace.unwrap_or_else(|| "default".to_owned());
    let uid = match pod.metadata.uid.clone().filter(|u| !u.is_empty()) {
        Some(uid) => uid,
        None => static_pod_uid(content, &ctx.node_name, file),
    };
    let full_name = format!("{name}-{}", ctx.node_name.to_lowercase());
    let spec = pod.spec.as_ref().ok_or("spec is missing")?;

    if spec.host_network != Some(true) {
        return Err(
            "only hostNetwork pods can run as host processes (spec.hostNetwork is not true)".into(),
        );
    }
    if spec.init_containers.as_ref().is_some_and(|c| !c.is_empty()) {
        return Err("init containers are not supported".into());
    }
    if spec
        .ephemeral_containers
        .as_ref()
        .is_some_and(|c| !c.is_empty())
    {
        return Err("ephemeral containers are not supported".into());
    }
    if spec.containers.len() != 1 {
        return Err(format!(
            "exactly one container is supported, found {}",
            spec.containers.len()
        ));
    }
    let restart_policy = match spec.restart_policy.as_deref() {
        None | Some("Always") => RestartPolicy::Always,
        Some("OnFailure") => RestartPolicy::OnFailure,
        Some("Never") => RestartPolicy::Never,
        Some(other) => return Err(format!("unsupported restartPolicy {other:?}")),
    };

    let mut host_paths = Vec::new();
    let mut names = BTreeSet::new();
    for volume in spec.volumes.iter().flatten() {
        if !names.insert(volume.name.clone()) {
            return Err(format!("duplicate volume name {:?}", volume.name));
        }
        let value = serde_json::to_value(volume).map_err(|e| e.to_string())?;
        let extra: Vec<&String> = value
            .as_object()
            .map(|o| {
                o.keys()
                    .filter(|k| *k != "name" && *k != "hostPath")
                    .collect()
            })
            .unwrap_or_default();
        let Some(hp) = volume.host_path.as_ref().filter(|_| extra.is_empty()) else {
            let kind = extra.first().map(|s| s.as_str()).unwrap_or("none");
            return Err(format!(
                "volume {:?}: only hostPath volumes are supported, found {kind}",
                volume.name
            ));
        };
        if !Path::new(&hp.path).is_absolute() {
            return Err(format!(
                "volume {:?}: hostPath.path {:?} is not absolute",
                volume.name, hp.path
            ));
        }
        let kind = match hp.type_.as_deref().unwrap_or("") {
            "" => HostPathType::Unset,
            "DirectoryOrCreate" => HostPathType::DirectoryOrCreate,
            "Directory" => HostPathType::Directory,
            "FileOrCreate" => HostPathType::FileOrCreate,
            "File" => HostPathType::File,
            "Socket" => HostPathType::Socket,
            "CharDevice" => HostPathType::CharDevice,
            "BlockDevice" => HostPathType::BlockDevice,
            other => {
                return Err(format!(
                    "volume {:?}: unknown hostPath type {other:?}",
                    volume.name
                ));
            }
        };
        host_paths.push(HostPathVolume {
            name: volume.name.clone(),
            path: PathBuf::from(&hp.path),
            kind,
        });
    }

    let c = &spec.containers[0];
    let mut container = build_container(c, &host_paths, ctx, &full_name, &namespace, &uid)?;
    for p in [
        &mut container.startup,
        &mut container.liveness,
        &mut container.readiness,
    ]
    .into_iter()
    .flatten()
    {
        p.termination_grace = p.termination_grace.map(|g| cap(g, ctx.max_grace));
    }

    // kubelet: killContainer never waits less than minimumGracePeriodInSeconds (2 s).
    let grace_secs = spec.termination_grace_period_seconds.unwrap_or(30).max(2);
    let grace_period = cap(
        Duration::from_secs(grace_secs.unsigned_abs()),
        ctx.max_grace,
    );

    Ok(PodPlan {
        file: file.to_path_buf(),
        manifest_hash,
        uid,
        name,
        full_name,
        namespace,
        container,
        host_paths,
        grace_period,
        restart_policy,
        pod,
    })
}

fn cap(d: Duration, max: Option<Duration>) -> Duration {
    max.map_or(d, |m| d.min(m))
}

fn validate_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "metadata.name {name:?} is not a valid DNS subdomain"
        ))
    }
}

fn build_container(
    c: &Container,
    host_paths: &[HostPathVolume],
    ctx: &PlanContext,
    full_name: &str,
    namespace: &str,
    uid: &str,
) -> Result<ContainerPlan, String> {
    if c.name.is_empty() {
        return Err("container name is empty".into());
    }
    let image = c
        .image
        .clone()
        .filter(|i| !i.is_empty())
        .ok_or("container image is empty")?;
    if c.env_from.as_ref().is_some_and(|e| !e.is_empty()) {
        return Err("envFrom is not supported".into());
    }
    if c.lifecycle.is_some() {
        return Err("lifecycle hooks are not supported".into());
    }
    if c.volume_devices.as_ref().is_some_and(|d| !d.is_empty()) {
        return Err("volumeDevices are not supported".into());
    }
    if c.restart_policy.is_some() {
        return Err("container restartPolicy (sidecars) is only valid for init containers".into());
    }
    if c.tty == Some(true) || c.stdin == Some(true) {
        return Err("stdin/tty containers are not supported".into());
    }
    for m in c.volume_mounts.iter().flatten() {
        let vol = host_paths
            .iter()
            .find(|v| v.name == m.name)
            .ok_or_else(|| format!("volumeMount {:?} refers to no volume", m.name))?;
        if m.sub_path.as_deref().is_some_and(|s| !s.is_empty())
            || m.sub_path_expr.as_deref().is_some_and(|s| !s.is_empty())
        {
            return Err(format!(
                "volumeMount {:?}: subPath is not supported",
                m.name
            ));
        }
        // Processes see the host filesystem, so a mount is only faithful where it is the identity.
        if normalize(Path::new(&m.mount_path)) != normalize(&vol.path) {
            return Err(format!(
                "volumeMount {:?}: mountPath {:?} differs from hostPath {:?}; host processes need them equal",
                m.name,
                m.mount_path,
                vol.path.display()
            ));
        }
    }

    // Environment: the image's (only PATH, pointing at the bin dir), HOSTNAME as the runtime sets it, then
    // env[] in order, each value expanded against the variables defined before it (kubelet:
    // makeEnvironmentVariables).
    let mut env: Vec<(String, String)> = vec![
        ("PATH".to_owned(), ctx.bin_dir.display().to_string()),
        ("HOSTNAME".to_owned(), ctx.node_name.clone()),
    ];
    let mut defined: HashMap<String, String> = HashMap::new();
    for var in c.env.iter().flatten() {
        if var.name.is_empty() {
            return Err("env var with an empty name".into());
        }
        let value = match (&var.value, &var.value_from) {
            (_, Some(from)) => field_ref_value(from, ctx, full_name, namespace, uid)
                .map_err(|e| format!("env {:?}: {e}", var.name))?,
            (Some(v), None) => expand(v, &defined),
            (None, None) => String::new(),
        };
        defined.insert(var.name.clone(), value.clone());
        env.retain(|(k, _)| *k != var.name);
        env.push((var.name.clone(), value));
    }

    let command: Vec<String> = c
        .command
        .iter()
        .flatten()
        .map(|s| expand(s, &defined))
        .collect();
    let args: Vec<String> = c
        .args
        .iter()
        .flatten()
        .map(|s| expand(s, &defined))
        .collect();
    let (program, args) = resolve_program(&ctx.bin_dir, &image, &command, &args)?;

    let working_dir = match c.working_dir.as_deref().filter(|w| !w.is_empty()) {
        None => PathBuf::from("/"),
        Some(w) if Path::new(w).is_absolute() => PathBuf::from(w),
        Some(w) => return Err(format!("workingDir {w:?} is not absolute")),
    };

    Ok(ContainerPlan {
        name: c.name.clone(),
        image,
        program,
        args,
        env,
        working_dir,
        startup: probe(c, c.startup_probe.as_ref(), "startupProbe", true)?,
        liveness: probe(c, c.liveness_probe.as_ref(), "livenessProbe", true)?,
        readiness: probe(c, c.readiness_probe.as_ref(), "readinessProbe", false)?,
    })
}

fn normalize(p: &Path) -> Vec<Component<'_>> {
    p.components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect()
}

fn field_ref_value(
    from: &k8s_openapi::api::core::v1::EnvVarSource,
    ctx: &PlanContext,
    full_name: &str,
    namespace: &str,
    uid: &str,
) -> Result<String, String> {
    let Some(field) = from.field_ref.as_ref() else {
        return Err(
            "only valueFrom.fieldRef is supported (no ConfigMaps, Secrets or resources)".into(),
        );
    };
    let node_ip = || {
        ctx.node_ip
            .map(|ip| ip.to_string())
            .ok_or_else(|| format!("fieldRef {:?} needs --node-ip", field.field_path))
    };
    match field.field_path.as_str() {
        "metadata.name" => Ok(full_name.to_owned()),
        "metadata.namespace" => Ok(namespace.to_owned()),
        "metadata.uid" => Ok(uid.to_owned()),
        "spec.nodeName" => Ok(ctx.node_name.clone()),
        "spec.serviceAccountName" => Ok(String::new()),
        // hostNetwork: the Pod IP is the node IP.
        "status.hostIP" | "status.podIP" | "status.hostIPs" | "status.podIPs" => node_ip(),
        other => Err(format!("unsupported fieldRef {other:?}")),
    }
}

fn probe(
    c: &Container,
    p: Option<&Probe>,
    what: &str,
    single_success: bool,
) -> Result<Option<ProbeSpec>, String> {
    let Some(p) = p else { return Ok(None) };
    let secs = |v: Option<i32>, default: i32, field: &str, min: i32| -> Result<u32, String> {
        let v = v.unwrap_or(default);
        if v < min {
            return Err(format!("{what}.{field} must be at least {min}, got {v}"));
        }
        Ok(v.unsigned_abs())
    };
    let initial_delay = secs(p.initial_delay_seconds, 0, "initialDelaySeconds", 0)?;
    let period = secs(p.period_seconds, 10, "periodSeconds", 1)?;
    let timeout = secs(p.timeout_seconds, 1, "timeoutSeconds", 1)?;
    let success_threshold = secs(p.success_threshold, 1, "successThreshold", 1)?;
    let failure_threshold = secs(p.failure_threshold, 3, "failureThreshold", 1)?;
    if single_success && success_threshold != 1 {
        return Err(format!("{what}.successThreshold must be 1"));
    }
    let handlers = [
        p.exec.is_some(),
        p.grpc.is_some(),
        p.http_get.is_some(),
        p.tcp_socket.is_some(),
    ];
    if handlers.iter().filter(|h| **h).count() != 1 {
        return Err(format!("{what} must have exactly one handler"));
    }
    let action = if let Some(h) = &p.http_get {
        let scheme = match h.scheme.as_deref().unwrap_or("HTTP") {
            "HTTP" => "http",
            "HTTPS" => "https",
            other => {
                return Err(format!(
                    "{what}.httpGet.scheme {other:?} is not HTTP or HTTPS"
                ));
            }
        };
        let host = h
            .host
            .clone()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "127.0.0.1".to_owned());
        let port = resolve_port(c, &h.port).map_err(|e| format!("{what}.httpGet.port: {e}"))?;
        let path = h.path.clone().unwrap_or_default();
        let path = if path.starts_with('/') {
            path
        } else {
            format!("/{path}")
        };
        let headers = h
            .http_headers
            .iter()
            .flatten()
            .map(|h| (h.name.clone(), h.value.clone()))
            .collect();
        ProbeAction::Http {
            url: format!("{scheme}://{}{path}", host_port(&host, port)),
            headers,
        }
    } else if let Some(t) = &p.tcp_socket {
        let host = t
            .host
            .clone()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "127.0.0.1".to_owned());
        let port = resolve_port(c, &t.port).map_err(|e| format!("{what}.tcpSocket.port: {e}"))?;
        ProbeAction::Tcp {
            addr: host_port(&host, port),
        }
    } else {
        return Err(format!(
            "{what}: only httpGet and tcpSocket probes are supported (not exec or grpc)"
        ));
    };
    Ok(Some(ProbeSpec {
        action,
        initial_delay: Duration::from_secs(initial_delay.into()),
        period: Duration::from_secs(period.into()),
        timeout: Duration::from_secs(timeout.into()),
        success_threshold,
        failure_threshold,
        termination_grace: p
            .termination_grace_period_seconds
            .map(|s| Duration::from_secs(s.max(2).unsigned_abs())),
    }))
}

fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Resolves a probe port: a number, a named container port, or (kubelet's last resort) a number in a string.
fn resolve_port(c: &Container, port: &IntOrString) -> Result<u16, String> {
    let n = match port {
        IntOrString::Int(n) => *n,
        IntOrString::String(s) => match c
            .ports
            .iter()
            .flatten()
            .find(|p| p.name.as_deref() == Some(s))
        {
            Some(p) => p.container_port,
            None => s
                .parse()
                .map_err(|_| format!("named port {s:?} not found in the container's ports"))?,
        },
    };
    u16::try_from(n)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("port {n} is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> PlanContext {
        PlanContext {
            bin_dir: PathBuf::from("/opt/bin"),
            node_name: "Node-1".into(),
            node_ip: None,
            max_grace: None,
        }
    }

    const GOOD: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: kube-apiserver
  namespace: kube-system
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 5
  containers:
  - name: kube-apiserver
    image: registry.k8s.io/kube-apiserver:v1.37.2
    command:
    - kube-apiserver
    - --advertise-address=$(ADDR)
    args: ["--x=$$(ADDR)", "--y=$(NOPE)"]
    env:
    - name: ADDR
      value: 10.0.0.1
    - name: URL
      value: https://$(ADDR):6443
    - name: POD
      valueFrom:
        fieldRef:
          fieldPath: metadata.name
    ports:
    - name: probe-port
      containerPort: 6443
    livenessProbe:
      httpGet:
        host: 10.0.0.1
        path: livez
        port: probe-port
        scheme: HTTPS
      failureThreshold: 8
    readinessProbe:
      tcpSocket:
        port: 2381
    volumeMounts:
    - name: k8s-certs
      mountPath: /etc/kubernetes/pki
      readOnly: true
  volumes:
  - name: k8s-certs
    hostPath:
      path: /etc/kubernetes/pki
      type: DirectoryOrCreate
status: {}
"#;

    fn plan(text: &str) -> Result<PodPlan, Rejection> {
        load_plan(Path::new("/m/pod.yaml"), text.as_bytes(), &ctx())
    }

    fn rejection(text: &str) -> String {
        match plan(text) {
            Ok(p) => panic!("expected a rejection, got a plan for {}", p.name),
            Err(r) => r.message,
        }
    }

    /// The shape kubeadm writes (etcd, 1.3x): creationTimestamp null, named probe port, status {}.
    const KUBEADM_ETCD: &str = "apiVersion: v1
kind: Pod
metadata:
  annotations:
    kubeadm.kubernetes.io/etcd.advertise-client-urls: https://10.255.0.10:2379
  creationTimestamp: null
  labels:
    component: etcd
    tier: control-plane
  name: etcd
  namespace: kube-system
spec:
  containers:
  - command:
    - etcd
    - --advertise-client-urls=https://10.255.0.10:2379
    - --data-dir=/var/lib/etcd
    - --listen-metrics-urls=http://127.0.0.1:2381
    image: registry.k8s.io/etcd:3.6.5-0
    imagePullPolicy: IfNotPresent
    livenessProbe:
      failureThreshold: 8
      httpGet:
        host: 127.0.0.1
        path: /livez
        port: probe-port
        scheme: HTTP
      initialDelaySeconds: 10
      periodSeconds: 10
      timeoutSeconds: 15
    name: etcd
    ports:
    - containerPort: 2381
      name: probe-port
      protocol: TCP
    readinessProbe:
      failureThreshold: 3
      httpGet:
        host: 127.0.0.1
        path: /readyz
        port: probe-port
        scheme: HTTP
      periodSeconds: 1
      timeoutSeconds: 15
    resources:
      requests:
        cpu: 100m
        memory: 100Mi
    startupProbe:
      failureThreshold: 24
      httpGet:
        host: 127.0.0.1
        path: /readyz
        port: probe-port
        scheme: HTTP
      initialDelaySeconds: 10
      periodSeconds: 10
      timeoutSeconds: 15
    volumeMounts:
    - mountPath: /var/lib/etcd
      name: etcd-data
    - mountPath: /etc/kubernetes/pki/etcd
      name: etcd-certs
  hostNetwork: true
  priority: 2000001000
  priorityClassName: system-node-critical
  securityContext:
    seccompProfile:
      type: RuntimeDefault
  volumes:
  - hostPath:
      path: /etc/kubernetes/pki/etcd
      type: DirectoryOrCreate
    name: etcd-certs
  - hostPath:
      path: /var/lib/etcd
      type: DirectoryOrCreate
    name: etcd-data
status: {}
";

    #[test]
    fn kubeadm_style_manifest_is_accepted() {
        let p = plan(KUBEADM_ETCD).unwrap();
        assert_eq!(p.full_name, "etcd-node-1");
        assert_eq!(p.container.program, PathBuf::from("/opt/bin/etcd"));
        assert_eq!(p.container.args.len(), 3);
        let startup = p.container.startup.as_ref().unwrap();
        assert_eq!(
            startup.action,
            ProbeAction::Http {
                url: "http://127.0.0.1:2381/readyz".into(),
                headers: vec![]
            }
        );
        assert_eq!(
            (
                startup.initial_delay,
                startup.period,
                startup.timeout,
                startup.failure_threshold
            ),
            (
                Duration::from_secs(10),
                Duration::from_secs(10),
                Duration::from_secs(15),
                24
            )
        );
        assert_eq!(p.host_paths.len(), 2);
    }

    #[test]
    fn good_manifest_becomes_a_plan() {
        let p = plan(GOOD).unwrap();
        assert_eq!(p.name, "kube-apiserver");
        assert_eq!(p.full_name, "kube-apiserver-node-1");
        assert_eq!(p.namespace, "kube-system");
        assert_eq!(p.uid.len(), 32);
        assert_eq!(p.grace_period, Duration::from_secs(5));
        let c = &p.container;
        assert_eq!(c.program, PathBuf::from("/opt/bin/kube-apiserver"));
        assert_eq!(
            c.args,
            ["--advertise-address=10.0.0.1", "--x=$(ADDR)", "--y=$(NOPE)"]
        );
        let env: HashMap<_, _> = c.env.iter().cloned().collect();
        assert_eq!(env["URL"], "https://10.0.0.1:6443");
        assert_eq!(env["POD"], "kube-apiserver-node-1");
        assert_eq!(env["PATH"], "/opt/bin");
        assert_eq!(c.working_dir, PathBuf::from("/"));
        let live = c.liveness.as_ref().unwrap();
        assert_eq!(
            live.action,
            ProbeAction::Http {
                url: "https://10.0.0.1:6443/livez".into(),
                headers: vec![]
            }
        );
        assert_eq!(
            (live.failure_threshold, live.period, live.timeout),
            (8, Duration::from_secs(10), Duration::from_secs(1))
        );
        assert_eq!(
            c.readiness.as_ref().unwrap().action,
            ProbeAction::Tcp {
                addr: "127.0.0.1:2381".into()
            }
        );
        assert_eq!(p.host_paths[0].kind, HostPathType::DirectoryOrCreate);
    }

    #[test]
    fn uid_depends_on_content_node_and_path() {
        let a = static_pod_uid(b"x", "n", Path::new("/a.yaml"));
        assert_eq!(a, static_pod_uid(b"x", "n", Path::new("/a.yaml")));
        assert_ne!(a, static_pod_uid(b"y", "n", Path::new("/a.yaml")));
        assert_ne!(a, static_pod_uid(b"x", "m", Path::new("/a.yaml")));
        assert_ne!(a, static_pod_uid(b"x", "n", Path::new("/b.yaml")));
    }

    #[test]
    fn image_resolution() {
        let cases = [
            (
                "registry.k8s.io/kube-apiserver:v1.37.2",
                Some("kube-apiserver"),
            ),
            ("registry.k8s.io/etcd:3.6.16-0", Some("etcd")),
            (
                "localhost:5000/a/b/kube-scheduler:v1",
                Some("kube-scheduler"),
            ),
            ("kube-proxy", Some("kube-proxy")),
            ("registry.k8s.io/pause@sha256:abcd", Some("pause")),
            ("registry.k8s.io/pause:3.10@sha256:abcd", Some("pause")),
            ("registry.k8s.io/:v1", None),
            ("", None),
        ];
        for (image, want) in cases {
            assert_eq!(image_binary_name(image), want, "{image}");
        }
        let bin = Path::new("/bins");
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            resolve_program(
                bin,
                "registry.k8s.io/etcd:3.6.16-0",
                &s(&["/usr/local/bin/etcd", "--a"]),
                &s(&["--b"])
            ),
            Ok((PathBuf::from("/bins/etcd"), s(&["--a", "--b"])))
        );
        assert_eq!(
            resolve_program(bin, "registry.k8s.io/kube-apiserver:v1", &[], &s(&["--b"])),
            Ok((PathBuf::from("/bins/kube-apiserver"), s(&["--b"])))
        );
        assert!(resolve_program(bin, "x:1", &s(&[".."]), &[]).is_err());
        assert!(resolve_program(bin, "x:1", &s(&["/"]), &[]).is_err());
    }

    #[test]
    fn rejections() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "hostNetwork: true",
                "hostNetwork: false",
                "only hostNetwork pods",
            ),
            (
                "hostNetwork: true",
                "hostNetwrk: true",
                "unknown field(s): spec.hostNetwrk",
            ),
            (
                "  - name: kube-apiserver\n    image",
                "  - name: kube-apiserver\n    imag: x\n    image",
                "unknown field(s): spec.containers.0.imag",
            ),
            (
                "  containers:",
                "  initContainers:\n  - name: i\n    image: x\n  containers:",
                "init containers",
            ),
            (
                "  containers:",
                "  ephemeralContainers:\n  - name: e\n    image: x\n  containers:",
                "ephemeral containers",
            ),
            (
                "  volumes:",
                "  - name: two\n    image: x\n  volumes:",
                "exactly one container",
            ),
            (
                "    hostPath:\n      path: /etc/kubernetes/pki",
                "    emptyDir: {}\n    hostPath:\n      path: /etc/kubernetes/pki",
                "only hostPath volumes",
            ),
            (
                "      mountPath: /etc/kubernetes/pki",
                "      mountPath: /pki",
                "differs from hostPath",
            ),
            (
                "      type: DirectoryOrCreate",
                "      type: Dir",
                "unknown hostPath type",
            ),
            (
                "    readinessProbe:\n      tcpSocket:\n        port: 2381",
                "    readinessProbe:\n      exec:\n        command: [true]",
                "only httpGet and tcpSocket",
            ),
            (
                "        port: probe-port",
                "        port: nope",
                "named port \"nope\" not found",
            ),
            (
                "      failureThreshold: 8",
                "      failureThreshold: 8\n      successThreshold: 2",
                "successThreshold must be 1",
            ),
            (
                "          fieldPath: metadata.name",
                "          fieldPath: status.podIP",
                "needs --node-ip",
            ),
            (
                "  name: kube-apiserver\n  namespace",
                "  name: Kube_APIServer\n  namespace",
                "not a valid DNS subdomain",
            ),
            ("kind: Pod", "kind: Deployment", "couldn't parse as pod"),
            (
                "  hostNetwork: true",
                "  hostNetwork: true\n  restartPolicy: Sometimes",
                "unsupported restartPolicy",
            ),
        ];
        for (from, to, want) in cases {
            assert!(GOOD.contains(from), "fixture lacks {from:?}");
            let msg = rejection(&GOOD.replacen(from, to, 1));
            assert!(
                msg.contains(want),
                "replacing {from:?} with {to:?}: {msg:?} lacks {want:?}"
            );
        }
    }

    #[test]
    fn rejection_key_falls_back_to_the_file_name() {
        let r = load_plan(Path::new("/m/broken.yaml"), b"kind: [", &ctx()).unwrap_err();
        assert_eq!(r.key, "broken.yaml");
        let r = plan(&GOOD.replace("hostNetwork: true", "hostNetwork: false")).unwrap_err();
        assert_eq!(r.key, "kube-apiserver");
    }

    #[test]
    fn json_manifests_are_strict_too() {
        let json = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"hostNetwork":true,
            "containers":[{"name":"c","image":"x/fake:1","bogus":1}]}}"#;
        assert!(
            rejection(json).contains("spec.containers.0.bogus"),
            "{}",
            rejection(json)
        );
        let ok = json.replace(r#","bogus":1"#, "");
        let p = plan(&ok).unwrap();
        assert_eq!(p.namespace, "default");
        assert_eq!(p.container.program, PathBuf::from("/opt/bin/fake"));
        assert_eq!(p.grace_period, Duration::from_secs(30));
    }

    #[test]
    fn grace_period_is_capped_and_has_a_floor() {
        let mut ctx = ctx();
        ctx.max_grace = Some(Duration::from_secs(1));
        let p = load_plan(Path::new("/m/p.yaml"), GOOD.as_bytes(), &ctx).unwrap();
        assert_eq!(p.grace_period, Duration::from_secs(1));
        let p = plan(&GOOD.replace(
            "terminationGracePeriodSeconds: 5",
            "terminationGracePeriodSeconds: 0",
        ))
        .unwrap();
        assert_eq!(p.grace_period, Duration::from_secs(2));
    }
}
