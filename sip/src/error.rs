//! The crate's one error type.
//!
//! Every variant names what was wrong with the input and never carries the input itself:
//! a SIP message may hold phone numbers and names, so parse errors keep only the header
//! name and the kind of fault.

/// What went wrong while decoding a HEP datagram or parsing the SIP message inside it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The datagram is shorter than the 6-byte HEPv3 header.
    #[error("datagram of {len} bytes is shorter than the hep header")]
    HepTooShort {
        /// Length of the datagram in bytes.
        len: usize,
    },

    /// The datagram does not start with the HEPv3 magic `HEP3`.
    #[error("datagram does not start with the hep3 magic")]
    HepBadMagic,

    /// The total length in the HEP header is below 6 or beyond the end of the datagram.
    #[error("hep total length {declared} does not fit a datagram of {actual} bytes")]
    HepLengthMismatch {
        /// Total length the HEP header declares.
        declared: usize,
        /// Bytes actually received.
        actual: usize,
    },

    /// Fewer than 6 bytes are left where the next chunk header should start.
    #[error("hep chunk header cut short at offset {offset}")]
    HepChunkHeaderTruncated {
        /// Offset of the cut header from the start of the datagram.
        offset: usize,
    },

    /// A chunk's length runs past the end of the packet.
    #[error("hep chunk 0x{chunk_type:04x} runs past the end of the packet")]
    HepChunkOverrun {
        /// HEPv3 chunk type.
        chunk_type: u16,
    },

    /// A chunk's length is below its 6-byte header, or wrong for a fixed-size value.
    #[error("hep chunk 0x{chunk_type:04x} has an invalid length of {len}")]
    HepChunkBadLength {
        /// HEPv3 chunk type.
        chunk_type: u16,
        /// Length field of the chunk, header included.
        len: u16,
    },

    /// A chunk the packet cannot do without is absent.
    #[error("hep chunk 0x{chunk_type:04x} is missing")]
    HepChunkMissing {
        /// HEPv3 chunk type.
        chunk_type: u16,
    },

    /// The payload is compressed (chunk 0x0010), which this crate does not inflate.
    #[error("hep payload is compressed, which is not supported")]
    HepCompressed,

    /// A hepdump file ends inside a record.
    #[error("hepdump record at offset {offset} is cut short")]
    HepDumpTruncated {
        /// Offset of the cut record from the start of the file.
        offset: usize,
    },

    /// A HEPv1/v2 header is cut short, names an unknown address family, or its length
    /// byte does not match that family.
    #[error("hep v1/v2 header is malformed")]
    HepV2Malformed,

    /// A datagram is neither HEPv3, HEPv2, HEPv1 nor a plain SIP message.
    #[error("datagram is neither hep nor sip")]
    UnknownDatagram,

    /// A HEPv3 stream does not continue with the `HEP3` magic where the next frame should
    /// start; the stream cannot be resynchronised and should be closed.
    #[error("hep stream lost its framing: no hep3 magic where a frame should start")]
    HepStreamGarbage,

    /// A HEPv3 stream frame declares a length below the header or above the allowed
    /// maximum.
    #[error("hep stream frame of {declared} bytes is outside 6..={max}")]
    HepStreamFrameSize {
        /// Total length the frame header declares.
        declared: usize,
        /// Largest frame the decoder accepts.
        max: usize,
    },

    /// A capture file is neither pcap nor pcapng.
    #[error("capture file is neither pcap nor pcapng")]
    CaptureFormat,

    /// The HEP packet carries another protocol than SIP.
    #[error("hep packet carries protocol type {proto_type}, not sip")]
    NotSip {
        /// HEPv3 protocol type (chunk 0x000b); 1 is SIP.
        proto_type: u8,
    },

    /// The SIP start line is not valid UTF-8.
    #[error("sip start line is not valid utf-8")]
    PayloadNotUtf8,

    /// The SIP message could not be parsed.
    #[error("invalid sip message{}: {kind}", header_suffix(.header.as_deref()))]
    SipParse {
        /// Header at fault, when known.
        header: Option<String>,
        /// Kind of fault, in a few words, without the offending text.
        kind: String,
    },
}

impl Error {
    /// Builds a [`Error::SipParse`] for the named header.
    pub(crate) fn sip_header(header: &str, kind: &str) -> Self {
        Self::SipParse {
            header: Some(header.to_owned()),
            kind: kind.to_owned(),
        }
    }

    /// Wraps an rsip error, keeping only what kind of fault it was.
    ///
    /// rsip's messages quote the offending input, which may hold a phone number, so the
    /// text is dropped. For a missing header, rsip's text is the header name alone.
    pub(crate) fn from_rsip(err: &rsip::Error) -> Self {
        let (header, kind) = match err {
            rsip::Error::MissingHeader(name) => (Some(name.clone()), "missing header"),
            rsip::Error::InvalidParam(_) => (None, "invalid parameter"),
            rsip::Error::ParseError(_) => (None, "unparsable part"),
            rsip::Error::TokenizeError(_) => (None, "malformed message"),
            rsip::Error::Utf8Error(_) => (None, "invalid utf-8"),
            rsip::Error::Unexpected(_) => (None, "unexpected parser failure"),
        };
        Self::SipParse {
            header,
            kind: kind.to_owned(),
        }
    }
}

fn header_suffix(header: Option<&str>) -> String {
    header
        .map(|h| format!(" in header {h}"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsip_errors_lose_their_text() {
        let secret = "sip:+31201234567@trunk.example";
        let wrapped = Error::from_rsip(&rsip::Error::TokenizeError(secret.to_owned()));

        let shown = format!("{wrapped} {wrapped:?}");
        assert!(!shown.contains("31201234567"), "{shown}");
        assert_eq!(
            wrapped.to_string(),
            "invalid sip message: malformed message"
        );
    }

    #[test]
    fn header_name_is_kept() {
        let err = Error::sip_header("CSeq", "bad sequence number");
        assert_eq!(
            err.to_string(),
            "invalid sip message in header CSeq: bad sequence number"
        );
    }
}
