//! Cards, billing accounts and billing profiles (BILL1, BILL2). A card row holds what the
//! payment provider returned (token, brand, last four digits) and what the card holder typed
//! apart from the number and the security code, which are never stored.

use crate::{Conn, Result, get_i64, get_id, get_opt_id, get_str, get_time, us};
use seatkeeper_domain::kinds::CardBrand;
use seatkeeper_domain::{
    BillingAccountId, BillingProfileId, PaymentMethodId, TenantId, Time, UserId,
};
use sqlx::any::AnyRow;

/// A postal address: of a card's billing address or of a profile's bill-to address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Address {
    pub line1: String,
    pub city: String,
    pub postal_code: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
}

/// A stored card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentMethod {
    pub id: PaymentMethodId,
    pub tenant_id: TenantId,
    /// The user whose card it is; None for the organization's central account.
    pub owner: Option<UserId>,
    pub brand: CardBrand,
    pub last4: String,
    pub expiry_month: i64,
    pub expiry_year: i64,
    pub name_on_card: String,
    pub address: Address,
    /// The payment provider's token for the card.
    pub provider_token: String,
    pub created_at: Time,
}

/// A billing account: the organization's central one (no owner) or a purchaser's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillingAccount {
    pub id: BillingAccountId,
    pub tenant_id: TenantId,
    pub owner: Option<UserId>,
    pub created_at: Time,
}

/// The billing profile of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillingProfile {
    pub id: BillingProfileId,
    pub tenant_id: TenantId,
    pub account_id: BillingAccountId,
    pub name: String,
    pub bill_to: Address,
    pub currency: String,
    pub invoice_email: String,
    pub payment_method_id: Option<PaymentMethodId>,
    pub created_at: Time,
}

fn address(r: &AnyRow) -> Result<Address> {
    Ok(Address {
        line1: get_str(r, "address_line1")?,
        city: get_str(r, "address_city")?,
        postal_code: get_str(r, "address_postal_code")?,
        country: get_str(r, "address_country")?,
    })
}

fn map_method(r: &AnyRow) -> Result<PaymentMethod> {
    let brand = get_str(r, "brand")?;
    Ok(PaymentMethod {
        id: get_id(r, "id")?,
        tenant_id: get_id(r, "tenant_id")?,
        owner: get_opt_id(r, "owner_user_id")?,
        brand: CardBrand::parse(&brand).unwrap_or(CardBrand::Other),
        last4: get_str(r, "last4")?,
        expiry_month: get_i64(r, "expiry_month")?,
        expiry_year: get_i64(r, "expiry_year")?,
        name_on_card: get_str(r, "name_on_card")?,
        address: address(r)?,
        provider_token: get_str(r, "provider_token")?,
        created_at: get_time(r, "created_at")?,
    })
}

fn map_account(r: &AnyRow) -> Result<BillingAccount> {
    Ok(BillingAccount {
        id: get_id(r, "id")?,
        tenant_id: get_id(r, "tenant_id")?,
        owner: get_opt_id(r, "owner_user_id")?,
        created_at: get_time(r, "created_at")?,
    })
}

fn map_profile(r: &AnyRow) -> Result<BillingProfile> {
    Ok(BillingProfile {
        id: get_id(r, "id")?,
        tenant_id: get_id(r, "tenant_id")?,
        account_id: get_id(r, "account_id")?,
        name: get_str(r, "name")?,
        bill_to: address(r)?,
        currency: get_str(r, "currency")?,
        invoice_email: get_str(r, "invoice_email")?,
        payment_method_id: get_opt_id(r, "payment_method_id")?,
        created_at: get_time(r, "created_at")?,
    })
}

fn owner_text(owner: Option<UserId>) -> Option<String> {
    owner.map(|u| u.to_string())
}

// ----- payment methods -----

