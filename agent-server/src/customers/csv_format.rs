//! The CSV format of `agent-server import customers` and `export customers`.
//!
//! One header row names the columns, in any order; only `name` is required, and a column
//! this version does not know refuses the file before anything is imported. Lists
//! (`phones`, `emails`, `tags`) hold their items separated by `|`; a phone item is
//! `KIND:NUMBER` with KIND one of `work`, `mobile`, `home`, `fax`, `other` (no kind means
//! `work`), and the number in any usual spelling, an extension after it (`x12`) kept
//! apart. A consent is three columns: the state (`granted`, `refused`, or empty for never
//! asked), the date (`YYYY-MM-DD`, or `YYYY-MM-DDTHH:MM:SSZ`, UTC) and the source (`import`
//! when empty). The export writes every column, in [`COLUMNS`] order.

use ringside_protocol::{
    Address, Consent, ConsentState, Consents, Customer, CustomerInput, PhoneInput, PhoneKind,
};

use super::InputError;

/// Every column, in the order the export writes them.
pub const COLUMNS: [&str; 21] = [
    "external_id",
    "name",
    "organisation",
    "phones",
    "emails",
    "street",
    "postal_code",
    "city",
    "country",
    "language",
    "tags",
    "notes",
    "consent_phone_contact",
    "consent_phone_contact_at",
    "consent_phone_contact_source",
    "consent_call_recording",
    "consent_call_recording_at",
    "consent_call_recording_source",
    "consent_marketing",
    "consent_marketing_at",
    "consent_marketing_source",
];

/// Separates the items of a list cell.
const ITEM_SEPARATOR: char = '|';

/// Where each known column sits in a file's header.
#[derive(Debug, Clone)]
pub struct Header {
    positions: [Option<usize>; COLUMNS.len()],
}

impl Header {
    /// Reads a header row.
    ///
    /// # Errors
    /// [`InputError`] for an unknown or repeated column, or when `name` is missing.
    pub fn read(names: &csv::StringRecord) -> Result<Header, InputError> {
        let mut positions = [None; COLUMNS.len()];
        for (at, name) in names.iter().enumerate() {
            let name = name
                .trim()
                .trim_start_matches('\u{feff}')
                .to_ascii_lowercase();
            let known = COLUMNS.iter().position(|c| *c == name).ok_or_else(|| {
                InputError(format!(
                    "unknown column {name:?}; the columns are: {}",
                    COLUMNS.join(", ")
                ))
            })?;
            let slot = positions
                .get_mut(known)
                .ok_or_else(|| InputError("column".into()))?;
            if slot.replace(at).is_some() {
                return Err(InputError(format!("column {name:?} appears twice")));
            }
        }
        if positions.get(1).copied().flatten().is_none() {
            return Err(InputError("the header has no \"name\" column".into()));
        }
        Ok(Header { positions })
    }

    fn cell<'r>(&self, record: &'r csv::StringRecord, column: &str) -> Option<&'r str> {
        let known = COLUMNS.iter().position(|c| *c == column)?;
        let at = self.positions.get(known).copied().flatten()?;
        record.get(at).map(str::trim).filter(|v| !v.is_empty())
    }
}

fn items(cell: Option<&str>) -> Vec<String> {
    cell.map(|text| {
        text.split(ITEM_SEPARATOR)
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::to_owned)
            .collect()
    })
    .unwrap_or_default()
}

fn phone_item(item: &str) -> Result<PhoneInput, InputError> {
    if let Some((kind, number)) = item.split_once(':') {
        let kind = kind.trim().to_ascii_lowercase();
        if let Some(kind) = PhoneKind::from_word(&kind) {
            return Ok(PhoneInput {
                kind,
                number: number.trim().to_owned(),
            });
        }
        if kind.chars().all(|c| c.is_ascii_alphabetic()) && !kind.is_empty() {
            return Err(InputError(format!(
                "phones: unknown kind {kind:?}; use work, mobile, home, fax or other"
            )));
        }
    }
    Ok(PhoneInput {
        kind: PhoneKind::Work,
        number: item.to_owned(),
    })
}

/// Milliseconds since the epoch of `YYYY-MM-DD` (midnight UTC) or `YYYY-MM-DDTHH:MM:SSZ`.
pub fn time_of(text: &str) -> Option<i64> {
    let (date, clock) = match text.split_once('T') {
        Some((date, clock)) => (date, Some(clock.strip_suffix('Z')?)),
        None => (text, None),
    };
    let mut parts = date.splitn(3, '-');
    let year: i32 = parts.next()?.parse().ok()?;
    let month: u8 = parts.next()?.parse().ok()?;
    let day: u8 = parts.next()?.parse().ok()?;
    let date =
        time::Date::from_calendar_date(year, time::Month::try_from(month).ok()?, day).ok()?;
    let (hour, minute, second) = match clock {
        Some(clock) => {
            let mut parts = clock.splitn(3, ':');
            (
                parts.next()?.parse().ok()?,
                parts.next()?.parse().ok()?,
                parts.next()?.parse().ok()?,
            )
        }
        None => (0, 0, 0),
    };
    let at = date.with_hms(hour, minute, second).ok()?.assume_utc();
    Some(at.unix_timestamp() * 1000)
}

/// `YYYY-MM-DDTHH:MM:SSZ` of milliseconds since the epoch (UTC, whole seconds).
pub fn text_of_time(ms: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)) {
        Ok(at) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute(),
            at.second()
        ),
        Err(_) => String::new(),
    }
}

