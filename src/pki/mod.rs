//! Public-key infrastructure: kubeadm's certificate table, key generation, loading and
//! verifying what is on disk. (Being filled in.)

/// Keys generated ahead of time, in parallel.
#[derive(Debug, Default)]
pub struct KeyPool;
