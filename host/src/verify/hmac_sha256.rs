//! Generic HMAC-SHA256 of the raw body in a header of the operator's choice, hex or base64,
//! with an optional prefix such as `sha256=`.

use super::incoming::{Handshake, Incoming};
use super::{Rejection, hmac_sha256_matches, signature_header};
use crate::config::SignatureEncoding;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

pub struct HmacSha256 {
    secret: Vec<u8>,
    header: String,
    encoding: SignatureEncoding,
    prefix: String,
}

impl HmacSha256 {
    pub fn new(
        secret: &str,
        header: &str,
        encoding: SignatureEncoding,
        prefix: &str,
    ) -> HmacSha256 {
        HmacSha256 {
            secret: secret.as_bytes().to_vec(),
            header: header.to_ascii_lowercase(),
            encoding,
            prefix: prefix.to_owned(),
        }
    }

    pub fn verify(&self, req: &Incoming<'_>) -> Result<(), Rejection> {
        let (headers, body) = (req.headers, req.body);
        let name = &self.header;
        let value = signature_header(headers, name, name)?;
        let encoded = value.strip_prefix(self.prefix.as_str()).ok_or_else(|| {
            Rejection::unauthorized(format!("{name} must start with {:?}", self.prefix))
        })?;
        let mac = match self.encoding {
            SignatureEncoding::Hex => hex::decode(encoded.trim()).ok(),
            SignatureEncoding::Base64 => BASE64.decode(encoded.trim()).ok(),
        }
        .ok_or_else(|| {
            Rejection::unauthorized(format!("{name} is not valid {:?}", self.encoding))
        })?;
        if hmac_sha256_matches(&self.secret, &[body], &mac) {
            Ok(())
        } else {
            Err(Rejection::unauthorized(format!(
                "{name} does not match the body and the source's secret"
            )))
        }
    }

    pub fn event_type(&self, _req: &Incoming<'_>) -> Option<String> {
        None
    }

    pub fn delivery_id(&self, _req: &Incoming<'_>) -> Option<String> {
        None
    }

    pub fn handshake(&self, _req: &Incoming<'_>) -> Option<Result<Handshake, Rejection>> {
        None
    }
}
