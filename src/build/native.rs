//! The native builder: an OCI image written directly, with no daemon and no network.
//!
//! Per platform: the base image's layers (from an OCI layout) or none (`scratch`), plus one
//! deterministic layer with the binaries at `/usr/local/bin/<name>`; a config derived from
//! the base's with our entrypoint, user, environment and labels, `created` =
//! SOURCE_DATE_EPOCH and one history entry; the manifest; then an image index of all
//! platforms. Every byte depends only on the binaries, the base image and the settings, so
//! two builds of the same commit give the same digests.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::error::Result;
use crate::formats::oci::{
    Descriptor, ImageIndex, ImageManifest, MEDIA_TYPE_CONFIG, MEDIA_TYPE_INDEX,
    MEDIA_TYPE_MANIFEST, Platform,
};
use crate::inspect::model::BuiltBinary;
use crate::oci::layout::Layout;

use super::base::BaseImage;
use super::tar::{LayerCompression, LayerFile, layer};

/// The default PATH of an image (the one BuildKit and Docker set).
pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Image settings shared by every platform.
#[derive(Debug, Clone)]
pub struct ImageSettings {
    /// Labels (`org.opencontainers.image.*`), merged over the base's.
    pub labels: BTreeMap<String, String>,
    /// `User` (numeric, so it works without /etc/passwd).
    pub user: String,
    /// SOURCE_DATE_EPOCH.
    pub source_date_epoch: i64,
    /// `created` (RFC 3339 of SOURCE_DATE_EPOCH).
    pub created: String,
    /// How our layer is compressed (`--compression`).
    pub compression: LayerCompression,
}

/// One platform's manifest written by a builder.
#[derive(Debug, Clone)]
pub struct BuiltManifest {
    /// The index entry (with its platform).
    pub descriptor: Descriptor,
    /// The base image manifest it starts from, when one.
    pub base_manifest: Option<crate::util::digest::Digest>,
    /// Our layer: tar size, blob size, the time taken to write the tar, compress it and
    /// hash both, the CPU time of this process meanwhile (all threads; Linux), and whether
    /// it was made while cargo finished ([`super::layer_ahead`]) (shown with `-v`;
    /// scripts/bench-build.sh reads it).
    pub layer_stats: (u64, u64, std::time::Duration, Option<f64>, bool),
}

/// The entrypoint: the binary when there is exactly one.
pub fn entrypoint(binaries: &[BuiltBinary]) -> Option<Vec<String>> {
    match binaries {
        [one] => Some(vec![one.path_in_image.clone()]),
        _ => None,
    }
}

fn config_json(
    platform: &Platform,
    base: Option<&Value>,
    binaries: &[BuiltBinary],
    settings: &ImageSettings,
    diff_id: String,
) -> Value {
    let mut cfg = base.cloned().unwrap_or_else(|| json!({}));
    let obj = cfg.as_object_mut().expect("config is an object");
    obj.insert("created".into(), json!(settings.created));
    obj.insert("architecture".into(), json!(platform.architecture));
    obj.insert("os".into(), json!(platform.os));
    match &platform.variant {
        Some(v) => obj.insert("variant".into(), json!(v)),
        None => obj.remove("variant"),
    };
    let rc = obj.entry("config").or_insert_with(|| json!({}));
    if !rc.is_object() {
        *rc = json!({});
    }
    let rc = rc.as_object_mut().expect("object");
    let mut env: Vec<String> = rc
        .get("Env")
        .and_then(|e| e.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, DEFAULT_PATH.to_owned());
    }
    rc.insert("Env".into(), json!(env));
    rc.insert("User".into(), json!(settings.user));
    if let Some(ep) = entrypoint(binaries) {
        rc.insert("Entrypoint".into(), json!(ep));
        rc.remove("Cmd");
    }
    rc.entry("WorkingDir").or_insert_with(|| json!("/"));
    let mut labels: BTreeMap<String, String> = rc
        .get("Labels")
        .and_then(|l| serde_json::from_value(l.clone()).ok())
        .unwrap_or_default();
    labels.extend(settings.labels.clone());
    rc.insert("Labels".into(), json!(labels));

    let rootfs = obj
        .entry("rootfs")
        .or_insert_with(|| json!({"type": "layers", "diff_ids": []}));
    if let Some(ids) = rootfs.get_mut("diff_ids").and_then(|d| d.as_array_mut()) {
        ids.push(json!(diff_id));
    }
    let names: Vec<&str> = binaries.iter().map(|b| b.name.as_str()).collect();
    let history = obj.entry("history").or_insert_with(|| json!([]));
    if let Some(h) = history.as_array_mut() {
        h.push(json!({
            "created": settings.created,
            "created_by": format!("cargo-provenance: COPY {} /usr/local/bin/", names.join(" ")),
            "comment": "cargo-provenance native builder",
        }));
    }
    cfg
}

