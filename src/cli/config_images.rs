//! `plinth config images list|pull`: the images the node needs (kubeadm `config images list`,
//! same references in the same order) and pulling the missing ones through the CRI. Pulling
//! asks the runtime first, so an offline node whose images were imported pulls nothing.
//! kubeadm: `app/cmd/config.go` (`newCmdConfigImagesList`, `PullControlPlaneImages`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};
use serde::Serialize;

use crate::config::{self, Overrides};
use crate::host::cri::{CriError, Crictl};
use crate::images::{NodeImage, node_images};

/// `plinth config images ...`
#[derive(Debug, Subcommand)]
pub enum ImagesCommand {
    /// Print every image the node needs, by exact reference, in kubeadm's order.
    List {
        /// The config file (imageRepository, kubernetesVersion, dns, etcd, proxy).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Kubernetes version (vX.Y.Z), overriding the file.
        #[arg(long)]
        kubernetes_version: Option<String>,
        /// Output format.
        #[arg(short, long, value_enum, default_value_t = ImagesFormat::Text)]
        output: ImagesFormat,
    },
    /// Pull the images the container runtime does not have yet (through crictl).
    Pull {
        /// The config file (also gives nodeRegistration.criSocket).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Kubernetes version (vX.Y.Z), overriding the file.
        #[arg(long)]
        kubernetes_version: Option<String>,
        /// CRI socket, overriding the file.
        #[arg(long)]
        cri_socket: Option<String>,
        /// Output format.
        #[arg(short, long, value_enum, default_value_t = ImagesFormat::Text)]
        output: ImagesFormat,
    },
}

/// Output of `config images`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ImagesFormat {
    /// One reference per line (list) or one `[config/images]` line per image (pull).
    Text,
    /// One JSON object (docs/output.md).
    Json,
}

/// kubeadm's `-o json` object for `config images list` (`output.kubeadm.k8s.io/v1alpha3`
/// `Images`), so scripts written for kubeadm read it unchanged.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ImagesList<'a> {
    kind: &'static str,
    api_version: &'static str,
    images: Vec<&'a str>,
}

/// What happened to one image in `pull`.
#[derive(Debug, Clone, Serialize)]
pub(super) struct PullRecord {
    /// What it is for (`kube-apiserver`, …, `pause`, `etcd`).
    pub role: &'static str,
    /// The exact reference.
    pub reference: String,
    /// `present` (already in the runtime, not pulled), `pulled` or `failed`.
    pub status: &'static str,
    /// Why the pull failed; `null` otherwise.
    pub error: Option<String>,
}

/// `-o json` of `config images pull`.
#[derive(Debug, Serialize)]
pub(super) struct PullResult {
    /// Always 1 for this shape.
    pub schema_version: u32,
    /// The CRI endpoint.
    pub cri_socket: String,
    /// Every image, in list order.
    pub images: Vec<PullRecord>,
    /// Every image is in the runtime now.
    pub ok: bool,
}

/// Some images could not be pulled.
#[derive(Debug, thiserror::Error)]
#[error("failed to pull {} of {total} images: {}", .failed.len(), .failed.join("; "))]
pub(super) struct PullError {
    /// `reference: why` of each failure.
    pub failed: Vec<String>,
    /// How many images the node needs.
    pub total: usize,
}

fn load(
    path: Option<&PathBuf>,
    kubernetes_version: Option<&String>,
    cri_socket: Option<&String>,
) -> anyhow::Result<config::ResolvedConfig> {
    let overrides = Overrides {
        kubernetes_version: kubernetes_version.cloned(),
        cri_socket: cri_socket.cloned(),
        ..Overrides::default()
    };
    let cfg = config::load(
        path.map(PathBuf::as_path),
        &overrides,
        &crate::host::Facts::detect().config_defaults(),
    )?;
    for w in &cfg.warnings {
        eprintln!("warning: {w}");
    }
    Ok(cfg)
}

