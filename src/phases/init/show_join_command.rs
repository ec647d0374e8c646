//! `init phase show-join-command`: how to use the cluster and the `kubeadm join` command for
//! workers (endpoint, token, CA pin). kubeadm: `app/cmd/phases/init/showjoincommand.go`.

use anyhow::Context as _;

use super::InitContext;
use crate::cluster::BootstrapToken;

/// What kubeadm prints in place of a value the user asked not to see.
const WITHHELD: &str = "<value withheld>";

/// What a joining worker needs: endpoint, token and the CA pin.
#[derive(Debug, Clone, serde::Serialize)]
pub struct JoinInfo {
    /// `host:port` of the control plane.
    pub endpoint: String,
    /// The token, or `None` when this run has none (bootstrap-token skipped, no token in the config).
    pub token: Option<String>,
    /// `sha256:<hex>` of the CA's SubjectPublicKeyInfo.
    pub ca_cert_hash: String,
    /// The whole `kubeadm join ...` command (token masked when `--skip-token-print`).
    pub command: String,
    /// The join command for another control-plane node, when the cluster has a
    /// `controlPlaneEndpoint` (kubeadm refuses control-plane joins without one); with
    /// `--upload-certs` it carries the certificate key (`<value withheld>` with
    /// `--skip-certificate-key-print`).
    pub control_plane_command: Option<String>,
}

/// The join information for this run.
///
/// # Errors
/// When ca.crt cannot be read.
fn join_info(ctx: &InitContext) -> anyhow::Result<JoinInfo> {
    let ca_path = ctx.paths.cert_dir_disk().join(crate::pki::CA.cert_file());
    let ca = std::fs::read(&ca_path).with_context(|| format!("reading {}", ca_path.display()))?;
    let hash = crate::cluster::ca_cert_hash(&ca)?;
    let endpoint = ctx
        .cfg
        .control_plane_url()
        .trim_start_matches("https://")
        .to_string();
    let token = ctx.token.clone().or_else(|| {
        ctx.cfg
            .init
            .bootstrap_tokens
            .as_ref()
            .and_then(|ts| ts.first())
            .and_then(|t| t.token.as_deref())
            .and_then(BootstrapToken::parse)
    });
    let shown = token.as_ref().map(|t| {
        if ctx.skip_token_print {
            t.masked()
        } else {
            t.expose()
        }
    });
    let command = format!(
        "kubeadm join {endpoint} --token {} \\\n\t--discovery-token-ca-cert-hash {hash}",
        shown.as_deref().unwrap_or("<token>")
    );
    // kubeadm: app/cmd/util/join.go (joinCommandTemplate).
    let control_plane_command = ctx.cfg.control_plane_endpoint.as_ref().map(|_| {
        let key = match (&ctx.certificate_key, ctx.upload_certs) {
            (Some(_), true) if ctx.skip_certificate_key_print => {
                format!(" --certificate-key {WITHHELD}")
            }
            (Some(k), true) => format!(" --certificate-key {}", k.expose()),
            _ => String::new(),
        };
        format!("{command} \\\n\t--control-plane{key}")
    });
    Ok(JoinInfo {
        endpoint,
        token: shown,
        ca_cert_hash: hash,
        command,
        control_plane_command,
    })
}

/// The `show-join-command` leaf.
pub(super) fn run(ctx: &mut InitContext) -> anyhow::Result<()> {
    let join = join_info(ctx)?;
    let admin = ctx.paths.kubeconfig_dir.join(crate::kubeconfig::ADMIN_FILE);
    let admin = admin.display();
    let mut text = format!(
        "\nYour Kubernetes control-plane has initialized successfully!\n\n\
             To start using your cluster, you need to run the following as a regular user:\n\n  \
             mkdir -p $HOME/.kube\n  sudo cp -i {admin} $HOME/.kube/config\n  \
             sudo chown $(id -u):$(id -g) $HOME/.kube/config\n\n\
             Alternatively, if you are the root user, you can run:\n\n  export KUBECONFIG={admin}\n\n\
             You should now deploy a pod network to the cluster.\n\
             Run \"kubectl apply -f [podnetwork].yaml\" with one of the options listed at:\n  \
             https://kubernetes.io/docs/concepts/cluster-administration/addons/\n\n"
    );
    if let (Some(cp), Some(_)) = (&join.control_plane_command, &join.token) {
        if ctx.upload_certs {
            text.push_str(&format!(
                "You can now join any number of control-plane nodes running the following command on each as root:\n\n  {cp}\n\n\
                 Please note that the certificate-key gives access to cluster sensitive data, keep it secret!\n\
                 As a safeguard, uploaded-certs will be deleted in two hours; If necessary, you can use\n\
                 \"plinth init phase upload-certs --upload-certs\" to reload certs afterward.\n\n"
            ));
        } else {
            text.push_str(&format!(
                "You can now join any number of control-plane nodes by copying certificate authorities\n\
                 and service account keys on each node and then running the following as root:\n\n  {cp}\n\n"
            ));
        }
    }
    if join.token.is_some() {
        text.push_str(&format!(
                "Then you can join any number of worker nodes by running the following on each as root:\n\n{}\n",
                join.command
            ));
    } else {
        text.push_str(
                "No bootstrap token was created in this run. Create one and print the join command with\n\n  \
                 plinth init phase bootstrap-token   (or: kubeadm token create --print-join-command)\n",
            );
    }
    if ctx.dry_run {
        text = format!("\n[dryrun] A real run would finish with:\n{text}");
    }
    ctx.report.text(text);
    ctx.join = Some(join);
    Ok(())
}