/// Builds one platform's image into `layout` and returns its manifest's descriptor.
pub fn build_platform(
    layout: &Layout,
    platform: &Platform,
    binaries: &[BuiltBinary],
    base: Option<&BaseImage>,
    settings: &ImageSettings,
    ahead: Option<super::layer_ahead::Ahead>,
) -> Result<BuiltManifest> {
    let files: Vec<LayerFile> = binaries
        .iter()
        .map(|b| LayerFile {
            path: b.path_in_image.trim_start_matches('/').to_owned(),
            source: b.local_path.clone(),
        })
        .collect();
    let wanted = super::layer_ahead::Settings {
        source_date_epoch: settings.source_date_epoch,
        compression: settings.compression,
    };
    let inputs: Vec<(String, crate::util::digest::Digest)> = files
        .iter()
        .zip(binaries)
        .map(|(f, b)| (f.path.clone(), b.digest))
        .collect();
    let (ours, (layer_time, layer_cpu), made_ahead) = match ahead {
        Some(a) if a.matches(&inputs, wanted) => (a.layer, a.took, true),
        _ => {
            let started = (std::time::Instant::now(), crate::util::time::cpu_seconds());
            let ours = layer(&files, settings.source_date_epoch, settings.compression)?;
            let cpu = crate::util::time::cpu_seconds()
                .zip(started.1)
                .map(|(b, a)| b - a);
            (ours, (started.0.elapsed(), cpu), false)
        }
    };
    let tar_size = ours.tar_size;
    layout.put_blob_hashed(&ours.digest, &ours.blob)?;

    let (mut layers, base_config, base_manifest) = match base {
        Some(b) => {
            let m = b.for_platform(platform)?;
            for l in &m.manifest.layers {
                let bytes = b.layout.get_blob(&l.digest)?;
                layout.put_blob(&bytes)?;
            }
            (m.manifest.layers.clone(), Some(m.config), Some(m.digest))
        }
        None => (Vec::new(), None, None),
    };
    let config = config_json(
        platform,
        base_config.as_ref(),
        binaries,
        settings,
        ours.diff_id.to_string(),
    );
    let config_bytes = serde_json::to_vec(&config).expect("JSON serialises");
    layout.put_blob(&config_bytes)?;
    let mut layer_desc = Descriptor::of(settings.compression.media_type(), &[]);
    layer_desc.digest = ours.digest;
    layer_desc.size = ours.blob.len() as u64;
    let layer_desc_size = layer_desc.size;
    layers.push(layer_desc);

    let mut annotations = BTreeMap::new();
    if let (Some(b), Some(d)) = (base, base_manifest) {
        annotations.insert(
            "org.opencontainers.image.base.name".to_owned(),
            b.reference.clone(),
        );
        annotations.insert(
            "org.opencontainers.image.base.digest".to_owned(),
            d.to_string(),
        );
    }
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(MEDIA_TYPE_MANIFEST.to_owned()),
        artifact_type: None,
        config: Descriptor::of(MEDIA_TYPE_CONFIG, &config_bytes),
        layers,
        subject: None,
        annotations,
    };
    let bytes = serde_json::to_vec(&manifest).expect("JSON serialises");
    layout.put_blob(&bytes)?;
    let mut descriptor = Descriptor::of(MEDIA_TYPE_MANIFEST, &bytes);
    descriptor.platform = Some(platform.clone());
    Ok(BuiltManifest {
        descriptor,
        base_manifest,
        layer_stats: (tar_size, layer_desc_size, layer_time, layer_cpu, made_ahead),
    })
}

