//! Static Pod manifests for etcd, kube-apiserver, kube-controller-manager and kube-scheduler:
//! flag lists and volumes computed as kubeadm does, rendered through tera templates, patched,
//! parsed back into a typed `Pod` and checked, then written atomically.
//! Knows nothing of the CLI or phases; host facts come in as a value ([`HostView`]).
//!
//! ```no_run
//! # fn demo(cfg: &plinth::config::ResolvedConfig, paths: &plinth::host::Paths) -> Result<(), plinth::manifests::RenderError> {
//! use plinth::manifests::{Component, HostView, Templates, render_manifest, write_manifest};
//! let templates = Templates::load(None)?;
//! let facts = HostView::new(&plinth::host::Facts::detect(), &paths.cert_dir_disk());
//! let m = render_manifest(&templates, cfg, paths, &facts, None, Component::KubeApiserver)?;
//! write_manifest(&paths.manifests_dir_disk(), &m)?;
//! # Ok(()) }
//! ```

pub mod args;
pub mod context;
pub mod patches;
mod render;
mod strategic;
pub mod volumes;
mod write;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::Pod;

use crate::config::ResolvedConfig;
use crate::host::Paths;

pub use patches::{AppliedPatch, ApplyCause, ParseCause, PatchError, PatchSet, PatchType, Schema};
pub use render::{Templates, embedded_templates, json_encode_value, parse_pod};
pub use write::write_manifest;

/// A control-plane component that runs as a static Pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Component {
    /// Local (stacked) etcd.
    Etcd,
    /// kube-apiserver.
    KubeApiserver,
    /// kube-controller-manager.
    KubeControllerManager,
    /// kube-scheduler.
    KubeScheduler,
}

impl Component {
    /// All four, etcd first (kubeadm's phase order).
    pub const ALL: [Component; 4] = [
        Component::Etcd,
        Component::KubeApiserver,
        Component::KubeControllerManager,
        Component::KubeScheduler,
    ];

    /// The component, Pod, container and patch-target name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Component::Etcd => "etcd",
            Component::KubeApiserver => "kube-apiserver",
            Component::KubeControllerManager => "kube-controller-manager",
            Component::KubeScheduler => "kube-scheduler",
        }
    }

    /// `<name>.yaml`, the manifest file name.
    #[must_use]
    pub fn file_name(self) -> String {
        format!("{}.yaml", self.name())
    }

    /// `<name>.yaml.tera`, the template file name.
    #[must_use]
    pub fn template_name(self) -> &'static str {
        match self {
            Component::Etcd => "etcd.yaml.tera",
            Component::KubeApiserver => "kube-apiserver.yaml.tera",
            Component::KubeControllerManager => "kube-controller-manager.yaml.tera",
            Component::KubeScheduler => "kube-scheduler.yaml.tera",
        }
    }
}

/// What the manifests depend on outside the config: a narrow view of the host's
/// [`Facts`](crate::host::Facts) plus one fact of the PKI on disk (or set by tests).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostView {
    /// The CA-trust directories of [`CA_TRUST_DIRS`](crate::host::facts::CA_TRUST_DIRS) that
    /// exist on the host.
    pub ca_trust_dirs: BTreeSet<PathBuf>,
    /// `*_proxy` / `*_PROXY` variables with a value, from plinth's own environment, in order.
    pub proxy_env: Vec<(String, String)>,
    /// `ca.crt` exists but `ca.key` does not: the controller-manager must not sign.
    pub external_ca: bool,
}

impl HostView {
    /// The view of `facts`, with external-CA mode read from `cert_dir_on_disk` now: the PKI is
    /// what the certs phase handed over on disk, not a fact of the host.
    #[must_use]
    pub fn new(facts: &crate::host::Facts, cert_dir_on_disk: &Path) -> Self {
        let ca = crate::pki::CA;
        HostView {
            ca_trust_dirs: facts.ca_trust_dirs.clone(),
            proxy_env: facts.proxy_env.clone(),
            external_ca: cert_dir_on_disk.join(ca.cert_file()).exists()
                && !cert_dir_on_disk.join(ca.key_file()).exists(),
        }
    }
}

