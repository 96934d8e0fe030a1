//! Small advisory databases in the advisory-db layout, written into temporary directories,
//! about crates in examples/hello-service's Cargo.lock (the shared snapshot's README allows
//! this: the snapshot itself is frozen).

use std::path::{Path, PathBuf};

/// One advisory to write.
pub struct Adv<'a> {
    pub id: &'a str,
    pub package: &'a str,
    pub patched: &'a str,
    pub extra: &'a str,
}

pub const CRITICAL: &str = "cvss = \"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H\"\n";
pub const MEDIUM_V4: &str =
    "cvss = \"CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:N/VC:N/VI:N/VA:L/SC:N/SI:N/SA:N\"\n";

/// Writes `advs` as `crates/<package>/<id>.md` under `dir`.
pub fn write(dir: &Path, advs: &[Adv]) {
    for a in advs {
        let d = dir.join("crates").join(a.package);
        std::fs::create_dir_all(&d).unwrap();
        let text = format!(
            "```toml\n[advisory]\nid = \"{}\"\npackage = \"{}\"\ndate = \"2026-08-20\"\n\
             {}\n[versions]\npatched = [{}]\n```\n\n# test advisory {}\n\nA test \
             advisory.\n",
            a.id, a.package, a.extra, a.patched, a.id
        );
        std::fs::write(d.join(format!("{}.md", a.id)), text).unwrap();
    }
}

/// The hello-service database: itoa (shipped) critical, serde_json (shipped)
/// unmaintained, memchr (shipped) windows-only, syn (build-only) medium (CVSS v4), serde
/// withdrawn, and ryu... not in the lock: a patched itoa advisory that does not match.
pub fn hello(dir: &Path) -> PathBuf {
    let db = dir.join("advisory-db");
    write(
        &db,
        &[
            Adv {
                id: "RUSTSEC-2099-0001",
                package: "itoa",
                patched: "\">= 99.0.0\"",
                extra: &format!(
                    "aliases = [\"CVE-2099-0001\", \"GHSA-xxxx-yyyy-zzzz\"]\n{CRITICAL}"
                ),
            },
            Adv {
                id: "RUSTSEC-2099-0002",
                package: "serde_json",
                patched: "",
                extra: "informational = \"unmaintained\"\n",
            },
            Adv {
                id: "RUSTSEC-2099-0003",
                package: "memchr",
                patched: "\">= 99.0.0\"",
                extra: &format!("{CRITICAL}\n[affected]\nos = [\"windows\"]\n"),
            },
            Adv {
                id: "RUSTSEC-2099-0004",
                package: "syn",
                patched: "\">= 99.0.0\"",
                extra: MEDIUM_V4,
            },
            Adv {
                id: "RUSTSEC-2099-0005",
                package: "serde",
                patched: "\">= 99.0.0\"",
                extra: "withdrawn = \"2026-08-21\"\n",
            },
            Adv {
                id: "RUSTSEC-2099-0006",
                package: "itoa",
                patched: "\">= 1.0.0\"",
                extra: CRITICAL,
            },
        ],
    );
    db
}

/// An OpenVEX document with one statement about `vuln` for `purl`.
pub fn vex(path: &Path, vuln: &str, purl: &str, status: &str) {
    let mut st = serde_json::json!({
        "vulnerability": {"name": vuln},
        "products": [{"@id": purl}],
        "status": status,
    });
    match status {
        "not_affected" => st["justification"] = "vulnerable_code_not_in_execute_path".into(),
        "affected" => st["action_statement"] = "upgrade".into(),
        _ => {}
    }
    let doc = serde_json::json!({
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "https://example.com/vex/1",
        "author": "test",
        "timestamp": "2026-08-21T00:00:00Z",
        "version": 1,
        "statements": [st],
    });
    std::fs::write(path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
}
