//! Webhook signatures: HMAC-SHA256 (RFC 2104) over a timestamp and the body.
//!
//! A PBX configured with a secret sends two headers:
//! - `X-Ringside-Timestamp`: the Unix time of sending, in seconds;
//! - `X-Ringside-Signature`: `sha256=` and the lower-case hex of
//!   HMAC-SHA256(secret, timestamp + "." + body).
//!
//! A timestamp more than [`MAX_AGE_SECS`] away from the server's clock is refused, so a
//! captured request cannot be replayed later. The comparison runs in constant time
//! (`hmac`'s `verify_slice`).
//!
//! Limitation: within those five minutes a captured request can be replayed; it then
//! changes nothing, since every event applies once per call, but it is answered 2xx.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Header carrying the sending time.
pub const TIMESTAMP_HEADER: &str = "x-ringside-timestamp";
/// Header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-ringside-signature";
/// Oldest (or furthest in the future) timestamp taken, in seconds.
pub const MAX_AGE_SECS: i64 = 300;

/// Why a signature was refused; the text is the 401 answer's reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A header is absent or not readable.
    #[error("signature required: send X-Ringside-Timestamp and X-Ringside-Signature")]
    Missing,
    /// The timestamp is too far from now.
    #[error("timestamp too old or in the future")]
    Stale,
    /// The signature does not match.
    #[error("bad signature")]
    Mismatch,
}

type HmacSha256 = Hmac<Sha256>;

/// The signature header value for `body` sent at `timestamp` (what a PBX computes).
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(text.get(at..at + 2)?, 16).ok())
        .collect()
}

/// Checks the two headers against `body`, at server time `now_secs`.
///
/// # Errors
/// [`SignatureError`] saying what is wrong.
pub fn verify(
    secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now_secs: i64,
) -> Result<(), SignatureError> {
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        return Err(SignatureError::Missing);
    };
    let sent: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::Missing)?;
    if now_secs.abs_diff(sent) > MAX_AGE_SECS.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    let hex = signature
        .trim()
        .strip_prefix("sha256=")
        .ok_or(SignatureError::Mismatch)?;
    let given = from_hex(hex).ok_or(SignatureError::Mismatch)?;
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(timestamp.trim().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&given)
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_body_verifies_and_any_change_does_not() {
        let secret = b"pbx-secret-123456";
        let body = br#"{"version":1}"#;
        let signature = sign(secret, "1700000000", body);

        let good = verify(
            secret,
            Some("1700000000"),
            Some(&signature),
            body,
            1_700_000_100,
        );
        let other_body = verify(
            secret,
            Some("1700000000"),
            Some(&signature),
            b"{}",
            1_700_000_000,
        );
        let other_time = verify(
            secret,
            Some("1700000001"),
            Some(&signature),
            body,
            1_700_000_000,
        );
        let other_key = verify(
            b"nope",
            Some("1700000000"),
            Some(&signature),
            body,
            1_700_000_000,
        );

        assert_eq!(good, Ok(()));
        assert_eq!(other_body, Err(SignatureError::Mismatch));
        assert_eq!(other_time, Err(SignatureError::Mismatch));
        assert_eq!(other_key, Err(SignatureError::Mismatch));
    }

    #[test]
    fn a_timestamp_far_enough_to_overflow_is_stale() {
        let now: i64 = 1_764_000_000;
        for sent in [i64::MIN + now, i64::MIN, i64::MAX] {
            let timestamp = sent.to_string();
            let signature = sign(b"k", &timestamp, b"x");

            assert_eq!(
                verify(b"k", Some(&timestamp), Some(&signature), b"x", now),
                Err(SignatureError::Stale),
                "{sent}"
            );
        }
    }

    #[test]
    fn old_future_missing_and_garbled_signatures_are_refused() {
        let secret = b"k";
        let signature = sign(secret, "1000", b"x");

        assert_eq!(
            verify(secret, Some("1000"), Some(&signature), b"x", 1_301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(secret, Some("1000"), Some(&signature), b"x", 699),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(secret, Some("1000"), Some(&signature), b"x", 1_300),
            Ok(())
        );
        assert_eq!(
            verify(secret, None, Some(&signature), b"x", 1_000),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(secret, Some("soon"), Some(&signature), b"x", 1_000),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(secret, Some("1000"), Some("sha256=zz"), b"x", 1_000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(secret, Some("1000"), Some("md5=00"), b"x", 1_000),
            Err(SignatureError::Mismatch)
        );
    }
}
