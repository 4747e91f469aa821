//! [`Secret`]: the only type that holds a password, client secret, API key or token.
//!
//! It redacts `Debug`, has no `Display`, refuses to serialize (serialization returns an error,
//! so a secret can never slip into an IPC payload, a profile file or a JSON report), and wipes
//! its memory on drop. Read it only where it goes on the wire or into the keychain, via
//! [`Secret::expose`].

use serde::{Serialize, Serializer};
use std::fmt;
use zeroize::Zeroizing;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(Zeroizing::new(value.into()))
    }

    /// The secret value. Call sites are the wire and the keychain; grep for them in review.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, _serializer: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("a Secret cannot be serialized"))
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret::new(value)
    }
}

/// The redaction guard: every occurrence in `text` of a secret's value (4 characters or more;
/// shorter ones would redact ordinary words) becomes `[redacted]`.
pub fn scrub(text: &str, secrets: &[&Secret]) -> String {
    let mut out = text.to_string();
    for secret in secrets {
        let v = secret.expose();
        if v.len() >= 4 && out.contains(v) {
            out = out.replace(v, "[redacted]");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = Secret::new("hunter2-very-secret");
        assert_eq!(format!("{s:?}"), "Secret([redacted])");
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Holder {
            s: Secret,
        }
        assert!(!format!("{:?}", Holder { s }).contains("hunter2"));
    }

    #[test]
    fn serialization_is_refused() {
        let err = serde_json::to_string(&Secret::new("hunter2")).unwrap_err();
        assert!(err.to_string().contains("cannot be serialized"));
        #[derive(Serialize)]
        struct Dto {
            name: &'static str,
            token: Secret,
        }
        assert!(serde_json::to_string(&Dto {
            name: "x",
            token: Secret::new("t0k3n")
        })
        .is_err());
    }

    #[test]
    fn scrub_replaces_each_secret_and_leaves_short_ones() {
        let (a, b) = (Secret::new("hunter22"), Secret::new("abc"));
        assert_eq!(
            scrub("pw hunter22, again hunter22; abc", &[&a, &b]),
            "pw [redacted], again [redacted]; abc"
        );
    }
}
