//! Customer records as the REST API and the console see them.
//!
//! A customer is a person; an organisation is a record of its own that customers may
//! belong to. Every record carries a `version`: an update names the version it was made
//! from, and the server refuses it (409) when someone saved the record in between.
//! Deleting moves a record to the trash, from which an admin can restore it for a while.
//!
//! Phone numbers are stored in E.164 with the text as it was typed beside it, and an
//! extension written after the number (`x3459`, `ext. 12`) kept apart.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{CustomerId, InteractionSummary, UserId};

macro_rules! private_debug {
    ($name:ident, $($field:ident),*) => {
        impl fmt::Debug for $name {
            // Personal data: ids and counts only, so `?value` in a log line leaks nothing.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    $(.field(stringify!($field), &self.$field))*
                    .finish_non_exhaustive()
            }
        }
    };
}

/// An organisation record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OrganisationId(pub i64);

impl fmt::Display for OrganisationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Why a pop names the customer it names: which lookup rule matched the caller's number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchReason {
    /// The number arrived in E.164 and is stored as such.
    Exact,
    /// The number arrived in national or international form (`020 ...`, `0031 ...`) and
    /// reads, for the configured region, as a stored number.
    NationalForm,
    /// Only the last digits matched one stored number (a PBX stripped its prefix).
    TrailingDigits,
    /// An agent put the call on this record (chose it from a shared number's list, or
    /// created it from an unknown caller's pop).
    Chosen,
}

impl MatchReason {
    /// The word stored and shown for this reason.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchReason::Exact => "exact",
            MatchReason::NationalForm => "national_form",
            MatchReason::TrailingDigits => "trailing_digits",
            MatchReason::Chosen => "chosen",
        }
    }

    /// Parses the word [`MatchReason::as_str`] gives.
    pub fn from_word(word: &str) -> Option<Self> {
        [
            MatchReason::Exact,
            MatchReason::NationalForm,
            MatchReason::TrailingDigits,
            MatchReason::Chosen,
        ]
        .into_iter()
        .find(|r| r.as_str() == word)
    }
}

/// One customer a shared number could mean, as a pop lists it.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// The customer.
    pub id: CustomerId,
    /// The person's name.
    pub name: String,
    /// Their organisation's name, if any.
    pub organisation: Option<String>,
}

private_debug!(Candidate, id);

/// A colleague (a user of Ringside) calling from an internal extension.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Colleague {
    /// The user.
    pub id: UserId,
    /// Name shown in the console.
    pub display_name: String,
    /// The extension they call from.
    pub extension: String,
}

private_debug!(Colleague, id);

/// What kind of line a phone number is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhoneKind {
    /// Office or direct work line.
    Work,
    /// Mobile phone.
    Mobile,
    /// Private landline.
    Home,
    /// Fax.
    Fax,
    /// Anything else.
    Other,
}

impl PhoneKind {
    /// Every kind, in display order.
    pub const ALL: [PhoneKind; 5] = [
        PhoneKind::Work,
        PhoneKind::Mobile,
        PhoneKind::Home,
        PhoneKind::Fax,
        PhoneKind::Other,
    ];

    /// The word stored and shown for this kind.
    pub fn as_str(self) -> &'static str {
        match self {
            PhoneKind::Work => "work",
            PhoneKind::Mobile => "mobile",
            PhoneKind::Home => "home",
            PhoneKind::Fax => "fax",
            PhoneKind::Other => "other",
        }
    }

    /// Parses the word [`PhoneKind::as_str`] gives.
    pub fn from_word(word: &str) -> Option<Self> {
        PhoneKind::ALL.into_iter().find(|k| k.as_str() == word)
    }
}

/// A stored phone number.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct PhoneNumber {
    /// What kind of line it is.
    pub kind: PhoneKind,
    /// The number in E.164, what lookups match on.
    pub e164: String,
    /// The number as it was written, for display.
    pub original: String,
    /// An extension written after the number, digits only.
    pub extension: Option<String>,
}

private_debug!(PhoneNumber, kind);

/// A phone number as entered: the text is parsed by the server.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct PhoneInput {
    /// What kind of line it is.
    pub kind: PhoneKind,
    /// The number in any usual spelling, optionally followed by an extension
    /// (`020 123 4567 x12`).
    pub number: String,
}

