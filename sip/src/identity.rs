//! Who is calling: the caller id an agent may see, and masking numbers for logs.
//!
//! Rules for [`caller_of`], applied to the initial INVITE:
//! 1. `Privacy: id` (RFC 3325 §7 and §9.3, RFC 3323 §4.2) withholds the caller, even
//!    when a P-Asserted-Identity is present: a service inside the trust domain sees the
//!    asserted identity but must not show it to the person answering. A calling
//!    Remote-Party-ID with `privacy=full` or `privacy=uri` (draft-ietf-sip-privacy-04
//!    §5) withholds it the same way; `privacy=name` hides only the name, which the
//!    caller id never carries, so the number stays.
//! 2. Otherwise the first P-Asserted-Identity (RFC 3325 §9.1) that yields a number wins:
//!    the user part of a `sip:`/`sips:` URI or the number of a `tel:` URI (RFC 3966).
//! 3. Otherwise the first Remote-Party-ID that is the calling party's (`party=calling`,
//!    or no `party` parameter) and yields a number. Its `screen=no` (not verified by the
//!    network) does not change what is shown: From is no better verified.
//! 4. Otherwise the From user.
//! 5. A URI never yields a number when it is anonymous: host `anonymous.invalid`
//!    (RFC 3323 §4.1.1.3), or a user part (any case) of `anonymous`, `restricted`,
//!    `unavailable`, `unknown`, `private` or `withheld`, the words trunks put there
//!    when the number is hidden or missing. Nor when it has no user part. An anonymous
//!    asserted entry is skipped for the next one; an anonymous From withholds.
//!
//! A number loses its URI parameters (`;isub=…`, `;phone-context=…`) and visual
//! separators (`-`, `.`, `(`, `)`, space, RFC 3966 §5.1.1); `%`-escapes are decoded. Only
//! the user part of a URI is read: `user=phone` (RFC 3261 §19.1.1) needs no special
//! handling, and a display name (`"0201234567" <sip:anonymous@…>`) is never taken for a
//! number.
//!
//! Limitation: a number is kept in the form the trunk sent it (`+31…`, `0031…`, `020…`),
//! because turning a national format into E.164 needs the trunk's country, which this
//! crate does not know; one caller may therefore appear under three numbers, and a
//! per-trunk country setting applied by the server would lift it.
//!
//! Numbers are personal data: [`CallerId`]'s `Debug` and [`Masked`] show at most the last
//! two characters.

use std::fmt;

use crate::message::{parse_uri, percent_decode, Party, RemoteParty, SipMessage};

/// The caller id of a call.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum CallerId {
    /// The caller's number (or SIP user) as the network presented it.
    Number(String),
    /// The caller asked for privacy, is anonymous, or sent no user part.
    Withheld,
}

impl fmt::Debug for CallerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Number(number) => write!(f, "Number({})", Masked(number)),
            Self::Withheld => f.write_str("Withheld"),
        }
    }
}

/// Shows a number (or any identifier) for logs as `…` plus at most its last 2 characters.
#[derive(Clone, Copy)]
pub struct Masked<'a>(pub &'a str);

impl fmt::Display for Masked<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.0.chars().count();
        let tail: String = self.0.chars().skip(count.saturating_sub(2)).collect();
        write!(f, "…{tail}")
    }
}

impl fmt::Debug for Masked<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The caller id of an initial INVITE, following the rules in the module docs.
pub fn caller_of(invite: &SipMessage) -> CallerId {
    if invite.privacy.iter().any(|value| value == "id") {
        return CallerId::Withheld;
    }

    let calling: Vec<&RemoteParty> = invite
        .remote_party
        .iter()
        .filter(|entry| entry.party.as_deref().is_none_or(|p| p == "calling"))
        .collect();
    let rpid_withholds = calling
        .iter()
        .any(|entry| matches!(entry.privacy.as_deref(), Some("full" | "uri")));
    if rpid_withholds {
        return CallerId::Withheld;
    }

    let asserted = invite.asserted.iter().find_map(|uri| number_of_uri(uri));
    let remote = || calling.iter().find_map(|entry| number_of_uri(&entry.uri));
    match asserted.or_else(remote) {
        Some(number) => CallerId::Number(number),
        None => caller_from(&invite.from),
    }
}

/// The number a P-Asserted-Identity or Remote-Party-ID URI yields; `None` when anonymous.
fn number_of_uri(uri: &str) -> Option<String> {
    let parts = parse_uri(uri)?;
    if is_anonymous(parts.user.as_deref(), &parts.host) {
        return None;
    }
    parts.user.as_deref().and_then(normalise_number)
}

