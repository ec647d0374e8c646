//! Public-key infrastructure: kubeadm's certificate table (`spec`), SANs (`sans`), key
//! generation and kubeadm's PEM formats (`keys`), issuing (`issue`, `ca`), converging
//! the PKI directory without ever overwriting (`store`) and expiry reports (`expiry`).
//! Knows nothing of the CLI, phases or stdout.

mod ca;
mod cert;
pub mod copycerts;
mod error;
mod expiry;
mod issue;
mod keys;
mod sans;
mod spec;
mod store;
#[cfg(test)]
pub(crate) mod testutil;

pub use ca::{Ca, load_ca};
pub use cert::{Cert, load_cert, parse_cert_der, parse_cert_pem};
pub use error::{Detail, Error, Result};
pub use expiry::{CertExpiry, check_expiration, check_expiration_at, short_human_duration};
pub use issue::{BACKDATE, CertConfig, generate_ca_cert, generate_signed_cert, random_serial};
pub use keys::{KeyKind, KeyPool, PrivateKey, generate_key, load_key, parse_key_pem};
pub use sans::{AltNames, alt_names, apiserver_alt_names};
pub use spec::{
    APISERVER, APISERVER_ETCD_CLIENT, APISERVER_KUBELET_CLIENT, CA, CERTS, CertSpec, CommonName,
    ETCD_CA, ETCD_HEALTHCHECK_CLIENT, ETCD_PEER, ETCD_SERVER, ExtUsage, FRONT_PROXY_CA,
    FRONT_PROXY_CLIENT, SA_KEY_FILE, SA_NAME, SA_PUB_FILE, SA_SUMMARY, SanKind, certs_for, find,
};
pub use store::{
    CERT_MODE, CertOutcome, KEY_MODE, SaOutcome, cert_config, cert_needs_key, ensure_cert,
    ensure_cert_at, ensure_sa, sa_needs_key,
};
