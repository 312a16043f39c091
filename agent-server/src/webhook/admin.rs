//! Token and block-list administration, shared by the CLI and the admin REST API.

use secrecy::{ExposeSecret, SecretString};

use super::Format;
use crate::auth;
use crate::ingest::now_ms;
use crate::phone;
use crate::store::{self, Store};

/// Shortest signing secret taken.
pub const MIN_SECRET_CHARS: usize = 16;

/// Errors of webhook administration.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A value is empty or malformed.
    #[error("{0}")]
    Invalid(&'static str),
    /// The database refused or failed.
    #[error(transparent)]
    Store(#[from] store::Error),
}

/// A token just created: shown once, never stored.
pub struct NewToken {
    /// Its id, for listing and revoking.
    pub id: i64,
    /// The token, to put in the PBX's webhook URL.
    pub token: SecretString,
}

/// Creates a token for a PBX posting `format`, signed with `secret` when given.
///
/// # Errors
/// [`Error::Invalid`] for an empty or long name, an unknown format or a short secret.
pub async fn create_token(
    store: &Store,
    name: &str,
    format: &str,
    secret: Option<SecretString>,
) -> Result<NewToken, Error> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(Error::Invalid("name: 1 to 64 characters"));
    }
    let format = Format::from_word(format.trim())
        .ok_or(Error::Invalid("format: ringside, zammad or sipgate"))?;
    let secret = secret.map(|s| SecretString::from(s.expose_secret().trim().to_owned()));
    if let Some(secret) = &secret {
        if secret.expose_secret().chars().count() < MIN_SECRET_CHARS {
            return Err(Error::Invalid("secret: at least 16 characters"));
        }
    }
    let token = auth::new_session_token();
    let id = store
        .create_pbx_token(
            name,
            format.as_str(),
            &auth::token_hash(token.expose_secret()),
            secret.as_ref().map(|s| s.expose_secret()),
            now_ms(),
        )
        .await?;
    tracing::info!(pbx.id = id, format = format.as_str(), "PBX token created");
    Ok(NewToken { id, token })
}

/// A number as the block list keeps it: E.164, read with `region` when national.
///
/// # Errors
/// [`Error::Invalid`] when it is not a phone number.
pub fn blockable(number: &str, region: phonenumber::country::Id) -> Result<String, Error> {
    let e164 = phone::normalise_or_keep(&super::state::pbx_number(number), region);
    if e164.starts_with('+') && e164.len() >= 8 {
        Ok(e164)
    } else {
        Err(Error::Invalid("number: not a phone number"))
    }
}

/// Puts a number on the block list; returns its E.164 form.
///
/// # Errors
/// [`Error::Invalid`] when it is not a phone number.
pub async fn block(
    store: &Store,
    number: &str,
    region: phonenumber::country::Id,
) -> Result<String, Error> {
    let e164 = blockable(number, region)?;
    store.block_number(&e164, now_ms()).await?;
    tracing::info!("number added to the block list");
    Ok(e164)
}

/// Takes a number off the block list; returns its E.164 form.
///
/// # Errors
/// [`Error::Invalid`] when it is not a phone number, [`store::Error::NotFound`] when it
/// was not listed.
pub async fn unblock(
    store: &Store,
    number: &str,
    region: phonenumber::country::Id,
) -> Result<String, Error> {
    let e164 = blockable(number, region)?;
    store.unblock_number(&e164).await?;
    tracing::info!("number removed from the block list");
    Ok(e164)
}
