//! Golden renders of the static Pod manifests and kubelet files.
//!
//! Each `tests/golden/<case>/` holds `config.yaml` (kubeadm v1beta4), optionally `host.yaml`
//! (the host facts: CA-trust directories, proxy variables, ...) and `patches/`. The expected
//! output is `out/<component>.yaml`, `out/kubelet/*` and `out/warnings.txt` (if any warning).
//! Rendering is in-process with fixed host facts, so nothing depends on the machine.
//! `PLINTH_UPDATE_GOLDEN=1 cargo test --test cli golden` rewrites the `out/` trees.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use plinth::config::{Overrides, ResolvedConfig, load_str};
use plinth::host::Facts;
use plinth::host::Paths;
use plinth::host::fs::WriteOutcome;
use plinth::kubelet::{generate_kubelet_files, write_kubelet_files};
use plinth::manifests::{
    Component, HostView, PatchSet, Templates, parse_pod, render_manifest, write_manifest,
};

/// The cases the issue asks for; a missing directory fails the test.
const REQUIRED_CASES: [&str; 12] = [
    "default-ipv4",
    "ipv6",
    "dual-stack",
    "external-etcd",
    "extra-args",
    "extra-volumes-envs",
    "patch-strategic",
    "patch-merge",
    "patch-json",
    "image-repository",
    "templates-dir",
    "kubelet-config",
];

fn golden_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// `host.yaml`: the host facts a case renders with.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct HostSpec {
    /// Existing CA-trust directories (default: Debian/Ubuntu's three).
    #[serde(default = "default_ca_trust")]
    ca_trust_dirs: Vec<String>,
    /// `*_proxy` variables of plinth's environment, in order.
    #[serde(default)]
    proxy_env: Vec<[String; 2]>,
    /// ca.key is absent.
    #[serde(default, rename = "externalCA")]
    external_ca: bool,
    /// The host name (default `cp-1`).
    #[serde(default = "default_hostname")]
    hostname: String,
    /// systemd-resolved is active.
    #[serde(default)]
    systemd_resolved: bool,
}

fn default_ca_trust() -> Vec<String> {
    vec![
        "/etc/ca-certificates".into(),
        "/usr/local/share/ca-certificates".into(),
        "/usr/share/ca-certificates".into(),
    ]
}

fn default_hostname() -> String {
    "cp-1".into()
}

fn host_spec(case: &Path) -> HostSpec {
    let text = std::fs::read_to_string(case.join("host.yaml")).unwrap_or_else(|_| "{}".into());
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", case.display()))
}

