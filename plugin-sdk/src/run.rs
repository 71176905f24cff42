//! The byte-level contract shared by both transports: envelope JSON in, result JSON out.
//!
//! `#[filter]`, `#[transform]` and `#[handler]` call these from the `handle` export;
//! [`crate::command`] calls them with stdin and stdout. They are public so that a plugin's
//! tests can run it exactly as the host will.

use crate::Envelope;
use crate::returns::{FilterReturn, HandlerReturn, TransformReturn};

/// Runs a filter on envelope JSON; `Ok` holds `true` or `false`.
pub fn filter<R: FilterReturn>(
    envelope: &[u8],
    f: impl FnOnce(&Envelope) -> R,
) -> Result<Vec<u8>, String> {
    let envelope = Envelope::from_json(envelope)?;
    let pass = f(&envelope).into_verdict()?;
    Ok(if pass {
        b"true".to_vec()
    } else {
        b"false".to_vec()
    })
}

/// Runs a transform on envelope JSON; `Ok` holds `null`, an object or an array of objects.
pub fn transform<R: TransformReturn>(
    envelope: &[u8],
    f: impl FnOnce(Envelope) -> R,
) -> Result<Vec<u8>, String> {
    let envelope = Envelope::from_json(envelope)?;
    Ok(f(envelope).into_output()?.to_json())
}

/// Runs an untyped handler on envelope JSON; `Ok` holds whatever JSON it returned.
pub fn handler<R: HandlerReturn>(
    envelope: &[u8],
    f: impl FnOnce(Envelope) -> R,
) -> Result<Vec<u8>, String> {
    let envelope = Envelope::from_json(envelope)?;
    let value = f(envelope).into_json()?;
    serde_json::to_vec(&value).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Error, Message, Output};
    use serde_json::json;

    const PUSH: &[u8] = br#"{"type": "push", "body": {"ref": "refs/heads/main"}}"#;

    #[test]
    fn filter_writes_true_or_false() {
        assert_eq!(filter(PUSH, |e| e.is("push")).unwrap(), b"true");
        assert_eq!(filter(PUSH, |e| e.is("issues")).unwrap(), b"false");
    }

    #[test]
    fn filter_errors_become_err() {
        let err = filter(PUSH, |_| Err::<bool, _>(Error::new("no"))).unwrap_err();
        assert_eq!(err, "no");
    }

    #[test]
    fn a_bad_envelope_is_err_and_the_function_is_not_called() {
        let err = transform(b"[1,", |_| -> Output { unreachable!() }).unwrap_err();
        assert!(err.starts_with("invalid envelope:"), "{err}");
        let err = filter(b"", |_| -> bool { unreachable!() }).unwrap_err();
        assert!(err.starts_with("invalid envelope:"), "{err}");
    }

    #[test]
    fn transform_accepts_every_output_shape() {
        let out = transform(PUSH, |e| Message::new(e.body).key("k")).unwrap();
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&out).unwrap(),
            json!({"body": {"ref": "refs/heads/main"}, "key": "k"})
        );
        assert_eq!(transform(PUSH, |_| Output::drop()).unwrap(), b"null");
        assert_eq!(transform(PUSH, |_| Vec::<Message>::new()).unwrap(), b"[]");
        let err = transform(PUSH, |_| Err::<Output, _>("bad config")).unwrap_err();
        assert_eq!(err, "bad config");
        let ok = transform(PUSH, |_| Ok::<_, String>(Message::new(1))).unwrap();
        assert_eq!(ok, br#"{"body":1}"#);
    }

    #[test]
    fn handler_returns_json_as_is() {
        assert_eq!(handler(PUSH, |_| json!("x")).unwrap(), br#""x""#);
        assert_eq!(handler(PUSH, |_| true).unwrap(), b"true");
        assert_eq!(
            handler(PUSH, |_| Err::<bool, _>("boom")).unwrap_err(),
            "boom"
        );
    }
}
