//! Kubeconfig files: the typed file format ([`file`]), kubeadm's table of files (`spec`),
//! and converging them on disk (`store`) with client certificates issued by the cluster CA.
//! Knows nothing of the CLI, phases or stdout; all crypto goes through [`crate::pki`].

mod error;
mod file;
mod rotate;
mod spec;
mod store;

pub use error::{Error, Result};
pub use file::{
    AuthInfo, Cluster, Context, Kubeconfig, NamedCluster, NamedContext, NamedUser, Secret,
    decode_data, parse_kubeconfig, render_kubeconfig,
};
pub use rotate::point_kubeconfig_at_rotating_cert;
pub use spec::{
    ADMIN_FILE, BOOTSTRAP_KUBELET_FILE, CONTROLLER_MANAGER_FILE, ClientName, KUBECONFIGS,
    KUBELET_FILE, KubeconfigSpec, SCHEDULER_FILE, SUPER_ADMIN_FILE, ServerKind, find,
};
pub use store::{
    KUBECONFIG_MODE, KubeconfigOutcome, check_expiration, check_expiration_at, ensure_kubeconfig,
    ensure_kubeconfig_at, kubeconfig_needs_key, read_kubeconfig,
};

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    use super::*;
    use crate::config::{KeyAlgorithm, ResolvedConfig};
    use crate::pki::testutil::{cfg, snapshot};
    use crate::pki::{self, KeyPool, certs_for, ensure_cert};

    /// A PKI for `c` in `<tmp>/pki` and the kubeconfig dir `<tmp>`.
    fn pki_dir(c: &ResolvedConfig) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let mut keys = KeyPool::empty(c.key_algorithm);
        for s in certs_for(true) {
            ensure_cert(s, c, &d.path().join("pki"), &mut keys).unwrap();
        }
        d
    }

    fn ensure_all(c: &ResolvedConfig, d: &Path) -> Vec<KubeconfigOutcome> {
        let mut keys = KeyPool::generate(c.key_algorithm, KUBECONFIGS.len()).unwrap();
        KUBECONFIGS
            .iter()
            .map(|k| ensure_kubeconfig(k, c, &d.join("pki"), d, &mut keys).unwrap())
            .collect()
    }

    fn get(name: &str) -> &'static KubeconfigSpec {
        find(name).unwrap()
    }

    #[test]
    fn written_files_carry_cluster_user_context_and_a_ca_signed_client_cert() {
        let c = cfg(
            "nodeRegistration:\n  name: node-7",
            "clusterName: prod\ncontrolPlaneEndpoint: cp.example.com:443",
        );
        let d = pki_dir(&c);
        assert!(
            ensure_all(&c, d.path())
                .iter()
                .all(|o| *o == KubeconfigOutcome::Generated)
        );
        let ca = pki::load_cert(&d.path().join("pki/ca.crt")).unwrap();
        for spec in KUBECONFIGS.iter() {
            let path = d.path().join(spec.file);
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
            let kc = read_kubeconfig(&path).unwrap();
            let user = spec.client_name(&c);
            assert_eq!(kc.current_context, format!("{user}@prod"));
            let (ctx, cluster, u) = kc.current().unwrap();
            assert_eq!(ctx.context.user, user);
            let cluster = cluster.unwrap();
            assert_eq!(cluster.name, "prod");
            assert_eq!(cluster.cluster.server, spec.server_url(&c));
            let ca_data = decode_data(
                cluster.cluster.certificate_authority_data.as_ref().unwrap(),
                "ca",
                &path,
            )
            .unwrap();
            assert_eq!(ca_data, ca.pem.as_bytes());
            let u = u.unwrap();
            let cert_pem =
                decode_data(u.user.client_certificate_data.as_ref().unwrap(), "c", &path).unwrap();
            let cert = pki::parse_cert_pem(std::str::from_utf8(&cert_pem).unwrap(), &path).unwrap();
            assert_eq!(cert.common_name, user);
            assert_eq!(cert.organizations, spec.org.into_iter().collect::<Vec<_>>());
            assert!(cert.client_auth && !cert.server_auth && !cert.is_ca);
            assert!(cert.is_signed_by(&ca));
            let key_pem = decode_data(
                u.user.client_key_data.as_ref().unwrap().expose(),
                "k",
                &path,
            )
            .unwrap();
            let key_text = std::str::from_utf8(&key_pem).unwrap();
            assert!(key_text.starts_with("-----BEGIN EC PRIVATE KEY-----"));
            assert!(cert.matches_key(&pki::parse_key_pem(key_text, &path).unwrap()));
            // Debug output of the parsed file does not leak the key.
            assert!(!format!("{kc:?}").contains(u.user.client_key_data.as_ref().unwrap().expose()));
        }
        assert_eq!(
            read_kubeconfig(&d.path().join("admin.conf"))
                .unwrap()
                .clusters[0]
                .cluster
                .server,
            "https://cp.example.com:443"
        );
        assert_eq!(
            read_kubeconfig(&d.path().join("kubelet.conf"))
                .unwrap()
                .users[0]
                .name,
            "system:node:node-7"
        );
    }

    #[test]
    fn rerun_reuses_every_file_untouched() {
        let c = cfg("", "");
        let d = pki_dir(&c);
        ensure_all(&c, d.path());
        let before = snapshot(d.path());
        let again = ensure_all(&c, d.path());
        assert!(
            again
                .iter()
                .all(|o| *o == KubeconfigOutcome::Reused { warning: None }),
            "{again:?}"
        );
        assert_eq!(snapshot(d.path()), before);
    }

    #[test]
    fn a_server_mismatch_only_warns() {
        let c = cfg("", "");
        let d = pki_dir(&c);
        ensure_all(&c, d.path());
        let before = snapshot(d.path());
        let moved = cfg("", "controlPlaneEndpoint: lb.example.com");
        let mut keys = KeyPool::empty(KeyAlgorithm::EcdsaP256);
        let o = ensure_kubeconfig(
            get("admin"),
            &moved,
            &d.path().join("pki"),
            d.path(),
            &mut keys,
        )
        .unwrap();
        let KubeconfigOutcome::Reused { warning: Some(w) } = o else {
            panic!("{o:?}")
        };
        assert!(
            w.contains("admin.conf") && w.contains("unexpected API Server URL"),
            "{w}"
        );
        assert!(
            w.contains("expected: https://lb.example.com:6443, got: https://192.168.122.10:6443"),
            "{w}"
        );
        // The local-endpoint files are unaffected by controlPlaneEndpoint.
        let o = ensure_kubeconfig(
            get("scheduler"),
            &moved,
            &d.path().join("pki"),
            d.path(),
            &mut keys,
        )
        .unwrap();
        assert_eq!(o, KubeconfigOutcome::Reused { warning: None });
        assert_eq!(snapshot(d.path()), before);
    }

    #[test]
    fn a_file_for_another_ca_is_an_error() {
        let c = cfg("", "");
        let d = pki_dir(&c);
        ensure_all(&c, d.path());
        let other = pki_dir(&c);
        let before = snapshot(d.path());
        let mut keys = KeyPool::empty(KeyAlgorithm::EcdsaP256);
        let e = ensure_kubeconfig(
            get("admin"),
            &c,
            &other.path().join("pki"),
            d.path(),
            &mut keys,
        )
        .unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, Error::CaMismatch { .. }));
        assert!(
            msg.contains("admin.conf exists but embeds a CA certificate other than"),
            "{msg}"
        );
        assert!(msg.contains("remove") && msg.contains("ca.crt"), "{msg}");
        assert_eq!(snapshot(d.path()), before);

        // Right CA data, but a client certificate from another CA.
        let theirs = read_kubeconfig(&other.path().join("pki/../admin.conf"));
        assert!(theirs.is_err(), "the other dir has no kubeconfigs yet");
        ensure_all(&c, other.path());
        let mut mixed = read_kubeconfig(&other.path().join("admin.conf")).unwrap();
        mixed.clusters[0].cluster.certificate_authority_data =
            read_kubeconfig(&d.path().join("admin.conf"))
                .unwrap()
                .clusters[0]
                .cluster
                .certificate_authority_data
                .clone();
        let p = d.path().join("admin.conf");
        crate::host::fs::write_atomic(&p, render_kubeconfig(&mixed, &p).unwrap().as_bytes(), 0o600)
            .unwrap();
        let before = snapshot(d.path());
        let e = ensure_kubeconfig(get("admin"), &c, &d.path().join("pki"), d.path(), &mut keys)
            .unwrap_err();
        assert!(matches!(e, Error::ForeignClientCert { .. }), "{e}");
        assert!(
            e.to_string()
                .contains("admin.conf exists but its client certificate is not signed by")
        );
        assert_eq!(snapshot(d.path()), before);
    }

    #[test]
    fn missing_ca_or_ca_key_is_an_error_naming_the_file() {
        let c = cfg("", "");
        let empty = tempfile::tempdir().unwrap();
        let mut keys = KeyPool::empty(KeyAlgorithm::EcdsaP256);
        let e = ensure_kubeconfig(
            get("admin"),
            &c,
            &empty.path().join("pki"),
            empty.path(),
            &mut keys,
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("admin.conf because its CA certificate"),
            "{e}"
        );
        assert!(snapshot(empty.path()).is_empty());

        let d = pki_dir(&c);
        std::fs::remove_file(d.path().join("pki/ca.key")).unwrap();
        let e = ensure_kubeconfig(
            get("scheduler"),
            &c,
            &d.path().join("pki"),
            d.path(),
            &mut keys,
        )
        .unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("cannot issue")
                && msg.contains("scheduler.conf")
                && msg.contains("ca.key does not exist"),
            "{msg}"
        );
        assert!(!d.path().join("scheduler.conf").exists());
    }

    #[test]
    fn garbage_and_dangling_contexts_are_errors() {
        let c = cfg("", "");
        let d = pki_dir(&c);
        let p = d.path().join("controller-manager.conf");
        std::fs::write(&p, "apiVersion: v1\nkind: Config\ncurrent-context: nope\n").unwrap();
        let mut keys = KeyPool::empty(KeyAlgorithm::EcdsaP256);
        let e = ensure_kubeconfig(
            get("controller-manager"),
            &c,
            &d.path().join("pki"),
            d.path(),
            &mut keys,
        )
        .unwrap_err();
        assert!(
            e.to_string().contains(
                "controller-manager.conf has no usable current context (context \"nope\" not found)"
            ),
            "{e}"
        );
        std::fs::write(&p, "clusters: [[[").unwrap();
        let e = ensure_kubeconfig(
            get("controller-manager"),
            &c,
            &d.path().join("pki"),
            d.path(),
            &mut keys,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("failed to parse kubeconfig {}", p.display())
        );
    }

    #[test]
    fn rendering_matches_client_go_layout() {
        let kc = Kubeconfig::with_client_cert(
            "kubernetes",
            "https://[fd00::1]:6443",
            "CA",
            "u",
            "CERT",
            "KEY",
        );
        let text = render_kubeconfig(&kc, Path::new("x")).unwrap();
        let keys: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with(' ') && !l.starts_with('-'))
            .collect();
        assert_eq!(
            keys,
            [
                "apiVersion: v1",
                "clusters:",
                "contexts:",
                "current-context: u@kubernetes",
                "kind: Config",
                "users:"
            ]
        );
        assert!(text.contains("certificate-authority-data: Q0E="), "{text}");
        assert!(text.contains("client-key-data: S0VZ"), "{text}");
        assert_eq!(parse_kubeconfig(&text, Path::new("x")).unwrap(), kc);
        // A long base64 value stays on one line.
        let long =
            Kubeconfig::with_client_cert("k", "https://h:1", &"A".repeat(3000), "u", "C", "K");
        let t = render_kubeconfig(&long, Path::new("x")).unwrap();
        assert!(
            t.lines().any(
                |l| l.trim_start().starts_with("certificate-authority-data: ") && l.len() > 4000
            ),
            "{t}"
        );
    }

    #[test]
    fn expiry_lists_admin_type_files() {
        let c = cfg("", "");
        let d = pki_dir(&c);
        ensure_all(&c, d.path());
        std::fs::remove_file(d.path().join("scheduler.conf")).unwrap();
        let e = check_expiration(&d.path().join("pki"), d.path()).unwrap();
        let names: Vec<_> = e.iter().map(|x| (x.name.as_str(), x.missing)).collect();
        assert_eq!(
            names,
            [
                ("admin.conf", false),
                ("super-admin.conf", false),
                ("controller-manager.conf", false),
                ("scheduler.conf", true)
            ]
        );
        assert_eq!(e[0].residual.as_deref(), Some("364d"));
        assert_eq!(e[0].ca.as_deref(), Some("ca"));
        assert!(!e[0].externally_managed && !e[0].is_ca);
    }
}
