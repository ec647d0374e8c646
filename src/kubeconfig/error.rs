//! `kubeconfig::Error`: every failure names the kubeconfig file and, for a file plinth will
//! not reuse, says how to fix it.

use std::path::PathBuf;

use crate::host::fs::FsError;

/// A kubeconfig operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading a kubeconfig failed.
    #[error("failed to read kubeconfig {}", path.display())]
    ReadKubeconfig {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A kubeconfig is not valid YAML of the expected shape.
    #[error("failed to parse kubeconfig {}", path.display())]
    ParseKubeconfig {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: serde_saphyr::Error,
    },
    /// Serializing a kubeconfig failed.
    #[error("failed to render kubeconfig {}", path.display())]
    RenderKubeconfig {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: serde_saphyr::SerializeError,
    },
    /// A base64 `*-data` field does not decode.
    #[error("failed to decode {field} in {}", path.display())]
    DecodeData {
        /// The file.
        path: PathBuf,
        /// The field.
        field: &'static str,
        /// The cause.
        #[source]
        source: base64::DecodeError,
    },
    /// The current context, or its cluster, does not resolve.
    #[error(
        "{} has no usable current context ({what}); remove {} to have plinth write a new one",
        path.display(), path.display()
    )]
    MissingContext {
        /// The file.
        path: PathBuf,
        /// What is missing.
        what: String,
    },
    /// The embedded CA is not the cluster CA.
    #[error(
        "{} exists but embeds a CA certificate other than {}; remove {} to have plinth write a new one, or restore the CA it was made for",
        path.display(), ca.display(), path.display()
    )]
    CaMismatch {
        /// The kubeconfig.
        path: PathBuf,
        /// The cluster CA certificate.
        ca: PathBuf,
    },
    /// The embedded client certificate was not issued by the cluster CA.
    #[error(
        "{} exists but its client certificate is not signed by {}; remove {} to have plinth write a new one",
        path.display(), ca.display(), path.display()
    )]
    ForeignClientCert {
        /// The kubeconfig.
        path: PathBuf,
        /// The cluster CA certificate.
        ca: PathBuf,
    },
    /// A PKI operation failed (loading the CA, issuing the client certificate).
    #[error(transparent)]
    Pki(#[from] crate::pki::Error),
    /// Writing the file failed.
    #[error(transparent)]
    Write(#[from] FsError),
}

/// Shorthand.
pub type Result<T, E = Error> = std::result::Result<T, E>;
