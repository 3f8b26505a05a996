//! Card rules that need no provider (BILL2): the Luhn check, the brand told by the number, the
//! expiry and the security code's form. Each refusal names the field to fix and never repeats
//! the number or the code.

use crate::Time;
use crate::kinds::CardBrand;
use chrono::Datelike;

/// A card field that was refused, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CardProblem {
    /// The request field: `cardNumber`, `expiryMonth`, `expiryYear` or `securityCode`.
    pub field: &'static str,
    /// Words for the card holder; never the number or the code.
    pub message: String,
}

fn problem(field: &'static str, message: impl Into<String>) -> CardProblem {
    CardProblem {
        field,
        message: message.into(),
    }
}

/// A card number as typed: digits, with spaces or dashes between groups allowed. Returns the
/// digits only.
pub fn card_digits(number: &str) -> Result<String, CardProblem> {
    let mut digits = String::with_capacity(number.len());
    for c in number.trim().chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' => {}
            _ => {
                return Err(problem(
                    "cardNumber",
                    "cardNumber may hold only digits, with spaces or dashes between groups.",
                ));
            }
        }
    }
    if !(12..=19).contains(&digits.len()) {
        return Err(problem(
            "cardNumber",
            "cardNumber must have 12 to 19 digits: type the long number on the front of the card.",
        ));
    }
    if !luhn_valid(&digits) {
        return Err(problem(
            "cardNumber",
            "cardNumber is not a valid card number (its check digit does not match): check the digits.",
        ));
    }
    Ok(digits)
}

/// Whether a string of digits passes the Luhn check.
pub fn luhn_valid(digits: &str) -> bool {
    let mut sum = 0u32;
    for (i, c) in digits.bytes().rev().enumerate() {
        if !c.is_ascii_digit() {
            return false;
        }
        let mut d = u32::from(c - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    !digits.is_empty() && sum.is_multiple_of(10)
}

/// The brand of a card number (digits only).
pub fn brand(digits: &str) -> CardBrand {
    let prefix = |n: usize| digits.get(..n).and_then(|p| p.parse::<u32>().ok());
    if digits.starts_with('4') {
        CardBrand::Visa
    } else if matches!(prefix(2), Some(34 | 37)) {
        CardBrand::Amex
    } else if matches!(prefix(2), Some(51..=55)) || matches!(prefix(4), Some(2221..=2720)) {
        CardBrand::Mastercard
    } else {
        CardBrand::Other
    }
}

/// The last four digits (digits only).
pub fn last4(digits: &str) -> String {
    digits[digits.len().saturating_sub(4)..].to_string()
}

/// Checks an expiry month and year: a card is good through the last day of its expiry month,
/// by `now`.
pub fn check_expiry(month: i64, year: i64, now: Time) -> Result<(), CardProblem> {
    if !(1..=12).contains(&month) {
        return Err(problem(
            "expiryMonth",
            "expiryMonth must be a month number from 1 to 12.",
        ));
    }
    if !(2000..=2200).contains(&year) {
        return Err(problem(
            "expiryYear",
            "expiryYear must be the four-digit year printed on the card, like 2030.",
        ));
    }
    let (y, m) = (i64::from(now.year()), i64::from(now.month()));
    if (year, month) < (y, m) {
        return Err(problem(
            "expiryYear",
            format!(
                "The card expired at the end of {month:02}/{year}: use a card that has not expired (today is {m:02}/{y})."
            ),
        ));
    }
    Ok(())
}

/// Checks a security code's form: 3 or 4 digits.
pub fn check_security_code(code: &str) -> Result<(), CardProblem> {
    let code = code.trim();
    if !(3..=4).contains(&code.len()) || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(problem(
            "securityCode",
            "securityCode must be the 3 or 4 digits printed on the card.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn luhn_and_brand() {
        assert_eq!(
            card_digits("4242 4242 4242 4242").as_deref(),
            Ok("4242424242424242")
        );
        assert_eq!(brand("4242424242424242"), CardBrand::Visa);
        assert_eq!(brand("5555555555554444"), CardBrand::Mastercard);
        assert_eq!(brand("2223003122003222"), CardBrand::Mastercard);
        assert_eq!(brand("378282246310005"), CardBrand::Amex);
        assert_eq!(brand("6011111111111117"), CardBrand::Other);
        assert!(luhn_valid("4000000000000002"));
        assert!(luhn_valid("4000000000000341"));
        let bad = card_digits("4242 4242 4242 4241").unwrap_err();
        assert_eq!(bad.field, "cardNumber");
        assert!(!bad.message.contains("4241"));
        assert_eq!(card_digits("4242-abcd").unwrap_err().field, "cardNumber");
        assert_eq!(last4("4242424242424242"), "4242");
    }

    #[test]
    fn expiry_is_good_through_its_month() {
        let now = chrono::Utc.with_ymd_and_hms(2030, 6, 15, 0, 0, 0).unwrap();
        assert!(check_expiry(6, 2030, now).is_ok());
        assert!(check_expiry(1, 2031, now).is_ok());
        assert_eq!(check_expiry(5, 2030, now).unwrap_err().field, "expiryYear");
        assert_eq!(
            check_expiry(13, 2030, now).unwrap_err().field,
            "expiryMonth"
        );
        assert!(check_security_code("123").is_ok());
        assert!(check_security_code("1234").is_ok());
        assert_eq!(check_security_code("12").unwrap_err().field, "securityCode");
        assert_eq!(
            check_security_code("12a").unwrap_err().field,
            "securityCode"
        );
    }
}
