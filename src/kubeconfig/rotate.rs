//! kubelet-finalize's edit of kubelet.conf: once the kubelet has a rotatable client certificate,
//! its user points at that file instead of embedding the bootstrap certificate.
//! kubeadm: `app/phases/kubelet/kubelet.go` (`EnableClientCertRotation`, via kubeletfinalize).

use std::path::Path;

use super::{Error, Result, read_kubeconfig, render_kubeconfig};
use crate::host::fs::{WriteOutcome, write_if_changed};

/// kubelet.conf's current user switched to the rotating client certificate file
/// `current_pem` (certificate and key in one file); unchanged files are not rewritten.
///
/// # Errors
/// [`Error::MissingContext`] when kubelet.conf has no current context or its user is
/// missing; read, parse, render and write errors.
pub fn point_kubeconfig_at_rotating_cert(
    kubelet_conf: &Path,
    current_pem: &Path,
) -> Result<WriteOutcome> {
    let missing = |what: &str| Error::MissingContext {
        path: kubelet_conf.to_path_buf(),
        what: what.into(),
    };
    let mut k = read_kubeconfig(kubelet_conf)?;
    let user_name = k
        .current()
        .map(|(ctx, _, _)| ctx.context.user.clone())
        .ok_or_else(|| missing("no current context"))?;
    let user = k
        .users
        .iter_mut()
        .find(|u| u.name == user_name)
        .ok_or_else(|| missing("the current context's user is missing"))?;
    let p = current_pem.display().to_string();
    user.user.client_certificate = Some(p.clone());
    user.user.client_key = Some(p);
    user.user.client_certificate_data = None;
    user.user.client_key_data = None;
    let text = render_kubeconfig(&k, kubelet_conf)?;
    Ok(write_if_changed(
        kubelet_conf,
        text.as_bytes(),
        0o600,
        0o755,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KUBELET_CONF: &str = "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority-data: Q0E=\n    server: https://10.0.0.5:6443\n  name: kubernetes\ncontexts:\n- context:\n    cluster: kubernetes\n    user: system:node:cp\n  name: system:node:cp@kubernetes\ncurrent-context: system:node:cp@kubernetes\npreferences: {}\nusers:\n- name: system:node:cp\n  user:\n    client-certificate-data: Q0VSVA==\n    client-key-data: S0VZ\n";

    #[test]
    fn rotation_points_kubelet_conf_at_the_pem_file() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("kubelet.conf");
        std::fs::write(&conf, KUBELET_CONF).unwrap();
        let pem = Path::new("/var/lib/kubelet/pki/kubelet-client-current.pem");
        let first = point_kubeconfig_at_rotating_cert(&conf, pem).unwrap();
        assert_eq!(first, WriteOutcome::Written);
        let k = read_kubeconfig(&conf).unwrap();
        let u = &k.users[0].user;
        assert_eq!(u.client_certificate.as_deref(), Some(pem.to_str().unwrap()));
        assert_eq!(u.client_key.as_deref(), Some(pem.to_str().unwrap()));
        assert!(u.client_certificate_data.is_none() && u.client_key_data.is_none());
        assert_eq!(
            k.clusters[0].cluster.certificate_authority_data.as_deref(),
            Some("Q0E=")
        );
        // A second run converges.
        let again = point_kubeconfig_at_rotating_cert(&conf, pem).unwrap();
        assert_eq!(again, WriteOutcome::Unchanged);
    }

    #[test]
    fn a_kubelet_conf_without_its_user_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("kubelet.conf");
        let no_user = KUBELET_CONF.replace("- name: system:node:cp\n", "- name: someone-else\n");
        std::fs::write(&conf, &no_user).unwrap();
        let pem = Path::new("/var/lib/kubelet/pki/kubelet-client-current.pem");
        let e = point_kubeconfig_at_rotating_cert(&conf, pem).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("kubelet.conf") && msg.contains("user is missing"),
            "{msg}"
        );
        assert_eq!(
            std::fs::read_to_string(&conf).unwrap(),
            no_user,
            "unchanged"
        );
    }
}