private_debug!(PhoneInput, kind);

/// A postal address; every part is optional.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Address {
    /// Street and house number.
    #[serde(default)]
    pub street: Option<String>,
    /// Postal code.
    #[serde(default)]
    pub postal_code: Option<String>,
    /// City.
    #[serde(default)]
    pub city: Option<String>,
    /// ISO 3166 country code or name.
    #[serde(default)]
    pub country: Option<String>,
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Address").finish_non_exhaustive()
    }
}

/// Whether a person agreed or refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentState {
    /// Agreed.
    Granted,
    /// Refused or withdrew.
    Refused,
}

impl ConsentState {
    /// The word stored for this state.
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentState::Granted => "granted",
            ConsentState::Refused => "refused",
        }
    }

    /// Parses the word [`ConsentState::as_str`] gives.
    pub fn from_word(word: &str) -> Option<Self> {
        match word {
            "granted" => Some(ConsentState::Granted),
            "refused" => Some(ConsentState::Refused),
            _ => None,
        }
    }
}

/// One consent: what the person said, when, and where that was recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    /// Granted or refused.
    pub state: ConsentState,
    /// When it was given or refused.
    pub at_ms: i64,
    /// Where it was recorded: `phone call`, `web form`, `import`, ...
    pub source: String,
}

/// The consents kept per customer; `None` means the person was never asked.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consents {
    /// May be contacted by phone.
    #[serde(default)]
    pub phone_contact: Option<Consent>,
    /// Calls may be recorded.
    #[serde(default)]
    pub call_recording: Option<Consent>,
    /// May receive marketing.
    #[serde(default)]
    pub marketing: Option<Consent>,
}

/// A customer record, as `GET /api/v1/customers/{id}` gives it.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    /// The record.
    pub id: CustomerId,
    /// Goes up by one at every saved change.
    pub version: i64,
    /// The id of this customer in another system (set by imports), unique when set.
    pub external_id: Option<String>,
    /// Full name.
    pub name: String,
    /// The organisation the person belongs to.
    pub organisation_id: Option<OrganisationId>,
    /// That organisation's name.
    pub organisation: Option<String>,
    /// Phone numbers, in the order entered.
    pub phones: Vec<PhoneNumber>,
    /// E-mail addresses, in the order entered.
    pub emails: Vec<String>,
    /// Postal address.
    pub address: Address,
    /// Preferred language (BCP 47 tag such as `nl` or `en-GB`).
    pub language: Option<String>,
    /// Free tags.
    pub tags: Vec<String>,
    /// Free notes about the customer (not about one call).
    pub notes: String,
    /// Consents with date and source.
    pub consents: Consents,
    /// When the record was created.
    pub created_at_ms: i64,
    /// When it was last changed.
    pub updated_at_ms: i64,
    /// When it was moved to the trash, if it was.
    pub deleted_at_ms: Option<i64>,
}

private_debug!(Customer, id, version, organisation_id);

/// Body of `POST /api/v1/customers` and `PUT /api/v1/customers/{id}`.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CustomerInput {
    /// The version the change was made from; required on update, ignored on create.
    #[serde(default)]
    pub version: Option<i64>,
    /// The id in another system, unique when set.
    #[serde(default)]
    pub external_id: Option<String>,
    /// Full name (required).
    pub name: String,
    /// The organisation the person belongs to.
    #[serde(default)]
    pub organisation_id: Option<OrganisationId>,
    /// Phone numbers, each parsed by the server; an invalid one refuses the whole input.
    #[serde(default)]
    pub phones: Vec<PhoneInput>,
    /// E-mail addresses.
    #[serde(default)]
    pub emails: Vec<String>,
    /// Postal address.
    #[serde(default)]
    pub address: Address,
    /// Preferred language.
    #[serde(default)]
    pub language: Option<String>,
    /// Free tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Free notes.
    #[serde(default)]
    pub notes: String,
    /// Consents.
    #[serde(default)]
    pub consents: Consents,
}

private_debug!(CustomerInput, version, organisation_id);

