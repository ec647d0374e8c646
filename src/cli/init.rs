//! `plinth init` and `plinth init phase <path>`: one code path; a phase is a selection.

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand};

use super::OverrideArgs;
use super::output::{InitResult, PhaseEvent, PhaseStep, SCHEMA_VERSION};
use crate::config;
use crate::host::Paths;
use crate::phases::init::{InitContext, workflow};
use crate::phases::runner::{Event, Outcome, Policy, Selection};
use crate::report::Reporter;

/// `plinth init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Run a single phase (or group).
    #[command(subcommand)]
    pub sub: Option<InitSub>,
    #[command(flatten)]
    pub flags: InitFlags,
}

/// `plinth init <sub>`.
#[derive(Debug, Subcommand)]
pub enum InitSub {
    /// Run one phase of the init workflow: `plinth init phase certs apiserver`,
    /// `plinth init phase certs all`.
    Phase(PhaseArgs),
}

/// `plinth init phase <phase> [<sub-phase>|all]`.
#[derive(Debug, Args)]
pub struct PhaseArgs {
    /// Phase, e.g. `certs` or `certs/apiserver`.
    pub phase: String,
    /// Sub-phase, or `all`.
    pub sub: Option<String>,
    #[command(flatten)]
    pub flags: InitFlags,
}

/// Flags shared by `init` and `init phase`.
#[derive(Debug, Clone, Args)]
pub struct InitFlags {
    /// kubeadm.k8s.io/v1beta4 config file.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Write everything under a directory instead of the host; touch no host path.
    #[arg(long)]
    pub dry_run: bool,
    /// Directory for --dry-run (default: a new temporary directory).
    #[arg(long, requires = "dry_run")]
    pub dry_run_dir: Option<PathBuf>,
    /// Phases to skip, e.g. `addon/kube-proxy,certs/etcd-ca` (replaces skipPhases of the file).
    #[arg(long, value_delimiter = ',')]
    pub skip_phases: Option<Vec<String>>,
    /// Where kubeconfig files go (default /etc/kubernetes).
    #[arg(long)]
    pub kubeconfig_dir: Option<PathBuf>,
    /// Where static Pod manifests go (default /etc/kubernetes/manifests).
    #[arg(long)]
    pub manifests_dir: Option<PathBuf>,
    /// Where the kubelet's files go (default /var/lib/kubelet).
    #[arg(long)]
    pub kubelet_dir: Option<PathBuf>,
    /// Directory with replacements for the built-in static Pod templates
    /// (`kube-apiserver.yaml.tera`, ...); see docs/manifests.md.
    #[arg(long)]
    pub templates_dir: Option<PathBuf>,
    /// kubeconfig for the phases that talk to the API server
    /// (default: admin.conf in the kubeconfig directory).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Do not print the bootstrap token (it is masked in the join command and JSON).
    #[arg(long)]
    pub skip_token_print: bool,
    /// Store the shared control-plane certificates, encrypted, in the kube-system/kubeadm-certs
    /// Secret for two hours, so `plinth join --control-plane` / `kubeadm join --control-plane`
    /// can fetch them with the certificate key.
    #[arg(long)]
    pub upload_certs: bool,
    /// The key (64 hex digits) that encrypts the uploaded certificates (default: the config's
    /// certificateKey, else a new random key, printed).
    #[arg(long, value_name = "KEY")]
    pub certificate_key: Option<String>,
    /// Do not print the certificate key upload-certs used.
    #[arg(long)]
    pub skip_certificate_key_print: bool,
    /// Write through directories that are symbolic links (refused by default: a symlinked
    /// /etc/kubernetes/pki would send keys to wherever it points).
    #[arg(long)]
    pub allow_symlinks: bool,
    /// Output: kubeadm-style lines (`text`), one JSON object at the end (`json`), or one JSON
    /// event per phase as it happens plus a final result (`jsonl`).
    #[arg(short, long, value_enum, default_value_t = InitOutput::Text)]
    pub output: InitOutput,
    #[command(flatten)]
    pub overrides: OverrideArgs,
}

/// `plinth init -o ...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InitOutput {
    /// `[phase] message` lines.
    Text,
    /// One JSON object at the end.
    Json,
    /// One JSON object per phase as it finishes, then the result object.
    Jsonl,
}

/// Writes one line to stdout; a closed pipe (`| head`) is not worth a panic.
fn emit(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stdout(), "{line}");
}

