//! The interaction log: one row per call, on a customer's record or as an unknown caller.
//!
//! The row is opened when the call starts ringing, so that notes typed during the call have
//! somewhere to go and a crash loses nothing; it is closed with times and outcome when the
//! call ends. Wait time runs from ringing to answer (or to the end, for an unanswered
//! call); talk time from answer to end. Both are whole seconds, rounded down.

use std::fmt;

use ringside_protocol::{
    CallId, CustomerId, Direction, InteractionId, InteractionSummary, MatchReason, Outcome, UserId,
};
use sqlx::Row;

use super::{conflict_as, one_row, Error, Result, Store};

/// A call that starts ringing.
pub struct NewInteraction<'a> {
    /// The call.
    pub call_id: &'a CallId,
    /// The matched customer, if any.
    pub customer: Option<CustomerId>,
    /// The agent whose phone rings, if the extension belongs to one.
    pub agent: Option<UserId>,
    /// Inbound or outbound.
    pub direction: Direction,
    /// The other party's number, `None` when withheld.
    pub caller_number: Option<&'a str>,
    /// The number or extension called.
    pub called_number: &'a str,
    /// When it started ringing.
    pub ringing_at_ms: i64,
    /// The call this one continues after a transfer, if any.
    pub transferred_from: Option<&'a CallId>,
    /// Which lookup rule found the customer, when one was found.
    pub matched_by: Option<MatchReason>,
}

/// A stored interaction, every column.
#[derive(Clone, PartialEq)]
pub struct InteractionRecord {
    /// Id.
    pub id: InteractionId,
    /// The call.
    pub call_id: CallId,
    /// The customer, `None` for an unknown caller.
    pub customer: Option<CustomerId>,
    /// The agent, if any.
    pub agent: Option<UserId>,
    /// Inbound or outbound.
    pub direction: Direction,
    /// The other party's number, `None` when withheld.
    pub caller_number: Option<String>,
    /// The number or extension called.
    pub called_number: String,
    /// Ring start.
    pub ringing_at_ms: i64,
    /// Answer time, if answered.
    pub answered_at_ms: Option<i64>,
    /// End time, once ended.
    pub ended_at_ms: Option<i64>,
    /// Seconds the caller waited.
    pub wait_seconds: Option<i64>,
    /// Seconds of conversation.
    pub talk_seconds: Option<i64>,
    /// How it ended, once ended.
    pub outcome: Option<Outcome>,
    /// Agent's notes.
    pub notes: String,
    /// Agent's disposition code.
    pub disposition: Option<String>,
    /// The call this one continues after a transfer, if any.
    pub transferred_from: Option<CallId>,
    /// Whether the call's start was never reported: a later event (a PBX webhook's
    /// answer or hangup) created the row.
    pub start_unseen: bool,
    /// The queue a PBX webhook said the call waited in.
    pub queue: Option<String>,
}

impl fmt::Debug for InteractionRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InteractionRecord")
            .field("id", &self.id)
            .field("customer", &self.customer)
            .field("agent", &self.agent)
            .field("outcome", &self.outcome)
            .finish_non_exhaustive()
    }
}

const COLUMNS: &str = "id, call_id, customer_id, agent_id, direction, caller_number, \
    called_number, ringing_at_ms, answered_at_ms, ended_at_ms, wait_seconds, talk_seconds, \
    outcome, notes, disposition, transferred_from, start_unseen, queue";

fn outcome_from(word: Option<String>) -> Result<Option<Outcome>> {
    word.map(|w| Outcome::from_word(&w).ok_or(Error::Corrupt("interactions.outcome")))
        .transpose()
}

fn record_from_row(row: &sqlx::any::AnyRow) -> Result<InteractionRecord> {
    let direction: String = row.try_get("direction")?;
    Ok(InteractionRecord {
        id: InteractionId(row.try_get("id")?),
        call_id: CallId(row.try_get("call_id")?),
        customer: row
            .try_get::<Option<i64>, _>("customer_id")?
            .map(CustomerId),
        agent: row.try_get::<Option<i64>, _>("agent_id")?.map(UserId),
        direction: Direction::from_word(&direction)
            .ok_or(Error::Corrupt("interactions.direction"))?,
        caller_number: row.try_get("caller_number")?,
        called_number: row.try_get("called_number")?,
        ringing_at_ms: row.try_get("ringing_at_ms")?,
        answered_at_ms: row.try_get("answered_at_ms")?,
        ended_at_ms: row.try_get("ended_at_ms")?,
        wait_seconds: row.try_get("wait_seconds")?,
        talk_seconds: row.try_get("talk_seconds")?,
        outcome: outcome_from(row.try_get("outcome")?)?,
        notes: row.try_get("notes")?,
        disposition: row.try_get("disposition")?,
        transferred_from: row
            .try_get::<Option<String>, _>("transferred_from")?
            .map(CallId),
        start_unseen: row.try_get::<i64, _>("start_unseen")? != 0,
        queue: row.try_get("queue")?,
    })
}

