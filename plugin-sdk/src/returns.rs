//! What the functions behind `#[filter]`, `#[transform]` and `#[handler]` may return.
//!
//! Each plugin function may return its value directly or in a `Result<_, E>` with any
//! `E: Display`; an `Err` becomes the plugin error the host logs.

use std::fmt::Display;

use serde_json::Value;

use crate::{Envelope, Message, Output};

/// A filter's return value: `bool` or `Result<bool, E>`.
#[diagnostic::on_unimplemented(
    message = "a filter returns `bool` or `Result<bool, E>` with `E: Display`, not `{Self}`"
)]
pub trait FilterReturn {
    fn into_verdict(self) -> Result<bool, String>;
}

impl FilterReturn for bool {
    fn into_verdict(self) -> Result<bool, String> {
        Ok(self)
    }
}

impl<E: Display> FilterReturn for Result<bool, E> {
    fn into_verdict(self) -> Result<bool, String> {
        self.map_err(|e| e.to_string())
    }
}

/// A transform's return value: anything that converts into an [`Output`] ([`Output`],
/// [`Message`], `Vec<Message>`, `Option<Message>`, [`Envelope`]), or a `Result` of one.
#[diagnostic::on_unimplemented(
    message = "a transform returns an `Output`, `Message`, `Vec<Message>`, `Option<Message>` or \
               `Envelope`, or a `Result` of one with `E: Display`; not `{Self}`"
)]
pub trait TransformReturn {
    fn into_output(self) -> Result<Output, String>;
}

macro_rules! transform_return {
    ($($t:ty),*) => {$(
        impl TransformReturn for $t {
            fn into_output(self) -> Result<Output, String> {
                Ok(self.into())
            }
        }
    )*};
}

transform_return!(Output, Message, Vec<Message>, Option<Message>, Envelope);

impl<O: Into<Output>, E: Display> TransformReturn for Result<O, E> {
    fn into_output(self) -> Result<Output, String> {
        self.map(Into::into).map_err(|e| e.to_string())
    }
}

/// A handler's return value: the result JSON as is (`serde_json::Value`, `bool`, [`Output`]),
/// or a `Result` of one.
#[diagnostic::on_unimplemented(
    message = "a handler returns a `serde_json::Value`, `bool` or `Output`, or a `Result` of one \
               with `E: Display`; not `{Self}`"
)]
pub trait HandlerReturn {
    fn into_json(self) -> Result<Value, String>;
}

impl HandlerReturn for Value {
    fn into_json(self) -> Result<Value, String> {
        Ok(self)
    }
}

impl HandlerReturn for bool {
    fn into_json(self) -> Result<Value, String> {
        Ok(Value::Bool(self))
    }
}

impl HandlerReturn for Output {
    fn into_json(self) -> Result<Value, String> {
        serde_json::to_value(self).map_err(|e| e.to_string())
    }
}

impl<T: HandlerReturn, E: Display> HandlerReturn for Result<T, E> {
    fn into_json(self) -> Result<Value, String> {
        self.map_err(|e| e.to_string())?.into_json()
    }
}
