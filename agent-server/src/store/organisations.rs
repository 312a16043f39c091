//! Organisations: records of their own that customers belong to, with a version and a
//! trash like customers have.

use ringside_protocol::{Organisation, OrganisationId};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::{one_row, Error, Result, Store};

const COLUMNS: &str = "id, version, name, notes, created_at_ms, updated_at_ms, deleted_at_ms";

fn organisation_from_row(row: &AnyRow) -> Result<Organisation> {
    Ok(Organisation {
        id: OrganisationId(row.try_get("id")?),
        version: row.try_get("version")?,
        name: row.try_get("name")?,
        notes: row.try_get("notes")?,
        created_at_ms: row.try_get("created_at_ms")?,
        updated_at_ms: row.try_get("updated_at_ms")?,
        deleted_at_ms: row.try_get("deleted_at_ms")?,
    })
}

impl Store {
    /// Creates an organisation.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn create_organisation(
        &self,
        name: &str,
        notes: &str,
        now_ms: i64,
    ) -> Result<OrganisationId> {
        let row = sqlx::query(
            "INSERT INTO organisations (name, notes, version, created_at_ms, updated_at_ms) \
             VALUES ($1, $2, 1, $3, $3) RETURNING id",
        )
        .bind(name)
        .bind(notes)
        .bind(now_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok(OrganisationId(row.try_get("id")?))
    }

    /// The live organisation with exactly this name (the oldest, if several), or a new one.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn organisation_by_name_or_new(
        &self,
        name: &str,
        now_ms: i64,
    ) -> Result<OrganisationId> {
        let row = sqlx::query(
            "SELECT MIN(id) AS id FROM organisations WHERE name = $1 AND deleted_at_ms IS NULL",
        )
        .bind(name)
        .fetch_one(&self.pool)
        .await?;
        match row.try_get::<Option<i64>, _>("id")? {
            Some(id) => Ok(OrganisationId(id)),
            None => self.create_organisation(name, "", now_ms).await,
        }
    }

    /// The organisation with this id, also one in the trash.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn organisation(&self, id: OrganisationId) -> Result<Option<Organisation>> {
        let sql = format!("SELECT {COLUMNS} FROM organisations WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(organisation_from_row).transpose()
    }

    /// Renames an organisation and replaces its notes, if `version` is still the stored
    /// one. The name copied onto its customers' rows for the previous release's sake is
    /// updated in the same transaction.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown or deleted organisation, [`Error::Stale`] when
    /// it was saved since `version`.
    pub async fn update_organisation(
        &self,
        id: OrganisationId,
        version: i64,
        name: &str,
        notes: &str,
        now_ms: i64,
    ) -> Result<Organisation> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE organisations SET name = $1, notes = $2, updated_at_ms = $3, \
             version = version + 1 WHERE id = $4 AND version = $5 AND deleted_at_ms IS NULL",
        )
        .bind(name)
        .bind(notes)
        .bind(now_ms)
        .bind(id.0)
        .bind(version)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            let row = sqlx::query("SELECT deleted_at_ms FROM organisations WHERE id = $1")
                .bind(id.0)
                .fetch_optional(&mut *tx)
                .await?;
            return Err(match row {
                Some(row) if row.try_get::<Option<i64>, _>("deleted_at_ms")?.is_none() => {
                    Error::Stale("organisation")
                }
                _ => Error::NotFound("organisation"),
            });
        }
        sqlx::query("UPDATE customers SET organisation = $1 WHERE organisation_id = $2")
            .bind(name)
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.organisation(id)
            .await?
            .ok_or(Error::NotFound("organisation"))
    }

    /// Moves an organisation to the trash; its customers keep their link to it.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown organisation or one already in the trash.
    pub async fn delete_organisation(&self, id: OrganisationId, now_ms: i64) -> Result<()> {
        let done = sqlx::query(
            "UPDATE organisations SET deleted_at_ms = $1, version = version + 1 \
             WHERE id = $2 AND deleted_at_ms IS NULL",
        )
        .bind(now_ms)
        .bind(id.0)
        .execute(&self.pool)
        .await?;
        one_row(&done, "organisation")
    }

    /// Takes an organisation out of the trash, if it was deleted at or after `since_ms`.
    ///
    /// # Errors
    /// [`Error::NotFound`] when no such organisation is in the trash.
    pub async fn restore_organisation(
        &self,
        id: OrganisationId,
        since_ms: i64,
        now_ms: i64,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE organisations SET deleted_at_ms = NULL, version = version + 1, \
             updated_at_ms = $1 WHERE id = $2 AND deleted_at_ms >= $3",
        )
        .bind(now_ms)
        .bind(id.0)
        .bind(since_ms)
        .execute(&self.pool)
        .await?;
        one_row(&done, "organisation in the trash")
    }

    /// Live organisations whose name contains `text` (ignoring ASCII case), by name.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn search_organisations(&self, text: &str, limit: i64) -> Result<Vec<Organisation>> {
        let pattern = format!(
            "%{}%",
            super::customers::escape_like(&text.trim().to_lowercase())
        );
        let sql = format!(
            "SELECT {COLUMNS} FROM organisations WHERE deleted_at_ms IS NULL \
             AND LOWER(name) LIKE $1 ESCAPE '\\' ORDER BY name, id LIMIT $2"
        );
        let rows = sqlx::query(&sql)
            .bind(pattern)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(organisation_from_row).collect()
    }

    /// Deleted organisations still restorable (deleted at or after `since_ms`).
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn organisations_in_trash(
        &self,
        since_ms: i64,
        limit: i64,
    ) -> Result<Vec<Organisation>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM organisations WHERE deleted_at_ms >= $1 \
             ORDER BY deleted_at_ms DESC, id DESC LIMIT $2"
        );
        let rows = sqlx::query(&sql)
            .bind(since_ms)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(organisation_from_row).collect()
    }
}
