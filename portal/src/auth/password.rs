//! Password hashing with argon2id at OWASP's current parameters
//! (19 MiB memory, 2 iterations, 1 lane), which are the `argon2` crate's defaults.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Argon2, Params};

/// Why a password could not be hashed or checked.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// The hashing library failed (bad stored hash, or no randomness).
    #[error("password hashing: {0}")]
    Hash(String),
}

/// The shortest password accepted (ASVS 2.1.1).
pub const MIN_LENGTH: usize = 12;
/// The longest: argon2 takes any length, but a megabyte "password" is an attack.
pub const MAX_LENGTH: usize = 128;

/// Checks a new password: length, then zxcvbn's offline estimate (score 3 of 4
/// or better, i.e. about 10^8 guesses), judged against the person's own name,
/// user name and email so those do not count as strength. The error is the
/// sentence the person sees.
pub fn check_strength(password: &str, personal: &[&str]) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < MIN_LENGTH {
        return Err(format!(
            "Use at least {MIN_LENGTH} characters; a few unrelated words make a strong, memorable password."
        ));
    }
    if chars > MAX_LENGTH {
        return Err(format!("Use at most {MAX_LENGTH} characters."));
    }
    // The person's own words, whole and in parts ("Ada Lovelace",
    // "ada.lovelace@example.org" → ada, lovelace, example…), in lower case.
    let mut words: Vec<String> = Vec::new();
    for text in personal {
        let lower = text.to_lowercase();
        words.extend(
            lower
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| w.len() >= 3)
                .map(str::to_owned),
        );
        words.push(lower);
    }
    if made_of(password, &mut words) {
        return Err(
            "This password is made of your own name, user name or email; choose words that are not about you."
                .to_owned(),
        );
    }
    let inputs: Vec<&str> = words.iter().map(String::as_str).collect();
    let estimate = zxcvbn::zxcvbn(password, &inputs);
    if estimate.score() >= zxcvbn::Score::Three {
        return Ok(());
    }
    let mut message = String::from("This password is too easy to guess.");
    if let Some(feedback) = estimate.feedback() {
        if let Some(warning) = feedback.warning() {
            message.push(' ');
            message.push_str(&warning.to_string());
        }
        for hint in feedback.suggestions() {
            message.push(' ');
            message.push_str(&hint.to_string());
        }
    }
    Err(message)
}

/// Whether little is left of `password` once the person's own words and the
/// separators between them are taken out (zxcvbn rates "Carol carol carol"
/// strong for its length). Sorts `words` longest first.
fn made_of(password: &str, words: &mut [String]) -> bool {
    words.sort_by_key(|w| std::cmp::Reverse(w.len()));
    let mut rest = password.to_lowercase();
    for word in words.iter() {
        rest = rest.replace(word.as_str(), "");
    }
    rest.chars().filter(|c| c.is_alphanumeric()).count() < 4
}

/// The password as it is hashed: Unicode NFC, so "é" typed as one character
/// on one keyboard and as "e" plus an accent on another is the same password.
fn normalised(password: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    password.nfc().collect()
}

/// Hashes `password` into a PHC string with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| PasswordError::Hash(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| PasswordError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(normalised(password).as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Checks `password` against a stored PHC hash.
pub fn verify_password(password: &str, stored: &str) -> Result<bool, PasswordError> {
    let parsed = PasswordHash::new(stored).map_err(|e| PasswordError::Hash(e.to_string()))?;
    Ok(Argon2::default()
        .verify_password(normalised(password).as_bytes(), &parsed)
        .is_ok())
}

/// Whether a stored hash used other parameters than today's and should be redone.
pub fn needs_rehash(stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return true;
    };
    let current = Params::default();
    let param = |name: &str| parsed.params.get_decimal(name);
    parsed.algorithm.as_str() != "argon2id"
        || param("m") != Some(current.m_cost())
        || param("t") != Some(current.t_cost())
        || param("p") != Some(current.p_cost())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let h = hash_password("correct horse battery staple").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery staple", &h).unwrap());
        assert!(!verify_password("wrong", &h).unwrap());
        assert!(!needs_rehash(&h));
        let weak = "$argon2id$v=19$m=4096,t=1,p=1$c2FsdHNhbHRzYWx0$Zm9vYmFyYmF6cXV4cXV1eA";
        assert!(needs_rehash(weak));
    }

    #[test]
    fn composed_and_decomposed_accents_are_one_password() {
        let composed = "caf\u{e9} violet kettle drums";
        let decomposed = "cafe\u{301} violet kettle drums";
        let h = hash_password(composed).unwrap();
        assert!(verify_password(decomposed, &h).unwrap());
    }

    #[test]
    fn strength_needs_length_and_entropy() {
        assert!(
            check_strength("short", &[])
                .unwrap_err()
                .contains("12 characters")
        );
        assert!(check_strength("password1234", &[]).is_err());
        // The person's own name, repeated, is no password either.
        assert!(check_strength("Carol carol carol", &["Carol"]).is_err());
        assert!(check_strength("Dorothy Smith dsmith42", &["Dorothy Smith", "dsmith42"]).is_err());
        // The person's own email is no password, however long it is.
        let email = "annabelsmith@example.org";
        assert!(check_strength(email, &[email]).is_err());
        assert!(
            check_strength(email, &[]).is_ok(),
            "only the personal input makes it weak"
        );
        assert!(check_strength("violet kettle drums orbit", &[]).is_ok());
        assert!(check_strength(&"x".repeat(200), &[]).is_err());
    }
}
