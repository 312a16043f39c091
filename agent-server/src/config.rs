//! Command line and configuration.
//!
//! Settings come from four places, the first that has a value wins: a command-line flag, a
//! `RINGSIDE_*` environment variable, the TOML file named by `--config` (or
//! `RINGSIDE_CONFIG`), and the built-in defaults. The defaults need nothing: an SQLite
//! file under `./data`, HTTP on 127.0.0.1:8080, and HEP over UDP and over TCP on
//! 127.0.0.1:9060. The result is validated once, in [`Settings::resolve`], and passed down
//! from there.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use ringside_protocol::Disposition;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// The `agent-server` command line.
#[derive(Debug, Parser)]
#[command(name = "agent-server", version, about = "Ringside CTI server")]
pub struct Cli {
    /// Options shared by every subcommand.
    #[command(flatten)]
    pub options: ConfigArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service: HEP ingest, HTTP API, agent console and websocket.
    Serve {
        /// Seed sample customers and agents and play sample calls every few seconds.
        #[arg(long)]
        demo: bool,
    },
    /// Create or upgrade the database schema, then exit.
    Migrate,
    /// Manage users.
    User {
        /// The user command.
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Read captures and print their call events as JSON lines, or play them to a server.
    Replay(ReplayArgs),
    /// Manage the tokens PBXs post webhooks with.
    Pbx {
        /// The token command.
        #[command(subcommand)]
        command: PbxCommand,
    },
    /// Manage the block list: numbers whose new calls a webhook PBX is told to refuse.
    Block {
        /// The block-list command.
        #[command(subcommand)]
        command: BlockCommand,
    },
    /// Import records from a file.
    Import {
        /// What to import.
        #[command(subcommand)]
        what: ImportCommand,
    },
    /// Export records to a file.
    Export {
        /// What to export.
        #[command(subcommand)]
        what: ExportCommand,
    },
}

/// `agent-server pbx ...`
#[derive(Debug, Subcommand)]
pub enum PbxCommand {
    /// Create a token for one PBX; prints it once.
    Add(PbxAddArgs),
    /// List the tokens (never the tokens themselves).
    List,
    /// Revoke a token by its id; the PBX's requests are refused from then on.
    Revoke {
        /// The id `pbx list` shows.
        id: i64,
    },
}

/// Arguments of `pbx add`.
#[derive(Debug, Args)]
pub struct PbxAddArgs {
    /// A name for the PBX, for the list.
    #[arg(long)]
    pub name: String,
    /// The body format the PBX posts: ringside, zammad or sipgate.
    #[arg(long)]
    pub format: String,
    /// File whose first line is the HMAC secret the PBX signs requests with (at least 16
    /// characters); without it requests are not signed.
    #[arg(long)]
    pub secret_file: Option<PathBuf>,
}

/// `agent-server block ...`
#[derive(Debug, Subcommand)]
pub enum BlockCommand {
    /// Put a number on the block list.
    Add {
        /// The number, E.164 or national (read with the default region).
        number: String,
    },
    /// Take a number off the block list.
    Remove {
        /// The number, as for `block add`.
        number: String,
    },
    /// Print the block list.
    List,
}

/// `agent-server import ...`
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Customers from a CSV file with a header row (see the README for the columns);
    /// prints every rejected row with its line number and the reason.
    Customers {
        /// The CSV file.
        file: PathBuf,
    },
}

/// `agent-server export ...`
#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Every customer, as CSV in the import's format.
    Customers {
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

/// Arguments of `replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Capture files: hepdump (`.hep`), pcap or pcapng; the format is read from the
    /// content. Replayed in the order given, through one tracker.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Instead of printing events, send every message as a HEPv3 datagram to this
    /// HOST:PORT, at the capture's pace.
    #[arg(long, value_name = "HOST:PORT")]
    pub send: Option<String>,
    /// With --send: play this many times faster than the capture (0 = as fast as possible).
    #[arg(long, default_value_t = 1.0, requires = "send")]
    pub speed: f64,
}

/// `agent-server user ...`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user; prints a generated password unless --password-file is given.
    Add(UserAddArgs),
}

