//! The payment-provider interface (BILL2) and the built-in test provider.
//!
//! The server hands a card to the provider once, to tokenize it; afterwards it keeps only the
//! provider's token, the brand, the last four digits, the expiry, the name and the billing
//! address. The full number and the security code live only in the request that carried them:
//! they are never stored, logged or returned (their types print `***` with `Debug`).

use seatkeeper_domain::Time;
use seatkeeper_domain::kinds::CardBrand;
use seatkeeper_domain::payment::{
    CardProblem, brand, card_digits, check_expiry, check_security_code, last4,
};
use std::future::Future;
use std::pin::Pin;

/// A future a provider returns.
pub type ProviderFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A card as the card holder typed it. `Debug` hides the number and the security code.
#[derive(Clone)]
pub struct CardInput {
    /// The number, digits only (see [`card_digits`]).
    pub number: String,
    pub expiry_month: i64,
    pub expiry_year: i64,
    pub security_code: String,
    pub name_on_card: String,
}

impl std::fmt::Debug for CardInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardInput")
            .field("number", &"***")
            .field("expiry_month", &self.expiry_month)
            .field("expiry_year", &self.expiry_year)
            .field("security_code", &"***")
            .field("name_on_card", &self.name_on_card)
            .finish()
    }
}

/// What the provider returns for a card it accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokenized {
    /// The provider's reference to the card, used for every later call.
    pub token: String,
    pub brand: CardBrand,
    pub last4: String,
}

/// Why the provider refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The card issuer declined: HTTP 402 `PaymentDeclined`, with the reason.
    Declined(String),
    /// A field is wrong: HTTP 400 naming it.
    Invalid(CardProblem),
}

/// A payment provider: tokenizes cards, verifies them with their security code, and charges
/// them. [`TestProvider`] is the built-in one.
pub trait PaymentProvider: Send + Sync {
    /// The provider's name, for logs.
    fn name(&self) -> &'static str;

    /// Checks a card and returns a token for it. `now` is the server's clock (expiry).
    fn tokenize<'a>(
        &'a self,
        card: &'a CardInput,
        now: Time,
    ) -> ProviderFuture<'a, Result<Tokenized, Refusal>>;

    /// Verifies a stored card with its security code and (perhaps new) expiry.
    fn verify<'a>(
        &'a self,
        token: &'a str,
        security_code: &'a str,
        expiry_month: i64,
        expiry_year: i64,
        now: Time,
    ) -> ProviderFuture<'a, Result<(), Refusal>>;

    /// Charges `amount_minor` (cents, øre: the currency's minor unit) of `currency` to a
    /// stored card; returns the provider's charge reference. The same `idempotency_key`
    /// charges once: a retry (the transaction that charged was rolled back and runs again)
    /// returns the first charge's reference, as card providers' idempotency keys do.
    fn charge<'a>(
        &'a self,
        token: &'a str,
        amount_minor: i64,
        currency: &'a str,
        description: &'a str,
        idempotency_key: &'a str,
    ) -> ProviderFuture<'a, Result<String, Refusal>>;

    /// Gives `amount_minor` of `currency` back to a stored card (the unused part of a term
    /// that was charged); returns the provider's refund reference. The same `idempotency_key`
    /// refunds once.
    fn refund<'a>(
        &'a self,
        token: &'a str,
        amount_minor: i64,
        currency: &'a str,
        description: &'a str,
        idempotency_key: &'a str,
    ) -> ProviderFuture<'a, Result<String, Refusal>>;
}

/// The built-in test provider, the default. It accepts Luhn-valid numbers with a future
/// expiry and a 3- or 4-digit security code, and knows these test numbers:
///
/// | number | result |
/// |---|---|
/// | 4242 4242 4242 4242 | Visa, succeeds |
/// | 5555 5555 5555 4444 | Mastercard, succeeds |
/// | 3782 822463 10005 | Amex, succeeds |
/// | 4000 0000 0000 0002 | declined when added (and when charged) |
/// | 4000 0000 0000 0341 | added, then declined when charged |
///
/// Any other Luhn-valid number succeeds too.
#[derive(Debug, Default, Clone, Copy)]
pub struct TestProvider;

/// The test number declined at once.
pub const TEST_DECLINED: &str = "4000000000000002";
/// The test number that tokenizes but is declined when charged.
pub const TEST_CHARGE_DECLINED: &str = "4000000000000341";

const TOKEN_PREFIX: &str = "tok_test_";
const CHARGE_DECLINES: &str = "tok_test_chargefail_";

