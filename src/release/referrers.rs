//! The publish stage of `build`, in the layout: each signed statement attached as a referrer
//! to every subject of the image, cosign's image signature (and the legacy `.sig` form),
//! BuildKit's own statements kept as files and, signed, attached to their platform manifest.
//! Each step returns its `summary.json` entries.

use std::path::{Path, PathBuf};

use super::{files, rel, stage};
use crate::build::BuiltImage;
use crate::build::summary::{
    Attestation, BuildKitAttestation, ImageAttestation, ImageSignature, LegacyImageSignature,
    LegacyTag, Referrer, SummaryRole,
};
use crate::error::{Error, Result};
use crate::formats::oci::Descriptor;
use crate::oci::store::Store;
use crate::publish::{self, BundleInfo, ImageSubject, Role};
use crate::sign::Signer;
use crate::sign::WrittenAttestation;
use crate::ui::Ui;
use crate::util::digest::Digest;

/// Where the referrers go: the image's layout, its subjects, and the time they carry.
pub struct Publisher<'a> {
    /// The layout of the image.
    pub store: Store,
    /// The layout's path (for messages).
    pub layout_path: &'a Path,
    /// The output directory (files in the summary are relative to it).
    pub dir: &'a Path,
    /// The image index and its platform manifests.
    pub subjects: Vec<ImageSubject>,
    /// The image name (`--image`, else the package's).
    pub name: &'a str,
    /// `org.opencontainers.image.created` of every referrer (from SOURCE_DATE_EPOCH).
    pub created: String,
    /// Where the stage lines go.
    pub ui: &'a Ui,
}

