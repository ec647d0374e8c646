//! Converging kubeconfig files: reuse a file whose CA is the cluster CA (warning when its
//! server URL differs, as kubeadm does), write missing ones with a fresh client certificate,
//! refuse files made for another CA. kubeadm: `app/phases/kubeconfig/kubeconfig.go`
//! (`createKubeConfigFileIfNotExists`, `validateKubeConfig`).

use std::path::Path;

use ::time::OffsetDateTime;

use super::error::{Error, Result};
use super::file::{Kubeconfig, decode_data, parse_kubeconfig, render_kubeconfig};
use super::spec::{KUBECONFIGS, KubeconfigSpec};
use crate::config::ResolvedConfig;
use crate::host::owned::write_recorded;
use crate::pki::{self, AltNames, CertConfig, CertExpiry, ExtUsage, KeyPool};

/// Kubeconfigs hold a private key: 0600 (client-go `clientcmd.WriteToFile`).
pub const KUBECONFIG_MODE: u32 = 0o600;

/// What [`ensure_kubeconfig`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KubeconfigOutcome {
    /// The file was written.
    Generated,
    /// An existing file was kept; `warning` says when its server URL is not the expected one.
    Reused {
        /// kubeadm's "unexpected API Server URL" warning, if it applies.
        warning: Option<String>,
    },
}

/// Whether [`ensure_kubeconfig`] would need a new key for `spec`.
#[must_use]
pub fn kubeconfig_needs_key(spec: &KubeconfigSpec, kubeconfig_dir: &Path) -> bool {
    !kubeconfig_dir.join(spec.file).exists()
}

fn ca_spec() -> &'static pki::CertSpec {
    pki::find("ca").expect("the certificate table has a \"ca\" entry")
}

/// Makes sure `spec`'s kubeconfig exists in `kubeconfig_dir`, signed by the cluster CA in
/// `cert_dir`.
///
/// # Errors
/// A missing or invalid CA ([`Error::Pki`]), an existing file for another CA
/// ([`Error::CaMismatch`], [`Error::ForeignClientCert`]) or without a usable context, a
/// missing CA key when the file must be written ([`pki::Error::MissingCaKey`]), read, parse
/// and write errors. Every error names the file.
pub fn ensure_kubeconfig(
    spec: &'static KubeconfigSpec,
    cfg: &ResolvedConfig,
    cert_dir: &Path,
    kubeconfig_dir: &Path,
    keys: &mut KeyPool,
) -> Result<KubeconfigOutcome> {
    ensure_kubeconfig_at(
        spec,
        cfg,
        cert_dir,
        kubeconfig_dir,
        keys,
        OffsetDateTime::now_utc(),
    )
}

/// [`ensure_kubeconfig`] at a given time.
///
/// # Errors
/// As [`ensure_kubeconfig`].
pub fn ensure_kubeconfig_at(
    spec: &'static KubeconfigSpec,
    cfg: &ResolvedConfig,
    cert_dir: &Path,
    kubeconfig_dir: &Path,
    keys: &mut KeyPool,
    now: OffsetDateTime,
) -> Result<KubeconfigOutcome> {
    let path = kubeconfig_dir.join(spec.file);
    let ca_spec = ca_spec();
    let ca_path = cert_dir.join(ca_spec.cert_file());
    if !ca_path.exists() {
        return Err(pki::Error::MissingCa {
            cert: path,
            ca: ca_path,
            ca_name: ca_spec.name,
        }
        .into());
    }
    let ca = pki::load_ca(ca_spec, cert_dir, now)?;
    let server = spec.server_url(cfg);
    if path.exists() {
        let warning = validate_existing(&path, &ca, &server)?;
        return Ok(KubeconfigOutcome::Reused { warning });
    }
    if !ca.can_sign() {
        return Err(pki::Error::MissingCaKey {
            cert: path,
            ca_key: ca.key_path,
        }
        .into());
    }
    let user = spec.client_name(cfg);
    let key = keys.take()?;
    let cert = ca.sign(
        &CertConfig {
            common_name: user.clone(),
            organization: spec.org.map(str::to_string),
            alt_names: AltNames::default(),
            usages: vec![ExtUsage::Client],
            validity: cfg.cert_validity,
        },
        &key,
        &path,
        now,
    )?;
    let kc = Kubeconfig::with_client_cert(
        &cfg.cluster_name,
        &server,
        &ca.cert.pem,
        &user,
        &cert.pem,
        &key.to_pem()?,
    );
    let text = render_kubeconfig(&kc, &path)?;
    write_recorded(&path, text.as_bytes(), KUBECONFIG_MODE)?;
    Ok(KubeconfigOutcome::Generated)
}

