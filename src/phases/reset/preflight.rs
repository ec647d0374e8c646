//! `reset phase preflight`: ask before anything is removed (unless `--force` or `--dry-run`),
//! showing what would go. kubeadm: `app/cmd/phases/reset/preflight.go`.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::Context as _;

use super::{NeedsConfirmation, ResetContext, describe};

/// The `preflight` leaf.
pub(super) fn run(ctx: &mut ResetContext) -> anyhow::Result<()> {
    ctx.report.say("reset", "Running pre-flight checks");
    if ctx.force || ctx.dry_run {
        ctx.confirmed = true;
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(NeedsConfirmation(
            "refusing to reset without confirmation: standard input is not a terminal; pass --force".into(),
        )
        .into());
    }
    match ctx.plan() {
        Ok(p) => describe(&ctx.report, &p, false),
        Err(e) => ctx.report.warn("reset", format!("{e:#}")),
    }
    print!("[reset] Are you sure you want to proceed? [y/N]: ");
    std::io::stdout().flush().ok();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .context("failed to read the answer")?;
    match answer.trim().to_lowercase().as_str() {
        "y" | "yes" => {
            ctx.confirmed = true;
            Ok(())
        }
        _ => Err(NeedsConfirmation("reset aborted by the user".into()).into()),
    }
}
