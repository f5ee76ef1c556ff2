//! The gRPC face of restaurant-svc. Each method turns its request into
//! domain values (naming every bad field by its path in the request),
//! calls the use case ([`crate::service`]), and turns the result back into
//! the contract's messages through [`crate::convert`]. Prost types go no
//! deeper than these two modules (the menu cache holds the `Menu` message
//! it is given, without looking inside).

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;

use foodmesh_proto::common::v1 as common;
use foodmesh_proto::common::v1::ErrorReason as R;
use foodmesh_proto::restaurant::v1 as pb;
use foodmesh_shared::{status, values};
use pb::restaurant_service_server::RestaurantService;
use tokio_stream::{Stream, StreamExt};
use tonic::{Code, Request, Response, Status};

use crate::convert::{
    category_to_pb, coordinates_from_pb, coupon_to_pb, group_to_pb, item_to_pb, menu_change_to_pb,
    menu_to_pb, option_inputs, postal_from_pb, priced_to_pb, redemption_to_pb, restaurant_to_pb,
    time_from_pb,
};
use crate::domain::coupon::{
    CouponCode, CouponPatch, Discount, DiscountKind, NewCoupon, RedeemRequest, Refusal,
    ValidityWindow,
};
use crate::domain::menu::{
    self, CategoryPatch, ImageUrl, MenuItemPatch, NewCategory, NewMenuItem, NewOptionGroup,
    OptionGroupIds, OptionGroupPatch, SelectionRules,
};
use crate::domain::pricing::{self, LineProblem, OrderLine};
use crate::domain::restaurant::{
    Address, Currency, Email, Location, MAX_OPENING_SPANS, OpeningSpan, Phone, PrepMinutes,
    RestaurantDetails, RestaurantFilter, RestaurantPatch, TaxRatePpm, TimeZone,
};
use crate::domain::{Amount, DomainError, Finish, Name, Page, Text, Violations};
use crate::service::Restaurants;
use crate::watch::MenuFeed;

/// The `ErrorInfo.domain` of every error this service returns.
const ERROR_DOMAIN: &str = "foodmesh.restaurant";

type Reply<T> = Result<Response<T>, Status>;

/// The `RestaurantService` implementation.
#[derive(Debug, Clone)]
pub struct RestaurantApi {
    restaurants: Restaurants<pb::Menu>,
    feed: MenuFeed,
}

impl RestaurantApi {
    /// Serves the use cases of `restaurants`, and menu watches from `feed`.
    pub fn new(restaurants: Restaurants<pb::Menu>, feed: MenuFeed) -> Self {
        Self { restaurants, feed }
    }
}

/// The stream `WatchMenuChanges` answers with.
type MenuChangeStream = Pin<Box<dyn Stream<Item = Result<pb::MenuChange, Status>> + Send>>;

#[tonic::async_trait]
impl RestaurantService for RestaurantApi {
    async fn create_restaurant(
        &self,
        request: Request<pb::CreateRestaurantRequest>,
    ) -> Reply<pb::Restaurant> {
        let input = request.into_inner().restaurant.unwrap_or_default();
        let details = restaurant_details(input)?;
        let created = self.restaurants.create_restaurant(&details).await?;
        Ok(Response::new(restaurant_to_pb(created)))
    }

    async fn get_restaurant(
        &self,
        request: Request<pb::GetRestaurantRequest>,
    ) -> Reply<pb::Restaurant> {
        let found = self.restaurants.restaurant(request.into_inner().id).await?;
        Ok(Response::new(restaurant_to_pb(found)))
    }