/// Runs `init` or one of its phases.
///
/// # Errors
/// Config and phase-name errors (exit 2) before anything is written; phase failures (exit 1).
pub(super) fn run(args: &InitArgs) -> anyhow::Result<ExitCode> {
    let (flags, only) = match &args.sub {
        None => (&args.flags, None),
        Some(InitSub::Phase(p)) => {
            let path = match p.sub.as_deref() {
                None | Some("all") => p.phase.clone(),
                Some(s) => format!("{}/{s}", p.phase),
            };
            (&p.flags, Some(path))
        }
    };
    // The host is read once; the phases get these facts and do not probe for them again.
    let facts = crate::host::Facts::detect();
    // Everything is validated before the first write: config, then the plan.
    let cfg = config::load(
        flags.config.as_deref(),
        &flags.overrides.to_overrides(),
        &facts.config_defaults(),
    )?;
    super::load_patches(&cfg)?;
    let wf = workflow();
    let skip = flags
        .skip_phases
        .clone()
        .unwrap_or_else(|| cfg.skip_phases.clone());
    let plan = wf.plan(&Selection { only, skip })?;

    let mut paths = Paths::host(&cfg.cert_dir);
    for (flag, dir, slot) in [
        (
            "--kubeconfig-dir",
            &flags.kubeconfig_dir,
            &mut paths.kubeconfig_dir,
        ),
        (
            "--manifests-dir",
            &flags.manifests_dir,
            &mut paths.manifests_dir,
        ),
        ("--kubelet-dir", &flags.kubelet_dir, &mut paths.kubelet_dir),
    ] {
        if let Some(d) = dir {
            // Manifests and kubelet files refer to these paths, and reset cleans them: the same
            // path policy as the config's directories.
            super::check_dir_flag(flag, d)?;
            slot.clone_from(d);
        }
    }
    crate::host::fs::allow_symlinks(flags.allow_symlinks);
    if flags.dry_run {
        let dir = match &flags.dry_run_dir {
            Some(d) => {
                super::check_dir_flag("--dry-run-dir", d)?;
                crate::host::fs::check_no_symlinks(d)?;
                // Private: a dry run writes keys (0700 whatever the umask).
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(d)
                    .with_context(|| {
                        format!("failed to create dry-run directory {}", d.display())
                    })?;
                d.clone()
            }
            None => {
                let d = tempfile::Builder::new()
                    .prefix("plinth-dryrun-")
                    .permissions(std::fs::Permissions::from_mode(0o700))
                    .tempdir()
                    .context("failed to create a dry-run directory")?
                    .keep();
                // The mode given at creation is masked by the umask; set it exactly.
                std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700))
                    .with_context(|| format!("failed to make {} private", d.display()))?;
                d
            }
        };
        paths = paths.rooted(&dir);
    }
    let mut dirs = vec![
        paths.kubeconfig_dir_disk(),
        paths.cert_dir_disk(),
        paths.manifests_dir_disk(),
        paths.kubelet_dir_disk(),
    ];
    if let config::EtcdMode::Local(l) = &cfg.etcd {
        dirs.push(paths.disk(&l.data_dir));
    }
    super::check_no_symlinked_dirs(&dirs)?;

    let text = flags.output == InitOutput::Text;
    let report = if text {
        Reporter::stdout()
    } else {
        Reporter::quiet()
    };
    for w in &cfg.warnings {
        report.warn("config", w);
    }
    if flags.dry_run {
        report.say(
            "dryrun",
            format!(
                "Writing files under {} instead of the host",
                paths.root.display()
            ),
        );
    }
    // One writer per host, after validation and before the first write (a dry run writes
    // only under its own directory and takes none).
    let _lock = if flags.dry_run {
        None
    } else {
        Some(lock_host(&paths, &plan, &report)?)
    };
    // The key is checked before anything is written; the message never repeats it.
    let certificate_key = match flags
        .certificate_key
        .as_deref()
        .or(cfg.init.certificate_key.as_deref())
        .filter(|k| !k.is_empty())
    {
        Some(k) => Some(crate::pki::copycerts::CertificateKey::parse(k).map_err(|_| {
            super::UsageError(
                "--certificate-key must be 64 hexadecimal digits (32 bytes); make one with `plinth certs certificate-key`".into(),
            )
        })?),
        None => None,
    };
    let mut ctx = InitContext {
        cfg,
        paths,
        facts,
        report: report.clone(),
        dry_run: flags.dry_run,
        plan: plan.clone(),
        keys: None,
        templates_dir: flags.templates_dir.clone(),
        kubeconfig: flags.kubeconfig.clone(),
        skip_token_print: flags.skip_token_print,
        upload_certs: flags.upload_certs,
        certificate_key,
        skip_certificate_key_print: flags.skip_certificate_key_print,
        api: None,
        token: None,
        objects: Vec::new(),
        join: None,
    };
    let jsonl = flags.output == InitOutput::Jsonl;
    let result = wf.run(&plan, &mut ctx, Policy::FailFast, |ev| match ev {
        Event::Started(path) => report.phase_started(path),
        Event::Finished(step) => {
            if jsonl {
                emit(&serde_json::to_string(&PhaseEvent::new(step)).unwrap_or_default());
            }
            if let Outcome::Skipped(why) = &step.outcome {
                let group = step.path.split('/').next().unwrap_or(&step.path);
                report.say(group, format!("Skipping {}: {why}", step.path));
            }
        }
    });
    report.finish();
    if !text {
        let (steps, error) = match &result {
            Ok(r) => (r.steps.clone(), None),
            Err(crate::phases::runner::WorkflowError::PhaseFailed {
                report: r,
                source,
                path,
            }) => (
                r.steps.clone(),
                Some(format!("phase {path} failed: {source:#}")),
            ),
            Err(e) => (Vec::new(), Some(format!("{e:#}"))),
        };
        let written: Vec<String> = report
            .written()
            .iter()
            .map(|p| {
                p.strip_prefix(&ctx.paths.root)
                    .map_or_else(|_| p.clone(), |r| Path::new("/").join(r))
            })
            .map(|p| p.display().to_string())
            .collect();
        let result_json = InitResult {
            event: "result",
            schema_version: SCHEMA_VERSION,
            ok: error.is_none(),
            error,
            dry_run: ctx.dry_run,
            root: ctx.paths.root.display().to_string(),
            control_plane_endpoint: ctx.cfg.control_plane_url(),
            kubernetes_version: ctx.cfg.kubernetes_version.to_string(),
            phases: steps.iter().map(PhaseStep::from).collect(),
            written,
            api_objects: ctx.objects.clone(),
            join: ctx.join.clone(),
            warnings: report.warnings(),
        };
        emit(&if jsonl {
            serde_json::to_string(&result_json)?
        } else {
            serde_json::to_string_pretty(&result_json)?
        });
    }
    let _report = result.map_err(anyhow::Error::from)?;
    if ctx.dry_run && text {
        let written = report.written();
        report.say(
            "dryrun",
            format!(
                "Would have written {} files; they are under {}:",
                written.len(),
                ctx.paths.root.display()
            ),
        );
        for p in written {
            // Show the host view: what a real run would write.
            let host = p
                .strip_prefix(&ctx.paths.root)
                .map_or_else(|_| p.clone(), |r| Path::new("/").join(r));
            report.text(format!("  {}", host.display()));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Takes the host lock (saying so if it had to wait), then removes the temp files a killed run
/// left in the directories `plan` writes; only those, so `init phase certs` leaves the host's
/// manifest and kubelet directories alone.
fn lock_host(
    paths: &Paths,
    plan: &crate::phases::runner::Plan,
    report: &Reporter,
) -> anyhow::Result<crate::host::lock::HostLock> {
    let lock = crate::host::lock::acquire_host(paths)?;
    if lock.waited().is_some() {
        report.say("init", lock.to_string());
    }
    let planned = |groups: &[&str]| {
        plan.leaves
            .iter()
            .any(|l| groups.contains(&l.split('/').next().unwrap_or_default()))
    };
    let cert_dir = paths.cert_dir_disk();
    let mut dirs = Vec::new();
    if planned(&["certs"]) {
        dirs.extend([cert_dir.join("etcd"), cert_dir]);
    }
    if planned(&["kubeconfig", "kubelet-finalize"]) {
        dirs.push(paths.kubeconfig_dir_disk());
    }
    if planned(&["etcd", "control-plane"]) {
        dirs.push(paths.manifests_dir_disk());
    }
    if planned(&["kubelet-start", "kubelet-finalize"]) {
        dirs.push(paths.kubelet_dir_disk());
    }
    let swept = crate::host::fs::sweep_stale_temps_in(&dirs)?;
    if swept > 0 {
        let s = if swept == 1 { "" } else { "s" };
        report.say(
            "init",
            format!("Removed {swept} stale temporary file{s} left by an interrupted run"),
        );
    }
    Ok(lock)
}
