//! `reset phase remove-etcd-member`: remove this node's stacked etcd member from its cluster.
//! kubeadm: `app/phases/etcd/local.go` RemoveStackedEtcdMemberFromCluster.

use std::time::Duration;

use anyhow::Context as _;

use super::ResetContext;
use crate::cluster::etcd::{EtcdClient, peer_url_from_manifest};
use crate::manifests::Component;
use crate::phases::runner::Decision;

/// How long etcd may refuse the removal: it does so while the other members have not been
/// connected for a few seconds ("unhealthy cluster"), as kubeadm's etcd client retries.
const REMOVE_WITHIN: Duration = Duration::from_secs(30);

/// Runs only when confirmed, on this machine, with a local etcd manifest.
pub(super) fn run_if(ctx: &ResetContext) -> Decision {
    if !ctx.confirmed {
        return Decision::Skip("reset was not confirmed".into());
    }
    if ctx.paths.is_rooted() {
        return Decision::Skip("re-rooted host tree: not talking to this machine's etcd".into());
    }
    if !ctx
        .paths
        .manifests_dir_disk()
        .join(Component::Etcd.file_name())
        .exists()
    {
        return Decision::Skip("no local etcd manifest (external etcd, or already removed)".into());
    }
    Decision::Run
}

/// Removal is skipped when this is the only member (removing it would destroy the cluster's
/// quorum for nothing); an unreachable etcd is a warning, as in kubeadm.
pub(super) fn run(ctx: &mut ResetContext) -> anyhow::Result<()> {
    let r = &ctx.report;
    let manifest = ctx
        .paths
        .manifests_dir_disk()
        .join(Component::Etcd.file_name());
    let text = std::fs::read_to_string(&manifest)
        .with_context(|| format!("reading {}", manifest.display()))?;
    let Some(peer) = peer_url_from_manifest(&text) else {
        r.warn(
            "reset",
            "the etcd manifest names no --initial-advertise-peer-urls; not removing a member",
        );
        return Ok(());
    };
    let pki = ctx.paths.cert_dir_disk();
    let client = crate::pki::ETCD_HEALTHCHECK_CLIENT;
    let members = EtcdClient::new(
        "https://127.0.0.1:2379",
        &pki.join(crate::pki::ETCD_CA.cert_file()),
        &pki.join(client.cert_file()),
        &pki.join(client.key_file()),
    )
    .and_then(|c| Ok((c.members()?, c)))
    .map_err(anyhow::Error::from);
    let (members, client) = match members {
        Ok(m) => m,
        Err(e) => {
            r.warn(
                "reset",
                format!(
                    "failed to list etcd members ({e:#}); if this node's etcd member still exists, remove it with `etcdctl member remove`"
                ),
            );
            return Ok(());
        }
    };
    let Some(me) = members.iter().find(|m| m.peer_urls.contains(&peer)) else {
        r.say(
            "reset",
            format!("No etcd member with peer URL {peer}: already removed"),
        );
        return Ok(());
    };
    if members.len() == 1 {
        r.say(
            "reset",
            format!(
                "The etcd member {:?} is the only member of its cluster: not removing it",
                me.name
            ),
        );
        return Ok(());
    }
    if ctx.dry_run {
        r.say(
            "reset",
            format!("Would remove etcd member {:?} ({peer})", me.name),
        );
        return Ok(());
    }
    client.remove_retrying(&me.id, REMOVE_WITHIN)?;
    r.say(
        "reset",
        format!(
            "Removed etcd member {:?} ({peer}); {} members remain",
            me.name,
            members.len() - 1
        ),
    );
    Ok(())
}