/// Checks an existing file against the CA; returns the server-mismatch warning, if any.
fn validate_existing(path: &Path, ca: &pki::Ca, server: &str) -> Result<Option<String>> {
    let kc = read_kubeconfig(path)?;
    let missing = |what: String| Error::MissingContext {
        path: path.to_path_buf(),
        what,
    };
    let (ctx, cluster, user) = kc
        .current()
        .ok_or_else(|| missing(format!("context {:?} not found", kc.current_context)))?;
    let cluster =
        cluster.ok_or_else(|| missing(format!("cluster {:?} not found", ctx.context.cluster)))?;
    // kubeadm compares the embedded CA bytes, whitespace-trimmed.
    let same_ca = match &cluster.cluster.certificate_authority_data {
        Some(d) => {
            decode_data(d, "certificate-authority-data", path)?.trim_ascii()
                == ca.cert.pem.as_bytes().trim_ascii()
        }
        None => false,
    };
    if !same_ca {
        return Err(Error::CaMismatch {
            path: path.to_path_buf(),
            ca: ca.cert_path.clone(),
        });
    }
    if let Some(data) = user.and_then(|u| u.user.client_certificate_data.as_deref()) {
        let pem = decode_data(data, "client-certificate-data", path)?;
        let cert = pki::parse_cert_pem(&String::from_utf8_lossy(&pem), path)?;
        if !cert.is_signed_by(&ca.cert) {
            return Err(Error::ForeignClientCert {
                path: path.to_path_buf(),
                ca: ca.cert_path.clone(),
            });
        }
    }
    let have = cluster.cluster.server.trim_end_matches('/');
    Ok((have != server).then(|| {
        format!(
            "a kubeconfig file {:?} exists already but has an unexpected API Server URL: expected: {server}, got: {have}",
            path.display().to_string()
        )
    }))
}

/// Reads and parses the kubeconfig at `path`.
///
/// # Errors
/// [`Error::ReadKubeconfig`], [`Error::ParseKubeconfig`].
pub fn read_kubeconfig(path: &Path) -> Result<Kubeconfig> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::ReadKubeconfig {
        path: path.to_path_buf(),
        source,
    })?;
    parse_kubeconfig(&text, path)
}

/// Expiry of the client certificates embedded in admin.conf, super-admin.conf,
/// controller-manager.conf and scheduler.conf (kubeadm `certs check-expiration` lists the
/// same; kubelet.conf is left out because the kubelet rotates its certificate).
///
/// # Errors
/// A file that exists but cannot be read, parsed or decoded.
pub fn check_expiration(cert_dir: &Path, kubeconfig_dir: &Path) -> Result<Vec<CertExpiry>> {
    check_expiration_at(cert_dir, kubeconfig_dir, OffsetDateTime::now_utc())
}

/// [`check_expiration`] at a given time.
///
/// # Errors
/// As [`check_expiration`].
pub fn check_expiration_at(
    cert_dir: &Path,
    kubeconfig_dir: &Path,
    now: OffsetDateTime,
) -> Result<Vec<CertExpiry>> {
    let ca = ca_spec();
    let externally_managed =
        cert_dir.join(ca.cert_file()).exists() && !cert_dir.join(ca.key_file()).exists();
    let mut out = Vec::new();
    for spec in KUBECONFIGS.iter().filter(|k| k.check_expiration) {
        let path = kubeconfig_dir.join(spec.file);
        let cert = if path.exists() {
            let kc = read_kubeconfig(&path)?;
            let data = kc
                .current()
                .and_then(|(_, _, u)| u)
                .and_then(|u| u.user.client_certificate_data.clone());
            match data {
                Some(d) => {
                    let pem = decode_data(&d, "client-certificate-data", &path)?;
                    Some(pki::parse_cert_pem(&String::from_utf8_lossy(&pem), &path)?)
                }
                None => None,
            }
        } else {
            None
        };
        out.push(CertExpiry::new(
            spec.file,
            path,
            cert.as_ref(),
            Some(ca.name),
            externally_managed,
            now,
        ));
    }
    Ok(out)
}
