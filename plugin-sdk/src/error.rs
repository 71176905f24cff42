//! The error a plugin returns to make the call a plugin error.

use std::fmt;

/// A plugin error: a message for the operator. The host handles it with the plugin's
/// `on_error` and logs it with the plugin's stderr.
///
/// Filters and transforms may return `Result<_, E>` for any `E: Display`; this type is the
/// SDK's own (envelope and config parse errors) and a convenient choice for plugins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    message: String,
}

impl Error {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<String> for Error {
    fn from(message: String) -> Self {
        Self::new(message)
    }
}

impl From<&str> for Error {
    fn from(message: &str) -> Self {
        Self::new(message)
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Self::new(e.to_string())
    }
}

impl From<Error> for String {
    fn from(e: Error) -> Self {
        e.message
    }
}
