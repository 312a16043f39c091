//! The database: users and sessions, organisations, customers and their numbers, the
//! interaction log, PBX webhook tokens and the block list.
//!
//! All SQL of the server lives under this module. One [`Store`] runs on embedded SQLite (the
//! default) and on PostgreSQL, through sqlx's `Any` driver: the queries use only `$N`
//! placeholders and types both databases share (`BIGINT`/`INTEGER` ids and epoch
//! milliseconds, `TEXT`), and the schema has one migration folder per backend under
//! `migrations/`. The same store tests run against both.

mod customers;
mod import;
mod interactions;
mod lookup;
mod organisations;
mod pbx;
mod users;

use std::path::Path;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;

pub use customers::{last_digits, CustomerFields, CustomerRecord, LAST_DIGITS};
pub use import::{ImportRow, RowOutcome};
pub use interactions::{InteractionRecord, NewInteraction};
pub use lookup::MAX_PER_NUMBER;
pub use pbx::PbxTokenRecord;
pub use users::{NewUser, Role, UserRecord};

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database refused or failed a query.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Applying the schema migrations failed.
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// A unique value is taken (a username, an extension, a call id).
    #[error("{0} is already in use")]
    Conflict(&'static str),
    /// The row asked for does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The record was saved by someone else since the version the change was made from.
    #[error("the {0} was changed by someone else; reload it and make the change again")]
    Stale(&'static str),
    /// A record this one refers to does not exist (or is in the trash).
    #[error("no such {0}")]
    Reference(&'static str),
    /// A stored value is not one this version knows (a database written by a newer one).
    #[error("unexpected stored value in {0}")]
    Corrupt(&'static str),
    /// The SQLite file's folder could not be created.
    #[error("cannot create the database folder: {0}")]
    Folder(std::io::Error),
}

/// Result of store operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The outcome of a statement that must touch one row: [`Error::NotFound`] naming `what`
/// when it touched none.
pub(crate) fn one_row(done: &sqlx::any::AnyQueryResult, what: &'static str) -> Result<()> {
    if done.rows_affected() == 0 {
        return Err(Error::NotFound(what));
    }
    Ok(())
}

/// Which database engine a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

impl Store {
    /// Opens the database named by `url`, creating an SQLite file and its folder if needed.
    ///
    /// # Errors
    /// [`Error::Folder`] when the SQLite folder cannot be made, [`Error::Database`] when the
    /// database cannot be reached.
    pub async fn connect(url: &SecretString) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let url = url.expose_secret();
        let (backend, connect_url) = if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.trim_start_matches("//");
            let path = path.split('?').next().unwrap_or_default();
            if let Some(parent) = Path::new(path)
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
            {
                std::fs::create_dir_all(parent).map_err(Error::Folder)?;
            }
            let sep = if url.contains('?') { '&' } else { '?' };
            (Backend::Sqlite, format!("{url}{sep}mode=rwc"))
        } else {
            (Backend::Postgres, url.to_owned())
        };

        // SQLite allows one writer at a time; a small pool avoids lock waits piling up.
        let max = if backend == Backend::Sqlite { 4 } else { 16 };
        let mut options = AnyPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(Duration::from_secs(5));
        if backend == Backend::Sqlite {
            // Per connection: in WAL mode `synchronous = NORMAL` syncs the log at checkpoints
            // rather than at every commit; a power cut may lose the last commits but never
            // corrupts the file. A writer waits up to 5 s for another's lock before failing.
            options = options.after_connect(|conn, _meta| {
                Box::pin(async move {
                    sqlx::query("PRAGMA synchronous = NORMAL")
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("PRAGMA busy_timeout = 5000")
                        .execute(&mut *conn)
                        .await?;
                    Ok(())
                })
            });
        }
        let pool = options.connect(&connect_url).await?;
        if backend == Backend::Sqlite {
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await?;
        }
        Ok(Store { pool, backend })
    }

    /// Brings the schema up to date.
    ///
    /// # Errors
    /// [`Error::Migration`] when a migration fails or the database has one this build lacks.
    pub async fn migrate(&self) -> Result<()> {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        Ok(())
    }

    /// The engine behind this store.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Answers whether the database responds, for health checks.
    ///
    /// # Errors
    /// [`Error::Database`] when it does not.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Drops the PostgreSQL database `name` on this server, if it exists, and creates it
    /// empty: for test and benchmark tools, never the service.
    ///
    /// # Errors
    /// [`Error::NotFound`] when `name` is not a plain lower-case identifier,
    /// [`Error::Database`] when the server refuses.
    pub async fn recreate_database(&self, name: &str) -> Result<()> {
        self.drop_database(name).await?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Drops the PostgreSQL database `name` on this server, closing its connections.
    ///
    /// # Errors
    /// As [`Store::recreate_database`].
    pub async fn drop_database(&self, name: &str) -> Result<()> {
        let plain = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !plain {
            return Err(Error::NotFound("database name"));
        }
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Begins a transaction that will write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`): a transaction that reads before it writes would otherwise fail
    /// with "database is locked", without waiting, when another writer commits between its
    /// read and its first write.
    ///
    /// # Errors
    /// [`Error::Database`] when the lock is not had within the busy timeout.
    pub(crate) async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Closes every connection; later calls fail.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Maps a unique-constraint violation to [`Error::Conflict`] naming `what`.
fn conflict_as(what: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
    move |err| match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => Error::Conflict(what),
        _ => Error::Database(err),
    }
}

#[cfg(test)]
pub(crate) mod tests;

#[cfg(test)]
mod customer_tests;
