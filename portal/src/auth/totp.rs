//! Time-based one-time passwords (RFC 6238 on top of RFC 4226's HOTP), and the
//! base32 text (RFC 4648) that authenticator apps take secrets in.
//!
//! Authenticator apps use HMAC-SHA1, 30-second steps and six digits; SHA-256
//! and SHA-512 are here too so that the RFC's own test vectors can be checked
//! for all three. Written here rather than taken from a crate: it is fifty
//! lines over `hmac`, which the portal already links, and keeps the build free
//! of other crypto back ends.

use hmac::{Hmac, Mac};

/// Seconds per time step.
pub const STEP_S: i64 = 30;
/// Digits in a code an authenticator app shows.
pub const DIGITS: u32 = 6;
/// Bytes in a new secret (160 bits, RFC 4226's recommendation for SHA-1).
pub const SECRET_BYTES: usize = 20;
/// The issuer shown in authenticator apps.
pub const ISSUER: &str = "CoHealth";

/// The HMAC hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// HMAC-SHA1, what authenticator apps use.
    Sha1,
    /// HMAC-SHA256.
    Sha256,
    /// HMAC-SHA512.
    Sha512,
}

/// An HOTP value (RFC 4226 §5.3) of `digits` digits for `counter`.
pub fn hotp(key: &[u8], counter: u64, digits: u32, algorithm: Algorithm) -> u32 {
    let message = counter.to_be_bytes();
    let mac = match algorithm {
        Algorithm::Sha1 => mac_of::<Hmac<sha1::Sha1>>(key, &message),
        Algorithm::Sha256 => mac_of::<Hmac<sha2::Sha256>>(key, &message),
        Algorithm::Sha512 => mac_of::<Hmac<sha2::Sha512>>(key, &message),
    };
    // Dynamic truncation: the low nibble of the last byte picks four bytes.
    let offset = usize::from(mac.last().copied().unwrap_or(0) & 0x0f);
    let word = mac
        .get(offset..offset + 4)
        .map_or(0, |b| u32::from_be_bytes([b[0] & 0x7f, b[1], b[2], b[3]]));
    word % 10u32.pow(digits.min(9))
}

