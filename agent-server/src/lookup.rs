//! Caller lookup: which customers a call's number means, and why.
//!
//! The rules, tried in this order; the first that finds anyone wins:
//! 1. **exact**: the number arrived in E.164 (`+31201234567`) and a record holds it;
//! 2. **national form**: the number arrived in another spelling (`0201234567`,
//!    `0031201234567`, `201234567`) and reads, with the configured default region, as a
//!    stored number; so does what remains after the configured trunk prefix (an
//!    outside-line digit a PBX puts in front, such as the `0` in `00201234567`);
//! 3. **trailing digits**: the number has at least the configured minimum of digits and
//!    exactly one stored number ends with all of them (a PBX that strips prefixes sends
//!    `1234567` for `+31201234567`); when two different stored numbers end so, the rule
//!    finds nothing rather than guess;
//! 4. otherwise the caller is unknown.
//!
//! One number may belong to several customers (a shared office line): all of them are
//! returned, those of an organisation first, and the customer an agent chose on that
//! number's latest call where someone chose leads the list. Withheld callers are never
//! looked up (the call service does not ask), and text without digits finds nobody.
//! Internal extensions of colleagues are recognised by the call service before it asks.
//!
//! Every rule is one or two indexed queries (see [`crate::store`]'s lookup queries), so
//! the pop waits on nothing slower.
//!
//! Limitation: the remembered choice for a shared number is looked up by the number the
//! interaction logged, which is the caller's number as received (normalised when it
//! could be); a shared number found only by its trailing digits therefore never offers
//! the last choice first. Logging the matched stored number beside the received one
//! would lift it.

use phonenumber::country;
use ringside_protocol::MatchReason;

use crate::phone;
use crate::store::{self, CustomerRecord, Store};

/// How numbers are read and matched; from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupRules {
    /// Region whose national numbers are read (rule 2).
    pub region: country::Id,
    /// Digits a PBX puts before the numbers it passes on, stripped when the number does
    /// not read as it is (rule 2).
    pub trunk_prefix: Option<String>,
    /// Fewest digits a number needs for the trailing-digits match (rule 3); `None` turns
    /// the rule off. At least [`store::LAST_DIGITS`].
    pub trailing_min_digits: Option<usize>,
}

/// The trailing-digits minimum used when none is configured.
pub const DEFAULT_TRAILING_MIN_DIGITS: usize = 7;

impl LookupRules {
    /// The default rules for `region`: no trunk prefix, trailing match from
    /// [`DEFAULT_TRAILING_MIN_DIGITS`] digits.
    pub fn for_region(region: country::Id) -> LookupRules {
        LookupRules {
            region,
            trunk_prefix: None,
            trailing_min_digits: Some(DEFAULT_TRAILING_MIN_DIGITS),
        }
    }
}

/// What a lookup found.
#[derive(Debug, Clone, PartialEq)]
pub enum Found {
    /// One or more customers, the one to offer first at the head.
    Customers {
        /// The rule that matched.
        reason: MatchReason,
        /// The customers, never empty.
        customers: Vec<CustomerRecord>,
    },
    /// Nobody: an unknown caller.
    Unknown,
}

/// Finds the customers `received` (a number as the network gave it) means.
///
/// # Errors
/// [`store::Error`] when the database fails.
pub async fn find(store: &Store, rules: &LookupRules, received: &str) -> store::Result<Found> {
    let text = received.trim();
    let digits = phone::digits_of(text);
    if digits.is_empty() {
        return Ok(Found::Unknown);
    }

    let is_e164 = text.strip_prefix('+') == Some(digits.as_str());
    if is_e164 {
        let customers = store.customers_by_number(text).await?;
        if !customers.is_empty() {
            return finish(store, MatchReason::Exact, text, customers).await;
        }
    }

    for e164 in national_readings(rules, text, &digits) {
        if is_e164 && e164 == text {
            continue;
        }
        let customers = store.customers_by_number(&e164).await?;
        if !customers.is_empty() {
            return finish(store, MatchReason::NationalForm, &e164, customers).await;
        }
    }

    if let Some(min) = rules.trailing_min_digits {
        if digits.len() >= min.max(store::LAST_DIGITS) {
            let numbers = store.numbers_ending_in(&digits, 2).await?;
            if let [only] = numbers.as_slice() {
                let customers = store.customers_by_number(only).await?;
                if !customers.is_empty() {
                    return finish(store, MatchReason::TrailingDigits, only, customers).await;
                }
            }
        }
    }
    Ok(Found::Unknown)
}

/// The E.164 numbers `text` may be in national or international form: as it is, then
/// without the trunk prefix.
fn national_readings(rules: &LookupRules, text: &str, digits: &str) -> Vec<String> {
    let mut readings = Vec::with_capacity(2);
    if let Ok(e164) = phone::normalise(text, rules.region) {
        readings.push(e164.into_string());
    }
    if let Some(prefix) = rules.trunk_prefix.as_deref().filter(|p| !p.is_empty()) {
        if let Some(rest) = digits.strip_prefix(prefix) {
            if let Ok(e164) = phone::normalise(rest, rules.region) {
                let e164 = e164.into_string();
                if !readings.contains(&e164) {
                    readings.push(e164);
                }
            }
        }
    }
    readings
}

