//! Writes the seed corpora: every datagram of the lab fixtures for `hep_decode`, and whole
//! calls (lab fixtures and every synthetic call shape) for `parse_and_track`.
//!
//! ```text
//! cargo run --manifest-path sip/fuzz/Cargo.toml --bin seed-corpus
//! ```
//!
//! Files go to `corpus/<target>/` beside this crate's manifest, which git ignores.

use std::fs;
use std::path::{Path, PathBuf};

use ringside_sip::hep;
use ringside_sip::synth::{self, CallShape};
use ringside_sip_fuzz::{control, join_messages};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fixtures = crate_dir.join("../tests/fixtures");
    let hep_dir = corpus_dir(crate_dir, "hep_decode")?;
    let track_dir = corpus_dir(crate_dir, "parse_and_track")?;

    let mut written = 0;
    let mut paths: Vec<PathBuf> = fs::read_dir(&fixtures)?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "hep"))
        .collect();
    paths.sort();
    for path in paths {
        let name = path
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_default();
        let dump = fs::read(&path)?;
        let datagrams: Vec<&[u8]> = hep::dump_records(&dump).collect::<Result<_, _>>()?;

        let mut payloads = Vec::new();
        for (index, datagram) in datagrams.iter().enumerate() {
            fs::write(hep_dir.join(format!("{name}-{index:02}")), datagram)?;
            written += 1;
            if let Ok(packet) = hep::decode(datagram) {
                payloads.push(packet.payload);
            }
        }
        let input = join_messages(payloads.iter().map(|p| (control(1, true), p.as_slice())));
        fs::write(track_dir.join(format!("fixture-{name}")), input)?;
        written += 1;
    }

    for shape in CallShape::ALL {
        let messages = synth::call_messages(
            shape,
            &format!("seed-{shape:?}@fuzz.example"),
            "+31201234567",
            Some("Jan Jansen"),
            "2001",
            1_000,
            2_000,
        );
        let input = join_messages(
            messages
                .iter()
                .map(|msg| (control(2, false), msg.text.as_bytes())),
        );
        fs::write(track_dir.join(format!("synth-{shape:?}")), input)?;
        // The same call in reverse, with a timer run after each message.
        let reversed = join_messages(
            messages
                .iter()
                .rev()
                .map(|msg| (control(-1, true), msg.text.as_bytes())),
        );
        fs::write(
            track_dir.join(format!("synth-{shape:?}-reversed")),
            reversed,
        )?;
        written += 2;

        if let Some(first) = messages.first() {
            let datagram = synth::to_hep(first, 1_700_000_000_000, 2001);
            fs::write(hep_dir.join(format!("synth-{shape:?}")), datagram)?;
            written += 1;
        }
    }

    println!(
        "wrote {written} seed files under {}",
        crate_dir.join("corpus").display()
    );
    Ok(())
}

fn corpus_dir(crate_dir: &Path, target: &str) -> std::io::Result<PathBuf> {
    let dir = crate_dir.join("corpus").join(target);
    fs::create_dir_all(&dir)?;
    Ok(dir)
}
