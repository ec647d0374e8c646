//! Removing the Kubernetes Pods a container runtime still holds (reset's step 3), through
//! `crictl` against the configured CRI socket: stop every Pod sandbox, then remove them.
//! kubeadm: `app/util/runtime/runtime.go` (`ListKubeContainers`, `RemoveContainers`).

use std::path::Path;
use std::process::Command;

use crate::cluster::Error;

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CriCleanup {
    /// No socket at that path: nothing runs containers here.
    NoSocket(String),
    /// A socket, but no `crictl` on PATH.
    NoCrictl,
    /// Pods stopped and removed.
    Removed(Vec<String>),
}

/// The socket path of a `unix://` endpoint (or a bare path).
#[must_use]
pub fn socket_path(endpoint: &str) -> &str {
    endpoint.strip_prefix("unix://").unwrap_or(endpoint)
}

fn crictl(tool: &Path, endpoint: &str, args: &[&str]) -> Result<String, Error> {
    let out = Command::new(tool)
        .arg("--runtime-endpoint")
        .arg(endpoint)
        .args(args)
        .output()
        .map_err(|source| Error::CrictlSpawn {
            args: args.join(" "),
            source,
        })?;
    if !out.status.success() {
        return Err(Error::Crictl {
            args: args.join(" "),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn on_path(tool: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

/// Stops and removes every Pod sandbox the runtime at `endpoint` knows.
///
/// # Errors
/// [`Error::CrictlSpawn`], [`Error::Crictl`] when `crictl` cannot run or fails.
pub fn remove_all_pods(endpoint: &str) -> Result<CriCleanup, Error> {
    remove_all_pods_with(on_path("crictl").as_deref(), endpoint)
}

/// [`remove_all_pods`] with an explicit `crictl` (None = not installed).
///
/// # Errors
/// [`Error::CrictlSpawn`], [`Error::Crictl`] when `crictl` cannot run or fails.
pub fn remove_all_pods_with(tool: Option<&Path>, endpoint: &str) -> Result<CriCleanup, Error> {
    let sock = socket_path(endpoint);
    if !Path::new(sock).exists() {
        return Ok(CriCleanup::NoSocket(sock.to_string()));
    }
    let Some(tool) = tool else {
        return Ok(CriCleanup::NoCrictl);
    };
    let ids: Vec<String> = crictl(tool, endpoint, &["pods", "--quiet"])?
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    if !ids.is_empty() {
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        crictl(tool, endpoint, &[&["stopp"], refs.as_slice()].concat())?;
        crictl(tool, endpoint, &[&["rmp"], refs.as_slice()].concat())?;
    }
    Ok(CriCleanup::Removed(ids))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    /// A fake crictl that lists two Pods and logs every call.
    fn fake_crictl(dir: &Path, pods: &str) -> std::path::PathBuf {
        let tool = dir.join("crictl");
        let log = dir.join("calls");
        std::fs::write(
            &tool,
            format!(
                "#!/bin/sh\necho \"$*\" >> {}\ncase \"$3\" in pods) printf '{pods}' ;; esac\n",
                log.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        tool
    }

    #[test]
    fn pods_are_stopped_then_removed_through_the_socket() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("cri.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let tool = fake_crictl(dir.path(), "p1\\np2\\n");
        let ep = format!("unix://{}", sock.display());
        let got = remove_all_pods_with(Some(&tool), &ep).unwrap();
        assert_eq!(got, CriCleanup::Removed(vec!["p1".into(), "p2".into()]));
        let calls = std::fs::read_to_string(dir.path().join("calls")).unwrap();
        assert_eq!(
            calls,
            format!(
                "--runtime-endpoint {ep} pods --quiet\n--runtime-endpoint {ep} stopp p1 p2\n--runtime-endpoint {ep} rmp p1 p2\n"
            )
        );
    }

    #[test]
    fn no_socket_or_no_crictl_is_reported_not_failed() {
        let dir = tempfile::tempdir().unwrap();
        let missing = format!("unix://{}/none.sock", dir.path().display());
        assert!(matches!(
            remove_all_pods_with(None, &missing).unwrap(),
            CriCleanup::NoSocket(_)
        ));
        let sock = dir.path().join("cri.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let ep = sock.display().to_string();
        assert_eq!(
            remove_all_pods_with(None, &ep).unwrap(),
            CriCleanup::NoCrictl
        );
        // No Pods: nothing to stop, no stopp/rmp calls.
        let tool = fake_crictl(dir.path(), "");
        assert_eq!(
            remove_all_pods_with(Some(&tool), &ep).unwrap(),
            CriCleanup::Removed(vec![])
        );
        let calls = std::fs::read_to_string(dir.path().join("calls")).unwrap();
        assert_eq!(calls.lines().count(), 1, "{calls}");
    }

    #[test]
    fn a_failing_or_missing_crictl_is_a_typed_error_with_its_stderr_or_cause() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("cri.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let ep = sock.display().to_string();
        let tool = dir.path().join("crictl");
        std::fs::write(
            &tool,
            "#!/bin/sh\necho 'connect: permission denied' >&2\nexit 1\n",
        )
        .unwrap();
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        let e = remove_all_pods_with(Some(&tool), &ep).unwrap_err();
        assert!(matches!(e, Error::Crictl { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "crictl pods --quiet: connect: permission denied"
        );
        let gone = dir.path().join("no-such-crictl");
        let e = remove_all_pods_with(Some(&gone), &ep).unwrap_err();
        assert!(matches!(e, Error::CrictlSpawn { .. }), "{e:?}");
        assert!(std::error::Error::source(&e).is_some());
    }
}
