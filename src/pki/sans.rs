//! Subject alternative names, computed from the config exactly as kubeadm does.
//! kubeadm: `app/util/pkiutil/pki_helpers.go` (`GetAPIServerAltNames`, `getAltNames`,
//! `appendSANsToAltNames`, `RemoveDuplicateAltNames`).

use std::collections::BTreeSet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::spec::{CertSpec, SanKind};
use crate::config::{EtcdMode, ResolvedConfig};

/// DNS names and IP addresses of a certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AltNames {
    /// DNS names, deduplicated and sorted (kubeadm builds them from a set).
    pub dns: Vec<String>,
    /// IP addresses, deduplicated, in first-seen order.
    pub ips: Vec<IpAddr>,
}

impl AltNames {
    /// Adds `entry` as an IP if it parses as one, else as a DNS name (validation already
    /// rejected anything that is neither).
    fn push_entry(&mut self, entry: &str) {
        match entry.parse::<IpAddr>() {
            Ok(ip) => self.ips.push(ip),
            Err(_) => self.dns.push(entry.to_string()),
        }
    }

    /// kubeadm `RemoveDuplicateAltNames`: DNS names through a sorted set, IPs first-seen.
    fn dedup(mut self) -> Self {
        let set: BTreeSet<String> = self.dns.drain(..).collect();
        self.dns = set.into_iter().collect();
        let mut seen = Vec::with_capacity(self.ips.len());
        for ip in self.ips {
            if !seen.contains(&ip) {
                seen.push(ip);
            }
        }
        self.ips = seen;
        self
    }

    /// Whether there are no names at all.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.dns.is_empty() && self.ips.is_empty()
    }

    /// Entries of `self` that `have` lacks, rendered as `DNS:x` / `IP:y`.
    #[must_use]
    pub fn missing_from(&self, have: &AltNames) -> Vec<String> {
        let dns = self
            .dns
            .iter()
            .filter(|d| !have.dns.iter().any(|h| h.eq_ignore_ascii_case(d)))
            .map(|d| format!("DNS:{d}"));
        let ips = self
            .ips
            .iter()
            .filter(|ip| !have.ips.contains(ip))
            .map(|ip| format!("IP:{ip}"));
        dns.chain(ips).collect()
    }
}

impl fmt::Display for AltNames {
    /// kubeadm's log form: `DNS names [a b] and IPs [1.2.3.4 ::1]` (Go's `%v` of slices).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ips: Vec<String> = self.ips.iter().map(ToString::to_string).collect();
        write!(
            f,
            "DNS names [{}] and IPs [{}]",
            self.dns.join(" "),
            ips.join(" ")
        )
    }
}

/// The SANs `spec` must carry under `cfg`.
#[must_use]
pub fn alt_names(spec: &CertSpec, cfg: &ResolvedConfig) -> AltNames {
    match spec.sans {
        SanKind::None => AltNames::default(),
        SanKind::CaCommonName => AltNames {
            dns: vec![spec.common_name(cfg)],
            ips: Vec::new(),
        },
        SanKind::ApiServer => apiserver_alt_names(cfg),
        SanKind::EtcdServer => etcd_alt_names(cfg, |l| &l.server_cert_sans),
        SanKind::EtcdPeer => etcd_alt_names(cfg, |l| &l.peer_cert_sans),
    }
}

/// The API server serving certificate's SANs (kubeadm `GetAPIServerAltNames`).
#[must_use]
pub fn apiserver_alt_names(cfg: &ResolvedConfig) -> AltNames {
    let mut n = AltNames {
        dns: vec![
            cfg.node_name.clone(),
            "kubernetes".into(),
            "kubernetes.default".into(),
            "kubernetes.default.svc".into(),
            format!("kubernetes.default.svc.{}", cfg.dns_domain),
        ],
        // The first service CIDR only, even when dual-stack (kubeadm GetAPIServerVirtualIP).
        ips: vec![cfg.apiserver_service_ip(), cfg.advertise_address],
    };
    if let Some(ep) = &cfg.control_plane_endpoint {
        n.push_entry(&ep.host);
    }
    for s in &cfg.apiserver_cert_sans {
        n.push_entry(s);
    }
    n.dedup()
}

