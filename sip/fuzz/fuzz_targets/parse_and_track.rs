//! Fuzz target: several SIP messages parsed and fed to one tracker, with its event order
//! checked (input format in the crate docs).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ringside_sip_fuzz::parse_and_track(data));