impl Publisher<'_> {
    /// Attaches each signed statement to every subject; one summary entry per statement.
    pub fn attach(&self, written: &[WrittenAttestation]) -> Result<Vec<Attestation>> {
        written.iter().map(|w| self.attach_one(w)).collect()
    }

    fn attach_one(&self, w: &WrittenAttestation) -> Result<Attestation> {
        let mut referrers = Vec::new();
        if let Some((_, bundle)) = &w.bundle {
            stage(
                self.ui,
                "Attaching",
                format!(
                    "{} to {} subject(s) in {}",
                    w.predicate_type,
                    self.subjects.len(),
                    rel(self.dir, self.layout_path)
                ),
            );
            let info = self.info(&bundle.bytes, &w.predicate_type, Role::ImageAttestation);
            for s in &self.subjects {
                let d = publish::attach_bundle(&self.store, &s.descriptor, &s.name, &info)?;
                referrers.push(referrer(&s.descriptor, &s.name, &d));
            }
        }
        let is_sbom = w.predicate_type == crate::attest::SBOM_PREDICATE_TYPE;
        Ok(Attestation::Image(ImageAttestation {
            predicate_type: w.predicate_type.clone(),
            role: SummaryRole::ImageAttestation,
            signed: w.bundle.is_some(),
            statement_file: w.statement_file.as_ref().map(|p| rel(self.dir, p)),
            statement_digest: Digest::of(&w.statement),
            predicate_file: is_sbom.then(|| files::SBOM.to_owned()),
            bundle_file: w.bundle.as_ref().map(|(p, _)| rel(self.dir, p)),
            bundle_digest: w.bundle_digest(),
            referrers,
        }))
    }

    fn info<'b>(&'b self, bundle: &'b [u8], predicate_type: &'b str, role: Role) -> BundleInfo<'b> {
        BundleInfo {
            bundle_json: bundle,
            predicate_type,
            role,
            created: &self.created,
        }
    }

    /// The image signature, as `cosign sign` makes it, on every digest of the image; with
    /// `legacy` and a key, also cosign 2.x's `.sig` tags.
    pub fn sign_image(&self, signer: &dyn Signer, legacy: bool) -> Result<Vec<Attestation>> {
        let name = self.name;
        stage(
            self.ui,
            "Signing",
            format!(
                "image {name} ({} digest(s)), as cosign signs images",
                self.subjects.len()
            ),
        );
        let signed = publish::image_signature::sign_image(
            &self.store,
            &self.subjects,
            signer,
            &self.created,
        )?;
        let mut out = vec![Attestation::ImageSignature(ImageSignature {
            predicate_type: crate::formats::cosign::SIGN_PREDICATE_TYPE.to_owned(),
            role: SummaryRole::ImageSignature,
            signed: true,
            bundle_digests: signed.iter().map(|x| x.bundle_digest).collect(),
            referrers: signed
                .iter()
                .map(|x| referrer(&x.subject.descriptor, &x.subject.name, &x.referrer))
                .collect(),
        })];
        if let (true, Some(key)) = (legacy, signer.key()) {
            stage(
                self.ui,
                "Signing",
                format!("image {name} as cosign 2.x does (.sig tags)"),
            );
            let legacy = publish::legacy_signature::sign_image_legacy(
                &self.store,
                &self.subjects,
                key,
                name,
            )?;
            out.push(Attestation::LegacyImageSignature(LegacyImageSignature {
                predicate_type: crate::formats::cosign_legacy::SIMPLE_SIGNING_MEDIA_TYPE.to_owned(),
                role: SummaryRole::LegacyImageSignature,
                signed: true,
                referrers: Vec::new(),
                tags: legacy
                    .iter()
                    .map(|x| LegacyTag {
                        subject: x.subject.descriptor.digest,
                        subject_name: x.subject.name.clone(),
                        tag: x.tag.clone(),
                        manifest_digest: x.manifest.digest,
                    })
                    .collect(),
            }));
        }
        Ok(out)
    }

    /// BuildKit's own statements: written under `buildkit/` (sorted by subject, predicate
    /// type and digest), and those the signer signs attached to their platform manifest.
    pub fn buildkit(
        &self,
        image: &BuiltImage,
        signer: Option<&dyn Signer>,
    ) -> Result<Vec<Attestation>> {
        let bk_dir = self.dir.join(files::BUILDKIT_DIR);
        if bk_dir.exists() {
            std::fs::remove_dir_all(&bk_dir).map_err(|e| Error::io("removing", &bk_dir, e))?;
        }
        let mut statements: Vec<_> = image.buildkit_statements.iter().collect();
        statements.sort_by(|a, b| {
            (a.subject, &a.predicate_type, Digest::of(&a.bytes)).cmp(&(
                b.subject,
                &b.predicate_type,
                Digest::of(&b.bytes),
            ))
        });
        let mut out = Vec::new();
        for (i, st) in statements.into_iter().enumerate() {
            let platform = image
                .platforms
                .iter()
                .find(|p| p.manifest.digest == st.subject)
                .ok_or_else(|| {
                    Error::msg(format!(
                        "a BuildKit statement names {}, which is not a platform manifest of the image",
                        st.subject
                    ))
                })?;
            let base = format!(
                "{}/{i}-{}",
                files::BUILDKIT_DIR,
                platform.platform.to_string().replace('/', "-")
            );
            let stmt_file = self.dir.join(format!("{base}.intoto.json"));
            std::fs::create_dir_all(&bk_dir).map_err(|e| Error::io("creating", &bk_dir, e))?;
            crate::util::fs::write_atomic(&stmt_file, &st.bytes)?;
            let mut entry = BuildKitAttestation {
                predicate_type: st.predicate_type.clone(),
                role: SummaryRole::BuildkitAttestation,
                signed: false,
                statement_file: rel(self.dir, &stmt_file),
                statement_digest: Digest::of(&st.bytes),
                bundle_file: None,
                bundle_digest: None,
                referrers: Vec::new(),
            };
            if let Some(s) = signer.filter(|s| s.signs(&st.bytes)) {
                let subject = platform.manifest.bare();
                let subject_name = format!("{} [{}]", self.name, platform.platform);
                let path = self.dir.join(format!("{base}.sigstore.json"));
                self.sign_buildkit(s, st, &subject, &subject_name, path, &mut entry)?;
            }
            out.push(Attestation::BuildKit(entry));
        }
        Ok(out)
    }

    /// Signs one BuildKit statement into `path` and attaches it to `subject`.
    fn sign_buildkit(
        &self,
        signer: &dyn Signer,
        st: &crate::build::BuildKitStatement,
        subject: &Descriptor,
        subject_name: &str,
        path: PathBuf,
        entry: &mut BuildKitAttestation,
    ) -> Result<()> {
        let signed = crate::sign::sign_statement(&st.bytes, signer)?;
        crate::util::fs::write_atomic(&path, &signed.bytes)?;
        stage(
            self.ui,
            "Attaching",
            format!("BuildKit {} to {}", st.predicate_type, subject.digest),
        );
        let info = self.info(&signed.bytes, &st.predicate_type, Role::BuildkitAttestation);
        let d = publish::attach_bundle(&self.store, subject, subject_name, &info)?;
        entry.referrers.push(referrer(subject, subject_name, &d));
        entry.signed = true;
        entry.bundle_file = Some(rel(self.dir, &path));
        entry.bundle_digest = Some(signed.digest);
        Ok(())
    }
}

/// One referrer in `summary.json`.
fn referrer(subject: &Descriptor, subject_name: &str, referrer: &Descriptor) -> Referrer {
    Referrer {
        subject: subject.digest,
        subject_name: subject_name.to_owned(),
        manifest_digest: referrer.digest,
    }
}
