//! What a client sends to change a menu — items, categories, option
//! groups — with the checks of its shape that need no service (prices
//! exact in the restaurant's currency), turned into restaurant-svc's
//! requests.

use foodmesh_proto::restaurant::v1 as pb;
use foodmesh_shared::values::limits;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::extract::NestedId;
use crate::money::DecimalText;
use crate::problem::Problem;
use crate::validate::{Violations, nullable};

/// The body of `POST /api/restaurants/{id}/menu`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({
    "name": "Margherita", "description": "Tomato, mozzarella, basil", "price": 12.99,
    "category_id": 2, "option_group_ids": [1]
}))]
pub struct NewMenuItem {
    #[schema(max_length = 200)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Price in the restaurant's currency, not negative, no finer than its
    /// minor unit.
    pub price: DecimalText,
    /// Category to put it in.
    #[serde(default)]
    pub category_id: Option<i64>,
    /// Default true.
    #[serde(default)]
    pub available: Option<bool>,
    #[serde(default)]
    pub image_url: String,
    /// Option groups offered with it.
    #[serde(default)]
    pub option_group_ids: Vec<i64>,
    /// Order within its category; default last.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1_000_000)]
    pub position: Option<i32>,
}

impl NewMenuItem {
    pub(super) fn into_proto(
        self,
        restaurant_id: i64,
        currency: &str,
    ) -> Result<pb::CreateMenuItemRequest, Problem> {
        let mut v = Violations::new();
        v.required("name", &self.name, limits::MENU_ITEM_NAME);
        v.at_most("description", &self.description, limits::DESCRIPTION);
        let price_minor = v.amount("price", &self.price, currency);
        if let Some(category) = self.category_id {
            v.id("category_id", category);
        }
        v.at_most("image_url", &self.image_url, limits::IMAGE_URL);
        for (i, id) in self.option_group_ids.iter().enumerate() {
            v.id(&format!("option_group_ids[{i}]"), *id);
        }
        v.position("position", self.position);
        v.finish()?;
        Ok(pb::CreateMenuItemRequest {
            restaurant_id,
            name: self.name,
            description: self.description,
            price_minor,
            category_id: self.category_id,
            available: self.available,
            image_url: self.image_url,
            option_group_ids: self.option_group_ids,
            position: self.position,
        })
    }
}

/// The body of `PATCH /api/restaurants/{id}/menu/{item_id}`: only the
/// fields sent change. `category_id: null` takes the item out of its
/// category; `option_group_ids` replaces the list.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(example = json!({"price": "13.49", "available": false}))]
pub struct MenuItemPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    /// New price; applies to orders placed from now on.
    pub price: Option<DecimalText>,
    /// New category, or null for none.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    pub category_id: Option<Option<i64>>,
    /// Mark sold out (false) or back (true).
    pub available: Option<bool>,
    pub image_url: Option<String>,
    /// Replaces the option groups.
    pub option_group_ids: Option<Vec<i64>>,
    #[schema(minimum = 0, maximum = 1_000_000)]
    pub position: Option<i32>,
}

impl MenuItemPatch {
    pub(super) fn into_proto(
        self,
        ids: NestedId,
        currency: &str,
    ) -> Result<pb::UpdateMenuItemRequest, Problem> {
        let mut v = Violations::new();
        v.required_if_some("name", self.name.as_deref(), limits::MENU_ITEM_NAME);
        v.at_most_if_some(
            "description",
            self.description.as_deref(),
            limits::DESCRIPTION,
        );
        v.at_most_if_some("image_url", self.image_url.as_deref(), limits::IMAGE_URL);
        let price_minor = self.price.as_ref().map(|p| v.amount("price", p, currency));
        if let Some(Some(category)) = self.category_id {
            v.id("category_id", category);
        }
        for (i, id) in self.option_group_ids.iter().flatten().enumerate() {
            v.id(&format!("option_group_ids[{i}]"), *id);
        }
        v.position("position", self.position);
        v.finish()?;
        Ok(pb::UpdateMenuItemRequest {
            restaurant_id: ids.restaurant_id,
            item_id: ids.id,
            name: self.name,
            description: self.description,
            price_minor,
            category_id: self.category_id.flatten(),
            clear_category: matches!(self.category_id, Some(None)),
            available: self.available,
            image_url: self.image_url,
            replace_option_groups: self.option_group_ids.is_some(),
            option_group_ids: self.option_group_ids.unwrap_or_default(),
            position: self.position,
        })
    }
}

/// The body of `POST /api/restaurants/{id}/categories`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"name": "Pizzas", "description": "Wood-fired", "position": 0}))]
pub struct NewCategory {
    #[schema(max_length = 100)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Display order; default last.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1_000_000)]
    pub position: Option<i32>,
}

/// The body of `PATCH /api/restaurants/{id}/categories/{category_id}`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(example = json!({"position": 1}))]
pub struct CategoryPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    #[schema(minimum = 0, maximum = 1_000_000)]
    pub position: Option<i32>,
}