/// Arguments of `user add`.
#[derive(Debug, Args)]
pub struct UserAddArgs {
    /// Login name.
    #[arg(long)]
    pub username: String,
    /// Name shown in the console (defaults to the login name).
    #[arg(long)]
    pub display_name: Option<String>,
    /// Phone extension whose calls pop at this user's console.
    #[arg(long)]
    pub extension: Option<String>,
    /// E-mail address, by which a PBX webhook may name the agent who answered.
    #[arg(long)]
    pub email: Option<String>,
    /// Role: agent, supervisor or admin.
    #[arg(long, default_value = "agent")]
    pub role: String,
    /// Read the password from this file (first line) instead of generating one.
    #[arg(long)]
    pub password_file: Option<PathBuf>,
}

/// Flags and environment variables that override the configuration file.
#[derive(Debug, Default, Args)]
pub struct ConfigArgs {
    /// TOML configuration file.
    #[arg(long, global = true, env = "RINGSIDE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address of the HTTP server (console, API, websocket).
    #[arg(long, global = true, env = "RINGSIDE_HTTP_ADDR")]
    pub http_addr: Option<SocketAddr>,
    /// UDP address where HEP datagrams are received.
    #[arg(long, global = true, env = "RINGSIDE_HEP_ADDR")]
    pub hep_addr: Option<SocketAddr>,
    /// TCP address where HEPv3 frames are received (default: the HEP UDP address; an
    /// empty value turns the TCP listener off).
    #[arg(long, global = true, env = "RINGSIDE_HEP_TCP_LISTEN")]
    pub hep_tcp_listen: Option<ListenAddr>,
    /// Database URL: `sqlite://PATH` or `postgres://...`.
    #[arg(
        long,
        global = true,
        env = "RINGSIDE_DATABASE_URL",
        hide_env_values = true,
        value_parser = parse_secret
    )]
    pub database_url: Option<SecretString>,
    /// File holding the database URL (for secrets kept out of the environment).
    #[arg(long, global = true, env = "RINGSIDE_DATABASE_URL_FILE")]
    pub database_url_file: Option<PathBuf>,
    /// ISO 3166 region used to read national numbers, e.g. NL, DE, GB.
    #[arg(long, global = true, env = "RINGSIDE_DEFAULT_REGION")]
    pub default_region: Option<String>,
    /// Directory holding the built agent console (index.html, app.js, app_bg.wasm).
    #[arg(long, global = true, env = "RINGSIDE_UI_DIR")]
    pub ui_dir: Option<PathBuf>,
}

/// The TOML file. Every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    http_addr: Option<SocketAddr>,
    hep_addr: Option<SocketAddr>,
    database_url: Option<SecretString>,
    default_region: Option<String>,
    ui_dir: Option<PathBuf>,
    session_hours: Option<u32>,
    wrapup_keep_secs: Option<u64>,
    ringing_timeout_secs: Option<u64>,
    max_call_hours: Option<u64>,
    tracker_max_calls: Option<usize>,
    hep_recv_buffer_bytes: Option<usize>,
    hep_tcp_listen: Option<ListenAddr>,
    hep_tcp_max_connections: Option<usize>,
    hep_tcp_max_frame_bytes: Option<usize>,
    hep_tcp_read_timeout_secs: Option<u64>,
    webhook_correlation_secs: Option<u64>,
    dispositions: Option<Vec<Disposition>>,
    trunk_prefix: Option<String>,
    trailing_match_min_digits: Option<usize>,
    trash_keep_days: Option<u32>,
}

/// Validated settings of one run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// HTTP listen address.
    pub http_addr: SocketAddr,
    /// HEP over UDP listen address.
    pub hep_addr: SocketAddr,
    /// Database URL; may hold a password.
    pub database_url: SecretString,
    /// Region for reading national numbers (upper-case ISO 3166 code).
    pub default_region: phonenumber::country::Id,
    /// Directory of the built console.
    pub ui_dir: PathBuf,
    /// Lifetime of a login session.
    pub session_hours: u32,
    /// How long an ended pop is re-sent to a reconnecting console (wrap-up time).
    pub wrapup_keep_secs: u64,
    /// A call that rings longer than this without any final answer is ended as failed.
    pub ringing_timeout_secs: u64,
    /// An answered call whose end was never seen is ended as failed after this.
    pub max_call_hours: u64,
    /// Most calls the tracker follows at once; past it the least recently active is
    /// evicted (and ended as failed).
    pub tracker_max_calls: usize,
    /// SO_RCVBUF asked for on the HEP socket; the kernel may grant less.
    pub hep_recv_buffer_bytes: usize,
    /// HEPv3-over-TCP listen address; `None` when the TCP listener is off.
    pub hep_tcp_addr: Option<SocketAddr>,
    /// Most HEP TCP connections open at once; further ones are closed at accept.
    pub hep_tcp_max_connections: usize,
    /// Largest HEPv3 frame accepted over TCP, in bytes (at most 65,535, the format's cap).
    pub hep_tcp_max_frame_bytes: usize,
    /// A HEP TCP connection that sends nothing for this long is closed.
    pub hep_tcp_read_timeout_secs: u64,
    /// A webhook-reported call and a SIP-mirrored call sharing a number, starting this
    /// close together, are one call.
    pub webhook_correlation_secs: u64,
    /// The disposition codes agents choose from.
    pub dispositions: Vec<Disposition>,
    /// Digits a PBX puts before the numbers it passes on (an outside-line prefix).
    pub trunk_prefix: Option<String>,
    /// Fewest digits for the trailing-digits match; `None` turns it off.
    pub trailing_match_min_digits: Option<usize>,
    /// How long deleted records stay restorable in the trash, in days.
    pub trash_keep_days: u32,
}