/// Writes the image index of `manifests` into `layout` and returns its descriptor.
pub fn write_index(layout: &Layout, manifests: &[Descriptor]) -> Result<Descriptor> {
    let mut index = ImageIndex::new();
    index.manifests = manifests.to_vec();
    let bytes = serde_json::to_vec(&index).expect("JSON serialises");
    layout.put_blob(&bytes)?;
    Ok(Descriptor::of(MEDIA_TYPE_INDEX, &bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::digest::Digest;

    fn bin(dir: &std::path::Path, name: &str) -> BuiltBinary {
        let p = dir.join(name);
        let bytes = format!("binary {name}");
        std::fs::write(&p, &bytes).unwrap();
        BuiltBinary {
            package: "p".into(),
            name: name.into(),
            path_in_image: format!("/usr/local/bin/{name}"),
            digest: Digest::of(bytes.as_bytes()),
            size: bytes.len() as u64,
            local_path: p,
        }
    }

    #[test]
    fn scratch_image_is_deterministic_and_complete() {
        let src = tempfile::tempdir().unwrap();
        let bins = vec![bin(src.path(), "hello")];
        let settings = ImageSettings {
            labels: BTreeMap::from([("org.opencontainers.image.revision".into(), "abc".into())]),
            user: "65532:65532".into(),
            source_date_epoch: 1_704_164_645,
            created: "2024-01-02T03:04:05Z".into(),
            compression: LayerCompression::Gzip,
        };
        let platform = Platform {
            architecture: "amd64".into(),
            os: "linux".into(),
            os_version: None,
            variant: Some("v3".into()),
        };
        let mut digests = Vec::new();
        // Made after cargo, then from a layer made ahead of the same binary (taken), then
        // from one made ahead of other bytes (not taken): the same image each time.
        let ahead = |bytes: &[u8]| {
            let file = src.path().join("ahead");
            std::fs::write(&file, bytes).unwrap();
            let read = crate::build::early_read::start(file);
            let s = crate::build::layer_ahead::Settings {
                source_date_epoch: settings.source_date_epoch,
                compression: settings.compression,
            };
            let files = vec![("usr/local/bin/hello".to_owned(), read)];
            crate::build::layer_ahead::Runner::start(s, files, false).finish()
        };
        let given = [None, ahead(b"binary hello"), ahead(b"binary hellO")];
        for (i, ahead) in given.into_iter().enumerate() {
            let dir = tempfile::tempdir().unwrap();
            let l = Layout::create(dir.path()).unwrap();
            let m = build_platform(&l, &platform, &bins, None, &settings, ahead).unwrap();
            assert_eq!(m.layer_stats.4, i == 1, "layer made ahead taken");
            let idx = write_index(&l, std::slice::from_ref(&m.descriptor)).unwrap();
            digests.push(idx.digest);
            let manifest: ImageManifest =
                serde_json::from_slice(&l.get_blob(&m.descriptor.digest).unwrap()).unwrap();
            let cfg: Value =
                serde_json::from_slice(&l.get_blob(&manifest.config.digest).unwrap()).unwrap();
            assert_eq!(cfg["variant"], "v3");
            assert_eq!(cfg["config"]["Entrypoint"][0], "/usr/local/bin/hello");
            assert_eq!(cfg["config"]["User"], "65532:65532");
            assert_eq!(cfg["created"], "2024-01-02T03:04:05Z");
            assert_eq!(cfg["rootfs"]["diff_ids"].as_array().unwrap().len(), 1);
        }
        assert_eq!(digests[0], digests[1]);
        assert_eq!(digests[0], digests[2]);
    }
}
