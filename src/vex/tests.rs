//! Unit tests of the VEX document layer.

use super::*;

fn digest(b: u8) -> Digest {
    Digest::from_bytes([b; 32])
}

fn input(status: Status) -> VexInput {
    VexInput {
        vulnerability: "CVE-2024-1234".into(),
        status,
        justification: None,
        impact_statement: None,
        action_statement: None,
        subcomponents: vec![],
        author: "Release team <release@example.com>".into(),
    }
}

fn image() -> Vec<ImageProduct> {
    vec![
        ImageProduct {
            repository: "127.0.0.1:5000/team/App".into(),
            digest: digest(1),
            platform: None,
        },
        ImageProduct {
            repository: "127.0.0.1:5000/team/App".into(),
            digest: digest(2),
            platform: Some(Platform {
                architecture: "arm64".into(),
                os: "linux".into(),
                os_version: None,
                variant: Some("v8".into()),
            }),
        },
    ]
}

#[test]
fn image_purls_are_canonical() {
    let imgs = image();
    assert_eq!(
        image_purl(&imgs[0]),
        format!(
            "pkg:oci/app@sha256%3A{}?repository_url=127.0.0.1:5000/team/App",
            digest(1).hex()
        )
    );
    assert_eq!(
        image_purl(&imgs[1]),
        format!(
            "pkg:oci/app@sha256%3A{}?arch=arm64&os=linux&repository_url=127.0.0.1:5000/team/App&variant=v8",
            digest(2).hex()
        )
    );
}

#[test]
fn not_affected_needs_a_justification_listing_the_allowed_values() {
    let e = input(Status::NotAffected).validate().unwrap_err();
    assert_eq!(e.exit_code(), 2);
    let msg = e.to_string();
    assert!(msg.contains("--justification"), "{msg}");
    for j in Justification::ALL {
        assert!(msg.contains(j.as_str()), "{msg}");
    }
    let mut ok = input(Status::NotAffected);
    ok.justification = Some(Justification::VulnerableCodeNotInExecutePath);
    ok.validate().unwrap();
}

#[test]
fn justification_only_with_not_affected_and_affected_needs_an_action() {
    let mut i = input(Status::Fixed);
    i.justification = Some(Justification::ComponentNotPresent);
    assert!(
        i.validate()
            .unwrap_err()
            .to_string()
            .contains("only goes with")
    );
    let i = input(Status::Affected);
    assert!(
        i.validate()
            .unwrap_err()
            .to_string()
            .contains("--action-statement")
    );
    input(Status::UnderInvestigation).validate().unwrap();
    input(Status::Fixed).validate().unwrap();
}

#[test]
fn bad_vulnerability_ids_and_purls_are_refused() {
    let mut i = input(Status::Fixed);
    i.vulnerability = "CVE 2024".into();
    assert!(
        i.validate()
            .unwrap_err()
            .to_string()
            .contains("--vulnerability")
    );
    for bad in [
        "time@0.3",
        "pkg:cargo",
        "pkg:/x",
        "pkg:cargo/",
        "pkg:cargo/a b",
        "pkg:1x/y",
    ] {
        let e = check_purl(bad).unwrap_err().to_string();
        assert!(e.contains("--product"), "{bad}: {e}");
    }
    for good in [
        "pkg:cargo/time@0.3.36",
        "pkg:cargo/serde_json@1.0.0?vcs_url=x",
        "pkg:oci/app@sha256%3Aab",
    ] {
        check_purl(good).unwrap();
    }
}

#[test]
fn documents_are_deterministic_and_carry_the_products() {
    let mut i = input(Status::NotAffected);
    i.justification = Some(Justification::VulnerableCodeNotInExecutePath);
    i.impact_statement = Some("the vulnerable function is never called".into());
    i.subcomponents = vec![
        "pkg:cargo/time@0.3.36".into(),
        "pkg:cargo/itoa@1.0.11".into(),
        "pkg:cargo/time@0.3.36".into(),
    ];
    let a = document(&i, &image(), "2024-01-02T03:04:05Z").unwrap();
    let b = document(&i, &image(), "2024-01-02T03:04:05Z").unwrap();
    assert_eq!(a, b);
    assert!(a.id.starts_with(ID_PREFIX));
    assert_eq!(a.id.len(), ID_PREFIX.len() + 64);
    let s = &a.statements[0];
    assert_eq!(s.products.len(), 2);
    assert_eq!(s.products[0].hashes["sha-256"], digest(1).hex());
    let subs: Vec<_> = s.products[0]
        .subcomponents
        .iter()
        .map(|c| c.id.clone().unwrap())
        .collect();
    assert_eq!(subs, ["pkg:cargo/itoa@1.0.11", "pkg:cargo/time@0.3.36"]);
    // Another vulnerability, another document id.
    i.vulnerability = "CVE-2024-9999".into();
    let c = document(&i, &image(), "2024-01-02T03:04:05Z").unwrap();
    assert_ne!(a.id, c.id);
    // Round trip through JSON.
    let json = serde_json::to_vec(&a).unwrap();
    let back: Document = serde_json::from_slice(&json).unwrap();
    assert_eq!(back, a);
}
