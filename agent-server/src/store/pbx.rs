//! What PBX webhooks need from the database: the PBXs' tokens, the block list, and the
//! users a PBX names by extension, login, e-mail or display name.
//!
//! A token is stored as its SHA-256 only ([`crate::auth::token_hash`]); a PBX's signing
//! secret is stored as given, because checking an HMAC needs the secret itself.

use std::fmt;

use secrecy::SecretString;
use sqlx::Row;

use super::users::{user_from_row, USER_COLUMNS};
use super::{conflict_as, one_row, Result, Store, UserRecord};

/// A PBX allowed to post webhooks.
#[derive(Clone)]
pub struct PbxTokenRecord {
    /// Id, shown to admins and used to revoke.
    pub id: i64,
    /// The admin's name for the PBX.
    pub name: String,
    /// The body format this PBX posts (`ringside`, `zammad`, `sipgate`).
    pub format: String,
    /// The HMAC secret, when the PBX signs its requests.
    pub secret: Option<SecretString>,
    /// When it was created.
    pub created_at_ms: i64,
    /// When it was revoked; a revoked token is refused.
    pub revoked_at_ms: Option<i64>,
}

impl fmt::Debug for PbxTokenRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PbxTokenRecord")
            .field("id", &self.id)
            .field("format", &self.format)
            .field("signed", &self.secret.is_some())
            .field("revoked_at_ms", &self.revoked_at_ms)
            .finish_non_exhaustive()
    }
}

const TOKEN_COLUMNS: &str = "id, name, format, secret, created_at_ms, revoked_at_ms";

fn token_from_row(row: &sqlx::any::AnyRow) -> Result<PbxTokenRecord> {
    Ok(PbxTokenRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        format: row.try_get("format")?,
        secret: row
            .try_get::<Option<String>, _>("secret")?
            .map(SecretString::from),
        created_at_ms: row.try_get("created_at_ms")?,
        revoked_at_ms: row.try_get("revoked_at_ms")?,
    })
}

impl Store {
    /// Stores a PBX token by its hash; returns its id.
    ///
    /// # Errors
    /// [`Error::Conflict`] when the hash is already stored (a token generated twice).
    pub async fn create_pbx_token(
        &self,
        name: &str,
        format: &str,
        token_hash: &str,
        secret: Option<&str>,
        now_ms: i64,
    ) -> Result<i64> {
        let row = sqlx::query(
            "INSERT INTO pbx_tokens (name, format, token_hash, secret, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(name)
        .bind(format)
        .bind(token_hash)
        .bind(secret)
        .bind(now_ms)
        .fetch_one(&self.pool)
        .await
        .map_err(conflict_as("token"))?;
        Ok(row.try_get("id")?)
    }

    /// Every PBX token, revoked ones included, oldest first.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn pbx_tokens(&self) -> Result<Vec<PbxTokenRecord>> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM pbx_tokens ORDER BY id");
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        rows.iter().map(token_from_row).collect()
    }

