//! User administration shared by the CLI, the first start and the demo.

use secrecy::SecretString;

use crate::auth;
use crate::ingest::now_ms;
use crate::store::{self, NewUser, Role, Store};

/// Errors of user administration.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The role word is not a known role.
    #[error("unknown role {0:?}: use agent, supervisor or admin")]
    UnknownRole(String),
    /// A value is empty or malformed.
    #[error("{0}")]
    Invalid(&'static str),
    /// The password could not be hashed or is too weak.
    #[error(transparent)]
    Password(#[from] auth::Error),
    /// The database refused the user.
    #[error(transparent)]
    Store(#[from] store::Error),
}

/// The password to set, and the same password again when it was generated here (to be
/// shown once to whoever asked).
fn given_or_generated(given: Option<SecretString>) -> (SecretString, Option<SecretString>) {
    match given {
        Some(given) => (given, None),
        None => {
            let fresh = auth::generate_password();
            (fresh.clone(), Some(fresh))
        }
    }
}

/// A user to add.
pub struct UserSpec<'a> {
    /// Login name.
    pub username: &'a str,
    /// Display name; the login name when `None`.
    pub display_name: Option<&'a str>,
    /// Phone extension.
    pub extension: Option<&'a str>,
    /// Role word: agent, supervisor or admin.
    pub role: &'a str,
}

/// Creates a user with `password` (or a generated one, returned).
///
/// # Errors
/// [`Error`] naming what was refused.
pub async fn add_user(
    store: &Store,
    spec: UserSpec<'_>,
    password: Option<SecretString>,
) -> Result<(ringside_protocol::UserId, Option<SecretString>), Error> {
    let role = Role::from_word(spec.role).ok_or_else(|| Error::UnknownRole(spec.role.into()))?;
    let username = spec.username.trim();
    if username.is_empty()
        || username.chars().count() > 64
        || username.contains(char::is_whitespace)
    {
        return Err(Error::Invalid("username: 1 to 64 characters, no spaces"));
    }
    let extension = spec.extension.map(str::trim).filter(|e| !e.is_empty());
    if let Some(ext) = extension {
        if ext.len() > 32
            || !ext
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '*' || c == '#')
        {
            return Err(Error::Invalid("extension: up to 32 digits or letters"));
        }
    }

    let (password, generated) = given_or_generated(password);
    let hash = auth::hash_password(password).await?;
    let id = store
        .create_user(
            NewUser {
                username,
                display_name: spec.display_name.unwrap_or(username),
                password_hash: &hash,
                role,
                extension,
            },
            now_ms(),
        )
        .await?;
    Ok((id, generated))
}

/// When no admin exists (a new database, or one where only agents were added), creates
/// the `admin` account and returns its generated password.
///
/// # Errors
/// [`Error`] when the database fails, or a non-admin user is already called `admin`.
pub async fn ensure_first_admin(store: &Store) -> Result<Option<SecretString>, Error> {
    if store.admin_count().await? > 0 {
        return Ok(None);
    }
    let spec = UserSpec {
        username: "admin",
        display_name: Some("Administrator"),
        extension: None,
        role: "admin",
    };
    let (id, password) = add_user(store, spec, None).await?;
    tracing::info!(user.id = id.0, "first start: admin account created");
    Ok(password)
}

/// Sets a new password on a user, generated when `password` is `None`; ends their sessions.
///
/// # Errors
/// [`Error`] when the user does not exist or the password is refused.
pub async fn reset_password(
    store: &Store,
    username: &str,
    password: Option<SecretString>,
) -> Result<Option<SecretString>, Error> {
    let user = store
        .user_by_username(username)
        .await?
        .ok_or(store::Error::NotFound("user"))?;
    let (password, generated) = given_or_generated(password);
    let hash = auth::hash_password(password).await?;
    store.set_password_hash(user.id, &hash).await?;
    Ok(generated)
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;
    use crate::store::tests::TestDb;

    #[tokio::test]
    async fn an_admin_is_created_once_even_when_agents_came_first() {
        let db = TestDb::sqlite().await;
        let spec = UserSpec {
            username: "ann",
            display_name: None,
            extension: Some("2001"),
            role: "agent",
        };
        add_user(
            &db.store,
            spec,
            Some(SecretString::from("a-long-password-1")),
        )
        .await
        .unwrap();

        let first = ensure_first_admin(&db.store).await.unwrap();
        let second = ensure_first_admin(&db.store).await.unwrap();

        assert_eq!(first.map(|p| p.expose_secret().len()), Some(20));
        assert!(second.is_none());
        let admin = db.store.user_by_username("admin").await.unwrap().unwrap();
        assert_eq!(admin.role, crate::store::Role::Admin);
        db.finish().await;
    }
}
