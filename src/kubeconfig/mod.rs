//! Kubeconfig files (filled in by the kubeconfig work).
