//! `agent-server`: parses the command line and runs one subcommand.

use std::io::{IsTerminal, Write};

use agent_server::config::{
    BlockCommand, Cli, Command, ConfigArgs, ExportCommand, ImportCommand, PbxCommand, Settings,
    UserCommand,
};
use agent_server::store::Store;
use agent_server::users::{self, UserSpec};
use agent_server::webhook;
use anyhow::Context;
use clap::Parser;
use secrecy::{ExposeSecret, SecretString};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(log_filter())
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    match &cli.command {
        Command::Serve { demo } => serve(Settings::resolve(&cli.options, *demo)?, *demo).await,
        Command::Replay(args) => {
            let region = Settings::resolve(&cli.options, false)?.default_region;
            agent_server::replay::run(args, region).await
        }
        Command::Migrate => {
            let store = open_store(&cli.options).await?;
            store.close().await;
            say("database schema is up to date")
        }
        Command::Pbx { command } => pbx(&cli.options, command).await,
        Command::Block { command } => block(&cli.options, command).await,
        Command::Import {
            what: ImportCommand::Customers { file },
        } => import_customers(&cli.options, file).await,
        Command::Export {
            what: ExportCommand::Customers { output },
        } => {
            let store = open_store(&cli.options).await?;
            let out: Box<dyn Write + Send> = match output {
                Some(path) => Box::new(std::io::BufWriter::new(
                    std::fs::File::create(path)
                        .with_context(|| format!("creating {}", path.display()))?,
                )),
                None => Box::new(std::io::BufWriter::new(std::io::stdout())),
            };
            let written = agent_server::customers::export::export_customers(&store, out).await?;
            store.close().await;
            eprintln!("exported {written} customers");
            Ok(())
        }
        Command::User {
            command: UserCommand::Add(args),
        } => {
            let store = open_store(&cli.options).await?;
            let password = match &args.password_file {
                Some(path) => Some(read_password_file(path)?),
                None => None,
            };
            let spec = UserSpec {
                username: &args.username,
                display_name: args.display_name.as_deref(),
                extension: args.extension.as_deref(),
                role: &args.role,
            };
            let (id, generated) = users::add_user(&store, spec, password).await?;
            if let Some(email) = args.email.as_deref().map(str::trim) {
                if !email.contains('@') || email.chars().count() > 254 {
                    anyhow::bail!("--email: not an e-mail address");
                }
                store.set_user_email(id, Some(email)).await?;
            }
            store.close().await;
            say(&format!("user {} added with id {}", args.username, id.0))?;
            if let Some(password) = generated {
                say(&format!(
                    "password (shown once): {}",
                    password.expose_secret()
                ))?;
            }
            Ok(())
        }
    }
}

/// `agent-server pbx ...`: webhook tokens.
async fn pbx(options: &ConfigArgs, command: &PbxCommand) -> anyhow::Result<()> {
    let store = open_store(options).await?;
    match command {
        PbxCommand::Add(args) => {
            let secret = match &args.secret_file {
                Some(path) => Some(read_password_file(path)?),
                None => None,
            };
            let created =
                webhook::admin::create_token(&store, &args.name, &args.format, secret).await?;
            say(&format!(
                "token {} created for {}; the PBX posts to \
                 /api/v1/pbx/{}/{} (token shown once)",
                created.id,
                args.name.trim(),
                args.format.trim(),
                created.token.expose_secret()
            ))?;
        }
        PbxCommand::List => {
            for token in store.pbx_tokens().await? {
                let state = if token.revoked_at_ms.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                let signed = if token.secret.is_some() {
                    "signed"
                } else {
                    "unsigned"
                };
                say(&format!(
                    "{}\t{}\t{}\t{signed}\t{state}",
                    token.id, token.format, token.name
                ))?;
            }
        }
        PbxCommand::Revoke { id } => {
            store
                .revoke_pbx_token(*id, agent_server::ingest::now_ms())
                .await?;
            say(&format!("token {id} revoked"))?;
        }
    }
    store.close().await;
    Ok(())
}

