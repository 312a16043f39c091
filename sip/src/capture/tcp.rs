//! TCP stream reassembly and framing: segments back in sequence order per direction of a
//! connection, then cut into SIP messages (by Content-Length, RFC 3261 §18.3) or HEPv3
//! frames (by their length field).
//!
//! A flow is one direction of a connection (source and destination address and port).
//! Its first segment with data, or its SYN, fixes where the stream starts; a segment
//! before that start which ends exactly where it begins is still taken, for captures that
//! start between two reordered segments. Later segments wait until the bytes before them
//! arrive; retransmitted bytes are dropped. A flow holds at most [`MAX_FLOW_BYTES`] of
//! waiting and unframed bytes; past that the gap is given up (the bytes before it are
//! lost, counted, and the stream goes on from the first waiting segment). At most
//! [`MAX_FLOWS`] flows are kept; the least recently used goes first.
//!
//! Limitation: a segment the capture missed for good (never retransmitted within it)
//! holds back its flow until 128 segments or 256 KiB wait behind it; the messages after
//! the gap then come out late, dated by the frame that gave the gap up, and the message
//! across the gap is lost. Giving gaps up after a time would lift it, but capture times
//! cannot be trusted.
//!
//! Whether a stream is SIP or HEP is decided by content: `HEP3` at the start makes it HEP,
//! a SIP start line makes it SIP (cut as [`super::sip_stream`] says). Anything else
//! before a SIP start line is thrown away, so a capture that starts in the middle of a
//! message picks up at the next one; a stream with no SIP start line in its first 64 KiB
//! is ignored from then on.

use std::collections::HashMap;
use std::net::IpAddr;

use super::sip_stream::{find_sip_start, split_sip, Split, MAX_HEAD_BYTES};
use crate::hep::StreamDecoder;

/// Most bytes a flow holds, waiting segments and unframed bytes together.
pub(super) const MAX_FLOW_BYTES: usize = 256 * 1024;

/// Most flows kept at once.
const MAX_FLOWS: usize = 4096;

/// Most waiting out-of-order segments per flow.
const MAX_WAITING_SEGMENTS: usize = 128;

/// One direction of a TCP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct FlowKey {
    pub(super) src: IpAddr,
    pub(super) dst: IpAddr,
    pub(super) src_port: u16,
    pub(super) dst_port: u16,
}

/// The parts of a TCP segment the reassembly needs.
pub(super) struct Segment<'a> {
    pub(super) seq: u32,
    pub(super) syn: bool,
    pub(super) payload: &'a [u8],
}

/// What a stream yielded.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum StreamItem {
    /// One whole SIP message.
    Sip(Vec<u8>),
    /// One whole HEPv3 frame.
    Hep(Vec<u8>),
    /// Bytes that could not be framed were thrown away.
    Garbage,
}

enum Framing {
    /// Not decided yet.
    Unknown,
    Sip,
    Hep(StreamDecoder),
    /// Neither SIP nor HEP; further bytes are dropped.
    Ignored,
}

struct Flow {
    /// Sequence number of the next byte expected.
    next_seq: u32,
    /// Whether the stream start is fixed (a SYN seen, or bytes framed or dropped).
    anchored: bool,
    /// Sequence number of the first byte held, while not anchored.
    first_seq: u32,
    /// Segments after a gap, by sequence number.
    waiting: Vec<(u32, Vec<u8>)>,
    waiting_bytes: usize,
    /// In-order bytes not yet framed.
    buffer: Vec<u8>,
    framing: Framing,
    last_used: u64,
}

/// All flows of one capture.
#[derive(Default)]
pub(super) struct TcpFlows {
    flows: HashMap<FlowKey, Flow>,
    bytes_dropped: u64,
}