/// Puts the customer chosen on this number's latest call first, when several share it.
async fn finish(
    store: &Store,
    reason: MatchReason,
    e164: &str,
    mut customers: Vec<CustomerRecord>,
) -> store::Result<Found> {
    if customers.len() > 1 {
        if let Some(chosen) = store.chosen_for_number(e164).await? {
            if let Some(at) = customers.iter().position(|c| c.id == chosen) {
                let first = customers.remove(at);
                customers.insert(0, first);
            }
        }
    }
    Ok(Found::Customers { reason, customers })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::{person, store_test, TestDb};
    use ringside_protocol::CustomerId;

    const NL: country::Id = country::Id::NL;

    /// The reason and customer ids `received` finds with `rules`.
    async fn ids(
        store: &Store,
        rules: &LookupRules,
        received: &str,
    ) -> Option<(MatchReason, Vec<CustomerId>)> {
        match find(store, rules, received).await.unwrap() {
            Found::Customers { reason, customers } => {
                Some((reason, customers.iter().map(|c| c.id).collect()))
            }
            Found::Unknown => None,
        }
    }

    store_test!(an_e164_number_matches_exactly, |store: Store| async move {
        let jan = person(&store, "Jan", None, &[("+31201234567", "020 123 4567")]).await;
        let rules = LookupRules::for_region(NL);

        assert_eq!(
            ids(&store, &rules, "+31201234567").await,
            Some((MatchReason::Exact, vec![jan]))
        );
        assert_eq!(ids(&store, &rules, "+31207654321").await, None);
    });

    store_test!(
        national_and_international_forms_match,
        |store: Store| async move {
            let jan = person(&store, "Jan", None, &[("+31201234567", "020 123 4567")]).await;
            let rules = LookupRules::for_region(NL);
            let with_trunk = LookupRules {
                trunk_prefix: Some("0".into()),
                ..LookupRules::for_region(NL)
            };
            let found = Some((MatchReason::NationalForm, vec![jan]));

            assert_eq!(ids(&store, &rules, "0201234567").await, found);
            assert_eq!(ids(&store, &rules, "0031201234567").await, found);
            assert_eq!(ids(&store, &rules, "201234567").await, found);
            assert_eq!(ids(&store, &with_trunk, "00201234567").await, found);
            assert_ne!(ids(&store, &rules, "00201234567").await, found);
        }
    );

    store_test!(
        trailing_digits_match_only_one_number,
        |store: Store| async move {
            let jan = person(&store, "Jan", None, &[("+31201234567", "")]).await;
            let rules = LookupRules::for_region(NL);
            let off = LookupRules {
                trailing_min_digits: None,
                ..LookupRules::for_region(NL)
            };

            let unique = ids(&store, &rules, "1234567").await;
            let too_short = ids(&store, &rules, "234567").await;
            let switched_off = ids(&store, &off, "1234567").await;
            person(&store, "Kees", None, &[("+31301234567", "")]).await;
            let ambiguous = ids(&store, &rules, "1234567").await;
            let longer = ids(&store, &rules, "201234567").await;

            assert_eq!(unique, Some((MatchReason::TrailingDigits, vec![jan])));
            assert_eq!(too_short, None);
            assert_eq!(switched_off, None);
            assert_eq!(ambiguous, None);
            assert_eq!(longer, Some((MatchReason::NationalForm, vec![jan])));
        }
    );

    store_test!(
        text_without_digits_finds_nobody,
        |store: Store| async move {
            person(&store, "Jan", None, &[("+31201234567", "")]).await;
            let rules = LookupRules::for_region(NL);

            assert_eq!(ids(&store, &rules, "anonymous").await, None);
            assert_eq!(ids(&store, &rules, "").await, None);
        }
    );

    store_test!(
        a_shared_number_offers_the_last_choice_first,
        |store: Store| async move {
            let piet = person(&store, "Piet", None, &[("+31201234567", "")]).await;
            let jan = person(&store, "Jan", Some("Jansen BV"), &[("+31201234567", "")]).await;
            let rules = LookupRules::for_region(NL);
            let agent = store
                .create_user(
                    crate::store::NewUser {
                        username: "ann",
                        display_name: "Ann",
                        password_hash: "h",
                        role: crate::store::Role::Agent,
                        extension: Some("2001"),
                    },
                    1,
                )
                .await
                .unwrap();

            let before = ids(&store, &rules, "+31201234567").await;
            let call = ringside_protocol::CallId("shared".into());
            let interaction = store
                .open_interaction(crate::store::NewInteraction {
                    call_id: &call,
                    customer: Some(jan),
                    agent: Some(agent),
                    direction: ringside_protocol::Direction::Inbound,
                    caller_number: Some("+31201234567"),
                    called_number: "2001",
                    ringing_at_ms: 1_000,
                    transferred_from: None,
                    matched_by: Some(MatchReason::Exact),
                })
                .await
                .unwrap();
            store
                .choose_customer(interaction, piet, agent, 2_000)
                .await
                .unwrap();
            let after = ids(&store, &rules, "0201234567").await;

            assert_eq!(before, Some((MatchReason::Exact, vec![jan, piet])));
            assert_eq!(after, Some((MatchReason::NationalForm, vec![piet, jan])));
        }
    );

    #[test]
    fn a_trunk_prefix_adds_a_reading() {
        let rules = LookupRules {
            trunk_prefix: Some("0".into()),
            ..LookupRules::for_region(country::Id::NL)
        };

        let readings = national_readings(&rules, "00201234567", "00201234567");

        assert!(
            readings.contains(&"+31201234567".to_owned()),
            "{readings:?}"
        );
    }

    #[test]
    fn national_and_international_spellings_read_the_same() {
        let rules = LookupRules::for_region(country::Id::NL);

        for text in [
            "0201234567",
            "0031201234567",
            "201234567",
            "+31 20 123 4567",
        ] {
            let readings = national_readings(&rules, text, &phone::digits_of(text));
            assert_eq!(readings, vec!["+31201234567".to_owned()], "{text}");
        }
    }
}
