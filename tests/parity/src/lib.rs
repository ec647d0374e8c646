//! Test tooling for issue #6: compares what `kubeadm init --dry-run` and
//! `plinth init --dry-run` write for the same config, semantically, and fails on every
//! difference that `docs/compatibility.md` does not list with a reason.
//!
//! [`layout`] maps both output directories onto one logical layout, [`normalise`] turns each
//! file into facts without random parts, [`diff`] names the differences by stable keys and
//! [`allow`] reads the allow-list. `scripts/parity` produces the directories and runs this.

pub mod allow;
pub mod api;
pub mod diff;
pub mod layout;
pub mod normalise;

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde_json::Value;

pub use allow::Entry;
pub use diff::Difference;

/// One config rendered by both tools.
#[derive(Debug, Clone)]
pub struct Case {
    /// Config name (the file stem in `tests/parity/configs`).
    pub name: String,
    /// kubeadm's `KUBEADM_INIT_DRYRUN_DIR`.
    pub kubeadm: PathBuf,
    /// plinth's `--dry-run-dir`.
    pub plinth: PathBuf,
}

/// Every difference for one case.
///
/// # Errors
/// When a directory cannot be read or a file does not parse.
pub fn compare(case: &Case) -> Result<Vec<Difference>> {
    let k = normalise::facts(&layout::kubeadm_tree(&case.kubeadm)?)
        .with_context(|| format!("{}: kubeadm's output", case.name))?;
    let p = normalise::facts(&layout::plinth_tree(&case.plinth)?)
        .with_context(|| format!("{}: plinth's output", case.name))?;
    Ok(diff::diff(&k, &p))
}

/// The differences of all cases, judged against the allow-list.
#[derive(Debug, Default)]
pub struct Verdict {
    /// Configs compared.
    pub configs: usize,
    /// (config, difference, index of the allowing entry).
    pub listed: Vec<(String, Difference, usize)>,
    /// (config, difference) that no entry allows: each one fails the test.
    pub unlisted: Vec<(String, Difference)>,
    /// Entries that allowed nothing: each one fails the test too, so the list stays exact.
    pub stale: Vec<Entry>,
}

/// Judges `results` (config name → its differences) against `entries`.
#[must_use]
pub fn judge(results: &[(String, Vec<Difference>)], entries: &[Entry]) -> Verdict {
    let mut v = Verdict {
        configs: results.len(),
        ..Verdict::default()
    };
    let mut used = vec![false; entries.len()];
    for (config, diffs) in results {
        for d in diffs {
            match entries.iter().position(|e| e.allows(config, d)) {
                Some(i) => {
                    used[i] = true;
                    v.listed.push((config.clone(), d.clone(), i));
                }
                None => v.unlisted.push((config.clone(), d.clone())),
            }
        }
    }
    v.stale = entries
        .iter()
        .zip(used)
        .filter(|(_, u)| !u)
        .map(|(e, _)| e.clone())
        .collect();
    v
}

impl Verdict {
    /// No unlisted difference and no stale entry.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.unlisted.is_empty() && self.stale.is_empty()
    }

    /// `parity: N configs, M listed differences (K distinct keys, E allow-list entries),
    /// U unlisted, S stale allow-list entries`.
    #[must_use]
    pub fn summary(&self) -> String {
        let distinct: BTreeSet<&str> = self.listed.iter().map(|(_, d, _)| d.key.as_str()).collect();
        let entries: BTreeSet<usize> = self.listed.iter().map(|(_, _, i)| *i).collect();
        format!(
            "parity: {} configs, {} listed differences ({} distinct keys, {} allow-list entries), {} unlisted, {} stale allow-list entries",
            self.configs,
            self.listed.len(),
            distinct.len(),
            entries.len(),
            self.unlisted.len(),
            self.stale.len()
        )
    }
}

