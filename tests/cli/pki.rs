//! `init phase certs` and `init phase kubeconfig` through the real binary, checked with real
//! tools: `openssl` for chains, SANs, usages, key types and validity, `kubectl` for the
//! kubeconfigs. Also re-runs (nothing changes), broken inputs (nothing changes, the error
//! names the file), external etcd, and `certs check-expiration`.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::SystemTime;

use crate::util::{files_under, plinth, text};

const INIT: &str = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint:\n  advertiseAddress: 192.168.122.10\nnodeRegistration:\n  name: cp-1\n";
const CLUSTER: &str = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n";

/// A temp dir with `config.yaml`; PKI in `<dir>/pki`, kubeconfigs in `<dir>`.
struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    fn new(init: &str, cluster_extra: &str) -> Site {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.yaml"),
            format!("{init}---\n{CLUSTER}{cluster_extra}"),
        )
        .unwrap();
        Site { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn pki(&self, rel: &str) -> PathBuf {
        self.dir.path().join("pki").join(rel)
    }

    fn s(p: &Path) -> String {
        p.display().to_string()
    }

    /// `plinth init phase <phase> <sub> --config .. --cert-dir .. --kubeconfig-dir ..`
    fn phase(&self, phase: &str, sub: &str, extra: &[&str]) -> Output {
        let (config, pki, kc) = (
            Self::s(&self.path("config.yaml")),
            Self::s(&self.path("pki")),
            Self::s(self.dir.path()),
        );
        let mut args = vec![
            "init",
            "phase",
            phase,
            sub,
            "--config",
            &config,
            "--cert-dir",
            &pki,
            "--kubeconfig-dir",
            &kc,
        ];
        args.extend_from_slice(extra);
        plinth(&args)
    }

    fn certs_and_kubeconfigs(&self, extra: &[&str]) -> (String, String) {
        let a = self.phase("certs", "all", extra);
        assert!(a.status.success(), "certs all failed:\n{}", text(&a));
        let b = self.phase("kubeconfig", "all", extra);
        assert!(b.status.success(), "kubeconfig all failed:\n{}", text(&b));
        (text(&a), text(&b))
    }

    /// Every file: content, mtime, mode.
    fn snapshot(&self) -> BTreeMap<String, (Vec<u8>, SystemTime, u32)> {
        files_under(self.dir.path())
            .into_iter()
            .map(|rel| {
                let p = self.path(&rel);
                let m = std::fs::metadata(&p).unwrap();
                (
                    rel,
                    (
                        std::fs::read(&p).unwrap(),
                        m.modified().unwrap(),
                        m.permissions().mode() & 0o7777,
                    ),
                )
            })
            .collect()
    }
}

fn tool(cmd: &str, args: &[&str]) -> Output {
    Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd} must be installed for these tests: {e}"))
}

