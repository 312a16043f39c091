//! Bulk writes for the CSV import and reads for the export.
//!
//! An import batch is one transaction. Its rows are first matched with stored customers
//! (by external id, or, for a row without one, by a stored number together with the same
//! name, ignoring case); a matched customer is rewritten from the row, the others are
//! inserted with multi-row `INSERT`s of a few dozen rows, so that a million customers take
//! tens of thousands of statements rather than millions.

use std::collections::HashMap;

use ringside_protocol::CustomerId;
use sqlx::Row;

use super::customers::{
    bind_fields, customer_from_row, last_digits, phone_from_row, placeholders, CustomerFields,
    FIELD_COLUMNS, FIELD_COUNT, FULL_COLUMNS,
};
use super::{conflict_as, Backend, Error, Result, Store};

/// One row of an import file, checked.
#[derive(Debug, Clone)]
pub struct ImportRow {
    /// Line of the file the row starts on, for the report.
    pub line: u64,
    /// The customer's fields.
    pub fields: CustomerFields,
    /// The organisation's name, when `fields.organisation` is set.
    pub organisation_name: Option<String>,
}

/// What became of one import row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowOutcome {
    /// A new customer.
    Created(CustomerId),
    /// A stored customer, rewritten from the row.
    Updated(CustomerId),
    /// Left out; the reason names the line it repeats.
    Repeated(String),
}

/// Rows one multi-row statement writes (or one `IN` list holds), per database.
#[derive(Clone, Copy)]
struct Chunks {
    /// Customers a multi-row insert writes (each binds [`FIELD_COUNT`] values).
    customers: usize,
    /// Numbers or e-mail addresses a multi-row insert (or an `IN` list) holds.
    contacts: usize,
}

impl Chunks {
    /// Small statements for SQLite, whose binding time grows faster than the number of
    /// parameters in one statement (measured: 400 customers a statement made the import
    /// six times slower than 20); large ones for PostgreSQL, where each statement is a
    /// round trip (measured: 20 customers a statement made a million-row import over
    /// seven times slower than 400).
    fn of(backend: Backend) -> Chunks {
        match backend {
            Backend::Sqlite => Chunks {
                customers: 20,
                contacts: 60,
            },
            Backend::Postgres => Chunks {
                customers: 400,
                contacts: 1_000,
            },
        }
    }
}

impl Store {
    /// Writes one batch of import rows in one transaction; returns each row's outcome,
    /// in order.
    ///
    /// # Errors
    /// [`Error::Database`]; nothing of the batch is written then.
    pub async fn import_batch(&self, rows: &[ImportRow], now_ms: i64) -> Result<Vec<RowOutcome>> {
        let chunks = Chunks::of(self.backend);
        let mut tx = self.begin_write().await?;
        let by_external = external_ids_in(&mut tx, rows, chunks).await?;
        let by_number = holders_of_numbers(&mut tx, rows, chunks).await?;

        let mut outcomes = Vec::with_capacity(rows.len());
        let mut seen_external: HashMap<&str, u64> = HashMap::new();
        let mut seen_number: HashMap<(String, &str), u64> = HashMap::new();
        let mut new_rows = Vec::new();
        for (at, row) in rows.iter().enumerate() {
            let name = row.fields.name.to_lowercase();
            let repeats = match row.fields.external_id.as_deref() {
                Some(external) => seen_external.insert(external, row.line),
                None => row
                    .fields
                    .phones
                    .iter()
                    .filter_map(|p| seen_number.insert((name.clone(), p.e164.as_str()), row.line))
                    .next(),
            };
            if let Some(line) = repeats {
                outcomes.push(RowOutcome::Repeated(format!(
                    "the same customer as line {line}"
                )));
                continue;
            }
            let stored = match row.fields.external_id.as_deref() {
                Some(external) => by_external.get(external).copied(),
                None => row.fields.phones.iter().find_map(|p| {
                    by_number.get(&p.e164).and_then(|holders| {
                        holders
                            .iter()
                            .find(|(_, held_by)| *held_by == name)
                            .map(|(id, _)| *id)
                    })
                }),
            };
            match stored {
                Some(id) => {
                    rewrite(&mut tx, id, row, now_ms, chunks).await?;
                    outcomes.push(RowOutcome::Updated(id));
                }
                None => {
                    new_rows.push(at);
                    outcomes.push(RowOutcome::Created(CustomerId(0)));
                }
            }
        }

        let mut created = Vec::with_capacity(new_rows.len());
        for chunk in new_rows.chunks(chunks.customers) {
            let chunk: Vec<&ImportRow> = chunk.iter().filter_map(|&at| rows.get(at)).collect();
            created.extend(insert_customers(&mut tx, &chunk, now_ms).await?);
        }
        let owners: Vec<(CustomerId, &CustomerFields)> = new_rows
            .iter()
            .zip(&created)
            .filter_map(|(&at, id)| rows.get(at).map(|row| (*id, &row.fields)))
            .collect();
        insert_all_contacts(&mut tx, &owners, chunks).await?;
        tx.commit().await?;

        for (&at, id) in new_rows.iter().zip(created) {
            if let Some(outcome) = outcomes.get_mut(at) {
                *outcome = RowOutcome::Created(id);
            }
        }
        Ok(outcomes)
    }

