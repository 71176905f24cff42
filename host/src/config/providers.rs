//! Values that only one provider's scheme uses, checked as the provider writes them, so that a
//! value copied from the wrong field of a console fails `check`, not every delivery.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::parse_str::{ParseStr, deserialize_from_str};

/// The id PayPal shows for a webhook (`"0FV983392A0531201"`): letters and digits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct PaypalWebhookId(pub String);

impl ParseStr for PaypalWebhookId {
    const EXPECTING: &'static str = r#"a PayPal webhook id such as "0FV983392A0531201""#;

    fn parse_str(text: &str) -> Result<Self, String> {
        if !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Ok(PaypalWebhookId(text.to_owned()));
        }
        let hint = if text.starts_with("WH-") {
            r#" ("WH-..." is the id of an event, not of the webhook)"#
        } else {
            ""
        };
        Err(format!(
            "{text:?} is not a PayPal webhook id{hint}; it holds only letters and digits, \
             such as \"0FV983392A0531201\", as the PayPal dashboard shows it for the webhook"
        ))
    }
}

/// A SendGrid verification key: the base64 of a DER SubjectPublicKeyInfo holding an ECDSA
/// P-256 public key (`"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE..."`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct SendgridPublicKey(pub String);

/// The DER of a SubjectPublicKeyInfo for id-ecPublicKey on prime256v1, up to the point, for an
/// uncompressed point (`04`, 64 bytes) and a compressed one (`02`/`03`, 32 bytes).
const P256_UNCOMPRESSED: &[u8] = &[
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04,
];
const P256_COMPRESSED: &[u8] = &[
    0x30, 0x39, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x22, 0x00,
];

impl ParseStr for SendgridPublicKey {
    const EXPECTING: &'static str = r#"a SendGrid verification key "MFkw...""#;

    fn parse_str(text: &str) -> Result<Self, String> {
        const AS_SHOWN: &str =
            "copy the verification key SendGrid shows for the signed Event Webhook (\"MFkw...\")";
        if text.starts_with("SG.") {
            return Err(format!(
                "this is a SendGrid API key, not the webhook's public key; {AS_SHOWN}"
            ));
        }
        let der = BASE64
            .decode(text)
            .map_err(|_| format!("the public key is not valid base64; {AS_SHOWN}"))?;
        let is_p256 = |prefix: &[u8], point: usize| {
            der.len() == prefix.len() + point && der.starts_with(prefix)
        };
        let compressed = is_p256(P256_COMPRESSED, 33) && matches!(der[26], 2 | 3);
        if is_p256(P256_UNCOMPRESSED, 64) || compressed {
            Ok(SendgridPublicKey(text.to_owned()))
        } else {
            Err(format!(
                "the public key is not an ECDSA P-256 public key (base64 of a DER \
                 SubjectPublicKeyInfo); {AS_SHOWN}"
            ))
        }
    }
}

/// An SNS topic ARN a source accepts, `arn:aws:sns:REGION:ACCOUNT:NAME`, where any segment
/// after `arn` but `sns` may be `*`, matching any value of that segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct SnsTopicArn(pub String);

impl ParseStr for SnsTopicArn {
    const EXPECTING: &'static str =
        r#"an SNS topic ARN such as "arn:aws:sns:us-east-1:123456789012:my-topic""#;

    fn parse_str(text: &str) -> Result<Self, String> {
        check_arn(text)
            .map(|()| SnsTopicArn(text.to_owned()))
            .map_err(|why| {
                format!(
                    "{text:?} is not an SNS topic ARN: {why}; expected an ARN such as \
                 \"arn:aws:sns:us-east-1:123456789012:my-topic\" (`*` for a whole segment \
                 matches any)"
                )
            })
    }
}

