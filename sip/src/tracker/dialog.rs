//! Hand-made messages of one dialog, for tracker tests: caller `+31201234567` with tag
//! `ct`, agent extension `2001` with tag `pt`.

use crate::message::{Method, Party, SipMessage, StartLine};
use crate::tracker::Side;

pub(crate) const CALLER_NUMBER: &str = "+31201234567";
pub(crate) const EXTENSION: &str = "2001";

/// Builds the messages of one call.
pub(crate) struct Dialog {
    call_id: String,
}

impl Dialog {
    pub(crate) fn new(call_id: &str) -> Self {
        Self {
            call_id: call_id.to_owned(),
        }
    }

    fn caller(tag: Option<&str>) -> Party {
        Party {
            display_name: Some("Jan Jansen".to_owned()),
            uri: format!("sip:{CALLER_NUMBER}@trunk.example;user=phone"),
            user: Some(CALLER_NUMBER.to_owned()),
            host: "trunk.example".to_owned(),
            tag: tag.map(str::to_owned),
        }
    }

    fn callee(tag: Option<&str>) -> Party {
        Party {
            display_name: None,
            uri: format!("sip:{EXTENSION}@127.0.0.1"),
            user: Some(EXTENSION.to_owned()),
            host: "127.0.0.1".to_owned(),
            tag: tag.map(str::to_owned),
        }
    }

    /// From and To of a request sent by `by`, inside the dialog when `in_dialog`.
    fn ends(by: Side, in_dialog: bool) -> (Party, Party) {
        let callee_tag = in_dialog.then_some("pt");
        match by {
            Side::Caller => (Self::caller(Some("ct")), Self::callee(callee_tag)),
            Side::Callee => (Self::callee(Some("pt")), Self::caller(Some("ct"))),
        }
    }

    fn message(
        &self,
        start: StartLine,
        cseq: u32,
        method: Method,
        ends: (Party, Party),
    ) -> SipMessage {
        SipMessage {
            start,
            call_id: self.call_id.clone(),
            cseq,
            cseq_method: method,
            from: ends.0,
            to: ends.1,
            asserted: Vec::new(),
            privacy: Vec::new(),
            reason: None,
        }
    }

    fn request(&self, method: Method, cseq: u32, by: Side, in_dialog: bool) -> SipMessage {
        let uri_user = if in_dialog { "agent" } else { EXTENSION };
        let start = StartLine::Request {
            method: method.clone(),
            uri_user: Some(uri_user.to_owned()),
        };
        self.message(start, cseq, method, Self::ends(by, in_dialog))
    }

    /// Initial INVITE (no To-tag).
    pub(crate) fn invite(&self, cseq: u32) -> SipMessage {
        self.request(Method::Invite, cseq, Side::Caller, false)
    }

    /// re-INVITE from `by`, inside the dialog.
    pub(crate) fn reinvite(&self, cseq: u32, by: Side) -> SipMessage {
        self.request(Method::Invite, cseq, by, true)
    }

    /// CANCEL of the INVITE with this CSeq.
    pub(crate) fn cancel(&self, cseq: u32) -> SipMessage {
        self.request(Method::Cancel, cseq, Side::Caller, false)
    }

    /// ACK from the caller.
    pub(crate) fn ack(&self, cseq: u32) -> SipMessage {
        self.request(Method::Ack, cseq, Side::Caller, true)
    }

    /// BYE from `by`.
    pub(crate) fn bye(&self, cseq: u32, by: Side) -> SipMessage {
        self.request(Method::Bye, cseq, by, true)
    }

    /// Response to a caller's request; the 100 carries no To-tag.
    pub(crate) fn response(&self, status: u16, cseq: u32, method: Method) -> SipMessage {
        self.response_to(status, cseq, method, Side::Caller)
    }

    /// Response to a request sent by `by` (it keeps that request's From and To).
    pub(crate) fn response_to(
        &self,
        status: u16,
        cseq: u32,
        method: Method,
        by: Side,
    ) -> SipMessage {
        let in_dialog = status > 100 || method != Method::Invite;
        let start = StartLine::Response { status };
        self.message(start, cseq, method, Self::ends(by, in_dialog))
    }

    /// 200 OK to a BYE sent by `by`.
    pub(crate) fn bye_ok(&self, cseq: u32, by: Side) -> SipMessage {
        self.response_to(200, cseq, Method::Bye, by)
    }
}
