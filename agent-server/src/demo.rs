//! Demo mode: sample customers and agents, and sample calls played through the real
//! HEP ingest path.
//!
//! `serve --demo` seeds fifty customers and three agents (extensions 2001 to 2003) into an
//! empty database, gives the agents fresh passwords at every start, and then, for each
//! agent, places a call every few seconds: answered, abandoned, busy, from an unknown
//! number, or withheld. Each call is the SIP a proxy would mirror (both legs), sent as
//! HEPv3 datagrams to the server's own HEP socket, so the demo exercises exactly the code
//! that real traffic does.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use ringside_protocol::{PhoneKind, PhoneNumber};
use ringside_sip::synth::{self, CallShape};
use secrecy::SecretString;
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

use crate::ingest::now_ms;
use crate::phone;
use crate::store::{CustomerFields, Store};
use crate::users::{self, UserSpec};

/// Number of sample customers.
pub const CUSTOMERS: usize = 50;

/// The demo agents: login, display name, extension.
pub const AGENTS: [(&str, &str, &str); 3] = [
    ("agent1", "Sanne Visser", "2001"),
    ("agent2", "Daan Bakker", "2002"),
    ("agent3", "Lotte Smit", "2003"),
];

const FIRST: [&str; 10] = [
    "Jan", "Emma", "Pieter", "Sophie", "Mohammed", "Julia", "Thomas", "Fleur", "Lucas", "Noor",
];
const LAST: [&str; 10] = [
    "de Jong",
    "Jansen",
    "de Vries",
    "van den Berg",
    "van Dijk",
    "Bos",
    "Vos",
    "Peters",
    "Hendriks",
    "Mulder",
];
const ORGS: [&str; 6] = [
    "Jansen Installatietechniek BV",
    "Gemeente Amstelveen",
    "Bakkerij Het Volkoren",
    "Noordzee Logistics",
    "Tandartspraktijk Centrum",
    "Van Dijk Advocaten",
];

/// The number of sample customer `n`, as a trunk would present it (E.164).
pub fn customer_number(n: usize) -> String {
    // Amsterdam numbers 020 555 01xx: valid, and not assigned to anyone real.
    format!("+3120555{:04}", 100 + n)
}

/// The name of sample customer `n`.
pub fn customer_name(n: usize) -> String {
    format!(
        "{} {}",
        FIRST[n % FIRST.len()],
        LAST[(n / FIRST.len() + n * 3) % LAST.len()]
    )
}

/// Login names and passwords of the demo agents, to print.
pub struct Credentials(pub Vec<(String, String, SecretString)>);

/// Seeds customers (when there are none) and the demo agents; returns fresh agent passwords.
///
/// # Errors
/// When the database fails.
pub async fn seed(store: &Store, region: phonenumber::country::Id) -> anyhow::Result<Credentials> {
    if store.customer_count().await? == 0 {
        for n in 0..CUSTOMERS {
            let number = customer_number(n);
            let e164 = phone::normalise(&number, region)
                .with_context(|| format!("demo number {n} is not valid"))?;
            let organisation = match (n % 4 != 0).then(|| ORGS[n % ORGS.len()]) {
                Some(name) => Some(store.organisation_by_name_or_new(name, now_ms()).await?),
                None => None,
            };
            let fields = CustomerFields {
                name: customer_name(n),
                organisation,
                phones: vec![PhoneNumber {
                    kind: PhoneKind::Work,
                    e164: e164.into_string(),
                    original: number,
                    extension: None,
                }],
                ..CustomerFields::default()
            };
            store.create_customer(&fields, now_ms()).await?;
        }
        tracing::info!(count = CUSTOMERS, "demo customers seeded");
    }

    let mut credentials = Vec::new();
    for (username, display_name, extension) in AGENTS {
        let password = if store.user_by_username(username).await?.is_some() {
            users::reset_password(store, username, None).await?
        } else {
            let spec = UserSpec {
                username,
                display_name: Some(display_name),
                extension: Some(extension),
                role: "agent",
            };
            users::add_user(store, spec, None).await?.1
        };
        let password = password.context("a generated password is always returned")?;
        credentials.push((username.to_owned(), extension.to_owned(), password));
    }
    Ok(Credentials(credentials))
}

