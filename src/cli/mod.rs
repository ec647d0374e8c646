//! The command line: clap definitions and dispatch. Thin: it resolves flags into the config
//! layer's `Overrides`, builds a context and calls the phase runner or a domain function.

mod certs;
mod config_images;
mod init;
pub mod output;
mod reset;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::config::{self, Overrides};

/// plinth: bootstrap a Kubernetes control plane from kubeadm v1beta4 config files.
#[derive(Debug, Parser)]
#[command(name = "plinth", version, about, propagate_version = true)]
pub struct Cli {
    /// Debug logs on stderr (-v debug, -vv trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once; boxing would only obscure clap derive
pub enum Command {
    /// Turn this host into a control-plane node (kubeadm init).
    Init(init::InitArgs),
    /// Undo `plinth init` on this host (kubeadm reset).
    Reset(reset::ResetArgs),
    /// Work with config files.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Inspect certificates.
    #[command(subcommand)]
    Certs(certs::CertsCommand),
    /// Print the version.
    Version,
    /// Print a shell completion script.
    Completion {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// `plinth config ...`
#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)]
pub enum ConfigCommand {
    /// Print a default configuration.
    #[command(subcommand)]
    Print(PrintCommand),
    /// The container images the node needs: list them, or pull the missing ones.
    #[command(subcommand)]
    Images(config_images::ImagesCommand),
    /// Validate a config file (no root, no host changes).
    Validate {
        /// The config file (`-` reads standard input).
        #[arg(long)]
        config: PathBuf,
        /// Overrides, as for `init`.
        #[command(flatten)]
        overrides: OverrideArgs,
    },
}

/// `plinth config print ...`
#[derive(Debug, Subcommand)]
pub enum PrintCommand {
    /// kubeadm's InitConfiguration and ClusterConfiguration defaults.
    InitDefaults,
}

/// Flags that override config values (kubeadm's names). Flags win over the file.
#[derive(Debug, Clone, Default, Args)]
pub struct OverrideArgs {
    /// Kubernetes version (vX.Y.Z).
    #[arg(long)]
    pub kubernetes_version: Option<String>,
    /// Address the API server advertises.
    #[arg(long)]
    pub apiserver_advertise_address: Option<String>,
    /// API server secure port.
    #[arg(long)]
    pub apiserver_bind_port: Option<u32>,
    /// Extra API server certificate SANs (comma separated).
    #[arg(long, value_delimiter = ',')]
    pub apiserver_cert_extra_sans: Vec<String>,
    /// Shared endpoint for all control-plane nodes (host or host:port).
    #[arg(long)]
    pub control_plane_endpoint: Option<String>,
    /// Node name.
    #[arg(long)]
    pub node_name: Option<String>,
    /// Pod network CIDR(s).
    #[arg(long)]
    pub pod_network_cidr: Option<String>,
    /// Service CIDR(s).
    #[arg(long)]
    pub service_cidr: Option<String>,
    /// Service DNS domain.
    #[arg(long)]
    pub service_dns_domain: Option<String>,
    /// Certificates directory.
    #[arg(long)]
    pub cert_dir: Option<String>,
    /// Key algorithm: RSA-2048, RSA-3072, RSA-4096, ECDSA-P256, ECDSA-P384.
    #[arg(long)]
    pub encryption_algorithm: Option<String>,
    /// Directory with kubeadm-style patch files.
    #[arg(long)]
    pub patches: Option<String>,
    /// CRI socket.
    #[arg(long)]
    pub cri_socket: Option<String>,
    /// Pre-flight checks whose errors are shown as warnings, e.g. `Port-6443,Swap`, or `all`
    /// (case-insensitive; added to nodeRegistration.ignorePreflightErrors).
    #[arg(long, value_delimiter = ',')]
    pub ignore_preflight_errors: Vec<String>,
}

impl OverrideArgs {
    /// Converts to the config layer's overrides.
    #[must_use]
    pub fn to_overrides(&self) -> Overrides {
        Overrides {
            kubernetes_version: self.kubernetes_version.clone(),
            apiserver_advertise_address: self.apiserver_advertise_address.clone(),
            apiserver_bind_port: self.apiserver_bind_port,
            apiserver_cert_extra_sans: self.apiserver_cert_extra_sans.clone(),
            control_plane_endpoint: self.control_plane_endpoint.clone(),
            node_name: self.node_name.clone(),
            pod_network_cidr: self.pod_network_cidr.clone(),
            service_cidr: self.service_cidr.clone(),
            service_dns_domain: self.service_dns_domain.clone(),
            cert_dir: self.cert_dir.clone(),
            encryption_algorithm: self.encryption_algorithm.clone(),
            patches: self.patches.clone(),
            cri_socket: self.cri_socket.clone(),
            ignore_preflight_errors: self.ignore_preflight_errors.clone(),
        }
    }
}

/// Applies the config's path policy to a directory given on the command line (exit 2).
fn check_dir_flag(flag: &str, dir: &std::path::Path) -> Result<(), UsageError> {
    config::pathpolicy::check_dir_path(dir)
        .map_err(|e| UsageError(format!("{flag} {}: {e} ({})", dir.display(), e.hint())))
}

/// Refuses, before anything is written or deleted, a run whose directories are reached through a
/// symbolic link (unless `--allow-symlinks`), naming the link (exit 2).
fn check_no_symlinked_dirs(dirs: &[std::path::PathBuf]) -> Result<(), crate::host::fs::FsError> {
    dirs.iter()
        .try_for_each(|d| crate::host::fs::check_no_symlinks(d))
}

/// The clap command with the init phase tree appended to `init --help` (kubeadm does the same).
#[must_use]
pub fn command() -> clap::Command {
    let tree = format!(
        "The \"init\" command executes the following phases:\n```\n{}```",
        crate::phases::init::workflow().help()
    );
    Cli::command().mut_subcommand("init", |c| c.after_long_help(tree))
}

/// docs/phases.md, generated from the phase trees (kept honest by a test).
#[must_use]
pub fn phases_markdown() -> String {
    let mut s = String::from(
        "# Phases\n\nGenerated from the phase trees by `plinth::cli::phases_markdown()`; a test fails when\nthis file is stale (`PLINTH_UPDATE_DOCS=1 cargo test phases_doc` rewrites it).\n\n",
    );
    s.push_str("## init\n\nRun one with `plinth init phase <path>` (`all` selects a whole group), skip some with\n`plinth init --skip-phases a,b/c`.\n\n| phase | what it does |\n|---|---|\n");
    for (path, _, summary, _) in crate::phases::init::workflow().entries() {
        s.push_str(&format!("| `{path}` | {summary} |\n"));
    }
    s.push_str("\n## reset\n\nBest effort: every phase runs and failures are collected. Skip some with\n`plinth reset --skip-phases a,b`.\n\n| phase | what it does |\n|---|---|\n");
    for (path, _, summary, _) in crate::phases::reset::workflow().entries() {
        s.push_str(&format!("| `{path}` | {summary} |\n"));
    }
    s
}

/// Exit code for usage and configuration errors (clap uses 2 too).
const EXIT_USAGE: u8 = 2;

/// Parses the command line, runs it and maps the outcome to an exit code.
#[must_use]
pub fn main() -> ExitCode {
    let cli = match command()
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m))
    {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    init_tracing(cli.verbose);
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit_code(&e))
        }
    }
}

