//! GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`.

use http::HeaderMap;

use super::{Rejection, header, hmac_sha256_matches};

pub struct Github {
    secret: Vec<u8>,
}

impl Github {
    pub fn new(secret: &str) -> Github {
        Github {
            secret: secret.as_bytes().to_vec(),
        }
    }

    pub fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), Rejection> {
        let signature = header(headers, "x-hub-signature-256")
            .ok_or_else(|| Rejection::unauthorized("missing X-Hub-Signature-256 header"))?;
        let hex_mac = signature.strip_prefix("sha256=").ok_or_else(|| {
            Rejection::unauthorized("X-Hub-Signature-256 must start with sha256=")
        })?;
        let mac = hex::decode(hex_mac)
            .map_err(|_| Rejection::unauthorized("X-Hub-Signature-256 is not hex"))?;
        if hmac_sha256_matches(&self.secret, &[body], &mac) {
            Ok(())
        } else {
            Err(Rejection::unauthorized(
                "X-Hub-Signature-256 does not match the body and the source's secret",
            ))
        }
    }
}
