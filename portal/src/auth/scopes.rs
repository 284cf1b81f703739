//! What a bearer credential may do. Personal access tokens carry the scopes
//! their owner ticked; the short-lived JWTs from `/api/v1/token` carry all,
//! since they stand for the person who just typed their password.

use serde::Serialize;

/// How personal access tokens start, so they are recognisable in a config
/// file and by secret scanners, and never mistaken for a JWT.
pub(crate) const PAT_PREFIX: &str = "chp_";

/// One permission a token can carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub(crate) enum Scope {
    /// Post readings (phone exporters, scripts).
    IngestWrite,
    /// Read samples, series and devices.
    SamplesRead,
}

impl Scope {
    /// Every scope, in the order the token page lists them.
    pub const ALL: [Scope; 2] = [Scope::IngestWrite, Scope::SamplesRead];

    /// The scope's name on the wire and in the store.
    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::IngestWrite => "ingest:write",
            Scope::SamplesRead => "samples:read",
        }
    }

    /// What the scope allows, for the token page.
    pub const fn describe(self) -> &'static str {
        match self {
            Scope::IngestWrite => "send readings (phone exporters, scripts)",
            Scope::SamplesRead => "read your samples, trends and devices",
        }
    }
}

/// The scopes a request's credential carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Granted {
    /// A JWT from the password exchange: everything the person may do.
    All,
    /// A personal access token: what its owner chose.
    Only(Vec<Scope>),
}

impl Granted {
    /// Parses a stored, space-separated scope list; unknown names are dropped.
    pub fn from_stored(text: &str) -> Granted {
        let scopes = text
            .split_whitespace()
            .filter_map(|name| Scope::ALL.into_iter().find(|s| s.as_str() == name))
            .collect();
        Granted::Only(scopes)
    }

    /// Whether `scope` is granted.
    pub fn allows(&self, scope: Scope) -> bool {
        match self {
            Granted::All => true,
            Granted::Only(scopes) => scopes.contains(&scope),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_scopes() {
        let g = Granted::from_stored("samples:read bogus");
        assert!(g.allows(Scope::SamplesRead));
        assert!(!g.allows(Scope::IngestWrite));
        assert!(Granted::All.allows(Scope::IngestWrite));
    }
}
