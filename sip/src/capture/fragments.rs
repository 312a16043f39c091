//! IP fragment reassembly (IPv4, RFC 791 §3.2; IPv6 Fragment header, RFC 8200 §4.5), with
//! bounded memory.
//!
//! Fragments are kept per (source, destination, identification, protocol) until every
//! byte from 0 to the end given by the last fragment is present. At most
//! [`MAX_PENDING`] datagrams wait at once (the oldest goes when a new one needs room), a
//! datagram waits at most [`STALE_FRAMES`] frames, none may pass 65,535 bytes nor hold
//! more than twice that in repeated fragments; the
//! fragments of one that breaks a rule are dropped and counted. Age is counted in frames,
//! not seconds, because capture timestamps cannot be trusted.

use std::collections::HashMap;
use std::net::IpAddr;

/// Most datagrams waiting for fragments at once.
const MAX_PENDING: usize = 256;

/// Frames after its first fragment that a datagram may wait for the rest.
const STALE_FRAMES: u64 = 10_000;

/// Largest reassembled payload, the IP maximum.
const MAX_DATAGRAM: usize = 65_535;

/// What identifies the fragments of one datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct FragmentKey {
    pub(super) src: IpAddr,
    pub(super) dst: IpAddr,
    pub(super) id: u32,
    /// Protocol of the payload (IPv4 protocol field, or the Fragment header's next header).
    pub(super) proto: u8,
}

struct Pending {
    first_frame: u64,
    /// (offset, bytes) in arrival order.
    pieces: Vec<(usize, Vec<u8>)>,
    /// Payload length, known once the last fragment arrived.
    total: Option<usize>,
}

/// Datagrams waiting for their other fragments.
#[derive(Default)]
pub(super) struct FragmentPool {
    pending: HashMap<FragmentKey, Pending>,
    dropped: u64,
}

impl FragmentPool {
    /// Adds one fragment; returns the whole payload when this fragment completed it.
    pub(super) fn add(
        &mut self,
        frame: u64,
        key: FragmentKey,
        offset: usize,
        more: bool,
        bytes: &[u8],
    ) -> Option<Vec<u8>> {
        self.drop_stale(frame);

        let end = offset + bytes.len();
        if end > MAX_DATAGRAM {
            self.dropped += 1;
            return None;
        }
        if !self.pending.contains_key(&key) && self.pending.len() >= MAX_PENDING {
            self.drop_oldest();
        }

        let entry = self.pending.entry(key).or_insert_with(|| Pending {
            first_frame: frame,
            pieces: Vec::new(),
            total: None,
        });
        let held: usize = entry.pieces.iter().map(|(_, piece)| piece.len()).sum();
        if held + bytes.len() > 2 * MAX_DATAGRAM {
            // Repeated copies of the same fragments: give the datagram up.
            self.dropped += entry.pieces.len() as u64 + 1;
            self.pending.remove(&key);
            return None;
        }
        entry.pieces.push((offset, bytes.to_vec()));
        if !more {
            entry.total = Some(end);
        }

        let whole = assemble(entry)?;
        self.pending.remove(&key);
        Some(whole)
    }

    /// Fragments dropped so far.
    pub(super) fn dropped(&self) -> u64 {
        self.dropped
    }

    fn drop_stale(&mut self, frame: u64) {
        let before = self.pending.len();
        let mut lost = 0;
        self.pending.retain(|_, pending| {
            let keep = frame.saturating_sub(pending.first_frame) <= STALE_FRAMES;
            if !keep {
                lost += pending.pieces.len() as u64;
            }
            keep
        });
        if self.pending.len() != before {
            self.dropped += lost;
        }
    }

    fn drop_oldest(&mut self) {
        let oldest = self
            .pending
            .iter()
            .min_by_key(|(_, pending)| pending.first_frame)
            .map(|(key, _)| *key);
        if let Some(key) = oldest {
            if let Some(pending) = self.pending.remove(&key) {
                self.dropped += pending.pieces.len() as u64;
            }
        }
    }
}

/// The whole payload when the pieces cover 0..total without a hole. Overlaps are allowed;
/// the later piece wins.
fn assemble(pending: &Pending) -> Option<Vec<u8>> {
    let total = pending.total?;

    let mut spans: Vec<(usize, usize)> = pending
        .pieces
        .iter()
        .map(|(offset, bytes)| (*offset, offset + bytes.len()))
        .collect();
    spans.sort_unstable();
    let mut covered = 0;
    for (start, end) in spans {
        if start > covered {
            return None;
        }
        covered = covered.max(end);
    }
    if covered < total {
        return None;
    }

    let mut whole = vec![0; total];
    for (offset, bytes) in &pending.pieces {
        let end = (offset + bytes.len()).min(total);
        if *offset < end {
            whole[*offset..end].copy_from_slice(&bytes[..end - offset]);
        }
    }
    Some(whole)
}