fn consent_of(
    header: &Header,
    record: &csv::StringRecord,
    column: &str,
) -> Result<Option<Consent>, InputError> {
    let Some(state) = header.cell(record, column) else {
        return Ok(None);
    };
    let state = ConsentState::from_word(&state.to_ascii_lowercase())
        .ok_or_else(|| InputError(format!("{column}: granted, refused, or empty")))?;
    let at_column = format!("{column}_at");
    let at_ms = header
        .cell(record, &at_column)
        .ok_or_else(|| InputError(format!("{at_column}: the date of the consent is required")))
        .and_then(|text| {
            time_of(text).ok_or_else(|| {
                InputError(format!("{at_column}: YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ"))
            })
        })?;
    let source = header
        .cell(record, &format!("{column}_source"))
        .unwrap_or("import")
        .to_owned();
    Ok(Some(Consent {
        state,
        at_ms,
        source,
    }))
}

/// A data row as the customer input it describes, and its organisation's name.
///
/// # Errors
/// [`InputError`] when a cell is malformed (the numbers themselves are checked later,
/// with the rest of the input).
pub fn input_of(
    header: &Header,
    record: &csv::StringRecord,
) -> Result<(CustomerInput, Option<String>), InputError> {
    let text = |column: &str| header.cell(record, column).map(str::to_owned);
    let phones = items(header.cell(record, "phones"))
        .iter()
        .map(|item| phone_item(item))
        .collect::<Result<Vec<_>, _>>()?;
    let input = CustomerInput {
        version: None,
        external_id: text("external_id"),
        name: text("name").unwrap_or_default(),
        organisation_id: None,
        phones,
        emails: items(header.cell(record, "emails")),
        address: Address {
            street: text("street"),
            postal_code: text("postal_code"),
            city: text("city"),
            country: text("country"),
        },
        language: text("language"),
        tags: items(header.cell(record, "tags")),
        notes: text("notes").unwrap_or_default(),
        consents: Consents {
            phone_contact: consent_of(header, record, "consent_phone_contact")?,
            call_recording: consent_of(header, record, "consent_call_recording")?,
            marketing: consent_of(header, record, "consent_marketing")?,
        },
    };
    Ok((input, text("organisation")))
}

/// The cells of `customer`, in [`COLUMNS`] order.
pub fn row_of(customer: &Customer) -> Vec<String> {
    let joined = |items: &[String]| items.join("|");
    let phones: Vec<String> = customer
        .phones
        .iter()
        .map(|p| format!("{}:{}", p.kind.as_str(), p.original))
        .collect();
    let consent = |c: &Option<Consent>| match c {
        Some(c) => [
            c.state.as_str().to_owned(),
            text_of_time(c.at_ms),
            c.source.clone(),
        ],
        None => [String::new(), String::new(), String::new()],
    };
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let mut row = vec![
        text(&customer.external_id),
        customer.name.clone(),
        text(&customer.organisation),
        joined(&phones),
        joined(&customer.emails),
        text(&customer.address.street),
        text(&customer.address.postal_code),
        text(&customer.address.city),
        text(&customer.address.country),
        text(&customer.language),
        joined(&customer.tags),
        customer.notes.clone(),
    ];
    row.extend(consent(&customer.consents.phone_contact));
    row.extend(consent(&customer.consents.call_recording));
    row.extend(consent(&customer.consents.marketing));
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(cells: &[&str]) -> csv::StringRecord {
        csv::StringRecord::from(cells.to_vec())
    }

    #[test]
    fn a_row_reads_lists_kinds_and_consents() {
        let header = Header::read(&record(&[
            "Name",
            "phones",
            "tags",
            "consent_marketing",
            "consent_marketing_at",
            "organisation",
        ]))
        .unwrap();

        let (input, organisation) = input_of(
            &header,
            &record(&[
                "Jan Jansen",
                "mobile:06 1234 5678| 020 123 4567 x12 ",
                "vip|",
                "granted",
                "2026-03-01",
                "Jansen BV",
            ]),
        )
        .unwrap();

        assert_eq!(input.name, "Jan Jansen");
        assert_eq!(input.phones.len(), 2);
        assert_eq!(input.phones[0].kind, PhoneKind::Mobile);
        assert_eq!(input.phones[0].number, "06 1234 5678");
        assert_eq!(input.phones[1].kind, PhoneKind::Work);
        assert_eq!(input.tags, vec!["vip"]);
        let consent = input.consents.marketing.unwrap();
        assert_eq!(consent.at_ms, time_of("2026-03-01").unwrap());
        assert_eq!(consent.source, "import");
        assert_eq!(organisation.as_deref(), Some("Jansen BV"));
    }

    #[test]
    fn bad_headers_and_cells_are_refused_with_a_reason() {
        let unknown = Header::read(&record(&["name", "fax_number"])).unwrap_err();
        let nameless = Header::read(&record(&["phones"])).unwrap_err();
        let header = Header::read(&record(&["name", "phones", "consent_marketing"])).unwrap();
        let kind = input_of(&header, &record(&["X", "pager:0612345678", ""])).unwrap_err();
        let undated = input_of(&header, &record(&["X", "", "granted"])).unwrap_err();

        assert!(
            unknown.0.starts_with("unknown column \"fax_number\""),
            "{unknown}"
        );
        assert_eq!(nameless.0, "the header has no \"name\" column");
        assert!(kind.0.contains("unknown kind \"pager\""), "{kind}");
        assert!(
            undated.0.contains("date of the consent is required"),
            "{undated}"
        );
    }

    #[test]
    fn times_round_trip() {
        let ms = time_of("2026-12-04T17:05:09Z").unwrap();

        assert_eq!(text_of_time(ms), "2026-12-04T17:05:09Z");
        assert_eq!(time_of("2026-02-30"), None);
        assert_eq!(time_of("04-12-2026"), None);
    }
}
