//! One pop card: call state and timer, the customer and their history, and the wrap-up form.
//!
//! The card reads its pop from a signal the console updates in place, and keeps the agent's
//! [`Draft`] apart from it, so typing is never overwritten by a server update. The timer
//! ticks once a second for as long as the card exists; its interval is cleared when the card
//! goes away.

use std::time::Duration;

use leptos::{ev::SubmitEvent, prelude::*, task::spawn_local};
use ringside_protocol::{
    CallId, CallState, Caller, CustomerInput, Disposition, InteractionSummary, PhoneInput,
    PhoneKind, Pop, NOTES_MAX_CHARS,
};

use crate::{
    api,
    pops::{
        display::{self, DispositionChoice},
        draft::Draft,
        timer,
    },
    ui::console::{server_now_ms, PopEntry},
};

/// How the last save of the wrap-up went, as shown beside the Save button.
#[derive(Clone, Debug, PartialEq, Eq)]
enum SaveStatus {
    Idle,
    Saving,
    Saved,
    Failed(String),
}

/// A card for one call.
#[component]
pub fn PopCard(
    /// The list entry: call id, first-seen time and the pop signal.
    entry: PopEntry,
    /// The disposition codes the agent may choose from.
    dispositions: Signal<Vec<Disposition>>,
    /// Called with the call id when the agent closes an ended card.
    on_dismiss: Callback<CallId>,
) -> impl IntoView {
    let pop = RwSignal::from(entry.pop);
    let state = Memo::new(move |_| pop.with(|p| p.state));
    let ended = move || matches!(state.get(), CallState::Ended(_));

    let now = RwSignal::new(server_now_ms());
    match set_interval_with_handle(move || now.set(server_now_ms()), Duration::from_secs(1)) {
        Ok(handle) => on_cleanup(move || handle.clear()),
        Err(_) => leptos::logging::warn!("could not start a pop timer"),
    }
    let timer_text = move || pop.with(|p| timer::format_elapsed(timer::elapsed_ms(p, now.get())));

    let draft = RwSignal::new(
        pop.with_untracked(|p| Draft::from_saved(&p.notes, p.disposition.as_deref())),
    );
    let saved = Memo::new(move |_| pop.with(|p| (p.notes.clone(), p.disposition.clone())));
    Effect::new(move |_| {
        saved.with(|(notes, disposition)| {
            draft.update(|d| d.follow_saved(notes, disposition.as_deref()));
        });
    });
    let save_status = RwSignal::new(SaveStatus::Idle);

    let save = move |ev: SubmitEvent| {
        ev.prevent_default();
        if save_status.get_untracked() == SaveStatus::Saving {
            return;
        }
        let wrap_up = draft.with_untracked(Draft::to_wrap_up);
        let interaction = pop.with_untracked(|p| p.interaction_id);
        save_status.set(SaveStatus::Saving);

        spawn_local(async move {
            let result = api::save_wrap_up(interaction, &wrap_up).await;
            // The card may have been dismissed meanwhile; then there is nothing to update.
            match result {
                Ok(()) => {
                    draft.try_update(|d| d.mark_saved(&wrap_up));
                    save_status.try_set(SaveStatus::Saved);
                }
                Err(err) => {
                    save_status.try_set(SaveStatus::Failed(err.to_string()));
                }
            }
        });
    };

    let on_notes = move |ev| {
        draft.update(|d| d.edit_notes(event_target_value(&ev)));
        save_status.set(SaveStatus::Idle);
    };
    let on_disposition = move |ev| {
        draft.update(|d| d.choose_disposition(event_target_value(&ev)));
        save_status.set(SaveStatus::Idle);
    };

    let choices = move || {
        let current = pop.with(|p| p.disposition.clone());
        dispositions.with(|list| display::disposition_choices(list, current.as_deref()))
    };
    let option_view = move |choice: DispositionChoice| {
        let code = choice.code.clone();
        view! {
            <option
                value=choice.code
                prop:selected=move || draft.with(|d| d.disposition() == code)
            >
                {choice.label}
            </option>
        }
    };

    let call_id = entry.call_id.clone();
    let dismiss = move |_| on_dismiss.run(call_id.clone());

    view! {
        <article
            class=move || format!("pop card pop-{}", display::state_word(state.get()))
            data-call-id=entry.call_id.0.clone()
            data-interaction-id=move || pop.with(|p| p.interaction_id.to_string())
            data-state=move || display::state_word(state.get())
            data-outcome=move || display::outcome_word(state.get())
            data-ringing-at=entry.ringing_at_ms.to_string()
            data-shown-at=entry.shown_at_ms.to_string()
        >
            <div class="pop-head">
                <span class="pop-badge">{move || display::badge_text(state.get())}</span>
                <span class="pop-caller-number">
                    {move || pop.with(|p| display::caller_text(&p.caller).to_owned())}
                </span>
                <span class="pop-called">
                    "to " {move || pop.with(|p| p.called.clone())}
                </span>
                <span class="pop-timer" title="Ringing, talk or total time">{timer_text}</span>
                <Show when=ended>
                    <button class="pop-dismiss" type="button" on:click=dismiss.clone()>
                        "Dismiss"
                    </button>
                </Show>
            </div>
            <div class="pop-body">
                <section class="pop-customer">
                    {move || pop.with(|p| dispositions.with(|d| customer_view(p, d)))}
                    <Show when=move || pop.with(is_unknown_number)>
                        <CreateContact pop=pop />
                    </Show>
                </section>
                <form class="pop-wrapup" on:submit=save>
                    <textarea
                        class="pop-notes"
                        aria-label="Notes"
                        placeholder="Notes"
                        rows="5"
                        maxlength=NOTES_MAX_CHARS.to_string()
                        prop:value=move || draft.with(|d| d.notes().to_owned())
                        on:input=on_notes
                    ></textarea>
                    <div class="pop-actions">
                        <select
                            class="pop-disposition"
                            aria-label="Disposition"
                            on:change=on_disposition
                        >
                            {move || choices().into_iter().map(option_view).collect_view()}
                        </select>
                        <button class="pop-save" type="submit">"Save"</button>
                        <span class="pop-save-status" role="status">
                            {move || save_status_text(&save_status.get())}
                        </span>
                    </div>
                </form>
            </div>
        </article>
    }
}

