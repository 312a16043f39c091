//! Address headers (From, To, P-Asserted-Identity) and the URIs inside them.
//!
//! Grammar from RFC 3261 §20 and §25.1: a value is either a name-addr
//! (`[display-name] <URI>` followed by header parameters) or a bare addr-spec, whose
//! parameters after the first `;` belong to the header, not the URI. `sip:`/`sips:` URIs
//! (RFC 3261 §19.1.1) give a user and a host; `tel:` URIs (RFC 3966) give the number as the
//! user and no host. rsip 0.4 reads `tel:` URIs as a host named "tel", which is why these
//! values are dissected here.

use crate::message::{Party, RemoteParty};

/// User and host of a URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UriParts {
    /// Lowercased scheme (`sip`, `sips`, `tel`, ...).
    pub scheme: String,
    /// User part (sip) or number (tel), without password; parameters kept.
    pub user: Option<String>,
    /// Lowercased host without port; empty for schemes without one.
    pub host: String,
}

/// Splits a URI into scheme, user and host; `None` when it has no scheme.
pub(crate) fn parse_uri(uri: &str) -> Option<UriParts> {
    let (scheme, rest) = uri.trim().split_once(':')?;
    let valid_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !valid_scheme {
        return None;
    }
    let scheme = scheme.to_ascii_lowercase();

    let parts = match scheme.as_str() {
        "sip" | "sips" => {
            let rest = rest.split('?').next().unwrap_or_default();
            let (user, host_part) = match rest.split_once('@') {
                Some((userinfo, host_part)) => {
                    let user = userinfo.split(':').next().unwrap_or_default();
                    (Some(user.to_owned()), host_part)
                }
                None => (None, rest),
            };
            let host_port = host_part.split(';').next().unwrap_or_default();
            UriParts {
                scheme,
                user: user.filter(|u| !u.is_empty()),
                host: strip_port(host_port).to_ascii_lowercase(),
            }
        }
        "tel" => {
            let number = rest.split(';').next().unwrap_or_default().trim();
            UriParts {
                scheme,
                user: Some(number.to_owned()).filter(|n| !n.is_empty()),
                host: String::new(),
            }
        }
        _ => UriParts {
            scheme,
            user: None,
            host: String::new(),
        },
    };
    Some(parts)
}

fn strip_port(host_port: &str) -> &str {
    if host_port.starts_with('[') {
        match host_port.find(']') {
            Some(end) => &host_port[..=end],
            None => host_port,
        }
    } else {
        host_port.split(':').next().unwrap_or_default()
    }
}

/// Parses a From/To/P-Asserted-Identity value; `None` when it holds no usable URI.
pub(crate) fn parse_party(value: &str) -> Option<Party> {
    let value = value.trim();
    // Some senders escape the quotes of a display name outside any quoted string
    // (`\"arik\" <sip:...>`), which leaves no `<` outside quotes; the last `<` that a
    // `>` follows is then taken as the start of the URI.
    let open = find_unquoted(value, '<')
        .or_else(|| value.rfind('<').filter(|at| value[*at..].contains('>')));
    let (display_name, uri, params) = match open {
        Some(open) => {
            let close = open + value[open..].find('>')?;
            let display = unquote(value[..open].trim());
            (display, &value[open + 1..close], &value[close + 1..])
        }
        None => match value.find(';') {
            Some(semi) => (None, &value[..semi], &value[semi..]),
            None => (None, value, ""),
        },
    };

    let uri = uri.trim();
    let parts = parse_uri(uri)?;
    let tag = params.split(';').find_map(|param| {
        let (name, tag) = param.split_once('=')?;
        let tag = tag.trim();
        (name.trim().eq_ignore_ascii_case("tag") && !tag.is_empty()).then(|| tag.to_owned())
    });

    Some(Party {
        display_name,
        uri: uri.to_owned(),
        user: parts.user,
        host: parts.host,
        tag,
    })
}

/// Parses one Remote-Party-ID entry; `None` when it holds no usable URI.
pub(crate) fn parse_remote_party(value: &str) -> Option<RemoteParty> {
    let party = parse_party(value)?;
    let params = match find_unquoted(value, '>') {
        Some(close) => &value[close + 1..],
        None => value.find(';').map_or("", |semi| &value[semi..]),
    };
    let lower = |name| param(params, name).map(|v| v.to_ascii_lowercase());
    Some(RemoteParty {
        uri: party.uri,
        party: lower("party"),
        privacy: lower("privacy"),
        screen: lower("screen"),
    })
}

/// The value of the `;name=value` parameter in `params`, name matched without case.
pub(crate) fn param(params: &str, name: &str) -> Option<String> {
    params.split(';').skip(1).find_map(|item| {
        let (key, value) = item.split_once('=')?;
        let value = value.trim().trim_matches('"');
        (key.trim().eq_ignore_ascii_case(name) && !value.is_empty()).then(|| value.to_owned())
    })
}