    async fn list_restaurants(
        &self,
        request: Request<pb::ListRestaurantsRequest>,
    ) -> Reply<pb::ListRestaurantsResponse> {
        let req = request.into_inner();
        let page_request = req.page.unwrap_or_default();
        let page = Page::parse(page_request.page_size, &page_request.page_token)?;
        let filter = RestaurantFilter {
            cuisine_type: req.cuisine_type,
            city: req.city,
            include_inactive: req.include_inactive,
        };
        let (restaurants, next) = self.restaurants.list_restaurants(&filter, page).await?;
        Ok(Response::new(pb::ListRestaurantsResponse {
            restaurants: restaurants.into_iter().map(restaurant_to_pb).collect(),
            page: Some(common::PageResponse {
                next_page_token: next.unwrap_or_default(),
            }),
        }))
    }

    async fn update_restaurant(
        &self,
        request: Request<pb::UpdateRestaurantRequest>,
    ) -> Reply<pb::Restaurant> {
        let req = request.into_inner();
        let patch = restaurant_patch(req.patch.unwrap_or_default())?;
        let updated = self.restaurants.update_restaurant(req.id, &patch).await?;
        Ok(Response::new(restaurant_to_pb(updated)))
    }

    async fn delete_restaurant(&self, request: Request<pb::DeleteRestaurantRequest>) -> Reply<()> {
        let id = request.into_inner().id;
        self.restaurants.delete_restaurant(id).await?;
        Ok(Response::new(()))
    }

    async fn get_menu(&self, request: Request<pb::GetMenuRequest>) -> Reply<pb::Menu> {
        // `cache-control: no-cache`: the caller keeps the answer itself (see
        // the contract).
        let fresh = request
            .metadata()
            .get("cache-control")
            .is_some_and(|v| v.as_encoded_bytes().eq_ignore_ascii_case(b"no-cache"));
        let req = request.into_inner();
        let (id, include_unavailable) = (req.restaurant_id, req.include_unavailable);
        let menu = self
            .restaurants
            .menu(id, include_unavailable, fresh, menu_to_pb)
            .await?;
        Ok(Response::new(Arc::unwrap_or_clone(menu)))
    }

    type WatchMenuChangesStream = MenuChangeStream;

    async fn watch_menu_changes(
        &self,
        _request: Request<pb::WatchMenuChangesRequest>,
    ) -> Reply<Self::WatchMenuChangesStream> {
        let changes = self
            .feed
            .watch()
            .map(|change| change.map(menu_change_to_pb).map_err(Status::from));
        Ok(Response::new(Box::pin(changes)))
    }

    async fn create_category(
        &self,
        request: Request<pb::CreateCategoryRequest>,
    ) -> Reply<pb::Category> {
        let req = request.into_inner();
        let mut v = Violations::default();
        let name = v.check("name", Name::parse(&req.name));
        let description = v.check("description", Text::parse(&req.description));
        let position = v.check_opt("position", req.position.map(values::position));
        let new = v.finish(|| {
            Some(NewCategory {
                name: name?,
                description: description?,
                position,
            })
        })?;
        let created = self
            .restaurants
            .create_category(req.restaurant_id, &new)
            .await?;
        Ok(Response::new(category_to_pb(created)))
    }

    async fn update_category(
        &self,
        request: Request<pb::UpdateCategoryRequest>,
    ) -> Reply<pb::Category> {
        let req = request.into_inner();
        let mut v = Violations::default();
        let patch = CategoryPatch {
            name: v.check_opt("name", req.name.as_deref().map(Name::parse)),
            description: v.check_opt("description", req.description.as_deref().map(Text::parse)),
            position: v.check_opt("position", req.position.map(values::position)),
        };
        let patch = v.finish(|| Some(patch))?;
        let updated = self
            .restaurants
            .update_category(req.restaurant_id, req.category_id, &patch)
            .await?;
        Ok(Response::new(category_to_pb(updated)))
    }

    async fn delete_category(&self, request: Request<pb::DeleteCategoryRequest>) -> Reply<()> {
        let req = request.into_inner();
        self.restaurants
            .delete_category(req.restaurant_id, req.category_id)
            .await?;
        Ok(Response::new(()))
    }

