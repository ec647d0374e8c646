//! `init phase certs`: one leaf per certificate of kubeadm's table (CAs first), plus `sa`.
//! Thin adapters over [`crate::pki`]: they pick the directory, print kubeadm's lines and
//! record written paths. kubeadm: `app/cmd/phases/init/certs.go`.

use std::path::PathBuf;

use super::InitContext;
use crate::phases::runner::{Decision, Leaf, Node};
use crate::pki::{self, CertOutcome, CertSpec, KeyPool, SaOutcome};

const PHASE: &str = "certs";

/// The `certs` group: one leaf per row of [`pki::CERTS`] (CAs first), then `sa`.
pub(super) fn group() -> Node<InitContext> {
    let certs = pki::CERTS.iter().map(|spec| {
        Leaf::new(spec.name, spec.summary, move |ctx| run_cert(spec, ctx))
            .run_if(move |ctx| cert_run_if(spec, ctx))
            .into()
    });
    let sa = Leaf::new(pki::SA_NAME, pki::SA_SUMMARY, run_sa).into();
    Node::group(PHASE, "Certificate generation", certs.chain([sa]))
}

/// A certificate's leaf runs unless it belongs to the local etcd and etcd is external.
fn cert_run_if(spec: &CertSpec, ctx: &InitContext) -> Decision {
    if spec.etcd && ctx.cfg.is_external_etcd() {
        Decision::Skip("external etcd".into())
    } else {
        Decision::Run
    }
}

/// Whether the planned leaf at `path` will run (not skipped by its `run_if`) under `ctx`.
fn leaf_runs(path: &str, ctx: &InitContext) -> bool {
    match path.strip_prefix("certs/").and_then(pki::find) {
        Some(spec) => cert_run_if(spec, ctx) == Decision::Run,
        None => true,
    }
}

/// Whether `path` is the first leaf of `group` that runs in this plan (it prints the
/// directory line, as kubeadm does once per group).
pub(super) fn is_first_in_group(ctx: &InitContext, group: &str, path: &str) -> bool {
    let prefix = format!("{group}/");
    ctx.plan
        .leaves
        .iter()
        .find(|l| l.starts_with(&prefix) && leaf_runs(l, ctx))
        .is_some_and(|l| l == path)
}

/// Fills the shared key pool on first use with as many keys as the planned certs and
/// kubeconfig leaves will create (files missing on disk), generated in parallel across cores.
pub(super) fn prepare_keys(ctx: &mut InitContext) -> anyhow::Result<()> {
    if ctx.keys.is_none() {
        let cert_dir = ctx.paths.cert_dir_disk();
        let kubeconfig_dir = ctx.paths.kubeconfig_dir_disk();
        let needed = ctx
            .plan
            .leaves
            .iter()
            .filter(|l| leaf_runs(l, ctx))
            .filter(|l| {
                if let Some(name) = l.strip_prefix("certs/") {
                    if name == pki::SA_NAME {
                        pki::sa_needs_key(&cert_dir)
                    } else {
                        pki::find(name).is_some_and(|s| pki::cert_needs_key(s, &cert_dir))
                    }
                } else if let Some(name) = l.strip_prefix("kubeconfig/") {
                    crate::kubeconfig::find(name).is_some_and(|k| {
                        crate::kubeconfig::kubeconfig_needs_key(k, &kubeconfig_dir)
                    })
                } else {
                    false
                }
            })
            .count();
        tracing::debug!(needed, algorithm = %ctx.cfg.key_algorithm, "generating keys in parallel");
        ctx.keys = Some(KeyPool::generate(ctx.cfg.key_algorithm, needed)?);
    }
    Ok(())
}

/// The pool (empty if [`prepare_keys`] did not run: keys are then generated on demand).
pub(super) fn pool(ctx: &mut InitContext) -> (&crate::config::ResolvedConfig, &mut KeyPool) {
    let alg = ctx.cfg.key_algorithm;
    (
        &ctx.cfg,
        ctx.keys.get_or_insert_with(|| KeyPool::empty(alg)),
    )
}

fn announce_dir(ctx: &InitContext, leaf: &str) {
    if is_first_in_group(ctx, PHASE, &format!("{PHASE}/{leaf}")) {
        ctx.report.say(
            PHASE,
            format!(
                "Using certificateDir folder {:?}",
                ctx.paths.cert_dir.display().to_string()
            ),
        );
    }
}

/// One certificate and its key.
fn run_cert(spec: &'static CertSpec, ctx: &mut InitContext) -> anyhow::Result<()> {
    announce_dir(ctx, spec.name);
    let dir = ctx.paths.cert_dir_disk();
    prepare_keys(ctx)?;
    let (cfg, keys) = pool(ctx);
    let outcome = pki::ensure_cert(spec, cfg, &dir, keys)?;
    let base = spec.base;
    let r = &ctx.report;
    match outcome {
        CertOutcome::Generated(cert) => {
            r.say(PHASE, format!("Generating {base:?} certificate and key"));
            if spec.is_server() {
                r.say(
                    PHASE,
                    format!("{base} serving cert is signed for {}", cert.alt_names),
                );
            }
            let host: PathBuf = ctx.paths.cert_dir_disk();
            r.wrote(&host.join(spec.key_file()));
            r.wrote(&host.join(spec.cert_file()));
        }
        CertOutcome::Reused(_) if spec.is_ca() => {
            r.say(
                PHASE,
                format!("Using existing {base} certificate authority"),
            );
        }
        CertOutcome::Reused(_) => {
            r.say(
                PHASE,
                format!("Using existing {base} certificate and key on disk"),
            );
        }
        CertOutcome::ExternalCa(_) => {
            r.say(
                PHASE,
                format!("Using existing {base} keyless certificate authority"),
            );
        }
    }
    Ok(())
}

/// The service-account signing key pair.
fn run_sa(ctx: &mut InitContext) -> anyhow::Result<()> {
    announce_dir(ctx, pki::SA_NAME);
    let dir = ctx.paths.cert_dir_disk();
    prepare_keys(ctx)?;
    let outcome = pki::ensure_sa(&dir, pool(ctx).1)?;
    let host = ctx.paths.cert_dir_disk();
    let r = &ctx.report;
    match outcome {
        SaOutcome::Generated => {
            r.say(PHASE, "Generating \"sa\" key and public key");
            r.wrote(&host.join(pki::SA_KEY_FILE));
            r.wrote(&host.join(pki::SA_PUB_FILE));
        }
        SaOutcome::Reused => r.say(PHASE, "Using the existing \"sa\" key"),
        SaOutcome::DerivedPublicKey => {
            r.say(PHASE, "Using the existing \"sa\" key");
            r.say(
                PHASE,
                format!(
                    "Writing {:?}, derived from the existing {:?}",
                    pki::SA_PUB_FILE,
                    pki::SA_KEY_FILE
                ),
            );
            r.wrote(&host.join(pki::SA_PUB_FILE));
        }
    }
    Ok(())
}
