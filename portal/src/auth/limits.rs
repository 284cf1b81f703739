//! Throttling of guessable secrets: passwords, one-time codes and reset requests.
//!
//! Every attempt is checked against two keys, the account it names and the
//! client address it came from, so that one address cannot guess many accounts
//! and many addresses cannot hammer one account. Each key allows a few free
//! failures; after that it is locked for a time that doubles with each further
//! failure, up to [`MAX_LOCK_MS`]. A success on an account clears that account's
//! key (never the address's: a guesser who owns one account learns nothing).
//!
//! State is in memory, per portal process: a restart forgives, which is the
//! price of not writing to the store on every failed guess. The ceiling that
//! ASVS 2.2.1 asks for (at most 100 failed attempts an hour per account) holds
//! within a process: after the free failures, 100 more need well over an hour.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// What is being attempted; each has its own counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Action {
    /// Password sign-in (pages and the API's token exchange).
    SignIn,
    /// A second factor: TOTP or recovery code.
    SecondFactor,
    /// Asking for a password-reset email, or using a reset link.
    Reset,
    /// Registering, or accepting an invitation.
    Register,
}

impl Action {
    /// Failures allowed before locking: (per account, per address).
    const fn free(self) -> (u32, u32) {
        match self {
            Action::SignIn => (5, 20),
            Action::SecondFactor => (5, 10),
            Action::Reset => (3, 10),
            Action::Register => (5, 10),
        }
    }
}

/// The first lock, after the free failures are used up.
const FIRST_LOCK_MS: i64 = 30_000;
/// The longest lock.
pub(crate) const MAX_LOCK_MS: i64 = 15 * 60 * 1000;
/// A key with no failure for this long starts afresh.
const FORGET_MS: i64 = 24 * 3600 * 1000;
const MAX_KEYS: usize = 50_000;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    Account(Action, String),
    Client(Action, IpAddr),
}

#[derive(Clone, Copy, Debug, Default)]
struct Entry {
    failures: u32,
    last_failure_ms: i64,
    locked_until_ms: i64,
}

/// The answer when an attempt must wait: seconds until it may be tried again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Locked {
    pub retry_after_s: i64,
}

/// Failure counters by account and by client address.
#[derive(Default)]
pub(crate) struct Limiter {
    entries: Mutex<HashMap<Key, Entry>>,
}

impl Limiter {
    /// Whether an attempt may go ahead now.
    pub fn check(
        &self,
        action: Action,
        account: Option<&str>,
        client: Option<IpAddr>,
        now_ms: i64,
    ) -> Result<(), Locked> {
        let Ok(entries) = self.entries.lock() else {
            return Ok(());
        };
        let until = keys(action, account, client)
            .filter_map(|k| entries.get(&k))
            .map(|e| e.locked_until_ms)
            .max()
            .unwrap_or(0);
        if until > now_ms {
            Err(Locked {
                retry_after_s: (until - now_ms + 999) / 1000,
            })
        } else {
            Ok(())
        }
    }

    /// Records a failed attempt against both keys.
    pub fn failed(
        &self,
        action: Action,
        account: Option<&str>,
        client: Option<IpAddr>,
        now_ms: i64,
    ) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= MAX_KEYS {
            entries.retain(|_, e| now_ms - e.last_failure_ms < FORGET_MS && e.locked_until_ms > 0);
        }
        let (free_account, free_client) = action.free();
        for key in keys(action, account, client) {
            let free = match key {
                Key::Account(..) => free_account,
                Key::Client(..) => free_client,
            };
            let entry = entries.entry(key).or_default();
            if now_ms - entry.last_failure_ms > FORGET_MS {
                *entry = Entry::default();
            }
            entry.failures += 1;
            entry.last_failure_ms = now_ms;
            if entry.failures > free {
                let doublings = (entry.failures - free - 1).min(10);
                let lock = (FIRST_LOCK_MS << doublings).min(MAX_LOCK_MS);
                entry.locked_until_ms = now_ms + lock;
            }
        }
    }

    /// Clears the account's counter after a success.
    pub fn succeeded(&self, action: Action, account: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(&Key::Account(action, normalise(account)));
        }
    }
}

fn keys(
    action: Action,
    account: Option<&str>,
    client: Option<IpAddr>,
) -> impl Iterator<Item = Key> {
    let account = account.map(|a| Key::Account(action, normalise(a)));
    let client = client.map(|c| Key::Client(action, client_block(c)));
    account.into_iter().chain(client)
}

/// Logins differ only in case and surrounding space count as one account.
fn normalise(account: &str) -> String {
    account.trim().to_lowercase()
}

/// IPv6 clients are counted per /64: one host usually holds a whole /64.
fn client_block(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => addr,
        IpAddr::V6(v6) => {
            let mut octets = v6.octets();
            octets[8..].fill(0);
            IpAddr::from(octets)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));

    #[test]
    fn locks_after_free_failures_and_doubles() {
        let l = Limiter::default();
        for _ in 0..5 {
            assert!(l.check(Action::SignIn, Some("ann"), IP, 0).is_ok());
            l.failed(Action::SignIn, Some("ann"), IP, 0);
        }
        assert!(l.check(Action::SignIn, Some("ANN "), IP, 0).is_ok());
        l.failed(Action::SignIn, Some("ann"), IP, 0);
        assert_eq!(
            l.check(Action::SignIn, Some("ann"), None, 0),
            Err(Locked { retry_after_s: 30 })
        );
        l.failed(Action::SignIn, Some("ann"), IP, 30_000);
        assert_eq!(
            l.check(Action::SignIn, Some("ann"), None, 30_000),
            Err(Locked { retry_after_s: 60 })
        );
        // Another account from another address is not affected.
        assert!(l.check(Action::SignIn, Some("bob"), None, 30_000).is_ok());
        // Other actions keep their own counters.
        assert!(l.check(Action::Reset, Some("ann"), IP, 30_000).is_ok());
        l.succeeded(Action::SignIn, "Ann");
        assert!(l.check(Action::SignIn, Some("ann"), None, 30_000).is_ok());
    }

    #[test]
    fn one_address_guessing_many_accounts_is_locked() {
        let l = Limiter::default();
        for i in 0..21 {
            l.failed(Action::SignIn, Some(&format!("user{i}")), IP, 0);
        }
        assert!(
            l.check(Action::SignIn, Some("someone-else"), IP, 0)
                .is_err()
        );
        assert!(
            l.check(Action::SignIn, Some("someone-else"), None, 0)
                .is_ok()
        );
    }

    #[test]
    fn hundred_failures_take_more_than_an_hour() {
        let l = Limiter::default();
        let mut now = 0;
        for _ in 0..100 {
            if let Err(locked) = l.check(Action::SignIn, Some("ann"), None, now) {
                now += locked.retry_after_s * 1000;
            }
            l.failed(Action::SignIn, Some("ann"), None, now);
        }
        assert!(now > 3600 * 1000, "100 failures in {now} ms");
    }

    #[test]
    fn ipv6_counts_per_64() {
        let a: IpAddr = "2001:db8::1".parse().unwrap();
        let b: IpAddr = "2001:db8::ffff:2".parse().unwrap();
        assert_eq!(client_block(a), client_block(b));
    }
}
