//! The use cases of restaurant-svc: each store call with what the menu
//! cache does around it. The gRPC layer calls only these, so which writes
//! evict, and which reads go through the cache, is decided here alone.
//!
//! Menus and pricing inputs are read through the menu cache
//! ([`crate::cache`]). Every write that changes a menu or a restaurant
//! evicts what the cache holds for the restaurant (its menus and its
//! pricing inputs) right after the store returns — whatever it returned,
//! since a commit whose answer was lost may still have landed — so this
//! instance's next menu or pricing read sees the change without waiting
//! for its notice. A new restaurant has nothing cached yet, and coupons
//! are never cached, so neither evicts.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use foodmesh_shared::clock::Clock;

use crate::cache::MenuCache;
use crate::domain::coupon::{
    Coupon, CouponCode, CouponPatch, NewCoupon, RedeemRequest, Redemption,
};
use crate::domain::menu::{
    Category, CategoryPatch, Menu, MenuItem, MenuItemPatch, NewCategory, NewMenuItem,
    NewOptionGroup, OptionGroup, OptionGroupPatch,
};
use crate::domain::pricing::{OrderLine, PricedLines, PricingInputs};
use crate::domain::restaurant::{Restaurant, RestaurantDetails, RestaurantFilter, RestaurantPatch};
use crate::domain::{Amount, DomainError, Page};
use crate::store::Store;

/// The use cases over the store and the menu cache; cheap to clone. `M` is
/// the menu as the cache keeps it: the answer its caller builds from a
/// [`Menu`], so that a hit is a clone.
#[derive(Debug, Clone)]
pub struct Restaurants<M> {
    store: Store,
    cache: MenuCache<M, PricingInputs>,
    clock: Clock,
}

impl<M> Restaurants<M> {
    /// Use cases over `store`, reading menus and pricing inputs through
    /// `cache`, judging coupons' validity windows by `clock`.
    pub fn new(store: Store, cache: MenuCache<M, PricingInputs>, clock: Clock) -> Self {
        Self {
            store,
            cache,
            clock,
        }
    }

    /// The time the service judges by: a new coupon's default start.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// `written`, after dropping what restaurant `restaurant_id` has in the
    /// cache (see the module documentation).
    fn evicting<T>(
        &self,
        restaurant_id: i64,
        written: Result<T, DomainError>,
    ) -> Result<T, DomainError> {
        self.cache.evict(restaurant_id);
        written
    }

    // ----- restaurants -----------------------------------------------------

    pub(crate) async fn create_restaurant(
        &self,
        details: &RestaurantDetails,
    ) -> Result<Restaurant, DomainError> {
        self.store.create_restaurant(details).await
    }

    pub(crate) async fn restaurant(&self, id: i64) -> Result<Restaurant, DomainError> {
        self.store.restaurant(id).await
    }

    pub(crate) async fn list_restaurants(
        &self,
        filter: &RestaurantFilter,
        page: Page,
    ) -> Result<(Vec<Restaurant>, Option<String>), DomainError> {
        self.store.list_restaurants(filter, page).await
    }

    pub(crate) async fn update_restaurant(
        &self,
        id: i64,
        patch: &RestaurantPatch,
    ) -> Result<Restaurant, DomainError> {
        self.evicting(id, self.store.update_restaurant(id, patch).await)
    }

    pub(crate) async fn delete_restaurant(&self, id: i64) -> Result<(), DomainError> {
        self.evicting(id, self.store.delete_restaurant(id).await)
    }

    // ----- menu --------------------------------------------------------------

    /// The menu from the cache — unless `fresh` is asked — or from the
    /// store, kept as `build` makes it.
    pub(crate) async fn menu(
        &self,
        restaurant_id: i64,
        include_unavailable: bool,
        fresh: bool,
        build: fn(Menu) -> M,
    ) -> Result<Arc<M>, DomainError> {
        self.cache
            .menu(restaurant_id, include_unavailable, fresh, || async {
                let menu = self.store.menu(restaurant_id, include_unavailable).await?;
                Ok(build(menu))
            })
            .await
    }

    pub(crate) async fn create_category(
        &self,
        restaurant_id: i64,
        new: &NewCategory,
    ) -> Result<Category, DomainError> {
        self.evicting(
            restaurant_id,
            self.store.create_category(restaurant_id, new).await,
        )
    }

    pub(crate) async fn update_category(
        &self,
        restaurant_id: i64,
        category_id: i64,
        patch: &CategoryPatch,
    ) -> Result<Category, DomainError> {
        self.evicting(
            restaurant_id,
            self.store
                .update_category(restaurant_id, category_id, patch)
                .await,
        )
    }