fn summary_from_row(row: &sqlx::any::AnyRow) -> Result<InteractionSummary> {
    let direction: String = row.try_get("direction")?;
    Ok(InteractionSummary {
        id: InteractionId(row.try_get("id")?),
        ringing_at_ms: row.try_get("ringing_at_ms")?,
        direction: Direction::from_word(&direction)
            .ok_or(Error::Corrupt("interactions.direction"))?,
        outcome: outcome_from(row.try_get("outcome")?)?,
        agent_name: row.try_get("display_name")?,
        talk_seconds: row.try_get::<Option<i64>, _>("talk_seconds")?.unwrap_or(0),
        disposition: row.try_get("disposition")?,
        notes: row.try_get("notes")?,
    })
}

impl Store {
    /// Opens the interaction of a call that starts ringing.
    ///
    /// # Errors
    /// [`Error::Conflict`] when this call id already has an open (not ended) interaction.
    pub async fn open_interaction(&self, new: NewInteraction<'_>) -> Result<InteractionId> {
        let row = sqlx::query(
            "INSERT INTO interactions (call_id, customer_id, agent_id, direction, caller_number, \
             called_number, ringing_at_ms, updated_at_ms, transferred_from, matched_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9) RETURNING id",
        )
        .bind(&new.call_id.0)
        .bind(new.customer.map(|c| c.0))
        .bind(new.agent.map(|a| a.0))
        .bind(new.direction.as_str())
        .bind(new.caller_number)
        .bind(new.called_number)
        .bind(new.ringing_at_ms)
        .bind(new.transferred_from.map(|c| c.0.as_str()))
        .bind(new.matched_by.map(MatchReason::as_str))
        .fetch_one(&self.pool)
        .await
        .map_err(conflict_as("call id"))?;
        Ok(InteractionId(row.try_get("id")?))
    }

