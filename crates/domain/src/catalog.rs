//! The operator's product catalog: service plans and products (SKUs), loaded from TOML or JSON.
//!
//! A catalog is validated as a whole; a bad file is refused with the line and the problem.

use crate::{PlanId, SkuId};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use toml::Spanned;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AppliesTo {
    User,
    Company,
}

impl AppliesTo {
    pub fn as_str(self) -> &'static str {
        match self {
            AppliesTo::User => "User",
            AppliesTo::Company => "Company",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePlan {
    pub id: PlanId,
    pub name: String,
    pub display_name: String,
    /// Plans that must be enabled for the same user for this one to work.
    pub requires: Vec<PlanId>,
    /// Plans that may not be enabled together with this one (symmetric).
    pub excludes: Vec<PlanId>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Trial {
    pub days: u32,
    pub licenses: u32,
    #[serde(default)]
    pub needs_payment_method: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Price {
    pub currency: String,
    /// Minor units per license per month, when billed monthly.
    pub monthly: i64,
    /// Minor units per license per year, when billed annually.
    pub annual: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    pub sku_id: SkuId,
    pub sku_part_number: String,
    pub product_id: String,
    pub name: String,
    pub applies_to: AppliesTo,
    pub self_service: bool,
    pub plans: Vec<PlanId>,
    pub trial: Option<Trial>,
    pub prices: Vec<Price>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Catalog {
    pub plans: Vec<ServicePlan>,
    pub products: Vec<Product>,
    #[serde(skip)]
    plan_index: HashMap<PlanId, usize>,
    #[serde(skip)]
    product_index: HashMap<SkuId, usize>,
    /// Per product (same index as `products`): whether one of its plans requires or excludes
    /// another (L5). A user whose products have none can break no plan rule.
    #[serde(skip)]
    product_has_rules: Vec<bool>,
}

/// A catalog file that was refused: where, and what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
pub struct CatalogError {
    pub line: Option<usize>,
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalog {
    #[serde(default)]
    plan: Vec<Spanned<RawPlan>>,
    #[serde(default)]
    product: Vec<Spanned<RawProduct>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlan {
    id: String,
    name: String,
    display_name: String,
    #[serde(default)]
    requires: Vec<String>,
    #[serde(default)]
    excludes: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProduct {
    sku_id: String,
    sku_part_number: String,
    product_id: String,
    name: String,
    applies_to: String,
    #[serde(default)]
    self_service: bool,
    plans: Vec<String>,
    trial: Option<RawTrial>,
    #[serde(default)]
    prices: Vec<Price>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTrial {
    days: u32,
    licenses: u32,
    #[serde(default)]
    needs_payment_method: bool,
}

/// JSON catalogs have the same fields as TOML ones, without line spans.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJsonCatalog {
    #[serde(default)]
    plan: Vec<RawPlan>,
    #[serde(default)]
    product: Vec<RawProduct>,
}

fn line_of(src: &str, offset: usize) -> usize {
    src[..offset.min(src.len())]
        .bytes()
        .filter(|b| *b == b'\n')
        .count()
        + 1
}

impl Catalog {
    /// The demo catalog that ships inside the binary.
    pub fn demo() -> Catalog {
        Catalog::parse_toml(DEMO_CATALOG).unwrap_or_default()
    }

    /// Parses a catalog; `name` decides the format (`.json` is JSON, anything else TOML).
    pub fn parse_named(name: &str, src: &str) -> Result<Catalog, CatalogError> {
        if name.to_ascii_lowercase().ends_with(".json") {
            Catalog::parse_json(src)
        } else {
            Catalog::parse_toml(src)
        }
    }

    pub fn parse_toml(src: &str) -> Result<Catalog, CatalogError> {
        let raw: RawCatalog = toml::from_str(src).map_err(|e| CatalogError {
            line: e.span().map(|s| line_of(src, s.start)),
            message: e.message().trim().to_string(),
        })?;
        let plans = raw
            .plan
            .into_iter()
            .map(|s| (Some(line_of(src, s.span().start)), s.into_inner()))
            .collect();
        let products = raw
            .product
            .into_iter()
            .map(|s| (Some(line_of(src, s.span().start)), s.into_inner()))
            .collect();
        Catalog::build(plans, products)
    }

    pub fn parse_json(src: &str) -> Result<Catalog, CatalogError> {
        let raw: RawJsonCatalog = serde_json::from_str(src).map_err(|e| CatalogError {
            line: Some(e.line()),
            message: e.to_string(),
        })?;
        Catalog::build(
            raw.plan.into_iter().map(|p| (None, p)).collect(),
            raw.product.into_iter().map(|p| (None, p)).collect(),
        )
    }

    fn build(
        plans: Vec<(Option<usize>, RawPlan)>,
        products: Vec<(Option<usize>, RawProduct)>,
    ) -> Result<Catalog, CatalogError> {
        let err = |line: Option<usize>, message: String| CatalogError { line, message };
        if products.is_empty() {
            return Err(err(None, "the catalog has no [[product]] entries".into()));
        }
        let mut by_name: HashMap<String, PlanId> = HashMap::new();
        let mut seen_ids = HashSet::new();
        for (line, p) in &plans {
            let id = PlanId::parse(&p.id).ok_or_else(|| {
                err(
                    *line,
                    format!("plan '{}': id '{}' is not a UUID", p.name, p.id),
                )
            })?;
            if p.name.trim().is_empty() {
                return Err(err(*line, "a plan has an empty name".into()));
            }
            if !seen_ids.insert(id) {
                return Err(err(
                    *line,
                    format!("plan '{}': id {id} is used by another plan", p.name),
                ));
            }
            if by_name.insert(p.name.clone(), id).is_some() {
                return Err(err(
                    *line,
                    format!("plan name '{}' is defined twice", p.name),
                ));
            }
        }
        let resolve = |line: Option<usize>,
                       owner: &str,
                       field: &str,
                       names: &[String]|
         -> Result<Vec<PlanId>, CatalogError> {
            let mut out = Vec::with_capacity(names.len());
            for n in names {
                let id = by_name.get(n).ok_or_else(|| {
                    err(
                        line,
                        format!("{owner}: {field} names plan '{n}', which no [[plan]] defines"),
                    )
                })?;
                if !out.contains(id) {
                    out.push(*id);
                }
            }
            Ok(out)
        };
        let mut out_plans = Vec::with_capacity(plans.len());
        for (line, p) in &plans {
            let owner = format!("plan '{}'", p.name);
            let requires = resolve(*line, &owner, "requires", &p.requires)?;
            let excludes = resolve(*line, &owner, "excludes", &p.excludes)?;
            let id = by_name[&p.name];
            if requires.contains(&id) || excludes.contains(&id) {
                return Err(err(
                    *line,
                    format!("{owner} cannot require or exclude itself"),
                ));
            }
            if let Some(both) = requires.iter().find(|r| excludes.contains(r)) {
                let n = plans
                    .iter()
                    .find(|(_, q)| by_name[&q.name] == *both)
                    .map(|(_, q)| q.name.as_str())
                    .unwrap_or("?");
                return Err(err(
                    *line,
                    format!("{owner} both requires and excludes '{n}'"),
                ));
            }
            out_plans.push(ServicePlan {
                id,
                name: p.name.clone(),
                display_name: p.display_name.clone(),
                requires,
                excludes,
            });
        }
        // Exclusion is symmetric: if A excludes B, B excludes A.
        let pairs: Vec<(PlanId, PlanId)> = out_plans
            .iter()
            .flat_map(|p| p.excludes.iter().map(move |x| (p.id, *x)))
            .collect();
        for (a, b) in pairs {
            if let Some(pb) = out_plans.iter_mut().find(|p| p.id == b)
                && !pb.excludes.contains(&a)
            {
                pb.excludes.push(a);
            }
        }

        let mut out_products = Vec::with_capacity(products.len());
        let mut skus = HashSet::new();
        let mut parts = HashSet::new();
        for (line, p) in products {
            let owner = format!("product '{}'", p.sku_part_number);
            let sku_id = SkuId::parse(&p.sku_id).ok_or_else(|| {
                err(
                    line,
                    format!("{owner}: sku_id '{}' is not a UUID", p.sku_id),
                )
            })?;
            if p.sku_part_number.trim().is_empty()
                || p.sku_part_number.chars().any(|c| c.is_whitespace())
            {
                return Err(err(
                    line,
                    format!("{owner}: sku_part_number must be one word, like SUITE_E3"),
                ));
            }
            if !skus.insert(sku_id) {
                return Err(err(
                    line,
                    format!("{owner}: sku_id {sku_id} is used by another product"),
                ));
            }
            if !parts.insert(p.sku_part_number.clone()) {
                return Err(err(
                    line,
                    format!("sku_part_number '{}' is used twice", p.sku_part_number),
                ));
            }
            if p.name.trim().is_empty() {
                return Err(err(line, format!("{owner}: name is empty")));
            }
            let applies_to = match p.applies_to.as_str() {
                "User" => AppliesTo::User,
                "Company" => AppliesTo::Company,
                other => {
                    return Err(err(
                        line,
                        format!("{owner}: applies_to is '{other}'; use \"User\" or \"Company\""),
                    ));
                }
            };
            if p.plans.is_empty() {
                return Err(err(
                    line,
                    format!("{owner}: plans is empty; a product needs at least one service plan"),
                ));
            }
            let plan_ids = resolve(line, &owner, "plans", &p.plans)?;
            let mut currencies = HashSet::new();
            for price in &p.prices {
                if price.currency.len() != 3
                    || !price.currency.bytes().all(|b| b.is_ascii_uppercase())
                {
                    return Err(err(
                        line,
                        format!(
                            "{owner}: currency '{}' is not a three-letter ISO 4217 code like \"USD\"",
                            price.currency
                        ),
                    ));
                }
                if !currencies.insert(price.currency.clone()) {
                    return Err(err(
                        line,
                        format!("{owner}: currency {} has two prices", price.currency),
                    ));
                }
                if price.monthly < 0 || price.annual < 0 {
                    return Err(err(line, format!("{owner}: prices cannot be negative")));
                }
            }
            let trial = match p.trial {
                Some(t) if t.days == 0 || t.licenses == 0 => {
                    return Err(err(
                        line,
                        format!("{owner}: a trial needs at least 1 day and 1 license"),
                    ));
                }
                Some(t) => Some(Trial {
                    days: t.days,
                    licenses: t.licenses,
                    needs_payment_method: t.needs_payment_method,
                }),
                None => None,
            };
            out_products.push(Product {
                sku_id,
                sku_part_number: p.sku_part_number,
                product_id: p.product_id,
                name: p.name,
                applies_to,
                self_service: p.self_service,
                plans: plan_ids,
                trial,
                prices: p.prices,
            });
        }
        let mut c = Catalog {
            plans: out_plans,
            products: out_products,
            ..Default::default()
        };
        c.reindex();
        Ok(c)
    }

    fn reindex(&mut self) {
        self.plan_index = self
            .plans
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id, i))
            .collect();
        self.product_index = self
            .products
            .iter()
            .enumerate()
            .map(|(i, p)| (p.sku_id, i))
            .collect();
        let plan_index = &self.plan_index;
        let plans = &self.plans;
        self.product_has_rules = self
            .products
            .iter()
            .map(|p| {
                p.plans.iter().any(|id| {
                    plan_index.get(id).is_some_and(|i| {
                        !plans[*i].requires.is_empty() || !plans[*i].excludes.is_empty()
                    })
                })
            })
            .collect();
    }

    pub fn product(&self, sku: SkuId) -> Option<&Product> {
        self.product_index.get(&sku).map(|i| &self.products[*i])
    }

    /// Whether one of the product's plans requires or excludes another plan (L5); false for
    /// a product the catalog does not have (it turns on no plan).
    pub fn has_plan_rules(&self, sku: SkuId) -> bool {
        self.product_index
            .get(&sku)
            .is_some_and(|i| self.product_has_rules.get(*i).copied().unwrap_or(true))
    }

    pub fn plan(&self, id: PlanId) -> Option<&ServicePlan> {
        self.plan_index.get(&id).map(|i| &self.plans[*i])
    }

    /// The product's SKU part number, or its id if the catalog no longer has it.
    pub fn part_number(&self, sku: SkuId) -> String {
        self.part_number_ref(sku).into_owned()
    }

    /// [`Catalog::part_number`], borrowed from the catalog when it has the product.
    pub fn part_number_ref(&self, sku: SkuId) -> Cow<'_, str> {
        self.product(sku).map_or_else(
            || Cow::Owned(sku.to_string()),
            |p| Cow::Borrowed(p.sku_part_number.as_str()),
        )
    }

    /// The service plan's name, or its id if the catalog no longer has it.
    pub fn plan_name(&self, id: PlanId) -> String {
        self.plan_name_ref(id).into_owned()
    }

    /// [`Catalog::plan_name`], borrowed from the catalog when it has the plan.
    pub fn plan_name_ref(&self, id: PlanId) -> Cow<'_, str> {
        self.plan(id).map_or_else(
            || Cow::Owned(id.to_string()),
            |p| Cow::Borrowed(p.name.as_str()),
        )
    }

    /// Finds a product by SKU id or part number (case-insensitive), for the CLI.
    pub fn find_product(&self, key: &str) -> Option<&Product> {
        if let Some(id) = SkuId::parse(key) {
            return self.product(id);
        }
        self.products
            .iter()
            .find(|p| p.sku_part_number.eq_ignore_ascii_case(key.trim()))
    }

    /// Plan names by id, for messages.
    pub fn plan_names(&self) -> BTreeMap<PlanId, String> {
        self.plans.iter().map(|p| (p.id, p.name.clone())).collect()
    }
}

/// The demo catalog shipped in the binary.
pub const DEMO_CATALOG: &str = include_str!("demo_catalog.toml");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_catalog_loads_and_has_what_the_demo_needs() {
        let c = Catalog::parse_toml(DEMO_CATALOG).expect("demo catalog parses");
        assert!(c.products.len() >= 8);
        assert!(c.plans.iter().any(|p| !p.excludes.is_empty()));
        assert!(c.plans.iter().any(|p| !p.requires.is_empty()));
        // Some plan is shared between products.
        let shared = c.plans.iter().any(|p| {
            c.products
                .iter()
                .filter(|x| x.plans.contains(&p.id))
                .count()
                > 1
        });
        assert!(shared);
    }

    #[test]
    fn unknown_plan_reference_is_refused_with_its_line() {
        let src = r#"
[[plan]]
id = "11111111-1111-1111-1111-111111111111"
name = "A"
display_name = "A"

[[product]]
sku_id = "22222222-2222-2222-2222-222222222222"
sku_part_number = "P"
product_id = "CFQ7TTC0AAAA"
name = "P"
applies_to = "User"
plans = ["A", "B"]
"#;
        let e = Catalog::parse_toml(src).unwrap_err();
        assert_eq!(e.line, Some(7));
        assert!(e.message.contains("'B'"), "{e}");
    }

    #[test]
    fn syntax_error_names_the_line() {
        let e = Catalog::parse_toml("[[plan]]\nid = \n").unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
    }

    #[test]
    fn bad_applies_to_and_duplicate_sku() {
        let base = |applies: &str, sku2: &str| {
            format!(
                "[[plan]]\nid = \"11111111-1111-1111-1111-111111111111\"\nname = \"A\"\ndisplay_name = \"A\"\n\
             [[product]]\nsku_id = \"22222222-2222-2222-2222-222222222222\"\nsku_part_number = \"P\"\nproduct_id = \"X\"\nname = \"P\"\napplies_to = \"{applies}\"\nplans = [\"A\"]\n\
             [[product]]\nsku_id = \"{sku2}\"\nsku_part_number = \"Q\"\nproduct_id = \"X\"\nname = \"Q\"\napplies_to = \"User\"\nplans = [\"A\"]\n"
            )
        };
        let e = Catalog::parse_toml(&base("Device", "33333333-3333-3333-3333-333333333333"))
            .unwrap_err();
        assert!(e.message.contains("applies_to"), "{e}");
        let e =
            Catalog::parse_toml(&base("User", "22222222-2222-2222-2222-222222222222")).unwrap_err();
        assert!(e.message.contains("used by another product"), "{e}");
        assert_eq!(e.line, Some(12));
    }

    #[test]
    fn exclusion_is_made_symmetric() {
        let c = Catalog::demo();
        for p in &c.plans {
            for x in &p.excludes {
                assert!(c.plan(*x).unwrap().excludes.contains(&p.id));
            }
        }
    }
}
