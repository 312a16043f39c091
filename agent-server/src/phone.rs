//! Phone numbers as the CRM stores and matches them: E.164.
//!
//! A number arrives in many spellings: `+31201234567` from a trunk, `0031 20 123 4567` typed
//! by someone abroad, `020 123 4567` in national form, `+31 (0)20-123 4567` from a business
//! card. [`normalise`] turns each into one E.164 string using the `phonenumber` crate and
//! the configured default region, so that lookup is an exact string match. Parsing rules
//! come from libphonenumber's metadata; this module only cleans what that library does not
//! accept (the `(0)` trunk-prefix hint after a country code) and splits off an extension
//! written after the number ([`parse_entry`]: `020 123 4567 x12`, `ext. 12`).

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
    /// An extension marker (`x`, `ext.`) is followed by something other than digits.
    #[error("the extension after the number must be digits")]
    BadExtension,
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

/// A number as a person entered it: E.164, with the extension written after it kept apart.
#[derive(Clone, PartialEq, Eq)]
pub struct Entry {
    /// The number without its extension.
    pub e164: E164,
    /// Digits of the extension, if one was written after the number.
    pub extension: Option<String>,
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("e164", &self.e164)
            .field("extension", &self.extension.is_some())
            .finish()
    }
}

/// Words that introduce an extension after a number, longest first so `ext.` is not read
/// as `ext` followed by a dot. Matched case-insensitively; `;ext=` is RFC 3966's form.
const EXTENSION_MARKERS: [&str; 7] = [";ext=", "extension", "ext.", "extn", "ext", "x", "#"];

/// Reads a number typed into a record or an import file: separators of any kind, the `(0)`
/// hint, and an extension after the number (`x3459`, `ext. 12`, `#12`, `;ext=12`).
///
/// # Errors
/// [`PhoneError`] when the number part is not a valid number, or an extension marker is
/// followed by something other than digits.
pub fn parse_entry(text: &str, region: country::Id) -> Result<Entry, PhoneError> {
    let (number, extension) = split_extension(text)?;
    Ok(Entry {
        e164: normalise(number, region)?,
        extension,
    })
}

/// Splits `text` at the first extension marker that follows a digit.
fn split_extension(text: &str) -> Result<(&str, Option<String>), PhoneError> {
    let lower = text.to_ascii_lowercase();
    let Some(first_digit) = lower.find(|c: char| c.is_ascii_digit()) else {
        return Ok((text, None));
    };
    let found = EXTENSION_MARKERS
        .iter()
        .filter_map(|marker| {
            lower[first_digit..]
                .find(marker)
                .map(|at| (first_digit + at, marker.len()))
        })
        .min_by_key(|(at, len)| (*at, std::cmp::Reverse(*len)));
    let Some((at, len)) = found else {
        return Ok((text, None));
    };
    let rest = text.get(at + len..).unwrap_or_default();
    let digits: String = rest
        .chars()
        .filter(|c| !matches!(c, ' ' | '\u{a0}' | '.' | ':' | '-'))
        .collect();
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(PhoneError::BadExtension);
    }
    Ok((text.get(..at).unwrap_or_default(), Some(digits)))
}

/// The digits of a number, without `+` or separators.
pub fn digits_of(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
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
    fn extensions_after_the_number_are_kept_apart() {
        let cases = [
            ("020 123 4567 x3459", Some("3459")),
            ("+31 20 123 4567 ext. 12", Some("12")),
            ("020-123-4567 EXT 12", Some("12")),
            ("020 123 4567 #7", Some("7")),
            ("tel:+31201234567;ext=55", Some("55")),
            ("+31 (0)20 123 45 67", None),
        ];

        for (text, extension) in cases {
            let entry = parse_entry(text.trim_start_matches("tel:"), NL).unwrap();
            assert_eq!(entry.e164.as_str(), "+31201234567", "{text}");
            assert_eq!(entry.extension.as_deref(), extension, "{text}");
        }
    }

    #[test]
    fn a_marker_without_digits_is_refused() {
        assert_eq!(
            parse_entry("020 123 4567 x", NL),
            Err(PhoneError::BadExtension)
        );
        assert_eq!(
            parse_entry("020 123 4567 ext. twelve", NL),
            Err(PhoneError::BadExtension)
        );
        assert!(parse_entry("x12", NL).is_err());
    }

    #[test]
    fn short_numbers_are_refused() {
        assert!(normalise("12", NL).is_err());
    }

    #[test]
    fn digits_drop_everything_else() {
        assert_eq!(digits_of("+31 (0)20-123"), "31020123");
    }

    #[test]
    fn debug_masks_the_number() {
        let number = normalise("+31201234567", NL).unwrap();

        assert_eq!(format!("{number:?}"), "E164(…67)");
    }
}
