//! Values written as TOML strings and checked as they are deserialized.
//!
//! Each such value is a newtype implementing [`ParseStr`]; [`deserialize_from_str!`] gives it a
//! serde `Deserialize` that accepts only a string and validates it on the spot. The check thus
//! happens inside the TOML deserializer, which attaches the position of the exact string that
//! failed, even inside an array.

/// A value written as a string in routes.toml.
pub(super) trait ParseStr: Sized {
    /// What a good value looks like, for "expected ..." in messages.
    const EXPECTING: &'static str;

    /// Checks and converts the string; the error is one sentence without the key's name.
    fn parse_str(text: &str) -> Result<Self, String>;
}

/// Implements `serde::Deserialize` for types implementing [`ParseStr`].
macro_rules! deserialize_from_str {
    ($($ty:ty),+ $(,)?) => {$(
        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_str(super::parse_str::StrVisitor::<$ty>::new())
            }
        }
    )+};
}
pub(super) use deserialize_from_str;

/// The serde visitor behind [`deserialize_from_str!`].
pub(super) struct StrVisitor<T>(std::marker::PhantomData<T>);

impl<T> StrVisitor<T> {
    pub(super) fn new() -> Self {
        StrVisitor(std::marker::PhantomData)
    }
}

impl<T: ParseStr> serde::de::Visitor<'_> for StrVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(T::EXPECTING)
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<T, E> {
        T::parse_str(text).map_err(E::custom)
    }
}