/// Rendering, checking or writing a manifest failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// `--templates-dir` or a file in it could not be read.
    #[error("failed to read templates from {}", path.display())]
    ReadTemplates {
        /// The directory or file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file in `--templates-dir` does not name a template plinth has.
    #[error("{} is not a known template; expected one of {}", path.display(), known.join(", "))]
    UnknownTemplate {
        /// The file.
        path: PathBuf,
        /// Valid names.
        known: Vec<String>,
    },
    /// A template has a syntax error.
    #[error("failed to parse template {template}")]
    ParseTemplate {
        /// Template name.
        template: String,
        /// tera's error, with the line.
        #[source]
        source: tera::Error,
    },
    /// Rendering a template failed (e.g. an undefined variable).
    #[error("failed to render template {template}")]
    RenderTemplate {
        /// Template name.
        template: String,
        /// tera's error, with the line.
        #[source]
        source: tera::Error,
    },
    /// The rendered or patched manifest is not a valid Pod.
    #[error("the {component} manifest is not a valid Pod")]
    ParseManifest {
        /// Component.
        component: &'static str,
        /// The parser's error, with line and column.
        #[source]
        source: Box<serde_saphyr::Error>,
    },
    /// The manifest has fields a Pod does not have.
    #[error("the {component} manifest has unknown field(s): {}", fields.join(", "))]
    UnknownFields {
        /// Component.
        component: &'static str,
        /// Field paths.
        fields: Vec<String>,
    },
    /// The manifest parsed but is not a usable static Pod.
    #[error("the {component} manifest is invalid: {problem}")]
    CheckManifest {
        /// Component.
        component: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// A patch could not be applied to the manifest.
    #[error("failed to patch the {component} manifest")]
    Patch {
        /// Component.
        component: &'static str,
        /// The cause, naming the patch file.
        #[source]
        source: Box<PatchError>,
    },
    /// Re-serializing a patched manifest failed.
    #[error("failed to serialize the patched {component} manifest")]
    SerializeManifest {
        /// Component.
        component: &'static str,
        /// The cause.
        #[source]
        source: serde_saphyr::SerializeError,
    },
    /// The config asks for something plinth's manifests do not implement.
    #[error("cannot render the {component} manifest: {feature} is not supported")]
    Unsupported {
        /// Component.
        component: &'static str,
        /// What is not supported.
        feature: &'static str,
    },
    /// Writing the manifest failed.
    #[error("failed to write the {component} manifest")]
    WriteManifest {
        /// Component.
        component: &'static str,
        /// The cause (names the path).
        #[source]
        source: crate::host::fs::FsError,
    },
}

/// A rendered, patched and checked manifest, ready to be written.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// Which component.
    pub component: Component,
    /// The file content.
    pub yaml: String,
    /// The content parsed back.
    pub pod: Pod,
    /// Patches that were applied, in order.
    pub patches: Vec<AppliedPatch>,
    /// kubeadm's warnings for this component (e.g. authorization modes).
    pub warnings: Vec<String>,
}

/// Renders the manifest of `c`, applies `patches` for it, and checks the result.
///
/// Without patches the file is the template output as is; with patches it is re-serialized
/// from the patched document (keys sorted).
///
/// # Errors
/// Any [`RenderError`] but `WriteManifest`.
pub fn render_manifest(
    templates: &Templates,
    cfg: &ResolvedConfig,
    paths: &Paths,
    facts: &HostView,
    patches: Option<&PatchSet>,
    c: Component,
) -> Result<Manifest, RenderError> {
    // kubeadm runs the components as dedicated users under this (alpha) gate; plinth does not,
    // and must not silently write root manifests for a config that asks for it.
    let rootless = cfg
        .cluster
        .feature_gates
        .as_ref()
        .and_then(|g| g.get("RootlessControlPlane"))
        .copied();
    if rootless == Some(true) {
        return Err(RenderError::Unsupported {
            component: c.name(),
            feature: "the RootlessControlPlane feature gate",
        });
    }
    let (view, warnings) = context::view(cfg, paths, facts, c);
    let mut yaml = templates.render(c, &view)?;
    // Check the template's own output first, so a broken template is reported as such.
    let mut pod = parse_pod(c, &yaml)?;
    let mut applied = Vec::new();
    if let Some(set) = patches.filter(|s| s.files().iter().any(|f| f.target == c.name())) {
        // Patch the document as rendered (kubeadm patches its serialized Pod).
        let mut doc: serde_json::Value =
            serde_saphyr::from_str(&yaml).map_err(|source| RenderError::ParseManifest {
                component: c.name(),
                source: Box::new(source),
            })?;
        applied = set
            .apply(c.name(), &mut doc, Schema::Pod)
            .map_err(|source| RenderError::Patch {
                component: c.name(),
                source: Box::new(source),
            })?;
        crate::k8s::sort_keys(&mut doc);
        yaml = serde_saphyr::to_string(&doc).map_err(|source| RenderError::SerializeManifest {
            component: c.name(),
            source,
        })?;
        pod = parse_pod(c, &yaml)?;
    }
    Ok(Manifest {
        component: c,
        yaml,
        pod,
        patches: applied,
        warnings,
    })
}
