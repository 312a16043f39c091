//! The queries behind a pop's caller lookup: by E.164 number, by trailing digits, and the
//! customer an agent last chose for a shared number. Each is one indexed query
//! (`customer_phones_by_e164`, `customer_phones_by_last_digits`,
//! `interactions_chosen_by_caller`); the rules that combine them live in
//! [`crate::lookup`].

use ringside_protocol::CustomerId;
use sqlx::Row;

use super::customers::{last_digits, record_from_row, CustomerRecord, LAST_DIGITS};
use super::{Result, Store};

/// Most customers one number's lookup returns; a switchboard number shared by more is
/// still a list the agent can read.
pub const MAX_PER_NUMBER: i64 = 50;

impl Store {
    /// Live customers having this E.164 number among their phones, each once, customers
    /// with an organisation first (by organisation name), then by name.
    ///
    /// # Errors
    /// [`super::Error::Database`].
    pub async fn customers_by_number(&self, e164: &str) -> Result<Vec<CustomerRecord>> {
        let rows = sqlx::query(
            "SELECT c.id, c.name, o.name AS organisation FROM customer_phones p \
             JOIN customers c ON c.id = p.customer_id \
             LEFT JOIN organisations o ON o.id = c.organisation_id \
             WHERE p.e164 = $1 AND c.deleted_at_ms IS NULL LIMIT $2",
        )
        .bind(e164)
        .bind(MAX_PER_NUMBER)
        .fetch_all(&self.pool)
        .await?;
        let mut found = rows
            .iter()
            .map(record_from_row)
            .collect::<Result<Vec<_>>>()?;
        found.sort_by(|a, b| {
            let key = |c: &CustomerRecord| (c.organisation.is_none(), c.organisation.clone());
            key(a)
                .cmp(&key(b))
                .then_with(|| a.name.cmp(&b.name))
                .then(a.id.cmp(&b.id))
        });
        found.dedup_by_key(|c| c.id);
        Ok(found)
    }

    /// The distinct stored E.164 numbers of live customers that end in `digits`, at most
    /// `limit` of them. `digits` shorter than [`LAST_DIGITS`] match nothing.
    ///
    /// # Errors
    /// [`super::Error::Database`].
    pub async fn numbers_ending_in(&self, digits: &str, limit: i64) -> Result<Vec<String>> {
        if digits.len() < LAST_DIGITS || !digits.chars().all(|c| c.is_ascii_digit()) {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "SELECT DISTINCT p.e164 FROM customer_phones p \
             JOIN customers c ON c.id = p.customer_id \
             WHERE p.last_digits = $1 AND p.e164 LIKE $2 AND c.deleted_at_ms IS NULL LIMIT $3",
        )
        .bind(last_digits(digits))
        .bind(format!("%{digits}"))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| Ok(row.try_get("e164")?)).collect()
    }

    /// The customer an agent chose on the latest call from `caller_number` where one was
    /// chosen, if any.
    ///
    /// # Errors
    /// [`super::Error::Database`].
    pub async fn chosen_for_number(&self, caller_number: &str) -> Result<Option<CustomerId>> {
        let row = sqlx::query(
            "SELECT customer_id FROM interactions \
             WHERE caller_number = $1 AND customer_chosen_by IS NOT NULL \
             ORDER BY ringing_at_ms DESC LIMIT 1",
        )
        .bind(caller_number)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row
            .map(|row| row.try_get::<Option<i64>, _>("customer_id"))
            .transpose()?
            .flatten()
            .map(CustomerId))
    }
}