/// The database used when nothing is configured.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/ringside.db";
/// The database `serve --demo` uses when nothing is configured, so demo data never mixes
/// with real records.
pub const DEMO_DATABASE_URL: &str = "sqlite://data/demo.db";

fn default_dispositions() -> Vec<Disposition> {
    [
        ("resolved", "Resolved"),
        ("follow_up", "Follow-up needed"),
        ("callback", "Call back"),
        ("sale", "Sale"),
        ("complaint", "Complaint"),
        ("wrong_number", "Wrong number"),
    ]
    .into_iter()
    .map(|(code, label)| Disposition {
        code: code.into(),
        label: label.into(),
    })
    .collect()
}

impl Settings {
    /// Merges flags, environment, file and defaults, and checks the result.
    ///
    /// `demo` switches the default database to [`DEMO_DATABASE_URL`].
    ///
    /// # Errors
    /// When the configuration file cannot be read or parsed, or a value is invalid.
    pub fn resolve(args: &ConfigArgs, demo: bool) -> anyhow::Result<Settings> {
        let file = match &args.config {
            Some(path) => read_file_config(path)?,
            None => FileConfig::default(),
        };

        let database_url = match (&args.database_url, &args.database_url_file) {
            (Some(url), _) => url.clone(),
            (None, Some(path)) => read_secret_file(path)?,
            (None, None) => file.database_url.clone().unwrap_or_else(|| {
                SecretString::from(if demo {
                    DEMO_DATABASE_URL
                } else {
                    DEFAULT_DATABASE_URL
                })
            }),
        };
        check_database_url(database_url.expose_secret())?;

        let region_text = args
            .default_region
            .clone()
            .or(file.default_region.clone())
            .unwrap_or_else(|| "NL".into());
        let default_region = parse_region(&region_text)?;

        let dispositions = file
            .dispositions
            .clone()
            .unwrap_or_else(default_dispositions);
        if dispositions.is_empty() || dispositions.iter().any(|d| d.code.trim().is_empty()) {
            bail!("dispositions: the list must not be empty and every code needs a value");
        }

        let hep_addr = args
            .hep_addr
            .or(file.hep_addr)
            .unwrap_or(([127, 0, 0, 1], 9060).into());
        let hep_tcp_addr = match args.hep_tcp_listen.or(file.hep_tcp_listen) {
            Some(ListenAddr(addr)) => addr,
            None => Some(hep_addr),
        };

        let settings = Settings {
            http_addr: args
                .http_addr
                .or(file.http_addr)
                .unwrap_or(([127, 0, 0, 1], 8080).into()),
            hep_addr,
            database_url,
            default_region,
            ui_dir: args
                .ui_dir
                .clone()
                .or(file.ui_dir.clone())
                .unwrap_or_else(|| PathBuf::from("agent-ui/dist")),
            session_hours: file.session_hours.unwrap_or(12),
            wrapup_keep_secs: file.wrapup_keep_secs.unwrap_or(300),
            ringing_timeout_secs: file.ringing_timeout_secs.unwrap_or(300),
            max_call_hours: file.max_call_hours.unwrap_or(4),
            tracker_max_calls: file.tracker_max_calls.unwrap_or(100_000),
            hep_recv_buffer_bytes: file.hep_recv_buffer_bytes.unwrap_or(8 * 1024 * 1024),
            hep_tcp_addr,
            hep_tcp_max_connections: file.hep_tcp_max_connections.unwrap_or(64),
            hep_tcp_max_frame_bytes: file.hep_tcp_max_frame_bytes.unwrap_or(65_535),
            hep_tcp_read_timeout_secs: file.hep_tcp_read_timeout_secs.unwrap_or(300),
            webhook_correlation_secs: file.webhook_correlation_secs.unwrap_or(10),
            dispositions,
            trunk_prefix: file.trunk_prefix.clone().filter(|p| !p.is_empty()),
            trailing_match_min_digits: match file.trailing_match_min_digits {
                Some(0) => None,
                Some(n) => Some(n),
                None => Some(crate::lookup::DEFAULT_TRAILING_MIN_DIGITS),
            },
            trash_keep_days: file.trash_keep_days.unwrap_or(30),
        };
        if let Some(prefix) = &settings.trunk_prefix {
            if !prefix.chars().all(|c| c.is_ascii_digit()) || prefix.len() > 4 {
                bail!("trunk_prefix must be one to four digits");
            }
        }
        if let Some(min) = settings.trailing_match_min_digits {
            let least = crate::store::LAST_DIGITS;
            if !(least..=15).contains(&min) {
                bail!("trailing_match_min_digits must be 0 (off) or between {least} and 15");
            }
        }
        if settings.trash_keep_days == 0 {
            bail!("trash_keep_days must be at least 1");
        }
        if settings.session_hours == 0 || settings.ringing_timeout_secs == 0 {
            bail!("session_hours and ringing_timeout_secs must be at least 1");
        }
        if settings.tracker_max_calls == 0 {
            bail!("tracker_max_calls must be at least 1");
        }
        if settings.hep_tcp_max_connections == 0 || settings.hep_tcp_read_timeout_secs == 0 {
            bail!("hep_tcp_max_connections and hep_tcp_read_timeout_secs must be at least 1");
        }
        if !(HEP_MIN_FRAME..=HEP_MAX_FRAME).contains(&settings.hep_tcp_max_frame_bytes) {
            bail!("hep_tcp_max_frame_bytes must be between {HEP_MIN_FRAME} and {HEP_MAX_FRAME}");
        }
        Ok(settings)
    }