/// One option in a group body. On create, leave `id` out; on update, an
/// option with an `id` keeps that option (orders refer to it), one without
/// is added, and options left out are removed.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"name": "Extra cheese", "price_delta": 1.50}))]
pub struct OptionInput {
    /// An existing option's id (updates only).
    #[serde(default)]
    pub id: Option<i64>,
    pub name: String,
    /// Price change in the restaurant's currency; default 0, may be negative.
    #[serde(default)]
    pub price_delta: Option<DecimalText>,
    /// Default true.
    #[serde(default)]
    pub available: Option<bool>,
}

pub(super) fn options_into_proto(
    options: Vec<OptionInput>,
    currency: &str,
    creating: bool,
    v: &mut Violations,
) -> Vec<pb::OptionInput> {
    options
        .into_iter()
        .enumerate()
        .map(|(i, o)| {
            match o.id {
                Some(_) if creating => {
                    v.add(format!("options[{i}].id"), "must not be set on a new group");
                }
                Some(id) => v.id(&format!("options[{i}].id"), id),
                None => {}
            }
            v.required(&format!("options[{i}].name"), &o.name, limits::OPTION_NAME);
            let price_delta_minor = o.price_delta.as_ref().map_or(0, |d| {
                v.signed_amount(&format!("options[{i}].price_delta"), d, currency)
            });
            pb::OptionInput {
                id: o.id,
                name: o.name,
                price_delta_minor,
                available: o.available,
            }
        })
        .collect()
}

/// The body of `POST /api/restaurants/{id}/option-groups`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({
    "name": "Toppings", "min_select": 0, "max_select": 3,
    "options": [{"name": "Extra cheese", "price_delta": 1.50}, {"name": "No onions"}]
}))]
pub struct NewOptionGroup {
    #[schema(max_length = 100)]
    pub name: String,
    /// Fewest options to choose; default 0.
    #[serde(default)]
    #[schema(maximum = 50)]
    pub min_select: u32,
    /// Most options to choose; default 0, meaning no limit.
    #[serde(default)]
    #[schema(maximum = 50)]
    pub max_select: u32,
    #[serde(default)]
    pub options: Vec<OptionInput>,
}

/// The body of `PATCH /api/restaurants/{id}/option-groups/{group_id}`;
/// `options`, when sent, replaces the group's options.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(example = json!({"max_select": 2, "options": [{"id": 5, "name": "Extra cheese", "price_delta": "1.75"}]}))]
pub struct OptionGroupPatch {
    pub name: Option<String>,
    #[schema(maximum = 50)]
    pub min_select: Option<u32>,
    #[schema(maximum = 50)]
    pub max_select: Option<u32>,
    /// Replaces the options.
    pub options: Option<Vec<OptionInput>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::parse_json;

    #[test]
    fn twelve_ninety_nine_is_sent_as_1299_cents() {
        let body: NewMenuItem =
            parse_json(br#"{"name": "Margherita", "price": 12.99}"#).expect("parses");
        let request = body.into_proto(1, "USD").expect("valid");
        assert_eq!(request.price_minor, 1299);
        assert_eq!(request.available, None);
    }

    #[test]
    fn negative_and_sub_cent_prices_are_refused_naming_price() {
        for price in ["-1.00", "12.999", "\"abc\""] {
            let json = format!(r#"{{"name": "Margherita", "price": {price}}}"#);
            let body: NewMenuItem = parse_json(json.as_bytes()).expect("parses");
            let problem = body.into_proto(1, "USD").expect_err("refused");
            assert_eq!(problem.status, 422, "{price}");
            assert_eq!(problem.errors[0].field, "price", "{price}");
        }
    }

    #[test]
    fn a_null_category_takes_the_item_out_of_its_category() {
        let ids = NestedId {
            restaurant_id: 1,
            id: 2,
        };
        let body: MenuItemPatch = parse_json(br#"{"category_id": null}"#).expect("parses");
        let request = body.into_proto(ids, "USD").expect("valid");
        assert!(request.clear_category);
        assert_eq!(request.category_id, None);

        let body: MenuItemPatch = parse_json(br#"{"available": false}"#).expect("parses");
        let request = body.into_proto(ids, "USD").expect("valid");
        assert!(!request.clear_category);
        assert!(!request.replace_option_groups);
        assert_eq!(request.available, Some(false));
    }

    #[test]
    fn option_errors_are_named_by_index() {
        let mut v = Violations::new();
        let options = vec![
            OptionInput {
                id: None,
                name: "Extra cheese".to_owned(),
                price_delta: Some(DecimalText::new("1.50")),
                available: None,
            },
            OptionInput {
                id: Some(3),
                name: String::new(),
                price_delta: Some(DecimalText::new("0.001")),
                available: None,
            },
        ];
        let proto = options_into_proto(options, "USD", true, &mut v);
        assert_eq!(proto[0].price_delta_minor, 150);
        let problem = v.finish().expect_err("invalid");
        let fields: Vec<&str> = problem.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["options[1].id", "options[1].name", "options[1].price_delta"]
        );
    }
}
