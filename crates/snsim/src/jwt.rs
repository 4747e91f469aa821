//! The JWT bearer grant's assertion check (create-jwt-endpoint.md, §1.2): RS256 or ES256,
//! `aud` = client_id, `sub` = a user (user_name, email or sys_id), `exp` with 300 s skew.
//! Signatures are verified with the ring algorithms of rustls (no extra crypto crate).

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use rustls::pki_types::alg_id;
use rustls::pki_types::SignatureVerificationAlgorithm;

/// Allowed clock skew in seconds.
pub const CLOCK_SKEW: u64 = 300;

/// SubjectPublicKeyInfo DER from a PEM (`-----BEGIN PUBLIC KEY-----`) or bare base64 text.
pub fn spki_from_pem(pem: &str) -> Option<Vec<u8>> {
    let b64: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .flat_map(|l| l.chars())
        .filter(|c| !c.is_whitespace())
        .collect();
    STANDARD.decode(b64).ok().filter(|d| !d.is_empty())
}

/// One DER TLV: `(tag, content, rest)`.
fn tlv(d: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *d.first()?;
    let first = *d.get(1)? as usize;
    let (len, hdr) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *d.get(2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let end = hdr.checked_add(len)?;
    Some((tag, d.get(hdr..end)?, d.get(end..)?))
}

/// The subjectPublicKey bits of a SubjectPublicKeyInfo.
fn spki_key_bits(spki: &[u8]) -> Option<&[u8]> {
    let (tag, seq, _) = tlv(spki)?;
    if tag != 0x30 {
        return None;
    }
    let (_, _alg, rest) = tlv(seq)?;
    let (tag, bits, _) = tlv(rest)?;
    if tag != 0x03 || bits.first() != Some(&0) {
        return None;
    }
    Some(&bits[1..])
}

/// DER INTEGER for an unsigned big-endian value.
fn der_uint(v: &[u8]) -> Vec<u8> {
    let mut v: Vec<u8> = v.iter().copied().skip_while(|b| *b == 0).collect();
    if v.first().is_none_or(|b| b & 0x80 != 0) {
        v.insert(0, 0);
    }
    let mut out = vec![0x02, v.len() as u8];
    out.extend(v);
    out
}

/// JOSE `r||s` → ASN.1 `SEQUENCE { INTEGER r, INTEGER s }`.
fn ecdsa_raw_to_der(raw: &[u8]) -> Option<Vec<u8>> {
    if raw.len() != 64 {
        return None;
    }
    let mut body = der_uint(&raw[..32]);
    body.extend(der_uint(&raw[32..]));
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    Some(out)
}

fn verifier(alg: &str) -> Option<&'static dyn SignatureVerificationAlgorithm> {
    let (key_alg, sig_alg) = match alg {
        "RS256" => (alg_id::RSA_ENCRYPTION, alg_id::RSA_PKCS1_SHA256),
        "ES256" => (alg_id::ECDSA_P256, alg_id::ECDSA_SHA256),
        _ => return None,
    };
    rustls::crypto::ring::default_provider()
        .signature_verification_algorithms
        .all
        .iter()
        .copied()
        .find(|a| a.public_key_alg_id() == key_alg && a.signature_alg_id() == sig_alg)
}

/// The checked claims of an assertion.
#[derive(Debug)]
pub struct Claims {
    pub sub: String,
}

/// Verify `assertion` for `client_id` against `spki` at time `now`.
pub fn verify(assertion: &str, spki: &[u8], client_id: &str, now: u64) -> Option<Claims> {
    let mut parts = assertion.split('.');
    let (h, c, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).ok()?).ok()?;
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(c).ok()?).ok()?;
    let alg = header.get("alg")?.as_str()?;
    let mut sig = URL_SAFE_NO_PAD.decode(s).ok()?;
    if alg == "ES256" {
        sig = ecdsa_raw_to_der(&sig)?;
    }
    let message = format!("{h}.{c}");
    verifier(alg)?
        .verify_signature(spki_key_bits(spki)?, message.as_bytes(), &sig)
        .ok()?;
    let aud_ok = match claims.get("aud")? {
        serde_json::Value::String(a) => a == client_id,
        serde_json::Value::Array(a) => a.iter().any(|x| x.as_str() == Some(client_id)),
        _ => false,
    };
    let exp = claims.get("exp")?.as_u64()?;
    let nbf_ok = claims
        .get("nbf")
        .and_then(|v| v.as_u64())
        .is_none_or(|nbf| nbf <= now + CLOCK_SKEW);
    if !aud_ok || now > exp + CLOCK_SKEW || !nbf_ok {
        return None;
    }
    Some(Claims {
        sub: claims.get("sub")?.as_str()?.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_helpers() {
        assert_eq!(der_uint(&[0x00, 0x7f]), vec![0x02, 1, 0x7f]);
        assert_eq!(der_uint(&[0x80]), vec![0x02, 2, 0x00, 0x80]);
        assert!(ecdsa_raw_to_der(&[1; 63]).is_none());
        assert!(verifier("HS256").is_none());
        assert!(verifier("ES256").is_some());
        assert!(verifier("RS256").is_some());
    }
}
