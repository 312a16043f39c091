//! The message flows of [`super::call_messages`], one function per outcome.

use std::net::SocketAddr;

use super::{token, CallShape, ScriptedMessage, CALLER_ADDR, PHONE_ADDR, PROXY_ADDR};

const CALLER_SDP: &str = "v=0\r\no=caller 1 1 IN IP4 127.0.0.1\r\ns=-\r\n\
c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6004 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n";

const PHONE_SDP: &str = "v=0\r\no=agent 1 1 IN IP4 127.0.0.1\r\ns=-\r\n\
c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n";

const RECORD_ROUTE: &str = "Record-Route: <sip:127.0.0.1;lr>";
const ROUTE: &str = "Route: <sip:127.0.0.1;lr>";
const PHONE_CONTACT: &str = "Contact: <sip:agent@127.0.0.1:5070;transport=UDP>";
const PHONE_URI: &str = "sip:agent@127.0.0.1:5070;transport=UDP";

/// Which leg a message travels, which fixes its addresses and Via stack.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Leg {
    CallerToProxy,
    ProxyToCaller,
    ProxyToPhone,
    PhoneToProxy,
    /// A request the proxy makes itself towards the phone (the hop-by-hop ACK).
    ProxyOwnToPhone,
}

impl Leg {
    fn addresses(self) -> (SocketAddr, SocketAddr) {
        match self {
            Self::CallerToProxy => (CALLER_ADDR, PROXY_ADDR),
            Self::ProxyToCaller => (PROXY_ADDR, CALLER_ADDR),
            Self::ProxyToPhone | Self::ProxyOwnToPhone => (PROXY_ADDR, PHONE_ADDR),
            Self::PhoneToProxy => (PHONE_ADDR, PROXY_ADDR),
        }
    }
}

/// Which To-tag a message carries.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ToTag {
    /// None yet: an initial request, or the 100s.
    Absent,
    /// The phone's, once it has answered with a tag (RFC 3261 §8.2.6.2).
    Phone,
    /// The proxy's own, on the `200 canceling` it generates.
    Proxy,
}

/// What varies between the messages of one call.
#[derive(Clone)]
struct Spec<'x> {
    at: u64,
    leg: Leg,
    /// Request line or status line, without the trailing CRLF.
    start: String,
    /// Transaction number, from which both legs' Via branches are made.
    branch: u32,
    to_tag: ToTag,
    cseq: &'x str,
    extra: &'x [&'x str],
    body: Option<&'static str>,
}

/// One call's fixed header values.
pub(super) struct Script<'a> {
    call_id: &'a str,
    token: String,
    from: String,
    to: String,
    request_uri: String,
    invite_extra: Vec<String>,
}

impl<'a> Script<'a> {
    pub(super) fn new(
        call_id: &'a str,
        caller: &str,
        caller_name: Option<&str>,
        extension: &str,
        shape: CallShape,
    ) -> Self {
        let token = token(call_id);
        let display = caller_name
            .map(|name| format!("\"{}\" ", escape(name)))
            .unwrap_or_default();
        let caller_uri = format!("sip:{caller}@trunk.example;user=phone");

        let (from, invite_extra) = if shape == CallShape::Withheld {
            let from = "\"Anonymous\" <sip:anonymous@anonymous.invalid>".to_owned();
            let extra = vec![
                "Contact: <sip:anonymous@127.0.0.1:5080;transport=UDP>".to_owned(),
                format!("P-Asserted-Identity: {display}<{caller_uri}>"),
                "Privacy: id".to_owned(),
            ];
            (from, extra)
        } else {
            let contact = format!("Contact: <sip:{caller}@127.0.0.1:5080;transport=UDP>");
            (format!("{display}<{caller_uri}>"), vec![contact])
        };

        Self {
            call_id,
            from: format!("{from};tag={token}c"),
            to: format!("<sip:{extension}@127.0.0.1>"),
            request_uri: format!("sip:{extension}@127.0.0.1:5060"),
            invite_extra,
            token,
        }
    }

