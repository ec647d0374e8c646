//! The InitConfiguration's sections: nodeRegistration, localAPIEndpoint, bootstrapTokens.

use std::net::IpAddr;

use super::super::v1beta4::InitConfiguration;
use super::super::values::parse_go_duration;
use super::syntax::{is_bootstrap_group, is_broadcast, is_dns_subdomain, is_token};
use super::{INIT, Validator};

/// What nodeRegistration resolves to.
pub(super) struct NodeRegistration {
    pub(super) node_name: String,
    pub(super) ignore_preflight_errors: Vec<String>,
    pub(super) cri_socket: String,
}

impl Validator<'_> {
    /// `nodeRegistration`: name, ignorePreflightErrors (kubeadm ValidateIgnorePreflightErrors:
    /// case-insensitive names, file and flag merged, `all` alone), criSocket, imagePullPolicy,
    /// taints, kubeletExtraArgs.
    pub(super) fn node_registration(&mut self, init: &InitConfiguration) -> NodeRegistration {
        let nr = &init.node_registration;
        let node_name = nr.name.clone().unwrap_or_default();
        if node_name.is_empty() {
            self.err(
                INIT,
                "nodeRegistration.name",
                "the node name is empty and the hostname could not be read".into(),
                Some("set nodeRegistration.name or pass --node-name".into()),
            );
        } else if !is_dns_subdomain(&node_name) {
            self.err(
                INIT,
                "nodeRegistration.name",
                format!("{node_name:?} is not a valid node name"),
                Some("use a lower-case RFC 1123 DNS subdomain, e.g. cp-1".into()),
            );
        }
        let mut ignore_preflight_errors: Vec<String> = nr
            .ignore_preflight_errors
            .iter()
            .flatten()
            .map(|n| n.trim().to_lowercase())
            .filter(|n| !n.is_empty())
            .collect();
        ignore_preflight_errors.sort();
        ignore_preflight_errors.dedup();
        if ignore_preflight_errors.len() > 1 && ignore_preflight_errors.iter().any(|n| n == "all") {
            self.err(
                INIT,
                "nodeRegistration.ignorePreflightErrors",
                format!(
                    "{:?}: don't specify individual checks if 'all' is used",
                    ignore_preflight_errors.join(",")
                ),
                Some("give either all or a list of check names".into()),
            );
        }
        let cri_socket = nr.cri_socket.clone().unwrap_or_default();
        if !(cri_socket.starts_with("unix:///") || cri_socket.starts_with('/')) {
            self.err(
                INIT,
                "nodeRegistration.criSocket",
                format!("{cri_socket:?} is not a unix socket"),
                Some("use a URL such as unix:///var/run/containerd/containerd.sock".into()),
            );
        }
        if let Some(p) = &nr.image_pull_policy
            && !["Always", "IfNotPresent", "Never"].contains(&p.as_str())
        {
            self.err(
                INIT,
                "nodeRegistration.imagePullPolicy",
                format!("unknown image pull policy {p:?}"),
                Some("use Always, IfNotPresent or Never".into()),
            );
        }
        for (i, t) in nr.taints.iter().flatten().enumerate() {
            if !["NoSchedule", "PreferNoSchedule", "NoExecute"].contains(&t.effect.as_str()) {
                self.err(
                    INIT,
                    &format!("nodeRegistration.taints[{i}].effect"),
                    format!("unknown taint effect {:?}", t.effect),
                    Some("use NoSchedule, PreferNoSchedule or NoExecute".into()),
                );
            }
            if t.key.is_empty() {
                self.err(
                    INIT,
                    &format!("nodeRegistration.taints[{i}].key"),
                    "taint key is empty".into(),
                    None,
                );
            }
        }
        self.args(
            INIT,
            "nodeRegistration.kubeletExtraArgs",
            nr.kubelet_extra_args.as_ref(),
        );

        NodeRegistration {
            node_name,
            ignore_preflight_errors,
            cri_socket,
        }
    }

    /// `localAPIEndpoint`: the advertise address and bind port (both `None` when invalid).
    pub(super) fn local_api_endpoint(
        &mut self,
        init: &InitConfiguration,
    ) -> (Option<IpAddr>, Option<u16>) {
        let adv_str = init
            .local_api_endpoint
            .advertise_address
            .clone()
            .unwrap_or_default();
        let advertise = if adv_str.is_empty() {
            self.err(
                INIT,
                "localAPIEndpoint.advertiseAddress",
                "no advertise address is set and no default-route address was found".into(),
                Some(
                    "set localAPIEndpoint.advertiseAddress or pass --apiserver-advertise-address"
                        .into(),
                ),
            );
            None
        } else {
            match adv_str.parse::<IpAddr>() {
                Ok(ip) if ip.is_unspecified() || ip.is_multicast() || is_broadcast(ip) => {
                    self.err(
                        INIT,
                        "localAPIEndpoint.advertiseAddress",
                        format!("{ip} cannot be advertised"),
                        Some("use the node's own unicast address".into()),
                    );
                    None
                }
                Ok(ip) => Some(ip),
                Err(_) => {
                    self.err(
                        INIT,
                        "localAPIEndpoint.advertiseAddress",
                        format!("{adv_str:?} is not an IP address"),
                        Some("use an IPv4 or IPv6 address such as 192.168.1.10".into()),
                    );
                    None
                }
            }
        };
        let bind_port = match init.local_api_endpoint.bind_port {
            Some(p) if (1..=65535).contains(&p) => u16::try_from(p).ok(),
            Some(p) => {
                self.err(
                    INIT,
                    "localAPIEndpoint.bindPort",
                    format!("port {p} is out of range"),
                    Some("use 1-65535".into()),
                );
                None
            }
            None => Some(6443),
        };

        (advertise, bind_port)
    }

    /// `bootstrapTokens`: token syntax, ttl xor expires, usages, groups.
    pub(super) fn bootstrap_tokens(&mut self, init: &InitConfiguration) {
        for (i, t) in init.bootstrap_tokens.iter().flatten().enumerate() {
            if let Some(tok) = &t.token
                && !is_token(tok)
            {
                self.err(INIT, &format!("bootstrapTokens[{i}].token"), "the token does not match [a-z0-9]{6}.[a-z0-9]{16}".into(), Some("generate one with `plinth token generate` or leave it empty to get a random one".into()));
            }
            if t.ttl.is_some() && t.expires.is_some() {
                self.err(
                    INIT,
                    &format!("bootstrapTokens[{i}]"),
                    "ttl and expires are mutually exclusive".into(),
                    None,
                );
            }
            if let Some(ttl) = &t.ttl
                && let Err(m) = parse_go_duration(ttl)
            {
                self.err(INIT, &format!("bootstrapTokens[{i}].ttl"), m, None);
            }
            for (j, u) in t.usages.iter().flatten().enumerate() {
                if !["signing", "authentication"].contains(&u.as_str()) {
                    self.err(
                        INIT,
                        &format!("bootstrapTokens[{i}].usages[{j}]"),
                        format!("unknown token usage {u:?}"),
                        Some("use signing and/or authentication".into()),
                    );
                }
            }
            for (j, g) in t.groups.iter().flatten().enumerate() {
                if !is_bootstrap_group(g) {
                    self.err(
                        INIT,
                        &format!("bootstrapTokens[{i}].groups[{j}]"),
                        format!("{g:?} is not a bootstrap group"),
                        Some("groups must match system:bootstrappers:[a-z0-9:-]*[a-z0-9]".into()),
                    );
                }
            }
        }
    }

    /// `certificateKey`: 64 hex digits (32 bytes for AES-256), as upload-certs needs it.
    pub(super) fn certificate_key(&mut self, init: &InitConfiguration) {
        // The message never repeats the value: it may be a real key with a typo, and a key
        // opens the cluster's CA keys.
        if let Some(k) = init.certificate_key.as_deref().filter(|k| !k.is_empty())
            && crate::pki::copycerts::CertificateKey::parse(k).is_err()
        {
            self.err(
                INIT,
                "certificateKey",
                "must be 64 hexadecimal digits (32 bytes)".into(),
                Some("make one with `plinth certs certificate-key`, or leave it out to get a random one".into()),
            );
        }
    }
}