/// The text beside the Save button.
fn save_status_text(status: &SaveStatus) -> String {
    match status {
        SaveStatus::Idle => String::new(),
        SaveStatus::Saving => "Saving…".to_owned(),
        SaveStatus::Saved => "Saved".to_owned(),
        SaveStatus::Failed(reason) => format!("Not saved: {reason}"),
    }
}

/// Whether the pop is of a caller with a number that matched no customer or colleague.
fn is_unknown_number(pop: &Pop) -> bool {
    pop.customer.is_none() && pop.colleague.is_none() && matches!(pop.caller, Caller::Number(_))
}

/// The customer block of a card: the calling colleague; or name, organisation, why the
/// record matched, the other customers of a shared number and recent interactions; or a
/// note that the caller is unknown.
fn customer_view(pop: &Pop, dispositions: &[Disposition]) -> AnyView {
    if let Some(colleague) = &pop.colleague {
        let text = format!(
            "Colleague: {} ({})",
            colleague.display_name, colleague.extension
        );
        return view! { <p class="pop-colleague">{text}</p> }.into_any();
    }
    let Some(customer) = pop.customer.as_ref() else {
        return view! { <p class="pop-unknown">"Unknown caller"</p> }.into_any();
    };

    let organisation = customer
        .organisation
        .clone()
        .map(|org| view! { <p class="pop-organisation">{org}</p> });
    let recent = if customer.recent.is_empty() {
        view! { <p class="pop-recent-none">"No earlier interactions"</p> }.into_any()
    } else {
        let rows = customer
            .recent
            .iter()
            .map(|summary| summary_view(summary, dispositions))
            .collect_view();
        view! { <ul class="pop-recent">{rows}</ul> }.into_any()
    };

    view! {
        <h2 class="pop-customer-name">{customer.name.clone()}</h2>
        {organisation}
        <p class="pop-match" data-matched-by=customer.matched_by.as_str()>
            {display::match_text(customer.matched_by)}
        </p>
        {candidates_view(pop)}
        {recent}
    }
    .into_any()
}

