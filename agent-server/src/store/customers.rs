//! Customers: their records, phone numbers and e-mail addresses, versions and the trash.
//!
//! A record is written whole: an update replaces its phones and e-mails in the same
//! transaction, and succeeds only when the version it names is still the stored one
//! ([`Error::Stale`] otherwise). Deleting sets `deleted_at_ms`; such a record is left out
//! of lookups and searches until it is restored or purged. Numbers arrive here already
//! parsed (see [`crate::phone::parse_entry`]); the lookups by number live in
//! [`super::lookup`].

use std::fmt;

use ringside_protocol::{
    Address, Consent, ConsentState, Consents, Customer, CustomerHit, CustomerId, OrganisationId,
    PhoneKind, PhoneNumber,
};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::{conflict_as, one_row, Error, Result, Store};

/// How many trailing digits of each number the `last_digits` column keeps, for the
/// trailing-digits match; the configured minimum may not be lower.
pub const LAST_DIGITS: usize = 6;

/// A customer's fields, checked and with its numbers parsed: what the store writes.
#[derive(Clone, Default, PartialEq)]
pub struct CustomerFields {
    /// The id in another system, unique when set.
    pub external_id: Option<String>,
    /// Full name.
    pub name: String,
    /// The organisation the person belongs to.
    pub organisation: Option<OrganisationId>,
    /// Phone numbers, E.164 with the original text.
    pub phones: Vec<PhoneNumber>,
    /// E-mail addresses.
    pub emails: Vec<String>,
    /// Postal address.
    pub address: Address,
    /// Preferred language tag.
    pub language: Option<String>,
    /// Tags; none holds a comma.
    pub tags: Vec<String>,
    /// Free notes.
    pub notes: String,
    /// Consents with date and source.
    pub consents: Consents,
}

impl fmt::Debug for CustomerFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CustomerFields")
            .field("organisation", &self.organisation)
            .field("phones", &self.phones.len())
            .finish_non_exhaustive()
    }
}

/// A stored customer, as a pop shows it.
#[derive(Clone, PartialEq)]
pub struct CustomerRecord {
    /// Id.
    pub id: CustomerId,
    /// Full name.
    pub name: String,
    /// Organisation name, if any.
    pub organisation: Option<String>,
}

impl fmt::Debug for CustomerRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CustomerRecord")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The `last_digits` key of an E.164 number.
pub fn last_digits(e164: &str) -> &str {
    let start = e164.len().saturating_sub(LAST_DIGITS);
    e164.get(start..).unwrap_or(e164)
}

pub(super) fn record_from_row(row: &AnyRow) -> Result<CustomerRecord> {
    Ok(CustomerRecord {
        id: CustomerId(row.try_get("id")?),
        name: row.try_get("name")?,
        organisation: row.try_get("organisation")?,
    })
}

/// Columns of a full record; `o.name` is the organisation's current name.
pub(super) const FULL_COLUMNS: &str = "c.id, c.version, c.external_id, c.name, c.organisation_id, \
    o.name AS organisation_name, c.street, c.postal_code, c.city, c.country, c.language, \
    c.tags, c.notes, c.consent_phone, c.consent_phone_at_ms, c.consent_phone_source, \
    c.consent_recording, c.consent_recording_at_ms, c.consent_recording_source, \
    c.consent_marketing, c.consent_marketing_at_ms, c.consent_marketing_source, \
    c.created_at_ms, c.updated_at_ms, c.deleted_at_ms";

fn consent_from(row: &AnyRow, name: &str) -> Result<Option<Consent>> {
    let state: Option<String> = row.try_get(format!("consent_{name}").as_str())?;
    let Some(state) = state else {
        return Ok(None);
    };
    Ok(Some(Consent {
        state: ConsentState::from_word(&state).ok_or(Error::Corrupt("customers.consent"))?,
        at_ms: row
            .try_get::<Option<i64>, _>(format!("consent_{name}_at_ms").as_str())?
            .unwrap_or(0),
        source: row
            .try_get::<Option<String>, _>(format!("consent_{name}_source").as_str())?
            .unwrap_or_default(),
    }))
}

