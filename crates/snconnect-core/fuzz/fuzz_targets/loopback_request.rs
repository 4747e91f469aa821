//! The loopback listener's request-line parser (bytes from any local process or web page).
#![no_main]
use libfuzzer_sys::fuzz_target;
use snconnect_core::loopback::{parse_request_line, Callback};

fuzz_target!(|data: &[u8]| {
    // The listener parses the first line of the request head, as UTF-8.
    let line_end = data
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(data.len());
    let Ok(line) = std::str::from_utf8(&data[..line_end]) else {
        return;
    };
    if let Callback::Code { code, .. } = parse_request_line(line) {
        assert!(!code.is_empty(), "an empty code is never a callback");
    }
});
