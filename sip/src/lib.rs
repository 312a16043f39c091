//! SIP side of Ringside: from mirrored packets to call events.
//!
//! The server receives HEPv3 datagrams from a SIP proxy (Kamailio's siptrace) and hands
//! each one to this crate; the crate tells it which calls started ringing, were answered
//! and ended. It opens no sockets and touches no database: the server owns I/O, storage
//! and the clock that drives [`tracker::Tracker::expire`].
//!
//! # Layout
//!
//! - [`capture`]: SIP out of pcap and pcapng files, [`capture::read`], whatever the link,
//!   IP version, fragmenting, tunnel and transport (UDP, TCP, SCTP, HEP inside them).
//! - [`hep`]: HEPv3 framing, [`hep::decode`] and [`hep::encode`], plus a reader for the
//!   lab's hepdump files, HEPv1/v2, a HEPv3 stream decoder and [`hep::decode_any`].
//! - [`message`]: [`message::parse`] turns a SIP payload into a small [`SipMessage`]
//!   (start line, Call-ID, CSeq, From, To, P-Asserted-Identity, Privacy, Reason, Via
//!   count and branch, Contact user, Refer-To, Referred-By, Replaces, Session-Expires,
//!   Remote-Party-ID).
//! - [`identity`]: the caller id shown to agents ([`CallerId`]) and [`Masked`] for logs.
//! - [`tracker`]: the call state machine that turns an unordered, duplicated stream of
//!   messages (forks, transfers, B2BUA legs included) into [`CallEvent`]s.
//! - [`synth`]: realistic SIP text for demo calls and tests, shaped like Kamailio's mirror.
//! - [`decode_datagram`]: HEP decode, SIP check and parse in one call.
//!
//! # Logging
//!
//! The crate logs at `debug` and `trace` only. Numbers are masked and Call-IDs digested
//! ([`message::CallIdDigest`]); whole messages are logged only at `trace` on the target
//! `ringside::raw`, which stays off unless an operator enables it.

pub mod capture;
pub mod hep;
pub mod identity;
pub mod message;
pub mod synth;
pub mod tracker;

mod error;
#[cfg(test)]
mod test_support;

pub use error::Error;
pub use hep::{HepPacket, Transport};
pub use identity::{CallerId, Masked};
pub use message::{Method, Party, SipMessage, StartLine};
pub use tracker::{CallEvent, CallEventKind, EndCause, Side, Tracker, TrackerConfig, TrackerStats};

/// Result with the crate's [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Decodes a HEPv3 datagram and parses the SIP message it carries.
///
/// # Errors
///
/// Any error of [`hep::decode`]; [`Error::NotSip`] when the payload's protocol type is not
/// SIP (1); any error of [`message::parse`].
pub fn decode_datagram(datagram: &[u8]) -> Result<(HepPacket, SipMessage)> {
    let packet = hep::decode(datagram)?;
    if packet.proto_type != hep::PROTO_SIP {
        return Err(Error::NotSip {
            proto_type: packet.proto_type,
        });
    }
    let message = message::parse(&packet.payload)?;
    Ok((packet, message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::datagrams;

    #[test]
    fn decodes_a_lab_datagram_end_to_end() {
        let (packet, message) = decode_datagram(datagrams("busy")[0]).unwrap();

        assert_eq!(packet.capture_id, 2001);
        assert_eq!(message.method(), Some(&Method::Invite));
        assert_eq!(message.cseq, 1);
    }

    #[test]
    fn other_protocols_are_refused() {
        let mut packet = hep::decode(datagrams("busy")[0]).unwrap();
        packet.proto_type = 5;

        let result = decode_datagram(&hep::encode(&packet));

        assert_eq!(result.unwrap_err(), Error::NotSip { proto_type: 5 });
    }

    #[test]
    fn a_bad_payload_is_a_parse_error() {
        let mut packet = hep::decode(datagrams("busy")[0]).unwrap();
        packet.payload = b"\xff\xfe not sip".to_vec();

        let result = decode_datagram(&hep::encode(&packet));

        assert_eq!(result.unwrap_err(), Error::PayloadNotUtf8);
    }
}
