//! Customer input: what a record may hold, checked once for the REST API and the CSV
//! import alike, and the CSV import and export.
//!
//! Checking turns a [`CustomerInput`] into the store's [`CustomerFields`]: names and notes
//! within their lengths, every phone number parsed to E.164 with its extension kept apart
//! (an invalid number refuses the whole input, naming which one and why), e-mail
//! addresses of the form `local@domain`, tags without commas. The CSV format of the
//! import and export is in [`csv_format`].

pub mod csv_format;
pub mod export;
pub mod import;

use phonenumber::country;
use ringside_protocol::{Consent, Consents, CustomerInput, PhoneNumber};

use crate::phone;
use crate::store::CustomerFields;

/// Longest name, in characters.
pub const NAME_MAX_CHARS: usize = 200;
/// Longest customer notes text, in characters.
pub const NOTES_MAX_CHARS: usize = 10_000;
/// Most phone numbers (and, separately, e-mail addresses) on one record.
pub const CONTACTS_MAX: usize = 20;
/// Longest short text (external id, address part, language, tag, consent source).
pub const SHORT_MAX_CHARS: usize = 200;
/// Most tags on one record.
pub const TAGS_MAX: usize = 50;

/// Why an input was refused: a message fit to show to the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);

fn refuse(message: impl Into<String>) -> InputError {
    InputError(message.into())
}

/// A short, bounded quote of what was typed, for an error message.
fn quoted(text: &str) -> String {
    let mut short: String = text.chars().take(40).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    format!("{short:?}")
}

fn short_text(field: &str, value: Option<&str>) -> Result<Option<String>, InputError> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if value.chars().count() > SHORT_MAX_CHARS || value.contains('\0') {
        return Err(refuse(format!(
            "{field}: at most {SHORT_MAX_CHARS} characters, no NUL"
        )));
    }
    Ok(Some(value.to_owned()))
}

/// Parses one number as typed; the message names its position (from 1).
pub fn phone_of(
    position: usize,
    kind: ringside_protocol::PhoneKind,
    text: &str,
    region: country::Id,
) -> Result<PhoneNumber, InputError> {
    if text.contains('|') {
        return Err(refuse(format!("phone {position}: must not contain |")));
    }
    let entry = phone::parse_entry(text, region)
        .map_err(|err| refuse(format!("phone {position} ({}): {err}", quoted(text))))?;
    Ok(PhoneNumber {
        kind,
        e164: entry.e164.into_string(),
        original: text.trim().to_owned(),
        extension: entry.extension,
    })
}

/// Checks one e-mail address: `local@domain`, no spaces, at most 254 characters.
pub fn email_of(position: usize, text: &str) -> Result<String, InputError> {
    let address = text.trim();
    let well_formed = address.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && domain.contains('.') && !domain.contains('@')
    }) && !address.chars().any(char::is_whitespace)
        && address.len() <= 254;
    if !well_formed {
        return Err(refuse(format!(
            "e-mail {position} ({}): not an e-mail address",
            quoted(address)
        )));
    }
    Ok(address.to_owned())
}

fn consent_of(field: &str, consent: &Option<Consent>) -> Result<Option<Consent>, InputError> {
    let Some(consent) = consent else {
        return Ok(None);
    };
    let source = short_text(field, Some(&consent.source))?.unwrap_or_default();
    Ok(Some(Consent {
        state: consent.state,
        at_ms: consent.at_ms,
        source,
    }))
}

