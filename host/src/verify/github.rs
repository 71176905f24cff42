//! GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`; with `legacy_sha1`,
//! also the older `X-Hub-Signature: sha1=...` when the SHA-256 header is absent.

use hmac::{Hmac, Mac};

use super::incoming::{Handshake, Incoming};
use super::{Rejection, header, hmac_sha256_matches, within_limit};

pub struct Github {
    secret: Vec<u8>,
    legacy_sha1: bool,
}

impl Github {
    pub fn new(secret: &str, legacy_sha1: bool) -> Github {
        Github {
            secret: secret.as_bytes().to_vec(),
            legacy_sha1,
        }
    }

    pub fn verify(&self, req: &Incoming<'_>) -> Result<(), Rejection> {
        match header(req.headers, "x-hub-signature-256") {
            Some(signature) => check("X-Hub-Signature-256", signature, "sha256=", |mac| {
                hmac_sha256_matches(&self.secret, &[req.body], mac)
            }),
            None if self.legacy_sha1 => {
                let signature = header(req.headers, "x-hub-signature").ok_or_else(|| {
                    Rejection::unauthorized(
                        "missing X-Hub-Signature-256 (or legacy X-Hub-Signature) header",
                    )
                })?;
                check("X-Hub-Signature", signature, "sha1=", |mac| {
                    let mut hmac =
                        Hmac::<sha1::Sha1>::new_from_slice(&self.secret).expect("any key size");
                    hmac.update(req.body);
                    hmac.verify_slice(mac).is_ok()
                })
            }
            None => Err(Rejection::unauthorized(
                "missing X-Hub-Signature-256 header",
            )),
        }
    }

    pub fn event_type(&self, req: &Incoming<'_>) -> Option<String> {
        header(req.headers, "x-github-event").map(str::to_owned)
    }

    pub fn delivery_id(&self, req: &Incoming<'_>) -> Option<String> {
        header(req.headers, "x-github-delivery").map(str::to_owned)
    }

    pub fn handshake(&self, _req: &Incoming<'_>) -> Option<Result<Handshake, Rejection>> {
        None
    }
}

/// Checks a `<prefix><hex MAC>` header with `matches`.
fn check(
    name: &str,
    signature: &str,
    prefix: &str,
    matches: impl Fn(&[u8]) -> bool,
) -> Result<(), Rejection> {
    let hex_mac = within_limit(name, signature)?
        .strip_prefix(prefix)
        .ok_or_else(|| Rejection::unauthorized(format!("{name} must start with {prefix}")))?;
    let mac =
        hex::decode(hex_mac).map_err(|_| Rejection::unauthorized(format!("{name} is not hex")))?;
    if matches(&mac) {
        Ok(())
    } else {
        Err(Rejection::unauthorized(format!(
            "{name} does not match the body and the source's secret"
        )))
    }
}
