//! The node-local kubelet files `kubelet-start` writes (kubeadm 1.37): `config.yaml` (the
//! cluster KubeletConfiguration with kubeadm's enforced defaults, the user's patches and the
//! instance configuration applied), `instance-config.yaml` and `kubeadm-flags.env`.
//! Knows nothing of the CLI or phases; restarting the kubelet goes through [`ServiceManager`].
// kubeadm: app/phases/kubelet/{config.go,flags.go,kubelet.go}, app/componentconfigs/kubelet.go

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::config::ResolvedConfig;
use crate::config::v1beta4::Arg;
use crate::host::fs::WriteOutcome;
use crate::host::owned::write_owned;
use crate::host::service::{ServiceError, ServiceManager};
use crate::host::{Facts, InitSystem, Paths};
use crate::k8s::sort_keys;
use crate::manifests::args::{arguments_to_command, last_value};
use crate::manifests::{AppliedPatch, PatchError, PatchSet, Schema};

/// `kubelet.config.k8s.io/v1beta1`.
pub const KUBELET_API_VERSION: &str = "kubelet.config.k8s.io/v1beta1";
/// `config.yaml` in the kubelet directory.
pub const CONFIG_FILE: &str = "config.yaml";
/// `instance-config.yaml` in the kubelet directory.
pub const INSTANCE_CONFIG_FILE: &str = "instance-config.yaml";
/// `kubeadm-flags.env` in the kubelet directory.
pub const FLAGS_ENV_FILE: &str = "kubeadm-flags.env";
/// The variable the kubelet's systemd drop-in reads from `kubeadm-flags.env`.
const FLAGS_ENV_VAR: &str = "KUBELET_KUBEADM_ARGS";
/// `resolvConf` when systemd-resolved manages `/etc/resolv.conf`.
const SYSTEMD_RESOLV_CONF: &str = "/run/systemd/resolve/resolv.conf";
/// The kubelet's healthz port kubeadm polls (kubeadm `KubeletHealthzPort`).
const KUBELET_HEALTHZ_PORT: u64 = 10248;
/// Mode of the three kubelet files and their directory (kubeadm `writeConfigBytesToDisk`).
const FILE_MODE: u32 = 0o644;
const DIR_MODE: u32 = 0o700;

/// Building, checking or writing the kubelet files failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KubeletError {
    /// A `kubeletconfiguration` patch did not apply.
    #[error("could not apply patches to the KubeletConfiguration")]
    Patch {
        /// The cause, naming the patch file.
        #[source]
        source: Box<PatchError>,
    },
    /// The configuration could not be serialized.
    #[error("failed to serialize {file}")]
    Serialize {
        /// File name.
        file: &'static str,
        /// The cause.
        #[source]
        source: serde_saphyr::SerializeError,
    },
    /// A generated file did not parse back at all.
    #[error("generated {file} does not parse back")]
    ParseBack {
        /// File name.
        file: &'static str,
        /// The parser's error.
        #[source]
        source: Box<serde_saphyr::Error>,
    },
    /// A generated file did not parse back to what was intended.
    #[error("generated {file} is invalid: {problem}")]
    Check {
        /// File name.
        file: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// Writing a file failed.
    #[error("failed to write kubelet file {file}")]
    Write {
        /// File name.
        file: &'static str,
        /// The cause (names the path).
        #[source]
        source: crate::host::fs::FsError,
    },
}

/// The three files, generated and checked.
#[derive(Debug, Clone)]
pub struct KubeletFiles {
    /// `config.yaml`.
    pub config: String,
    /// `instance-config.yaml`.
    pub instance_config: String,
    /// `kubeadm-flags.env`.
    pub flags_env: String,
    /// kubeadm's "recommended value" warnings about the user's KubeletConfiguration.
    pub warnings: Vec<String>,
    /// `kubeletconfiguration` patches that were applied.
    pub patches: Vec<AppliedPatch>,
}

/// Go's `%v` for the values kubeadm warns about: `[a b]` for lists, plain scalars.
fn go_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => format!("[{}]", a.iter().map(go_value).collect::<Vec<_>>().join(" ")),
        other => other.to_string(),
    }
}

