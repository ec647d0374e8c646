//! Checks shared by many fields: durations and timeouts, CIDRs, SANs, extraArgs, extraEnvs,
//! extraVolumes.

use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;

use super::super::v1beta4::{Arg, EnvVar, HostPathMount, Timeouts};
use super::super::values::{ResolvedTimeouts, parse_go_duration};
use super::syntax::{is_dns_label, is_dns_subdomain};
use super::{CLUSTER, Validator};

impl Validator<'_> {
    pub(super) fn duration(
        &mut self,
        doc: &str,
        path: &str,
        v: Option<&String>,
        default: Duration,
    ) -> Duration {
        match v.map(|s| parse_go_duration(s)) {
            Some(Ok(d)) => d,
            Some(Err(m)) => {
                self.err(
                    doc,
                    path,
                    m,
                    Some("use Go duration syntax, e.g. 8760h0m0s".into()),
                );
                default
            }
            None => default,
        }
    }

    pub(super) fn timeouts(&mut self, doc: &str, t: Option<&Timeouts>) -> ResolvedTimeouts {
        let t = t.cloned().unwrap_or_default();
        let m = |x: u64| Duration::from_secs(x * 60);
        ResolvedTimeouts {
            control_plane_component_health_check: self.duration(
                doc,
                "timeouts.controlPlaneComponentHealthCheck",
                t.control_plane_component_health_check.as_ref(),
                m(4),
            ),
            kubelet_health_check: self.duration(
                doc,
                "timeouts.kubeletHealthCheck",
                t.kubelet_health_check.as_ref(),
                m(4),
            ),
            kubernetes_api_call: self.duration(
                doc,
                "timeouts.kubernetesAPICall",
                t.kubernetes_api_call.as_ref(),
                m(1),
            ),
            etcd_api_call: self.duration(
                doc,
                "timeouts.etcdAPICall",
                t.etcd_api_call.as_ref(),
                m(2),
            ),
            tls_bootstrap: self.duration(
                doc,
                "timeouts.tlsBootstrap",
                t.tls_bootstrap.as_ref(),
                m(5),
            ),
            discovery: self.duration(doc, "timeouts.discovery", t.discovery.as_ref(), m(5)),
            upgrade_manifests: self.duration(
                doc,
                "timeouts.upgradeManifests",
                t.upgrade_manifests.as_ref(),
                m(5),
            ),
        }
    }

    pub(super) fn cidrs(
        &mut self,
        path: &str,
        value: &str,
        what: &str,
        max_host_bits: Option<u32>,
    ) -> Vec<IpNet> {
        let mut out = Vec::new();
        let parts: Vec<&str> = value.split(',').map(str::trim).collect();
        if parts.len() > 2 {
            self.err(
                CLUSTER,
                path,
                format!(
                    "{value:?} has {} CIDRs; at most two (one IPv4, one IPv6) are allowed",
                    parts.len()
                ),
                None,
            );
            return out;
        }
        for p in &parts {
            match p.parse::<IpNet>() {
                Ok(n) => {
                    let host_bits = u32::from(n.max_prefix_len() - n.prefix_len());
                    if let Some(max) = max_host_bits
                        && host_bits > max {
                            self.err(CLUSTER, path, format!("{what} {p} is too large: {host_bits} host bits, at most {max} are allowed"), Some(format!("use a prefix of /{} or longer", n.max_prefix_len() as u32 - max)));
                        }
                    out.push(n.trunc());
                }
                Err(_) => self.err(CLUSTER, path, format!("{p:?} is not a valid {what} CIDR"), Some("write it as address/prefix, e.g. 10.244.0.0/16 or fd00::/56; separate a dual-stack pair with a comma".into())),
            }
        }
        if out.len() == 2 && out[0].addr().is_ipv4() == out[1].addr().is_ipv4() {
            self.err(
                CLUSTER,
                path,
                format!("dual-stack {what} {value:?} must be one IPv4 and one IPv6 CIDR"),
                None,
            );
        }
        out
    }

    pub(super) fn sans(
        &mut self,
        doc: &str,
        path: &str,
        list: Option<&Vec<String>>,
    ) -> Vec<String> {
        let list = list.cloned().unwrap_or_default();
        for (i, s) in list.iter().enumerate() {
            if s.parse::<IpAddr>().is_err() && !is_dns_subdomain(s.strip_prefix("*.").unwrap_or(s))
            {
                self.err(doc, &format!("{path}[{i}]"), format!("{s:?} is neither an IP address nor a valid DNS name"), Some("use an IP address, a lower-case RFC 1123 DNS name or a wildcard such as *.example.com".into()));
            }
        }
        list
    }

    pub(super) fn args(&mut self, doc: &str, path: &str, args: Option<&Vec<Arg>>) {
        for (i, a) in args.into_iter().flatten().enumerate() {
            if a.name.is_empty() {
                self.err(
                    doc,
                    &format!("{path}[{i}].name"),
                    "flag name is empty".into(),
                    None,
                );
            } else if a.name.starts_with('-') {
                self.err(
                    doc,
                    &format!("{path}[{i}].name"),
                    format!("flag name {:?} starts with a dash", a.name),
                    Some(format!(
                        "write the name without dashes: {:?}",
                        a.name.trim_start_matches('-')
                    )),
                );
            } else if a.name.contains('=') || a.name.chars().any(char::is_whitespace) {
                self.err(
                    doc,
                    &format!("{path}[{i}].name"),
                    format!("flag name {:?} contains '=' or whitespace", a.name),
                    Some("put the value in `value:`".into()),
                );
            }
        }
    }

    pub(super) fn envs(&mut self, doc: &str, path: &str, envs: Option<&Vec<EnvVar>>) {
        for (i, e) in envs.into_iter().flatten().enumerate() {
            if e.name.is_empty() || e.name.contains('=') {
                self.err(
                    doc,
                    &format!("{path}[{i}].name"),
                    format!("{:?} is not a valid environment variable name", e.name),
                    None,
                );
            }
            if e.value.is_some() && e.value_from.is_some() {
                self.err(
                    doc,
                    &format!("{path}[{i}]"),
                    "value and valueFrom are mutually exclusive".into(),
                    None,
                );
            }
        }
    }

    pub(super) fn volumes(&mut self, doc: &str, path: &str, vols: Option<&Vec<HostPathMount>>) {
        const TYPES: &[&str] = &[
            "",
            "DirectoryOrCreate",
            "Directory",
            "FileOrCreate",
            "File",
            "Socket",
            "CharDevice",
            "BlockDevice",
        ];
        for (i, v) in vols.into_iter().flatten().enumerate() {
            if !is_dns_label(&v.name) {
                self.err(
                    doc,
                    &format!("{path}[{i}].name"),
                    format!("{:?} is not a valid volume name", v.name),
                    Some("use lower-case letters, digits and '-', at most 63 characters".into()),
                );
            }
            for (f, p) in [("hostPath", &v.host_path), ("mountPath", &v.mount_path)] {
                if !p.starts_with('/') {
                    self.err(
                        doc,
                        &format!("{path}[{i}].{f}"),
                        format!("{p:?} is not an absolute path"),
                        None,
                    );
                }
            }
            if let Some(t) = &v.path_type
                && !TYPES.contains(&t.as_str())
            {
                self.err(
                    doc,
                    &format!("{path}[{i}].pathType"),
                    format!("unknown hostPath type {t:?}"),
                    Some(format!("use one of {}", TYPES[1..].join(", "))),
                );
            }
        }
    }
}
