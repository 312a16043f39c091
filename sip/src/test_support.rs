//! Lab captures shared by the unit tests (copied from `shared/lab/captures`).

use crate::hep;

/// Every fixture: name, hepdump bytes.
pub(crate) const FIXTURES: &[(&str, &[u8])] = &[
    ("answered", include_bytes!("../tests/fixtures/answered.hep")),
    (
        "abandoned",
        include_bytes!("../tests/fixtures/abandoned.hep"),
    ),
    ("busy", include_bytes!("../tests/fixtures/busy.hep")),
    ("rejected", include_bytes!("../tests/fixtures/rejected.hep")),
    (
        "anonymous",
        include_bytes!("../tests/fixtures/anonymous.hep"),
    ),
    (
        "anonymous-pai",
        include_bytes!("../tests/fixtures/anonymous-pai.hep"),
    ),
    ("pai", include_bytes!("../tests/fixtures/pai.hep")),
    ("intl", include_bytes!("../tests/fixtures/intl.hep")),
];

/// The raw datagrams of one fixture.
pub(crate) fn datagrams(name: &str) -> Vec<&'static [u8]> {
    let (_, dump) = FIXTURES
        .iter()
        .find(|(fixture, _)| *fixture == name)
        .expect("fixture name is one of FIXTURES");
    hep::dump_records(dump)
        .collect::<Result<Vec<_>, _>>()
        .expect("lab fixtures are well-formed hepdump files")
}

/// The decoded packets of one fixture.
pub(crate) fn packets(name: &str) -> Vec<hep::HepPacket> {
    datagrams(name)
        .into_iter()
        .map(|d| hep::decode(d).expect("lab datagrams decode"))
        .collect()
}
