//! `plinth certs ...`: certificate commands (today `check-expiration`; renewal joins it).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};

use crate::config;

/// `plinth certs ...`
#[derive(Debug, Subcommand)]
pub enum CertsCommand {
    /// Show when each certificate expires.
    CheckExpiration {
        /// PKI directory (default: certificatesDir of --config, or /etc/kubernetes/pki).
        #[arg(long)]
        cert_dir: Option<PathBuf>,
        /// Config file, for certificatesDir.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Directory of admin.conf, super-admin.conf, controller-manager.conf and
        /// scheduler.conf (default /etc/kubernetes).
        #[arg(long)]
        kubeconfig_dir: Option<PathBuf>,
        /// Output format.
        #[arg(short, long, value_enum, default_value_t = ExpirationFormat::Table)]
        output: ExpirationFormat,
    },
}

/// Output of `certs check-expiration`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExpirationFormat {
    /// Human table.
    Table,
    /// JSON.
    Json,
    /// YAML.
    Yaml,
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
        Some(p) => Some(config::load(
            Some(p),
            &config::Overrides::default(),
            &crate::host::Facts::detect().config_defaults(),
        )?),
        None => None,
    };
    let cert_dir = cert_dir
        .or_else(|| cfg.as_ref().map(|c| c.cert_dir.clone()))
        .unwrap_or_else(|| PathBuf::from(crate::host::DEFAULT_CERT_DIR));
    let kubeconfig_dir =
        kubeconfig_dir.unwrap_or_else(|| PathBuf::from(crate::host::KUBERNETES_DIR));
    let external_etcd = match &cfg {
        Some(c) => c.is_external_etcd(),
        None => !cert_dir.join(crate::pki::ETCD_CA.cert_file()).exists(),
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