/// A value for a report line: compact JSON, `(absent)` for none, cut at 300 characters.
#[must_use]
pub fn show(v: Option<&Value>) -> String {
    let s = v.map_or_else(|| "(absent)".to_string(), Value::to_string);
    if s.chars().count() > 300 {
        format!("{}…", s.chars().take(300).collect::<String>())
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn d(key: &str) -> Difference {
        Difference {
            key: key.into(),
            kubeadm: Some(json!("a")),
            plinth: Some(json!("b")),
        }
    }

    #[test]
    fn an_unlisted_difference_fails_and_a_listed_one_passes() {
        let entries =
            allow::parse("```parity-allow\ncert:*:public-key configs=default # C1\n```\n").unwrap();
        let ok = judge(
            &[("default".into(), vec![d("cert:ca:public-key")])],
            &entries,
        );
        assert!(ok.passed(), "{ok:?}");
        assert_eq!(ok.listed.len(), 1);
        assert_eq!(
            ok.summary(),
            "parity: 1 configs, 1 listed differences (1 distinct keys, 1 allow-list entries), \
             0 unlisted, 0 stale allow-list entries"
        );

        let injected = judge(
            &[(
                "default".into(),
                vec![d("cert:ca:public-key"), d("manifest:etcd:flag:--foo")],
            )],
            &entries,
        );
        assert!(!injected.passed());
        assert_eq!(injected.unlisted[0].1.key, "manifest:etcd:flag:--foo");

        // Same key in a config the entry does not name: unlisted.
        let other = judge(&[("ipv6".into(), vec![d("cert:ca:public-key")])], &entries);
        assert!(!other.passed());
    }

    /// Writes `text` at `root/rel` with `mode`.
    fn put(root: &std::path::Path, rel: &str, text: &str, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    fn ca_pem(dns: &str) -> (String, String) {
        use plinth::pki::{AltNames, CertConfig, generate_ca_cert, generate_key};
        let key = generate_key(plinth::config::KeyAlgorithm::EcdsaP256).unwrap();
        let cfg = CertConfig {
            common_name: "kubernetes".into(),
            organization: None,
            alt_names: AltNames {
                dns: vec![dns.into()],
                ips: vec![],
            },
            usages: vec![],
            validity: std::time::Duration::from_secs(3600),
        };
        let cert = generate_ca_cert(&cfg, &key, ::time::OffsetDateTime::now_utc()).unwrap();
        (cert.pem, key.to_pem().unwrap())
    }

    const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: etcd\nspec:\n  containers:\n  - name: etcd\n    command: [etcd, --name=a]\n";

    #[test]
    fn real_files_compare_equal_until_a_difference_is_injected() {
        let (k, p) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        // Different keys and serials, same meaning: no difference.
        let (kc, kk) = ca_pem("kubernetes");
        let (pc, pk) = ca_pem("kubernetes");
        put(k.path(), "ca.crt", &kc, 0o644);
        put(k.path(), "ca.key", &kk, 0o600);
        put(k.path(), "etcd.yaml", POD, 0o600);
        put(p.path(), "etc/kubernetes/pki/ca.crt", &pc, 0o644);
        put(p.path(), "etc/kubernetes/pki/ca.key", &pk, 0o600);
        put(p.path(), "etc/kubernetes/manifests/etcd.yaml", POD, 0o600);
        let case = Case {
            name: "t".into(),
            kubeadm: k.path().into(),
            plinth: p.path().into(),
        };
        assert_eq!(compare(&case).unwrap(), vec![]);

        // Inject: a mode, a SAN, a flag value.
        let (pc2, pk2) = ca_pem("other");
        put(p.path(), "etc/kubernetes/pki/ca.crt", &pc2, 0o600);
        put(p.path(), "etc/kubernetes/pki/ca.key", &pk2, 0o600);
        put(
            p.path(),
            "etc/kubernetes/manifests/etcd.yaml",
            &POD.replace("--name=a", "--name=b"),
            0o600,
        );
        let diffs = compare(&case).unwrap();
        let keys: Vec<&str> = diffs.iter().map(|d| d.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "cert:ca:san:DNS:kubernetes",
                "cert:ca:san:DNS:other",
                "file:pki/ca.crt:mode",
                "manifest:etcd:flag:--name"
            ]
        );

        // Listing three of them leaves the fourth failing the test.
        let entries =
            allow::parse("```parity-allow\ncert:ca:san:* # r\nfile:*:mode configs=t # r\n```\n")
                .unwrap();
        let v = judge(&[("t".into(), diffs)], &entries);
        assert!(!v.passed());
        assert_eq!(v.listed.len(), 3);
        assert_eq!(v.unlisted.len(), 1);
        assert_eq!(v.unlisted[0].1.key, "manifest:etcd:flag:--name");
    }

    #[test]
    fn a_stale_entry_fails() {
        let entries = allow::parse("```parity-allow\nfile:x # gone\n```\n").unwrap();
        let v = judge(&[("default".into(), vec![])], &entries);
        assert!(!v.passed());
        assert_eq!(v.stale.len(), 1);
    }
}