    /// The caller-lookup rules these settings describe.
    pub fn lookup_rules(&self) -> crate::lookup::LookupRules {
        crate::lookup::LookupRules {
            region: self.default_region,
            trunk_prefix: self.trunk_prefix.clone(),
            trailing_min_digits: self.trailing_match_min_digits,
        }
    }

    /// How long deleted records stay restorable, in milliseconds.
    pub fn trash_keep_ms(&self) -> i64 {
        i64::from(self.trash_keep_days) * 86_400_000
    }

    /// Settings for tests and tools: defaults, with the given database and ports 0.
    pub fn for_tests(database_url: &str) -> Settings {
        let args = ConfigArgs {
            database_url: Some(SecretString::from(database_url)),
            http_addr: Some(([127, 0, 0, 1], 0).into()),
            hep_addr: Some(([127, 0, 0, 1], 0).into()),
            ..ConfigArgs::default()
        };
        Settings::resolve(&args, false).expect("the built-in defaults are valid")
    }
}

/// Smallest HEPv3 frame: the 6-byte header alone.
const HEP_MIN_FRAME: usize = 6;
/// Largest HEPv3 frame: its total length is a 16-bit field.
const HEP_MAX_FRAME: usize = 65_535;

/// A listen address that may be switched off: an empty value means "do not listen".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct ListenAddr(pub Option<SocketAddr>);

impl std::str::FromStr for ListenAddr {
    type Err = std::net::AddrParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(ListenAddr(None));
        }
        text.parse().map(|addr| ListenAddr(Some(addr)))
    }
}

impl TryFrom<String> for ListenAddr {
    type Error = std::net::AddrParseError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

fn parse_secret(text: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(text))
}

fn read_file_config(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading configuration file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("parsing configuration file {}", path.display()))
}

fn read_secret_file(path: &Path) -> anyhow::Result<SecretString> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading RINGSIDE_DATABASE_URL_FILE {}", path.display()))?;
    let first = text.lines().next().unwrap_or_default().trim().to_owned();
    if first.is_empty() {
        bail!("RINGSIDE_DATABASE_URL_FILE {} is empty", path.display());
    }
    Ok(SecretString::from(first))
}

fn check_database_url(url: &str) -> anyhow::Result<()> {
    if url.starts_with("sqlite:")
        || url.starts_with("postgres://")
        || url.starts_with("postgresql://")
    {
        return Ok(());
    }
    // The URL may hold a password: name only its scheme.
    let scheme = url.split(':').next().unwrap_or_default();
    bail!("database_url: unsupported scheme {scheme:?}; use sqlite:// or postgres://")
}

