//! Semantic validation of the defaulted documents, collecting every problem with its position.
//! kubeadm: `app/apis/kubeadm/validation/validation.go` (plinth is stricter in places; see
//! docs/compatibility.md).
//!
//! One function per section of the config (`init.rs`: nodeRegistration, localAPIEndpoint,
//! bootstrapTokens; `cluster.rs`: kubernetesVersion, controlPlaneEndpoint, networking, PKI,
//! components, etcd), shared field checks in `fields.rs`, the path policy in `paths.rs`, value
//! syntax in `syntax.rs`; [`Validator::resolve_config`] runs them all and assembles the result.

mod cluster;
mod fields;
mod init;
mod paths;
mod syntax;

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::ResolvedConfig;
use super::error::{ErrorKind, Issue};
use super::locate::FieldIndex;
use super::v1beta4::{ClusterConfiguration, InitConfiguration, ResetConfiguration};

pub(crate) struct Validator<'a> {
    file: &'a str,
    indexes: BTreeMap<&'a str, &'a FieldIndex>,
    flags: BTreeMap<String, &'static str>,
    issues: Vec<Issue>,
}

const INIT: &str = "InitConfiguration";
const CLUSTER: &str = "ClusterConfiguration";
const RESET: &str = "ResetConfiguration";

/// kubeadm's feature gates in 1.37 (only RootlessControlPlane is left).
const FEATURE_GATES: &[&str] = &["RootlessControlPlane"];

/// Gates kubeadm knows but plinth cannot honour when enabled (rendering refuses them too).
const UNSUPPORTED_FEATURE_GATES: &[&str] = &["RootlessControlPlane"];

impl<'a> Validator<'a> {
    pub(crate) fn new(
        file: &'a str,
        indexes: BTreeMap<&'a str, &'a FieldIndex>,
        flags: BTreeMap<String, &'static str>,
    ) -> Self {
        Validator {
            file,
            indexes,
            flags,
            issues: Vec::new(),
        }
    }

    pub(crate) fn into_issues(mut self) -> Vec<Issue> {
        self.issues
            .sort_by_key(|i| (i.file != self.file, i.line, i.column));
        self.issues
    }

    /// Records a problem at `doc.path`, naming the flag instead when a flag set the value.
    pub(super) fn err(&mut self, doc: &str, path: &str, message: String, hint: Option<String>) {
        let full = format!("{doc}.{path}");
        if let Some(flag) = self.flags.get(&full) {
            self.issues.push(Issue {
                kind: ErrorKind::InvalidFlag,
                file: "command line".into(),
                line: None,
                column: None,
                field: Some((*flag).to_string()),
                message,
                hint,
            });
            return;
        }
        let pos = self.indexes.get(doc).and_then(|i| i.find(path));
        self.issues.push(Issue {
            kind: ErrorKind::InvalidValue,
            file: self.file.to_string(),
            line: pos.map(|p| p.line),
            column: pos.map(|p| p.column),
            field: Some(full),
            message,
            hint,
        });
    }