/// Whether `a` comes before `b` in sequence space (RFC 9293 §3.4, modulo 2^32).
fn before(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

impl TcpFlows {
    /// Takes one segment; whole messages or frames it completes go to `out`. Returns false
    /// when the segment belongs to a stream that is neither SIP nor HEP, or carries
    /// nothing.
    pub(super) fn segment(
        &mut self,
        frame: u64,
        key: FlowKey,
        segment: Segment<'_>,
        out: &mut Vec<StreamItem>,
    ) -> bool {
        let data_seq = if segment.syn {
            segment.seq.wrapping_add(1)
        } else {
            segment.seq
        };

        if segment.syn {
            // A new connection on this address pair starts a new stream.
            let fresh = self
                .flows
                .get(&key)
                .is_none_or(|flow| flow.next_seq != data_seq || !flow.anchored);
            if fresh {
                self.drop_flow(&key);
                self.insert(key, new_flow(data_seq, true, frame));
            }
        }
        if segment.payload.is_empty() {
            return segment.syn;
        }

        if !self.flows.contains_key(&key) {
            self.insert(key, new_flow(data_seq, false, frame));
        }
        let Some(flow) = self.flows.get_mut(&key) else {
            return false;
        };
        flow.last_used = frame;
        if matches!(flow.framing, Framing::Ignored) {
            return false;
        }

        let dropped = flow.accept(data_seq, segment.payload);
        self.bytes_dropped += dropped as u64;
        let dropped = flow.frame_out(out);
        self.bytes_dropped += dropped as u64;
        !matches!(flow.framing, Framing::Ignored)
    }

    /// Stream bytes given up so far.
    pub(super) fn bytes_dropped(&self) -> u64 {
        self.bytes_dropped
    }

    fn insert(&mut self, key: FlowKey, flow: Flow) {
        if self.flows.len() >= MAX_FLOWS {
            let oldest = self
                .flows
                .iter()
                .min_by_key(|(_, flow)| flow.last_used)
                .map(|(key, _)| *key);
            if let Some(oldest) = oldest {
                self.drop_flow(&oldest);
            }
        }
        self.flows.insert(key, flow);
    }

    fn drop_flow(&mut self, key: &FlowKey) {
        if let Some(flow) = self.flows.remove(key) {
            self.bytes_dropped += (flow.buffer.len() + flow.waiting_bytes) as u64;
        }
    }
}

fn new_flow(next_seq: u32, anchored: bool, frame: u64) -> Flow {
    Flow {
        next_seq,
        anchored,
        first_seq: next_seq,
        waiting: Vec::new(),
        waiting_bytes: 0,
        buffer: Vec::new(),
        framing: Framing::Unknown,
        last_used: frame,
    }
}

impl Flow {
    /// Puts a segment in place; returns how many bytes were given up.
    fn accept(&mut self, seq: u32, payload: &[u8]) -> usize {
        let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
        let end = seq.wrapping_add(len);

        if !self.anchored && end == self.first_seq {
            // The capture started after this segment's successor: put it in front.
            let mut joined = payload.to_vec();
            joined.append(&mut self.buffer);
            self.buffer = joined;
            self.first_seq = seq;
            return self.enforce_cap();
        }

        if before(self.next_seq, seq) {
            if self.waiting.len() >= MAX_WAITING_SEGMENTS {
                return self.skip_gap();
            }
            self.waiting_bytes += payload.len();
            self.waiting.push((seq, payload.to_vec()));
            return self.enforce_cap();
        }

        self.append(seq, payload);
        self.drain_waiting();
        self.enforce_cap()
    }

    /// Appends the part of a segment at or after `next_seq`; older bytes are
    /// retransmissions.
    fn append(&mut self, seq: u32, payload: &[u8]) {
        let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
        let end = seq.wrapping_add(len);
        if !before(self.next_seq, end) {
            return;
        }
        let skip = self.next_seq.wrapping_sub(seq) as usize;
        if let Some(fresh) = payload.get(skip..) {
            self.buffer.extend_from_slice(fresh);
            self.next_seq = end;
        }
    }

    fn drain_waiting(&mut self) {
        while let Some(index) = self
            .waiting
            .iter()
            .position(|(seq, _)| !before(self.next_seq, *seq))
        {
            let (seq, bytes) = self.waiting.swap_remove(index);
            self.waiting_bytes -= bytes.len();
            self.append(seq, &bytes);
        }
    }

    /// Gives up the gap before the earliest waiting segment; returns the bytes lost.
    fn skip_gap(&mut self) -> usize {
        let Some(earliest) =
            self.waiting
                .iter()
                .map(|(seq, _)| *seq)
                .reduce(|a, b| if before(b, a) { b } else { a })
        else {
            return 0;
        };
        let lost = self.buffer.len();
        self.buffer.clear();
        if matches!(self.framing, Framing::Hep(_)) {
            // A HEP stream cannot be re-entered in the middle; it starts afresh.
            self.framing = Framing::Unknown;
        }
        self.next_seq = earliest;
        self.anchored = true;
        self.drain_waiting();
        lost
    }

    fn enforce_cap(&mut self) -> usize {
        let mut lost = 0;
        while self.buffer.len() + self.waiting_bytes > MAX_FLOW_BYTES {
            if self.waiting.is_empty() {
                lost += self.buffer.len();
                self.buffer.clear();
                break;
            }
            lost += self.skip_gap();
        }
        lost
    }

    /// Cuts whole messages or frames off the buffer; returns the bytes thrown away.
    fn frame_out(&mut self, out: &mut Vec<StreamItem>) -> usize {
        let mut lost = 0;
        loop {
            match &mut self.framing {
                Framing::Ignored => {
                    lost += self.buffer.len();
                    self.buffer.clear();
                    return lost;
                }
                Framing::Unknown => {
                    if self.buffer.is_empty() {
                        return lost;
                    }
                    let Some(framing) = self.decide(&mut lost) else {
                        return lost;
                    };
                    self.framing = framing;
                }
                Framing::Hep(decoder) => {
                    decoder.push(&self.buffer);
                    self.buffer.clear();
                    loop {
                        match decoder.next_frame() {
                            Ok(Some(frame)) => {
                                self.anchored = true;
                                out.push(StreamItem::Hep(frame));
                            }
                            Ok(None) => return lost,
                            Err(_) => {
                                lost += decoder.buffered();
                                out.push(StreamItem::Garbage);
                                self.framing = Framing::Ignored;
                                return lost;
                            }
                        }
                    }
                }
                Framing::Sip => match split_sip(&self.buffer) {
                    Split::Message(len) => {
                        let rest = self.buffer.split_off(len);
                        let message = std::mem::replace(&mut self.buffer, rest);
                        self.anchored = true;
                        out.push(StreamItem::Sip(message));
                    }
                    Split::Skip(len) => {
                        self.buffer.drain(..len);
                    }
                    Split::Garbage(len) => {
                        lost += len;
                        self.buffer.drain(..len);
                        out.push(StreamItem::Garbage);
                    }
                    Split::NeedMore => return lost,
                },
            }
        }
    }

    /// Decides the framing from the first bytes, dropping anything before a SIP start
    /// line; `None` when more bytes are needed.
    fn decide(&mut self, lost: &mut usize) -> Option<Framing> {
        let magic = b"HEP3";
        let seen = self.buffer.len().min(magic.len());
        if self.buffer[..seen] == magic[..seen] {
            return (seen == magic.len()).then(|| Framing::Hep(StreamDecoder::new()));
        }

        match find_sip_start(&self.buffer) {
            Some(start) => {
                *lost += start;
                self.anchored |= start > 0;
                self.buffer.drain(..start);
                Some(Framing::Sip)
            }
            None if self.buffer.len() > MAX_HEAD_BYTES => Some(Framing::Ignored),
            None => None,
        }
    }
}