fn load(case: &Path, overrides: &Overrides) -> ResolvedConfig {
    let path = case.join("config.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    load_str(
        &text,
        &path.display().to_string(),
        overrides,
        &Default::default(),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every output file of a case, by path relative to `out/`.
fn render_case(case: &Path, overrides: &Overrides) -> BTreeMap<String, String> {
    let cfg = load(case, overrides);
    let spec = host_spec(case);
    let facts = HostView {
        ca_trust_dirs: spec.ca_trust_dirs.iter().map(PathBuf::from).collect(),
        proxy_env: spec
            .proxy_env
            .iter()
            .map(|[k, v]| (k.clone(), v.clone()))
            .collect(),
        external_ca: spec.external_ca,
    };
    let kubelet_host = Facts {
        hostname: Some(spec.hostname.clone()),
        systemd_resolved_active: spec.systemd_resolved,
        ..Facts::default()
    };
    let patches_dir = case.join("patches");
    let patches = patches_dir
        .is_dir()
        .then(|| PatchSet::load(&patches_dir).unwrap());
    let templates_dir = case.join("templates");
    let templates = Templates::load(templates_dir.is_dir().then_some(templates_dir.as_path()))
        .unwrap_or_else(|e| panic!("{}: {e}", case.display()));
    let paths = Paths::host(&cfg.cert_dir);
    let mut out = BTreeMap::new();
    let mut warnings = Vec::new();
    for c in Component::ALL {
        if c == Component::Etcd && cfg.is_external_etcd() {
            continue;
        }
        let m = render_manifest(&templates, &cfg, &paths, &facts, patches.as_ref(), c)
            .unwrap_or_else(|e| panic!("{}: {}: {e}", case.display(), c.name()));
        warnings.extend(m.warnings.iter().map(|w| format!("{}: {w}", c.name())));
        out.insert(c.file_name(), m.yaml);
    }
    let k = generate_kubelet_files(&cfg, &paths, &kubelet_host, patches.as_ref())
        .unwrap_or_else(|e| panic!("{}: kubelet: {e}", case.display()));
    warnings.extend(k.warnings.iter().map(|w| format!("kubelet: {w}")));
    out.insert("kubelet/config.yaml".into(), k.config);
    out.insert("kubelet/instance-config.yaml".into(), k.instance_config);
    out.insert("kubelet/kubeadm-flags.env".into(), k.flags_env);
    if !warnings.is_empty() {
        out.insert("warnings.txt".into(), warnings.join("\n") + "\n");
    }
    out
}

fn read_tree(dir: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().display().to_string();
                out.insert(rel, std::fs::read_to_string(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The first differing line with a little context, for a readable failure.
fn first_difference(want: &str, got: &str) -> String {
    let (w, g): (Vec<&str>, Vec<&str>) = (want.lines().collect(), got.lines().collect());
    let i = (0..w.len().max(g.len()))
        .find(|i| w.get(*i) != g.get(*i))
        .unwrap_or(0);
    let from = i.saturating_sub(3);
    let mut s = format!("first difference at line {}:\n", i + 1);
    for j in from..=i {
        match (w.get(j), g.get(j)) {
            (a, b) if a == b => s.push_str(&format!("    {}\n", a.unwrap_or(&""))),
            (a, b) => {
                s.push_str(&format!("  - {}\n", a.unwrap_or(&"<end of file>")));
                s.push_str(&format!("  + {}\n", b.unwrap_or(&"<end of file>")));
            }
        }
    }
    s
}

fn compare(
    name: &str,
    want: &BTreeMap<String, String>,
    got: &BTreeMap<String, String>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let keys: BTreeSet<&String> = want.keys().chain(got.keys()).collect();
    for k in keys {
        match (want.get(k), got.get(k)) {
            (Some(w), Some(g)) if w == g => {}
            (Some(w), Some(g)) => {
                problems.push(format!("{name}/out/{k}: {}", first_difference(w, g)))
            }
            (Some(_), None) => problems.push(format!("{name}/out/{k}: expected but not rendered")),
            (None, Some(_)) => problems.push(format!(
                "{name}/out/{k}: rendered but missing from the golden tree"
            )),
            (None, None) => {}
        }
    }
    problems
}

fn cases() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(golden_root())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("config.yaml").is_file())
        .collect();
    v.sort();
    v
}

#[test]
fn golden_manifests_match() {
    let update = std::env::var_os("PLINTH_UPDATE_GOLDEN").is_some();
    let all = cases();
    for required in REQUIRED_CASES {
        assert!(
            all.iter().any(|c| c.ends_with(required)),
            "golden case {required} is missing"
        );
    }
    let mut problems = Vec::new();
    for case in &all {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let got = render_case(case, &Overrides::default());
        let out = case.join("out");
        if update {
            let _ = std::fs::remove_dir_all(&out);
            for (rel, text) in &got {
                let p = out.join(rel);
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(p, text).unwrap();
            }
            continue;
        }
        problems.extend(compare(&name, &read_tree(&out), &got));
    }
    assert!(
        problems.is_empty(),
        "{} golden difference(s) (PLINTH_UPDATE_GOLDEN=1 rewrites them after review):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn a_changed_golden_file_is_detected() {
    // The comparison must be able to fail: one changed character is reported with its line.
    let case = golden_root().join("default-ipv4");
    let got = render_case(&case, &Overrides::default());
    let mut want = got.clone();
    let apiserver = want.get_mut("kube-apiserver.yaml").unwrap();
    *apiserver = apiserver.replace("--secure-port=6443", "--secure-port=6444");
    let problems = compare("default-ipv4", &want, &got);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("--secure-port=6444"),
        "{}",
        problems[0]
    );
    want.remove("kube-apiserver.yaml");
    assert!(compare("x", &want, &got)[0].contains("missing from the golden tree"));
}

#[test]
fn key_algorithm_does_not_change_manifests() {
    let case = golden_root().join("default-ipv4");
    let golden = read_tree(&case.join("out"));
    for alg in ["RSA-2048", "RSA-4096", "ECDSA-P256", "ECDSA-P384"] {
        let o = Overrides {
            encryption_algorithm: Some(alg.into()),
            ..Overrides::default()
        };
        let got = render_case(&case, &o);
        assert_eq!(compare(alg, &golden, &got), Vec::<String>::new());
    }
}

#[test]
fn every_golden_manifest_is_a_strict_pod() {
    for case in cases() {
        for c in Component::ALL {
            let p = case.join("out").join(c.file_name());
            if let Ok(text) = std::fs::read_to_string(&p) {
                parse_pod(c, &text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            }
        }
    }
}

#[test]
fn external_etcd_has_no_etcd_manifest() {
    let out = golden_root().join("external-etcd/out");
    assert!(out.join("kube-apiserver.yaml").is_file());
    assert!(!out.join("etcd.yaml").exists());
}

/// Writes every output of the default case into `root` (manifests and kubelet files).
fn write_all(root: &Path) -> Vec<WriteOutcome> {
    let case = golden_root().join("default-ipv4");
    let cfg = load(&case, &Overrides::default());
    let paths = Paths::host(&cfg.cert_dir).rooted(root);
    let templates = Templates::load(None).unwrap();
    let facts = HostView::default();
    let mut outcomes = Vec::new();
    for c in Component::ALL {
        let m = render_manifest(&templates, &cfg, &paths, &facts, None, c).unwrap();
        outcomes.push(write_manifest(&paths.manifests_dir_disk(), &m).unwrap());
    }
    let k = generate_kubelet_files(&cfg, &paths, &Facts::default(), None).unwrap();
    outcomes.extend(
        write_kubelet_files(&paths.kubelet_dir_disk(), &k)
            .unwrap()
            .into_iter()
            .map(|(_, o)| o),
    );
    outcomes
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

#[test]
fn writing_twice_reports_unchanged_and_keeps_mtimes() {
    let d = tempfile::tempdir().unwrap();
    assert!(
        write_all(d.path())
            .iter()
            .all(|o| *o == WriteOutcome::Written)
    );
    let manifests = d.path().join("etc/kubernetes/manifests");
    let files: Vec<PathBuf> = std::fs::read_dir(&manifests)
        .unwrap()
        .map(|e| e.unwrap().path())
        .chain(
            std::fs::read_dir(d.path().join("var/lib/kubelet"))
                .unwrap()
                .map(|e| e.unwrap().path()),
        )
        .collect();
    // Seven files and the ledger of each directory; no temp files may be left.
    assert_eq!(files.len(), 9, "{files:?}");
    assert!(manifests.join(".plinth-owned").is_file());
    assert_eq!(mode(&manifests), 0o700);
    assert_eq!(mode(&manifests.join("kube-apiserver.yaml")), 0o600);
    assert_eq!(mode(&d.path().join("var/lib/kubelet/config.yaml")), 0o644);
    let mtimes: Vec<_> = files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().modified().unwrap())
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert!(
        write_all(d.path())
            .iter()
            .all(|o| *o == WriteOutcome::Unchanged)
    );
    let again: Vec<_> = files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().modified().unwrap())
        .collect();
    assert_eq!(mtimes, again);
    // A changed file is rewritten.
    std::fs::write(manifests.join("etcd.yaml"), "stale").unwrap();
    assert_eq!(write_all(d.path())[0], WriteOutcome::Written);
}

fn plinth(args: &[&str]) -> std::process::Output {
    crate::util::plinth(args)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn init_dry_run_writes_manifests_and_kubelet_files() {
    let d = tempfile::tempdir().unwrap();
    let config = golden_root().join("default-ipv4/config.yaml");
    let dir = d.path().join("dry");
    let out = plinth(&[
        "init",
        "--dry-run",
        "--dry-run-dir",
        dir.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    for line in [
        "[etcd] Creating static Pod manifest for local etcd in \"/etc/kubernetes/manifests\"",
        "[control-plane] Using manifest folder \"/etc/kubernetes/manifests\"",
        "[control-plane] Creating static Pod manifest for \"kube-apiserver\"",
        "[kubelet-start] Writing kubelet environment file with flags to file \"/var/lib/kubelet/kubeadm-flags.env\"",
        "[kubelet-start] Writing kubelet configuration to file \"/var/lib/kubelet/config.yaml\"",
        "[kubelet-start] Would restart the kubelet",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
    for c in Component::ALL {
        let p = dir.join("etc/kubernetes/manifests").join(c.file_name());
        parse_pod(c, &std::fs::read_to_string(&p).unwrap()).unwrap();
    }
    assert!(dir.join("var/lib/kubelet/config.yaml").is_file());
    // Again: nothing changes.
    let out = plinth(&[
        "init",
        "phase",
        "control-plane",
        "all",
        "--dry-run",
        "--dry-run-dir",
        dir.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ]);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("[control-plane] Static Pod manifest for \"kube-scheduler\" is unchanged"),
        "{stdout}"
    );
    assert!(!stdout.contains("[etcd]"), "{stdout}");
}

#[test]
fn phases_run_alone_with_their_directories() {
    let d = tempfile::tempdir().unwrap();
    let manifests = d.path().join("m");
    let config = golden_root().join("default-ipv4/config.yaml");
    let out = plinth(&[
        "init",
        "phase",
        "etcd",
        "local",
        "--manifests-dir",
        manifests.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut names: Vec<_> = std::fs::read_dir(&manifests)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, vec![".plinth-owned", "etcd.yaml"]);

    let external = golden_root().join("external-etcd/config.yaml");
    let out = plinth(&[
        "init",
        "phase",
        "etcd",
        "local",
        "--manifests-dir",
        d.path().join("ext").to_str().unwrap(),
        "--config",
        external.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert!(
        text(&out.stdout).contains("Skipping etcd/local: external etcd"),
        "{}",
        text(&out.stdout)
    );
    assert!(!d.path().join("ext").exists());

    let out = plinth(&[
        "init",
        "phase",
        "control-plane",
        "all",
        "--manifests-dir",
        "rel/dir",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

#[test]
fn a_broken_user_template_fails_before_anything_is_written() {
    let d = tempfile::tempdir().unwrap();
    let templates = d.path().join("t");
    std::fs::create_dir(&templates).unwrap();
    std::fs::write(
        templates.join("kube-scheduler.yaml.tera"),
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ nmae | json_encode }}\n",
    )
    .unwrap();
    let manifests = d.path().join("m");
    let config = golden_root().join("default-ipv4/config.yaml");
    let out = plinth(&[
        "init",
        "phase",
        "control-plane",
        "all",
        "--templates-dir",
        templates.to_str().unwrap(),
        "--manifests-dir",
        manifests.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("kube-scheduler.yaml.tera"), "{stderr}");
    assert!(
        stderr.contains("nmae") && stderr.contains(":4:"),
        "{stderr}"
    );
    assert!(!manifests.exists(), "nothing may be written");

    std::fs::write(templates.join("kube-schedular.yaml.tera"), "x").unwrap();
    let out = plinth(&[
        "init",
        "phase",
        "control-plane",
        "scheduler",
        "--templates-dir",
        templates.to_str().unwrap(),
        "--manifests-dir",
        manifests.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ]);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("kube-schedular.yaml.tera is not a known template"),
        "{stderr}"
    );
}

#[test]
fn rootless_control_plane_is_refused() {
    let mut cfg = load(&golden_root().join("default-ipv4"), &Overrides::default());
    cfg.cluster.feature_gates = Some([("RootlessControlPlane".to_string(), true)].into());
    let templates = Templates::load(None).unwrap();
    let paths = Paths::host(&cfg.cert_dir);
    let e = render_manifest(
        &templates,
        &cfg,
        &paths,
        &HostView::default(),
        None,
        Component::Etcd,
    )
    .unwrap_err();
    assert!(e.to_string().contains("RootlessControlPlane"), "{e}");
}

#[test]
fn a_bad_patch_fails_the_phase_naming_the_file_and_writes_nothing() {
    let d = tempfile::tempdir().unwrap();
    let patches = d.path().join("p");
    std::fs::create_dir(&patches).unwrap();
    std::fs::write(
        patches.join("kube-scheduler+json.yaml"),
        "- op: replace\n  path: /spec/nope/0\n  value: 1\n",
    )
    .unwrap();
    let manifests = d.path().join("m");
    let config = golden_root().join("default-ipv4/config.yaml");
    let out = plinth(&[
        "init",
        "phase",
        "control-plane",
        "all",
        "--patches",
        patches.to_str().unwrap(),
        "--manifests-dir",
        manifests.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("kube-scheduler+json.yaml"), "{stderr}");
    assert!(!manifests.exists(), "no manifest may be written: {stderr}");
}
