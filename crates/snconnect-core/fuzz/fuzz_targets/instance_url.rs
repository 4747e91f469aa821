//! Instance URL parsing: never a panic, and an accepted URL parses again to itself.
#![no_main]
use libfuzzer_sys::fuzz_target;
use snconnect_core::InstanceUrl;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(url) = InstanceUrl::parse(input) {
        let again = InstanceUrl::parse(&url.to_string()).expect("a normalised URL parses again");
        assert_eq!(again, url, "normalisation is stable");
        let _ = url.host_label();
    }
});
