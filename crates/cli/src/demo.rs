//! The demo organization for `serve --demo`: users, groups, subscriptions and licenses.

use anyhow::Context;
use seatkeeper_app::directory::UserInput;
use seatkeeper_app::licenses::LicenseSpec;
use seatkeeper_app::tenants::Bootstrap;
use seatkeeper_app::{Actor, App, AppError};
use seatkeeper_domain::lifecycle::BillingFrequency;
use seatkeeper_domain::roles::Role;

pub const DEMO_TENANT: &str = "Contoso (demo)";
pub const DEMO_ADMIN: &str = "admin@contoso.example";
/// The demo Global admin's well-known password (the demo's data is made up; anyone who can
/// reach a demo server may sign in with it until it is changed).
pub const DEMO_PASSWORD: &str = "Contoso-demo-1";

/// The demo organization and how its Global admin signs in.
pub struct Demo {
    pub bootstrap: Bootstrap,
    pub password: DemoPassword,
}

/// The demo Global admin's password, as far as the server can tell.
pub enum DemoPassword {
    /// This password works.
    Works(&'static str),
    /// The admin changed it since the demo set it; it is not known.
    Changed,
}

const PEOPLE: &[(&str, &str, &str)] = &[
    ("Adele", "Vance", "Marketing"),
    ("Alex", "Wilber", "Sales"),
    ("Allan", "Deyoung", "IT"),
    ("Christie", "Cline", "Finance"),
    ("Debra", "Berger", "Executive"),
    ("Diego", "Siciliani", "HR"),
    ("Grady", "Archie", "Engineering"),
    ("Henrietta", "Mueller", "Engineering"),
    ("Isaiah", "Langer", "Sales"),
    ("Johanna", "Lorenz", "Engineering"),
    ("Joni", "Sherman", "Legal"),
    ("Lee", "Gu", "Manufacturing"),
    ("Lidia", "Holloway", "Engineering"),
    ("Lynne", "Robbins", "Retail"),
    ("Megan", "Bowen", "Marketing"),
    ("Miriam", "Graham", "Executive"),
    ("Nestor", "Wilke", "Operations"),
    ("Patti", "Fernandez", "Executive"),
    ("Pradeep", "Gupta", "Finance"),
    ("Sofia", "Lindqvist", "Sales"),
];

/// Creates the demo organization once; on later starts issues a fresh token for its admin.
pub async fn ensure_demo(app: &App) -> anyhow::Result<Demo> {
    let err = |e: seatkeeper_app::AppError| anyhow::anyhow!("{e}");
    if let Some(d) = reuse_demo(app).await? {
        return Ok(d);
    }
    let b = match app
        .create_tenant_with_password(
            DEMO_TENANT,
            DEMO_ADMIN,
            Some("US"),
            Some("USD"),
            Some(DEMO_PASSWORD),
        )
        .await
    {
        Ok(b) => b,
        // Another server on the same database created it a moment ago.
        Err(AppError::Conflict { .. }) => {
            return reuse_demo(app)
                .await?
                .context("the demo organization exists but cannot be found");
        }
        Err(e) => return Err(err(e)),
    };
    let actor = Actor::operator(b.tenant_id);
    let catalog = app.catalog();
    let sku = |part: &str| catalog.find_product(part).map(|p| p.sku_id);

    let mut upns = Vec::new();
    for (i, (first, last, dept)) in PEOPLE.iter().enumerate() {
        let upn = format!(
            "{}.{}@contoso.example",
            first.to_lowercase(),
            last.to_lowercase()
        );
        let input = UserInput {
            user_principal_name: Some(upn.clone()),
            display_name: Some(format!("{first} {last}")),
            given_name: Some(Some(first.to_string())),
            surname: Some(Some(last.to_string())),
            department: Some(Some(dept.to_string())),
            // A few users without a usage location, to show the check (the tenant default fills in).
            usage_location: Some(if i % 7 == 3 {
                None
            } else {
                Some(if i % 3 == 0 { "DK" } else { "US" }.to_string())
            }),
            ..Default::default()
        };
        app.create_user(&actor, &input).await.map_err(err)?;
        upns.push(upn);
    }
    let guest = UserInput {
        user_principal_name: Some("pat.partner_fabrikam.example_ext@contoso.example".into()),
        display_name: Some("Pat Partner (Fabrikam)".into()),
        mail: Some(Some("pat.partner@fabrikam.example".into())),
        user_type: Some("Guest".into()),
        usage_location: Some(Some("GB".into())),
        ..Default::default()
    };
    app.create_user(&actor, &guest).await.map_err(err)?;
    let billing = UserInput {
        user_principal_name: Some("billing@contoso.example".into()),
        display_name: Some("Billing Office".into()),
        usage_location: Some(Some("US".into())),
        ..Default::default()
    };
    app.create_user(&actor, &billing).await.map_err(err)?;
    app.set_user_roles(&actor, "billing@contoso.example", &[Role::BillingAdmin])
        .await
        .map_err(err)?;
    app.set_user_roles(&actor, &upns[2], &[Role::LicenseAdmin])
        .await
        .map_err(err)?;

    for (name, members) in [
        ("Engineering", &["Engineering"][..]),
        ("Sales and Marketing", &["Sales", "Marketing"][..]),
        ("Leadership", &["Executive"][..]),
    ] {
        let g = app
            .create_group(
                &actor,
                name,
                Some(format!("Everyone in {}", members.join(" and "))),
                None,
            )
            .await
            .map_err(err)?;
        for (i, (_, _, dept)) in PEOPLE.iter().enumerate() {
            if members.contains(dept) {
                app.add_group_member(&actor, &g.id.to_string(), &upns[i])
                    .await
                    .map_err(err)?;
            }
        }
    }

    let buy = |part: &'static str, n: i64, f: BillingFrequency| {
        let actor = actor.clone();
        let s = sku(part);
        async move {
            let s = s.with_context(|| format!("demo catalog has no {part}"))?;
            app.buy(&actor, s, n, f).await.map_err(err)
        }
    };
    buy("SUITE_STANDARD", 15, BillingFrequency::Annual).await?;
    buy("SUITE_PREMIUM", 5, BillingFrequency::Annual).await?;
    buy("SUITE_PREMIUM", 8, BillingFrequency::Monthly).await?;
    buy("MAIL_PLAN1", 10, BillingFrequency::Monthly).await?;
    buy("CHAT_ESSENTIALS", 10, BillingFrequency::Monthly).await?;
    buy("PHONE_SYSTEM", 5, BillingFrequency::Monthly).await?;
    buy("EXTRA_STORAGE", 100, BillingFrequency::Annual).await?;

