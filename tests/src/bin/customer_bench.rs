//! Customer database benchmark: imports a generated CSV of customers (1,000,000 with
//! 1,500,000 numbers by default) into a fresh SQLite file and a fresh PostgreSQL database,
//! timing each import, then looks callers up by number and prints p50/p90/p99 latency of
//! each lookup rule, warm.
//!
//! ```sh
//! cargo run --release -p ringside-e2e --bin customer-bench
//! cargo run --release -p ringside-e2e --bin customer-bench -- --customers 100000 --no-postgres
//! ```
//!
//! PostgreSQL is reached at `--postgres URL` (default `postgres://postgres@127.0.0.1:5432/postgres`);
//! the benchmark creates and drops a database `ringside_bench` there.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use agent_server::customers::import::import_customers;
use agent_server::lookup::{self, Found, LookupRules};
use agent_server::store::Store;
use anyhow::Context;
use secrecy::SecretString;

struct Options {
    customers: u64,
    lookups: usize,
    sqlite: bool,
    postgres: Option<String>,
}

fn options() -> anyhow::Result<Options> {
    let mut options = Options {
        customers: 1_000_000,
        lookups: 20_000,
        sqlite: true,
        postgres: Some("postgres://postgres@127.0.0.1:5432/postgres".into()),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--customers" => options.customers = args.next().context("--customers N")?.parse()?,
            "--lookups" => options.lookups = args.next().context("--lookups N")?.parse()?,
            "--postgres" => options.postgres = Some(args.next().context("--postgres URL")?),
            "--no-postgres" => options.postgres = None,
            "--no-sqlite" => options.sqlite = false,
            other => anyhow::bail!(
                "unknown argument {other}; use --customers N, --lookups N, --postgres URL, --no-postgres, --no-sqlite"
            ),
        }
    }
    Ok(options)
}

/// The landline of customer `n`, E.164 (Amsterdam, 020 2xx xxxx and up).
fn landline(n: u64) -> String {
    format!("+3120{}", 2_000_000 + n)
}

/// The mobile of customer `n` (every other customer has one), E.164.
fn mobile(n: u64) -> String {
    format!("+316{}", 10_000_000 + n)
}

/// Writes the CSV: every customer a landline written in national form with spaces, every
/// other one a mobile too; one organisation per 20 customers. Returns the number count.
fn write_csv(path: &Path, customers: u64) -> anyhow::Result<u64> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "external_id,name,organisation,phones,emails,language")?;
    let mut numbers = 0;
    for n in 0..customers {
        let land = landline(n);
        let national = format!("020 {} {}", &land[5..8], &land[8..]);
        let phones = if n % 2 == 0 {
            numbers += 2;
            format!("work:{national}|mobile:{}", mobile(n))
        } else {
            numbers += 1;
            format!("work:{national}")
        };
        writeln!(
            out,
            "b-{n},Customer {n},Organisation {},{phones},c{n}@example.com,nl",
            n / 20
        )?;
    }
    out.flush()?;
    Ok(numbers)
}

/// Makes the number looked up for customer `n`.
type NumberOf = Box<dyn Fn(u64) -> String>;

/// A small deterministic generator, so every run looks up the same numbers.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(at).copied().unwrap_or_default()
}

/// Times `count` lookups of numbers made by `number`, after as many unmeasured ones.
async fn time_lookups(
    store: &Store,
    rules: &LookupRules,
    count: usize,
    customers: u64,
    number: impl Fn(u64) -> String,
) -> anyhow::Result<(Vec<Duration>, usize)> {
    let mut rng = Lcg(42);
    for _ in 0..count {
        lookup::find(store, rules, &number(rng.below(customers))).await?;
    }
    let mut rng = Lcg(7);
    let mut times = Vec::with_capacity(count);
    let mut found = 0;
    for _ in 0..count {
        let text = number(rng.below(customers));
        let started = Instant::now();
        let result = lookup::find(store, rules, &text).await?;
        times.push(started.elapsed());
        if matches!(result, Found::Customers { .. }) {
            found += 1;
        }
    }
    times.sort_unstable();
    Ok((times, found))
}

/// A line of figures on standard output.
fn say(line: String) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    Ok(())
}

fn micros(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

async fn run_one(name: &str, url: &str, csv: &Path, options: &Options) -> anyhow::Result<()> {
    let store = Store::connect(&SecretString::from(url))
        .await
        .with_context(|| format!("connecting to {name}"))?;
    store.migrate().await?;
    let rules = agent_server::config::Settings::for_tests(url).lookup_rules();

    let report = import_customers(&store, csv, rules.region, |_| {}).await?;
    let seconds = report.elapsed.as_secs_f64();
    say(format!(
        "{name}: import {} customers ({} rejected) in {seconds:.1} s, {:.0} rows/s",
        report.created,
        report.rejected.len(),
        report.created as f64 / seconds
    ))?;

    let customers = options.customers;
    let cases: [(&str, NumberOf); 4] = [
        ("exact (E.164)", Box::new(landline)),
        (
            "national form (0 20 ...)",
            Box::new(|n| format!("0{}", &landline(n)[3..])),
        ),
        (
            "trailing digits (last 7)",
            Box::new(|n| landline(n)[5..].to_owned()),
        ),
        (
            "unknown number",
            Box::new(|n| format!("+3130{}", 2_000_000 + n)),
        ),
    ];
    for (label, number) in cases {
        let (times, found) =
            time_lookups(&store, &rules, options.lookups, customers, number).await?;
        say(format!(
            "{name}: lookup {label}: p50 {}, p90 {}, p99 {}, max {} ({} lookups, {found} found)",
            micros(percentile(&times, 0.50)),
            micros(percentile(&times, 0.90)),
            micros(percentile(&times, 0.99)),
            micros(percentile(&times, 1.0)),
            times.len()
        ))?;
    }
    store.close().await;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = options()?;
    let dir = tempfile::tempdir()?;
    let csv = dir.path().join("customers.csv");

    let started = Instant::now();
    let numbers = write_csv(&csv, options.customers)?;
    let size = std::fs::metadata(&csv)?.len();
    say(format!(
        "generated {} customers with {numbers} numbers ({:.1} MB of CSV) in {:.1} s",
        options.customers,
        size as f64 / 1e6,
        started.elapsed().as_secs_f64()
    ))?;

    if options.sqlite {
        let sqlite = format!("sqlite://{}", dir.path().join("bench.db").display());
        run_one("SQLite", &sqlite, &csv, &options).await?;
    }

    if let Some(admin_url) = &options.postgres {
        let admin = Store::connect(&SecretString::from(admin_url.as_str()))
            .await
            .context("connecting to PostgreSQL (or pass --no-postgres)")?;
        admin.recreate_database("ringside_bench").await?;
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url.as_str(), |(b, _)| b);
        let url = format!("{base}/ringside_bench");
        let result = run_one("PostgreSQL", &url, &csv, &options).await;
        admin.drop_database("ringside_bench").await?;
        admin.close().await;
        result?;
    }
    Ok(())
}