    /// Records the answer time.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown interaction.
    pub async fn mark_answered(&self, id: InteractionId, at_ms: i64) -> Result<()> {
        let done = sqlx::query(
            "UPDATE interactions SET answered_at_ms = $1, updated_at_ms = $1 \
             WHERE id = $2 AND answered_at_ms IS NULL",
        )
        .bind(at_ms)
        .bind(id.0)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            self.interaction(id)
                .await?
                .ok_or(Error::NotFound("interaction"))?;
        }
        Ok(())
    }

    /// Records the answer time, as [`Store::mark_answered`] does, and returns the row (in
    /// one round trip when the call was not yet answered).
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown interaction.
    pub async fn answer_interaction(
        &self,
        id: InteractionId,
        at_ms: i64,
    ) -> Result<InteractionRecord> {
        let sql = format!(
            "UPDATE interactions SET answered_at_ms = $1, updated_at_ms = $1 \
             WHERE id = $2 AND answered_at_ms IS NULL RETURNING {COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(at_ms)
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?;
        let record = match row {
            Some(row) => Some(record_from_row(&row)?),
            None => self.interaction(id).await?,
        };
        record.ok_or(Error::NotFound("interaction"))
    }

    /// Records the agent who took the call: on a call that rang several agents, the
    /// one who answered.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown interaction.
    pub async fn assign_agent(&self, id: InteractionId, agent: UserId, now_ms: i64) -> Result<()> {
        let done =
            sqlx::query("UPDATE interactions SET agent_id = $1, updated_at_ms = $2 WHERE id = $3")
                .bind(agent.0)
                .bind(now_ms)
                .bind(id.0)
                .execute(&self.pool)
                .await?;
        one_row(&done, "interaction")
    }

    /// Closes the interaction: end time, outcome, wait and talk seconds.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown interaction.
    pub async fn close_interaction(
        &self,
        id: InteractionId,
        ended_at_ms: i64,
        outcome: Outcome,
    ) -> Result<InteractionRecord> {
        // One statement computes wait and talk from the stored times (whole seconds, never
        // negative) and returns the closed row: one round trip, and no other writer between a
        // read and the update.
        let sql = format!(
            "UPDATE interactions SET ended_at_ms = $1, outcome = $2, \
             wait_seconds = CASE WHEN COALESCE(answered_at_ms, $1) > ringing_at_ms \
               THEN (COALESCE(answered_at_ms, $1) - ringing_at_ms) / 1000 ELSE 0 END, \
             talk_seconds = CASE WHEN answered_at_ms IS NOT NULL AND $1 > answered_at_ms \
               THEN ($1 - answered_at_ms) / 1000 ELSE 0 END, \
             updated_at_ms = $1 WHERE id = $3 RETURNING {COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(ended_at_ms)
            .bind(outcome.as_str())
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref()
            .map(record_from_row)
            .transpose()?
            .ok_or(Error::NotFound("interaction"))
    }

    /// Saves the agent's notes and disposition.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown interaction.
    pub async fn save_wrap_up(
        &self,
        id: InteractionId,
        notes: &str,
        disposition: Option<&str>,
        now_ms: i64,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE interactions SET notes = $1, disposition = $2, updated_at_ms = $3 \
             WHERE id = $4",
        )
        .bind(notes)
        .bind(disposition)
        .bind(now_ms)
        .bind(id.0)
        .execute(&self.pool)
        .await?;
        one_row(&done, "interaction")
    }

    /// The interaction with this id.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn interaction(&self, id: InteractionId) -> Result<Option<InteractionRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM interactions WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(record_from_row).transpose()
    }

    /// The latest interaction of this call id (PBXs may reuse a call id for a later call).
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn interaction_by_call(&self, call: &CallId) -> Result<Option<InteractionRecord>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM interactions WHERE call_id = $1 ORDER BY id DESC LIMIT 1"
        );
        let row = sqlx::query(&sql)
            .bind(&call.0)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(record_from_row).transpose()
    }

    /// A customer's latest interactions, newest first, leaving out the call `except`.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn recent_interactions(
        &self,
        customer: CustomerId,
        except: &CallId,
        limit: i64,
    ) -> Result<Vec<InteractionSummary>> {
        let rows = sqlx::query(
            "SELECT i.id, i.ringing_at_ms, i.direction, i.outcome, u.display_name, \
             i.talk_seconds, i.disposition, i.notes FROM interactions i \
             LEFT JOIN users u ON u.id = i.agent_id \
             WHERE i.customer_id = $1 AND i.call_id <> $2 \
             ORDER BY i.ringing_at_ms DESC, i.id DESC LIMIT $3",
        )
        .bind(customer.0)
        .bind(&except.0)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(summary_from_row).collect()
    }

    /// One page of a customer's interactions, newest first: those that rang before the
    /// `(ringing_at_ms, id)` cursor `before` (all when `None`), at most `limit`.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn customer_interactions(
        &self,
        customer: CustomerId,
        before: Option<(i64, i64)>,
        limit: i64,
    ) -> Result<Vec<InteractionSummary>> {
        let (at, id) = before.unwrap_or((i64::MAX, i64::MAX));
        let rows = sqlx::query(
            "SELECT i.id, i.ringing_at_ms, i.direction, i.outcome, u.display_name, \
             i.talk_seconds, i.disposition, i.notes FROM interactions i \
             LEFT JOIN users u ON u.id = i.agent_id \
             WHERE i.customer_id = $1 AND (i.ringing_at_ms < $2 \
               OR (i.ringing_at_ms = $2 AND i.id < $3)) \
             ORDER BY i.ringing_at_ms DESC, i.id DESC LIMIT $4",
        )
        .bind(customer.0)
        .bind(at)
        .bind(id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(summary_from_row).collect()
    }

    /// Puts an interaction on `customer`'s record as `chosen_by`'s choice: the customer
    /// an agent picked from a shared number's list, or created from an unknown caller's
    /// pop. The next call from the same number offers this customer first.
    ///
    /// # Errors
    /// [`Error::Reference`] when the customer does not exist or is in the trash,
    /// [`Error::NotFound`] for an unknown interaction.
    pub async fn choose_customer(
        &self,
        id: InteractionId,
        customer: CustomerId,
        chosen_by: UserId,
        now_ms: i64,
    ) -> Result<InteractionRecord> {
        if self.customer(customer).await?.is_none() {
            return Err(Error::Reference("customer"));
        }
        let sql = format!(
            "UPDATE interactions SET customer_id = $1, customer_chosen_by = $2, \
             updated_at_ms = $3 WHERE id = $4 RETURNING {COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(customer.0)
            .bind(chosen_by.0)
            .bind(now_ms)
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref()
            .map(record_from_row)
            .transpose()?
            .ok_or(Error::NotFound("interaction"))
    }

    /// Closes interactions left open by a previous run (the server stopped mid-call), as
    /// failed at `now_ms`; returns how many.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn close_interrupted(&self, now_ms: i64) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE interactions SET ended_at_ms = $1, outcome = $2, updated_at_ms = $1 \
             WHERE outcome IS NULL",
        )
        .bind(now_ms)
        .bind(Outcome::Failed.as_str())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}
