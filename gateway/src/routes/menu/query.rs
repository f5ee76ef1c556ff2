//! The query of menu reads: whether unavailable items and options are
//! wanted, which only the restaurant's managers may ask.

use utoipa::IntoParams;

use crate::auth::MaybeCaller;
use crate::extract::QueryParams;
use crate::problem::Problem;

/// The `include_unavailable` query of menu reads.
#[derive(Debug, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MenuQuery {
    /// Also show unavailable items and options (staff and admins only).
    pub include_unavailable: Option<bool>,
}

impl MenuQuery {
    /// Whether unavailable entries are wanted; only the restaurant's
    /// managers may ask.
    pub(super) fn include_unavailable(
        query: &QueryParams,
        caller: MaybeCaller,
        restaurant_id: i64,
    ) -> Result<bool, Problem> {
        let wanted = query.flag("include_unavailable")?;
        if wanted {
            match caller.0 {
                None => {
                    return Err(Problem::unauthorized(
                        "Unavailable items are shown to the restaurant's staff; send a token.",
                        false,
                    ));
                }
                Some(claims) if !claims.manages(restaurant_id) => {
                    return Err(Problem::forbidden(
                        "Only an admin or this restaurant's staff may see unavailable items.",
                    ));
                }
                Some(_) => {}
            }
        }
        Ok(wanted)
    }
}