    pub(crate) async fn delete_category(
        &self,
        restaurant_id: i64,
        category_id: i64,
    ) -> Result<(), DomainError> {
        self.evicting(
            restaurant_id,
            self.store.delete_category(restaurant_id, category_id).await,
        )
    }

    pub(crate) async fn create_menu_item(
        &self,
        restaurant_id: i64,
        new: &NewMenuItem,
    ) -> Result<MenuItem, DomainError> {
        self.evicting(
            restaurant_id,
            self.store.create_menu_item(restaurant_id, new).await,
        )
    }

    pub(crate) async fn menu_item(
        &self,
        restaurant_id: i64,
        item_id: i64,
    ) -> Result<MenuItem, DomainError> {
        self.store.menu_item(restaurant_id, item_id).await
    }

    pub(crate) async fn update_menu_item(
        &self,
        restaurant_id: i64,
        item_id: i64,
        patch: &MenuItemPatch,
    ) -> Result<MenuItem, DomainError> {
        self.evicting(
            restaurant_id,
            self.store
                .update_menu_item(restaurant_id, item_id, patch)
                .await,
        )
    }

    pub(crate) async fn delete_menu_item(
        &self,
        restaurant_id: i64,
        item_id: i64,
    ) -> Result<(), DomainError> {
        self.evicting(
            restaurant_id,
            self.store.delete_menu_item(restaurant_id, item_id).await,
        )
    }

    pub(crate) async fn create_option_group(
        &self,
        restaurant_id: i64,
        new: &NewOptionGroup,
    ) -> Result<OptionGroup, DomainError> {
        self.evicting(
            restaurant_id,
            self.store.create_option_group(restaurant_id, new).await,
        )
    }

    pub(crate) async fn update_option_group(
        &self,
        restaurant_id: i64,
        group_id: i64,
        patch: &OptionGroupPatch,
    ) -> Result<OptionGroup, DomainError> {
        self.evicting(
            restaurant_id,
            self.store
                .update_option_group(restaurant_id, group_id, patch)
                .await,
        )
    }

    pub(crate) async fn delete_option_group(
        &self,
        restaurant_id: i64,
        group_id: i64,
    ) -> Result<(), DomainError> {
        self.evicting(
            restaurant_id,
            self.store
                .delete_option_group(restaurant_id, group_id)
                .await,
        )
    }

    // ----- pricing -----------------------------------------------------------

    /// `lines` priced from the restaurant's pricing inputs, read through
    /// the cache; the inputs come back too, for the restaurant's part of
    /// the answer.
    pub(crate) async fn price_order(
        &self,
        restaurant_id: i64,
        lines: &[OrderLine],
    ) -> Result<(Arc<PricingInputs>, PricedLines), DomainError> {
        let inputs = self
            .cache
            .pricing(restaurant_id, || self.store.pricing_inputs(restaurant_id))
            .await?;
        let priced = inputs.price(lines)?;
        Ok((inputs, priced))
    }

    // ----- coupons -----------------------------------------------------------

    pub(crate) async fn create_coupon(
        &self,
        restaurant_id: i64,
        new: &NewCoupon,
    ) -> Result<Coupon, DomainError> {
        self.store.create_coupon(restaurant_id, new).await
    }

    pub(crate) async fn coupons(&self, restaurant_id: i64) -> Result<Vec<Coupon>, DomainError> {
        self.store.coupons(restaurant_id).await
    }

    pub(crate) async fn update_coupon(
        &self,
        restaurant_id: i64,
        coupon_id: i64,
        patch: &CouponPatch,
    ) -> Result<Coupon, DomainError> {
        self.store
            .update_coupon(restaurant_id, coupon_id, patch)
            .await
    }

    /// Redeemed as of now: the moment the coupon's validity window is judged at.
    pub(crate) async fn redeem_coupon(
        &self,
        restaurant_id: i64,
        request: &RedeemRequest,
    ) -> Result<Redemption, DomainError> {
        self.store
            .redeem_coupon(restaurant_id, request, self.clock.now())
            .await
    }

    /// Judged as of now, as [`Self::redeem_coupon`] would.
    pub(crate) async fn check_coupon(
        &self,
        restaurant_id: i64,
        code: &CouponCode,
        subtotal: Amount,
    ) -> Result<(Coupon, i64), DomainError> {
        self.store
            .check_coupon(restaurant_id, code, subtotal, self.clock.now())
            .await
    }

    pub(crate) async fn release_coupon(
        &self,
        restaurant_id: i64,
        order_ref: &str,
    ) -> Result<Redemption, DomainError> {
        self.store.release_coupon(restaurant_id, order_ref).await
    }
}
