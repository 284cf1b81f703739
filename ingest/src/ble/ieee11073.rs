//! IEEE 11073-20601 SFLOAT (16-bit) and FLOAT (32-bit) medical number formats.
//!
//! Blood pressure, thermometers and oximeters send these. Their special values
//! (NaN, NRes, ±INF, reserved) say "there is no number here"; they decode to a
//! non-[`Ieee11073::Value`] variant so that no caller can mistake them for a
//! reading.

use serde::Serialize;

/// One decoded IEEE-11073 number.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum Ieee11073 {
    /// A finite number: mantissa × 10^exponent.
    Value(f64),
    /// Not a Number (the device had no valid value).
    Nan,
    /// Not at this Resolution (the value cannot be represented).
    Nres,
    /// Positive infinity (over range).
    PositiveInfinity,
    /// Negative infinity (under range).
    NegativeInfinity,
    /// A reserved bit pattern.
    Reserved,
}

impl Ieee11073 {
    /// The number, or `None` for a special value.
    pub fn value(self) -> Option<f64> {
        match self {
            Ieee11073::Value(v) => Some(v),
            _ => None,
        }
    }

    /// Decodes a 16-bit SFLOAT: 4-bit signed exponent, 12-bit signed mantissa.
    pub fn from_sfloat(raw: u16) -> Self {
        match raw {
            0x07FF => return Ieee11073::Nan,
            0x0800 => return Ieee11073::Nres,
            0x07FE => return Ieee11073::PositiveInfinity,
            0x0802 => return Ieee11073::NegativeInfinity,
            0x0801 => return Ieee11073::Reserved,
            _ => {}
        }
        let mantissa = sign_extend(u32::from(raw & 0x0FFF), 12);
        let exponent = sign_extend(u32::from(raw >> 12), 4);
        Ieee11073::Value(scale(mantissa, exponent))
    }

    /// Decodes a 32-bit FLOAT: 8-bit signed exponent, 24-bit signed mantissa.
    pub fn from_float(raw: u32) -> Self {
        let mantissa_bits = raw & 0x00FF_FFFF;
        match mantissa_bits {
            0x007F_FFFF => return Ieee11073::Nan,
            0x0080_0000 => return Ieee11073::Nres,
            0x007F_FFFE => return Ieee11073::PositiveInfinity,
            0x0080_0002 => return Ieee11073::NegativeInfinity,
            0x0080_0001 => return Ieee11073::Reserved,
            _ => {}
        }
        let mantissa = sign_extend(mantissa_bits, 24);
        let exponent = sign_extend(raw >> 24, 8);
        Ieee11073::Value(scale(mantissa, exponent))
    }
}

fn sign_extend(v: u32, bits: u32) -> i32 {
    let shift = 32 - bits;
    ((v << shift) as i32) >> shift
}

/// mantissa × 10^exponent, computed by dividing for negative exponents so that
/// 3760 × 10^-2 is exactly the double nearest 37.6.
fn scale(mantissa: i32, exponent: i32) -> f64 {
    let m = f64::from(mantissa);
    if exponent >= 0 {
        m * 10f64.powi(exponent)
    } else {
        m / 10f64.powi(-exponent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sfloat_specials_are_not_numbers() {
        for raw in [0x07FF, 0x0800, 0x07FE, 0x0802, 0x0801] {
            assert_eq!(Ieee11073::from_sfloat(raw).value(), None, "{raw:#06x}");
        }
    }

    #[test]
    fn sfloat_values() {
        assert_eq!(Ieee11073::from_sfloat(0xF0BD).value(), Some(18.9));
        assert_eq!(Ieee11073::from_sfloat(0x008A).value(), Some(138.0));
        assert_eq!(Ieee11073::from_sfloat(0x0FFF).value(), Some(-1.0));
        assert_eq!(Ieee11073::from_sfloat(0x2001).value(), Some(100.0));
        // Exponent nibble 0x8 is -8, not a bias of 8.
        assert_eq!(Ieee11073::from_sfloat(0x8062).value(), Some(98.0 / 1e8));
    }

    #[test]
    fn float_values_and_specials() {
        assert_eq!(Ieee11073::from_float(0xFE00_0EB0).value(), Some(37.6));
        assert_eq!(Ieee11073::from_float(0x007F_FFFF), Ieee11073::Nan);
        assert_eq!(Ieee11073::from_float(0x0080_0000), Ieee11073::Nres);
        assert_eq!(
            Ieee11073::from_float(0x007F_FFFE),
            Ieee11073::PositiveInfinity
        );
        assert_eq!(
            Ieee11073::from_float(0x0080_0002),
            Ieee11073::NegativeInfinity
        );
        assert_eq!(Ieee11073::from_float(0x0080_0001), Ieee11073::Reserved);
        assert_eq!(Ieee11073::from_float(0x00FF_FFFF).value(), Some(-1.0));
    }
}