/// Go's `strconv.Quote` (`%q`): the quoting kubeadm uses in `kubeadm-flags.env`.
#[must_use]
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The 10th address of the first service subnet (kubeadm `constants.GetDNSIP`).
fn cluster_dns(cfg: &ResolvedConfig) -> String {
    let net = cfg.service_subnets[0];
    let ip = match net.network() {
        IpAddr::V4(a) => IpAddr::V4(std::net::Ipv4Addr::from(u32::from(a).wrapping_add(10))),
        IpAddr::V6(a) => IpAddr::V6(std::net::Ipv6Addr::from(u128::from(a).wrapping_add(10))),
    };
    ip.to_string()
}

/// The map at `path` under `m`, creating (or replacing non-map values with) empty maps.
fn entry<'a>(m: &'a mut Map<String, Value>, path: &[&str]) -> Option<&'a mut Map<String, Value>> {
    let Some((first, rest)) = path.split_first() else {
        return Some(m);
    };
    let slot = m
        .entry((*first).to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut().and_then(|o| entry(o, rest))
}

/// The cluster-wide KubeletConfiguration: the user's document (if any) with kubeadm's
/// defaults filled in where unset, plus a warning for every enforced value the user changed.
/// The same document goes into the `kubelet-config` ConfigMap later (upload-config).
// kubeadm: app/componentconfigs/kubelet.go (kubeletConfig).Default
#[must_use]
pub fn cluster_kubelet_config(
    cfg: &ResolvedConfig,
    paths: &Paths,
    host: &Facts,
) -> (Value, Vec<String>) {
    let mut doc = match &cfg.kubelet {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    };
    doc.insert("apiVersion".into(), json!(KUBELET_API_VERSION));
    doc.insert("kind".into(), json!("KubeletConfiguration"));
    let mut warnings = Vec::new();
    // Sets `path` to `want` when unset (or empty), else warns when `differs(current)`.
    let mut enforce = |doc: &mut Map<String, Value>,
                       path: &[&str],
                       want: Value,
                       differs: &dyn Fn(&Value) -> bool| {
        let (parents, last) = path.split_at(path.len() - 1);
        let Some(m) = entry(doc, parents) else {
            return;
        };
        let unset = match m.get(last[0]) {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) => s.is_empty(),
            Some(_) => false,
        };
        if unset {
            m.insert(last[0].to_string(), want);
        } else if let Some(cur) = m.get(last[0]).filter(|c| differs(c)) {
            warnings.push(format!(
                "The recommended value for {:?} in \"KubeletConfiguration\" is: {}; the provided value is: {}",
                path.join("."),
                go_value(&want),
                go_value(cur)
            ));
        }
    };
    let ne = |want: Value| move |cur: &Value| *cur != want;
    let static_pods = json!(paths.manifests_dir.display().to_string());
    enforce(
        &mut doc,
        &["staticPodPath"],
        static_pods.clone(),
        &ne(static_pods),
    );
    let dns = json!([cluster_dns(cfg)]);
    enforce(&mut doc, &["clusterDNS"], dns.clone(), &ne(dns));
    let domain = json!(cfg.dns_domain);
    enforce(&mut doc, &["clusterDomain"], domain.clone(), &ne(domain));
    let ca = json!(
        cfg.cert_dir
            .join(crate::pki::CA.cert_file())
            .display()
            .to_string()
    );
    enforce(
        &mut doc,
        &["authentication", "x509", "clientCAFile"],
        ca.clone(),
        &ne(ca),
    );
    enforce(
        &mut doc,
        &["authentication", "anonymous", "enabled"],
        json!(false),
        &|c| *c == json!(true),
    );
    enforce(
        &mut doc,
        &["authorization", "mode"],
        json!("Webhook"),
        &ne(json!("Webhook")),
    );
    enforce(
        &mut doc,
        &["authentication", "webhook", "enabled"],
        json!(true),
        &|c| *c == json!(false),
    );
    enforce(
        &mut doc,
        &["healthzBindAddress"],
        json!("127.0.0.1"),
        &ne(json!("127.0.0.1")),
    );
    enforce(
        &mut doc,
        &["healthzPort"],
        json!(KUBELET_HEALTHZ_PORT),
        &ne(json!(KUBELET_HEALTHZ_PORT)),
    );
    if host.systemd_resolved_active {
        let want = json!(SYSTEMD_RESOLV_CONF);
        enforce(&mut doc, &["resolvConf"], want.clone(), &ne(want));
    }
    if let Some(p) = doc.get("readOnlyPort").filter(|p| **p != json!(0)) {
        warnings.push(format!(
            "The recommended value for \"readOnlyPort\" in \"KubeletConfiguration\" is: 0; the provided value is: {}",
            go_value(p)
        ));
    }
    // kubeadm cannot tell an explicit false from unset here, so it always forces true.
    doc.insert("rotateCertificates".into(), json!(true));
    let driver_unset = doc
        .get("cgroupDriver")
        .is_none_or(|d| d.as_str().is_some_and(str::is_empty) || d.is_null());
    if driver_unset {
        doc.insert("cgroupDriver".into(), json!("systemd"));
    }
    let mut v = Value::Object(doc);
    sort_keys(&mut v);
    (v, warnings)
}

