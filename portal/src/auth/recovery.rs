//! Recovery codes: ten single-use codes shown once at enrolment, for when the
//! authenticator app is lost.
//!
//! A code is ten base32 characters (50 random bits) shown as `xxxxx-xxxxx`.
//! Fifty bits are fewer than the 112 that ASVS 2.6.2 asks of an unsalted
//! look-up secret, so each code is stored as a random 128-bit salt and the
//! SHA-256 of salt and code: a leaked table has to be attacked one code at a
//! time. Typed codes are compared without regard to case, spaces or dashes,
//! and a `1` or `0` typed for the letters `l` or `o` counts as the letter.

use sha2::{Digest, Sha256};

use super::totp::base32_encode;
use crate::PortalError;

/// Codes made at once.
pub const COUNT: usize = 10;
/// Characters in a code, without the dash.
const LEN: usize = 10;
const SALT_BYTES: usize = 16;

fn random(bytes: usize) -> Result<Vec<u8>, PortalError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| PortalError::Internal(format!("no randomness: {e}")))?;
    Ok(buf)
}

/// [`COUNT`] fresh codes, formatted for people (`abcde-fghij`).
pub(crate) fn generate() -> Result<Vec<String>, PortalError> {
    (0..COUNT)
        .map(|_| {
            // Seven bytes give 56 bits; the first ten characters carry 50 of them.
            let text = base32_encode(&random(7)?).to_ascii_lowercase();
            Ok(format!("{}-{}", &text[..5], &text[5..LEN]))
        })
        .collect()
}

/// The code as compared: upper case, spaces and dashes dropped. `None` if it
/// cannot be a recovery code at all.
pub(crate) fn normalise(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| match c.to_ascii_uppercase() {
            // Codes are shown in lower case, where `l` and `o` pass for digits
            // that base32 does not use.
            '1' => 'L',
            '0' => 'O',
            c => c,
        })
        .collect();
    let valid = code.len() == LEN
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b));
    valid.then_some(code)
}

fn digest(salt: &[u8], normalised: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(salt);
    hasher.update(normalised.as_bytes());
    hex::encode(hasher.finalize())
}

/// What the store keeps for a code: `salt$hash`, both hex.
pub(crate) fn hash(code: &str) -> Result<String, PortalError> {
    let normalised =
        normalise(code).ok_or_else(|| PortalError::Internal("malformed recovery code".into()))?;
    let salt = random(SALT_BYTES)?;
    Ok(format!(
        "{}${}",
        hex::encode(&salt),
        digest(&salt, &normalised)
    ))
}

/// Whether a normalised code is the one `stored` was made from.
pub(crate) fn matches(stored: &str, normalised: &str) -> bool {
    let Some((salt, expected)) = stored.split_once('$') else {
        return false;
    };
    let Ok(salt) = hex::decode(salt) else {
        return false;
    };
    super::same_secret(&digest(&salt, normalised), expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_match_only_their_hash() {
        let codes = generate().unwrap();
        assert_eq!(codes.len(), COUNT);
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), COUNT);
        for code in &codes {
            assert_eq!(code.len(), 11);
            assert_eq!(code.as_bytes()[5], b'-');
        }
        let stored = hash(&codes[0]).unwrap();
        let typed = format!(" {} ", codes[0].to_uppercase().replace('-', " "));
        assert!(matches(&stored, &normalise(&typed).unwrap()));
        assert!(!matches(&stored, &normalise(&codes[1]).unwrap()));
        // The same code hashes differently each time (salted).
        assert_ne!(hash(&codes[0]).unwrap(), stored);
    }

    #[test]
    fn only_code_shaped_input_is_normalised() {
        assert_eq!(normalise("abcde-fgh23"), Some("ABCDEFGH23".into()));
        assert_eq!(normalise("123456"), None);
        assert_eq!(normalise("abcde-fgh18"), None);
        assert_eq!(
            normalise("h0110-abcde"),
            Some("HOLLO ABCDE".replace(' ', ""))
        );
        assert_eq!(normalise("abcde-fghij-k"), None);
    }
}