    /// Refreshes the planner's statistics of the customer tables, so that queries after a
    /// bulk load use their indexes (PostgreSQL plans a freshly filled table as if it were
    /// small until autovacuum gets to it).
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn analyze_customers(&self) -> Result<()> {
        let sql = match self.backend {
            Backend::Postgres => {
                "ANALYZE customers, customer_phones, customer_emails, organisations"
            }
            Backend::Sqlite => "PRAGMA optimize",
        };
        sqlx::query(sql).execute(&self.pool).await?;
        Ok(())
    }

    /// Live customers with id above `after`, at most `limit`, as whole records (numbers
    /// and e-mail addresses included), by id: for the export.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn customers_after(
        &self,
        after: CustomerId,
        limit: i64,
    ) -> Result<Vec<ringside_protocol::Customer>> {
        let sql = format!(
            "SELECT {FULL_COLUMNS} FROM customers c \
             LEFT JOIN organisations o ON o.id = c.organisation_id \
             WHERE c.id > $1 AND c.deleted_at_ms IS NULL ORDER BY c.id LIMIT $2"
        );
        let rows = sqlx::query(&sql)
            .bind(after.0)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        let mut records = rows
            .iter()
            .map(customer_from_row)
            .collect::<Result<Vec<_>>>()?;
        let Some(last) = records.last().map(|c| c.id.0) else {
            return Ok(records);
        };
        let at: HashMap<i64, usize> = records
            .iter()
            .enumerate()
            .map(|(n, c)| (c.id.0, n))
            .collect();
        let phones = sqlx::query(
            "SELECT customer_id, label, e164, original, extension FROM customer_phones \
             WHERE customer_id > $1 AND customer_id <= $2 ORDER BY id",
        )
        .bind(after.0)
        .bind(last)
        .fetch_all(&self.pool)
        .await?;
        for row in &phones {
            let owner: i64 = row.try_get("customer_id")?;
            if let Some(record) = at.get(&owner).and_then(|&n| records.get_mut(n)) {
                record.phones.push(phone_from_row(row)?);
            }
        }
        let emails = sqlx::query(
            "SELECT customer_id, address FROM customer_emails \
             WHERE customer_id > $1 AND customer_id <= $2 ORDER BY id",
        )
        .bind(after.0)
        .bind(last)
        .fetch_all(&self.pool)
        .await?;
        for row in &emails {
            let owner: i64 = row.try_get("customer_id")?;
            if let Some(record) = at.get(&owner).and_then(|&n| records.get_mut(n)) {
                record.emails.push(row.try_get("address")?);
            }
        }
        Ok(records)
    }
}

type Tx<'c> = sqlx::Transaction<'c, sqlx::Any>;

/// Stored customers (also those in the trash) by the external ids of `rows`.
async fn external_ids_in(
    tx: &mut Tx<'_>,
    rows: &[ImportRow],
    chunks: Chunks,
) -> Result<HashMap<String, CustomerId>> {
    let wanted: Vec<&str> = rows
        .iter()
        .filter_map(|r| r.fields.external_id.as_deref())
        .collect();
    let mut found = HashMap::new();
    for chunk in wanted.chunks(chunks.contacts) {
        let sql = format!(
            "SELECT id, external_id FROM customers WHERE external_id IN ({})",
            placeholders(1, chunk.len())
        );
        let mut query = sqlx::query(&sql);
        for external in chunk {
            query = query.bind(*external);
        }
        for row in query.fetch_all(&mut **tx).await? {
            found.insert(row.try_get("external_id")?, CustomerId(row.try_get("id")?));
        }
    }
    Ok(found)
}

/// Stored customers holding the numbers of `rows` without an external id: number to
/// (customer, lower-case name).
async fn holders_of_numbers(
    tx: &mut Tx<'_>,
    rows: &[ImportRow],
    chunks: Chunks,
) -> Result<HashMap<String, Vec<(CustomerId, String)>>> {
    let wanted: Vec<&str> = rows
        .iter()
        .filter(|r| r.fields.external_id.is_none())
        .flat_map(|r| r.fields.phones.iter().map(|p| p.e164.as_str()))
        .collect();
    let mut found: HashMap<String, Vec<(CustomerId, String)>> = HashMap::new();
    for chunk in wanted.chunks(chunks.contacts) {
        let sql = format!(
            "SELECT p.e164, c.id, c.name FROM customer_phones p \
             JOIN customers c ON c.id = p.customer_id WHERE p.e164 IN ({})",
            placeholders(1, chunk.len())
        );
        let mut query = sqlx::query(&sql);
        for number in chunk {
            query = query.bind(*number);
        }
        for row in query.fetch_all(&mut **tx).await? {
            let name: String = row.try_get("name")?;
            found
                .entry(row.try_get("e164")?)
                .or_default()
                .push((CustomerId(row.try_get("id")?), name.to_lowercase()));
        }
    }
    Ok(found)
}