/// The caller id from a From header alone, for calls first seen through a response.
///
/// A response's P-Asserted-Identity and Privacy describe the callee (RFC 3325 §9.1), so
/// only From is used.
pub fn caller_from(from: &Party) -> CallerId {
    if is_anonymous(from.user.as_deref(), &from.host) {
        return CallerId::Withheld;
    }
    match from.user.as_deref().and_then(normalise_number) {
        Some(number) => CallerId::Number(number),
        None => CallerId::Withheld,
    }
}

/// User parts that stand for a hidden or missing number, compared without case.
const ANONYMOUS_USERS: [&str; 6] = [
    "anonymous",
    "restricted",
    "unavailable",
    "unknown",
    "private",
    "withheld",
];

fn is_anonymous(user: Option<&str>, host: &str) -> bool {
    let anonymous_user = user
        .map(|u| percent_decode(u.split(';').next().unwrap_or(u)))
        .is_some_and(|u| {
            let u = u.trim();
            ANONYMOUS_USERS
                .iter()
                .any(|word| u.eq_ignore_ascii_case(word))
        });
    anonymous_user || host.eq_ignore_ascii_case("anonymous.invalid")
}

/// Strips user parameters and visual separators; `None` if nothing is left.
fn normalise_number(user: &str) -> Option<String> {
    let without_params = user.split(';').next().unwrap_or_default();
    let number: String = percent_decode(without_params)
        .chars()
        .filter(|c| !matches!(c, '-' | '.' | '(' | ')' | ' '))
        .collect();
    // E.164 numbers have at most 15 digits; anything far longer, or holding control
    // characters, is not a number a person dialled and would only bloat pops and rows.
    let plausible = number.len() <= MAX_NUMBER_CHARS && !number.chars().any(char::is_control);
    (!number.is_empty() && plausible).then_some(number)
}

