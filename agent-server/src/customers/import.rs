//! `agent-server import customers FILE.csv`: reads the file on a blocking thread, checks
//! every row as the REST API checks its input, and writes the good rows in batches, one
//! transaction each, while the next batch is being read.
//!
//! A row that is wrong is left out and reported with its line number and the reason; the
//! rows around it are imported. A stored customer with the row's external id (or, for a
//! row without one, with one of its numbers and the same name) is rewritten from the row
//! rather than added again, so running the same import twice changes nothing but versions.
//! Organisations are found by exact name, or created.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use phonenumber::country;
use ringside_protocol::OrganisationId;
use tokio::sync::mpsc;

use super::csv_format::{input_of, Header};
use super::fields_from_input;
use crate::ingest::now_ms;
use crate::store::{ImportRow, RowOutcome, Store};

/// Rows read, checked and written together (one transaction).
pub const BATCH_ROWS: usize = 2_000;

/// Batches between refreshes of the planner's statistics, so that the matching queries of
/// later batches keep using their indexes as the tables grow.
const ANALYZE_EVERY: usize = 50;

/// A row left out, and why.
#[derive(Clone, PartialEq, Eq)]
pub struct Rejected {
    /// Line of the file the row starts on (the header is line 1).
    pub line: u64,
    /// Why it was left out; may quote what the row holds.
    pub reason: String,
}

impl fmt::Debug for Rejected {
    // The reason may quote a number: the line alone.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rejected")
            .field("line", &self.line)
            .finish_non_exhaustive()
    }
}

/// What an import did.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// New customers.
    pub created: u64,
    /// Stored customers rewritten from their row.
    pub updated: u64,
    /// Rows left out, by line.
    pub rejected: Vec<Rejected>,
    /// Wall time of the whole import.
    pub elapsed: Duration,
}

/// One batch from the reading thread.
struct Batch {
    rows: Vec<ImportRow>,
    rejected: Vec<Rejected>,
    /// How far into the file the reader is, for the progress bar.
    bytes_read: u64,
}

/// Imports the customers of the CSV file at `path`, reading national numbers as numbers of
/// `region`; `progress` is told how many bytes of the file are done.
///
/// # Errors
/// When the file cannot be opened or its header is wrong (nothing is imported then), or
/// when the database fails (the batches written before stay).
pub async fn import_customers(
    store: &Store,
    path: &Path,
    region: country::Id,
    progress: impl Fn(u64),
) -> anyhow::Result<Report> {
    let started = Instant::now();
    let (tx, mut rx) = mpsc::channel::<anyhow::Result<Batch>>(4);
    let owned = path.to_owned();
    let reader = tokio::task::spawn_blocking(move || read_batches(&owned, region, &tx));

    let mut report = Report::default();
    let mut organisations: HashMap<String, OrganisationId> = HashMap::new();
    let mut batches = 0;
    while let Some(batch) = rx.recv().await {
        let mut batch = batch?;
        if batches % ANALYZE_EVERY == 1 {
            store.analyze_customers().await?;
        }
        batches += 1;
        for row in &mut batch.rows {
            let Some(name) = &row.organisation_name else {
                continue;
            };
            let id = match organisations.get(name) {
                Some(id) => *id,
                None => {
                    let id = store.organisation_by_name_or_new(name, now_ms()).await?;
                    organisations.insert(name.clone(), id);
                    id
                }
            };
            row.fields.organisation = Some(id);
        }
        let outcomes = store
            .import_batch(&batch.rows, now_ms())
            .await
            .context("writing a batch of customers")?;
        for (row, outcome) in batch.rows.iter().zip(outcomes) {
            match outcome {
                RowOutcome::Created(_) => report.created += 1,
                RowOutcome::Updated(_) => report.updated += 1,
                RowOutcome::Repeated(reason) => report.rejected.push(Rejected {
                    line: row.line,
                    reason,
                }),
            }
        }
        report.rejected.extend(batch.rejected);
        progress(batch.bytes_read);
    }
    reader.await.context("the CSV reader stopped")?;
    store.analyze_customers().await?;
    report.rejected.sort_by_key(|r| r.line);
    report.elapsed = started.elapsed();
    tracing::info!(
        created = report.created,
        updated = report.updated,
        rejected = report.rejected.len(),
        duration_ms = u64::try_from(report.elapsed.as_millis()).unwrap_or(u64::MAX),
        "customer import finished"
    );
    Ok(report)
}

/// The reading thread: sends checked batches until the file ends or the receiver goes.
fn read_batches(path: &PathBuf, region: country::Id, tx: &mpsc::Sender<anyhow::Result<Batch>>) {
    if let Err(err) = read_into(path, region, tx) {
        let _ = tx.blocking_send(Err(err));
    }
}

fn read_into(
    path: &PathBuf,
    region: country::Id,
    tx: &mpsc::Sender<anyhow::Result<Batch>>,
) -> anyhow::Result<()> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("opening the import file {}", path.display()))?;
    let mut csv = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(std::io::BufReader::with_capacity(1 << 20, file));
    let names = csv
        .headers()
        .with_context(|| format!("reading the header row of {}", path.display()))?
        .clone();
    let header = Header::read(&names)
        .map_err(|err| anyhow::anyhow!("{}: header row: {err}", path.display()))?;

    let mut batch = Batch {
        rows: Vec::with_capacity(BATCH_ROWS),
        rejected: Vec::new(),
        bytes_read: 0,
    };
    let mut record = csv::StringRecord::new();
    loop {
        let line = csv.position().line();
        match csv.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(line, csv::Position::line);
                match row_of(&header, &record, line, region) {
                    Ok(row) => batch.rows.push(row),
                    Err(reason) => batch.rejected.push(Rejected { line, reason }),
                }
            }
            Err(err) => {
                let line = err.position().map_or(line, csv::Position::line);
                batch.rejected.push(Rejected {
                    line,
                    reason: unreadable(&err),
                });
                if !matches!(err.kind(), csv::ErrorKind::Utf8 { .. }) {
                    // The reader cannot say where the next row starts: stop here.
                    break;
                }
            }
        }
        if batch.rows.len() + batch.rejected.len() >= BATCH_ROWS {
            batch.bytes_read = csv.position().byte();
            let full = std::mem::replace(
                &mut batch,
                Batch {
                    rows: Vec::with_capacity(BATCH_ROWS),
                    rejected: Vec::new(),
                    bytes_read: 0,
                },
            );
            if tx.blocking_send(Ok(full)).is_err() {
                return Ok(());
            }
        }
    }
    batch.bytes_read = csv.position().byte();
    let _ = tx.blocking_send(Ok(batch));
    Ok(())
}

fn unreadable(err: &csv::Error) -> String {
    match err.kind() {
        csv::ErrorKind::Utf8 { .. } => "the row is not valid UTF-8".into(),
        csv::ErrorKind::Io(_) => "the file could not be read here".into(),
        _ => "the row is not valid CSV".into(),
    }
}

fn row_of(
    header: &Header,
    record: &csv::StringRecord,
    line: u64,
    region: country::Id,
) -> Result<ImportRow, String> {
    let (input, organisation_name) = input_of(header, record).map_err(|err| err.0)?;
    let fields = fields_from_input(&input, region).map_err(|err| err.0)?;
    Ok(ImportRow {
        line,
        fields,
        organisation_name,
    })
}