/// The raw value of header `name` in a URI's `?h1=v1&h2=v2` part (RFC 3261 §19.1.1).
pub(crate) fn uri_header(uri: &str, name: &str) -> Option<String> {
    let (_, headers) = uri.split_once('?')?;
    headers.split('&').find_map(|item| {
        let (key, value) = item.split_once('=')?;
        key.eq_ignore_ascii_case(name).then(|| value.to_owned())
    })
}

/// Decodes `%XX` escapes (RFC 3261 §19.1.2, RFC 3986 §2.1); malformed escapes are kept
/// as written.
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escape = bytes
            .get(index + 1..index + 3)
            .filter(|_| bytes[index] == b'%')
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escape {
            Some(byte) => {
                out.push(byte);
                index += 3;
            }
            None => {
                out.push(bytes[index]);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Byte index of the first `target` outside a quoted string.
fn find_unquoted(value: &str, target: char) -> Option<usize> {
    let mut in_quotes = false;
    let mut escaped = false;
    for (index, c) in value.char_indices() {
        if escaped {
            escaped = false;
        } else if in_quotes && c == '\\' {
            escaped = true;
        } else if c == '"' {
            in_quotes = !in_quotes;
        } else if c == target && !in_quotes {
            return Some(index);
        }
    }
    None
}

/// Display name without quotes and escapes; `None` when empty.
fn unquote(display: &str) -> Option<String> {
    let inner = display
        .strip_prefix('"')
        .and_then(|d| d.strip_suffix('"'))
        .unwrap_or(display);
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            other => out.push(other),
        }
    }
    // Quotes that were escaped outside a quoted string survive the loop above.
    let out = out.trim().trim_matches('"').trim().to_owned();
    (!out.is_empty()).then_some(out)
}

/// Splits a header value holding a comma-separated list of addresses, leaving commas inside
/// quotes and angle brackets alone (RFC 3261 §7.3.1).
pub(crate) fn split_address_list(value: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let mut start = 0;
    let mut in_quotes = false;
    let mut escaped = false;
    let mut in_angle = false;
    for (index, c) in value.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            '<' if !in_quotes => in_angle = true,
            '>' if !in_quotes => in_angle = false,
            ',' if !in_quotes && !in_angle => {
                items.push(value[start..index].trim());
                start = index + 1;
            }
            _ => {}
        }
    }
    items.push(value[start..].trim());
    items.retain(|item| !item.is_empty());
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_addr_with_quoted_display_and_tag() {
        let party = parse_party(
            r#""Jan \"J\" <Jansen>" <sip:+31201234567@Trunk.Example:5060;user=phone>;tag=abc"#,
        )
        .unwrap();

        assert_eq!(party.display_name.as_deref(), Some(r#"Jan "J" <Jansen>"#));
        assert_eq!(party.uri, "sip:+31201234567@Trunk.Example:5060;user=phone");
        assert_eq!(party.user.as_deref(), Some("+31201234567"));
        assert_eq!(party.host, "trunk.example");
        assert_eq!(party.tag.as_deref(), Some("abc"));
    }

    #[test]
    fn addr_spec_parameters_belong_to_the_header() {
        let party = parse_party("sip:2001@127.0.0.1;tag=x9").unwrap();

        assert_eq!(party.uri, "sip:2001@127.0.0.1");
        assert_eq!(party.display_name, None);
        assert_eq!(party.tag.as_deref(), Some("x9"));
    }

    #[test]
    fn uri_without_user_and_with_ipv6_host() {
        let party = parse_party("<sip:200.57.7.195:55061;user=phone>;tag=1").unwrap();
        assert_eq!(party.user, None);
        assert_eq!(party.host, "200.57.7.195");

        let v6 = parse_uri("sips:bob:secret@[2001:db8::1]:5061;transport=tls?subject=x").unwrap();
        assert_eq!(v6.user.as_deref(), Some("bob"));
        assert_eq!(v6.host, "[2001:db8::1]");
        assert_eq!(v6.scheme, "sips");
    }

    #[test]
    fn tel_uri_gives_the_number() {
        let uri = parse_uri("tel:+31-20-1234567;phone-context=+31").unwrap();

        assert_eq!(uri.user.as_deref(), Some("+31-20-1234567"));
        assert_eq!(uri.host, "");
    }

    #[test]
    fn malformed_addresses_are_refused() {
        assert_eq!(parse_party(""), None);
        assert_eq!(parse_party("<sip:a@b"), None);
        assert_eq!(parse_party("no scheme here"), None);
        assert_eq!(parse_party("<1sip:a@b>"), None);
    }

    #[test]
    fn address_lists_split_outside_quotes_and_brackets() {
        let items = split_address_list(r#""A, B" <sip:1@h;x=a,b>, <tel:+3120>,,"#);

        assert_eq!(items, vec![r#""A, B" <sip:1@h;x=a,b>"#, "<tel:+3120>"]);
    }
}
