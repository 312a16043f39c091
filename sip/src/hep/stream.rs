//! HEPv3 over a byte stream (TCP): cutting the stream into frames by the length field.
//!
//! Each frame is one HEPv3 datagram: the magic `HEP3`, then its big-endian u16 total
//! length, which counts the whole frame. A stream carries no other framing, so a frame
//! that does not start with the magic means the stream is lost: there is no marker to
//! resynchronise on that a payload could not also contain. The decoder then fails for
//! good and the connection should be closed.

use super::{HEADER_LEN, MAGIC, MAX_DATAGRAM};
use crate::{Error, Result};

/// Splits a HEPv3 byte stream into whole frames.
///
/// Feed bytes with [`StreamDecoder::push`] and take frames with
/// [`StreamDecoder::next_frame`] until it returns `Ok(None)`. Memory stays below the
/// maximum frame size plus one push, as long as frames are taken after every push.
#[derive(Debug)]
pub struct StreamDecoder {
    buffer: Vec<u8>,
    start: usize,
    max_frame: usize,
    failed: Option<Error>,
}

impl StreamDecoder {
    /// A decoder accepting frames up to the HEPv3 maximum of 65,535 bytes.
    pub fn new() -> Self {
        Self::with_max_frame(MAX_DATAGRAM)
    }

    /// A decoder accepting frames up to `max_frame` bytes (at most 65,535, the most the
    /// 16-bit length can say; at least the 6-byte header).
    pub fn with_max_frame(max_frame: usize) -> Self {
        Self {
            buffer: Vec::new(),
            start: 0,
            max_frame: max_frame.clamp(HEADER_LEN, MAX_DATAGRAM),
            failed: None,
        }
    }

    /// Appends bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.failed.is_some() {
            return;
        }
        if self.start > 0 && self.start >= self.buffer.len() / 2 {
            self.buffer.drain(..self.start);
            self.start = 0;
        }
        self.buffer.extend_from_slice(bytes);
    }

    /// Takes the next whole frame, or `None` when more bytes are needed.
    ///
    /// # Errors
    ///
    /// [`Error::HepStreamGarbage`] when the bytes where a frame should start are not the
    /// `HEP3` magic; [`Error::HepStreamFrameSize`] when a frame declares a length below 6
    /// or above the maximum. After an error every later call returns the same error.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        let pending = &self.buffer[self.start..];

        let seen = pending.len().min(MAGIC.len());
        if pending[..seen] != MAGIC[..seen] {
            return Err(self.fail(Error::HepStreamGarbage));
        }
        if pending.len() < HEADER_LEN {
            return Ok(None);
        }

        let declared = usize::from(u16::from_be_bytes([pending[4], pending[5]]));
        if declared < HEADER_LEN || declared > self.max_frame {
            return Err(self.fail(Error::HepStreamFrameSize {
                declared,
                max: self.max_frame,
            }));
        }
        if pending.len() < declared {
            return Ok(None);
        }

        let frame = pending[..declared].to_vec();
        self.start += declared;
        if self.start == self.buffer.len() {
            self.buffer.clear();
            self.start = 0;
        }
        Ok(Some(frame))
    }

    /// Bytes received but not yet returned in a frame.
    pub fn buffered(&self) -> usize {
        self.buffer.len() - self.start
    }

    fn fail(&mut self, err: Error) -> Error {
        self.buffer = Vec::new();
        self.start = 0;
        self.failed = Some(err.clone());
        err
    }
}

impl Default for StreamDecoder {
    fn default() -> Self {
        Self::new()
    }
}