    let standard = sku("SUITE_STANDARD").context("SUITE_STANDARD")?;
    let premium = sku("SUITE_PREMIUM").context("SUITE_PREMIUM")?;
    app.assign_product(&actor, standard, &upns[0..12], &[])
        .await
        .map_err(err)?;
    app.assign_product(&actor, premium, &upns[12..20], &[])
        .await
        .map_err(err)?;
    let phone = sku("PHONE_SYSTEM").context("PHONE_SYSTEM")?;
    app.assign_license(
        &actor,
        &upns[4],
        vec![LicenseSpec {
            sku_id: phone,
            disabled_plans: vec![],
        }],
        vec![],
    )
    .await
    .map_err(err)?;
    Ok(Demo {
        bootstrap: b,
        password: DemoPassword::Works(DEMO_PASSWORD),
    })
}

/// A fresh token for the demo organization's admin (revoking the demo tokens of earlier starts),
/// if the organization exists, and whether the demo password still works (an admin without a password, from before passwords, gets it).
async fn reuse_demo(app: &App) -> anyhow::Result<Option<Demo>> {
    let err = |e: AppError| anyhow::anyhow!("{e}");
    let key = seatkeeper_domain::tenant::name_key(DEMO_TENANT);
    let Some(t) = app
        .list_tenants()
        .await
        .map_err(err)?
        .into_iter()
        .find(|t| seatkeeper_domain::tenant::name_key(&t.name) == key)
    else {
        return Ok(None);
    };
    let actor = Actor::operator(t.id);
    let admin = app
        .get_user(&actor, DEMO_ADMIN)
        .await
        .map_err(err)
        .context("the demo organization has no admin")?;
    // One active demo token at a time: the new one replaces those printed by earlier starts
    // (the first start's is the organization's "bootstrap" token); a token's secret is kept
    // only as a hash, so it cannot be printed again.
    let earlier: Vec<_> = app
        .list_tokens(&actor, admin.id)
        .await
        .map_err(err)?
        .into_iter()
        .filter(|t| matches!(t.name.as_str(), "demo" | "bootstrap") && t.revoked_at.is_none())
        .map(|t| t.id)
        .collect();
    let token = app
        .create_token(&actor, admin.id, "demo", None)
        .await
        .map_err(err)?;
    for id in earlier {
        app.revoke_token(&actor, id).await.map_err(err)?;
    }
    let key = admin.id.to_string();
    let password = if !app.has_password(&actor, &key).await.map_err(err)? {
        app.set_password(&actor, &key, DEMO_PASSWORD, false)
            .await
            .map_err(err)?;
        DemoPassword::Works(DEMO_PASSWORD)
    } else if app
        .password_is(&actor, &key, DEMO_PASSWORD)
        .await
        .map_err(err)?
    {
        DemoPassword::Works(DEMO_PASSWORD)
    } else {
        DemoPassword::Changed
    };
    Ok(Some(Demo {
        bootstrap: Bootstrap {
            tenant_id: t.id,
            tenant_name: t.name,
            admin_user_id: admin.id,
            admin_user_principal_name: admin.upn,
            token: token.token,
            initial_password: None,
        },
        password,
    }))
}