    async fn create_menu_item(
        &self,
        request: Request<pb::CreateMenuItemRequest>,
    ) -> Reply<pb::MenuItem> {
        let req = request.into_inner();
        let mut v = Violations::default();
        let name = v.check("name", Name::parse(&req.name));
        let description = v.check("description", Text::parse(&req.description));
        let price = v.check("price_minor", Amount::parse(req.price_minor));
        let image_url = v.check("image_url", ImageUrl::parse(&req.image_url));
        let groups = v.check(
            "option_group_ids",
            OptionGroupIds::parse(&req.option_group_ids),
        );
        let position = v.check_opt("position", req.position.map(values::position));
        let new = v.finish(|| {
            Some(NewMenuItem {
                name: name?,
                description: description?,
                price: price?,
                // 0 is "no category", as MenuItem.category_id reads.
                category_id: req.category_id.filter(|id| *id != 0),
                available: req.available.unwrap_or(true),
                image_url: image_url?,
                option_group_ids: groups?,
                position,
            })
        })?;
        let created = self
            .restaurants
            .create_menu_item(req.restaurant_id, &new)
            .await?;
        Ok(Response::new(item_to_pb(created)))
    }

    async fn get_menu_item(&self, request: Request<pb::GetMenuItemRequest>) -> Reply<pb::MenuItem> {
        let req = request.into_inner();
        let item = self
            .restaurants
            .menu_item(req.restaurant_id, req.item_id)
            .await?;
        Ok(Response::new(item_to_pb(item)))
    }

    async fn update_menu_item(
        &self,
        request: Request<pb::UpdateMenuItemRequest>,
    ) -> Reply<pb::MenuItem> {
        let req = request.into_inner();
        let mut v = Violations::default();
        let category_id = match (req.category_id, req.clear_category) {
            (Some(_), true) => {
                v.add("clear_category", "cannot be set together with category_id");
                None
            }
            (Some(id), false) => Some(Some(id).filter(|id| *id != 0)),
            (None, true) => Some(None),
            (None, false) => None,
        };
        let replace_groups = replacement(
            &mut v,
            ("option_group_ids", !req.option_group_ids.is_empty()),
            ("replace_option_groups", req.replace_option_groups),
        );
        let option_group_ids = if replace_groups {
            let ids = OptionGroupIds::parse(&req.option_group_ids);
            v.check("option_group_ids", ids)
        } else {
            None
        };
        let patch = MenuItemPatch {
            name: v.check_opt("name", req.name.as_deref().map(Name::parse)),
            description: v.check_opt("description", req.description.as_deref().map(Text::parse)),
            price: v.check_opt("price_minor", req.price_minor.map(Amount::parse)),
            category_id,
            available: req.available,
            image_url: v.check_opt("image_url", req.image_url.as_deref().map(ImageUrl::parse)),
            option_group_ids,
            position: v.check_opt("position", req.position.map(values::position)),
        };
        let patch = v.finish(|| Some(patch))?;
        let updated = self
            .restaurants
            .update_menu_item(req.restaurant_id, req.item_id, &patch)
            .await?;
        Ok(Response::new(item_to_pb(updated)))
    }

    async fn delete_menu_item(&self, request: Request<pb::DeleteMenuItemRequest>) -> Reply<()> {
        let req = request.into_inner();
        self.restaurants
            .delete_menu_item(req.restaurant_id, req.item_id)
            .await?;
        Ok(Response::new(()))
    }

    async fn create_option_group(
        &self,
        request: Request<pb::CreateOptionGroupRequest>,
    ) -> Reply<pb::OptionGroup> {
        let req = request.into_inner();
        let mut v = Violations::default();
        let name = v.check("name", Name::parse(&req.name));
        let options = v.merge(menu::parse_options(&option_inputs(&req.options)));
        let rules = v.merge(SelectionRules::parse(
            req.min_select,
            req.max_select,
            req.options.len(),
        ));
        if options.iter().flatten().any(|o| o.id.is_some()) {
            v.add("options", "new options have no id yet");
        }
        let new = v.finish(|| {
            Some(NewOptionGroup {
                name: name?,
                rules: rules?,
                options: options?,
            })
        })?;
        let created = self
            .restaurants
            .create_option_group(req.restaurant_id, &new)
            .await?;
        Ok(Response::new(group_to_pb(created)))
    }

