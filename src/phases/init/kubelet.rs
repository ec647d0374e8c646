//! `init phase kubelet-start`: write the kubelet's flags, instance configuration and
//! configuration, then (re)start it through systemd when systemd runs this host.

use super::InitContext;
use crate::host::fs::WriteOutcome;
use crate::host::service::Systemd;
use crate::kubelet::{StartOutcome, generate_kubelet_files, restart_kubelet, write_kubelet_files};

const PHASE: &str = "kubelet-start";

/// The `kubelet-start` leaf.
pub(super) fn run(ctx: &mut InitContext) -> anyhow::Result<()> {
    let patches = ctx.patch_set()?;
    let files = generate_kubelet_files(&ctx.cfg, &ctx.paths, &ctx.facts, patches.as_ref())?;
    super::report_render(&ctx.report, PHASE, &files.warnings, &files.patches);
    let written = write_kubelet_files(&ctx.paths.kubelet_dir_disk(), &files)?;
    let changed = written.iter().any(|(_, o)| *o == WriteOutcome::Written);
    for (disk, outcome) in written {
        let name = disk.file_name().map(|n| n.to_string_lossy().into_owned());
        let shown = ctx
            .paths
            .kubelet_dir
            .join(name.unwrap_or_default())
            .display()
            .to_string();
        let what = if shown.ends_with(crate::kubelet::FLAGS_ENV_FILE) {
            "kubelet environment file with flags"
        } else {
            "kubelet configuration"
        };
        match outcome {
            WriteOutcome::Written => {
                ctx.report
                    .say(PHASE, format!("Writing {what} to file {shown:?}"));
                ctx.report.wrote(&disk);
            }
            WriteOutcome::Unchanged => ctx
                .report
                .say(PHASE, format!("The {what} in {shown:?} is unchanged")),
        }
    }
    if ctx.dry_run {
        ctx.report.say(
            PHASE,
            "Would restart the kubelet (dry run: not touching the host)",
        );
        return Ok(());
    }
    let config = ctx.paths.kubelet_dir.join(crate::kubelet::CONFIG_FILE);
    match restart_kubelet(ctx.facts.init, &Systemd, changed) {
        StartOutcome::Restarted => ctx.report.say(PHASE, "Starting the kubelet"),
        StartOutcome::Unchanged => ctx.report.say(
            PHASE,
            "The kubelet files are unchanged and the kubelet is running: not restarting it",
        ),
        StartOutcome::NotSystemd => ctx.report.warn(
            PHASE,
            format!(
                "systemd is not the init system of this host, so plinth cannot start the kubelet: \
                     (re)start it yourself with --config={}",
                config.display()
            ),
        ),
        StartOutcome::Failed(e) => ctx.report.warn(
            PHASE,
            format!(
                "unable to start the kubelet service: {e}; please make sure the kubelet is \
                     (re)started and running"
            ),
        ),
    }
    Ok(())
}