fn check_arn(text: &str) -> Result<(), &'static str> {
    let segments: Vec<&str> = text.split(':').collect();
    let [arn, partition, service, region, account, name] = segments[..] else {
        return Err("it must have six `:`-separated parts");
    };
    if arn != "arn" {
        return Err(r#"it must start with "arn:""#);
    }
    if service != "sns" {
        return Err(r#"the service (third part) must be "sns""#);
    }
    let segments = [partition, region, account, name];
    if segments.iter().any(|s| *s != "*" && s.contains('*')) {
        return Err("`*` must stand for a whole segment, not part of one");
    }
    let lower = |s: &str| s.chars().all(|c| c.is_ascii_lowercase() || c == '-');
    if partition != "*" && !(partition.starts_with("aws") && lower(partition)) {
        return Err(r#"the partition must be "aws", "aws-cn", "aws-us-gov", ..."#);
    }
    if region != "*" && !is_region(region) {
        return Err(r#"the region must be a region such as "us-east-1""#);
    }
    if account != "*" && !(account.len() == 12 && account.chars().all(|c| c.is_ascii_digit())) {
        return Err("the account must be 12 digits");
    }
    let base = name.strip_suffix(".fifo").unwrap_or(name);
    let name_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if name != "*"
        && !((1..=256).contains(&name.len()) && !base.is_empty() && base.chars().all(name_char))
    {
        return Err(
            "the topic name must be 1 to 256 letters, digits, `-` and `_` (and `.fifo` at the end of a FIFO topic)",
        );
    }
    Ok(())
}

/// `us-east-1`, `us-gov-west-1`, `cn-north-1`, `ap-southeast-4`: lower-case words and a number.
fn is_region(text: &str) -> bool {
    let words: Vec<&str> = text.split('-').collect();
    let [first, middle @ .., number] = &words[..] else {
        return false;
    };
    let word = |w: &&str| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase());
    !middle.is_empty()
        && word(first)
        && middle.iter().all(word)
        && !number.is_empty()
        && number.chars().all(|c| c.is_ascii_digit())
}

deserialize_from_str!(PaypalWebhookId, SendgridPublicKey, SnsTopicArn);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paypal_webhook_ids_are_alphanumeric() {
        assert!(PaypalWebhookId::parse_str("0FV983392A0531201").is_ok());
        assert!(
            PaypalWebhookId::parse_str("WH-2WR32451HC0233532-67976317FL4543714")
                .unwrap_err()
                .contains("id of an event")
        );
        assert!(PaypalWebhookId::parse_str("").is_err());
        assert!(PaypalWebhookId::parse_str("https://example.com/hook").is_err());
    }

    #[test]
    fn sendgrid_keys_are_p256_public_keys() {
        // From sendgrid-nodejs' eventwebhook tests.
        let key = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g==";
        assert!(SendgridPublicKey::parse_str(key).is_ok());
        let compressed = {
            let mut der = P256_COMPRESSED.to_vec();
            der.push(2);
            der.extend([7; 32]);
            BASE64.encode(der)
        };
        assert!(SendgridPublicKey::parse_str(&compressed).is_ok());
        let err = |text: &str| SendgridPublicKey::parse_str(text).unwrap_err();
        assert!(err(&key[..key.len() - 4]).contains("not an ECDSA P-256"));
        assert!(err("not base64!").contains("not valid base64"));
        assert!(err("SG.abc.def").contains("API key"));
        // An RSA key, say.
        assert!(err("MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA").contains("not an ECDSA P-256"));
    }

    #[test]
    fn sns_topics_are_arns_with_whole_segment_wildcards() {
        for ok in [
            "arn:aws:sns:us-east-1:123456789012:my-topic",
            "arn:aws:sns:*:123456789012:*",
            "arn:aws-cn:sns:cn-north-1:123456789012:Orders_2",
            "arn:aws-us-gov:sns:us-gov-west-1:123456789012:t.fifo",
            "arn:*:sns:*:*:*",
        ] {
            assert!(SnsTopicArn::parse_str(ok).is_ok(), "{ok}");
        }
        let why = |text: &str| SnsTopicArn::parse_str(text).unwrap_err();
        assert!(why("my-topic").contains("six"));
        assert!(why("arn:aws:sqs:us-east-1:123456789012:q").contains("\"sns\""));
        assert!(why("arn:aws:sns:us-east-1:123456789012:orders-*").contains("whole segment"));
        assert!(why("arn:aws:sns:us-east-1:1234:t").contains("12 digits"));
        assert!(why("arn:aws:sns:useast1:123456789012:t").contains("region"));
        assert!(why("arn:aws:sns:us-east-1:123456789012:a.b").contains("topic name"));
        assert!(why("arn:aws:sns:us-east-1:123456789012:").contains("topic name"));
        assert!(why("arn:gcp:sns:us-east-1:123456789012:t").contains("partition"));
    }
}