    async fn update_option_group(
        &self,
        request: Request<pb::UpdateOptionGroupRequest>,
    ) -> Reply<pb::OptionGroup> {
        let req = request.into_inner();
        let mut v = Violations::default();
        let replace_options = replacement(
            &mut v,
            ("options", !req.options.is_empty()),
            ("replace_options", req.replace_options),
        );
        let options = if replace_options {
            v.merge(menu::parse_options(&option_inputs(&req.options)))
        } else {
            None
        };
        let patch = OptionGroupPatch {
            name: v.check_opt("name", req.name.as_deref().map(Name::parse)),
            min_select: req.min_select,
            max_select: req.max_select,
            options,
        };
        let patch = v.finish(|| Some(patch))?;
        let updated = self
            .restaurants
            .update_option_group(req.restaurant_id, req.option_group_id, &patch)
            .await?;
        Ok(Response::new(group_to_pb(updated)))
    }

    async fn delete_option_group(
        &self,
        request: Request<pb::DeleteOptionGroupRequest>,
    ) -> Reply<()> {
        let req = request.into_inner();
        self.restaurants
            .delete_option_group(req.restaurant_id, req.option_group_id)
            .await?;
        Ok(Response::new(()))
    }

    async fn price_order(&self, request: Request<pb::PriceOrderRequest>) -> Reply<pb::PricedOrder> {
        let req = request.into_inner();
        let mut v = Violations::default();
        if let Err(why) = pricing::check_line_count(req.lines.len()) {
            v.add("lines", why);
        }
        let lines: Vec<Option<OrderLine>> = req
            .lines
            .iter()
            .enumerate()
            .map(|(i, line)| {
                v.nested(
                    format_args!("lines[{i}]"),
                    OrderLine::parse(line.menu_item_id, line.quantity, &line.option_ids),
                )
            })
            .collect();
        let lines = v.finish(|| lines.into_iter().collect::<Option<Vec<_>>>())?;
        let (inputs, priced) = self
            .restaurants
            .price_order(req.restaurant_id, &lines)
            .await?;
        Ok(Response::new(priced_to_pb(&inputs.restaurant, priced)))
    }

    async fn create_coupon(&self, request: Request<pb::CreateCouponRequest>) -> Reply<pb::Coupon> {
        let req = request.into_inner();
        let mut v = Violations::default();
        let code = v.check("code", CouponCode::parse(&req.code));
        let description = v.check("description", Text::parse(&req.description));
        let kind = match req.kind() {
            pb::DiscountKind::Percent => Some(DiscountKind::Percent),
            pb::DiscountKind::Fixed => Some(DiscountKind::Fixed),
            pb::DiscountKind::Unspecified => {
                v.add("kind", "must be PERCENT or FIXED");
                None
            }
        };
        let discount = kind.and_then(|kind| v.check("value", Discount::parse(kind, req.value)));
        let valid_from = match req.valid_from {
            Some(at) => v.check("valid_from", time_from_pb(at)),
            None => Some(self.restaurants.now()),
        };
        let valid_until = req
            .valid_until
            .and_then(|at| v.check("valid_until", time_from_pb(at)));
        let window = valid_from
            .and_then(|from| v.check("valid_until", ValidityWindow::parse(from, valid_until)));
        let min_order = v.check("min_order_minor", Amount::parse(req.min_order_minor));
        let new = v.finish(|| {
            Some(NewCoupon {
                code: code?,
                description: description?,
                discount: discount?,
                window: window?,
                min_order: min_order?,
                max_redemptions: req.max_redemptions,
                max_per_customer: req.max_per_customer,
                first_n_customers: req.first_n_customers,
            })
        })?;
        let created = self
            .restaurants
            .create_coupon(req.restaurant_id, &new)
            .await?;
        Ok(Response::new(coupon_to_pb(created)))
    }

