//! Hand-made messages of one dialog, for tracker tests: caller `+31201234567` with tag
//! `ct`, agent extension `2001` with tag `pt`.

use crate::message::{Method, Party, ReferTo, SipMessage, StartLine};
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
            via_count: 1,
            via_branch: Some(format!("z9hG4bK-caller-{cseq}")),
            contact_user: None,
            refer_to: None,
            referred_by: None,
            replaces: None,
            session_expires_s: None,
            remote_party: Vec::new(),
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

    /// The proxy's forked copy of the initial INVITE to `target`, on branch `branch`
    /// (two Vias, the proxy's on top).
    pub(crate) fn branch_invite(&self, cseq: u32, target: &str, branch: &str) -> SipMessage {
        let mut invite = self.invite(cseq);
        invite.start = StartLine::Request {
            method: Method::Invite,
            uri_user: Some(target.to_owned()),
        };
        invite.via_count = 2;
        invite.via_branch = Some(branch.to_owned());
        invite
    }

    /// The proxy's CANCEL of one branch.
    pub(crate) fn branch_cancel(&self, cseq: u32, branch: &str) -> SipMessage {
        let mut cancel = self.cancel(cseq);
        cancel.via_count = 2;
        cancel.via_branch = Some(branch.to_owned());
        cancel
    }

    /// A response of the phone on `branch` with To-tag `tag`, on the branch leg (two
    /// Vias) when `on_branch`, else the copy the proxy forwards to the caller (one Via).
    pub(crate) fn fork_response(
        &self,
        status: u16,
        cseq: u32,
        branch: &str,
        tag: &str,
        on_branch: bool,
    ) -> SipMessage {
        let mut response = self.response(status, cseq, Method::Invite);
        response.to.tag = Some(tag.to_owned());
        response.contact_user = Some("phone".to_owned());
        if on_branch {
            response.via_count = 2;
            response.via_branch = Some(branch.to_owned());
        }
        response
    }

    /// In-dialog REFER from `by` to `target`, attended when it names `replaces`.
    pub(crate) fn refer(
        &self,
        cseq: u32,
        by: Side,
        target: &str,
        replaces: Option<&str>,
    ) -> SipMessage {
        let mut refer = self.request(Method::Refer, cseq, by, true);
        refer.refer_to = Some(ReferTo {
            user: Some(target.to_owned()),
            replaces: replaces.map(str::to_owned),
        });
        refer
    }

    /// In-dialog UPDATE from the caller (RFC 3311).
    pub(crate) fn request_update(&self, cseq: u32) -> SipMessage {
        self.request(Method::Update, cseq, Side::Caller, true)
    }
}