fn tags_from(text: &str) -> Vec<String> {
    text.split(',')
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

pub(super) fn customer_from_row(row: &AnyRow) -> Result<Customer> {
    let tags: String = row.try_get("tags")?;
    Ok(Customer {
        id: CustomerId(row.try_get("id")?),
        version: row.try_get("version")?,
        external_id: row.try_get("external_id")?,
        name: row.try_get("name")?,
        organisation_id: row
            .try_get::<Option<i64>, _>("organisation_id")?
            .map(OrganisationId),
        organisation: row.try_get("organisation_name")?,
        phones: Vec::new(),
        emails: Vec::new(),
        address: Address {
            street: row.try_get("street")?,
            postal_code: row.try_get("postal_code")?,
            city: row.try_get("city")?,
            country: row.try_get("country")?,
        },
        language: row.try_get("language")?,
        tags: tags_from(&tags),
        notes: row.try_get("notes")?,
        consents: Consents {
            phone_contact: consent_from(row, "phone")?,
            call_recording: consent_from(row, "recording")?,
            marketing: consent_from(row, "marketing")?,
        },
        created_at_ms: row.try_get("created_at_ms")?,
        updated_at_ms: row.try_get("updated_at_ms")?,
        deleted_at_ms: row.try_get("deleted_at_ms")?,
    })
}

pub(super) fn phone_from_row(row: &AnyRow) -> Result<PhoneNumber> {
    let kind: Option<String> = row.try_get("label")?;
    Ok(PhoneNumber {
        kind: kind
            .as_deref()
            .and_then(PhoneKind::from_word)
            .unwrap_or(PhoneKind::Other),
        e164: row.try_get("e164")?,
        original: row.try_get("original")?,
        extension: row.try_get("extension")?,
    })
}

/// The three consents as (state, time, source) column values, in column order.
type ConsentColumns<'a> = [(Option<&'static str>, Option<i64>, Option<&'a str>); 3];

fn consent_columns(consents: &Consents) -> ConsentColumns<'_> {
    fn one(c: &Option<Consent>) -> (Option<&'static str>, Option<i64>, Option<&str>) {
        match c {
            Some(c) => (
                Some(c.state.as_str()),
                Some(c.at_ms),
                Some(c.source.as_str()),
            ),
            None => (None, None, None),
        }
    }
    [
        one(&consents.phone_contact),
        one(&consents.call_recording),
        one(&consents.marketing),
    ]
}

/// The columns [`bind_fields`] binds, in order, after `organisation` (the name).
pub(super) const FIELD_COLUMNS: &str = "external_id, name, organisation_id, organisation, \
    street, postal_code, city, country, language, tags, notes, \
    consent_phone, consent_phone_at_ms, consent_phone_source, \
    consent_recording, consent_recording_at_ms, consent_recording_source, \
    consent_marketing, consent_marketing_at_ms, consent_marketing_source";

/// How many values [`bind_fields`] binds.
pub(super) const FIELD_COUNT: usize = 20;

/// Binds the [`FIELD_COLUMNS`] of `fields` to `query`.
pub(super) fn bind_fields<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    fields: &'q CustomerFields,
    organisation_name: Option<&'q str>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    let mut query = query
        .bind(fields.external_id.as_deref())
        .bind(fields.name.as_str())
        .bind(fields.organisation.map(|o| o.0))
        .bind(organisation_name)
        .bind(fields.address.street.as_deref())
        .bind(fields.address.postal_code.as_deref())
        .bind(fields.address.city.as_deref())
        .bind(fields.address.country.as_deref())
        .bind(fields.language.as_deref())
        .bind(fields.tags.join(","))
        .bind(fields.notes.as_str());
    for (state, at_ms, source) in consent_columns(&fields.consents) {
        query = query.bind(state).bind(at_ms).bind(source);
    }
    query
}

