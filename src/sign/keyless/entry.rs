//! Ours: Rekor's answer must be about the signature we sent. A log that answers with another
//! entry (a replay, a mix-up, an attacker in the path) is refused before the answer goes in
//! a bundle. The body may be canonical (real Rekor v1: `payloadHash`, `signatures`) or the
//! request as sent (`proposedContent`, as the stack's mock logs it); either way the payload,
//! the signature and the certificate must be ours.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

/// What we asked Rekor to log.
pub struct Sent<'a> {
    /// The DSSE payload.
    pub payload: &'a [u8],
    /// The DER signature.
    pub signature: &'a [u8],
    /// The certificate, PEM.
    pub cert_pem: &'a str,
}

/// `Ok(())` when `body` (the entry's canonicalized body) records `sent`; else why not.
pub fn check(body: &[u8], sent: &Sent) -> Result<(), String> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| format!("the entry body is not JSON: {e}"))?;
    if v["kind"] != "dsse" {
        return Err(format!("the entry is of kind {}, not dsse", v["kind"]));
    }
    let spec = &v["spec"];
    let (payload_ok, sigs): (bool, Vec<(String, String)>) =
        if let Some(pc) = spec.get("proposedContent") {
            let env: Value = pc["envelope"]
                .as_str()
                .and_then(|s| serde_json::from_str(s).ok())
                .ok_or("the entry's proposedContent.envelope is not a DSSE envelope")?;
            let payload = env["payload"]
                .as_str()
                .and_then(|p| STANDARD.decode(p).ok());
            let verifier = pc["verifiers"][0].as_str().unwrap_or_default().to_owned();
            let sigs = env["signatures"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|s| {
                            (
                                s["sig"].as_str().unwrap_or_default().to_owned(),
                                verifier.clone(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            (payload.as_deref() == Some(sent.payload), sigs)
        } else {
            let want = hex::encode(crate::util::digest::Digest::of(sent.payload).as_bytes());
            let sigs = spec["signatures"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|s| {
                            (
                                s["signature"].as_str().unwrap_or_default().to_owned(),
                                s["verifier"].as_str().unwrap_or_default().to_owned(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            (
                spec["payloadHash"]["value"].as_str() == Some(want.as_str()),
                sigs,
            )
        };
    if !payload_ok {
        return Err("the entry records another payload".into());
    }
    let [(sig, verifier)] = sigs.as_slice() else {
        return Err(format!(
            "the entry records {} signatures, not 1",
            sigs.len()
        ));
    };
    if STANDARD.decode(sig).ok().as_deref() != Some(sent.signature) {
        return Err("the entry records another signature".into());
    }
    let pem = STANDARD
        .decode(verifier)
        .ok()
        .and_then(|b| String::from_utf8(b).ok());
    if pem.as_deref().map(str::trim) != Some(sent.cert_pem.trim()) {
        return Err("the entry records another certificate".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_body_forms_and_mismatches() {
        let pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let sent = Sent {
            payload: b"{}",
            signature: b"sig",
            cert_pem: pem,
        };
        let env = json!({"payload": STANDARD.encode(b"{}"), "payloadType": "t", "signatures": [{"sig": STANDARD.encode(b"sig")}]});
        let req = json!({"apiVersion":"0.0.1","kind":"dsse","spec":{"proposedContent":{
            "envelope": env.to_string(), "verifiers": [STANDARD.encode(pem)]}}});
        check(req.to_string().as_bytes(), &sent).unwrap();
        let canon = json!({"apiVersion":"0.0.1","kind":"dsse","spec":{
            "payloadHash":{"algorithm":"sha256","value": hex::encode(crate::util::digest::Digest::of(b"{}").as_bytes())},
            "signatures":[{"signature": STANDARD.encode(b"sig"), "verifier": STANDARD.encode(pem)}]}});
        check(canon.to_string().as_bytes(), &sent).unwrap();
        let other = Sent {
            payload: b"{\"x\":1}",
            ..sent
        };
        assert!(
            check(canon.to_string().as_bytes(), &other)
                .unwrap_err()
                .contains("payload")
        );
        let other = Sent {
            payload: b"{}",
            signature: b"other",
            cert_pem: pem,
        };
        assert!(
            check(req.to_string().as_bytes(), &other)
                .unwrap_err()
                .contains("signature")
        );
        let other = Sent {
            payload: b"{}",
            signature: b"sig",
            cert_pem: "x",
        };
        assert!(
            check(req.to_string().as_bytes(), &other)
                .unwrap_err()
                .contains("certificate")
        );
        assert!(check(b"{\"kind\":\"hashedrekord\"}", &other).is_err());
    }
}