    pub(super) fn answered(&self, ring_ms: u64, talk_ms: u64) -> Vec<ScriptedMessage> {
        let mut out = self.setup(true);
        let answer = 2 + ring_ms;
        let hangup = answer + 1 + talk_ms;

        let ok = Spec {
            extra: &[RECORD_ROUTE, PHONE_CONTACT],
            body: Some(PHONE_SDP),
            ..self.reply_spec(answer, "200 OK", 1, "1 INVITE")
        };
        self.relay_reply(&mut out, ok);
        let ack = request_line(&format!("ACK {PHONE_URI}"));
        self.relay_request(&mut out, answer + 1, &ack, 2, "1 ACK");
        let bye = request_line(&format!("BYE {PHONE_URI}"));
        self.relay_request(&mut out, hangup, &bye, 3, "2 BYE");
        self.relay_reply(&mut out, self.reply_spec(hangup + 1, "200 OK", 3, "2 BYE"));
        out
    }

    pub(super) fn abandoned(&self, ring_ms: u64) -> Vec<ScriptedMessage> {
        let mut out = self.setup(true);
        let at = 2 + ring_ms;

        // A CANCEL reuses the branch and CSeq number of the INVITE (RFC 3261 §9.1).
        let cancel = request_line(&format!("CANCEL {}", self.request_uri));
        let ok = |leg, status: &str, to_tag| Spec {
            to_tag,
            ..self.spec(at, leg, status_line(status), 1, "1 CANCEL")
        };
        out.push(self.message(self.spec(at, Leg::CallerToProxy, cancel.clone(), 1, "1 CANCEL")));
        out.push(self.message(ok(Leg::ProxyToCaller, "200 canceling", ToTag::Proxy)));
        out.push(self.message(self.spec(at, Leg::ProxyToPhone, cancel, 1, "1 CANCEL")));
        out.push(self.message(ok(Leg::PhoneToProxy, "200 OK", ToTag::Phone)));

        self.failure(&mut out, at + 1, "487 Request Terminated");
        out
    }

    pub(super) fn failed(&self, ring_ms: u64, status: &str, rings: bool) -> Vec<ScriptedMessage> {
        let mut out = self.setup(rings);
        let at = if rings { 2 } else { 1 } + ring_ms;
        self.failure(&mut out, at, status);
        out
    }

    /// INVITE on both legs, the proxy's 100, the phone's 100, and optionally 180.
    fn setup(&self, rings: bool) -> Vec<ScriptedMessage> {
        let line = request_line(&format!("INVITE {}", self.request_uri));
        let caller_extra: Vec<&str> = self.invite_extra.iter().map(String::as_str).collect();
        let mut phone_extra = vec![RECORD_ROUTE];
        phone_extra.extend(caller_extra.iter().copied());

        let invite = |at, leg, extra| Spec {
            extra,
            body: Some(CALLER_SDP),
            ..self.spec(at, leg, line.clone(), 1, "1 INVITE")
        };
        let trying = |at, leg, status: &str| self.spec(at, leg, status_line(status), 1, "1 INVITE");

        let proxy_trying = "100 trying -- your call is important to us";
        let mut out = vec![
            self.message(invite(0, Leg::CallerToProxy, &caller_extra)),
            self.message(trying(0, Leg::ProxyToCaller, proxy_trying)),
            self.message(invite(1, Leg::ProxyToPhone, &phone_extra)),
            self.message(trying(1, Leg::PhoneToProxy, "100 Trying")),
        ];
        if rings {
            let ringing = Spec {
                extra: &[RECORD_ROUTE, PHONE_CONTACT],
                ..self.reply_spec(2, "180 Ringing", 1, "1 INVITE")
            };
            self.relay_reply(&mut out, ringing);
        }
        out
    }

    /// A failure final from the phone, the proxy's own ACK to it, the relayed final and the
    /// caller's ACK. An ACK for a non-2xx final reuses the INVITE's branch and CSeq number
    /// (RFC 3261 §17.1.1.3).
    fn failure(&self, out: &mut Vec<ScriptedMessage>, at: u64, status: &str) {
        let ack = request_line(&format!("ACK {}", self.request_uri));
        let reply = |leg| Spec {
            leg,
            ..self.reply_spec(at, status, 1, "1 INVITE")
        };
        let ack_spec = |at, leg| Spec {
            to_tag: ToTag::Phone,
            ..self.spec(at, leg, ack.clone(), 1, "1 ACK")
        };

        out.push(self.message(reply(Leg::PhoneToProxy)));
        out.push(self.message(ack_spec(at, Leg::ProxyOwnToPhone)));
        out.push(self.message(reply(Leg::ProxyToCaller)));
        out.push(self.message(ack_spec(at + 1, Leg::CallerToProxy)));
    }