/// `$first, $first+1, ... ` for `count` values.
pub(super) fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    /// The current name of a live organisation, for the denormalised column.
    async fn organisation_name<'e, E>(&self, executor: E, id: OrganisationId) -> Result<String>
    where
        E: sqlx::Executor<'e, Database = sqlx::Any>,
    {
        let row =
            sqlx::query("SELECT name FROM organisations WHERE id = $1 AND deleted_at_ms IS NULL")
                .bind(id.0)
                .fetch_optional(executor)
                .await?;
        match row {
            Some(row) => Ok(row.try_get("name")?),
            None => Err(Error::Reference("organisation")),
        }
    }

    /// Creates a customer with its numbers and e-mail addresses, in one transaction.
    ///
    /// # Errors
    /// [`Error::Reference`] when the organisation does not exist (or is in the trash),
    /// [`Error::Conflict`] when the external id is taken.
    pub async fn create_customer(
        &self,
        fields: &CustomerFields,
        now_ms: i64,
    ) -> Result<CustomerId> {
        let mut tx = self.begin_write().await?;
        let organisation = match fields.organisation {
            Some(id) => Some(self.organisation_name(&mut *tx, id).await?),
            None => None,
        };
        let sql = format!(
            "INSERT INTO customers ({FIELD_COLUMNS}, created_at_ms, updated_at_ms, version) \
             VALUES ({}, ${n}, ${n}, 1) RETURNING id",
            placeholders(1, FIELD_COUNT),
            n = FIELD_COUNT + 1
        );
        let row = bind_fields(sqlx::query(&sql), fields, organisation.as_deref())
            .bind(now_ms)
            .fetch_one(&mut *tx)
            .await
            .map_err(conflict_as("external id"))?;
        let id = CustomerId(row.try_get("id")?);
        insert_contacts(&mut tx, id, fields).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Replaces a customer's fields, numbers and e-mail addresses, if `version` is still the
    /// stored one; returns the record as saved (with the next version).
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown or deleted customer, [`Error::Stale`] when the
    /// record was saved since `version`, [`Error::Reference`] and [`Error::Conflict`] as
    /// for [`Store::create_customer`].
    pub async fn update_customer(
        &self,
        id: CustomerId,
        version: i64,
        fields: &CustomerFields,
        now_ms: i64,
    ) -> Result<Customer> {
        let mut tx = self.begin_write().await?;
        let organisation = match fields.organisation {
            Some(org) => Some(self.organisation_name(&mut *tx, org).await?),
            None => None,
        };
        let assignments = FIELD_COLUMNS
            .split(',')
            .enumerate()
            .map(|(n, column)| format!("{} = ${}", column.trim(), n + 1))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "UPDATE customers SET {assignments}, updated_at_ms = ${t}, version = version + 1 \
             WHERE id = ${i} AND version = ${v} AND deleted_at_ms IS NULL",
            t = FIELD_COUNT + 1,
            i = FIELD_COUNT + 2,
            v = FIELD_COUNT + 3
        );
        let done = bind_fields(sqlx::query(&sql), fields, organisation.as_deref())
            .bind(now_ms)
            .bind(id.0)
            .bind(version)
            .execute(&mut *tx)
            .await
            .map_err(conflict_as("external id"))?;
        if done.rows_affected() == 0 {
            let row = sqlx::query("SELECT deleted_at_ms FROM customers WHERE id = $1")
                .bind(id.0)
                .fetch_optional(&mut *tx)
                .await?;
            return Err(match row {
                Some(row) if row.try_get::<Option<i64>, _>("deleted_at_ms")?.is_none() => {
                    Error::Stale("customer")
                }
                _ => Error::NotFound("customer"),
            });
        }
        for table in ["customer_phones", "customer_emails"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE customer_id = $1"))
                .bind(id.0)
                .execute(&mut *tx)
                .await?;
        }
        insert_contacts(&mut tx, id, fields).await?;
        tx.commit().await?;
        self.customer_full(id)
            .await?
            .ok_or(Error::NotFound("customer"))
    }

    /// The whole record, with numbers and e-mail addresses; also a record in the trash
    /// (its `deleted_at_ms` is then set).
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn customer_full(&self, id: CustomerId) -> Result<Option<Customer>> {
        let sql = format!(
            "SELECT {FULL_COLUMNS} FROM customers c \
             LEFT JOIN organisations o ON o.id = c.organisation_id WHERE c.id = $1"
        );
        let Some(row) = sqlx::query(&sql)
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let mut customer = customer_from_row(&row)?;
        let phones = sqlx::query(
            "SELECT label, e164, original, extension FROM customer_phones \
             WHERE customer_id = $1 ORDER BY id",
        )
        .bind(id.0)
        .fetch_all(&self.pool)
        .await?;
        customer.phones = phones.iter().map(phone_from_row).collect::<Result<_>>()?;
        let emails =
            sqlx::query("SELECT address FROM customer_emails WHERE customer_id = $1 ORDER BY id")
                .bind(id.0)
                .fetch_all(&self.pool)
                .await?;
        customer.emails = emails
            .iter()
            .map(|row| row.try_get("address"))
            .collect::<Result<_, _>>()?;
        Ok(Some(customer))
    }

    /// A live (not deleted) customer, as a pop shows it.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn customer(&self, id: CustomerId) -> Result<Option<CustomerRecord>> {
        let row = sqlx::query(
            "SELECT c.id, c.name, o.name AS organisation FROM customers c \
             LEFT JOIN organisations o ON o.id = c.organisation_id \
             WHERE c.id = $1 AND c.deleted_at_ms IS NULL",
        )
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(record_from_row).transpose()
    }

    /// Moves a customer to the trash.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown customer or one already in the trash.
    pub async fn delete_customer(&self, id: CustomerId, now_ms: i64) -> Result<()> {
        let done = sqlx::query(
            "UPDATE customers SET deleted_at_ms = $1, version = version + 1 \
             WHERE id = $2 AND deleted_at_ms IS NULL",
        )
        .bind(now_ms)
        .bind(id.0)
        .execute(&self.pool)
        .await?;
        one_row(&done, "customer")
    }

    /// Takes a customer out of the trash, if it was deleted at or after `since_ms`.
    ///
    /// # Errors
    /// [`Error::NotFound`] when no such customer is in the trash (or it was deleted before
    /// `since_ms`).
    pub async fn restore_customer(&self, id: CustomerId, since_ms: i64, now_ms: i64) -> Result<()> {
        let done = sqlx::query(
            "UPDATE customers SET deleted_at_ms = NULL, version = version + 1, \
             updated_at_ms = $1 WHERE id = $2 AND deleted_at_ms >= $3",
        )
        .bind(now_ms)
        .bind(id.0)
        .bind(since_ms)
        .execute(&self.pool)
        .await?;
        one_row(&done, "customer in the trash")
    }

    /// Deleted customers still restorable (deleted at or after `since_ms`), newest first.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn customers_in_trash(&self, since_ms: i64, limit: i64) -> Result<Vec<CustomerHit>> {
        let rows = sqlx::query(
            "SELECT c.id, c.name, o.name AS organisation FROM customers c \
             LEFT JOIN organisations o ON o.id = c.organisation_id \
             WHERE c.deleted_at_ms >= $1 ORDER BY c.deleted_at_ms DESC, c.id DESC LIMIT $2",
        )
        .bind(since_ms)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        self.hits_from_rows(&rows).await
    }

    /// Deletes for good the customers and organisations in the trash since before
    /// `before_ms`; returns how many of each. Their interactions stay, without a customer.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn purge_trash(&self, before_ms: i64) -> Result<(u64, u64)> {
        let mut tx = self.begin_write().await?;
        let customers = sqlx::query("DELETE FROM customers WHERE deleted_at_ms < $1")
            .bind(before_ms)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query(
            "UPDATE customers SET organisation_id = NULL WHERE organisation_id IN \
             (SELECT id FROM organisations WHERE deleted_at_ms < $1)",
        )
        .bind(before_ms)
        .execute(&mut *tx)
        .await?;
        let organisations = sqlx::query("DELETE FROM organisations WHERE deleted_at_ms < $1")
            .bind(before_ms)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok((customers, organisations))
    }

    /// Live customers whose name, organisation name or an e-mail address contains `text`
    /// (ignoring ASCII case), or one of whose numbers contains its digits (at least three,
    /// a leading trunk `0` ignored); by name, at most `limit`.
    ///
    /// Limitation: substring matching reads every customer row (no index serves
    /// `LIKE '%text%'`), so a search takes longer the more customers there are, and SQLite
    /// folds only ASCII letters, so `É` does not find `é` there. A trigram index
    /// (`pg_trgm`, SQLite FTS5) would lift both; lookups on the pop path do not search.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn search_customers(&self, text: &str, limit: i64) -> Result<Vec<CustomerHit>> {
        let pattern = format!("%{}%", escape_like(&text.trim().to_lowercase()));
        let digits = crate::phone::digits_of(text);
        let digits = digits.trim_start_matches('0');
        // A pattern that matches no number when the text holds too few digits.
        let number_pattern = if digits.len() >= 3 {
            format!("%{digits}%")
        } else {
            "-".to_owned()
        };
        let rows = sqlx::query(
            "SELECT c.id, c.name, o.name AS organisation FROM customers c \
             LEFT JOIN organisations o ON o.id = c.organisation_id \
             WHERE c.deleted_at_ms IS NULL AND (LOWER(c.name) LIKE $1 ESCAPE '\\' \
               OR LOWER(o.name) LIKE $1 ESCAPE '\\' \
               OR EXISTS (SELECT 1 FROM customer_emails e WHERE e.customer_id = c.id \
                 AND LOWER(e.address) LIKE $1 ESCAPE '\\') \
               OR EXISTS (SELECT 1 FROM customer_phones p WHERE p.customer_id = c.id \
                 AND p.e164 LIKE $2)) \
             ORDER BY c.name, c.id LIMIT $3",
        )
        .bind(&pattern)
        .bind(&number_pattern)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        self.hits_from_rows(&rows).await
    }

    /// Search hits for rows of `id, name, organisation`, with their numbers and e-mails.
    async fn hits_from_rows(&self, rows: &[AnyRow]) -> Result<Vec<CustomerHit>> {
        let mut hits = rows
            .iter()
            .map(|row| {
                let record = record_from_row(row)?;
                Ok(CustomerHit {
                    id: record.id,
                    name: record.name,
                    organisation: record.organisation,
                    phones: Vec::new(),
                    emails: Vec::new(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        if hits.is_empty() {
            return Ok(hits);
        }
        let ids = placeholders(1, hits.len());
        let phones_sql = format!(
            "SELECT customer_id, original AS value FROM customer_phones \
             WHERE customer_id IN ({ids}) ORDER BY id"
        );
        let emails_sql = format!(
            "SELECT customer_id, address AS value FROM customer_emails \
             WHERE customer_id IN ({ids}) ORDER BY id"
        );
        for (sql, is_phone) in [(phones_sql, true), (emails_sql, false)] {
            let mut query = sqlx::query(&sql);
            for hit in &hits {
                query = query.bind(hit.id.0);
            }
            for row in query.fetch_all(&self.pool).await? {
                let owner = CustomerId(row.try_get("customer_id")?);
                let value: String = row.try_get("value")?;
                if let Some(hit) = hits.iter_mut().find(|h| h.id == owner) {
                    if is_phone {
                        hit.phones.push(value);
                    } else {
                        hit.emails.push(value);
                    }
                }
            }
        }
        Ok(hits)
    }

    /// Number of live customers.
    ///
    /// # Errors
    /// [`super::Error::Database`].
    pub async fn customer_count(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM customers WHERE deleted_at_ms IS NULL")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    /// Stored numbers after phone row `after`, at most `limit`, with their owner's id and
    /// name: `(row id, customer, name, original text)`. For the admin's scan of numbers
    /// that no longer parse.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn phones_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<(i64, CustomerId, String, String)>> {
        let rows = sqlx::query(
            "SELECT p.id, p.customer_id, c.name, p.original FROM customer_phones p \
             JOIN customers c ON c.id = p.customer_id \
             WHERE p.id > $1 AND c.deleted_at_ms IS NULL ORDER BY p.id LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get("id")?,
                    CustomerId(row.try_get("customer_id")?),
                    row.try_get("name")?,
                    row.try_get("original")?,
                ))
            })
            .collect()
    }
}

/// Escapes `%`, `_` and `\` for a `LIKE ... ESCAPE '\'` pattern.
pub(super) fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Inserts the numbers and e-mail addresses of customer `id`.
async fn insert_contacts(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: CustomerId,
    fields: &CustomerFields,
) -> Result<()> {
    for phone in &fields.phones {
        sqlx::query(
            "INSERT INTO customer_phones (customer_id, e164, original, label, extension, \
             last_digits) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id.0)
        .bind(phone.e164.as_str())
        .bind(phone.original.as_str())
        .bind(phone.kind.as_str())
        .bind(phone.extension.as_deref())
        .bind(last_digits(&phone.e164))
        .execute(&mut **tx)
        .await?;
    }
    for address in &fields.emails {
        sqlx::query("INSERT INTO customer_emails (customer_id, address) VALUES ($1, $2)")
            .bind(id.0)
            .bind(address.as_str())
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(escape_like("50%_a\\b"), "50\\%\\_a\\\\b");
    }

    #[test]
    fn last_digits_keeps_six() {
        assert_eq!(last_digits("+31201234567"), "234567");
        assert_eq!(last_digits("+123"), "+123");
    }

    #[test]
    fn field_columns_and_count_agree() {
        assert_eq!(FIELD_COLUMNS.split(',').count(), FIELD_COUNT);
    }
}
