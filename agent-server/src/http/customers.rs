//! REST handlers for customers and organisations: search, read, create, update, delete
//! (to the trash) and restore, a customer's interactions page by page, the agent's choice
//! of customer for a call, and the admin's list of stored numbers that no longer parse.
//!
//! Any logged-in user may search, read, create and update records (agents edit them while
//! the caller is on the line); deleting takes a supervisor or an admin, restoring from the
//! trash and the unparseable-numbers list an admin. An update names the version it was
//! made from and is refused with 409 when the record was saved since.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use ringside_protocol::{
    ChooseCustomer, Customer, CustomerHit, CustomerId, CustomerInput, InteractionId,
    InteractionPage, MatchReason, Organisation, OrganisationId, OrganisationInput, Trash,
    UnparseableNumber, UnparseablePage,
};
use serde::Deserialize;

use super::api::{id_in_path, json_body, may_annotate};
use super::{ApiError, AppState, CurrentUser};
use crate::customers::{fields_from_input, NAME_MAX_CHARS, NOTES_MAX_CHARS};
use crate::ingest::now_ms;
use crate::phone;
use crate::store::{Role, UserRecord};

/// Most results one search or page gives.
const PAGE_MAX: i64 = 100;
/// Results a search or page gives when the request does not say.
const PAGE_DEFAULT: i64 = 20;
/// Stored numbers one call of the unparseable-numbers scan reads.
const SCAN_ROWS: i64 = 5_000;

fn query_of<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    query
        .map(|Query(value)| value)
        .map_err(|rejection| ApiError::BadRequest(rejection.body_text()))
}

fn require(user: &UserRecord, roles: &[Role]) -> Result<(), ApiError> {
    if roles.contains(&user.role) {
        Ok(())
    } else {
        Err(ApiError::Forbidden)
    }
}

fn limit_of(limit: Option<i64>) -> i64 {
    limit.unwrap_or(PAGE_DEFAULT).clamp(1, PAGE_MAX)
}

/// Query of the searches.
#[derive(Deserialize)]
pub(super) struct SearchQuery {
    q: String,
    limit: Option<i64>,
}

fn search_text(query: &SearchQuery) -> Result<&str, ApiError> {
    let text = query.q.trim();
    if text.chars().count() < 2 || text.chars().count() > 100 {
        return Err(ApiError::BadRequest(
            "q: between 2 and 100 characters".into(),
        ));
    }
    Ok(text)
}

pub(super) async fn search_customers(
    State(state): State<AppState>,
    CurrentUser(_user): CurrentUser,
    query: Result<Query<SearchQuery>, QueryRejection>,
) -> Result<Json<Vec<CustomerHit>>, ApiError> {
    let query = query_of(query)?;
    let text = search_text(&query)?;
    let hits = state
        .store
        .search_customers(text, limit_of(query.limit))
        .await?;
    Ok(Json(hits))
}

pub(super) async fn create_customer(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    body: Result<Json<CustomerInput>, JsonRejection>,
) -> Result<(StatusCode, Json<Customer>), ApiError> {
    let input = json_body(body)?;
    let fields = fields_from_input(&input, state.settings.default_region)
        .map_err(|err| ApiError::BadRequest(err.0))?;
    let id = state.store.create_customer(&fields, now_ms()).await?;
    tracing::info!(customer.id = id.0, user.id = user.id.0, "customer created");
    let customer = state
        .store
        .customer_full(id)
        .await?
        .ok_or(ApiError::NotFound("customer"))?;
    Ok((StatusCode::CREATED, Json(customer)))
}

pub(super) async fn customer(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    path: Result<Path<i64>, PathRejection>,
) -> Result<Json<Customer>, ApiError> {
    let id = CustomerId(id_in_path(path)?);
    let customer = state
        .store
        .customer_full(id)
        .await?
        .filter(|c| c.deleted_at_ms.is_none() || user.role == Role::Admin)
        .ok_or(ApiError::NotFound("customer"))?;
    Ok(Json(customer))
}

pub(super) async fn update_customer(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    path: Result<Path<i64>, PathRejection>,
    body: Result<Json<CustomerInput>, JsonRejection>,
) -> Result<Json<Customer>, ApiError> {
    let id = CustomerId(id_in_path(path)?);
    let input = json_body(body)?;
    let version = input
        .version
        .ok_or_else(|| ApiError::BadRequest("version: required to update a record".into()))?;
    let fields = fields_from_input(&input, state.settings.default_region)
        .map_err(|err| ApiError::BadRequest(err.0))?;
    let customer = state
        .store
        .update_customer(id, version, &fields, now_ms())
        .await?;
    tracing::info!(
        customer.id = id.0,
        user.id = user.id.0,
        version = customer.version,
        "customer updated"
    );
    Ok(Json(customer))
}