    /// Validates every section and assembles the [`ResolvedConfig`]; `None` when any problem
    /// was recorded (they are all in [`Validator::into_issues`]).
    pub(crate) fn resolve_config(
        &mut self,
        init: InitConfiguration,
        cluster: ClusterConfiguration,
        reset: ResetConfiguration,
        kubelet: Option<serde_json::Value>,
        kube_proxy: Option<serde_json::Value>,
    ) -> Option<ResolvedConfig> {
        let mut warnings = Vec::new();
        let version = self.kubernetes_version(&cluster);
        let init::NodeRegistration {
            node_name,
            ignore_preflight_errors,
            cri_socket,
        } = self.node_registration(&init);
        let (advertise, bind_port) = self.local_api_endpoint(&init);
        let cpe = self.control_plane_endpoint(&cluster, bind_port, &mut warnings);
        let cluster::Networking {
            service_subnets,
            pod_subnets,
            dns_domain,
        } = self.networking(&cluster, advertise);
        let cluster::Pki {
            cert_dir,
            key_algorithm,
            cert_validity,
            ca_validity,
            apiserver_cert_sans,
            image_repository,
            cluster_name,
        } = self.pki(&cluster, &mut warnings);
        self.components(&cluster);
        let etcd = self.etcd(&cluster, &cert_dir);
        self.bootstrap_tokens(&init);
        self.certificate_key(&init);

        let timeouts = self.timeouts(INIT, init.timeouts.as_ref());
        let _ = self.timeouts(RESET, reset.timeouts.as_ref());
        if let Some(c) = &reset.certificates_dir {
            // Defaulted from certificatesDir, which is already checked above.
            if cluster.certificates_dir.as_ref() != Some(c) {
                self.cert_dir(RESET, c);
            }
        }
        let patches_dir = init
            .patches
            .as_ref()
            .and_then(|p| p.directory.as_ref())
            .filter(|d| !d.is_empty())
            .map(PathBuf::from);
        if let Some(d) = &patches_dir {
            self.patches_dir(d);
        }
        let skip_phases = init.skip_phases.clone().unwrap_or_default();

        Some(ResolvedConfig {
            source: None,
            kubernetes_version: version?,
            node_name,
            cri_socket,
            advertise_address: advertise?,
            bind_port: bind_port?,
            control_plane_endpoint: cpe,
            service_subnets,
            pod_subnets,
            dns_domain,
            cluster_name,
            cert_dir: PathBuf::from(cert_dir),
            image_repository,
            key_algorithm: key_algorithm?,
            cert_validity,
            ca_validity,
            apiserver_cert_sans,
            etcd: etcd?,
            timeouts,
            patches_dir,
            skip_phases,
            ignore_preflight_errors,
            warnings,
            init,
            cluster,
            reset,
            kubelet,
            kube_proxy,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::syntax::{is_bootstrap_group, is_token, parse_endpoint};
    use super::*;
    use crate::config::Endpoint;

    #[test]
    fn endpoints() {
        assert_eq!(
            parse_endpoint("cp.example.com", 6443).unwrap(),
            Endpoint {
                host: "cp.example.com".into(),
                port: 6443
            }
        );
        assert_eq!(parse_endpoint("10.0.0.1:443", 6443).unwrap().port, 443);
        assert_eq!(
            parse_endpoint("[fd00::1]:8443", 6443).unwrap(),
            Endpoint {
                host: "fd00::1".into(),
                port: 8443
            }
        );
        assert_eq!(parse_endpoint("fd00::1", 6443).unwrap().host, "fd00::1");
        assert!(parse_endpoint("cp.example.com:0", 6443).is_err());
        assert!(parse_endpoint("bad_host:6443", 6443).is_err());
        assert!(parse_endpoint("[fd00::1", 6443).is_err());
    }

    #[test]
    fn tokens_and_groups() {
        assert!(is_token("abcdef.0123456789abcdef"));
        assert!(!is_token("ABCDEF.0123456789abcdef"));
        assert!(!is_token("abcdef0123456789abcdef"));
        assert!(is_bootstrap_group(
            "system:bootstrappers:kubeadm:default-node-token"
        ));
        assert!(!is_bootstrap_group("system:masters"));
    }

    fn load(yaml: &str, o: &crate::config::Overrides) -> Result<ResolvedConfig, Vec<Issue>> {
        let facts = crate::config::HostDefaults {
            hostname: Some("cp-1".into()),
            default_address: Some("10.0.0.10".into()),
        };
        crate::config::load_str(yaml, "c.yaml", o, &facts).map_err(|e| e.issues().to_vec())
    }

    const INIT_DOC: &str = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\n";

    #[test]
    fn the_limited_broadcast_address_cannot_be_advertised() {
        let yaml = format!("{INIT_DOC}localAPIEndpoint:\n  advertiseAddress: 255.255.255.255\n");
        let i = load(&yaml, &Default::default()).unwrap_err();
        assert_eq!(i.len(), 1, "{i:?}");
        assert_eq!(
            i[0].field.as_deref(),
            Some("InitConfiguration.localAPIEndpoint.advertiseAddress")
        );
        assert_eq!(i[0].line, Some(4));
        assert!(i[0].message.contains("cannot be advertised"), "{}", i[0]);
        let flag = crate::config::Overrides {
            apiserver_advertise_address: Some("255.255.255.255".into()),
            ..Default::default()
        };
        let i = load("", &flag).unwrap_err();
        assert_eq!(i[0].field.as_deref(), Some("--apiserver-advertise-address"));
        // A subnet's last address may be a host address: only the limited broadcast is known.
        let yaml = format!("{INIT_DOC}localAPIEndpoint:\n  advertiseAddress: 10.0.0.255\n");
        assert!(load(&yaml, &Default::default()).is_ok());
    }

    #[test]
    fn an_enabled_rootless_control_plane_gate_is_a_located_config_error() {
        let doc = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nfeatureGates:\n  RootlessControlPlane: true\n";
        let i = load(doc, &Default::default()).unwrap_err();
        assert_eq!(i.len(), 1, "{i:?}");
        assert_eq!(
            i[0].field.as_deref(),
            Some("ClusterConfiguration.featureGates.RootlessControlPlane")
        );
        assert_eq!((i[0].line, i[0].column), (Some(4), Some(3)));
        assert!(i[0].message.contains("does not support"), "{}", i[0]);
        assert!(i[0].hint.as_deref().unwrap().contains("false"), "{}", i[0]);
        assert!(load(&doc.replace("true", "false"), &Default::default()).is_ok());
    }

    #[test]
    fn a_missing_patches_directory_is_a_located_config_error() {
        let d = tempfile::tempdir().unwrap();
        let missing = d.path().join("nope");
        let yaml = format!("{INIT_DOC}patches:\n  directory: {}\n", missing.display());
        let i = load(&yaml, &Default::default()).unwrap_err();
        assert_eq!(i.len(), 1, "{i:?}");
        assert_eq!(
            i[0].field.as_deref(),
            Some("InitConfiguration.patches.directory")
        );
        assert_eq!(i[0].line, Some(4));
        assert!(i[0].message.contains("does not exist"), "{}", i[0]);
        // A file is not a directory.
        let file = d.path().join("f");
        std::fs::write(&file, "").unwrap();
        let yaml = format!("{INIT_DOC}patches:\n  directory: {}\n", file.display());
        let i = load(&yaml, &Default::default()).unwrap_err();
        assert!(i[0].message.contains("is not a directory"), "{}", i[0]);
        // The flag is named when the flag gave it.
        let flag = crate::config::Overrides {
            patches: Some(missing.display().to_string()),
            ..Default::default()
        };
        let i = load("", &flag).unwrap_err();
        assert_eq!(i[0].field.as_deref(), Some("--patches"));
        // An existing directory is fine.
        let yaml = format!("{INIT_DOC}patches:\n  directory: {}\n", d.path().display());
        assert!(load(&yaml, &Default::default()).is_ok());
    }
}