    async fn list_coupons(
        &self,
        request: Request<pb::ListCouponsRequest>,
    ) -> Reply<pb::ListCouponsResponse> {
        let coupons = self
            .restaurants
            .coupons(request.into_inner().restaurant_id)
            .await?;
        Ok(Response::new(pb::ListCouponsResponse {
            coupons: coupons.into_iter().map(coupon_to_pb).collect(),
        }))
    }

    async fn update_coupon(&self, request: Request<pb::UpdateCouponRequest>) -> Reply<pb::Coupon> {
        let req = request.into_inner();
        let mut v = Violations::default();
        let patch = CouponPatch {
            active: req.active,
            description: v.check_opt("description", req.description.as_deref().map(Text::parse)),
            valid_until: if req.clear_valid_until {
                if req.valid_until.is_some() {
                    v.add("valid_until", "cannot be set and cleared at once");
                }
                Some(None)
            } else {
                v.check_opt("valid_until", req.valid_until.map(time_from_pb))
                    .map(Some)
            },
            max_redemptions: req.max_redemptions,
        };
        let patch = v.finish(|| Some(patch))?;
        let updated = self
            .restaurants
            .update_coupon(req.restaurant_id, req.coupon_id, &patch)
            .await?;
        Ok(Response::new(coupon_to_pb(updated)))
    }

    async fn redeem_coupon(
        &self,
        request: Request<pb::RedeemCouponRequest>,
    ) -> Reply<pb::Redemption> {
        let req = request.into_inner();
        let mut v = Violations::default();
        let code = v.check("code", CouponCode::parse(&req.code));
        let order_ref = v.check("order_ref", Name::parse(&req.order_ref));
        let customer_ref = v.check("customer_ref", Name::parse(&req.customer_ref));
        let subtotal = v.check("subtotal_minor", Amount::parse(req.subtotal_minor));
        let redeem = v.finish(|| {
            Some(RedeemRequest {
                code: code?,
                order_ref: order_ref?,
                customer_ref: customer_ref?,
                subtotal: subtotal?,
            })
        })?;
        let redemption = self
            .restaurants
            .redeem_coupon(req.restaurant_id, &redeem)
            .await?;
        Ok(Response::new(redemption_to_pb(redemption)))
    }

    async fn check_coupon(
        &self,
        request: Request<pb::CheckCouponRequest>,
    ) -> Reply<pb::CouponCheck> {
        let req = request.into_inner();
        let mut v = Violations::default();
        let code = v.check("code", CouponCode::parse(&req.code));
        let subtotal = v.check("subtotal_minor", Amount::parse(req.subtotal_minor));
        let (code, subtotal) = v.finish(|| Some((code?, subtotal?)))?;
        let (coupon, discount) = self
            .restaurants
            .check_coupon(req.restaurant_id, &code, subtotal)
            .await?;
        let currency = coupon.currency.clone();
        Ok(Response::new(pb::CouponCheck {
            coupon: Some(coupon_to_pb(coupon)),
            discount: Some(common::Money {
                amount_minor: discount,
                currency,
            }),
        }))
    }

    async fn release_coupon(
        &self,
        request: Request<pb::ReleaseCouponRequest>,
    ) -> Reply<pb::Redemption> {
        let req = request.into_inner();
        let mut v = Violations::default();
        let order_ref = v.check("order_ref", Name::<100>::parse(&req.order_ref));
        let order_ref = v.finish(|| order_ref)?;
        let released = self
            .restaurants
            .release_coupon(req.restaurant_id, order_ref.as_str())
            .await?;
        Ok(Response::new(redemption_to_pb(released)))
    }
}

