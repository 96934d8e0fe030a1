//! `WWW-Authenticate` challenges as a registry sends them.
#![no_main]

use cargo_provenance::oci::auth::parse_challenge;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = parse_challenge(s);
    }
});