/// Checks `input` and parses its numbers with `region`.
///
/// # Errors
/// [`InputError`] naming the first field that is wrong and why.
pub fn fields_from_input(
    input: &CustomerInput,
    region: country::Id,
) -> Result<CustomerFields, InputError> {
    let name = input.name.trim();
    if name.is_empty() {
        return Err(refuse("name: required"));
    }
    if name.chars().count() > NAME_MAX_CHARS || name.contains('\0') {
        return Err(refuse(format!(
            "name: at most {NAME_MAX_CHARS} characters, no NUL"
        )));
    }
    if input.phones.len() > CONTACTS_MAX || input.emails.len() > CONTACTS_MAX {
        return Err(refuse(format!(
            "at most {CONTACTS_MAX} phone numbers and {CONTACTS_MAX} e-mail addresses"
        )));
    }
    let phones = input
        .phones
        .iter()
        .enumerate()
        .map(|(n, p)| phone_of(n + 1, p.kind, &p.number, region))
        .collect::<Result<Vec<_>, _>>()?;
    let emails = input
        .emails
        .iter()
        .enumerate()
        .filter(|(_, e)| !e.trim().is_empty())
        .map(|(n, e)| email_of(n + 1, e))
        .collect::<Result<Vec<_>, _>>()?;

    let mut tags: Vec<String> = Vec::new();
    for tag in input
        .tags
        .iter()
        .map(|t| t.trim())
        .filter(|t| !t.is_empty())
    {
        if tag.contains([',', '|']) || tag.chars().count() > 50 || tag.contains('\0') {
            return Err(refuse(format!(
                "tag {}: at most 50 characters, no , or |",
                quoted(tag)
            )));
        }
        if !tags.iter().any(|t| t == tag) {
            tags.push(tag.to_owned());
        }
    }
    if tags.len() > TAGS_MAX {
        return Err(refuse(format!("at most {TAGS_MAX} tags")));
    }
    if input.notes.chars().count() > NOTES_MAX_CHARS || input.notes.contains('\0') {
        return Err(refuse(format!(
            "notes: at most {NOTES_MAX_CHARS} characters, no NUL"
        )));
    }
    let language = short_text("language", input.language.as_deref())?;
    if let Some(tag) = &language {
        if tag.len() > 35 || !tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(refuse("language: a language tag such as nl or en-GB"));
        }
    }

    Ok(CustomerFields {
        external_id: short_text("external_id", input.external_id.as_deref())?,
        name: name.to_owned(),
        organisation: input.organisation_id,
        phones,
        emails,
        address: ringside_protocol::Address {
            street: short_text("street", input.address.street.as_deref())?,
            postal_code: short_text("postal_code", input.address.postal_code.as_deref())?,
            city: short_text("city", input.address.city.as_deref())?,
            country: short_text("country", input.address.country.as_deref())?,
        },
        language,
        tags,
        notes: input.notes.clone(),
        consents: Consents {
            phone_contact: consent_of("consent source", &input.consents.phone_contact)?,
            call_recording: consent_of("consent source", &input.consents.call_recording)?,
            marketing: consent_of("consent source", &input.consents.marketing)?,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringside_protocol::{PhoneInput, PhoneKind};

    const NL: country::Id = country::Id::NL;

    fn input(numbers: &[&str]) -> CustomerInput {
        CustomerInput {
            name: " Jan Jansen ".into(),
            phones: numbers
                .iter()
                .map(|n| PhoneInput {
                    kind: PhoneKind::Work,
                    number: (*n).into(),
                })
                .collect(),
            emails: vec!["jan@jansen.example".into(), " ".into()],
            tags: vec!["vip".into(), "vip".into(), " ".into()],
            ..CustomerInput::default()
        }
    }

    #[test]
    fn good_input_is_trimmed_and_parsed() {
        let fields =
            fields_from_input(&input(&["020 123 4567 x12", "+31 (0)6 1234 5678"]), NL).unwrap();

        assert_eq!(fields.name, "Jan Jansen");
        assert_eq!(fields.phones[0].e164, "+31201234567");
        assert_eq!(fields.phones[0].extension.as_deref(), Some("12"));
        assert_eq!(fields.phones[0].original, "020 123 4567 x12");
        assert_eq!(fields.phones[1].e164, "+31612345678");
        assert_eq!(fields.emails, vec!["jan@jansen.example"]);
        assert_eq!(fields.tags, vec!["vip"]);
    }

    #[test]
    fn an_invalid_number_is_refused_with_its_position_and_reason() {
        let err = fields_from_input(&input(&["020 123 4567", "+31 12"]), NL).unwrap_err();

        assert_eq!(
            err.to_string(),
            "phone 2 (\"+31 12\"): not a valid number for its country"
        );
    }

    #[test]
    fn other_fields_are_checked() {
        let mut no_name = input(&[]);
        no_name.name = "  ".into();
        let mut bad_mail = input(&[]);
        bad_mail.emails = vec!["jan at example".into()];
        let mut bad_tag = input(&[]);
        bad_tag.tags = vec!["a,b".into()];
        let mut bad_language = input(&[]);
        bad_language.language = Some("nl_NL!".into());

        assert_eq!(
            fields_from_input(&no_name, NL).unwrap_err().0,
            "name: required"
        );
        assert!(fields_from_input(&bad_mail, NL)
            .unwrap_err()
            .0
            .starts_with("e-mail 1"));
        assert!(fields_from_input(&bad_tag, NL)
            .unwrap_err()
            .0
            .starts_with("tag"));
        assert!(fields_from_input(&bad_language, NL)
            .unwrap_err()
            .0
            .starts_with("language"));
    }
}