/// Runs `plinth config images ...`.
///
/// # Errors
/// Config errors (exit 2); for `pull`, the runtime cannot be reached or an image failed.
pub(super) fn run(cmd: &ImagesCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ImagesCommand::List {
            config,
            kubernetes_version,
            output,
        } => {
            let cfg = load(config.as_ref(), kubernetes_version.as_ref(), None)?;
            print!("{}", render_list(&node_images(&cfg), *output)?);
            Ok(ExitCode::SUCCESS)
        }
        ImagesCommand::Pull {
            config,
            kubernetes_version,
            cri_socket,
            output,
        } => {
            let cfg = load(
                config.as_ref(),
                kubernetes_version.as_ref(),
                cri_socket.as_ref(),
            )?;
            let crictl = Crictl::find(&cfg.cri_socket)?;
            let images = node_images(&cfg);
            let text = *output == ImagesFormat::Text;
            let records = pull(&crictl, &images, |r| {
                if text {
                    println!("{}", pull_line(r));
                }
            })?;
            let failed: Vec<String> = records
                .iter()
                .filter_map(|r| Some(format!("{}: {}", r.reference, r.error.as_deref()?)))
                .collect();
            if !text {
                let result = PullResult {
                    schema_version: 1,
                    cri_socket: cfg.cri_socket.clone(),
                    ok: failed.is_empty(),
                    images: records,
                };
                println!("{}", serde_json::to_string_pretty(&result)?);
            }
            if failed.is_empty() {
                Ok(ExitCode::SUCCESS)
            } else {
                Err(PullError {
                    failed,
                    total: images.len(),
                }
                .into())
            }
        }
    }
}

/// The list as text (one reference a line, as kubeadm) or kubeadm's JSON object.
fn render_list(images: &[NodeImage], format: ImagesFormat) -> anyhow::Result<String> {
    Ok(match format {
        ImagesFormat::Text => images
            .iter()
            .map(|i| format!("{}\n", i.reference))
            .collect(),
        ImagesFormat::Json => {
            let list = ImagesList {
                kind: "Images",
                api_version: "output.kubeadm.k8s.io/v1alpha3",
                images: images.iter().map(|i| i.reference.as_str()).collect(),
            };
            format!("{}\n", serde_json::to_string_pretty(&list)?)
        }
    })
}

fn pull_line(r: &PullRecord) -> String {
    match r.status {
        "present" => format!(
            "[config/images] {} is present in the runtime: not pulled",
            r.reference
        ),
        "pulled" => format!("[config/images] Pulled {}", r.reference),
        _ => format!(
            "[config/images] Failed to pull {}: {}",
            r.reference,
            r.error.as_deref().unwrap_or("")
        ),
    }
}

