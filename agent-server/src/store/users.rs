//! Users and their login sessions.

use std::fmt;

use ringside_protocol::UserId;
use sqlx::Row;

use super::{conflict_as, Error, Result, Store};

/// What a user may do. Finer permissions come with the roles of the privacy work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Manages users and settings; sees everything.
    Admin,
    /// Watches queues and agents.
    Supervisor,
    /// Takes calls.
    Agent,
}

impl Role {
    /// The word stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Supervisor => "supervisor",
            Role::Agent => "agent",
        }
    }

    /// Parses the stored word.
    pub fn from_word(word: &str) -> Option<Role> {
        match word {
            "admin" => Some(Role::Admin),
            "supervisor" => Some(Role::Supervisor),
            "agent" => Some(Role::Agent),
            _ => None,
        }
    }
}

/// A user to create.
pub struct NewUser<'a> {
    /// Login name, unique.
    pub username: &'a str,
    /// Name shown in the console.
    pub display_name: &'a str,
    /// Argon2id PHC string.
    pub password_hash: &'a str,
    /// Role.
    pub role: Role,
    /// Phone extension, unique when set.
    pub extension: Option<&'a str>,
}

/// A stored user.
#[derive(Clone)]
pub struct UserRecord {
    /// Id.
    pub id: UserId,
    /// Login name.
    pub username: String,
    /// Name shown in the console.
    pub display_name: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// Role.
    pub role: Role,
    /// Phone extension, if the user takes calls.
    pub extension: Option<String>,
}

impl fmt::Debug for UserRecord {
    // Names are personal data and the hash is a secret: ids only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserRecord")
            .field("id", &self.id)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// The columns of a [`UserRecord`], on the table alias `u`.
pub(super) const USER_COLUMNS: &str =
    "u.id, u.username, u.display_name, u.password_hash, u.role, u.extension";

pub(super) fn user_from_row(row: &sqlx::any::AnyRow) -> Result<UserRecord> {
    let role: String = row.try_get("role")?;
    Ok(UserRecord {
        id: UserId(row.try_get("id")?),
        username: row.try_get("username")?,
        display_name: row.try_get("display_name")?,
        password_hash: row.try_get("password_hash")?,
        role: Role::from_word(&role).ok_or(Error::Corrupt("users.role"))?,
        extension: row.try_get("extension")?,
    })
}

impl Store {
    /// Creates a user.
    ///
    /// # Errors
    /// [`Error::Conflict`] when the username or extension is taken.
    pub async fn create_user(&self, user: NewUser<'_>, now_ms: i64) -> Result<UserId> {
        if let Some(ext) = user.extension {
            let taken = sqlx::query("SELECT 1 FROM users WHERE extension = $1")
                .bind(ext)
                .fetch_optional(&self.pool)
                .await?;
            if taken.is_some() {
                return Err(Error::Conflict("extension"));
            }
        }
        let row = sqlx::query(
            "INSERT INTO users (username, display_name, password_hash, role, extension, \
             created_at_ms) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(user.username)
        .bind(user.display_name)
        .bind(user.password_hash)
        .bind(user.role.as_str())
        .bind(user.extension)
        .bind(now_ms)
        .fetch_one(&self.pool)
        .await
        .map_err(conflict_as("username"))?;
        Ok(UserId(row.try_get("id")?))
    }

    /// Number of users.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn user_count(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM users")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    /// Number of users with the admin role.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn admin_count(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM users WHERE role = $1")
            .bind(Role::Admin.as_str())
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    /// The user with this login name.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn user_by_username(&self, username: &str) -> Result<Option<UserRecord>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.username = $1");
        let row = sqlx::query(&sql)
            .bind(username)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// The user with this id.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn user(&self, id: UserId) -> Result<Option<UserRecord>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1");
        let row = sqlx::query(&sql)
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// The user whose phone has this extension.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn user_by_extension(&self, extension: &str) -> Result<Option<UserRecord>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.extension = $1");
        let row = sqlx::query(&sql)
            .bind(extension)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// The users holding either extension (none, one or two), in one round trip: the
    /// call service looks up the called and the calling party together.
    ///
    /// # Errors
    /// [`super::Error::Database`].
    pub async fn users_by_extensions(&self, first: &str, second: &str) -> Result<Vec<UserRecord>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.extension IN ($1, $2)");
        let rows = sqlx::query(&sql)
            .bind(first)
            .bind(second)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(user_from_row).collect()
    }

    /// Replaces a user's password hash and ends their sessions.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown user.
    pub async fn set_password_hash(&self, id: UserId, hash: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound("user"));
        }
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stores a session under the hash of its token.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn create_session(
        &self,
        token_hash: &str,
        user: UserId,
        now_ms: i64,
        expires_at_ms: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, created_at_ms, expires_at_ms) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(user.0)
        .bind(now_ms)
        .bind(expires_at_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The user of a session that has not expired at `now_ms`.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn session_user(&self, token_hash: &str, now_ms: i64) -> Result<Option<UserRecord>> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users u JOIN sessions s ON s.user_id = u.id \
             WHERE s.token_hash = $1 AND s.expires_at_ms > $2"
        );
        let row = sqlx::query(&sql)
            .bind(token_hash)
            .bind(now_ms)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// Ends a session.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn delete_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Deletes sessions that expired before `now_ms`; returns how many.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn purge_expired_sessions(&self, now_ms: i64) -> Result<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at_ms <= $1")
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
