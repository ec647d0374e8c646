//! What plinth knows about the machine it runs on, read once per command ([`Facts::detect`])
//! before the first phase and handed to every phase through its context. Domain modules take
//! the facts (or a narrow view built from them) as a value, so unit tests build a `Facts` by
//! hand and never read the host.
//!
//! Not facts, and so still asked at the moment they matter (each through its own probe):
//! whether a port is free or a socket answers (pre-flight's `HostProbe`: another process may
//! take or release it at any time), kernel settings, tools and files pre-flight examines (they
//! are the checks' subject, read when the check runs), whether the kubelet unit is active
//! before a restart and whether the components' ports have closed after reset removed their
//! manifests (they change because plinth acted), the mounts under the kubelet's directory
//! (reset unmounts what is mounted then), and the PKI on disk such as "`ca.crt` without
//! `ca.key`" (the phases hand each other the disk; a phase reads what the one before wrote).
//!
//! There is no container-runtime socket or cgroup-driver detection: plinth, like kubeadm 1.37
//! with one runtime, uses the configured socket (default containerd's) and the `systemd` cgroup
//! driver. If either is ever detected, it belongs here.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

/// Directories `/etc/ssl/certs` may link into; each is mounted into the apiserver and the
/// controller-manager only when it exists on the host.
// kubeadm: app/phases/controlplane/volumes.go caCertsExtraVolumePaths
pub const CA_TRUST_DIRS: [&str; 5] = [
    "/etc/pki/ca-trust",
    "/etc/pki/tls/certs",
    "/etc/ca-certificates",
    "/usr/share/ca-certificates",
    "/usr/local/share/ca-certificates",
];

/// The init system (PID 1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum InitSystem {
    /// systemd: plinth may start and stop the kubelet unit.
    Systemd,
    /// Anything else: the user starts and stops the kubelet.
    #[default]
    Other,
}

/// The host, as read once at the start of a command. `Default` is a host about which nothing
/// is known (no hostname, no address, not systemd, no CPUs): tests set what they need.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// Lower-cased hostname (`None` if unreadable or empty); kubeadm's default node name and
    /// the reference for the kubelet's `--hostname-override`.
    pub hostname: Option<String>,
    /// IPv4 address of the default-route interface; kubeadm's default advertise address.
    pub default_address: Option<String>,
    /// The init system.
    pub init: InitSystem,
    /// systemd-resolved is active, so the kubelet must read its upstream resolv.conf.
    pub systemd_resolved_active: bool,
    /// `*_proxy` / `*_PROXY` variables with a value, from plinth's own environment, in order
    /// (passed on to the control-plane Pods and kube-proxy, as kubeadm does).
    pub proxy_env: Vec<(String, String)>,
    /// The directories of [`CA_TRUST_DIRS`] that exist on the host.
    pub ca_trust_dirs: BTreeSet<PathBuf>,
    /// The effective user id, if it can be read.
    pub effective_uid: Option<u32>,
    /// CPUs this process may use.
    pub cpus: usize,
    /// Total memory in MiB, if it can be read.
    pub memory_mb: Option<u64>,
}

impl Facts {
    /// Reads every fact from this host (read-only; runs `ip` and, under systemd,
    /// `systemctl is-active`). Called once per command, before the first phase.
    #[must_use]
    pub fn detect() -> Self {
        let init = if std::fs::read_to_string("/proc/1/comm").is_ok_and(|c| c.trim() == "systemd") {
            InitSystem::Systemd
        } else {
            InitSystem::Other
        };
        Facts {
            hostname: std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_lowercase())
                .filter(|h| !h.is_empty()),
            default_address: default_route_address(),
            init,
            systemd_resolved_active: init == InitSystem::Systemd
                && Command::new("systemctl")
                    .args(["is-active", "--quiet", "systemd-resolved"])
                    .status()
                    .is_ok_and(|s| s.success()),
            proxy_env: crate::k8s::proxy_env(std::env::vars()),
            ca_trust_dirs: CA_TRUST_DIRS
                .iter()
                .map(PathBuf::from)
                .filter(|p| p.exists())
                .collect(),
            effective_uid: effective_uid(),
            cpus: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            memory_mb: memory_mb(),
        }
    }

    /// The part kubeadm's dynamic defaults need (node name, advertise address).
    #[must_use]
    pub fn config_defaults(&self) -> crate::config::HostDefaults {
        crate::config::HostDefaults {
            hostname: self.hostname.clone(),
            default_address: self.default_address.clone(),
        }
    }
}

/// The IPv4 address of the interface holding the default route, from /proc and `ip`.
fn default_route_address() -> Option<String> {
    let routes = std::fs::read_to_string("/proc/net/route").ok()?;
    let iface = routes.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() > 2 && f[1] == "00000000").then(|| f[0].to_string())
    })?;
    let out = Command::new("ip")
        .args(["-o", "-4", "addr", "show", "dev", &iface, "scope", "global"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let cidr = text
        .split_whitespace()
        .skip_while(|w| *w != "inet")
        .nth(1)?;
    cidr.split('/').next().map(str::to_string)
}

fn effective_uid() -> Option<u32> {
    // `Uid:` real, effective, saved, filesystem.
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .and_then(|id| id.parse().ok())
}

fn memory_mb() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    info.lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb / 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_host_has_the_facts_every_command_needs() {
        let f = Facts::detect();
        assert!(f.cpus >= 1);
        assert!(f.effective_uid.is_some());
        assert!(f.memory_mb.is_some_and(|m| m > 0));
        assert!(f.ca_trust_dirs.iter().all(|d| d.exists()));
        assert!(
            f.proxy_env
                .iter()
                .all(|(k, v)| k.to_lowercase().ends_with("_proxy") && !v.is_empty())
        );
        assert_eq!(
            f.config_defaults().hostname,
            f.hostname,
            "the config's view is built from the facts"
        );
    }
}
