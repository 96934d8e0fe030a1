//! In-toto statements and the predicates verify reads (SLSA provenance, CycloneDX, OpenVEX),
//! through the content checks.
#![no_main]

use cargo_provenance::formats::intoto::Statement;
use cargo_provenance::formats::oci::{MEDIA_TYPE_INDEX, MEDIA_TYPE_MANIFEST};
use cargo_provenance::formats::openvex;
use cargo_provenance::util::digest::Digest;
use cargo_provenance::verify::checks::{self, Typed};
use cargo_provenance::verify::document::{Kind, Part, Target};
use cargo_provenance::verify::{Expectations, Report};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Statement::parse(data, "fuzz");
    let _ = serde_json::from_slice::<openvex::Document>(data);
    let Ok(v) = checks::parse_statement(data) else {
        return;
    };
    let target = Target {
        parts: vec![
            Part {
                digest: Digest::of(b"index"),
                kind: Kind::Index,
                label: "index".into(),
            },
            Part {
                digest: Digest::of(b"manifest"),
                kind: Kind::Manifest,
                label: "platform manifest linux/amd64".into(),
            },
        ],
    };
    let exp = Expectations {
        builder_id: Some("https://example.com/builder".into()),
        source_repo: Some("https://github.com/example/app".into()),
        source_commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
        source_ref: Some("refs/heads/main".into()),
        ..Expectations::default()
    };
    let mut r = Report::new("fuzz");
    checks::check_subject(&mut r, None, v.subject(), &target);
    checks::check_predicate_type(&mut r, "a", v.predicate_type(), Some(MEDIA_TYPE_INDEX));
    match &v.typed {
        Typed::Provenance(st) => checks::check_provenance(&mut r, "a", st, &exp),
        Typed::Bom(st) => {
            checks::check_sbom(&mut r, "a", st, &target, &|d| *d == Digest::of(b"index"))
        }
        Typed::Other(_) => {}
    }
    let _ = (r.human(), MEDIA_TYPE_MANIFEST);
});
