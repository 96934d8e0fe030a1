//! The checks of our SLSA provenance: `build-type`, `external-parameters` (read with the
//! build type's own type, which rejects unknown fields), `builder-id` and the recorded
//! source (`source-repo`, `source-commit`, `source-ref`) against the expectations.

use serde_json::Value;

use super::Statement;
use crate::formats::build_type::{ExternalParameters, SourceParameters};
use crate::formats::slsa::Provenance;
use crate::verify::CheckId;
use crate::verify::policy::Expectations;
use crate::verify::report::Report;

/// The `buildType` URIs this verifier knows the `externalParameters` of: ours
/// ([`crate::formats::build_type::BUILD_TYPE`], docs/provenance.md).
pub const KNOWN_BUILD_TYPES: &[&str] = &[crate::formats::build_type::BUILD_TYPE];

/// The checks of an SLSA v1 provenance statement against the expectations, in this order:
/// `build-type`, `external-parameters`, `builder-id`, then the source (`source-repo`,
/// `source-commit`, `source-ref`).
pub fn check_provenance(
    report: &mut Report,
    att: &str,
    statement: &Statement<Provenance>,
    exp: &Expectations,
) {
    let def = &statement.predicate.build_definition;
    let known = check_build_type(report, att, &def.build_type);
    let params = check_external_parameters(report, att, &def.external_parameters, known);
    check_expected(
        report,
        att,
        CheckId::BuilderId,
        "builder.id",
        Some(statement.predicate.run_details.builder.id.as_str()),
        exp.builder_id.as_deref(),
        same,
    );
    match params {
        Some(params) => check_source(report, att, params.source.as_ref(), exp),
        None => skip_source(report, att),
    }
}

/// `build-type`: a `buildType` this verifier knows the parameters of. Returns whether it is.
fn check_build_type(report: &mut Report, att: &str, build_type: &str) -> bool {
    let known = KNOWN_BUILD_TYPES.contains(&build_type);
    if known {
        report.pass(CheckId::BuildType, Some(att), format!("`{build_type}`"));
    } else {
        report.fail(
            CheckId::BuildType,
            Some(att),
            format!(
                "buildType `{build_type}` is not one this verifier knows ({})",
                KNOWN_BUILD_TYPES.join(", ")
            ),
        );
    }
    known
}

/// `external-parameters`: an object of the known build type's parameters, every field one
/// this verifier knows. Returns them when they could be read.
fn check_external_parameters(
    report: &mut Report,
    att: &str,
    ext: &Value,
    known: bool,
) -> Option<ExternalParameters> {
    let params = if !ext.is_object() {
        Err("externalParameters is missing or not an object".to_owned())
    } else if known {
        external_parameters(ext)
            .map_err(|p| format!("{p}: a verifier must reject parameters it does not know"))
    } else {
        Err("cannot be checked: unknown buildType".to_owned())
    };
    match params {
        Ok(p) => {
            report.pass(
                CheckId::ExternalParameters,
                Some(att),
                "every field is one this verifier knows",
            );
            Some(p)
        }
        Err(why) => {
            report.fail(CheckId::ExternalParameters, Some(att), why);
            None
        }
    }
}

/// The source is read from parameters this verifier could read; when it could not, the
/// verdict has already failed on `external-parameters` and the source checks are skipped.
fn skip_source(report: &mut Report, att: &str) {
    for check in [
        CheckId::SourceRepo,
        CheckId::SourceCommit,
        CheckId::SourceRef,
    ] {
        report.skip(check, Some(att), "externalParameters could not be read");
    }
}

/// `source-repo`, `source-commit`, `source-ref`: the recorded source against the
/// expectations.
fn check_source(
    report: &mut Report,
    att: &str,
    source: Option<&SourceParameters>,
    exp: &Expectations,
) {
    check_expected(
        report,
        att,
        CheckId::SourceRepo,
        "source repository",
        source.and_then(|s| s.uri.as_deref()),
        exp.source_repo.as_deref(),
        normalize_repo,
    );
    check_expected(
        report,
        att,
        CheckId::SourceCommit,
        "source commit",
        source.map(|s| s.commit.as_str()),
        exp.source_commit.as_deref(),
        lower,
    );
    check_expected(
        report,
        att,
        CheckId::SourceRef,
        "source ref",
        source.and_then(|s| s.git_ref.as_deref()),
        exp.source_ref.as_deref(),
        same,
    );
}

fn check_expected(
    report: &mut Report,
    att: &str,
    check: CheckId,
    what: &str,
    found: Option<&str>,
    expected: Option<&str>,
    norm: fn(&str) -> String,
) {
    match (expected, found) {
        (None, Some(f)) => report.skip(
            check,
            Some(att),
            format!("{what} is `{f}`; not compared (no expectation given)"),
        ),
        (None, None) => report.skip(
            check,
            Some(att),
            format!("no {what} recorded; none expected"),
        ),
        (Some(e), None) => report.fail(
            check,
            Some(att),
            format!("expected {what} `{e}`, the provenance records none"),
        ),
        (Some(e), Some(f)) if norm(e) == norm(f) => {
            report.pass(check, Some(att), format!("{what} is `{f}`"))
        }
        (Some(e), Some(f)) => {
            report.fail(check, Some(att), format!("{what} is `{f}`, expected `{e}`"))
        }
    }
}

/// Normalises a git repository URL for comparison: no `git+`, no `@ref`/`#`, no `.git`, no
/// trailing slash, lowercase scheme and host; ssh and scp-like spellings become https
/// ([`crate::util::url::repo_key`]).
pub fn normalize_repo(url: &str) -> String {
    crate::util::url::repo_key(url)
}

fn same(s: &str) -> String {
    s.trim().to_owned()
}

fn lower(s: &str) -> String {
    s.trim().to_lowercase()
}

/// Reads `externalParameters` with the build type's own type, which rejects unknown fields
/// (`deny_unknown_fields`): the error names the first field it does not know.
fn external_parameters(value: &Value) -> Result<ExternalParameters, String> {
    serde_json::from_value::<ExternalParameters>(value.clone()).map_err(|e| e.to_string())
}