    /// An in-dialog request of the caller, routed through the proxy to the phone.
    fn relay_request(
        &self,
        out: &mut Vec<ScriptedMessage>,
        at: u64,
        line: &str,
        branch: u32,
        cseq: &str,
    ) {
        let legs: [(Leg, &[&str]); 2] = [(Leg::CallerToProxy, &[ROUTE]), (Leg::ProxyToPhone, &[])];
        for (leg, extra) in legs {
            out.push(self.message(Spec {
                to_tag: ToTag::Phone,
                extra,
                ..self.spec(at, leg, line.to_owned(), branch, cseq)
            }));
        }
    }

    /// A response of the phone, then the proxy relaying it to the caller.
    fn relay_reply(&self, out: &mut Vec<ScriptedMessage>, reply: Spec<'_>) {
        for leg in [Leg::PhoneToProxy, Leg::ProxyToCaller] {
            out.push(self.message(Spec {
                leg,
                ..reply.clone()
            }));
        }
    }

    /// A response of the phone (To-tag set) to a transaction of the caller.
    fn reply_spec<'x>(&self, at: u64, status: &str, branch: u32, cseq: &'x str) -> Spec<'x> {
        Spec {
            to_tag: ToTag::Phone,
            ..self.spec(at, Leg::PhoneToProxy, status_line(status), branch, cseq)
        }
    }

    fn spec<'x>(&self, at: u64, leg: Leg, start: String, branch: u32, cseq: &'x str) -> Spec<'x> {
        Spec {
            at,
            leg,
            start,
            branch,
            to_tag: ToTag::Absent,
            cseq,
            extra: &[],
            body: None,
        }
    }

    fn message(&self, spec: Spec<'_>) -> ScriptedMessage {
        let token = &self.token;
        let proxy_via = format!(
            "Via: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK{token}.{}.0",
            spec.branch
        );
        let caller_via = format!(
            "Via: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK-{token}-{}",
            spec.branch
        );
        let vias = match spec.leg {
            Leg::CallerToProxy | Leg::ProxyToCaller => vec![caller_via],
            Leg::ProxyOwnToPhone => vec![proxy_via],
            Leg::ProxyToPhone | Leg::PhoneToProxy => vec![proxy_via, caller_via],
        };
        let to = match spec.to_tag {
            ToTag::Absent => format!("To: {}", self.to),
            ToTag::Phone => format!("To: {};tag={token}a", self.to),
            ToTag::Proxy => format!("To: {};tag={token}p", self.to),
        };

        let mut lines = vec![spec.start];
        lines.extend(vias);
        lines.push(format!("From: {}", self.from));
        lines.push(to);
        lines.push(format!("Call-ID: {}", self.call_id));
        lines.push(format!("CSeq: {}", spec.cseq));
        lines.extend(spec.extra.iter().map(|line| (*line).to_owned()));
        if !lines[0].starts_with("SIP/2.0 ") {
            let hops = if spec.leg == Leg::ProxyToPhone {
                69
            } else {
                70
            };
            lines.push(format!("Max-Forwards: {hops}"));
        }
        let body = spec.body.unwrap_or_default();
        if !body.is_empty() {
            lines.push("Content-Type: application/sdp".to_owned());
        }
        lines.push(format!("Content-Length: {}", body.len()));

        let mut text = lines.join("\r\n");
        text.push_str("\r\n\r\n");
        text.push_str(body);

        let (src, dst) = spec.leg.addresses();
        ScriptedMessage {
            offset_ms: spec.at,
            src,
            dst,
            text,
        }
    }
}

fn request_line(line: &str) -> String {
    format!("{line} SIP/2.0")
}

fn status_line(status: &str) -> String {
    format!("SIP/2.0 {status}")
}

/// Escapes a display name for a quoted-string (RFC 3261 §25.1).
fn escape(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_control())
        .flat_map(|c| match c {
            '"' | '\\' => vec!['\\', c],
            other => vec![other],
        })
        .collect()
}
