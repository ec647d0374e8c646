//! `plinth init` and `plinth init phase <path>`: one code path; a phase is a selection.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand};

use super::{ExpirationFormat, OverrideArgs, UsageError};
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

fn step_json(step: &crate::phases::runner::StepReport) -> serde_json::Value {
    let (outcome, detail) = match &step.outcome {
        Outcome::Ran => ("ran", None),
        Outcome::Skipped(why) => ("skipped", Some(why.clone())),
        Outcome::Failed(e) => ("failed", Some(e.clone())),
    };
    serde_json::json!({
        "phase": step.path,
        "outcome": outcome,
        "detail": detail,
        "duration_ms": (step.duration.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0,
    })
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
    // Everything is validated before the first write: config, then the plan.
    let cfg = config::load(flags.config.as_deref(), &flags.overrides.to_overrides())?;
    super::load_patches(&cfg)?;
    let wf = workflow();
    let skip = flags
        .skip_phases
        .clone()
        .unwrap_or_else(|| cfg.skip_phases.clone());
    let plan_skip = skip.clone();
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
            // Manifests and kubelet files refer to these paths, so they must be absolute.
            if !d.is_absolute() {
                return Err(
                    UsageError(format!("{flag} {} must be an absolute path", d.display())).into(),
                );
            }
            slot.clone_from(d);
        }
    }
    if flags.dry_run {
        let dir = match &flags.dry_run_dir {
            Some(d) => {
                std::fs::create_dir_all(d).with_context(|| {
                    format!("failed to create dry-run directory {}", d.display())
                })?;
                d.clone()
            }
            None => tempfile::Builder::new()
                .prefix("plinth-dryrun-")
                .tempdir()
                .context("failed to create a dry-run directory")?
                .keep(),
        };
        if !dir.is_absolute() {
            return Err(UsageError(format!(
                "--dry-run-dir {} must be an absolute path",
                dir.display()
            ))
            .into());
        }
        paths = paths.rooted(&dir);
    }

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
    let mut ctx = InitContext {
        cfg,
        paths,
        report: report.clone(),
        dry_run: flags.dry_run,
        plan: plan.clone(),
        keys: None,
        templates_dir: flags.templates_dir.clone(),
        skip: plan_skip,
        kubeconfig: flags.kubeconfig.clone(),
        skip_token_print: flags.skip_token_print,
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
                emit(&serde_json::json!({"event": "phase", "step": step_json(step)}).to_string());
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
        let result_json = serde_json::json!({
            "event": "result",
            "ok": error.is_none(),
            "error": error,
            "dry_run": ctx.dry_run,
            "root": ctx.paths.root,
            "control_plane_endpoint": ctx.cfg.control_plane_url(),
            "kubernetes_version": ctx.cfg.kubernetes_version.to_string(),
            "phases": steps.iter().map(step_json).collect::<Vec<_>>(),
            "written": written,
            "api_objects": ctx.objects,
            "join": ctx.join,
            "warnings": report.warnings(),
        });
        emit(&if jsonl {
            result_json.to_string()
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

/// `plinth certs check-expiration`: kubeadm's table (or JSON/YAML) of when every
/// certificate and the client certificates of the admin-type kubeconfigs expire.
///
/// Without `--config`, etcd certificates are listed only when `etcd/ca.crt` exists (a
/// cluster with external etcd has none).
///
/// # Errors
/// Config errors, unreadable certificates or kubeconfigs.
pub(super) fn check_expiration(
    cert_dir: Option<PathBuf>,
    config_path: Option<PathBuf>,
    kubeconfig_dir: Option<PathBuf>,
    output: ExpirationFormat,
) -> anyhow::Result<ExitCode> {
    let cfg = match &config_path {
        Some(p) => Some(config::load(Some(p), &config::Overrides::default())?),
        None => None,
    };
    let cert_dir = cert_dir
        .or_else(|| cfg.as_ref().map(|c| c.cert_dir.clone()))
        .unwrap_or_else(|| PathBuf::from(crate::host::DEFAULT_CERT_DIR));
    let kubeconfig_dir =
        kubeconfig_dir.unwrap_or_else(|| PathBuf::from(crate::host::KUBERNETES_DIR));
    let external_etcd = match &cfg {
        Some(c) => c.is_external_etcd(),
        None => !cert_dir.join("etcd/ca.crt").exists(),
    };
    let mut certs = crate::kubeconfig::check_expiration(&cert_dir, &kubeconfig_dir)?;
    let mut cas = Vec::new();
    for e in crate::pki::check_expiration(&cert_dir, external_etcd)? {
        if e.is_ca {
            cas.push(e);
        } else {
            certs.push(e);
        }
    }
    // kubeadm lists both tables sorted by name.
    certs.sort_by(|a, b| a.name.cmp(&b.name));
    cas.sort_by(|a, b| a.name.cmp(&b.name));

    #[derive(serde::Serialize)]
    struct Expirations<'a> {
        certificates: &'a [crate::pki::CertExpiry],
        certificate_authorities: &'a [crate::pki::CertExpiry],
    }
    let doc = Expirations {
        certificates: &certs,
        certificate_authorities: &cas,
    };
    let text = match output {
        ExpirationFormat::Json => serde_json::to_string_pretty(&doc)? + "\n",
        ExpirationFormat::Yaml => serde_saphyr::to_string(&doc)?,
        ExpirationFormat::Table => expiration_tables(&certs, &cas),
    };
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

/// kubeadm's two tables, columns separated by three spaces (Go tabwriter style).
fn expiration_tables(certs: &[crate::pki::CertExpiry], cas: &[crate::pki::CertExpiry]) -> String {
    fn table(rows: Vec<Vec<String>>) -> String {
        let cols = rows.first().map_or(0, Vec::len);
        let widths: Vec<usize> = (0..cols)
            .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0))
            .collect();
        let mut s = String::new();
        for r in rows {
            let line: Vec<String> = r
                .iter()
                .enumerate()
                .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
                .collect();
            s.push_str(line.join("   ").trim_end());
            s.push('\n');
        }
        s
    }
    let yes_no = |b: bool| if b { "yes" } else { "no" }.to_string();
    let row = |e: &crate::pki::CertExpiry, with_ca: bool| {
        let mut r = if e.missing {
            vec![
                format!("!MISSING! {}", e.name),
                String::new(),
                String::new(),
            ]
        } else {
            vec![
                e.name.clone(),
                e.expires_human().unwrap_or_default(),
                e.residual.clone().unwrap_or_default(),
            ]
        };
        if with_ca {
            r.push(e.ca.clone().unwrap_or_default());
        }
        r.push(if e.missing {
            String::new()
        } else {
            yes_no(e.externally_managed)
        });
        r
    };
    let mut a = vec![vec![
        "CERTIFICATE".to_string(),
        "EXPIRES".into(),
        "RESIDUAL TIME".into(),
        "CERTIFICATE AUTHORITY".into(),
        "EXTERNALLY MANAGED".into(),
    ]];
    a.extend(certs.iter().map(|e| row(e, true)));
    let mut b = vec![vec![
        "CERTIFICATE AUTHORITY".to_string(),
        "EXPIRES".into(),
        "RESIDUAL TIME".into(),
        "EXTERNALLY MANAGED".into(),
    ]];
    b.extend(cas.iter().map(|e| row(e, false)));
    format!("{}\n{}", table(a), table(b))
}