/// The customers a shared number could mean, each a button that puts the call on that
/// record; `None` when the number is not shared.
fn candidates_view(pop: &Pop) -> Option<AnyView> {
    if pop.candidates.len() < 2 {
        return None;
    }
    let interaction = pop.interaction_id;
    let shown = pop.customer.as_ref().map(|c| c.id);
    let buttons = pop
        .candidates
        .iter()
        .map(|candidate| {
            let id = candidate.id;
            let choose = move |_| {
                spawn_local(async move {
                    if let Err(err) = api::choose_customer(interaction, id).await {
                        leptos::logging::warn!("could not choose the customer: {err}");
                    }
                });
            };
            view! {
                <li>
                    <button
                        type="button"
                        class="pop-candidate"
                        disabled=Some(id) == shown
                        on:click=choose
                    >
                        {display::candidate_text(candidate)}
                    </button>
                </li>
            }
        })
        .collect_view();
    Some(
        view! {
            <div class="pop-candidates">
                <p>"This number is shared. Who is calling?"</p>
                <ul>{buttons}</ul>
            </div>
        }
        .into_any(),
    )
}

/// "Create contact" on an unknown caller's pop: a name, the caller's number filled in;
/// the new record then takes the call.
#[component]
fn CreateContact(
    /// The pop of the unknown caller.
    pop: RwSignal<Pop>,
) -> impl IntoView {
    let caller = pop.with_untracked(|p| match &p.caller {
        Caller::Number(number) => number.clone(),
        Caller::Withheld => String::new(),
    });
    let name = RwSignal::new(String::new());
    let number = RwSignal::new(caller);
    let status = RwSignal::new(String::new());
    let busy = RwSignal::new(false);

    let create = move |ev: SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let interaction = pop.with_untracked(|p| p.interaction_id);
        let input = CustomerInput {
            name: name.get_untracked(),
            phones: vec![PhoneInput {
                kind: PhoneKind::Work,
                number: number.get_untracked(),
            }],
            ..CustomerInput::default()
        };
        busy.set(true);
        status.set("Creating…".to_owned());
        spawn_local(async move {
            let result = match api::create_customer(&input).await {
                Ok(customer) => api::choose_customer(interaction, customer.id).await,
                Err(err) => Err(err),
            };
            busy.try_set(false);
            status.try_set(match result {
                Ok(()) => String::new(),
                Err(err) => format!("Not created: {err}"),
            });
        });
    };

    view! {
        <form class="pop-create-contact" on:submit=create>
            <input
                class="pop-contact-name"
                aria-label="Name of the new contact"
                placeholder="Name"
                prop:value=move || name.get()
                on:input=move |ev| name.set(event_target_value(&ev))
            />
            <input
                class="pop-contact-number"
                aria-label="Number of the new contact"
                prop:value=move || number.get()
                on:input=move |ev| number.set(event_target_value(&ev))
            />
            <button type="submit">"Create contact"</button>
            <span class="pop-contact-status" role="status">{move || status.get()}</span>
        </form>
    }
}

/// One row of the recent-interactions list.
fn summary_view(summary: &InteractionSummary, dispositions: &[Disposition]) -> impl IntoView {
    let when = local_time_text(summary.ringing_at_ms);
    let disposition = summary.disposition.as_deref().map(|code| {
        let label = display::disposition_label(dispositions, code);
        view! { <span class="recent-disposition">{label}</span> }
    });

    view! {
        <li>
            <time class="recent-when">{when}</time>
            <span class="recent-direction">{summary.direction.as_str()}</span>
            <span class="recent-outcome">{display::summary_outcome(summary)}</span>
            {disposition}
            <span class="recent-notes">{display::notes_preview(&summary.notes)}</span>
        </li>
    }
}

/// A time as `YYYY-MM-DD HH:MM` in the browser's time zone.
fn local_time_text(ms: i64) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
    display::format_local_time(
        date.get_full_year(),
        date.get_month() + 1,
        date.get_date(),
        date.get_hours(),
        date.get_minutes(),
    )
}