/// stdout of a tool that must succeed.
fn ok(cmd: &str, args: &[&str]) -> String {
    let o = tool(cmd, args);
    assert!(o.status.success(), "{cmd} {args:?} failed:\n{}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn x509(cert: &Path, what: &[&str]) -> String {
    let mut args = vec!["x509", "-noout", "-in", cert.to_str().unwrap()];
    args.extend_from_slice(what);
    ok("openssl", &args)
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// (file base, CA base, CN, O, EKU line, SAN line) for every leaf with local etcd.
/// A leaf as openssl shows it.
struct Leaf {
    base: &'static str,
    ca: &'static str,
    cn: &'static str,
    org: Option<&'static str>,
    eku: &'static str,
    sans: Option<&'static str>,
}

fn leaves() -> Vec<Leaf> {
    let api_sans = "DNS:cp-1, DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc, DNS:kubernetes.default.svc.cluster.local, IP Address:10.96.0.1, IP Address:192.168.122.10";
    let etcd_sans = "DNS:cp-1, DNS:localhost, IP Address:192.168.122.10, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1";
    let server = "TLS Web Server Authentication";
    let client = "TLS Web Client Authentication";
    let both = "TLS Web Server Authentication, TLS Web Client Authentication";
    let l = |base, ca, cn, org, eku, sans| Leaf {
        base,
        ca,
        cn,
        org,
        eku,
        sans,
    };
    vec![
        l(
            "apiserver",
            "ca",
            "kube-apiserver",
            None,
            server,
            Some(api_sans),
        ),
        l(
            "apiserver-kubelet-client",
            "ca",
            "kube-apiserver-kubelet-client",
            None,
            client,
            None,
        ),
        l(
            "front-proxy-client",
            "front-proxy-ca",
            "front-proxy-client",
            None,
            client,
            None,
        ),
        l(
            "etcd/server",
            "etcd/ca",
            "cp-1",
            None,
            both,
            Some(etcd_sans),
        ),
        l("etcd/peer", "etcd/ca", "cp-1", None, both, Some(etcd_sans)),
        l(
            "etcd/healthcheck-client",
            "etcd/ca",
            "kube-etcd-healthcheck-client",
            None,
            client,
            None,
        ),
        l(
            "apiserver-etcd-client",
            "etcd/ca",
            "kube-apiserver-etcd-client",
            None,
            client,
            None,
        ),
    ]
}

const DAY: u64 = 86400;

/// Checks a freshly generated PKI and kubeconfig set with openssl and kubectl.
fn check_everything(site: &Site, rsa: bool) {
    let key_header = if rsa {
        "-----BEGIN RSA PRIVATE KEY-----\n"
    } else {
        "-----BEGIN EC PRIVATE KEY-----\n"
    };
    let key_algo = if rsa {
        "Public Key Algorithm: rsaEncryption"
    } else {
        "Public Key Algorithm: id-ecPublicKey"
    };
    let key_size = if rsa {
        "Public-Key: (2048 bit)"
    } else {
        "Public-Key: (256 bit)"
    };
    let key_check = if rsa { "rsa" } else { "ec" };

    let check_key = |base: &str| {
        let crt = site.pki(&format!("{base}.crt"));
        let key = site.pki(&format!("{base}.key"));
        assert_eq!(mode(&crt), 0o644, "{base}.crt");
        assert_eq!(mode(&key), 0o600, "{base}.key");
        assert!(
            std::fs::read_to_string(&key)
                .unwrap()
                .starts_with(key_header),
            "{base}.key format"
        );
        ok(
            "openssl",
            &["pkey", "-check", "-noout", "-in", key.to_str().unwrap()],
        );
        ok(
            "openssl",
            &[key_check, "-check", "-noout", "-in", key.to_str().unwrap()],
        );
        let t = x509(&crt, &["-text"]);
        assert!(t.contains(key_algo) && t.contains(key_size), "{base}: {t}");
        // The key belongs to the certificate.
        assert_eq!(
            x509(&crt, &["-pubkey"]),
            ok(
                "openssl",
                &["pkey", "-pubout", "-in", key.to_str().unwrap()]
            ),
            "{base}.key does not match {base}.crt"
        );
        t
    };

    for (ca, cn) in [
        ("ca", "kubernetes"),
        ("front-proxy-ca", "front-proxy-ca"),
        ("etcd/ca", "etcd-ca"),
    ] {
        let t = check_key(ca);
        let crt = site.pki(&format!("{ca}.crt"));
        assert!(t.contains("CA:TRUE"), "{ca}");
        assert!(
            t.contains("Digital Signature, Key Encipherment, Certificate Sign"),
            "{ca}: {t}"
        );
        assert!(t.contains("X509v3 Subject Key Identifier"), "{ca}");
        assert_eq!(
            x509(&crt, &["-ext", "subjectAltName"])
                .lines()
                .nth(1)
                .unwrap()
                .trim(),
            format!("DNS:{cn}")
        );
        assert_eq!(
            x509(&crt, &["-subject", "-nameopt", "RFC2253"]).trim(),
            format!("subject=CN={cn}")
        );
        // Self-signed and valid for 10 years, not 10 years and a week.
        ok(
            "openssl",
            &[
                "verify",
                "-CAfile",
                crt.to_str().unwrap(),
                crt.to_str().unwrap(),
            ],
        );
        let secs = |d: u64| (d * DAY).to_string();
        ok(
            "openssl",
            &[
                "x509",
                "-noout",
                "-in",
                crt.to_str().unwrap(),
                "-checkend",
                &secs(3640),
            ],
        );
        assert!(
            !tool(
                "openssl",
                &[
                    "x509",
                    "-noout",
                    "-in",
                    crt.to_str().unwrap(),
                    "-checkend",
                    &secs(3660)
                ]
            )
            .status
            .success()
        );
    }

    for Leaf {
        base,
        ca,
        cn,
        org,
        eku,
        sans,
    } in leaves()
    {
        let t = check_key(base);
        let crt = site.pki(&format!("{base}.crt"));
        let ca_crt = site.pki(&format!("{ca}.crt"));
        let v = ok(
            "openssl",
            &[
                "verify",
                "-CAfile",
                ca_crt.to_str().unwrap(),
                crt.to_str().unwrap(),
            ],
        );
        assert!(v.trim().ends_with(": OK"), "{base}: {v}");
        // ...and not against another CA (so the check above can fail).
        let other = if ca == "ca" { "etcd/ca" } else { "ca" };
        let bad = tool(
            "openssl",
            &[
                "verify",
                "-CAfile",
                site.pki(&format!("{other}.crt")).to_str().unwrap(),
                crt.to_str().unwrap(),
            ],
        );
        assert!(!bad.status.success(), "{base} verified against {other}");

        let subject = x509(&crt, &["-subject", "-nameopt", "RFC2253"]);
        let want = match org {
            Some(o) => format!("subject=CN={cn},O={o}"),
            None => format!("subject=CN={cn}"),
        };
        assert_eq!(subject.trim(), want, "{base}");
        let ext = x509(
            &crt,
            &["-ext", "extendedKeyUsage,keyUsage,basicConstraints"],
        );
        assert!(ext.contains(eku), "{base}: {ext}");
        assert!(
            ext.contains("Digital Signature, Key Encipherment")
                && !ext.contains("Certificate Sign"),
            "{base}: {ext}"
        );
        assert!(ext.contains("CA:FALSE"), "{base}: {ext}");
        assert!(t.contains("X509v3 Authority Key Identifier"), "{base}");
        match sans {
            Some(s) => assert_eq!(
                x509(&crt, &["-ext", "subjectAltName"])
                    .lines()
                    .nth(1)
                    .unwrap()
                    .trim(),
                s,
                "{base}"
            ),
            None => assert!(!t.contains("Subject Alternative Name"), "{base}"),
        }
        // One year, backdated five minutes: valid for 364 days, not 366.
        let secs = |d: u64| (d * DAY).to_string();
        ok(
            "openssl",
            &[
                "x509",
                "-noout",
                "-in",
                crt.to_str().unwrap(),
                "-checkend",
                &secs(364),
            ],
        );
        assert!(
            !tool(
                "openssl",
                &[
                    "x509",
                    "-noout",
                    "-in",
                    crt.to_str().unwrap(),
                    "-checkend",
                    &secs(366)
                ]
            )
            .status
            .success(),
            "{base} valid too long"
        );
    }

    // sa.key / sa.pub.
    assert_eq!(mode(&site.pki("sa.key")), 0o600);
    assert_eq!(mode(&site.pki("sa.pub")), 0o600);
    assert!(
        std::fs::read_to_string(site.pki("sa.key"))
            .unwrap()
            .starts_with(key_header)
    );
    ok(
        "openssl",
        &[
            "pkey",
            "-check",
            "-noout",
            "-in",
            site.pki("sa.key").to_str().unwrap(),
        ],
    );
    assert_eq!(
        std::fs::read_to_string(site.pki("sa.pub")).unwrap(),
        ok(
            "openssl",
            &[
                "pkey",
                "-pubout",
                "-in",
                site.pki("sa.key").to_str().unwrap()
            ]
        )
    );
    assert_eq!(
        mode(&site.pki("etcd")),
        mode(site.pki("sa.key").parent().unwrap())
    );

    // Kubeconfigs, read by kubectl.
    let ca_pem = std::fs::read_to_string(site.pki("ca.crt")).unwrap();
    for (file, user, org, server) in [
        (
            "admin.conf",
            "kubernetes-admin",
            Some("kubeadm:cluster-admins"),
            "https://192.168.122.10:6443",
        ),
        (
            "super-admin.conf",
            "kubernetes-super-admin",
            Some("system:masters"),
            "https://192.168.122.10:6443",
        ),
        (
            "kubelet.conf",
            "system:node:cp-1",
            Some("system:nodes"),
            "https://192.168.122.10:6443",
        ),
        (
            "controller-manager.conf",
            "system:kube-controller-manager",
            None,
            "https://192.168.122.10:6443",
        ),
        (
            "scheduler.conf",
            "system:kube-scheduler",
            None,
            "https://192.168.122.10:6443",
        ),
    ] {
        let path = site.path(file);
        assert_eq!(mode(&path), 0o600, "{file}");
        let v: serde_json::Value = serde_json::from_str(&ok(
            "kubectl",
            &[
                "config",
                "view",
                "--kubeconfig",
                path.to_str().unwrap(),
                "--raw",
                "-o",
                "json",
            ],
        ))
        .unwrap();
        assert_eq!(v["current-context"], format!("{user}@kubernetes"), "{file}");
        assert_eq!(v["clusters"][0]["name"], "kubernetes");
        assert_eq!(v["clusters"][0]["cluster"]["server"], server, "{file}");
        assert_eq!(v["contexts"][0]["context"]["cluster"], "kubernetes");
        assert_eq!(v["contexts"][0]["context"]["user"], user);
        assert_eq!(v["users"][0]["name"], user);
        let b64 = |x: &serde_json::Value| {
            use base64::Engine as _;
            String::from_utf8(
                base64::engine::general_purpose::STANDARD
                    .decode(x.as_str().unwrap())
                    .unwrap(),
            )
            .unwrap()
        };
        assert_eq!(
            b64(&v["clusters"][0]["cluster"]["certificate-authority-data"]),
            ca_pem,
            "{file}"
        );
        let cert = site.path(&format!("{file}.crt"));
        let key = site.path(&format!("{file}.key"));
        std::fs::write(
            &cert,
            b64(&v["users"][0]["user"]["client-certificate-data"]),
        )
        .unwrap();
        std::fs::write(&key, b64(&v["users"][0]["user"]["client-key-data"])).unwrap();
        ok(
            "openssl",
            &[
                "verify",
                "-CAfile",
                site.pki("ca.crt").to_str().unwrap(),
                cert.to_str().unwrap(),
            ],
        );
        assert!(
            std::fs::read_to_string(&key)
                .unwrap()
                .starts_with(key_header),
            "{file}"
        );
        assert_eq!(
            x509(&cert, &["-pubkey"]),
            ok(
                "openssl",
                &["pkey", "-pubout", "-in", key.to_str().unwrap()]
            )
        );
        let want = match org {
            Some(o) => format!("subject=CN={user},O={o}"),
            None => format!("subject=CN={user}"),
        };
        assert_eq!(
            x509(&cert, &["-subject", "-nameopt", "RFC2253"]).trim(),
            want
        );
        assert!(
            x509(&cert, &["-ext", "extendedKeyUsage"]).contains("TLS Web Client Authentication")
        );
        std::fs::remove_file(cert).unwrap();
        std::fs::remove_file(key).unwrap();
    }
}

/// What the certs and kubeconfig phases write, with the ledgers that let reset remove exactly
/// these (`.plinth-owned`, issue #11).
const ALL_FILES: [&str; 31] = [
    ".plinth-owned",
    "admin.conf",
    "config.yaml",
    "controller-manager.conf",
    "kubelet.conf",
    "pki/.plinth-owned",
    "pki/apiserver-etcd-client.crt",
    "pki/apiserver-etcd-client.key",
    "pki/apiserver-kubelet-client.crt",
    "pki/apiserver-kubelet-client.key",
    "pki/apiserver.crt",
    "pki/apiserver.key",
    "pki/ca.crt",
    "pki/ca.key",
    "pki/etcd/.plinth-owned",
    "pki/etcd/ca.crt",
    "pki/etcd/ca.key",
    "pki/etcd/healthcheck-client.crt",
    "pki/etcd/healthcheck-client.key",
    "pki/etcd/peer.crt",
    "pki/etcd/peer.key",
    "pki/etcd/server.crt",
    "pki/etcd/server.key",
    "pki/front-proxy-ca.crt",
    "pki/front-proxy-ca.key",
    "pki/front-proxy-client.crt",
    "pki/front-proxy-client.key",
    "pki/sa.key",
    "pki/sa.pub",
    "scheduler.conf",
    "super-admin.conf",
];

fn all_files() -> Vec<&'static str> {
    ALL_FILES.to_vec()
}

#[test]
fn ecdsa_p256_pki_and_kubeconfigs_pass_openssl_and_kubectl() {
    let site = Site::new(INIT, "");
    let (certs, kubeconfigs) = site.certs_and_kubeconfigs(&[]);
    assert_eq!(files_under(site.dir.path()), all_files());
    assert!(
        certs.starts_with(&format!(
            "[certs] Using certificateDir folder {:?}\n",
            Site::s(&site.path("pki"))
        )),
        "{certs}"
    );
    assert!(
        certs.contains("[certs] Generating \"etcd/ca\" certificate and key"),
        "{certs}"
    );
    assert!(certs.contains("[certs] apiserver serving cert is signed for DNS names [cp-1 kubernetes kubernetes.default kubernetes.default.svc kubernetes.default.svc.cluster.local] and IPs [10.96.0.1 192.168.122.10]"), "{certs}");
    assert!(
        certs.contains("[certs] Generating \"sa\" key and public key"),
        "{certs}"
    );
    assert_eq!(certs.matches("Using certificateDir folder").count(), 1);
    assert!(
        kubeconfigs.contains("[kubeconfig] Writing \"super-admin.conf\" kubeconfig file"),
        "{kubeconfigs}"
    );
    check_everything(&site, false);
}

#[test]
fn rsa_2048_pki_and_kubeconfigs_pass_openssl_and_kubectl() {
    let site = Site::new(INIT, "");
    site.certs_and_kubeconfigs(&["--encryption-algorithm", "RSA-2048"]);
    assert_eq!(files_under(site.dir.path()), all_files());
    check_everything(&site, true);
}

#[test]
fn a_second_run_changes_nothing_and_says_so() {
    let site = Site::new(INIT, "");
    site.certs_and_kubeconfigs(&[]);
    let before = site.snapshot();
    let (certs, kubeconfigs) = site.certs_and_kubeconfigs(&[]);
    assert_eq!(
        site.snapshot(),
        before,
        "a re-run must leave every file byte-identical"
    );
    assert!(
        !certs.contains("Generating") && !kubeconfigs.contains("Writing"),
        "{certs}{kubeconfigs}"
    );
    assert_eq!(
        certs.matches("[certs] Using existing").count(),
        10,
        "{certs}"
    );
    assert!(
        certs.contains("[certs] Using existing ca certificate authority"),
        "{certs}"
    );
    assert!(
        certs.contains("[certs] Using existing etcd/server certificate and key on disk"),
        "{certs}"
    );
    assert!(
        certs.contains("[certs] Using the existing \"sa\" key"),
        "{certs}"
    );
    assert_eq!(
        kubeconfigs
            .matches("[kubeconfig] Using existing kubeconfig file")
            .count(),
        5,
        "{kubeconfigs}"
    );
}

#[test]
fn broken_inputs_fail_naming_the_file_and_change_nothing() {
    let site = Site::new(INIT, "");
    site.certs_and_kubeconfigs(&[]);

    // Half a pair.
    std::fs::remove_file(site.pki("apiserver.key")).unwrap();
    let before = site.snapshot();
    let o = site.phase("certs", "all", &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("phase certs/apiserver failed"), "{err}");
    assert!(
        err.contains(&format!("{} does not", Site::s(&site.pki("apiserver.key")))),
        "{err}"
    );
    assert!(
        err.contains("remove") && err.contains("apiserver.crt"),
        "{err}"
    );
    assert_eq!(site.snapshot(), before, "nothing may change");

    // A pair from another cluster's CA.
    let other = Site::new(INIT, "");
    other.certs_and_kubeconfigs(&[]);
    for f in ["apiserver.crt", "apiserver.key"] {
        std::fs::copy(other.pki(f), site.pki(f)).unwrap();
    }
    let before = site.snapshot();
    let o = site.phase("certs", "all", &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!(
            "{} is not signed by {}",
            Site::s(&site.pki("apiserver.crt")),
            Site::s(&site.pki("ca.crt"))
        )),
        "{err}"
    );
    assert_eq!(site.snapshot(), before, "nothing may change");

    // A kubeconfig made for the other cluster's CA.
    std::fs::copy(other.path("admin.conf"), site.path("admin.conf")).unwrap();
    let before = site.snapshot();
    let o = site.phase("kubeconfig", "admin", &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!(
            "{} exists but embeds a CA certificate other than",
            Site::s(&site.path("admin.conf"))
        )),
        "{err}"
    );
    assert_eq!(site.snapshot(), before, "nothing may change");
}