/// etcd server/peer SANs: node name, localhost, advertise address, both loopbacks, plus the
/// extra SANs `extra` picks (kubeadm `getEtcdAltNames` / `getEtcdPeerAltNames`).
fn etcd_alt_names(
    cfg: &ResolvedConfig,
    extra: impl Fn(&crate::config::LocalEtcdConfig) -> &Vec<String>,
) -> AltNames {
    let mut n = AltNames {
        dns: vec![cfg.node_name.clone(), "localhost".into()],
        ips: vec![
            cfg.advertise_address,
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ],
    };
    if let EtcdMode::Local(local) = &cfg.etcd {
        for s in extra(local) {
            n.push_entry(s);
        }
    }
    n.dedup()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::spec::find;
    use crate::pki::testutil::cfg;

    fn ips(v: &[&str]) -> Vec<IpAddr> {
        v.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn apiserver_ipv4_defaults() {
        let n = apiserver_alt_names(&cfg("", ""));
        assert_eq!(
            n.dns,
            [
                "cp-1",
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local"
            ]
        );
        assert_eq!(n.ips, ips(&["10.96.0.1", "192.168.122.10"]));
        assert_eq!(
            n.to_string(),
            "DNS names [cp-1 kubernetes kubernetes.default kubernetes.default.svc \
             kubernetes.default.svc.cluster.local] and IPs [10.96.0.1 192.168.122.10]"
        );
    }

    #[test]
    fn apiserver_ipv6_single_stack() {
        let c = cfg(
            "localAPIEndpoint:\n  advertiseAddress: fd00::10\nnodeRegistration:\n  name: node-b",
            "networking:\n  serviceSubnet: fd00:10:96::/112\n  dnsDomain: example.org",
        );
        let n = apiserver_alt_names(&c);
        assert_eq!(n.ips, ips(&["fd00:10:96::1", "fd00::10"]));
        assert!(
            n.dns
                .contains(&"kubernetes.default.svc.example.org".to_string())
        );
        assert_eq!(
            n.dns[0], "kubernetes",
            "sorted: node-b sorts after kubernetes*"
        );
        assert!(n.dns.contains(&"node-b".to_string()));
    }

    #[test]
    fn apiserver_dual_stack_uses_the_first_service_cidr_only() {
        let c = cfg(
            "",
            "networking:\n  serviceSubnet: 10.96.0.0/16,fd00:10:96::/112\n  podSubnet: 10.244.0.0/16,fd00:10:244::/56",
        );
        let n = apiserver_alt_names(&c);
        assert_eq!(n.ips, ips(&["10.96.0.1", "192.168.122.10"]));
    }

    #[test]
    fn control_plane_endpoint_as_dns_and_as_ip() {
        let dns = apiserver_alt_names(&cfg("", "controlPlaneEndpoint: k8s.example.com:6443"));
        assert!(dns.dns.contains(&"k8s.example.com".to_string()));
        assert_eq!(dns.ips, ips(&["10.96.0.1", "192.168.122.10"]));

        let ip = apiserver_alt_names(&cfg("", "controlPlaneEndpoint: 192.168.122.100"));
        assert_eq!(
            ip.ips,
            ips(&["10.96.0.1", "192.168.122.10", "192.168.122.100"])
        );
        assert_eq!(ip.dns.len(), 5);

        // The endpoint equal to the advertise address is not repeated.
        let same = apiserver_alt_names(&cfg("", "controlPlaneEndpoint: 192.168.122.10:6443"));
        assert_eq!(same.ips, ips(&["10.96.0.1", "192.168.122.10"]));
    }

    #[test]
    fn cert_sans_mix_is_split_deduplicated_and_sorted() {
        let c = cfg(
            "",
            "apiServer:\n  certSANs:\n  - zz.example.com\n  - 10.0.0.5\n  - kubernetes\n  - '*.apps.example.com'\n  - 10.96.0.1\n  - 2001:db8::5\n  - a.example.com",
        );
        let n = apiserver_alt_names(&c);
        assert_eq!(
            n.dns,
            [
                "*.apps.example.com",
                "a.example.com",
                "cp-1",
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
                "zz.example.com"
            ]
        );
        assert_eq!(
            n.ips,
            ips(&["10.96.0.1", "192.168.122.10", "10.0.0.5", "2001:db8::5"])
        );
    }

    #[test]
    fn etcd_server_and_peer_get_their_own_extra_sans() {
        let c = cfg(
            "",
            "etcd:\n  local:\n    serverCertSANs: [etcd.example.com, 10.1.1.1]\n    peerCertSANs: [peer.example.com, 127.0.0.1]",
        );
        let s = alt_names(find("etcd-server").unwrap(), &c);
        assert_eq!(s.dns, ["cp-1", "etcd.example.com", "localhost"]);
        assert_eq!(
            s.ips,
            ips(&["192.168.122.10", "127.0.0.1", "::1", "10.1.1.1"])
        );
        let p = alt_names(find("etcd-peer").unwrap(), &c);
        assert_eq!(p.dns, ["cp-1", "localhost", "peer.example.com"]);
        assert_eq!(p.ips, ips(&["192.168.122.10", "127.0.0.1", "::1"]));
    }

    #[test]
    fn cas_carry_their_cn_and_clients_nothing() {
        let c = cfg("", "");
        assert_eq!(alt_names(find("etcd-ca").unwrap(), &c).dns, ["etcd-ca"]);
        assert!(alt_names(find("front-proxy-client").unwrap(), &c).is_empty());
    }

    #[test]
    fn missing_from_lists_what_an_old_cert_lacks() {
        let want = AltNames {
            dns: vec!["a".into(), "B.example".into()],
            ips: ips(&["10.0.0.1", "::1"]),
        };
        let have = AltNames {
            dns: vec!["b.example".into()],
            ips: ips(&["::1"]),
        };
        assert_eq!(want.missing_from(&have), ["DNS:a", "IP:10.0.0.1"]);
        assert!(have.missing_from(&want).is_empty());
    }
}
