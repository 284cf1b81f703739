//! Dashboard definitions as data: which tiles and charts a dashboard shows.
//!
//! The default set lives in `dashboards/default.toml` at the repository root and
//! is embedded at build time, so a change of panels is an edit there, not here.

use cohealth_ingest::Metric;
use serde::Deserialize;

use crate::chart::Style;

/// A dashboard: tiles with one figure each, then trend charts.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dashboard {
    /// Figures at the top.
    #[serde(rename = "tile", default)]
    pub tiles: Vec<Tile>,
    /// Trend charts below them.
    #[serde(rename = "chart", default)]
    pub charts: Vec<Chart>,
}

/// One figure.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tile {
    /// What it shows.
    pub metric: Metric,
    /// Its label.
    pub label: String,
    /// Which figure of the metric.
    pub show: Figure,
    /// Decimals printed.
    #[serde(default)]
    pub decimals: usize,
}

/// Which figure a tile shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Figure {
    /// The newest sample.
    Latest,
    /// The sum over the person's local day so far.
    Today,
}

/// One trend chart.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chart {
    /// What it draws.
    pub metric: Metric,
    /// Its heading.
    pub title: String,
    /// How it draws it.
    pub style: Style,
}

const DEFAULT: &str = include_str!("../../dashboards/default.toml");

impl Dashboard {
    /// The embedded default dashboard. A broken file is a build-time mistake caught
    /// by this module's test; at run time it degrades to an empty dashboard.
    pub fn default_set() -> Dashboard {
        toml::from_str(DEFAULT).unwrap_or_else(|e| {
            tracing::error!(error = %e, "dashboards/default.toml does not parse");
            Dashboard {
                tiles: Vec::new(),
                charts: Vec::new(),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_default_dashboard_parses() {
        let parsed: super::Dashboard = toml::from_str(super::DEFAULT).unwrap();
        assert_eq!(parsed.tiles.len(), 5);
        assert!(!parsed.charts.is_empty());
    }
}