fn mac_of<M: Mac + hmac::digest::KeyInit>(key: &[u8], message: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length, so this cannot fail.
    match <M as hmac::digest::KeyInit>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(message);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// The time step an instant (Unix seconds) falls in.
pub fn step_at(unix_s: i64) -> i64 {
    unix_s.div_euclid(STEP_S)
}

/// The TOTP value for an instant (Unix seconds).
pub fn totp(key: &[u8], unix_s: i64, digits: u32, algorithm: Algorithm) -> u32 {
    hotp(
        key,
        u64::try_from(step_at(unix_s)).unwrap_or(0),
        digits,
        algorithm,
    )
}

/// The six-digit code an authenticator app shows for `step`, zero-padded.
pub fn code_for_step(key: &[u8], step: i64) -> String {
    let value = hotp(
        key,
        u64::try_from(step).unwrap_or(0),
        DIGITS,
        Algorithm::Sha1,
    );
    format!("{value:06}")
}

/// Which step within ±1 of `now_ms` the six-digit `code` belongs to, if any.
/// Checks every candidate, so the time taken does not say which one matched.
/// Whether that step was used before is the store's business.
pub fn matching_step(key: &[u8], code: &str, now_ms: i64) -> Option<i64> {
    let code = code.trim();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_at(now_ms.div_euclid(1000));
    let mut found = None;
    for step in [now - 1, now, now + 1] {
        if super::same_secret(&code_for_step(key, step), code) {
            found = Some(step);
        }
    }
    found
}

/// A fresh random secret of [`SECRET_BYTES`] bytes.
pub fn new_secret() -> Result<Vec<u8>, getrandom::Error> {
    let mut key = vec![0u8; SECRET_BYTES];
    getrandom::fill(&mut key)?;
    Ok(key)
}

/// The `otpauth://` URI an authenticator app scans (Key Uri Format).
pub fn otpauth_uri(secret_base32: &str, account: &str) -> String {
    let label = format!("{ISSUER}:{account}");
    format!(
        "otpauth://totp/{}?secret={secret_base32}&issuer={ISSUER}&algorithm=SHA1&digits={DIGITS}&period={STEP_S}",
        percent_encode(&label)
    )
}

/// Percent-encodes everything but unreserved characters (RFC 3986 §2.3).
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Base32 (RFC 4648 §6) without padding.
pub fn base32_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in data {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32[((buffer >> bits) & 31) as usize]));
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(BASE32[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// Decodes base32 in any case, ignoring spaces, dashes and `=` padding;
/// `None` for any other character.
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        if matches!(c, b' ' | b'-' | b'=') {
            continue;
        }
        let c = c.to_ascii_uppercase();
        let value = BASE32.iter().position(|&a| a == c)?;
        buffer = (buffer << 5) | value as u32;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
        buffer &= (1 << bits) - 1;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B: the seeds are ASCII "12345678901234567890" repeated
    /// to the hash's output length.
    fn seed(algorithm: Algorithm) -> Vec<u8> {
        let len = match algorithm {
            Algorithm::Sha1 => 20,
            Algorithm::Sha256 => 32,
            Algorithm::Sha512 => 64,
        };
        b"1234567890".iter().copied().cycle().take(len).collect()
    }

    #[test]
    fn rfc6238_appendix_b_vectors() {
        let table: [(i64, u32, u32, u32); 6] = [
            (59, 94287082, 46119246, 90693936),
            (1111111109, 7081804, 68084774, 25091201),
            (1111111111, 14050471, 67062674, 99943326),
            (1234567890, 89005924, 91819424, 93441116),
            (2000000000, 69279037, 90698825, 38618901),
            (20000000000, 65353130, 77737706, 47863826),
        ];
        for (time, sha1, sha256, sha512) in table {
            for (algorithm, expected) in [
                (Algorithm::Sha1, sha1),
                (Algorithm::Sha256, sha256),
                (Algorithm::Sha512, sha512),
            ] {
                assert_eq!(
                    totp(&seed(algorithm), time, 8, algorithm),
                    expected,
                    "{algorithm:?} at {time}"
                );
            }
        }
    }

    #[test]
    fn rfc4226_appendix_d_hotp_values() {
        let key = b"12345678901234567890";
        let expected = [
            755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489,
        ];
        for (counter, value) in expected.into_iter().enumerate() {
            assert_eq!(hotp(key, counter as u64, 6, Algorithm::Sha1), value);
        }
    }

    #[test]
    fn base32_matches_rfc4648_and_round_trips() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32_encode(plain.as_bytes()), encoded);
            assert_eq!(base32_decode(encoded).unwrap(), plain.as_bytes());
        }
        assert_eq!(base32_decode("mzxw6ytb-oi======").unwrap(), b"foobar");
        assert_eq!(base32_decode("MZ1W"), None);
        for len in 0..=40 {
            let data: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            assert_eq!(base32_decode(&base32_encode(&data)).unwrap(), data);
        }
        let secret = new_secret().unwrap();
        let text = base32_encode(&secret);
        assert_eq!(text.len(), 32);
        assert!(!text.contains('='));
        assert_eq!(base32_decode(&text).unwrap(), secret);
    }

    #[test]
    fn a_window_of_one_step_either_side() {
        let key = seed(Algorithm::Sha1);
        let now_ms = 1_111_111_111_000;
        let step = step_at(1_111_111_111);
        for offset in -1..=1 {
            let code = code_for_step(&key, step + offset);
            assert_eq!(matching_step(&key, &code, now_ms), Some(step + offset));
        }
        for offset in [-2, 2] {
            let code = code_for_step(&key, step + offset);
            assert_eq!(matching_step(&key, &code, now_ms), None);
        }
        assert_eq!(matching_step(&key, "12345", now_ms), None);
        assert_eq!(matching_step(&key, "abcdef", now_ms), None);
    }

    #[test]
    fn the_uri_names_issuer_and_account() {
        let uri = otpauth_uri("JBSWY3DPEHPK3PXP", "ada@example.org");
        assert_eq!(
            uri,
            "otpauth://totp/CoHealth%3Aada%40example.org?secret=JBSWY3DPEHPK3PXP&issuer=CoHealth&algorithm=SHA1&digits=6&period=30"
        );
    }
}