/// `agent-server block ...`: the block list.
async fn block(options: &ConfigArgs, command: &BlockCommand) -> anyhow::Result<()> {
    let region = Settings::resolve(options, false)?.default_region;
    let store = open_store(options).await?;
    match command {
        BlockCommand::Add { number } => {
            let e164 = webhook::admin::block(&store, number, region).await?;
            say(&format!("{e164} blocked"))?;
        }
        BlockCommand::Remove { number } => {
            let e164 = webhook::admin::unblock(&store, number, region).await?;
            say(&format!("{e164} unblocked"))?;
        }
        BlockCommand::List => {
            for number in store.blocked_numbers().await? {
                say(&number)?;
            }
        }
    }
    store.close().await;
    Ok(())
}

/// `import customers FILE`: imports with a progress bar on the terminal, then prints every
/// rejected row and a summary on standard output.
async fn import_customers(options: &ConfigArgs, file: &std::path::Path) -> anyhow::Result<()> {
    let settings = Settings::resolve(options, false)?;
    let store = open_store(options).await?;
    let size = std::fs::metadata(file)
        .with_context(|| format!("reading the size of {}", file.display()))?
        .len();
    // Drawn on standard error, and only when it is a terminal.
    let bar = indicatif::ProgressBar::new(size);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    ) {
        bar.set_style(style);
    }
    let region = settings.default_region;
    let report = agent_server::customers::import::import_customers(&store, file, region, |done| {
        bar.set_position(done);
    })
    .await;
    bar.finish_and_clear();
    store.close().await;
    let report = report?;
    for rejected in &report.rejected {
        say(&format!("line {}: {}", rejected.line, rejected.reason))?;
    }
    say(&format!(
        "{} new, {} updated, {} rejected in {:.1} s",
        report.created,
        report.updated,
        report.rejected.len(),
        report.elapsed.as_secs_f64()
    ))
}

/// Opens the configured database and brings its schema up to date.
async fn open_store(options: &ConfigArgs) -> anyhow::Result<Store> {
    let settings = Settings::resolve(options, false)?;
    let store = Store::connect(&settings.database_url)
        .await
        .context("opening the database")?;
    store.migrate().await.context("migrating the database")?;
    Ok(store)
}

/// The log filter from `RINGSIDE_LOG` (default `info`). The raw SIP dump target
/// `ringside::raw` holds personal data, so it stays off unless the filter names it, even
/// at `trace`.
fn log_filter() -> tracing_subscriber::EnvFilter {
    let wanted = std::env::var("RINGSIDE_LOG").unwrap_or_else(|_| "info".into());
    let directives = if wanted.contains("ringside::raw") {
        wanted
    } else {
        format!("{wanted},ringside::raw=off")
    };
    tracing_subscriber::EnvFilter::try_new(&directives)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,ringside::raw=off"))
}

async fn serve(settings: Settings, demo: bool) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    let region = settings.default_region;
    let running = agent_server::start(settings, shutdown.clone()).await?;
    let url = format!("http://{}/", running.http_addr);

    if let Some(password) = &running.first_admin_password {
        say(&format!(
            "first start: created user admin with password {} (shown once; keep it safe)",
            password.expose_secret()
        ))?;
    }
    if demo {
        let credentials = agent_server::demo::seed(&running.store, region).await?;
        say(&format!(
            "demo mode: open {url} and log in as one of these agents:"
        ))?;
        for (username, extension, password) in &credentials.0 {
            say(&format!(
                "  {username} / {}   (extension {extension})",
                password.expose_secret()
            ))?;
        }
        say("sample calls start ringing in a few seconds")?;
        running.spawn(agent_server::demo::run(running.hep_addr, shutdown.clone()));
    } else {
        say(&format!("agent console at {url}"))?;
    }

    wait_for_signal().await;
    tracing::info!("shutting down");
    shutdown.cancel();
    running.wait().await;
    Ok(())
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

fn read_password_file(path: &std::path::Path) -> anyhow::Result<SecretString> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading password file {}", path.display()))?;
    Ok(SecretString::from(
        text.lines().next().unwrap_or_default().to_owned(),
    ))
}

/// Writes a line for the operator on standard output (credentials and URLs are meant for
/// the person at the terminal, never for the log).
fn say(line: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").context("writing to standard output")?;
    out.flush().context("writing to standard output")
}