fn parse_region(text: &str) -> anyhow::Result<phonenumber::country::Id> {
    text.trim()
        .to_ascii_uppercase()
        .parse()
        .map_err(|_| anyhow::anyhow!("default_region: {text:?} is not an ISO 3166 region code"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults_need_nothing() {
        let settings = Settings::resolve(&ConfigArgs::default(), false).unwrap();

        assert_eq!(settings.http_addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(settings.hep_addr, "127.0.0.1:9060".parse().unwrap());
        assert_eq!(settings.database_url.expose_secret(), DEFAULT_DATABASE_URL);
        assert_eq!(settings.default_region, phonenumber::country::Id::NL);
    }

    #[test]
    fn demo_uses_its_own_database() {
        let settings = Settings::resolve(&ConfigArgs::default(), true).unwrap();

        assert_eq!(settings.database_url.expose_secret(), DEMO_DATABASE_URL);
    }

    #[test]
    fn flags_override_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ringside.toml");
        std::fs::write(
            &path,
            "http_addr = \"127.0.0.1:9999\"\nhep_addr = \"127.0.0.1:9998\"\ndefault_region = \"de\"\n",
        )
        .unwrap();
        let args = ConfigArgs {
            config: Some(path),
            http_addr: Some("127.0.0.1:7000".parse().unwrap()),
            ..ConfigArgs::default()
        };

        let settings = Settings::resolve(&args, false).unwrap();

        assert_eq!(settings.http_addr.port(), 7000);
        assert_eq!(settings.hep_addr.port(), 9998);
        assert_eq!(settings.default_region, phonenumber::country::Id::DE);
    }

    #[test]
    fn region_flag_is_parsed() {
        let cli =
            Cli::try_parse_from(["agent-server", "--default-region", "GB", "migrate"]).unwrap();

        let settings = Settings::resolve(&cli.options, false).unwrap();

        assert_eq!(settings.default_region, phonenumber::country::Id::GB);
    }

    #[test]
    fn bad_values_are_refused_with_a_reason() {
        let bad_region = ConfigArgs {
            default_region: Some("XX1".into()),
            ..Default::default()
        };
        let bad_db = ConfigArgs {
            database_url: Some(SecretString::from("mysql://user:secret@host/db")),
            ..Default::default()
        };

        let region_err = Settings::resolve(&bad_region, false)
            .unwrap_err()
            .to_string();
        let db_err = Settings::resolve(&bad_db, false).unwrap_err().to_string();

        assert!(
            region_err.contains("not an ISO 3166 region"),
            "{region_err}"
        );
        assert!(db_err.contains("unsupported scheme \"mysql\""), "{db_err}");
        assert!(!db_err.contains("secret"), "{db_err}");
    }

    #[test]
    fn hep_tcp_follows_the_udp_address_and_can_be_turned_off() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ringside.toml");
        std::fs::write(
            &path,
            "hep_addr = \"127.0.0.1:9998\"\nhep_tcp_listen = \"\"\nhep_tcp_max_connections = 3\n",
        )
        .unwrap();
        let from_file = ConfigArgs {
            config: Some(path),
            ..ConfigArgs::default()
        };
        let followed =
            Cli::try_parse_from(["agent-server", "--hep-addr", "0.0.0.0:5000", "migrate"]).unwrap();
        let moved = Cli::try_parse_from([
            "agent-server",
            "--hep-tcp-listen",
            "127.0.0.1:6000",
            "migrate",
        ])
        .unwrap();
        let bad_frame = ConfigArgs {
            config: Some(dir.path().join("frame.toml")),
            ..ConfigArgs::default()
        };
        std::fs::write(
            dir.path().join("frame.toml"),
            "hep_tcp_max_frame_bytes = 70000\n",
        )
        .unwrap();

        let off = Settings::resolve(&from_file, false).unwrap();
        let followed = Settings::resolve(&followed.options, false).unwrap();
        let moved = Settings::resolve(&moved.options, false).unwrap();
        let defaults = Settings::resolve(&ConfigArgs::default(), false).unwrap();
        let err = Settings::resolve(&bad_frame, false)
            .unwrap_err()
            .to_string();

        assert_eq!(off.hep_tcp_addr, None);
        assert_eq!(off.hep_tcp_max_connections, 3);
        assert_eq!(followed.hep_tcp_addr, Some("0.0.0.0:5000".parse().unwrap()));
        assert_eq!(moved.hep_tcp_addr, Some("127.0.0.1:6000".parse().unwrap()));
        assert_eq!(
            defaults.hep_tcp_addr,
            Some("127.0.0.1:9060".parse().unwrap())
        );
        assert_eq!(defaults.hep_tcp_max_frame_bytes, 65_535);
        assert!(err.contains("hep_tcp_max_frame_bytes"), "{err}");
    }

    #[test]
    fn replay_takes_files_and_a_speed_only_with_send() {
        let plain = Cli::try_parse_from(["agent-server", "replay", "a.hep", "b.pcap"]).unwrap();
        let speed_alone = Cli::try_parse_from(["agent-server", "replay", "--speed", "2", "a.hep"]);
        let none = Cli::try_parse_from(["agent-server", "replay"]);

        let Command::Replay(args) = plain.command else {
            panic!("expected replay");
        };
        assert_eq!(args.files.len(), 2);
        assert!(args.send.is_none());
        assert!(speed_alone.is_err());
        assert!(none.is_err());
    }

    #[test]
    fn pbx_and_block_commands_parse() {
        let add = Cli::try_parse_from([
            "agent-server",
            "pbx",
            "add",
            "--name",
            "office",
            "--format",
            "zammad",
        ])
        .unwrap();
        let revoke = Cli::try_parse_from(["agent-server", "pbx", "revoke", "3"]).unwrap();
        let block = Cli::try_parse_from(["agent-server", "block", "add", "+31201234567"]).unwrap();
        let nameless = Cli::try_parse_from(["agent-server", "pbx", "add", "--format", "zammad"]);

        let Command::Pbx {
            command: PbxCommand::Add(args),
        } = add.command
        else {
            panic!("expected pbx add");
        };
        assert_eq!(
            (args.name.as_str(), args.format.as_str()),
            ("office", "zammad")
        );
        assert!(matches!(
            revoke.command,
            Command::Pbx {
                command: PbxCommand::Revoke { id: 3 }
            }
        ));
        assert!(matches!(
            block.command,
            Command::Block {
                command: BlockCommand::Add { .. }
            }
        ));
        assert!(nameless.is_err());
    }

    #[test]
    fn lookup_and_trash_keys_are_read_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.toml");
        let bad = dir.path().join("bad.toml");
        std::fs::write(
            &good,
            "trunk_prefix = \"0\"\ntrailing_match_min_digits = 0\ntrash_keep_days = 7\n",
        )
        .unwrap();
        std::fs::write(&bad, "trailing_match_min_digits = 3\n").unwrap();
        let args = |path: &Path| ConfigArgs {
            config: Some(path.to_owned()),
            ..ConfigArgs::default()
        };

        let settings = Settings::resolve(&args(&good), false).unwrap();
        let defaults = Settings::resolve(&ConfigArgs::default(), false).unwrap();
        let err = Settings::resolve(&args(&bad), false)
            .unwrap_err()
            .to_string();

        assert_eq!(settings.lookup_rules().trunk_prefix.as_deref(), Some("0"));
        assert_eq!(settings.lookup_rules().trailing_min_digits, None);
        assert_eq!(settings.trash_keep_ms(), 7 * 86_400_000);
        assert_eq!(defaults.trailing_match_min_digits, Some(7));
        assert_eq!(defaults.trash_keep_days, 30);
        assert!(err.contains("trailing_match_min_digits"), "{err}");
    }

    #[test]
    fn import_and_export_take_their_file() {
        let import =
            Cli::try_parse_from(["agent-server", "import", "customers", "in.csv"]).unwrap();
        let export =
            Cli::try_parse_from(["agent-server", "export", "customers", "-o", "out.csv"]).unwrap();

        assert!(matches!(
            import.command,
            Command::Import { what: ImportCommand::Customers { file } } if file == Path::new("in.csv")
        ));
        assert!(matches!(
            export.command,
            Command::Export {
                what: ExportCommand::Customers { output: Some(_) }
            }
        ));
        assert!(Cli::try_parse_from(["agent-server", "import", "customers"]).is_err());
    }

    #[test]
    fn unknown_file_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ringside.toml");
        std::fs::write(&path, "htp_addr = \"127.0.0.1:1\"\n").unwrap();
        let args = ConfigArgs {
            config: Some(path),
            ..ConfigArgs::default()
        };

        let err = format!("{:#}", Settings::resolve(&args, false).unwrap_err());

        assert!(err.contains("htp_addr"), "{err}");
    }
}
