//! The container runtime, reached through `crictl` against the configured CRI socket (no gRPC
//! stack in plinth): its status and version for pre-flight, its images for `config images` and
//! the `ImagePull` check, and removing every Pod sandbox and container for reset.
//! kubeadm: `app/util/runtime/runtime.go` (`IsRunning`, `ImageExists`, `PullImage`,
//! `ListKubeContainers`, `RemoveContainers`), which speaks the CRI API directly.

use std::path::{Path, PathBuf};
use std::process::Command;

/// How to get `crictl`, said wherever it is missing.
pub const INSTALL_CRICTL: &str = "install cri-tools (crictl) matching your Kubernetes minor, e.g. the `cri-tools` package of the Kubernetes package repository, or `go install sigs.k8s.io/cri-tools/cmd/crictl@v1.37.0`";

/// Talking to the runtime failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CriError {
    /// No `crictl` on `PATH`.
    #[error(
        "crictl is not installed (not found on PATH); plinth reaches the container runtime at {endpoint} through it: {INSTALL_CRICTL}"
    )]
    NoCrictl {
        /// The CRI endpoint plinth wanted to reach.
        endpoint: String,
    },
    /// Nothing at the socket path.
    #[error(
        "no container runtime socket at {path}: is the container runtime (e.g. containerd) installed and running? (`systemctl status containerd`)"
    )]
    NoSocket {
        /// The socket path.
        path: String,
    },
    /// `crictl` cannot be started.
    #[error("running crictl {args}")]
    Spawn {
        /// Its arguments after `--runtime-endpoint`.
        args: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// `crictl` exited unsuccessfully.
    #[error("crictl {args}: {stderr}")]
    Failed {
        /// Its arguments after `--runtime-endpoint`.
        args: String,
        /// What it printed on stderr.
        stderr: String,
    },
    /// `crictl` printed something plinth cannot read.
    #[error("crictl {args} printed unexpected output: {why}")]
    Output {
        /// Its arguments after `--runtime-endpoint`.
        args: String,
        /// What was wrong.
        why: String,
    },
}

impl CriError {
    /// Whether the runtime answered that it does not implement the call (gRPC `Unimplemented`).
    #[must_use]
    pub fn is_unimplemented(&self) -> bool {
        matches!(self, CriError::Failed { stderr, .. } if stderr.contains("Unimplemented"))
    }
}

/// The socket path of a `unix://` endpoint (or a bare path).
#[must_use]
pub fn socket_path(endpoint: &str) -> &str {
    endpoint.strip_prefix("unix://").unwrap_or(endpoint)
}

/// The first executable called `tool` on `PATH`.
#[must_use]
pub fn on_path(tool: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(tool))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// One runtime condition of `crictl info` (`RuntimeReady`, `NetworkReady`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// `RuntimeReady` or `NetworkReady`.
    pub kind: String,
    /// Whether it holds.
    pub status: bool,
    /// Why not, in one word.
    pub reason: String,
    /// Why not, in a sentence.
    pub message: String,
}

/// What `crictl info` says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RuntimeStatus {
    /// The runtime's conditions.
    pub conditions: Vec<Condition>,
    /// The sandbox (pause) image the runtime is configured with, when it says.
    pub sandbox_image: Option<String>,
}

/// What `crictl version` says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RuntimeVersion {
    /// e.g. `containerd`.
    pub name: String,
    /// e.g. `v2.3.7`.
    pub version: String,
    /// e.g. `v1`.
    pub api_version: String,
}

/// One image the runtime holds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RuntimeImage {
    /// `repo:tag` references.
    pub tags: Vec<String>,
    /// `repo@sha256:…` references.
    pub digests: Vec<String>,
}

impl RuntimeImage {
    /// Whether `reference` names this image.
    #[must_use]
    pub fn answers_to(&self, reference: &str) -> bool {
        self.tags
            .iter()
            .chain(&self.digests)
            .any(|r| r == reference)
    }
}

/// What reset removed from the runtime, and what is still there.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Removed {
    /// Pod sandboxes stopped and removed.
    pub pods: Vec<String>,
    /// Containers removed after their Pods were (those no Pod removal took along).
    pub containers: Vec<String>,
    /// Pod sandboxes still listed afterwards.
    pub pods_left: Vec<String>,
    /// Containers still listed afterwards.
    pub containers_left: Vec<String>,
    /// Steps that failed (reset goes on and reports them).
    pub failures: Vec<String>,
}