#[test]
fn external_etcd_gets_no_etcd_certificates() {
    let site = Site::new(
        INIT,
        "etcd:\n  external:\n    endpoints: [https://10.0.0.2:2379]\n    caFile: /etc/etcd/ca.crt\n    certFile: /etc/etcd/client.crt\n    keyFile: /etc/etcd/client.key\n",
    );
    let (certs, _) = site.certs_and_kubeconfigs(&[]);
    let files = files_under(site.dir.path());
    assert!(!files.iter().any(|f| f.contains("etcd")), "{files:?}");
    assert_eq!(
        files.iter().filter(|f| f.starts_with("pki/")).count(),
        13,
        "{files:?}"
    );
    assert!(
        certs.contains("Skipping certs/etcd-ca: external etcd"),
        "{certs}"
    );
    assert_eq!(certs.matches("external etcd").count(), 5, "{certs}");
    let v = ok(
        "openssl",
        &[
            "verify",
            "-CAfile",
            site.pki("ca.crt").to_str().unwrap(),
            site.pki("apiserver.crt").to_str().unwrap(),
        ],
    );
    assert!(v.contains("OK"));
}

#[test]
fn single_phases_run_alone_and_need_their_ca() {
    let site = Site::new(
        INIT,
        "apiServer:\n  certSANs: [api.example.com, 10.0.0.9]\n",
    );
    let o = site.phase("certs", "apiserver", &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("ca.crt does not exist; run `plinth init phase certs ca` first"),
        "{}",
        text(&o)
    );
    assert!(files_under(site.dir.path()) == ["config.yaml"]);
    assert!(site.phase("certs", "ca", &[]).status.success());
    let o = site.phase("certs", "apiserver", &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        files_under(&site.path("pki")),
        [
            ".plinth-owned",
            "apiserver.crt",
            "apiserver.key",
            "ca.crt",
            "ca.key"
        ]
    );
    let sans = x509(&site.pki("apiserver.crt"), &["-ext", "subjectAltName"]);
    assert!(
        sans.contains("DNS:api.example.com") && sans.contains("IP Address:10.0.0.9"),
        "{sans}"
    );
}