pub async fn insert_method(conn: &mut Conn, m: &PaymentMethod) -> Result<()> {
    sqlx::query(
        "INSERT INTO payment_methods (id, tenant_id, owner_user_id, brand, last4, expiry_month, expiry_year, name_on_card, \
         address_line1, address_city, address_postal_code, address_country, provider_token, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(m.id.to_string())
    .bind(m.tenant_id.to_string())
    .bind(owner_text(m.owner))
    .bind(m.brand.as_str())
    .bind(&m.last4)
    .bind(m.expiry_month)
    .bind(m.expiry_year)
    .bind(&m.name_on_card)
    .bind(&m.address.line1)
    .bind(&m.address.city)
    .bind(&m.address.postal_code)
    .bind(&m.address.country)
    .bind(&m.provider_token)
    .bind(us(m.created_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A card of the organization's account `owner` (None: the central account).
pub async fn get_method(
    conn: &mut Conn,
    tenant: TenantId,
    owner: Option<UserId>,
    id: PaymentMethodId,
) -> Result<Option<PaymentMethod>> {
    let r = sqlx::query(
        "SELECT * FROM payment_methods WHERE id = $1 AND tenant_id = $2 AND owner_user_id IS NOT DISTINCT FROM $3",
    )
    .bind(id.to_string())
    .bind(tenant.to_string())
    .bind(owner_text(owner))
    .fetch_optional(&mut *conn)
    .await?;
    r.as_ref().map(map_method).transpose()
}

/// A card of the organization, whoever's it is (for showing a profile's card).
pub async fn get_method_any_owner(
    conn: &mut Conn,
    tenant: TenantId,
    id: PaymentMethodId,
) -> Result<Option<PaymentMethod>> {
    let r = sqlx::query("SELECT * FROM payment_methods WHERE id = $1 AND tenant_id = $2")
        .bind(id.to_string())
        .bind(tenant.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    r.as_ref().map(map_method).transpose()
}

/// The cards of `owner` (None: the central account), oldest first.
pub async fn list_methods(
    conn: &mut Conn,
    tenant: TenantId,
    owner: Option<UserId>,
) -> Result<Vec<PaymentMethod>> {
    let rows = sqlx::query(
        "SELECT * FROM payment_methods WHERE tenant_id = $1 AND owner_user_id IS NOT DISTINCT FROM $2 ORDER BY created_at, id",
    )
    .bind(tenant.to_string())
    .bind(owner_text(owner))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(map_method).collect()
}

/// Writes a card's expiry, name and billing address.
pub async fn update_method(conn: &mut Conn, m: &PaymentMethod) -> Result<()> {
    sqlx::query(
        "UPDATE payment_methods SET expiry_month = $3, expiry_year = $4, name_on_card = $5, address_line1 = $6, \
         address_city = $7, address_postal_code = $8, address_country = $9 WHERE id = $1 AND tenant_id = $2",
    )
    .bind(m.id.to_string())
    .bind(m.tenant_id.to_string())
    .bind(m.expiry_month)
    .bind(m.expiry_year)
    .bind(&m.name_on_card)
    .bind(&m.address.line1)
    .bind(&m.address.city)
    .bind(&m.address.postal_code)
    .bind(&m.address.country)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Locks a card's row for the rest of the transaction (PostgreSQL row lock; SQLite write
/// transactions are serialized anyway), so that deleting it and choosing it for a profile
/// cannot interleave. False if there is no such card.
pub async fn lock_method(conn: &mut Conn, tenant: TenantId, id: PaymentMethodId) -> Result<bool> {
    let r =
        sqlx::query("UPDATE payment_methods SET last4 = last4 WHERE id = $1 AND tenant_id = $2")
            .bind(id.to_string())
            .bind(tenant.to_string())
            .execute(&mut *conn)
            .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn delete_method(conn: &mut Conn, tenant: TenantId, id: PaymentMethodId) -> Result<bool> {
    let r = sqlx::query("DELETE FROM payment_methods WHERE id = $1 AND tenant_id = $2")
        .bind(id.to_string())
        .bind(tenant.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// What uses a card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardUse {
    /// The billing profile with this name.
    Profile(String),
    /// A subscription that is not Deleted and charges it (renewals, added licenses, a
    /// trial's conversion).
    Subscription {
        commerce_id: String,
        sku_id: seatkeeper_domain::SkuId,
    },
}

/// What uses a card, or None when nothing does and it may be deleted: billing profiles, and
/// subscriptions that are not Deleted and charge it.
pub async fn payment_method_in_use(
    conn: &mut Conn,
    tenant: TenantId,
    id: PaymentMethodId,
) -> Result<Option<CardUse>> {
    let r = sqlx::query(
        "SELECT name FROM billing_profiles WHERE tenant_id = $1 AND payment_method_id = $2 ORDER BY created_at LIMIT 1",
    )
    .bind(tenant.to_string())
    .bind(id.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(r) = r {
        return Ok(Some(CardUse::Profile(get_str(&r, "name")?)));
    }
    let r = sqlx::query(
        "SELECT commerce_id, sku_id FROM subscriptions WHERE tenant_id = $1 AND payment_method_id = $2 AND status <> 'Deleted' ORDER BY created_at LIMIT 1",
    )
    .bind(tenant.to_string())
    .bind(id.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    match r {
        Some(r) => Ok(Some(CardUse::Subscription {
            commerce_id: get_str(&r, "commerce_id")?,
            sku_id: get_id(&r, "sku_id")?,
        })),
        None => Ok(None),
    }
}

// ----- accounts and profiles -----

pub async fn get_account(
    conn: &mut Conn,
    tenant: TenantId,
    owner: Option<UserId>,
) -> Result<Option<BillingAccount>> {
    let r = sqlx::query(
        "SELECT * FROM billing_accounts WHERE tenant_id = $1 AND owner_user_id IS NOT DISTINCT FROM $2",
    )
    .bind(tenant.to_string())
    .bind(owner_text(owner))
    .fetch_optional(&mut *conn)
    .await?;
    r.as_ref().map(map_account).transpose()
}

pub async fn get_account_by_id(
    conn: &mut Conn,
    tenant: TenantId,
    id: BillingAccountId,
) -> Result<Option<BillingAccount>> {
    let r = sqlx::query("SELECT * FROM billing_accounts WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.to_string())
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    r.as_ref().map(map_account).transpose()
}

/// The organization's accounts: the central one first, then the purchasers' by age.
pub async fn list_accounts(conn: &mut Conn, tenant: TenantId) -> Result<Vec<BillingAccount>> {
    let rows = sqlx::query(
        "SELECT * FROM billing_accounts WHERE tenant_id = $1 \
         ORDER BY CASE WHEN owner_user_id IS NULL THEN 0 ELSE 1 END, created_at, id",
    )
    .bind(tenant.to_string())
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(map_account).collect()
}

/// Inserts an account unless the owner has one already (created concurrently, say): true if
/// this one was inserted.
pub async fn insert_account(conn: &mut Conn, a: &BillingAccount) -> Result<bool> {
    let r = sqlx::query(
        "INSERT INTO billing_accounts (id, tenant_id, owner_user_id, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(a.id.to_string())
    .bind(a.tenant_id.to_string())
    .bind(owner_text(a.owner))
    .bind(us(a.created_at))
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn insert_profile(conn: &mut Conn, p: &BillingProfile) -> Result<()> {
    sqlx::query(
        "INSERT INTO billing_profiles (id, tenant_id, account_id, name, address_line1, address_city, address_postal_code, \
         address_country, currency, invoice_email, payment_method_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(p.id.to_string())
    .bind(p.tenant_id.to_string())
    .bind(p.account_id.to_string())
    .bind(&p.name)
    .bind(&p.bill_to.line1)
    .bind(&p.bill_to.city)
    .bind(&p.bill_to.postal_code)
    .bind(&p.bill_to.country)
    .bind(&p.currency)
    .bind(&p.invoice_email)
    .bind(p.payment_method_id.map(|m| m.to_string()))
    .bind(us(p.created_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn update_profile(conn: &mut Conn, p: &BillingProfile) -> Result<()> {
    sqlx::query(
        "UPDATE billing_profiles SET name = $3, address_line1 = $4, address_city = $5, address_postal_code = $6, \
         address_country = $7, invoice_email = $8, payment_method_id = $9 WHERE id = $1 AND tenant_id = $2",
    )
    .bind(p.id.to_string())
    .bind(p.tenant_id.to_string())
    .bind(&p.name)
    .bind(&p.bill_to.line1)
    .bind(&p.bill_to.city)
    .bind(&p.bill_to.postal_code)
    .bind(&p.bill_to.country)
    .bind(&p.invoice_email)
    .bind(p.payment_method_id.map(|m| m.to_string()))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn profile_of_account(
    conn: &mut Conn,
    tenant: TenantId,
    account: BillingAccountId,
) -> Result<Option<BillingProfile>> {
    let r = sqlx::query("SELECT * FROM billing_profiles WHERE tenant_id = $1 AND account_id = $2")
        .bind(tenant.to_string())
        .bind(account.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    r.as_ref().map(map_profile).transpose()
}

pub async fn get_profile(
    conn: &mut Conn,
    tenant: TenantId,
    id: BillingProfileId,
) -> Result<Option<BillingProfile>> {
    let r = sqlx::query("SELECT * FROM billing_profiles WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.to_string())
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    r.as_ref().map(map_profile).transpose()
}