/// Longest user part taken as a caller number: room for odd trunk formats and prefixes.
pub const MAX_NUMBER_CHARS: usize = 32;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::parse;

    fn invite(extra_headers: &str, from: &str) -> SipMessage {
        let text = format!(
            "INVITE sip:2001@127.0.0.1 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK-1\r\n\
             From: {from};tag=a1\r\n\
             To: <sip:2001@127.0.0.1>\r\n\
             Call-ID: id-1@127.0.0.1\r\n\
             CSeq: 1 INVITE\r\n\
             {extra_headers}\
             Content-Length: 0\r\n\r\n"
        );
        parse(text.as_bytes()).unwrap()
    }

    fn number(n: &str) -> CallerId {
        CallerId::Number(n.to_owned())
    }

    #[test]
    fn plain_from_user() {
        let msg = invite("", r#""Jan" <sip:+31201234567@trunk.example;user=phone>"#);
        assert_eq!(caller_of(&msg), number("+31201234567"));
    }

    #[test]
    fn asserted_sip_uri_beats_from() {
        let msg = invite(
            "P-Asserted-Identity: \"Desk\" <sip:+31201234567@trunk.example;user=phone>\r\n",
            "<sip:0201234567@trunk.example;user=phone>",
        );
        assert_eq!(caller_of(&msg), number("+31201234567"));
    }

    #[test]
    fn asserted_tel_uri_with_separators_and_parameters() {
        let msg = invite(
            "P-Asserted-Identity: <tel:+31-20-123.4567;phone-context=+31>\r\n",
            "<sip:other@trunk.example>",
        );
        assert_eq!(caller_of(&msg), number("+31201234567"));
    }

    #[test]
    fn anonymous_asserted_entry_is_skipped_for_the_next_one() {
        let msg = invite(
            "P-Asserted-Identity: <sip:anonymous@anonymous.invalid>, <tel:%2B31201234567>\r\n",
            "<sip:0201234567@trunk.example>",
        );
        assert_eq!(caller_of(&msg), number("+31201234567"));
    }

    #[test]
    fn privacy_id_withholds_even_with_asserted_identity() {
        let msg = invite(
            "P-Asserted-Identity: <sip:+31201234567@trunk.example;user=phone>\r\n\
             Privacy: id\r\n",
            r#""Anonymous" <sip:anonymous@anonymous.invalid>"#,
        );
        assert_eq!(caller_of(&msg), CallerId::Withheld);
    }

    #[test]
    fn privacy_id_withholds_without_asserted_identity() {
        let msg = invite(
            "Privacy: header; ID\r\n",
            "<sip:+31201234567@trunk.example>",
        );
        assert_eq!(caller_of(&msg), CallerId::Withheld);
    }

    #[test]
    fn privacy_none_keeps_the_number() {
        let msg = invite("Privacy: none\r\n", "<sip:+31201234567@trunk.example>");
        assert_eq!(caller_of(&msg), number("+31201234567"));
    }

    #[test]
    fn anonymous_from_is_withheld() {
        let by_user = invite("", "<sip:Anonymous@trunk.example>");
        let by_host = invite("", "<sip:+31201234567@anonymous.invalid>");

        assert_eq!(caller_of(&by_user), CallerId::Withheld);
        assert_eq!(caller_of(&by_host), CallerId::Withheld);
    }

    #[test]
    fn from_without_user_is_withheld() {
        let msg = invite("", "<sip:200.57.7.195:55061;user=phone>");
        assert_eq!(caller_of(&msg), CallerId::Withheld);
    }

    #[test]
    fn remote_party_id_is_used_when_there_is_no_asserted_identity() {
        let msg = invite(
            "Remote-Party-ID: \"Desk\" <sip:+31-20-1234567@trunk.example;user=phone>;party=calling;screen=no;privacy=off\r\n",
            "<sip:0201234567@trunk.example>",
        );
        assert_eq!(caller_of(&msg), number("+31201234567"));
        assert_eq!(msg.remote_party[0].screen.as_deref(), Some("no"));
    }

    #[test]
    fn asserted_identity_beats_remote_party_id() {
        let msg = invite(
            "Remote-Party-ID: <sip:0201111111@trunk.example>;party=calling\r\n\
             P-Asserted-Identity: <tel:+31201234567>\r\n",
            "<sip:0209999999@trunk.example>",
        );
        assert_eq!(caller_of(&msg), number("+31201234567"));
    }

    #[test]
    fn remote_party_id_of_the_called_party_is_ignored() {
        let msg = invite(
            "Remote-Party-ID: <sip:2001@pbx.example>;party=called\r\n",
            "<sip:+31201234567@trunk.example>",
        );
        assert_eq!(caller_of(&msg), number("+31201234567"));
    }

    #[test]
    fn remote_party_id_privacy_full_and_uri_withhold_but_name_does_not() {
        for (privacy, expected) in [
            ("full", CallerId::Withheld),
            ("URI", CallerId::Withheld),
            ("name", number("+31201234567")),
        ] {
            let header = format!(
                "Remote-Party-ID: \"Jan\" <sip:+31201234567@trunk.example>;privacy={privacy};screen=yes\r\n"
            );
            let msg = invite(&header, "<sip:+31201234567@trunk.example>");
            assert_eq!(caller_of(&msg), expected, "{privacy}");
        }
    }

    #[test]
    fn anonymous_user_words_are_withheld() {
        for user in [
            "anonymous",
            "Restricted",
            "UNAVAILABLE",
            "unknown",
            "Private",
        ] {
            let msg = invite("", &format!("<sip:{user}@trunk.example>"));
            assert_eq!(caller_of(&msg), CallerId::Withheld, "{user}");
        }
    }

    #[test]
    fn display_name_is_never_the_number() {
        let msg = invite("", r#""0201234567" <sip:anonymous@anonymous.invalid>"#);
        assert_eq!(caller_of(&msg), CallerId::Withheld);
        let named = invite("", r#""Anonymous" <sip:+31201234567@trunk.example>"#);
        assert_eq!(caller_of(&named), number("+31201234567"));
    }

    #[test]
    fn sip_user_with_visual_separators_and_user_phone() {
        let msg = invite("", "<sip:+31%20(20)%20123-45.67@trunk.example;user=phone>");
        assert_eq!(caller_of(&msg), number("+31201234567"));
        let tel = invite("", "<tel:+31-20-123-4567;phone-context=+31>");
        assert_eq!(caller_of(&tel), number("+31201234567"));
    }

    #[test]
    fn masked_shows_two_characters_at_most() {
        assert_eq!(Masked("+31201234567").to_string(), "…67");
        assert_eq!(format!("{:?}", Masked("7")), "…7");
        assert_eq!(Masked("").to_string(), "…");
        assert_eq!(Masked("Zoë").to_string(), "…oë");
        assert_eq!(format!("{:?}", number("+31201234567")), "Number(…67)");
    }

    #[test]
    fn implausible_numbers_are_not_taken_as_numbers() {
        assert_eq!(normalise_number(&"1".repeat(33)), None);
        assert_eq!(normalise_number("12%0034"), None);
        assert_eq!(normalise_number(&"1".repeat(32)), Some("1".repeat(32)));
    }
}
