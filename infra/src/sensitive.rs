//! A value that must never be shown: passwords and other write-only secrets.
//!
//! `Debug`, `Display` and `Serialize` all print `(sensitive)`, so leaking a secret into a plan,
//! a log line or an error message is a type error rather than a review comment. The only way to
//! the value is [`Sensitive::expose`], which is easy to grep for.

use std::fmt;

pub const REDACTED: &str = "(sensitive)";

#[derive(Clone, PartialEq, Eq)]
pub struct Sensitive<T>(T);

impl<T> Sensitive<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret itself. Call this only where the value is handed to AWS.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Sensitive<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<T> fmt::Display for Sensitive<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<T> serde::Serialize for Sensitive<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_reveals_the_value() {
        let secret = Sensitive::new(String::from("hunter2-Secret!"));
        assert_eq!(format!("{secret}"), REDACTED);
        assert_eq!(format!("{secret:?}"), REDACTED);
        assert_eq!(format!("{:?}", Some(&secret)), "Some((sensitive))");
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"(sensitive)\"");
        assert_eq!(secret.expose(), "hunter2-Secret!");
    }
}