impl From<DomainError> for Status {
    fn from(error: DomainError) -> Self {
        use DomainError as E;
        let (code, reason) = match &error {
            E::Invalid(_) => (Code::InvalidArgument, R::ValidationFailed),
            E::RestaurantNotFound(_) => (Code::NotFound, R::RestaurantNotFound),
            E::RestaurantInactive(_) => (Code::FailedPrecondition, R::RestaurantInactive),
            E::CategoryNotFound(_) => (Code::NotFound, R::CategoryNotFound),
            E::MenuItemNotFound(_) => (Code::NotFound, R::MenuItemNotFound),
            E::OptionGroupNotFound(_) => (Code::NotFound, R::OptionGroupNotFound),
            E::Line { problem, .. } => line_status(problem),
            E::CouponNotFound(_) => (Code::NotFound, R::CouponNotFound),
            E::CouponCodeTaken(_) => (Code::AlreadyExists, R::CouponCodeTaken),
            E::CouponRefused { refusal, .. } => {
                (Code::FailedPrecondition, refusal_reason(*refusal))
            }
            E::OrderAlreadyRedeemed(_) => (Code::AlreadyExists, R::OrderAlreadyRedeemed),
            E::RedemptionNotFound(_) => (Code::NotFound, R::RedemptionNotFound),
            E::ShuttingDown => (Code::Unavailable, R::ShuttingDown),
            E::Unexpected(cause) => return status::unexpected(cause),
        };
        let message = error.to_string();
        let fields = match error {
            E::Invalid(violations) => violations,
            E::Line { field, problem } => Violations::one(field, problem.to_string()),
            _ => Violations::default(),
        };
        status::refusal(code, message, ERROR_DOMAIN, reason, HashMap::new(), &fields)
    }
}

/// A priced line's refusal: bad references are the caller's mistake
/// (InvalidArgument), things off the menu for now are a state that may
/// change (FailedPrecondition).
fn line_status(problem: &LineProblem) -> (Code, R) {
    match problem {
        LineProblem::UnknownItem => (Code::InvalidArgument, R::MenuItemNotFound),
        LineProblem::ItemUnavailable => (Code::FailedPrecondition, R::ItemUnavailable),
        LineProblem::OptionNotOffered => (Code::InvalidArgument, R::OptionNotOffered),
        LineProblem::OptionUnavailable => (Code::FailedPrecondition, R::OptionUnavailable),
        LineProblem::TooFewOptions { .. } | LineProblem::TooManyOptions { .. } => {
            (Code::InvalidArgument, R::OptionSelectionInvalid)
        }
        LineProblem::NegativePrice => (Code::FailedPrecondition, R::PriceBelowZero),
        LineProblem::TooLarge => (Code::InvalidArgument, R::AmountTooLarge),
    }
}

fn refusal_reason(refusal: Refusal) -> R {
    match refusal {
        Refusal::Inactive => R::CouponInactive,
        Refusal::NotYetValid => R::CouponNotYetValid,
        Refusal::Expired => R::CouponExpired,
        Refusal::MinOrderNotMet => R::CouponMinOrderNotMet,
        Refusal::Exhausted => R::CouponExhausted,
        Refusal::CustomerLimit => R::CouponCustomerLimit,
        Refusal::FirstCustomersTaken => R::CouponFirstCustomersTaken,
    }
}

// ----- proto → domain ------------------------------------------------------