/// Rewrites stored customer `id` from an import row (its version goes up by one).
async fn rewrite(
    tx: &mut Tx<'_>,
    id: CustomerId,
    row: &ImportRow,
    now_ms: i64,
    chunks: Chunks,
) -> Result<()> {
    let assignments = FIELD_COLUMNS
        .split(',')
        .enumerate()
        .map(|(n, column)| format!("{} = ${}", column.trim(), n + 1))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "UPDATE customers SET {assignments}, updated_at_ms = ${t}, version = version + 1 \
         WHERE id = ${i}",
        t = FIELD_COUNT + 1,
        i = FIELD_COUNT + 2,
    );
    bind_fields(
        sqlx::query(&sql),
        &row.fields,
        row.organisation_name.as_deref(),
    )
    .bind(now_ms)
    .bind(id.0)
    .execute(&mut **tx)
    .await
    .map_err(conflict_as("external id"))?;
    for table in ["customer_phones", "customer_emails"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE customer_id = $1"))
            .bind(id.0)
            .execute(&mut **tx)
            .await?;
    }
    insert_all_contacts(tx, &[(id, &row.fields)], chunks).await
}

/// Inserts `rows` as new customers in one statement; returns their ids in row order.
async fn insert_customers(
    tx: &mut Tx<'_>,
    rows: &[&ImportRow],
    now_ms: i64,
) -> Result<Vec<CustomerId>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let values = (0..rows.len())
        .map(|n| {
            format!(
                "({}, $1, $1, 1)",
                placeholders(2 + n * FIELD_COUNT, FIELD_COUNT)
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "INSERT INTO customers ({FIELD_COLUMNS}, created_at_ms, updated_at_ms, version) \
         VALUES {values} RETURNING id, name"
    );
    let mut query = sqlx::query(&sql).bind(now_ms);
    for row in rows {
        query = bind_fields(query, &row.fields, row.organisation_name.as_deref());
    }
    let returned = query
        .fetch_all(&mut **tx)
        .await
        .map_err(conflict_as("external id"))?;
    let mut ids = returned
        .iter()
        .map(|r| Ok((r.try_get::<i64, _>("id")?, r.try_get::<String, _>("name")?)))
        .collect::<Result<Vec<_>>>()?;
    // Both databases number the rows of one multi-row insert in increasing order as they
    // are written, but neither promises the order RETURNING lists them in: sort by id,
    // and check that the names then line up with the rows.
    ids.sort_unstable_by_key(|(id, _)| *id);
    let lined_up = ids.len() == rows.len()
        && ids
            .iter()
            .zip(rows)
            .all(|((_, name), row)| *name == row.fields.name);
    if !lined_up {
        return Err(Error::Corrupt("customers (import id order)"));
    }
    Ok(ids.into_iter().map(|(id, _)| CustomerId(id)).collect())
}

/// Inserts the numbers and e-mail addresses of `owners`, many rows a statement.
async fn insert_all_contacts(
    tx: &mut Tx<'_>,
    owners: &[(CustomerId, &CustomerFields)],
    chunks: Chunks,
) -> Result<()> {
    let phones: Vec<(CustomerId, &ringside_protocol::PhoneNumber)> = owners
        .iter()
        .flat_map(|(id, fields)| fields.phones.iter().map(move |p| (*id, p)))
        .collect();
    for chunk in phones.chunks(chunks.contacts) {
        let values = (0..chunk.len())
            .map(|n| format!("({})", placeholders(1 + n * 6, 6)))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO customer_phones (customer_id, e164, original, label, extension, \
             last_digits) VALUES {values}"
        );
        let mut query = sqlx::query(&sql);
        for (id, phone) in chunk {
            query = query
                .bind(id.0)
                .bind(phone.e164.as_str())
                .bind(phone.original.as_str())
                .bind(phone.kind.as_str())
                .bind(phone.extension.as_deref())
                .bind(last_digits(&phone.e164));
        }
        query.execute(&mut **tx).await?;
    }

    let emails: Vec<(CustomerId, &str)> = owners
        .iter()
        .flat_map(|(id, fields)| fields.emails.iter().map(move |e| (*id, e.as_str())))
        .collect();
    for chunk in emails.chunks(chunks.contacts) {
        let values = (0..chunk.len())
            .map(|n| format!("({})", placeholders(1 + n * 2, 2)))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!("INSERT INTO customer_emails (customer_id, address) VALUES {values}");
        let mut query = sqlx::query(&sql);
        for (id, address) in chunk {
            query = query.bind(id.0).bind(*address);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}