/// `kubeadm-flags.env`: `--hostname-override` when the node name is not the hostname, then
/// `nodeRegistration.kubeletExtraArgs` with kubeadm's override rules. Since 1.35 neither
/// `--container-runtime-endpoint` (instance-config.yaml carries it) nor
/// `--pod-infra-container-image` is written.
// kubeadm: app/phases/kubelet/flags.go WriteKubeletDynamicEnvFile
#[must_use]
pub fn flags_env(cfg: &ResolvedConfig, host: &Facts) -> String {
    let extra: &[Arg] = cfg
        .init
        .node_registration
        .kubelet_extra_args
        .as_deref()
        .unwrap_or_default();
    let node_name = last_value(extra, "hostname-override").unwrap_or(&cfg.node_name);
    let hostname = host.hostname.as_deref().unwrap_or_default();
    let mut defaults = Vec::new();
    if node_name != hostname {
        defaults.push(Arg {
            name: "hostname-override".into(),
            value: node_name.to_string(),
        });
    }
    let args = arguments_to_command(&defaults, extra);
    format!("{FLAGS_ENV_VAR}={}\n", go_quote(&args.join(" ")))
}

/// `instance-config.yaml`: the node-local part of the KubeletConfiguration.
// kubeadm: app/phases/kubelet/config.go WriteInstanceConfigToDisk
#[must_use]
pub fn instance_config(cfg: &ResolvedConfig) -> String {
    format!("containerRuntimeEndpoint: {}\n", go_quote(&cfg.cri_socket))
}

fn to_yaml(file: &'static str, v: &Value) -> Result<String, KubeletError> {
    serde_saphyr::to_string(v).map_err(|source| KubeletError::Serialize { file, source })
}

fn parse_back(file: &'static str, text: &str) -> Result<Value, KubeletError> {
    serde_saphyr::from_str::<Value>(text).map_err(|source| KubeletError::ParseBack {
        file,
        source: Box::new(source),
    })
}

/// Generates the three files: the cluster KubeletConfiguration, then the user's
/// `kubeletconfiguration` patches, then the instance configuration as a last patch.
/// Each file is parsed back and checked.
///
/// # Errors
/// [`KubeletError::Patch`] naming the patch file; `Serialize`/`Check` on a generation bug.
// kubeadm: app/phases/kubelet/config.go WriteConfigToDisk
pub fn generate_kubelet_files(
    cfg: &ResolvedConfig,
    paths: &Paths,
    host: &Facts,
    patches: Option<&PatchSet>,
) -> Result<KubeletFiles, KubeletError> {
    let (mut doc, warnings) = cluster_kubelet_config(cfg, paths, host);
    let applied = match patches {
        Some(set) => set
            .apply("kubeletconfiguration", &mut doc, Schema::Untyped)
            .map_err(|source| KubeletError::Patch {
                source: Box::new(source),
            })?,
        None => Vec::new(),
    };
    let instance_config = instance_config(cfg);
    let instance = parse_back(INSTANCE_CONFIG_FILE, &instance_config)?;
    if instance.get("containerRuntimeEndpoint") != Some(&json!(cfg.cri_socket)) {
        return Err(KubeletError::Check {
            file: INSTANCE_CONFIG_FILE,
            problem: "containerRuntimeEndpoint does not round-trip".into(),
        });
    }
    json_patch::merge(&mut doc, &instance);
    sort_keys(&mut doc);
    let config = to_yaml(CONFIG_FILE, &doc)?;
    let back = parse_back(CONFIG_FILE, &config)?;
    if back != doc {
        return Err(KubeletError::Check {
            file: CONFIG_FILE,
            problem: "the YAML does not parse back to the generated configuration".into(),
        });
    }
    for (key, want) in [
        ("apiVersion", KUBELET_API_VERSION),
        ("kind", "KubeletConfiguration"),
    ] {
        if back.get(key).and_then(Value::as_str) != Some(want) {
            return Err(KubeletError::Check {
                file: CONFIG_FILE,
                problem: format!("{key} must be {want:?} (a patch changed it?)"),
            });
        }
    }
    let flags_env = flags_env(cfg, host);
    if flags_env.lines().count() != 1 || !flags_env.starts_with(&format!("{FLAGS_ENV_VAR}=\"")) {
        return Err(KubeletError::Check {
            file: FLAGS_ENV_FILE,
            problem: "not a single KUBELET_KUBEADM_ARGS=\"...\" line".into(),
        });
    }
    Ok(KubeletFiles {
        config,
        instance_config,
        flags_env,
        warnings,
        patches: applied,
    })
}

