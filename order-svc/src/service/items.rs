//! Item edits of a PENDING order: every line priced again from the menu,
//! the figures decided anew, and the order written only if nothing moved
//! it meanwhile.

use foodmesh_shared::work::Work;

use super::{Caller, Orders};
use crate::domain::number::TokenHash;
use crate::domain::order::{ItemEdit, Order};
use crate::domain::placing::Announcement;
use crate::domain::pricing::{self, check_stated_prices};
use crate::domain::{DomainError, Violations};
use crate::restaurant::Naming;
use crate::store;

/// Item edits retried when the order changed between reading and writing.
const EDIT_ATTEMPTS: usize = 3;

impl Orders {
    /// Adds, changes or removes a line of a PENDING order; every line is
    /// priced again from the menu and the totals follow. A coupon's
    /// discount is recomputed from its terms on the new subtotal (nothing
    /// while under its minimum order); its redemption stays held.
    ///
    /// # Errors
    /// [`DomainError::NotEditable`] once the order left PENDING,
    /// [`DomainError::LineNotFound`], [`DomainError::LineLimit`],
    /// [`DomainError::LastLine`], refusals of the menu,
    /// [`DomainError::PriceMismatch`], [`DomainError::Concurrent`].
    pub async fn edit_items(
        &self,
        id: i64,
        edit: &ItemEdit,
        token: Option<&TokenHash>,
    ) -> Result<Order, DomainError> {
        let caller = Caller { actor: None, token };
        let (list, touched_name) = match edit {
            ItemEdit::Add(_) => ("item", "item"),
            _ => ("items", ""),
        };
        for _ in 0..EDIT_ATTEMPTS {
            let order = self.get(id, caller).await?;
            let (drafts, touched) = edit.apply(&order)?;
            let line = |i: usize| {
                if Some(i) == touched {
                    touched_name.to_owned()
                } else {
                    format!("items[{i}]")
                }
            };
            let naming = Naming::Lines { list, line: &line };
            let priced = self
                .restaurant
                .price(order.restaurant_id, &drafts, &naming)
                .await
                .map_err(top_level_fields)?;
            check_stated_prices(&drafts, &priced, |i| {
                let prefix = line(i);
                if prefix.is_empty() {
                    "stated_unit_price_minor".to_owned()
                } else {
                    format!("{prefix}.stated_unit_price_minor")
                }
            })?;
            let totals = pricing::repriced(&order, &priced)?;

            let mut conn = self.store.conn().await?;
            let mut work = Work::begin(&mut conn).await?;
            let now = self.clock.now();
            if !store::reprice_order(work.conn(), id, order.version, &priced, totals, now).await? {
                // Changed since it was read: read it again (and learn
                // whether it is still editable).
                continue;
            }
            store::write_lines(work.conn(), id, &drafts, &priced).await?;
            let updated = store::existing_order(work.conn(), id).await?;
            let event = Announcement {
                event_type: "order.updated",
                order: updated.clone(),
                change: None,
            };
            self.publish(&mut work, std::slice::from_ref(&event))
                .await?;
            store::notify_change(&mut work, id);
            work.commit().await?.announce(&mut conn).await;
            return Ok(updated);
        }
        Err(DomainError::Concurrent)
    }
}

/// An UpdateItem request names the edited line's fields at its top level
/// (`quantity`, `option_ids[0]`), not under a prefix.
fn top_level_fields(error: DomainError) -> DomainError {
    match error {
        DomainError::RestaurantRefused {
            bad_input,
            reason,
            message,
            violations,
        } => {
            let mut renamed = Violations::default();
            for v in violations.iter() {
                let field = v.field.trim_start_matches('.');
                renamed.add(
                    if field.is_empty() { "line_id" } else { field },
                    v.description.clone(),
                );
            }
            DomainError::RestaurantRefused {
                bad_input,
                reason,
                message,
                violations: renamed,
            }
        }
        other => other,
    }
}