pub(super) async fn delete_customer(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    path: Result<Path<i64>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    require(&user, &[Role::Admin, Role::Supervisor])?;
    let id = CustomerId(id_in_path(path)?);
    state.store.delete_customer(id, now_ms()).await?;
    tracing::info!(
        customer.id = id.0,
        user.id = user.id.0,
        "customer moved to the trash"
    );
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn restore_customer(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    path: Result<Path<i64>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    require(&user, &[Role::Admin])?;
    let id = CustomerId(id_in_path(path)?);
    let now = now_ms();
    let since = now - state.settings.trash_keep_ms();
    state.store.restore_customer(id, since, now).await?;
    tracing::info!(customer.id = id.0, user.id = user.id.0, "customer restored");
    Ok(StatusCode::NO_CONTENT)
}

/// Query of a page of interactions.
#[derive(Deserialize)]
pub(super) struct PageQuery {
    before: Option<String>,
    limit: Option<i64>,
}

/// Reads a `before` cursor, `RINGING_AT_MS.ID`.
fn cursor_of(text: &str) -> Result<(i64, i64), ApiError> {
    let bad = || ApiError::BadRequest("before: not a cursor this server gave".into());
    let (at, id) = text.split_once('.').ok_or_else(bad)?;
    Ok((
        at.parse().map_err(|_| bad())?,
        id.parse().map_err(|_| bad())?,
    ))
}

pub(super) async fn customer_interactions(
    State(state): State<AppState>,
    CurrentUser(_user): CurrentUser,
    path: Result<Path<i64>, PathRejection>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<InteractionPage>, ApiError> {
    let id = CustomerId(id_in_path(path)?);
    let query = query_of(query)?;
    let before = query.before.as_deref().map(cursor_of).transpose()?;
    let limit = limit_of(query.limit);
    if state.store.customer_full(id).await?.is_none() {
        return Err(ApiError::NotFound("customer"));
    }
    let items = state.store.customer_interactions(id, before, limit).await?;
    let next = match items.last() {
        Some(last) if i64::try_from(items.len()).unwrap_or(0) == limit => {
            Some(format!("{}.{}", last.ringing_at_ms, last.id.0))
        }
        _ => None,
    };
    Ok(Json(InteractionPage { items, next }))
}

pub(super) async fn choose_customer(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    path: Result<Path<i64>, PathRejection>,
    body: Result<Json<ChooseCustomer>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let id = InteractionId(id_in_path(path)?);
    let choice = json_body(body)?;
    let record = state
        .store
        .interaction(id)
        .await?
        .ok_or(ApiError::NotFound("interaction"))?;
    if !may_annotate(&user, &record) {
        return Err(ApiError::Forbidden);
    }
    let now = now_ms();
    state
        .store
        .choose_customer(id, choice.customer_id, user.id, now)
        .await?;
    if let (Some(agent), Some(customer)) = (
        record.agent,
        state.store.customer(choice.customer_id).await?,
    ) {
        let card = crate::calls::customer_card(
            &state.store,
            customer,
            MatchReason::Chosen,
            &record.call_id,
        )
        .await?;
        state.hub.update_customer(agent, &record.call_id, card);
    }
    tracing::info!(
        interaction.id = id.0,
        customer.id = choice.customer_id.0,
        user.id = user.id.0,
        "customer chosen for a call"
    );
    Ok(StatusCode::NO_CONTENT)
}

fn organisation_input(input: &OrganisationInput) -> Result<(String, String), ApiError> {
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > NAME_MAX_CHARS || name.contains('\0') {
        return Err(ApiError::BadRequest(format!(
            "name: required, at most {NAME_MAX_CHARS} characters"
        )));
    }
    if input.notes.chars().count() > NOTES_MAX_CHARS || input.notes.contains('\0') {
        return Err(ApiError::BadRequest(format!(
            "notes: at most {NOTES_MAX_CHARS} characters, no NUL"
        )));
    }
    Ok((name.to_owned(), input.notes.clone()))
}

pub(super) async fn search_organisations(
    State(state): State<AppState>,
    CurrentUser(_user): CurrentUser,
    query: Result<Query<SearchQuery>, QueryRejection>,
) -> Result<Json<Vec<Organisation>>, ApiError> {
    let query = query_of(query)?;
    let text = search_text(&query)?;
    let found = state
        .store
        .search_organisations(text, limit_of(query.limit))
        .await?;
    Ok(Json(found))
}

pub(super) async fn create_organisation(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    body: Result<Json<OrganisationInput>, JsonRejection>,
) -> Result<(StatusCode, Json<Organisation>), ApiError> {
    let (name, notes) = organisation_input(&json_body(body)?)?;
    let id = state
        .store
        .create_organisation(&name, &notes, now_ms())
        .await?;
    tracing::info!(
        organisation.id = id.0,
        user.id = user.id.0,
        "organisation created"
    );
    let created = state
        .store
        .organisation(id)
        .await?
        .ok_or(ApiError::NotFound("organisation"))?;
    Ok((StatusCode::CREATED, Json(created)))
}

pub(super) async fn organisation(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    path: Result<Path<i64>, PathRejection>,
) -> Result<Json<Organisation>, ApiError> {
    let id = OrganisationId(id_in_path(path)?);
    let found = state
        .store
        .organisation(id)
        .await?
        .filter(|o| o.deleted_at_ms.is_none() || user.role == Role::Admin)
        .ok_or(ApiError::NotFound("organisation"))?;
    Ok(Json(found))
}

pub(super) async fn update_organisation(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    path: Result<Path<i64>, PathRejection>,
    body: Result<Json<OrganisationInput>, JsonRejection>,
) -> Result<Json<Organisation>, ApiError> {
    let id = OrganisationId(id_in_path(path)?);
    let input = json_body(body)?;
    let version = input
        .version
        .ok_or_else(|| ApiError::BadRequest("version: required to update a record".into()))?;
    let (name, notes) = organisation_input(&input)?;
    let saved = state
        .store
        .update_organisation(id, version, &name, &notes, now_ms())
        .await?;
    tracing::info!(
        organisation.id = id.0,
        user.id = user.id.0,
        "organisation updated"
    );
    Ok(Json(saved))
}

pub(super) async fn delete_organisation(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    path: Result<Path<i64>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    require(&user, &[Role::Admin, Role::Supervisor])?;
    let id = OrganisationId(id_in_path(path)?);
    state.store.delete_organisation(id, now_ms()).await?;
    tracing::info!(
        organisation.id = id.0,
        user.id = user.id.0,
        "organisation moved to the trash"
    );
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn restore_organisation(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    path: Result<Path<i64>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    require(&user, &[Role::Admin])?;
    let id = OrganisationId(id_in_path(path)?);
    let now = now_ms();
    let since = now - state.settings.trash_keep_ms();
    state.store.restore_organisation(id, since, now).await?;
    tracing::info!(
        organisation.id = id.0,
        user.id = user.id.0,
        "organisation restored"
    );
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn trash(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> Result<Json<Trash>, ApiError> {
    require(&user, &[Role::Admin])?;
    let since = now_ms() - state.settings.trash_keep_ms();
    Ok(Json(Trash {
        customers: state.store.customers_in_trash(since, PAGE_MAX).await?,
        organisations: state.store.organisations_in_trash(since, PAGE_MAX).await?,
    }))
}

/// Query of the unparseable-numbers scan.
#[derive(Deserialize)]
pub(super) struct ScanQuery {
    after: Option<i64>,
}

pub(super) async fn unparseable_numbers(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    query: Result<Query<ScanQuery>, QueryRejection>,
) -> Result<Json<UnparseablePage>, ApiError> {
    require(&user, &[Role::Admin])?;
    let after = query_of(query)?.after.unwrap_or(0);
    let rows = state.store.phones_after(after, SCAN_ROWS).await?;
    let region = state.settings.default_region;
    let next = (i64::try_from(rows.len()).unwrap_or(0) == SCAN_ROWS)
        .then(|| rows.last().map(|(id, ..)| *id))
        .flatten();
    let items = tokio::task::spawn_blocking(move || {
        rows.into_iter()
            .filter_map(|(_, customer_id, name, original)| {
                let err = phone::parse_entry(&original, region).err()?;
                Some(UnparseableNumber {
                    customer_id,
                    name,
                    original,
                    reason: err.to_string(),
                })
            })
            .collect()
    })
    .await
    .map_err(|err| ApiError::Internal(err.to_string()))?;
    Ok(Json(UnparseablePage { items, next }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_read_back_what_pages_give() {
        assert_eq!(
            cursor_of("1700000000000.42").unwrap(),
            (1_700_000_000_000, 42)
        );
        assert!(cursor_of("42").is_err());
        assert!(cursor_of("a.b").is_err());
    }
}