/// Writes the three files into `dir` (0644, directory 0700), each only when changed, in
/// kubeadm's order: flags, instance configuration, configuration. Each is recorded in the
/// directory's ledger ([`crate::host::owned`]).
///
/// # Errors
/// [`KubeletError::Write`] naming the path.
pub fn write_kubelet_files(
    dir: &Path,
    files: &KubeletFiles,
) -> Result<Vec<(PathBuf, WriteOutcome)>, KubeletError> {
    let mut out = Vec::new();
    for (file, text) in [
        (FLAGS_ENV_FILE, &files.flags_env),
        (INSTANCE_CONFIG_FILE, &files.instance_config),
        (CONFIG_FILE, &files.config),
    ] {
        let path = dir.join(file);
        let outcome = write_owned(&path, text.as_bytes(), FILE_MODE, DIR_MODE)
            .map_err(|source| KubeletError::Write { file, source })?;
        out.push((path, outcome));
    }
    Ok(out)
}

/// What happened when plinth tried to (re)start the kubelet.
#[derive(Debug)]
pub enum StartOutcome {
    /// `systemctl restart kubelet` succeeded.
    Restarted,
    /// systemd is not the init system: the user must (re)start the kubelet.
    NotSystemd,
    /// The restart failed; kubeadm only warns here, and so does plinth.
    Failed(ServiceError),
    /// No kubelet file changed and the kubelet is running: not restarted (a re-run converges).
    Unchanged,
}

