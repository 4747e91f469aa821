//! A token endpoint's answer (status, content type, body), as every grant classifies it.
#![no_main]
use libfuzzer_sys::fuzz_target;
use snconnect_core::oauth::{token_answer, Grant};
use std::time::SystemTime;

const TYPES: &[&str] = &[
    "application/json",
    "application/json;charset=UTF-8",
    "text/html",
    "text/plain",
    "",
];
const GRANTS: &[Grant] = &[
    Grant::AuthorizationCode,
    Grant::Password,
    Grant::ClientCredentials,
    Grant::Refresh,
];

fuzz_target!(|data: &[u8]| {
    let [a, b, c, body @ ..] = data else {
        return;
    };
    let status = 100 + (u16::from_le_bytes([*a, *b]) % 500);
    let content_type = TYPES[usize::from(*c) % TYPES.len()];
    let grant = GRANTS[usize::from(*c / 8) % GRANTS.len()];
    match token_answer(status, content_type, body, grant, SystemTime::now()) {
        Ok(tokens) => assert_eq!(status, 200, "tokens only from a 200: {:?}", tokens.scope),
        Err(d) => assert_ne!(d.code.as_str(), "ok"),
    }
});
