//! Linux: the Secret Service over **one** D-Bus connection and **one** encrypted session per
//! process, reused for every read, write and delete.
//!
//! `keyring` 3 opens a new connection and negotiates a new Diffie-Hellman session (a 1024-bit
//! modular exponentiation) for every call — about 13 ms each, four times for an OAuth profile,
//! 200 times for `test --all` over 200 profiles. This module keeps the session instead, and
//! reads and writes the very same items `keyring` does (attributes `service`, `username`,
//! `target = default`, `application = rust-keyring`; the default collection), so entries saved
//! by earlier versions, or by any keyring-based tool, stay readable and the reverse.
//!
//! A session is never cached in a failed state: no Secret Service → the next call tries again;
//! a connection that broke (the keyring daemon restarted) is dropped and made again once.

use crate::error::{Code, Diagnosis};
use crate::secret::Secret;
use dbus_secret_service::{EncryptionType, Error, Item, SecretService};
use std::collections::HashMap;
use std::sync::Mutex;

/// The process's one session; `None` until the first call, and again after a broken one.
static SESSION: Mutex<Option<SecretService>> = Mutex::new(None);

/// The keyring-compatible attributes: the `target` keyring 3 gives every entry it creates.
const TARGET: &str = "default";
const APPLICATION: &str = "rust-keyring";

fn search_attributes<'a>(service: &'a str, user: &'a str) -> HashMap<&'a str, &'a str> {
    HashMap::from([("service", service), ("username", user), ("target", TARGET)])
}

/// Runs `f` on the shared session, connecting first when there is none. A D-Bus or crypto
/// failure drops the session and runs `f` once more on a new one (every caller is idempotent).
fn with_session<T>(f: impl Fn(&SecretService) -> Result<T, Error>) -> Result<T, Diagnosis> {
    let mut guard = SESSION.lock().unwrap_or_else(|p| p.into_inner());
    let mut retried = false;
    loop {
        if guard.is_none() {
            *guard = Some(SecretService::connect(EncryptionType::Dh).map_err(diagnose)?);
        }
        let session = guard.as_ref().expect("connected above");
        match f(session) {
            Err(e) if !retried && connection_may_be_stale(&e) => {
                tracing::debug!("secret service session dropped after: {e}");
                *guard = None;
                retried = true;
            }
            other => return other.map_err(diagnose),
        }
    }
}

/// Failures a new connection and session can cure (a restarted daemon no longer knows our
/// session; a closed bus). Locked items and dismissed prompts are answers, not stale sessions.
fn connection_may_be_stale(e: &Error) -> bool {
    matches!(e, Error::Dbus(_) | Error::Crypto(_) | Error::Unavailable)
}

/// The unique item for `user`, unlocked (prompting when the keyring asks for it).
fn find<'s>(ss: &'s SecretService, service: &str, user: &str) -> Result<Vec<Item<'s>>, Error> {
    let found = ss.search_items(search_attributes(service, user))?;
    for item in &found.locked {
        item.unlock()?;
    }
    Ok(found.unlocked.into_iter().chain(found.locked).collect())
}

/// Opens the session on a background thread. Its Diffie-Hellman exchange (dbus-secret-service
/// computes two 1024-bit modular powers, ~5 ms here) then overlaps with what the command does
/// before its first secret (the profile file, the HTTP client's certificate store). The first
/// call waits on the session lock for it; a failure is dropped, and that call tries again and
/// reports its own error.
pub fn prewarm() {
    let spawned = std::thread::Builder::new()
        .name("keychain".into())
        .spawn(|| {
            if let Err(e) = with_session(|_| Ok(())) {
                tracing::debug!("keychain prewarm: {e:?}");
            }
        });
    if let Err(e) = spawned {
        tracing::debug!("keychain prewarm not started: {e}");
    }
}

pub fn get(service: &str, user: &str) -> Result<Option<Secret>, Diagnosis> {
    let bytes = with_session(|ss| {
        let items = find(ss, service, user)?;
        match items.as_slice() {
            [] => Ok(None),
            [item] => item.get_secret().map(Some),
            _ => Err(Error::Path(ambiguous(user, items.len()))),
        }
    })?;
    bytes
        .map(|b| {
            String::from_utf8(b).map(Secret::new).map_err(|_| {
                Diagnosis::new(Code::KeychainUnavailable).with_detail(format!(
                    "the keychain entry {user:?} is not UTF-8 text; delete it and save the secret again"
                ))
            })
        })
        .transpose()
}

pub fn set(service: &str, user: &str, secret: &Secret) -> Result<(), Diagnosis> {
    with_session(|ss| {
        let items = find(ss, service, user)?;
        if let [item] = items.as_slice() {
            return item.set_secret(secret.expose().as_bytes(), "text/plain");
        }
        let collection = ss.get_default_collection()?;
        collection.ensure_unlocked()?;
        let mut attributes = search_attributes(service, user);
        attributes.insert("application", APPLICATION);
        let label = format!("{user}@{service}:{TARGET} (snconnect)");
        // replace = true: an existing item with these attributes is overwritten, never doubled.
        collection.create_item(
            &label,
            attributes,
            secret.expose().as_bytes(),
            true,
            "text/plain",
        )?;
        Ok(())
    })
}

pub fn delete(service: &str, user: &str) -> Result<(), Diagnosis> {
    with_session(|ss| {
        for item in find(ss, service, user)? {
            item.delete()?;
        }
        Ok(())
    })
}

fn ambiguous(user: &str, n: usize) -> String {
    format!("{n} keychain entries match {user:?}; delete them and save the secret again")
}

/// The two stable codes; the raw D-Bus text goes to `detail` only.
fn diagnose(e: Error) -> Diagnosis {
    let raw = e.to_string();
    let code = match &e {
        Error::Locked | Error::Prompt | Error::NoResult => Code::KeychainLocked,
        _ if raw.to_ascii_lowercase().contains("locked") => Code::KeychainLocked,
        _ => Code::KeychainUnavailable,
    };
    Diagnosis::new(code).with_detail(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_map_to_the_two_stable_codes() {
        assert_eq!(diagnose(Error::Locked).code, Code::KeychainLocked);
        assert_eq!(diagnose(Error::Prompt).code, Code::KeychainLocked);
        let locked = Error::Path("org.freedesktop.Secret.Error.IsLocked: Cannot create".into());
        assert_eq!(diagnose(locked).code, Code::KeychainLocked);
        let d = diagnose(Error::Unavailable);
        assert_eq!(d.code, Code::KeychainUnavailable);
        assert!(d.remediation.unwrap().contains("keep for this run only"));
    }

    #[test]
    fn only_transport_failures_renew_the_session() {
        assert!(connection_may_be_stale(&Error::Unavailable));
        assert!(!connection_may_be_stale(&Error::Locked));
        assert!(!connection_may_be_stale(&Error::Prompt));
        assert!(!connection_may_be_stale(&Error::NoResult));
    }
}
