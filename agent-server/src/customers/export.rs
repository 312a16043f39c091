//! `agent-server export customers`: every live customer, in the import's CSV format, by id.

use std::io::Write;

use anyhow::Context;
use ringside_protocol::CustomerId;

use super::csv_format::{row_of, COLUMNS};
use crate::store::Store;

/// Customers read from the database at once.
const PAGE: i64 = 1_000;

/// Writes every live customer to `out` as CSV with a header row; returns how many.
///
/// # Errors
/// When the database fails or `out` cannot be written.
pub async fn export_customers(store: &Store, out: Box<dyn Write + Send>) -> anyhow::Result<u64> {
    let mut csv = csv::Writer::from_writer(out);
    csv.write_record(COLUMNS)
        .context("writing the header row")?;
    let mut after = CustomerId(0);
    let mut written = 0;
    loop {
        let page = store.customers_after(after, PAGE).await?;
        let Some(last) = page.last() else {
            break;
        };
        after = last.id;
        written += page.len() as u64;
        // Writing may block on a slow pipe: off the async threads.
        csv = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            for customer in &page {
                csv.write_record(row_of(customer))
                    .context("writing a customer row")?;
            }
            Ok(csv)
        })
        .await??;
    }
    tokio::task::spawn_blocking(move || csv.flush())
        .await?
        .context("writing the export")?;
    Ok(written)
}
