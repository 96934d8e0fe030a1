//! Stage 5, publish: attaching signed bundles as OCI 1.1 referrers in a layout or a registry, and copying images with their referrers.
