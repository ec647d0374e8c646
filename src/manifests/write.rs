//! Writing manifests: mode 0600 in a 0700 directory, atomically (hidden temp file, fsync,
//! rename), and not at all when the file already has this content, so the kubelet does not
//! restart a component for nothing. Each write is recorded in the directory's ledger
//! ([`crate::host::owned`]), so pre-flight recognises plinth's own manifests.

use std::path::Path;

use crate::host::fs::WriteOutcome;
use crate::host::owned::write_owned;

use super::{Manifest, RenderError};

/// Mode of a static Pod manifest (kubeadm `WriteStaticPodToDisk`).
const MANIFEST_MODE: u32 = 0o600;
/// Mode of a manifest directory plinth creates.
const MANIFEST_DIR_MODE: u32 = 0o700;

/// Writes `m` as `<dir>/<component>.yaml` unless the file already holds exactly this content.
///
/// # Errors
/// [`RenderError::WriteManifest`] naming the path.
pub fn write_manifest(dir: &Path, m: &Manifest) -> Result<WriteOutcome, RenderError> {
    let path = dir.join(m.component.file_name());
    write_owned(&path, m.yaml.as_bytes(), MANIFEST_MODE, MANIFEST_DIR_MODE).map_err(|source| {
        RenderError::WriteManifest {
            component: m.component.name(),
            source,
        }
    })
}
