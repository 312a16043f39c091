//! Reader for "hepdump" files: the lab's capture format (see `shared/lab/README.md`).
//!
//! A file is a plain run of records, each a big-endian u32 length `L` followed by `L`
//! bytes of one HEP datagram exactly as received. There is no file header.

use crate::{Error, Result};

/// Iterator over the datagrams of a hepdump file, made by [`dump_records`].
///
/// After the first error it yields nothing more, since the framing is lost.
#[derive(Debug, Clone)]
pub struct DumpRecords<'a> {
    rest: &'a [u8],
    offset: usize,
}

/// Splits a hepdump file into its datagrams, without decoding them.
pub fn dump_records(dump: &[u8]) -> DumpRecords<'_> {
    DumpRecords {
        rest: dump,
        offset: 0,
    }
}

impl<'a> Iterator for DumpRecords<'a> {
    type Item = Result<&'a [u8]>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }

        let record = self.rest.split_first_chunk::<4>().and_then(|(len, body)| {
            let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
            body.get(..len).map(|datagram| (datagram, &body[len..]))
        });
        match record {
            Some((datagram, rest)) => {
                self.offset += 4 + datagram.len();
                self.rest = rest;
                Some(Ok(datagram))
            }
            None => {
                let offset = self.offset;
                self.rest = &[];
                Some(Err(Error::HepDumpTruncated { offset }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_records_and_reports_a_cut_one() {
        let dump = [0, 0, 0, 2, b'a', b'b', 0, 0, 0, 1, b'c', 0, 0, 0, 9, b'd'];

        let records: Vec<_> = dump_records(&dump).collect();

        assert_eq!(records.len(), 3);
        assert_eq!(records[0], Ok(&b"ab"[..]));
        assert_eq!(records[1], Ok(&b"c"[..]));
        assert_eq!(records[2], Err(Error::HepDumpTruncated { offset: 11 }));
    }

    #[test]
    fn empty_file_has_no_records() {
        assert_eq!(dump_records(&[]).count(), 0);
    }
}
