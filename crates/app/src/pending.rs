// TEMPORARY: replaced by the policy and payment code when it lands. Not committed.
use crate::{App, AppResult};
use seatkeeper_domain::kinds::PolicyValue;
use seatkeeper_domain::{PaymentMethodId, SkuId, TenantId, UserId};
use seatkeeper_store::Conn;

impl App {
    pub(crate) async fn policy_value(
        &self,
        _tx: &mut Conn,
        _t: TenantId,
        _s: SkuId,
    ) -> AppResult<PolicyValue> {
        Ok(PolicyValue::Enabled)
    }
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn charge_payment_method(
        &self,
        _tx: &mut Conn,
        _t: TenantId,
        _u: UserId,
        _m: PaymentMethodId,
        _a: i64,
        _c: &str,
        _d: &str,
        _k: &str,
    ) -> AppResult<String> {
        Ok("ch_test".into())
    }
    pub(crate) async fn check_payment_method(
        &self,
        _tx: &mut Conn,
        _t: TenantId,
        _u: UserId,
        _m: PaymentMethodId,
    ) -> AppResult<()> {
        Ok(())
    }
}
