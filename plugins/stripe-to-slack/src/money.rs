//! Stripe amounts: integers in the currency's minor unit, shown in major units.

/// Currencies whose Stripe amounts are whole units (`500` JPY is ¥500).
const ZERO_DECIMAL: &[&str] = &[
    "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV",
    "XAF", "XOF", "XPF",
];

/// Currencies whose Stripe amounts are thousandths (`5120` KWD is 5.120 KWD).
const THREE_DECIMAL: &[&str] = &["BHD", "JOD", "KWD", "OMR", "TND"];

/// How many decimals an amount in `currency` (upper-case ISO code) has in the Stripe API.
///
/// ISK, HUF and TWD are charged in whole units but stay two-decimal in the API, so they
/// take the default.
pub fn decimals(currency: &str) -> u32 {
    if ZERO_DECIMAL.contains(&currency) {
        0
    } else if THREE_DECIMAL.contains(&currency) {
        3
    } else {
        2
    }
}

/// `1234` in `eur` is `12.34 EUR`; `500` in `jpy` is `500 JPY`.
pub fn format(amount: i64, currency: &str) -> String {
    let code = currency.to_ascii_uppercase();
    let decimals = decimals(&code);
    let sign = if amount < 0 { "-" } else { "" };
    let units = amount.unsigned_abs();
    if decimals == 0 {
        return format!("{sign}{units} {code}");
    }
    let scale = 10u64.pow(decimals);
    let width = decimals as usize;
    format!(
        "{sign}{}.{:0width$} {code}",
        units / scale,
        units % scale,
        width = width
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_decimal_currencies() {
        assert_eq!(format(1234, "eur"), "12.34 EUR");
        assert_eq!(format(5, "usd"), "0.05 USD");
        assert_eq!(format(100, "isk"), "1.00 ISK");
        assert_eq!(format(0, "gbp"), "0.00 GBP");
    }

    #[test]
    fn zero_and_three_decimal_currencies() {
        assert_eq!(format(500, "jpy"), "500 JPY");
        assert_eq!(format(1500, "KRW"), "1500 KRW");
        assert_eq!(format(5120, "kwd"), "5.120 KWD");
        assert_eq!(format(10, "bhd"), "0.010 BHD");
    }

    #[test]
    fn negative_amounts_keep_their_sign() {
        assert_eq!(format(-250, "eur"), "-2.50 EUR");
        assert_eq!(format(i64::MIN, "jpy"), "-9223372036854775808 JPY");
    }
}
