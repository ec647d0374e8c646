//! `init phase upload-certs`: the shared control-plane certificates, encrypted with the
//! certificate key, to the `kube-system/kubeadm-certs` Secret, owned by a two-hour token so it
//! expires on its own; plus the Role that lets joining nodes read it. The layout is kubeadm's, so
//! `kubeadm join --control-plane --certificate-key` can download what plinth uploaded.
//! kubeadm: `app/cmd/phases/init/uploadcerts.go`, `app/phases/copycerts/copycerts.go`.

use std::path::PathBuf;

use anyhow::Context as _;

use super::InitContext;
use crate::cluster::BootstrapToken;
use crate::cluster::objects::{self, TokenSecret};
use crate::config::EtcdMode;
use crate::pki::copycerts::{CertificateKey, EtcdFiles, seal_files, shared_files};

const PHASE: &str = "upload-certs";

/// The `upload-certs` leaf.
pub(super) fn run(ctx: &mut InitContext) -> anyhow::Result<()> {
    if !ctx.upload_certs {
        ctx.report
            .say(PHASE, "Skipping phase. Please see --upload-certs");
        return Ok(());
    }
    let key = match &ctx.certificate_key {
        Some(k) => k.clone(),
        None => {
            let k = CertificateKey::generate()?;
            ctx.certificate_key = Some(k.clone());
            k
        }
    };
    ctx.report.say(
        PHASE,
        format!(
            "Storing the certificates in Secret \"{}\" in the \"kube-system\" Namespace",
            objects::CERTS_SECRET
        ),
    );
    // Seal first: an unreadable file stops the phase before anything reaches the cluster.
    let etcd = match &ctx.cfg.etcd {
        EtcdMode::External(ext) => {
            let path = |p: &Option<PathBuf>| p.clone().unwrap_or_default();
            EtcdFiles::External {
                ca: path(&ext.ca_file),
                cert: path(&ext.cert_file),
                key: path(&ext.key_file),
            }
        }
        EtcdMode::Local(_) => EtcdFiles::Local,
    };
    let data = seal_files(&shared_files(&ctx.paths.cert_dir_disk(), &etcd), &key)?;

    // The owner: a token that cannot authenticate or sign (no usages, no groups), only expire.
    let token = BootstrapToken::generate()?;
    let owner = objects::token_secret(&TokenSecret {
        token: &token,
        description: Some(objects::CERTS_TOKEN_DESCRIPTION),
        expiration: Some(crate::cluster::expiration_after(objects::CERTS_TOKEN_TTL)),
        usages: &[],
        groups: &[],
    });
    ctx.apply_all(PHASE, std::slice::from_ref(&owner))?;
    let uid = ctx.applier().uid(&owner)?.with_context(|| {
        format!(
            "the token Secret bootstrap-token-{} vanished right after it was created",
            token.id
        )
    })?;
    let mut objs = vec![objects::kubeadm_certs_secret(&data, &token.id, &uid)];
    objs.extend(objects::kubeadm_certs_rbac());
    ctx.apply_all(PHASE, &objs)?;
    if !ctx.skip_certificate_key_print {
        ctx.report
            .say(PHASE, format!("Using certificate key:\n{}", key.expose()));
    }
    Ok(())
}
