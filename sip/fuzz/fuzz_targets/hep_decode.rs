//! Fuzz target: HEPv3 decoding of arbitrary bytes, and the encode/decode round trip.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ringside_sip_fuzz::hep_decode(data));