/// One result of `GET /api/v1/customers?q=...`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerHit {
    /// The record.
    pub id: CustomerId,
    /// Full name.
    pub name: String,
    /// Organisation name, if any.
    pub organisation: Option<String>,
    /// The numbers as written.
    pub phones: Vec<String>,
    /// E-mail addresses.
    pub emails: Vec<String>,
}

private_debug!(CustomerHit, id);

/// An organisation record.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Organisation {
    /// The record.
    pub id: OrganisationId,
    /// Goes up by one at every saved change.
    pub version: i64,
    /// Name.
    pub name: String,
    /// Free notes.
    pub notes: String,
    /// When the record was created.
    pub created_at_ms: i64,
    /// When it was last changed.
    pub updated_at_ms: i64,
    /// When it was moved to the trash, if it was.
    pub deleted_at_ms: Option<i64>,
}

private_debug!(Organisation, id, version);

/// Body of `POST /api/v1/organisations` and `PUT /api/v1/organisations/{id}`.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OrganisationInput {
    /// The version the change was made from; required on update.
    #[serde(default)]
    pub version: Option<i64>,
    /// Name (required).
    pub name: String,
    /// Free notes.
    #[serde(default)]
    pub notes: String,
}

private_debug!(OrganisationInput, version);

/// One page of a customer's interactions, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InteractionPage {
    /// The interactions on this page.
    pub items: Vec<InteractionSummary>,
    /// Pass as `before` to get the next (older) page; `None` on the last page.
    pub next: Option<String>,
}

/// Body of `PUT /api/v1/interactions/{id}/customer`: the customer the call was with, as
/// the agent chose it from a shared number's list or created it from an unknown caller.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChooseCustomer {
    /// The customer.
    pub customer_id: CustomerId,
}

/// A stored phone number that no longer reads as a valid number, from
/// `GET /api/v1/admin/unparseable-numbers`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct UnparseableNumber {
    /// The record holding it.
    pub customer_id: CustomerId,
    /// That record's name.
    pub name: String,
    /// The number as written.
    pub original: String,
    /// Why it cannot be read.
    pub reason: String,
}

private_debug!(UnparseableNumber, customer_id);

/// One page of [`UnparseableNumber`]s.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnparseablePage {
    /// The numbers found on this page.
    pub items: Vec<UnparseableNumber>,
    /// Pass as `after` to scan on; `None` when the scan reached the end.
    pub next: Option<i64>,
}

/// What is in the trash, from `GET /api/v1/trash`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trash {
    /// Deleted customers that can still be restored, newest deletion first.
    pub customers: Vec<CustomerHit>,
    /// Deleted organisations that can still be restored.
    pub organisations: Vec<Organisation>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip() {
        for kind in PhoneKind::ALL {
            assert_eq!(PhoneKind::from_word(kind.as_str()), Some(kind));
        }
        for reason in [
            MatchReason::Exact,
            MatchReason::NationalForm,
            MatchReason::TrailingDigits,
            MatchReason::Chosen,
        ] {
            assert_eq!(MatchReason::from_word(reason.as_str()), Some(reason));
        }
        assert_eq!(MatchReason::from_word("guess"), None);
        assert_eq!(
            ConsentState::from_word("granted"),
            Some(ConsentState::Granted)
        );
    }

    #[test]
    fn a_minimal_customer_input_needs_only_a_name() {
        let input: CustomerInput = serde_json::from_str(r#"{"name":"Jan"}"#).unwrap();

        assert_eq!(input.name, "Jan");
        assert!(input.phones.is_empty());
        assert_eq!(input.consents, Consents::default());
    }

    #[test]
    fn debug_hides_names_and_numbers() {
        let candidate = Candidate {
            id: CustomerId(3),
            name: "Jan Jansen".into(),
            organisation: Some("Jansen BV".into()),
        };
        let phone = PhoneNumber {
            kind: PhoneKind::Work,
            e164: "+31201234567".into(),
            original: "020 123 4567".into(),
            extension: None,
        };

        let text = format!("{candidate:?} {phone:?}");

        assert!(!text.contains("Jan"), "{text}");
        assert!(!text.contains("4567"), "{text}");
    }
}