impl PaymentProvider for TestProvider {
    fn name(&self) -> &'static str {
        "test"
    }

    fn tokenize<'a>(
        &'a self,
        card: &'a CardInput,
        now: Time,
    ) -> ProviderFuture<'a, Result<Tokenized, Refusal>> {
        Box::pin(async move {
            let digits = card_digits(&card.number).map_err(Refusal::Invalid)?;
            check_expiry(card.expiry_month, card.expiry_year, now).map_err(Refusal::Invalid)?;
            check_security_code(&card.security_code).map_err(Refusal::Invalid)?;
            if digits == TEST_DECLINED {
                return Err(Refusal::Declined(
                    "The card was declined by its issuer (test card ending 0002): use another card.".into(),
                ));
            }
            let prefix = if digits == TEST_CHARGE_DECLINED {
                CHARGE_DECLINES
            } else {
                TOKEN_PREFIX
            };
            Ok(Tokenized {
                token: format!("{prefix}{}", uuid::Uuid::new_v4().simple()),
                brand: brand(&digits),
                last4: last4(&digits),
            })
        })
    }

    fn verify<'a>(
        &'a self,
        token: &'a str,
        security_code: &'a str,
        expiry_month: i64,
        expiry_year: i64,
        now: Time,
    ) -> ProviderFuture<'a, Result<(), Refusal>> {
        Box::pin(async move {
            check_expiry(expiry_month, expiry_year, now).map_err(Refusal::Invalid)?;
            check_security_code(security_code).map_err(Refusal::Invalid)?;
            if !token.starts_with(TOKEN_PREFIX) {
                return Err(Refusal::Declined(
                    "The payment provider does not know this card: add it again.".into(),
                ));
            }
            Ok(())
        })
    }

    fn charge<'a>(
        &'a self,
        token: &'a str,
        amount_minor: i64,
        currency: &'a str,
        _description: &'a str,
        idempotency_key: &'a str,
    ) -> ProviderFuture<'a, Result<String, Refusal>> {
        Box::pin(async move {
            if token.starts_with(CHARGE_DECLINES) {
                return Err(Refusal::Declined(format!(
                    "The card was declined when charged {} {currency} (test card ending 0341): use another card.",
                    minor_units(amount_minor)
                )));
            }
            if !token.starts_with(TOKEN_PREFIX) {
                return Err(Refusal::Declined(
                    "The payment provider does not know this card: add it again.".into(),
                ));
            }
            // The reference follows from the key: a retried charge is the same charge.
            use sha2::{Digest, Sha256};
            let d = Sha256::digest(format!("{token}:{idempotency_key}").as_bytes());
            let hex: String = d.iter().take(16).map(|b| format!("{b:02x}")).collect();
            Ok(format!("ch_test_{hex}"))
        })
    }

    fn refund<'a>(
        &'a self,
        token: &'a str,
        _amount_minor: i64,
        _currency: &'a str,
        _description: &'a str,
        idempotency_key: &'a str,
    ) -> ProviderFuture<'a, Result<String, Refusal>> {
        Box::pin(async move {
            if !token.starts_with(TOKEN_PREFIX) {
                return Err(Refusal::Declined(
                    "The payment provider does not know this card: the refund could not be made."
                        .into(),
                ));
            }
            use sha2::{Digest, Sha256};
            let d = Sha256::digest(format!("{token}:{idempotency_key}").as_bytes());
            let hex: String = d.iter().take(16).map(|b| format!("{b:02x}")).collect();
            Ok(format!("re_test_{hex}"))
        })
    }
}

/// Money in words: "30.00 USD" from 3000 minor units.
pub fn amount_words(amount_minor: i64, currency: &str) -> String {
    format!("{} {currency}", minor_units(amount_minor))
}

/// An amount in minor units written with two decimals (1500 → "15.00").
fn minor_units(v: i64) -> String {
    format!(
        "{}{}.{:02}",
        if v < 0 { "-" } else { "" },
        (v / 100).abs(),
        (v % 100).abs()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn card(number: &str) -> CardInput {
        CardInput {
            number: number.into(),
            expiry_month: 12,
            expiry_year: 2031,
            security_code: "123".into(),
            name_on_card: "A Person".into(),
        }
    }

    #[tokio::test]
    async fn test_cards_behave_as_documented() {
        let now = chrono::Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap();
        let p = TestProvider;
        let ok = p.tokenize(&card("4242 4242 4242 4242"), now).await.unwrap();
        assert_eq!((ok.brand, ok.last4.as_str()), (CardBrand::Visa, "4242"));
        assert!(!ok.token.contains("4242424242424242"));
        assert!(p.charge(&ok.token, 1500, "USD", "x", "k1").await.is_ok());
        assert!(p.verify(&ok.token, "999", 1, 2030, now).await.is_ok());
        assert!(matches!(
            p.tokenize(&card(TEST_DECLINED), now).await,
            Err(Refusal::Declined(_))
        ));
        let later = p.tokenize(&card(TEST_CHARGE_DECLINED), now).await.unwrap();
        let refused = p
            .charge(&later.token, 1500, "USD", "x", "k2")
            .await
            .unwrap_err();
        assert_eq!(
            refused,
            Refusal::Declined(
                "The card was declined when charged 15.00 USD (test card ending 0341): use another card.".into()
            )
        );
        let mut expired = card("4242424242424242");
        expired.expiry_year = 2029;
        assert!(matches!(
            p.tokenize(&expired, now).await,
            Err(Refusal::Invalid(CardProblem {
                field: "expiryYear",
                ..
            }))
        ));
        assert!(!format!("{:?}", card("4242424242424242")).contains("4242424242424242"));
    }
}
