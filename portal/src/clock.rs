//! Where "now" comes from. Pages take the instant from here, never from the system
//! directly, so snapshot tests can fix it and render byte-identical pages.

/// A source of the current instant.
#[derive(Clone, Copy, Debug, Default)]
pub enum Clock {
    /// The system's wall clock.
    #[default]
    System,
    /// Always this instant, UTC ms.
    Fixed(i64),
    /// Whatever this cell holds, UTC ms: a clock tests move by hand, to see
    /// sessions, tokens and locks expire.
    Manual(&'static std::sync::atomic::AtomicI64),
}

impl Clock {
    /// The current instant, UTC ms.
    pub fn now_ms(self) -> i64 {
        match self {
            Clock::System => chrono::Utc::now().timestamp_millis(),
            Clock::Fixed(ms) => ms,
            Clock::Manual(cell) => cell.load(std::sync::atomic::Ordering::Relaxed),
        }
    }
}