/// Pulls every image of `images` the runtime does not list, one at a time (kubeadm's default,
/// `imagePullSerial`), reporting each through `each` as it is done. A failed pull does not stop
/// the others.
///
/// # Errors
/// The runtime cannot be reached (no socket, or listing its images fails).
pub(super) fn pull(
    crictl: &Crictl,
    images: &[NodeImage],
    mut each: impl FnMut(&PullRecord),
) -> Result<Vec<PullRecord>, CriError> {
    if !crictl.socket_exists() {
        return Err(CriError::NoSocket {
            path: crate::host::cri::socket_path(crictl.endpoint()).to_string(),
        });
    }
    let have = crictl.images()?;
    let missing = crate::preflight::missing_images(images, &have);
    let mut out = Vec::with_capacity(images.len());
    for i in images {
        let (status, error) = if missing.contains(i) {
            match crictl.pull(&i.reference) {
                Ok(()) => ("pulled", None),
                Err(e) => ("failed", Some(e.to_string())),
            }
        } else {
            ("present", None)
        };
        let r = PullRecord {
            role: i.role,
            reference: i.reference.clone(),
            status,
            error,
        };
        each(&r);
        out.push(r);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::cri::fake;

    fn images() -> Vec<NodeImage> {
        [
            "registry.k8s.io/pause:3.10.2",
            "registry.k8s.io/etcd:3.7.0-0",
            "registry.k8s.io/coredns/coredns:v1.14.6",
        ]
        .iter()
        .zip(["pause", "etcd", "coredns"])
        .map(|(r, role)| NodeImage {
            role,
            reference: (*r).to_string(),
        })
        .collect()
    }

    #[test]
    fn present_images_are_not_pulled_missing_ones_are_and_failures_are_named() {
        let d = tempfile::tempdir().unwrap();
        let sock = d.path().join("cri.sock");
        let _l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let c = Crictl::at(
            fake::crictl(d.path()),
            &format!("unix://{}", sock.display()),
        );
        fake::answer(
            d.path(),
            "images",
            r#"{"images":[{"repoTags":["registry.k8s.io/pause:3.10.2"]}]}"#,
        );
        let mut lines = Vec::new();
        let got = pull(&c, &images(), |r| lines.push(pull_line(r))).unwrap();
        let st: Vec<&str> = got.iter().map(|r| r.status).collect();
        assert_eq!(st, ["present", "pulled", "pulled"]);
        assert_eq!(
            fake::calls(d.path()),
            [
                "images -o json",
                "pull registry.k8s.io/etcd:3.7.0-0",
                "pull registry.k8s.io/coredns/coredns:v1.14.6"
            ]
        );
        assert_eq!(
            lines[0],
            "[config/images] registry.k8s.io/pause:3.10.2 is present in the runtime: not pulled"
        );
        assert_eq!(
            lines[1],
            "[config/images] Pulled registry.k8s.io/etcd:3.7.0-0"
        );

        // Offline: a pull fails, the others are still tried, the failure names the image.
        fake::fail(
            d.path(),
            "pull",
            "dial tcp: lookup registry.k8s.io: no such host",
        );
        let got = pull(&c, &images(), |_| {}).unwrap();
        assert_eq!(got[1].status, "failed");
        assert_eq!(got[2].status, "failed");
        assert!(
            got[1]
                .error
                .as_deref()
                .unwrap()
                .contains("crictl pull registry.k8s.io/etcd:3.7.0-0: dial tcp"),
            "{got:?}"
        );

        // Everything present: nothing is pulled at all.
        fake::answer(
            d.path(),
            "images",
            r#"{"images":[{"repoTags":["registry.k8s.io/pause:3.10.2","registry.k8s.io/etcd:3.7.0-0"]},{"repoTags":["registry.k8s.io/coredns/coredns:v1.14.6"]}]}"#,
        );
        std::fs::remove_file(d.path().join("calls")).unwrap();
        let got = pull(&c, &images(), |_| {}).unwrap();
        assert!(got.iter().all(|r| r.status == "present"));
        assert_eq!(fake::calls(d.path()), ["images -o json"]);
    }

    #[test]
    fn no_socket_is_a_clear_error() {
        let d = tempfile::tempdir().unwrap();
        let c = Crictl::at(
            fake::crictl(d.path()),
            &format!("unix://{}/none.sock", d.path().display()),
        );
        let e = pull(&c, &images(), |_| {}).unwrap_err();
        assert!(
            e.to_string()
                .contains("is the container runtime (e.g. containerd) installed and running?"),
            "{e}"
        );
    }

    /// The field names of one table of docs/output.md.
    fn documented(section: &str) -> Vec<String> {
        let doc = include_str!("../../docs/output.md");
        let rest = &doc[doc.find(&format!("## {section}\n")).unwrap()..];
        let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
        rest[..end]
            .lines()
            .filter_map(|l| l.strip_prefix("| `")?.split('`').next())
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn the_documented_pull_schema_is_the_serialized_one() {
        let v = serde_json::to_value(PullResult {
            schema_version: 1,
            cri_socket: "unix:///run/c.sock".into(),
            images: vec![PullRecord {
                role: "etcd",
                reference: "registry.k8s.io/etcd:3.7.0-0".into(),
                status: "failed",
                error: Some("offline".into()),
            }],
            ok: false,
        })
        .unwrap();
        let keys = |v: &serde_json::Value| -> Vec<String> {
            v.as_object().unwrap().keys().cloned().collect()
        };
        assert_eq!(keys(&v), documented("Images pull result"));
        assert_eq!(keys(&v["images"][0]), documented("One pulled image"));
    }

    #[test]
    fn the_list_renders_as_kubeadm_does() {
        let text = render_list(&images(), ImagesFormat::Text).unwrap();
        assert_eq!(
            text,
            "registry.k8s.io/pause:3.10.2\nregistry.k8s.io/etcd:3.7.0-0\nregistry.k8s.io/coredns/coredns:v1.14.6\n"
        );
        let json: serde_json::Value =
            serde_json::from_str(&render_list(&images(), ImagesFormat::Json).unwrap()).unwrap();
        assert_eq!(json["kind"], "Images");
        assert_eq!(json["apiVersion"], "output.kubeadm.k8s.io/v1alpha3");
        assert_eq!(json["images"][1], "registry.k8s.io/etcd:3.7.0-0");
    }
}
