//! Shared helpers of the server's integration tests: a server on real sockets with a fresh
//! SQLite database, a logged-in HTTP client, a console websocket, and synthetic calls sent
//! as HEP datagrams to the server's UDP port.

#![allow(dead_code, missing_docs, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use agent_server::config::Settings;
use agent_server::store::CustomerFields;
use agent_server::users::{add_user, UserSpec};
use agent_server::Running;
use futures_util::StreamExt;
use ringside_protocol::{CustomerId, PhoneKind, PhoneNumber, ServerMessage, UserId};
use ringside_sip::synth::{self, CallShape};
use secrecy::SecretString;
use tokio::net::UdpSocket;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

pub const PASSWORD: &str = "correct-horse-battery";

/// [`t0`] taken once per test binary, so one test's times line up with each other.
pub fn t0_fixed() -> i64 {
    static T0: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *T0.get_or_init(t0)
}

/// A capture time a minute ago: the server takes capture times within a few minutes of
/// its own clock as they are (further off, it uses the receive time).
pub fn t0() -> i64 {
    agent_server::ingest::now_ms() - 60_000
}

pub struct TestServer {
    pub running: Running,
    pub base: String,
    pub ann: UserId,
    pub bob: UserId,
    pub jan: CustomerId,
    _dir: tempfile::TempDir,
}

pub async fn start() -> TestServer {
    start_with(|_| {}).await
}

/// [`start`], with `adjust` applied to the test settings first.
pub async fn start_with(adjust: impl FnOnce(&mut Settings)) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ringside.db").display());
    let mut settings = Settings::for_tests(&url);
    settings.ui_dir = dir.path().join("no-ui");
    adjust(&mut settings);
    let running = agent_server::start(settings, CancellationToken::new())
        .await
        .unwrap();
    let store = &running.store;

    let jansen_bv = store
        .organisation_by_name_or_new("Jansen BV", 1)
        .await
        .unwrap();
    let jan = store
        .create_customer(
            &CustomerFields {
                name: "Jan Jansen".into(),
                organisation: Some(jansen_bv),
                phones: vec![PhoneNumber {
                    kind: PhoneKind::Work,
                    e164: "+31201234567".into(),
                    original: "020 123 4567".into(),
                    extension: None,
                }],
                ..CustomerFields::default()
            },
            1,
        )
        .await
        .unwrap();
    let spec = |username, extension| UserSpec {
        username,
        display_name: Some("Test Agent"),
        extension: Some(extension),
        role: "agent",
    };
    let (ann, _) = add_user(
        store,
        spec("ann", "2001"),
        Some(SecretString::from(PASSWORD)),
    )
    .await
    .unwrap();
    let (bob, _) = add_user(
        store,
        spec("bob", "2002"),
        Some(SecretString::from(PASSWORD)),
    )
    .await
    .unwrap();

    let base = format!("http://{}", running.http_addr);
    TestServer {
        running,
        base,
        ann,
        bob,
        jan,
        _dir: dir,
    }
}

impl TestServer {
    pub async fn stop(self) {
        self.running.shutdown.cancel();
        self.running.wait().await;
    }

    /// A reqwest client holding `username`'s session cookie.
    pub async fn login(&self, username: &str) -> (reqwest::Client, String) {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap();
        let response = client
            .post(format!("{}/api/v1/login", self.base))
            .json(&serde_json::json!({"username": username, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let cookie = response
            .headers()
            .get("set-cookie")
            .unwrap()
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        (client, cookie)
    }

    /// Opens the console websocket with `cookie` and reads its Hello.
    pub async fn console(&self, cookie: &str) -> Console {
        let mut request = format!(
            "ws://{}{}",
            self.running.http_addr,
            ringside_protocol::WS_PATH
        )
        .into_client_request()
        .unwrap();
        request
            .headers_mut()
            .insert("cookie", cookie.parse().unwrap());
        let (socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        let mut console = Console {
            socket,
            greeted_with: Vec::new(),
        };
        match console.next().await {
            ServerMessage::Hello { pops, .. } => console.greeted_with = pops,
            other => panic!("expected the greeting, got {other:?}"),
        }
        console
    }

    /// Sends a whole synthetic call as HEP datagrams, capture times from `start_ms`.
    pub async fn play(
        &self,
        shape: CallShape,
        call_id: &str,
        caller: &str,
        extension: &str,
        start_ms: i64,
    ) {
        let script = synth::call_messages(
            shape,
            call_id,
            caller,
            Some("Jan Jansen"),
            extension,
            4_000,
            30_000,
        );
        send_script(self.running.hep_addr, &script, start_ms).await;
    }
}

pub async fn send_script(hep: SocketAddr, script: &[synth::ScriptedMessage], start_ms: i64) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for message in script {
        let at = start_ms + i64::try_from(message.offset_ms).unwrap();
        socket
            .send_to(&synth::to_hep(message, at, 2001), hep)
            .await
            .unwrap();
    }
}

pub struct Console {
    /// The pops the greeting listed.
    pub greeted_with: Vec<ringside_protocol::Pop>,
    pub socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

impl Console {
    /// The next server message; fails the test after 5 s.
    pub async fn next(&mut self) -> ServerMessage {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(5), self.socket.next())
                .await
                .expect("a message within 5 s")
                .expect("socket open")
                .expect("valid frame");
            if let Message::Text(text) = frame {
                return serde_json::from_str(text.as_str()).unwrap();
            }
        }
    }

    /// The next pop; fails the test on anything else.
    pub async fn next_pop(&mut self) -> ringside_protocol::Pop {
        match self.next().await {
            ServerMessage::Pop { pop } => pop,
            other => panic!("expected a pop, got {other:?}"),
        }
    }
}

/// Status and `error` text of an API error answer; fails the test if the body is not the
/// JSON error every 4xx and 5xx must carry.
pub async fn error_of(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("a JSON error body, got {status} {text:?}"));
    (status, body["error"].as_str().unwrap().to_owned())
}

/// The counters of `/metrics`, by name (labels included in the name).
pub async fn metrics_of(server: &TestServer) -> std::collections::BTreeMap<String, u64> {
    let text = reqwest::get(format!("{}/metrics", server.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.rsplit_once(' '))
        .map(|(name, value)| (name.to_owned(), value.parse().unwrap()))
        .collect()
}

/// Polls `check` every 10 ms for up to 5 s.
pub async fn eventually<F, Fut>(mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..500 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not met within 5 s");
}

/// Log output captured by [`capture_logs`].
#[derive(Clone, Default)]
pub struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Captured {
    /// Everything logged so far.
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Sends every log line of this test binary, at every level but the raw SIP dump, to
/// the returned buffer. Call it once per binary: the subscriber is global.
pub fn capture_logs() -> Captured {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_env_filter("trace,ringside::raw=off,sqlx=info,hyper=info,tungstenite=info")
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();
    captured
}