fn restaurant_details(input: pb::RestaurantInput) -> Result<RestaurantDetails, DomainError> {
    let mut v = Violations::default();
    let name = v.check("name", Name::parse(&input.name));
    let description = v.check("description", Text::parse(&input.description));
    let phone = v.check("phone", Phone::parse(&input.phone));
    let email = v.check("email", Email::parse(&input.email));
    let cuisine_type = v.check("cuisine_type", Text::parse(&input.cuisine_type));
    let address = match &input.address {
        Some(address) => v.nested("address", Address::parse(&postal_from_pb(address))),
        None => {
            v.add("address", "is required");
            None
        }
    };
    let location = input
        .location
        .and_then(|at| v.nested("location", Location::parse(coordinates_from_pb(at))));
    let currency = v.check("currency", Currency::parse(&input.currency));
    let opening_hours = opening_hours(&mut v, &input.opening_hours);
    let timezone = v.check("timezone", TimeZone::parse(&input.timezone));
    let delivery_fee = v.check(
        "delivery_fee_minor",
        Amount::parse(input.delivery_fee_minor),
    );
    let avg_prep = v.check(
        "avg_prep_minutes",
        PrepMinutes::parse(input.avg_prep_minutes),
    );
    let tax_rate = v.check("tax_rate_ppm", TaxRatePpm::parse(input.tax_rate_ppm));
    v.finish(|| {
        Some(RestaurantDetails {
            name: name?,
            description: description?,
            phone: phone?,
            email: email?,
            cuisine_type: cuisine_type?,
            address: address?,
            location,
            currency: currency?,
            opening_hours: opening_hours?,
            timezone: timezone?,
            delivery_fee: delivery_fee?,
            avg_prep_minutes: avg_prep?,
            tax_rate_ppm: tax_rate?,
            active: input.active.unwrap_or(true),
        })
    })
}

fn restaurant_patch(p: pb::RestaurantPatch) -> Result<RestaurantPatch, DomainError> {
    let mut v = Violations::default();
    let replace_hours = replacement(
        &mut v,
        ("opening_hours", !p.opening_hours.is_empty()),
        ("replace_opening_hours", p.replace_opening_hours),
    );
    let opening_hours = if replace_hours {
        opening_hours(&mut v, &p.opening_hours)
    } else {
        None
    };
    let patch = RestaurantPatch {
        name: v.check_opt("name", p.name.as_deref().map(Name::parse)),
        description: v.check_opt("description", p.description.as_deref().map(Text::parse)),
        phone: v.check_opt("phone", p.phone.as_deref().map(Phone::parse)),
        email: v.check_opt("email", p.email.as_deref().map(Email::parse)),
        cuisine_type: v.check_opt("cuisine_type", p.cuisine_type.as_deref().map(Text::parse)),
        address: p
            .address
            .as_ref()
            .and_then(|a| v.nested("address", Address::parse(&postal_from_pb(a)))),
        location: p
            .location
            .and_then(|at| v.nested("location", Location::parse(coordinates_from_pb(at)))),
        currency: v.check_opt("currency", p.currency.as_deref().map(Currency::parse)),
        opening_hours,
        timezone: v.check_opt("timezone", p.timezone.as_deref().map(TimeZone::parse)),
        delivery_fee: v.check_opt(
            "delivery_fee_minor",
            p.delivery_fee_minor.map(Amount::parse),
        ),
        avg_prep_minutes: v.check_opt(
            "avg_prep_minutes",
            p.avg_prep_minutes.map(PrepMinutes::parse),
        ),
        tax_rate_ppm: v.check_opt("tax_rate_ppm", p.tax_rate_ppm.map(TaxRatePpm::parse)),
        active: p.active,
    };
    v.finish(|| Some(patch))
}

/// Whether a request replaces a list: only when its flag says so, and a
/// list given without the flag is refused rather than silently ignored.
fn replacement(
    v: &mut Violations,
    (list, given): (&str, bool),
    (flag, replace): (&str, bool),
) -> bool {
    if given && !replace {
        v.add(flag, format!("must be true to change {list}"));
    }
    replace
}

fn opening_hours(v: &mut Violations, spans: &[pb::OpeningHours]) -> Option<Vec<OpeningSpan>> {
    if spans.len() > MAX_OPENING_SPANS {
        v.add(
            "opening_hours",
            format!("must hold at most {MAX_OPENING_SPANS} spans"),
        );
    }
    let parsed: Vec<Option<OpeningSpan>> = spans
        .iter()
        .enumerate()
        .map(|(i, span)| {
            v.nested(
                format_args!("opening_hours[{i}]"),
                OpeningSpan::parse(span.day_of_week, &span.opens, &span.closes),
            )
        })
        .collect();
    parsed.into_iter().collect()
}