/// What happened when reset asked the runtime to remove everything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CriCleanup {
    /// No socket at that path: nothing runs containers here.
    NoSocket(String),
    /// A socket, but no `crictl` on PATH.
    NoCrictl,
    /// Removal ran.
    Done(Removed),
}

/// `crictl` bound to one CRI endpoint.
#[derive(Debug, Clone)]
pub struct Crictl {
    tool: PathBuf,
    endpoint: String,
}

fn ids(out: &str) -> Vec<String> {
    out.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

impl Crictl {
    /// `crictl` from `PATH` for `endpoint`.
    ///
    /// # Errors
    /// [`CriError::NoCrictl`] with how to install it.
    pub fn find(endpoint: &str) -> Result<Self, CriError> {
        on_path("crictl")
            .map(|tool| Crictl::at(tool, endpoint))
            .ok_or_else(|| CriError::NoCrictl {
                endpoint: endpoint.to_string(),
            })
    }

    /// A given `crictl` (tests use a script) for `endpoint`.
    #[must_use]
    pub fn at(tool: impl Into<PathBuf>, endpoint: &str) -> Self {
        Crictl {
            tool: tool.into(),
            endpoint: endpoint.to_string(),
        }
    }

    /// The endpoint it talks to.
    #[must_use]
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Whether something is at the endpoint's socket path.
    #[must_use]
    pub fn socket_exists(&self) -> bool {
        Path::new(socket_path(&self.endpoint)).exists()
    }

    /// Runs `crictl --runtime-endpoint <endpoint> <args>`; stdout on success.
    ///
    /// # Errors
    /// [`CriError::Spawn`], [`CriError::Failed`] with crictl's stderr.
    pub fn run(&self, args: &[&str]) -> Result<String, CriError> {
        let out = Command::new(&self.tool)
            .arg("--runtime-endpoint")
            .arg(&self.endpoint)
            .args(args)
            .output()
            .map_err(|source| CriError::Spawn {
                args: args.join(" "),
                source,
            })?;
        if !out.status.success() {
            return Err(CriError::Failed {
                args: args.join(" "),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn json(&self, args: &[&str]) -> Result<serde_json::Value, CriError> {
        let out = self.run(args)?;
        serde_json::from_str(&out).map_err(|e| CriError::Output {
            args: args.join(" "),
            why: e.to_string(),
        })
    }

    /// `crictl info -o json`: the runtime's conditions and sandbox image.
    ///
    /// # Errors
    /// crictl failed (the runtime does not answer) or printed something else than JSON.
    pub fn info(&self) -> Result<RuntimeStatus, CriError> {
        let v = self.json(&["info", "-o", "json"])?;
        Ok(parse_info(&v))
    }

    /// `crictl version`.
    ///
    /// # Errors
    /// crictl failed or printed no `RuntimeName`.
    pub fn version(&self) -> Result<RuntimeVersion, CriError> {
        let out = self.run(&["version"])?;
        parse_version(&out).ok_or_else(|| CriError::Output {
            args: "version".into(),
            why: format!("no RuntimeName in {out:?}"),
        })
    }

    /// Whether the runtime implements the CRI `RuntimeConfig` call (`crictl runtime-config`).
    ///
    /// # Errors
    /// crictl failed for another reason than `Unimplemented`.
    pub fn runtime_config_implemented(&self) -> Result<bool, CriError> {
        match self.run(&["runtime-config"]) {
            Ok(_) => Ok(true),
            Err(e) if e.is_unimplemented() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `crictl images -o json`.
    ///
    /// # Errors
    /// crictl failed or printed something else than an image list.
    pub fn images(&self) -> Result<Vec<RuntimeImage>, CriError> {
        let v = self.json(&["images", "-o", "json"])?;
        Ok(parse_images(&v))
    }

    /// `crictl pull <reference>`.
    ///
    /// # Errors
    /// The pull failed (crictl's stderr says why).
    pub fn pull(&self, reference: &str) -> Result<(), CriError> {
        self.run(&["pull", reference]).map(drop)
    }

    /// Every Pod sandbox (`crictl pods --quiet`).
    ///
    /// # Errors
    /// crictl failed.
    pub fn pods(&self) -> Result<Vec<String>, CriError> {
        self.run(&["pods", "--quiet"]).map(|o| ids(&o))
    }

    /// Every container, running or not (`crictl ps --all --quiet`).
    ///
    /// # Errors
    /// crictl failed.
    pub fn containers(&self) -> Result<Vec<String>, CriError> {
        self.run(&["ps", "--all", "--quiet"]).map(|o| ids(&o))
    }

    /// Stops and removes every Pod sandbox, then force-removes the containers left over (a
    /// container whose sandbox is already gone, or one the runtime did not take along), then
    /// lists again and reports what is still there. Best effort: a failing step is recorded and
    /// the next one runs. kubeadm `RemoveContainers` stops and removes each sandbox; the
    /// leftover-container sweep is `crictl rm --all --force`.
    ///
    /// # Errors
    /// Only when the first listing fails (the runtime does not answer at all).
    pub fn remove_everything(&self) -> Result<Removed, CriError> {
        let mut r = Removed {
            pods: self.pods()?,
            ..Removed::default()
        };
        if !r.pods.is_empty() {
            let refs: Vec<&str> = r.pods.iter().map(String::as_str).collect();
            for verb in ["stopp", "rmp"] {
                let mut args = vec![verb];
                if verb == "rmp" {
                    args.push("--force");
                }
                args.extend(&refs);
                if let Err(e) = self.run(&args) {
                    r.failures.push(e.to_string());
                }
            }
        }
        match self.containers() {
            Ok(left) if !left.is_empty() => {
                let mut args = vec!["rm", "--force"];
                args.extend(left.iter().map(String::as_str));
                match self.run(&args) {
                    Ok(_) => r.containers = left,
                    Err(e) => r.failures.push(e.to_string()),
                }
            }
            Ok(_) => {}
            Err(e) => r.failures.push(e.to_string()),
        }
        match (self.pods(), self.containers()) {
            (Ok(p), Ok(c)) => {
                r.pods_left = p;
                r.containers_left = c;
            }
            (Err(e), _) | (_, Err(e)) => r.failures.push(e.to_string()),
        }
        Ok(r)
    }
}

fn parse_info(v: &serde_json::Value) -> RuntimeStatus {
    let conditions = v
        .pointer("/status/conditions")
        .and_then(serde_json::Value::as_array)
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    let s = |k: &str| c.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
                    Condition {
                        kind: s("type"),
                        // protobuf JSON leaves `false` out.
                        status: c.get("status").and_then(serde_json::Value::as_bool) == Some(true),
                        reason: s("reason"),
                        message: s("message"),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    // containerd 1.x: config.sandboxImage; 2.x: config.pinnedImages.sandbox.
    let sandbox_image = ["/config/pinnedImages/sandbox", "/config/sandboxImage"]
        .iter()
        .find_map(|p| v.pointer(p).and_then(|x| x.as_str()))
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    RuntimeStatus {
        conditions,
        sandbox_image,
    }
}

fn parse_version(out: &str) -> Option<RuntimeVersion> {
    let field = |k: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(k)?.strip_prefix(':').map(str::trim))
            .map(str::to_string)
    };
    Some(RuntimeVersion {
        name: field("RuntimeName")?,
        version: field("RuntimeVersion").unwrap_or_default(),
        api_version: field("RuntimeApiVersion").unwrap_or_default(),
    })
}

fn parse_images(v: &serde_json::Value) -> Vec<RuntimeImage> {
    let strings = |img: &serde_json::Value, k: &str| -> Vec<String> {
        img.get(k)
            .and_then(serde_json::Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    v.get("images")
        .and_then(serde_json::Value::as_array)
        .map(|imgs| {
            imgs.iter()
                .map(|i| RuntimeImage {
                    tags: strings(i, "repoTags"),
                    digests: strings(i, "repoDigests"),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Stops and removes every Pod sandbox and container the runtime at `endpoint` holds, with
/// `crictl` from `PATH`.
///
/// # Errors
/// The runtime does not answer the first listing.
pub fn remove_all(endpoint: &str) -> Result<CriCleanup, CriError> {
    remove_all_with(on_path("crictl").as_deref(), endpoint)
}

/// [`remove_all`] with an explicit `crictl` (None = not installed).
///
/// # Errors
/// The runtime does not answer the first listing.
pub fn remove_all_with(tool: Option<&Path>, endpoint: &str) -> Result<CriCleanup, CriError> {
    let sock = socket_path(endpoint);
    if !Path::new(sock).exists() {
        return Ok(CriCleanup::NoSocket(sock.to_string()));
    }
    let Some(tool) = tool else {
        return Ok(CriCleanup::NoCrictl);
    };
    Crictl::at(tool, endpoint)
        .remove_everything()
        .map(CriCleanup::Done)
}

/// A fake `crictl` for tests: a shell script that logs every call to `<dir>/calls` and answers
/// from files: `<dir>/out-<subcommand>` is printed for a subcommand, `<dir>/fail-<subcommand>`
/// (if present) is printed on stderr with exit 1. A `<dir>/after-<subcommand>` file replaces
/// `out-<subcommand>` once it was printed (a second listing sees the runtime after removal).
#[cfg(test)]
pub(crate) mod fake {
    use std::os::unix::fs::PermissionsExt as _;
    use std::path::{Path, PathBuf};

    pub(crate) fn crictl(dir: &Path) -> PathBuf {
        let tool = dir.join("crictl");
        let d = dir.display();
        std::fs::write(
            &tool,
            format!(
                r#"#!/bin/sh
echo "$*" >> {d}/calls
sub="$3"
if [ -f "{d}/fail-$sub" ]; then cat "{d}/fail-$sub" >&2; exit 1; fi
if [ -f "{d}/out-$sub" ]; then cat "{d}/out-$sub"; fi
if [ -f "{d}/after-$sub" ]; then mv "{d}/after-$sub" "{d}/out-$sub"; fi
exit 0
"#
            ),
        )
        .unwrap();
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        tool
    }

    pub(crate) fn answer(dir: &Path, sub: &str, out: &str) {
        std::fs::write(dir.join(format!("out-{sub}")), out).unwrap();
    }

    pub(crate) fn then(dir: &Path, sub: &str, out: &str) {
        std::fs::write(dir.join(format!("after-{sub}")), out).unwrap();
    }

    pub(crate) fn fail(dir: &Path, sub: &str, stderr: &str) {
        std::fs::write(dir.join(format!("fail-{sub}")), stderr).unwrap();
    }

    pub(crate) fn calls(dir: &Path) -> Vec<String> {
        std::fs::read_to_string(dir.join("calls"))
            .unwrap_or_default()
            .lines()
            .map(|l| l.split_once(' ').map_or(l, |(_, r)| r))
            .map(|l| l.split_once(' ').map_or(l, |(_, r)| r).to_string())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::fake::{answer, calls, crictl, fail, then};
    use super::*;

    fn runtime() -> (tempfile::TempDir, String, std::os::unix::net::UnixListener) {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("cri.sock");
        let l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let ep = format!("unix://{}", sock.display());
        (dir, ep, l)
    }

    #[test]
    fn pods_then_leftover_containers_are_removed_and_what_is_left_is_listed() {
        let (dir, ep, _l) = runtime();
        let d = dir.path();
        let tool = crictl(d);
        answer(d, "pods", "p1\np2\n");
        then(d, "pods", "");
        answer(d, "ps", "c9\n");
        then(d, "ps", "c-stuck\n");
        let got = remove_all_with(Some(&tool), &ep).unwrap();
        assert_eq!(
            got,
            CriCleanup::Done(Removed {
                pods: vec!["p1".into(), "p2".into()],
                containers: vec!["c9".into()],
                pods_left: vec![],
                containers_left: vec!["c-stuck".into()],
                failures: vec![],
            })
        );
        assert_eq!(
            calls(d),
            [
                "pods --quiet",
                "stopp p1 p2",
                "rmp --force p1 p2",
                "ps --all --quiet",
                "rm --force c9",
                "pods --quiet",
                "ps --all --quiet",
            ]
        );
        // Every call names the endpoint.
        let raw = std::fs::read_to_string(d.join("calls")).unwrap();
        assert!(
            raw.lines()
                .all(|l| l.starts_with(&format!("--runtime-endpoint {ep} "))),
            "{raw}"
        );
    }

    #[test]
    fn a_failing_step_is_recorded_and_the_rest_still_runs() {
        let (dir, ep, _l) = runtime();
        let d = dir.path();
        let tool = crictl(d);
        answer(d, "pods", "p1\n");
        fail(d, "stopp", "rpc error: code = DeadlineExceeded");
        let Ok(CriCleanup::Done(r)) = remove_all_with(Some(&tool), &ep) else {
            panic!("not done")
        };
        assert_eq!(
            r.failures,
            ["crictl stopp p1: rpc error: code = DeadlineExceeded"]
        );
        assert_eq!(r.pods_left, ["p1"]);
        assert!(calls(d).contains(&"rmp --force p1".to_string()));
    }

    #[test]
    fn nothing_to_remove_makes_no_removal_calls() {
        let (dir, ep, _l) = runtime();
        let tool = crictl(dir.path());
        let got = remove_all_with(Some(&tool), &ep).unwrap();
        assert_eq!(got, CriCleanup::Done(Removed::default()));
        assert_eq!(
            calls(dir.path()),
            [
                "pods --quiet",
                "ps --all --quiet",
                "pods --quiet",
                "ps --all --quiet"
            ]
        );
    }

    #[test]
    fn no_socket_or_no_crictl_is_reported_not_failed() {
        let dir = tempfile::tempdir().unwrap();
        let missing = format!("unix://{}/none.sock", dir.path().display());
        assert!(matches!(
            remove_all_with(None, &missing).unwrap(),
            CriCleanup::NoSocket(_)
        ));
        let (_d, ep, _l) = runtime();
        assert_eq!(remove_all_with(None, &ep).unwrap(), CriCleanup::NoCrictl);
        let e = CriError::NoCrictl {
            endpoint: ep.clone(),
        };
        assert!(e.to_string().contains("install cri-tools"), "{e}");
    }

    #[test]
    fn a_failing_or_missing_crictl_is_a_typed_error_with_its_stderr_or_cause() {
        let (dir, ep, _l) = runtime();
        let d = dir.path();
        let tool = crictl(d);
        fail(d, "pods", "connect: permission denied");
        let e = remove_all_with(Some(&tool), &ep).unwrap_err();
        assert_eq!(
            e.to_string(),
            "crictl pods --quiet: connect: permission denied"
        );
        let gone = d.join("no-such-crictl");
        let e = remove_all_with(Some(&gone), &ep).unwrap_err();
        assert!(matches!(e, CriError::Spawn { .. }), "{e:?}");
        assert!(std::error::Error::source(&e).is_some());
    }

    #[test]
    fn info_version_images_and_runtime_config_are_read() {
        let (dir, ep, _l) = runtime();
        let d = dir.path();
        let c = Crictl::at(crictl(d), &ep);
        answer(
            d,
            "info",
            r#"{"status":{"conditions":[{"type":"RuntimeReady","status":true,"reason":"","message":""},{"type":"NetworkReady","reason":"NetworkPluginNotReady","message":"Network plugin returns error: cni plugin not initialized"}]},"config":{"pinnedImages":{"sandbox":"registry.k8s.io/pause:3.10.1"}}}"#,
        );
        let info = c.info().unwrap();
        assert_eq!(info.conditions.len(), 2);
        assert!(info.conditions[0].status);
        assert!(!info.conditions[1].status);
        assert_eq!(info.conditions[1].reason, "NetworkPluginNotReady");
        assert_eq!(
            info.sandbox_image.as_deref(),
            Some("registry.k8s.io/pause:3.10.1")
        );
        answer(
            d,
            "version",
            "Version:  0.1.0\nRuntimeName:  containerd\nRuntimeVersion:  v2.3.7\nRuntimeApiVersion:  v1\n",
        );
        assert_eq!(
            c.version().unwrap(),
            RuntimeVersion {
                name: "containerd".into(),
                version: "v2.3.7".into(),
                api_version: "v1".into()
            }
        );
        answer(
            d,
            "images",
            r#"{"images":[{"id":"sha256:1","repoTags":["registry.k8s.io/pause:3.10.2"],"repoDigests":["registry.k8s.io/pause@sha256:abc"]}]}"#,
        );
        let imgs = c.images().unwrap();
        assert!(imgs[0].answers_to("registry.k8s.io/pause:3.10.2"));
        assert!(imgs[0].answers_to("registry.k8s.io/pause@sha256:abc"));
        assert!(!imgs[0].answers_to("registry.k8s.io/pause:3.10"));
        assert!(c.runtime_config_implemented().unwrap());
        fail(
            d,
            "runtime-config",
            "get runtime config: call RuntimeConfig RPC: rpc error: code = Unimplemented desc = unknown method RuntimeConfig",
        );
        assert!(!c.runtime_config_implemented().unwrap());
        answer(d, "info", "not json");
        assert!(matches!(c.info(), Err(CriError::Output { .. })));
    }
}