/// Plays sample calls to every demo agent until `shutdown`.
pub async fn run(hep_addr: SocketAddr, shutdown: CancellationToken) {
    let mut agents = tokio::task::JoinSet::new();
    for (index, (_, _, extension)) in AGENTS.into_iter().enumerate() {
        let shutdown = shutdown.clone();
        agents.spawn(async move {
            // Stagger the agents so their phones do not all ring at once.
            let start = Duration::from_millis(1500 + 2500 * index as u64);
            tokio::select! {
                () = tokio::time::sleep(start) => {}
                () = shutdown.cancelled() => return,
            }
            if let Err(err) = play_calls(hep_addr, extension, &shutdown).await {
                tracing::warn!(error = %err, "demo calls stopped");
            }
        });
    }
    while agents.join_next().await.is_some() {}
}

async fn play_calls(
    hep_addr: SocketAddr,
    extension: &str,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let bind: SocketAddr = if hep_addr.is_ipv4() {
        "127.0.0.1:0"
    } else {
        "[::1]:0"
    }
    .parse()?;
    let socket = UdpSocket::bind(bind)
        .await
        .context("binding the demo's UDP socket")?;
    let mut rng = StdRng::from_entropy();
    let mut serial = 0u64;
    while !shutdown.is_cancelled() {
        serial += 1;
        let (shape, caller) = match rng.gen_range(0..100) {
            0..=49 => (
                CallShape::Answered,
                customer_number(rng.gen_range(0..CUSTOMERS)),
            ),
            50..=69 => (
                CallShape::Abandoned,
                customer_number(rng.gen_range(0..CUSTOMERS)),
            ),
            70..=79 => (
                CallShape::Busy,
                customer_number(rng.gen_range(0..CUSTOMERS)),
            ),
            80..=94 => (
                CallShape::Answered,
                format!("+3161234{:04}", rng.gen_range(0..10_000)),
            ),
            // The network still knows a withheld caller's number; Privacy: id hides it.
            _ => (
                CallShape::Withheld,
                customer_number(rng.gen_range(0..CUSTOMERS)),
            ),
        };
        let call_id = format!(
            "demo-{extension}-{serial}-{}@ringside.demo",
            rng.gen::<u32>()
        );
        let ring_ms = rng.gen_range(3_000..7_000);
        let talk_ms = rng.gen_range(6_000..16_000);
        let script =
            synth::call_messages(shape, &call_id, &caller, None, extension, ring_ms, talk_ms);

        let started = tokio::time::Instant::now();
        for message in &script {
            let due = started + Duration::from_millis(message.offset_ms);
            tokio::select! {
                () = tokio::time::sleep_until(due) => {}
                () = shutdown.cancelled() => return Ok(()),
            }
            let datagram = synth::to_hep(message, now_ms(), 2001);
            socket
                .send_to(&datagram, hep_addr)
                .await
                .context("sending a demo datagram")?;
        }

        let pause = Duration::from_millis(rng.gen_range(4_000..9_000));
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = shutdown.cancelled() => return Ok(()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sample_number_is_valid_and_distinct() {
        let numbers: std::collections::HashSet<String> = (0..CUSTOMERS)
            .map(|n| phone::normalise(&customer_number(n), phonenumber::country::Id::NL).unwrap())
            .map(|e| e.into_string())
            .collect();

        assert_eq!(numbers.len(), CUSTOMERS);
    }

    #[test]
    fn sample_names_vary() {
        let names: std::collections::HashSet<String> = (0..CUSTOMERS).map(customer_name).collect();

        assert!(names.len() >= 40, "only {} distinct names", names.len());
    }
}
