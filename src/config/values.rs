//! Typed values derived from config strings: versions, key algorithms, endpoints, durations.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use ipnet::IpNet;

/// A Kubernetes release `vMAJOR.MINOR.PATCH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct KubeVersion {
    /// Major (always 1).
    pub major: u32,
    /// Minor.
    pub minor: u32,
    /// Patch.
    pub patch: u32,
}

impl FromStr for KubeVersion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not a Kubernetes version of the form v1.37.2");
        let rest = s.strip_prefix('v').ok_or_else(bad)?;
        let mut it = rest.split('.');
        let mut num = || -> Result<u32, String> {
            let p = it.next().ok_or_else(bad)?;
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            p.parse().map_err(|_| bad())
        };
        let v = KubeVersion {
            major: num()?,
            minor: num()?,
            patch: num()?,
        };
        if it.next().is_some() {
            return Err(bad());
        }
        Ok(v)
    }
}

impl fmt::Display for KubeVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// `encryptionAlgorithm`: the key type of every generated key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    /// RSA 2048 (kubeadm's default).
    Rsa2048,
    /// RSA 3072.
    Rsa3072,
    /// RSA 4096.
    Rsa4096,
    /// ECDSA P-256 (plinth's default).
    EcdsaP256,
    /// ECDSA P-384.
    EcdsaP384,
}

impl KeyAlgorithm {
    /// Every accepted value, in kubeadm's spelling.
    pub const ALL: [KeyAlgorithm; 5] = [
        KeyAlgorithm::Rsa2048,
        KeyAlgorithm::Rsa3072,
        KeyAlgorithm::Rsa4096,
        KeyAlgorithm::EcdsaP256,
        KeyAlgorithm::EcdsaP384,
    ];

    /// kubeadm's spelling, e.g. `ECDSA-P256`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            KeyAlgorithm::Rsa2048 => "RSA-2048",
            KeyAlgorithm::Rsa3072 => "RSA-3072",
            KeyAlgorithm::Rsa4096 => "RSA-4096",
            KeyAlgorithm::EcdsaP256 => "ECDSA-P256",
            KeyAlgorithm::EcdsaP384 => "ECDSA-P384",
        }
    }
}

impl FromStr for KeyAlgorithm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        KeyAlgorithm::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| {
                let all: Vec<_> = KeyAlgorithm::ALL.iter().map(|a| a.as_str()).collect();
                format!(
                    "unsupported encryption algorithm {s:?}; use one of {}",
                    all.join(", ")
                )
            })
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `controlPlaneEndpoint` split into host and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// DNS name or IP literal (without brackets).
    pub host: String,
    /// Port (defaults to bindPort).
    pub port: u16,
}

impl Endpoint {
    /// `https://host:port`, IPv6 bracketed.
    #[must_use]
    pub fn url(&self) -> String {
        format!("https://{}", super::join_host_port(&self.host, self.port))
    }

    /// The host as an IP, if it is one.
    #[must_use]
    pub fn ip(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }
}

/// Stacked etcd settings after defaulting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalEtcdConfig {
    /// Data directory.
    pub data_dir: PathBuf,
    /// Extra SANs for `etcd/server`.
    pub server_cert_sans: Vec<String>,
    /// Extra SANs for `etcd/peer`.
    pub peer_cert_sans: Vec<String>,
}

/// External etcd settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalEtcdConfig {
    /// Client URLs.
    pub endpoints: Vec<String>,
    /// CA file.
    pub ca_file: Option<PathBuf>,
    /// Client cert.
    pub cert_file: Option<PathBuf>,
    /// Client key.
    pub key_file: Option<PathBuf>,
}

/// Local or external etcd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EtcdMode {
    /// Stacked etcd run as a static Pod on this node.
    Local(LocalEtcdConfig),
    /// An existing etcd cluster.
    External(ExternalEtcdConfig),
}

/// `timeouts` as durations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct ResolvedTimeouts {
    pub control_plane_component_health_check: Duration,
    pub kubelet_health_check: Duration,
    pub kubernetes_api_call: Duration,
    pub etcd_api_call: Duration,
    pub tls_bootstrap: Duration,
    pub discovery: Duration,
    pub upgrade_manifests: Duration,
}

/// Parses a Go `time.ParseDuration` string (`8760h0m0s`, `1.5h`, `300ms`, `0`).
///
/// # Errors
/// A message naming the bad input when it is not a non-negative Go duration.
pub fn parse_go_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("{s:?} is not a duration such as 8760h0m0s, 24h or 90s");
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() || s.starts_with('-') {
        return Err(bad());
    }
    let s2 = s.strip_prefix('+').unwrap_or(s);
    let mut total = 0f64;
    let mut rest = s2;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        if num_end == 0 {
            return Err(bad());
        }
        let num: f64 = rest[..num_end].parse().map_err(|_| bad())?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += num * unit;
        rest = &rest[unit_end..];
    }
    if !total.is_finite() || total > 1e12 {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(total))
}

/// Formats like Go's `Duration.String()` for whole seconds: `8760h0m0s`, `4m0s`, `5s`.
#[must_use]
pub fn format_go_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    if secs == 0 {
        "0s".to_string()
    } else if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

/// The `n`th address of a network (n = 1 is the first usable one, as kubeadm's `GetIndexedIP`).
#[must_use]
pub fn nth_ip(net: &IpNet, n: u128) -> IpAddr {
    match net.network() {
        IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(u32::from(a).wrapping_add(n as u32))),
        IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(u128::from(a).wrapping_add(n))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(
            parse_go_duration("8760h0m0s").unwrap(),
            Duration::from_secs(8760 * 3600)
        );
        assert_eq!(
            parse_go_duration("1.5h").unwrap(),
            Duration::from_secs(5400)
        );
        assert_eq!(
            parse_go_duration("300ms").unwrap(),
            Duration::from_millis(300)
        );
        assert_eq!(parse_go_duration("0").unwrap(), Duration::ZERO);
        for bad in ["", "10", "h", "-5s", "5d", "1h-2m", "abc", "1.2.3s"] {
            assert!(parse_go_duration(bad).is_err(), "{bad} should be rejected");
        }
        assert_eq!(
            format_go_duration(Duration::from_secs(8760 * 3600)),
            "8760h0m0s"
        );
        assert_eq!(format_go_duration(Duration::from_secs(240)), "4m0s");
        assert_eq!(format_go_duration(Duration::from_secs(5)), "5s");
    }

    #[test]
    fn versions() {
        let v: KubeVersion = "v1.37.2".parse().unwrap();
        assert_eq!((v.major, v.minor, v.patch), (1, 37, 2));
        assert_eq!(v.to_string(), "v1.37.2");
        for bad in [
            "1.37.2",
            "v1.37",
            "v1.37.2.1",
            "v1.x.2",
            "stable-1",
            "v1.37.2-rc.0",
        ] {
            assert!(bad.parse::<KubeVersion>().is_err(), "{bad}");
        }
    }

    #[test]
    fn indexed_ips() {
        let n: IpNet = "10.96.0.0/12".parse().unwrap();
        assert_eq!(nth_ip(&n, 1).to_string(), "10.96.0.1");
        assert_eq!(nth_ip(&n, 10).to_string(), "10.96.0.10");
        let n6: IpNet = "fd00:10:96::/112".parse().unwrap();
        assert_eq!(nth_ip(&n6, 1).to_string(), "fd00:10:96::1");
    }
}
