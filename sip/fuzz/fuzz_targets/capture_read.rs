//! Fuzz target: the capture reader (pcap and pcapng, every link layer, IP fragments, TCP
//! and SCTP reassembly) and the datagram classifier (HEPv3, HEPv2, plain SIP) on
//! arbitrary bytes. Neither may panic; every message the reader returns must be one SIP
//! message the parser can be given.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ringside_sip_fuzz::capture_read(data));
