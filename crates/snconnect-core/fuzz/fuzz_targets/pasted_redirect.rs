//! The paste fallback: what a person pastes (or a page tricks them into pasting).
#![no_main]
use libfuzzer_sys::fuzz_target;
use snconnect_core::loopback::{parse_redirected_url, Callback};
use snconnect_core::signin::check_pasted;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let accepted = check_pasted(input).is_ok();
    let parsed = parse_redirected_url(input);
    if accepted {
        assert!(
            matches!(parsed, Callback::Code { .. } | Callback::Error { .. }),
            "an accepted paste is a code or an error: {parsed:?}"
        );
    }
});
