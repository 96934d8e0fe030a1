//! Admission policies (Kyverno ImageValidatingPolicy) that admit only verified images.