/// Restarts the kubelet through systemd when systemd is the init system. Whether the unit is
/// active is asked now, not taken from the host's facts: it is what this call may change.
// kubeadm: app/phases/kubelet/kubelet.go TryStartKubelet
///
/// `changed` says whether any kubelet file was written; when none was and the kubelet is
/// active, it is left running (kubeadm restarts it on every run).
pub fn restart_kubelet(
    init: InitSystem,
    services: &dyn ServiceManager,
    changed: bool,
) -> StartOutcome {
    if init != InitSystem::Systemd {
        return StartOutcome::NotSystemd;
    }
    if !changed && services.is_active("kubelet") {
        return StartOutcome::Unchanged;
    }
    match services.restart("kubelet") {
        Ok(()) => StartOutcome::Restarted,
        Err(e) => StartOutcome::Failed(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn cfg(extra: &str) -> ResolvedConfig {
        let text = format!(
            "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint:\n  advertiseAddress: 10.0.0.10\nnodeRegistration:\n  name: cp-1\n---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nkubernetesVersion: v1.37.2\n{extra}"
        );
        crate::config::load_str(&text, "t", &Default::default(), &Default::default()).unwrap()
    }

    fn host() -> Facts {
        Facts {
            hostname: Some("cp-1".into()),
            ..Facts::default()
        }
    }

    #[test]
    fn generated_files_parse_back_with_the_enforced_values() {
        let c = cfg("");
        let paths = Paths::host(&c.cert_dir);
        let f = generate_kubelet_files(&c, &paths, &host(), None).unwrap();
        let v: Value = serde_saphyr::from_str(&f.config).unwrap();
        assert_eq!(v["kind"], "KubeletConfiguration");
        assert_eq!(v["staticPodPath"], "/etc/kubernetes/manifests");
        assert_eq!(v["clusterDNS"], json!(["10.96.0.10"]));
        assert_eq!(
            v["authentication"]["x509"]["clientCAFile"],
            "/etc/kubernetes/pki/ca.crt"
        );
        assert_eq!(v["containerRuntimeEndpoint"], c.cri_socket);
        assert_eq!(v["rotateCertificates"], true);
        let i: Value = serde_saphyr::from_str(&f.instance_config).unwrap();
        assert_eq!(i, json!({"containerRuntimeEndpoint": c.cri_socket}));
        assert_eq!(f.flags_env, "KUBELET_KUBEADM_ARGS=\"\"\n");
        assert!(f.warnings.is_empty());
    }

    #[test]
    fn a_patch_that_breaks_the_document_is_caught() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("kubeletconfiguration+merge.yaml"),
            "kind: Pod\n",
        )
        .unwrap();
        let set = PatchSet::load(d.path()).unwrap();
        let c = cfg("");
        let e =
            generate_kubelet_files(&c, &Paths::host(&c.cert_dir), &host(), Some(&set)).unwrap_err();
        assert!(e.to_string().contains("kind must be"), "{e}");
    }

    #[test]
    fn instance_config_wins_over_user_patches() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("kubeletconfiguration.yaml"),
            "containerRuntimeEndpoint: unix:///elsewhere.sock\nmaxPods: 10\n",
        )
        .unwrap();
        let set = PatchSet::load(d.path()).unwrap();
        let c = cfg("");
        let f = generate_kubelet_files(&c, &Paths::host(&c.cert_dir), &host(), Some(&set)).unwrap();
        let v: Value = serde_saphyr::from_str(&f.config).unwrap();
        assert_eq!(v["containerRuntimeEndpoint"], c.cri_socket);
        assert_eq!(v["maxPods"], 10);
        assert_eq!(f.patches.len(), 1);
    }

    struct FakeSystemd {
        fail: bool,
        active: bool,
        calls: Mutex<Vec<String>>,
    }

    impl ServiceManager for FakeSystemd {
        fn is_active(&self, _: &str) -> bool {
            self.active
        }
        fn restart(&self, unit: &str) -> Result<(), ServiceError> {
            self.calls.lock().unwrap().push(unit.to_string());
            if self.fail {
                Err(ServiceError::Failed {
                    action: "restart",
                    unit: unit.into(),
                    stderr: "Unit kubelet.service not found.".into(),
                })
            } else {
                Ok(())
            }
        }
    }

    #[test]
    fn the_kubelet_is_restarted_only_under_systemd() {
        let fake = |fail| FakeSystemd {
            fail,
            active: false,
            calls: Mutex::new(Vec::new()),
        };
        let systemd = InitSystem::Systemd;
        let s = fake(false);
        assert!(matches!(
            restart_kubelet(InitSystem::Other, &s, true),
            StartOutcome::NotSystemd
        ));
        assert!(s.calls.lock().unwrap().is_empty());
        let s = fake(false);
        assert!(matches!(
            restart_kubelet(systemd, &s, true),
            StartOutcome::Restarted
        ));
        assert_eq!(*s.calls.lock().unwrap(), vec!["kubelet"]);
        let s = fake(true);
        assert!(matches!(
            restart_kubelet(systemd, &s, true),
            StartOutcome::Failed(_)
        ));
        // Nothing changed and the kubelet runs: a re-run leaves it alone.
        let s = FakeSystemd {
            active: true,
            ..fake(false)
        };
        assert!(matches!(
            restart_kubelet(systemd, &s, false),
            StartOutcome::Unchanged
        ));
        assert!(s.calls.lock().unwrap().is_empty());
        // Nothing changed but the kubelet is stopped: start it.
        let s = fake(false);
        assert!(matches!(
            restart_kubelet(systemd, &s, false),
            StartOutcome::Restarted
        ));
    }

    #[test]
    fn go_quote_matches_strconv_quote() {
        assert_eq!(go_quote(""), "\"\"");
        assert_eq!(go_quote("--a=b --c=\"d\""), "\"--a=b --c=\\\"d\\\"\"");
        assert_eq!(
            go_quote("a\\b\n\t\u{1}\u{7f}é"),
            "\"a\\\\b\\n\\t\\x01\\x7fé\""
        );
    }

    #[test]
    fn go_values_print_like_fmt_v() {
        assert_eq!(go_value(&json!(["10.96.0.10", "x"])), "[10.96.0.10 x]");
        assert_eq!(go_value(&json!("a")), "a");
        assert_eq!(go_value(&json!(true)), "true");
    }
}