fn init_tracing(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("PLINTH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// 2 for configuration and usage errors anywhere in the chain, 1 otherwise.
fn exit_code(e: &anyhow::Error) -> u8 {
    let usage = e.chain().any(|c| {
        c.downcast_ref::<config::Error>().is_some()
            || c.downcast_ref::<crate::phases::runner::PlanError>()
                .is_some()
            || c.downcast_ref::<UsageError>().is_some()
            || matches!(
                c.downcast_ref::<crate::host::fs::FsError>(),
                Some(crate::host::fs::FsError::Symlink { .. })
            )
            || c.downcast_ref::<PatchesError>().is_some()
    });
    if usage { EXIT_USAGE } else { 1 }
}

/// The config's patch files could not be loaded (exit 2: the config is wrong, nothing was
/// written).
#[derive(Debug, thiserror::Error)]
#[error("invalid patches in {}", dir.display())]
pub struct PatchesError {
    /// `patches.directory` / `--patches`.
    pub dir: PathBuf,
    /// The file that failed and why.
    #[source]
    pub source: crate::manifests::PatchError,
}

/// Loads and checks every patch file of the config's patches directory, so a patch that does
/// not parse is reported before the first write rather than by the phase that renders.
///
/// # Errors
/// [`PatchesError`] naming the file.
fn load_patches(
    cfg: &config::ResolvedConfig,
) -> Result<Option<crate::manifests::PatchSet>, PatchesError> {
    cfg.patches_dir
        .as_deref()
        .map(|dir| {
            crate::manifests::PatchSet::load(dir).map_err(|source| PatchesError {
                dir: dir.to_path_buf(),
                source,
            })
        })
        .transpose()
}

/// A usage problem found after parsing (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Init(args) => init::run(&args),
        Command::Reset(args) => reset::run(&args),
        Command::Config(ConfigCommand::Print(PrintCommand::InitDefaults)) => {
            print!("{}", config::init_defaults_yaml());
            Ok(ExitCode::SUCCESS)
        }
        Command::Config(ConfigCommand::Images(cmd)) => config_images::run(&cmd),
        Command::Config(ConfigCommand::Validate {
            config: path,
            overrides,
        }) => {
            let facts = crate::host::Facts::detect();
            let cfg = config::load(
                Some(&path),
                &overrides.to_overrides(),
                &facts.config_defaults(),
            )?;
            // What init would refuse after its first write must fail validation too.
            load_patches(&cfg)?;
            for w in &cfg.warnings {
                eprintln!("warning: {w}");
            }
            let name = if path.as_os_str() == "-" {
                config::STDIN_NAME.to_string()
            } else {
                path.display().to_string()
            };
            println!(
                "{}: valid (Kubernetes {}, node {}, advertise {}:{}, keys {})",
                name,
                cfg.kubernetes_version,
                cfg.node_name,
                cfg.advertise_address,
                cfg.bind_port,
                cfg.key_algorithm
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Certs(certs::CertsCommand::CheckExpiration {
            cert_dir,
            config: path,
            kubeconfig_dir,
            output,
        }) => certs::check_expiration(cert_dir, path, kubeconfig_dir, output),
        Command::Version => {
            println!("plinth {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
        Command::Completion { shell } => {
            clap_complete::generate(shell, &mut command(), "plinth", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn phases_doc_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/phases.md");
        let want = super::phases_markdown();
        if std::env::var_os("PLINTH_UPDATE_DOCS").is_some() {
            std::fs::write(path, &want).unwrap();
        }
        let have = std::fs::read_to_string(path).unwrap_or_default();
        assert_eq!(
            have, want,
            "docs/phases.md is stale: run PLINTH_UPDATE_DOCS=1 cargo test phases_doc"
        );
    }

    #[test]
    fn cli_definition_is_consistent() {
        super::command().debug_assert();
    }
}
