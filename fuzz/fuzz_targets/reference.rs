//! Image references (`host[:port]/repo[:tag][@sha256:HEX]`, `oci:PATH[:tag][@sha256:HEX]`).
#![no_main]

use cargo_provenance::formats::reference::Reference;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data)
        && let Ok(r) = Reference::parse(s)
    {
        // What we print must parse again, to the same reference.
        let again = Reference::parse(&r.to_string()).expect("a printed reference parses");
        assert_eq!(again.to_string(), r.to_string());
    }
});
