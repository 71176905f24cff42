//! Content hashes: what names a version of a file (a plugin, routes.toml) in the logs, the
//! admin API and the compile cache.

use sha2::{Digest, Sha256};

/// The sha256 of `bytes`, in lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
