//! Phone numbers as the CRM stores and matches them: E.164.
//!
//! A number arrives in many spellings: `+31201234567` from a trunk, `0031 20 123 4567` typed
//! by someone abroad, `020 123 4567` in national form, `+31 (0)20-123 4567` from a business
//! card. [`normalise`] turns each into one E.164 string using the `phonenumber` crate and
//! the configured default region, so that lookup is an exact string match. Parsing rules
//! come from libphonenumber's metadata; this module only cleans what that library does not
//! accept (the `(0)` trunk-prefix hint after a country code).

use std::fmt;

use phonenumber::{country, Mode};

/// A phone number in E.164 form, e.g. `+31201234567`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct E164(String);

impl E164 {
    /// The number as text, starting with `+`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Debug for E164 {
    // Personal data: never more than the last two digits in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "E164({})", ringside_sip::identity::Masked(&self.0))
    }
}

/// Why a text is not a usable phone number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    /// Nothing but separators.
    #[error("the number is empty")]
    Empty,
    /// libphonenumber could not read it.
    #[error("not a phone number")]
    Unparseable,
    /// It reads as a number but no such number can exist in its region.
    #[error("not a valid number for its country")]
    Invalid,
}

/// Normalises `text` to E.164, reading national numbers as numbers of `region`.
///
/// # Errors
/// [`PhoneError`] when `text` has no digits, cannot be parsed, or is not a valid number.
pub fn normalise(text: &str, region: country::Id) -> Result<E164, PhoneError> {
    let cleaned = clean(text);
    if !cleaned.chars().any(|c| c.is_ascii_digit()) {
        return Err(PhoneError::Empty);
    }

    let number = phonenumber::parse(Some(region), &cleaned).map_err(|_| PhoneError::Unparseable)?;
    if !phonenumber::is_valid(&number) {
        return Err(PhoneError::Invalid);
    }
    Ok(E164(number.format().mode(Mode::E164).to_string()))
}

/// Best effort for numbers that arrive from the network: E.164 when the number can be
/// normalised, else the digits as received (so an odd trunk format is still logged and
/// shown, just not matched).
pub fn normalise_or_keep(text: &str, region: country::Id) -> String {
    match normalise(text, region) {
        Ok(e164) => e164.into_string(),
        Err(_) => text.trim().to_owned(),
    }
}

/// Loads libphonenumber's metadata now rather than on the first call's lookup, which
/// would otherwise wait for it (a few hundred milliseconds).
pub fn warm_up(region: country::Id) {
    let _ = normalise("+31201234567", region);
}

/// Drops what people put between digits, and the `(0)` written after a country code.
fn clean(text: &str) -> String {
    let without_trunk_hint = text.replace("(0)", "");
    without_trunk_hint
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '+')
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NL: country::Id = country::Id::NL;

    #[test]
    fn every_spelling_of_one_amsterdam_number_gives_the_same_e164() {
        let spellings = [
            "+31201234567",
            "020 123 4567",
            "0031 20 123 4567",
            "+31 (0)20-123 4567",
            "020/123.45.67",
            "+31\u{a0}20\u{a0}123\u{a0}4567",
        ];

        for text in spellings {
            assert_eq!(
                normalise(text, NL).unwrap().as_str(),
                "+31201234567",
                "{text}"
            );
        }
    }

    #[test]
    fn region_decides_how_a_national_number_is_read() {
        let de = normalise("030 1234567", country::Id::DE).unwrap();
        let gb = normalise("020 7946 0018", country::Id::GB).unwrap();

        assert_eq!(de.as_str(), "+49301234567");
        assert_eq!(gb.as_str(), "+442079460018");
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        assert_eq!(normalise("", NL), Err(PhoneError::Empty));
        assert_eq!(normalise("anonymous", NL), Err(PhoneError::Empty));
        assert_eq!(normalise("+31 12", NL), Err(PhoneError::Invalid));
    }

    #[test]
    fn network_numbers_that_do_not_parse_are_kept() {
        assert_eq!(normalise_or_keep("2001", NL), "2001");
        assert_eq!(normalise_or_keep("0201234567", NL), "+31201234567");
    }

    #[test]
    fn debug_masks_the_number() {
        let number = normalise("+31201234567", NL).unwrap();

        assert_eq!(format!("{number:?}"), "E164(…67)");
    }
}
