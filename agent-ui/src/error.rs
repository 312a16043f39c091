//! What can go wrong when the console talks to the server, in words fit for the agent.
//!
//! The REST client ([`crate::api`]) returns these; the pages show their text. The server's
//! own reason (the `error` field of an `ApiError` body) is passed through unchanged.

use std::fmt;

/// A failed request to the Ringside server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The server answered 401: not logged in, the session expired or the login was refused.
    Unauthorized {
        /// The server's reason.
        message: String,
    },
    /// The server answered another 4xx or 5xx status.
    Rejected {
        /// The HTTP status code.
        status: u16,
        /// The server's reason, or a generic text when the body was not an `ApiError`.
        message: String,
    },
    /// The request did not reach the server or no answer came back.
    Unreachable,
    /// The server answered with a body the console cannot read.
    BadAnswer,
    /// The page has no `window` (the code runs outside a browser).
    NoBrowser,
}

/// The result of a request to the server.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Whether the server refused the request for want of a valid session.
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, Error::Unauthorized { .. })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Unauthorized { message } | Error::Rejected { message, .. } => {
                f.write_str(message)
            }
            Error::Unreachable => f.write_str("cannot reach the server"),
            Error::BadAnswer => f.write_str("the server sent an answer the console cannot read"),
            Error::NoBrowser => f.write_str("this page must run in a web browser"),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_reasons_are_shown_unchanged() {
        let err = Error::Unauthorized {
            message: "invalid username or password".into(),
        };

        assert_eq!(err.to_string(), "invalid username or password");
        assert!(err.is_unauthorized());
        assert!(!Error::Unreachable.is_unauthorized());
    }
}
