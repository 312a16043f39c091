//! Passwords and login sessions.
//!
//! Passwords are hashed with argon2id (the `argon2` crate's defaults: 19 MiB, 2 passes),
//! always on the blocking thread pool. A session is a random 256-bit token handed to the
//! browser in an HttpOnly, SameSite=Strict cookie; the database keeps only its SHA-256, so
//! a copy of the database does not let anyone log in.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::rngs::OsRng;
use rand::{Rng, RngCore};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "ringside_session";

/// Shortest password accepted when a user is created.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// Errors of password handling.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// argon2 failed (bad parameters or a malformed stored hash).
    #[error("password hashing failed")]
    Hash,
    /// The blocking task running argon2 did not finish.
    #[error("password hashing task failed")]
    Task,
    /// The password is too short.
    #[error("the password must have at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
}

/// Hashes a password with argon2id, off the async threads.
///
/// # Errors
/// [`Error::TooShort`], or [`Error::Hash`]/[`Error::Task`] when hashing fails.
pub async fn hash_password(password: SecretString) -> Result<String, Error> {
    if password.expose_secret().chars().count() < MIN_PASSWORD_CHARS {
        return Err(Error::TooShort);
    }
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.expose_secret().as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|_| Error::Hash)
    })
    .await
    .map_err(|_| Error::Task)?
}

/// A valid hash of a random password, verified against when a username is unknown so that
/// the answer takes as long as for a known one.
pub const DECOY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$JxvLgoIF0f4kZN6m6HzUfA6yY3kS1Y7j1U1h2d3ZkFI";

/// Checks a password against a stored hash, off the async threads.
///
/// # Errors
/// [`Error::Task`] when the blocking task fails; a malformed hash simply does not match.
pub async fn verify_password(password: SecretString, hash: String) -> Result<bool, Error> {
    tokio::task::spawn_blocking(move || {
        let Ok(parsed) = PasswordHash::new(&hash) else {
            return false;
        };
        Argon2::default()
            .verify_password(password.expose_secret().as_bytes(), &parsed)
            .is_ok()
    })
    .await
    .map_err(|_| Error::Task)
}

/// A new session token for the cookie.
pub fn new_session_token() -> SecretString {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    SecretString::from(URL_SAFE_NO_PAD.encode(bytes))
}

/// What the database stores of a session token.
pub fn token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

/// A random password of 20 characters from an alphabet without look-alikes.
pub fn generate_password() -> SecretString {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = OsRng;
    let text: String = (0..20)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect();
    SecretString::from(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let hash = hash_password(SecretString::from("correct horse battery"))
            .await
            .unwrap();

        assert!(hash.starts_with("$argon2id$"));
        assert!(
            verify_password(SecretString::from("correct horse battery"), hash.clone())
                .await
                .unwrap()
        );
        assert!(
            !verify_password(SecretString::from("wrong horse battery"), hash)
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn short_passwords_are_refused() {
        let err = hash_password(SecretString::from("short"))
            .await
            .unwrap_err();

        assert_eq!(
            err.to_string(),
            "the password must have at least 12 characters"
        );
    }

    #[tokio::test]
    async fn the_decoy_hash_parses_and_matches_nothing_typed() {
        assert!(PasswordHash::new(DECOY_HASH).is_ok());
        assert!(
            !verify_password(SecretString::from("admin"), DECOY_HASH.into())
                .await
                .unwrap()
        );
    }

    #[test]
    fn tokens_are_random_and_hashes_stable() {
        let a = new_session_token();
        let b = new_session_token();

        assert_ne!(a.expose_secret(), b.expose_secret());
        assert_eq!(a.expose_secret().len(), 43);
        assert_eq!(token_hash("abc"), token_hash("abc"));
        assert_ne!(token_hash("abc"), token_hash("abd"));
    }

    #[test]
    fn generated_passwords_are_long_enough() {
        let password = generate_password();

        assert_eq!(password.expose_secret().chars().count(), 20);
        assert!(password.expose_secret().chars().count() >= MIN_PASSWORD_CHARS);
    }
}
