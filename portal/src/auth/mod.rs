//! Accounts: password hashing now; sessions and tokens build on it.

pub mod password;
