//! The profile file loader: any bytes on disk give a file or `config_unreadable`, never a
//! panic; a file that loads is written back and loads to the same.
#![no_main]
use libfuzzer_sys::fuzz_target;
use snconnect_core::profiles::parse_file;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("profiles.json");
    match parse_file(data, path) {
        Ok(file) => {
            let written = serde_json::to_vec(&file).expect("a loaded file serializes");
            let again = parse_file(&written, path).expect("what snconnect writes, it reads");
            assert_eq!(again, file);
        }
        Err(d) => assert_eq!(d.code.as_str(), "config_unreadable"),
    }
});
