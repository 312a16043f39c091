//! Customers and their phone numbers.

use std::fmt;

use ringside_protocol::CustomerId;
use sqlx::Row;

use super::{Result, Store};

/// A phone number of a new customer.
pub struct NewPhone<'a> {
    /// The number in E.164, as [`crate::phone::normalise`] gives it.
    pub e164: &'a str,
    /// The number as it was written, kept for display.
    pub original: &'a str,
    /// What kind of number it is (work, mobile, ...), if known.
    pub label: Option<&'a str>,
}

/// A customer to create.
pub struct NewCustomer<'a> {
    /// Full name.
    pub name: &'a str,
    /// Organisation name, if any.
    pub organisation: Option<&'a str>,
    /// Phone numbers, any number of them.
    pub phones: Vec<NewPhone<'a>>,
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

fn customer_from_row(row: &sqlx::any::AnyRow) -> Result<CustomerRecord> {
    Ok(CustomerRecord {
        id: CustomerId(row.try_get("id")?),
        name: row.try_get("name")?,
        organisation: row.try_get("organisation")?,
    })
}

impl Store {
    /// Creates a customer with its phone numbers, in one transaction.
    ///
    /// # Errors
    /// [`super::Error::Database`].
    pub async fn create_customer(
        &self,
        customer: NewCustomer<'_>,
        now_ms: i64,
    ) -> Result<CustomerId> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "INSERT INTO customers (name, organisation, created_at_ms) VALUES ($1, $2, $3) \
             RETURNING id",
        )
        .bind(customer.name)
        .bind(customer.organisation)
        .bind(now_ms)
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = row.try_get("id")?;
        for phone in &customer.phones {
            sqlx::query(
                "INSERT INTO customer_phones (customer_id, e164, original, label) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(id)
            .bind(phone.e164)
            .bind(phone.original)
            .bind(phone.label)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(CustomerId(id))
    }

    /// Customers having this E.164 number among their phones, oldest record first.
    ///
    /// # Errors
    /// [`super::Error::Database`].
    pub async fn customers_by_number(&self, e164: &str) -> Result<Vec<CustomerRecord>> {
        let rows = sqlx::query(
            "SELECT DISTINCT c.id, c.name, c.organisation FROM customers c \
             JOIN customer_phones p ON p.customer_id = c.id WHERE p.e164 = $1 ORDER BY c.id",
        )
        .bind(e164)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(customer_from_row).collect()
    }

    /// The customer with this id.
    ///
    /// # Errors
    /// [`super::Error::Database`].
    pub async fn customer(&self, id: CustomerId) -> Result<Option<CustomerRecord>> {
        let row = sqlx::query("SELECT id, name, organisation FROM customers WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(customer_from_row).transpose()
    }

    /// Number of customers.
    ///
    /// # Errors
    /// [`super::Error::Database`].
    pub async fn customer_count(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM customers")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }
}