    /// The live (not revoked) token with this hash.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn pbx_token_by_hash(&self, token_hash: &str) -> Result<Option<PbxTokenRecord>> {
        let sql = format!(
            "SELECT {TOKEN_COLUMNS} FROM pbx_tokens \
             WHERE token_hash = $1 AND revoked_at_ms IS NULL"
        );
        let row = sqlx::query(&sql)
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(token_from_row).transpose()
    }

    /// Revokes a token; revoking it again changes nothing.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown id.
    pub async fn revoke_pbx_token(&self, id: i64, now_ms: i64) -> Result<()> {
        let done = sqlx::query(
            "UPDATE pbx_tokens SET revoked_at_ms = COALESCE(revoked_at_ms, $1) WHERE id = $2",
        )
        .bind(now_ms)
        .bind(id)
        .execute(&self.pool)
        .await?;
        one_row(&done, "token")
    }

    /// Adds a number (E.164) to the block list; adding it again changes nothing.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn block_number(&self, e164: &str, now_ms: i64) -> Result<()> {
        let known = self.is_blocked(e164).await?;
        if !known {
            sqlx::query("INSERT INTO blocked_numbers (e164, created_at_ms) VALUES ($1, $2)")
                .bind(e164)
                .bind(now_ms)
                .execute(&self.pool)
                .await
                .map_err(conflict_as("number"))?;
        }
        Ok(())
    }

    /// Removes a number from the block list.
    ///
    /// # Errors
    /// [`Error::NotFound`] when it was not on the list.
    pub async fn unblock_number(&self, e164: &str) -> Result<()> {
        let done = sqlx::query("DELETE FROM blocked_numbers WHERE e164 = $1")
            .bind(e164)
            .execute(&self.pool)
            .await?;
        one_row(&done, "blocked number")
    }

    /// Whether a number (E.164) is on the block list.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn is_blocked(&self, e164: &str) -> Result<bool> {
        let row = sqlx::query("SELECT 1 AS one FROM blocked_numbers WHERE e164 = $1")
            .bind(e164)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// The block list, sorted.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn blocked_numbers(&self) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT e164 FROM blocked_numbers ORDER BY e164")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| Ok(row.try_get::<String, _>("e164")?))
            .collect()
    }

    /// Sets (or clears) a user's e-mail address, stored lower-case.
    ///
    /// # Errors
    /// [`Error::Conflict`] when another user has it, [`Error::NotFound`] for an unknown
    /// user.
    pub async fn set_user_email(
        &self,
        id: ringside_protocol::UserId,
        email: Option<&str>,
    ) -> Result<()> {
        let email = email.map(str::to_lowercase);
        let done = sqlx::query("UPDATE users SET email = $1 WHERE id = $2")
            .bind(email)
            .bind(id.0)
            .execute(&self.pool)
            .await
            .map_err(conflict_as("e-mail"))?;
        one_row(&done, "user")
    }

    /// The user a PBX means by `name`: the one whose extension, login, e-mail (any case)
    /// or display name it is, tried in that order. A display name shared by several
    /// users names nobody.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn user_named_by_pbx(&self, name: &str) -> Result<Option<UserRecord>> {
        let sql = format!(
            "SELECT {USER_COLUMNS}, u.email FROM users u WHERE u.extension = $1 \
             OR u.username = $1 OR u.email = $2 OR u.display_name = $1 LIMIT 8"
        );
        let rows = sqlx::query(&sql)
            .bind(name)
            .bind(name.to_lowercase())
            .fetch_all(&self.pool)
            .await?;
        let mut users = Vec::with_capacity(rows.len());
        for row in &rows {
            let email: Option<String> = row.try_get("email")?;
            users.push((user_from_row(row)?, email));
        }
        let lower = name.to_lowercase();
        let by_extension = users
            .iter()
            .position(|(u, _)| u.extension.as_deref() == Some(name));
        let by_login = users.iter().position(|(u, _)| u.username == name);
        let by_email = users
            .iter()
            .position(|(_, email)| email.as_deref() == Some(lower.as_str()));
        let named: Vec<usize> = (0..users.len())
            .filter(|at| users[*at].0.display_name == name)
            .collect();
        let by_name = match named.as_slice() {
            [only] => Some(*only),
            _ => None,
        };
        let chosen = by_extension.or(by_login).or(by_email).or(by_name);
        Ok(chosen.map(|at| users.swap_remove(at).0))
    }

    /// Marks an interaction as created by a later event of its call, its start never
    /// having been reported.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown interaction.
    pub async fn mark_start_unseen(&self, id: ringside_protocol::InteractionId) -> Result<()> {
        let done = sqlx::query("UPDATE interactions SET start_unseen = 1 WHERE id = $1")
            .bind(id.0)
            .execute(&self.pool)
            .await?;
        one_row(&done, "interaction")
    }

    /// Records the queue a PBX said the call waited in.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown interaction.
    pub async fn set_interaction_queue(
        &self,
        id: ringside_protocol::InteractionId,
        queue: &str,
    ) -> Result<()> {
        let done = sqlx::query("UPDATE interactions SET queue = $1 WHERE id = $2")
            .bind(queue)
            .bind(id.0)
            .execute(&self.pool)
            .await?;
        one_row(&done, "interaction")
    }
}
