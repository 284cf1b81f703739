//! Device models whose frames reuse SIG UUIDs with their own layouts.
//!
//! The daemon learns the model from the device name or the Device
//! Information service and passes it to [`super::decode_characteristic`];
//! without it, frames are decoded per the SIG specification.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// A device model with a vendor-specific layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VendorModel {
    /// Xiaomi Mi Smart Scale / Mi Scale 2 (XMTZC01HM, XMTZC04HM): v1 layout
    /// on 0x2A9D and service data 0x181D.
    XiaomiMiScale,
    /// Xiaomi Mi Body Composition Scale 1/2 (XMTZC02HM, XMTZC05HM, MIBCS,
    /// MIBFS): v2 layout on 0x2A9C and service data 0x181B.
    XiaomiMiBodyCompositionScale,
    /// Soehnle Shape / Style scales: big-endian frames on a vendor UUID.
    SoehnleShape,
}

impl VendorModel {
    /// Recognises a model from a model number, advertised name or gateway
    /// model id (case-insensitive). `None` for anything else.
    pub fn parse(s: &str) -> Option<VendorModel> {
        let l = s.trim().to_ascii_lowercase();
        let has = |needles: &[&str]| needles.iter().any(|n| l.contains(n));
        if has(&[
            "xmtzc02hm",
            "xmtzc05hm",
            "mibcs",
            "mibfs",
            "mi_body",
            "mi body",
        ]) {
            Some(VendorModel::XiaomiMiBodyCompositionScale)
        } else if has(&[
            "xmtzc01hm",
            "xmtzc04hm",
            "mi smart scale",
            "mi scale",
            "mi_scale",
        ]) {
            Some(VendorModel::XiaomiMiScale)
        } else if has(&["shape200", "shape100", "shape50", "style100", "soehnle"]) {
            Some(VendorModel::SoehnleShape)
        } else {
            None
        }
    }

    /// The stable name used in logs and readings.
    pub fn as_str(self) -> &'static str {
        match self {
            VendorModel::XiaomiMiScale => "xiaomi_mi_scale",
            VendorModel::XiaomiMiBodyCompositionScale => "xiaomi_mi_body_composition_scale",
            VendorModel::SoehnleShape => "soehnle_shape",
        }
    }
}

impl fmt::Display for VendorModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for VendorModel {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        VendorModel::parse(s).ok_or_else(|| format!("unknown vendor model {s:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_models() {
        use VendorModel::*;
        assert_eq!(VendorModel::parse("MI SCALE2"), Some(XiaomiMiScale));
        assert_eq!(VendorModel::parse("XMTZC04HM"), Some(XiaomiMiScale));
        assert_eq!(VendorModel::parse("Mi Smart Scale"), Some(XiaomiMiScale));
        assert_eq!(
            VendorModel::parse("MIBFS"),
            Some(XiaomiMiBodyCompositionScale)
        );
        assert_eq!(
            VendorModel::parse("Mi_Body_Scale_2"),
            Some(XiaomiMiBodyCompositionScale)
        );
        assert_eq!(VendorModel::parse("Shape200"), Some(SoehnleShape));
        assert_eq!(VendorModel::parse("Polar H10"), None);
        assert_eq!(
            "mibcs".parse::<VendorModel>(),
            Ok(XiaomiMiBodyCompositionScale)
        );
    }
}