#[test]
fn ipv6_kubeconfigs_bracket_the_server() {
    let site = Site::new(
        "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint:\n  advertiseAddress: fd00::10\nnodeRegistration:\n  name: cp-6\n",
        "networking:\n  serviceSubnet: fd00:10:96::/112\n",
    );
    site.certs_and_kubeconfigs(&[]);
    let v: serde_json::Value = serde_json::from_str(&ok(
        "kubectl",
        &[
            "config",
            "view",
            "--kubeconfig",
            site.path("kubelet.conf").to_str().unwrap(),
            "--raw",
            "-o",
            "json",
        ],
    ))
    .unwrap();
    assert_eq!(
        v["clusters"][0]["cluster"]["server"],
        "https://[fd00::10]:6443"
    );
    let sans = x509(&site.pki("apiserver.crt"), &["-ext", "subjectAltName"]);
    assert!(
        sans.contains("IP Address:FD00:10:96:0:0:0:0:1, IP Address:FD00:0:0:0:0:0:0:10"),
        "{sans}"
    );
}

#[test]
fn check_expiration_lists_every_certificate() {
    let site = Site::new(INIT, "");
    site.certs_and_kubeconfigs(&[]);
    let args = |fmt: &'static str| {
        vec![
            "certs".to_string(),
            "check-expiration".into(),
            "--cert-dir".into(),
            Site::s(&site.path("pki")),
            "--kubeconfig-dir".into(),
            Site::s(site.dir.path()),
            "-o".into(),
            fmt.into(),
        ]
    };
    let run = |fmt| {
        let a = args(fmt);
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        let o = plinth(&refs);
        assert!(o.status.success(), "{}", text(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let table = run("table");
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("CERTIFICATE ")
            && lines[0].ends_with("CERTIFICATE AUTHORITY   EXTERNALLY MANAGED"),
        "{table}"
    );
    assert_eq!(lines.len(), 1 + 11 + 1 + 1 + 3, "{table}");
    assert!(
        lines[1].starts_with("admin.conf ")
            && lines[1].contains(" UTC   364d ")
            && lines[1].ends_with("ca                      no"),
        "{table}"
    );
    assert!(
        lines[14].starts_with("ca ") && lines[14].contains("   9y   "),
        "{table}"
    );

    let json: serde_json::Value = serde_json::from_str(&run("json")).unwrap();
    let certs = json["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 11);
    let api = certs.iter().find(|c| c["name"] == "apiserver").unwrap();
    assert_eq!(api["ca"], "ca");
    assert_eq!(api["residual"], "364d");
    assert!(api["residual_seconds"].as_i64().unwrap() > 364 * 86400);
    assert_eq!(api["externally_managed"], false);
    assert_eq!(json["certificate_authorities"].as_array().unwrap().len(), 3);
    assert!(run("yaml").contains("- name: etcd-peer\n"));

    // External CA: without ca.key the certificates are externally managed.
    std::fs::remove_file(site.pki("ca.key")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&run("json")).unwrap();
    let api = json["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "apiserver")
        .unwrap()
        .clone();
    assert_eq!(api["externally_managed"], true);
}

#[test]
fn cas_made_by_openssl_are_reused_in_every_key_format() {
    // kubeadm-, openssl- or cfssl-made CAs must work: PKCS#1 RSA, SEC1 EC, PKCS#8 EC keys.
    let site = Site::new(INIT, "");
    std::fs::create_dir_all(site.pki("etcd")).unwrap();
    let key = |base: &str| site.pki(&format!("{base}.key")).display().to_string();
    let crt = |base: &str| site.pki(&format!("{base}.crt")).display().to_string();
    ok(
        "openssl",
        &["genrsa", "-traditional", "-out", &key("ca"), "2048"],
    );
    ok(
        "openssl",
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            &key("front-proxy-ca"),
        ],
    );
    ok(
        "openssl",
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-384",
            "-out",
            &key("etcd/ca"),
        ],
    );
    for (base, cn, header) in [
        ("ca", "kubernetes", "-----BEGIN RSA PRIVATE KEY-----"),
        (
            "front-proxy-ca",
            "front-proxy-ca",
            "-----BEGIN EC PRIVATE KEY-----",
        ),
        ("etcd/ca", "etcd-ca", "-----BEGIN PRIVATE KEY-----"),
    ] {
        assert!(
            std::fs::read_to_string(key(base))
                .unwrap()
                .starts_with(header),
            "{base}"
        );
        ok(
            "openssl",
            &[
                "req",
                "-x509",
                "-new",
                "-key",
                &key(base),
                "-out",
                &crt(base),
                "-days",
                "3650",
                "-subj",
                &format!("/CN={cn}"),
            ],
        );
    }
    let before: Vec<_> = ["ca.crt", "ca.key", "etcd/ca.crt"]
        .iter()
        .map(|f| std::fs::read(site.pki(f)).unwrap())
        .collect();
    let (certs, _) = site.certs_and_kubeconfigs(&[]);
    assert_eq!(certs.matches("certificate authority").count(), 3, "{certs}");
    let after: Vec<_> = ["ca.crt", "ca.key", "etcd/ca.crt"]
        .iter()
        .map(|f| std::fs::read(site.pki(f)).unwrap())
        .collect();
    assert_eq!(before, after, "existing CAs are never rewritten");
    for Leaf { base, ca, .. } in leaves() {
        let v = ok("openssl", &["verify", "-CAfile", &crt(ca), &crt(base)]);
        assert!(v.trim().ends_with(": OK"), "{base}: {v}");
    }
    let admin = site.path("admin.conf");
    let v: serde_json::Value = serde_json::from_str(&ok(
        "kubectl",
        &[
            "config",
            "view",
            "--kubeconfig",
            admin.to_str().unwrap(),
            "--raw",
            "-o",
            "json",
        ],
    ))
    .unwrap();
    use base64::Engine as _;
    let ca_data = base64::engine::general_purpose::STANDARD
        .decode(
            v["clusters"][0]["cluster"]["certificate-authority-data"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    assert_eq!(ca_data, std::fs::read(site.pki("ca.crt")).unwrap());
}
