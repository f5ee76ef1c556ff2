//! Who is calling, and may they do this. Bearer JWTs signed with HS256 carry
//! a role (`customer`, `staff`, `driver`, `admin`) and, for staff, the one
//! restaurant they work for.
//!
//! Reads of restaurants and menus are public. Writes go through the
//! extractors here, which answer 401 (no usable token, with a
//! `WWW-Authenticate: Bearer` challenge) before 403 (a token, but not one
//! that may do this), and both before the request body is even read.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{FromRef, FromRequestParts, Query};
use axum::http::header;
use axum::http::request::Parts;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::extract::PathIds;
use crate::problem::Problem;

/// The signing secret used when `JWT_SECRET` is unset, shared with the
/// `foodmesh token` command so local tokens just work. It is public (it is
/// in the source), so tokens signed with it prove nothing: fine on a
/// laptop, never in a shared deployment, hence the warning at start-up.
pub const DEV_SECRET: &str = "foodmesh-development-secret-do-not-deploy";

/// The `iss` claim of every FoodMesh token.
pub const ISSUER: &str = "foodmesh";

/// What a caller is to the platform; decides what it may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Orders for themselves.
    Customer,
    /// Works for one restaurant: manages its menu and coupons.
    Staff,
    /// Delivers orders.
    Driver,
    /// Runs the platform: everything.
    Admin,
}

impl Role {
    /// The role's name as tokens and the command line spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Staff => "staff",
            Role::Driver => "driver",
            Role::Admin => "admin",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = AuthError;

    /// `customer`, `staff`, `driver` or `admin`, in any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Role::Customer, Role::Staff, Role::Driver, Role::Admin]
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| AuthError::UnknownRole(s.to_owned()))
    }
}

/// The claims of a FoodMesh token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The caller's id (customer id, staff member, driver id, admin name).
    pub sub: String,
    pub role: Role,
    /// For staff: the restaurant they may manage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restaurant_id: Option<i64>,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
    /// Issue time, seconds since the Unix epoch.
    pub iat: u64,
    /// Always [`ISSUER`].
    pub iss: String,
}

impl Claims {
    /// Refuses claims whose scope is not a real one: a staff member's
    /// restaurant must be a restaurant id (positive), and no other role has
    /// one; a scope of 0 or below would otherwise read as "no restaurant",
    /// which filters widen to every restaurant's orders.
    ///
    /// # Errors
    /// [`AuthError::StaffWithoutRestaurant`],
    /// [`AuthError::RestaurantWithoutStaff`] or [`AuthError::EmptySubject`].
    pub fn check_scope(&self) -> Result<(), AuthError> {
        match (self.role, self.restaurant_id) {
            (Role::Staff, Some(id)) if id > 0 => {}
            (Role::Staff, _) => return Err(AuthError::StaffWithoutRestaurant),
            (Role::Customer | Role::Driver | Role::Admin, Some(_)) => {
                return Err(AuthError::RestaurantWithoutStaff);
            }
            (Role::Customer | Role::Driver | Role::Admin, None) => {}
        }
        if self.sub.trim().is_empty() {
            return Err(AuthError::EmptySubject);
        }
        Ok(())
    }

    /// True when this caller may change restaurant `restaurant_id`'s
    /// details, menu and coupons: an admin, or its own staff.
    pub fn manages(&self, restaurant_id: i64) -> bool {
        match self.role {
            Role::Admin => true,
            Role::Staff => self.restaurant_id == Some(restaurant_id),
            Role::Customer | Role::Driver => false,
        }
    }
}

/// Why a token could not be issued or was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// `issue` was asked for a staff token without a restaurant.
    #[error("a staff token needs the restaurant (a positive id) the staff member works for")]
    StaffWithoutRestaurant,
    /// `issue` was given a restaurant for a role that has none.
    #[error("only staff tokens carry a restaurant")]
    RestaurantWithoutStaff,
    /// A role name that is none of the four.
    #[error("`{0}` is not a role: use customer, staff, driver or admin")]
    UnknownRole(String),
    /// `issue` was given an empty subject.
    #[error("the subject must not be empty")]
    EmptySubject,
    /// No `Authorization` header.
    #[error("this operation needs a bearer token")]
    Missing,
    /// An `Authorization` header that is not `Bearer <token>`.
    #[error("the Authorization header must be `Bearer <token>`")]
    NotBearer,
    /// The token's time is up.
    #[error("the token has expired")]
    Expired,
    /// A bad signature, issuer, algorithm or shape.
    #[error("the token is not valid: {0}")]
    Invalid(String),
    #[error("the token could not be signed: {0}")]
    Signing(#[source] jsonwebtoken::errors::Error),
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Signs a token for `role` and `subject`, valid for `ttl`. The
/// `foodmesh token` command and the tests call this, so the gateway and its
/// token issuer cannot disagree about the claims.
///
/// # Errors
/// A staff token without `restaurant_id`, a restaurant for another role, an
/// empty subject, or a signing failure.
pub fn issue(
    secret: &[u8],
    role: Role,
    subject: &str,
    restaurant_id: Option<i64>,
    ttl: Duration,
) -> Result<String, AuthError> {
    let iat = now_secs();
    let claims = Claims {
        sub: subject.to_owned(),
        role,
        restaurant_id,
        exp: iat.saturating_add(ttl.as_secs()),
        iat,
        iss: ISSUER.to_owned(),
    };
    claims.check_scope()?;
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )
    .map_err(AuthError::Signing)
}

/// Checks tokens against the gateway's secret. Built once at start-up and
/// shared by every request.
pub struct Verifier {
    key: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier").finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier for tokens signed with `secret`: HS256 only (no algorithm
    /// confusion), issuer `foodmesh`, `exp` required, 30 s of clock leeway.
    pub fn new(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = 30;
        Self {
            key: DecodingKey::from_secret(secret),
            validation,
        }
    }

    /// The claims of `token`, if it is ours and still valid.
    ///
    /// # Errors
    /// [`AuthError::Expired`] or [`AuthError::Invalid`].
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        use jsonwebtoken::errors::ErrorKind;
        let claims = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => AuthError::Expired,
                ErrorKind::InvalidSignature => AuthError::Invalid("bad signature".to_owned()),
                ErrorKind::InvalidIssuer => AuthError::Invalid("wrong issuer".to_owned()),
                ErrorKind::InvalidAlgorithm => AuthError::Invalid("wrong algorithm".to_owned()),
                ErrorKind::Json(_) => AuthError::Invalid("unexpected claims".to_owned()),
                _ => AuthError::Invalid("malformed token".to_owned()),
            })?;
        // Signed, but with a scope no issuer may give: refused like a forgery.
        claims
            .check_scope()
            .map_err(|e| AuthError::Invalid(e.to_string()))?;
        Ok(claims)
    }

    /// The claims of the request whose head is `parts`: the ones the rate
    /// limiter already verified for it ([`Verified`]), else those behind
    /// its `Authorization` header.
    ///
    /// # Errors
    /// A header that is present but not a valid bearer token.
    pub fn claims_of(&self, parts: &Parts) -> Result<Option<Claims>, AuthError> {
        if let Some(Verified(claims)) = parts.extensions.get::<Verified>() {
            return Ok(Some(claims.clone()));
        }
        self.claims_in(&parts.headers)
    }

    /// The claims behind the request's `Authorization` header, `None` when
    /// it has none.
    ///
    /// # Errors
    /// A header that is present but not a valid bearer token.
    pub fn claims_in(&self, headers: &axum::http::HeaderMap) -> Result<Option<Claims>, AuthError> {
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Ok(None);
        };
        let text = value.to_str().map_err(|_| AuthError::NotBearer)?;
        let (scheme, token) = text.split_once(' ').ok_or(AuthError::NotBearer)?;
        if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
            return Err(AuthError::NotBearer);
        }
        self.verify(token.trim()).map(Some)
    }
}

fn unauthorized(error: &AuthError) -> Problem {
    let invalid_token = !matches!(error, AuthError::Missing);
    Problem::unauthorized(error.to_string(), invalid_token)
}

/// Claims verified for this request by a layer before the handlers (the
/// rate limiter, which needs the caller to count by), so the extractors
/// do not verify the same token again. Only the gateway's own layers put
/// it on a request; a token that did not verify leaves none, and the
/// extractors then refuse it themselves.
#[derive(Debug, Clone)]
pub struct Verified(pub Claims);

/// An authenticated caller: the handler runs only with a valid token.
#[derive(Debug, Clone)]
pub struct Caller(pub Claims);

impl<S> FromRequestParts<S> for Caller
where
    Arc<Verifier>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let verifier = Arc::<Verifier>::from_ref(state);
        match verifier.claims_of(parts) {
            Ok(Some(claims)) => Ok(Caller(claims)),
            Ok(None) => Err(unauthorized(&AuthError::Missing)),
            Err(e) => Err(unauthorized(&e)),
        }
    }
}

/// A caller on a public route: anonymous is fine, but a token that is sent
/// must be valid, so nobody is silently served as anonymous by mistake.
#[derive(Debug, Clone)]
pub struct MaybeCaller(pub Option<Claims>);

impl<S> FromRequestParts<S> for MaybeCaller
where
    Arc<Verifier>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let verifier = Arc::<Verifier>::from_ref(state);
        verifier
            .claims_of(parts)
            .map(MaybeCaller)
            .map_err(|e| unauthorized(&e))
    }
}

/// The header a guest presents an order's access token in.
pub const ORDER_TOKEN_HEADER: &str = "x-order-token";

/// The query parameter that carries an order's access token for clients
/// that cannot set headers (a browser's `EventSource`).
pub const ORDER_TOKEN_QUERY: &str = "token";

/// The order access token a request presents (`X-Order-Token`, else
/// `?token=`), if any. Guest checkout hands one out; alone it reads,
/// tracks, watches and cancels that one order.
fn order_token_in(parts: &Parts) -> Option<String> {
    let from_header = parts
        .headers
        .get(ORDER_TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    from_header.or_else(|| {
        // Unparsable query text yields no token here; the route's own
        // query reading reports it.
        let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri).ok()?;
        pairs
            .into_iter()
            .rev()
            .find(|(name, value)| name == ORDER_TOKEN_QUERY && !value.trim().is_empty())
            .map(|(_, value)| value.trim().to_owned())
    })
}

fn no_order_credentials() -> Problem {
    Problem::unauthorized(
        "Send a bearer token, or the order's access token in the `X-Order-Token` \
         header (or the `token` query parameter).",
        false,
    )
}

/// A caller of a route that a guest may use with an order's access token
/// (read, track, watch, cancel one order): a bearer token's claims, the
/// order token, or both. Neither is a 401; a bearer token that is sent
/// must be valid.
#[derive(Debug, Clone)]
pub struct OrderCaller {
    /// The bearer token's claims, when one was sent.
    pub claims: Option<Claims>,
    /// The order access token, when one was sent.
    pub order_token: Option<String>,
}

impl<S> FromRequestParts<S> for OrderCaller
where
    Arc<Verifier>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let verifier = Arc::<Verifier>::from_ref(state);
        let claims = verifier.claims_of(parts).map_err(|e| unauthorized(&e))?;
        let order_token = order_token_in(parts);
        if claims.is_none() && order_token.is_none() {
            return Err(no_order_credentials());
        }
        Ok(OrderCaller {
            claims,
            order_token,
        })
    }
}

/// The order access token alone, for public tracking by order number: no
/// account is involved, so a bearer token does not stand in for it.
#[derive(Debug, Clone)]
pub struct OrderToken(pub String);

impl<S: Send + Sync> FromRequestParts<S> for OrderToken {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        order_token_in(parts).map(OrderToken).ok_or_else(|| {
            Problem::unauthorized(
                "Tracking needs the order's access token in the `X-Order-Token` header \
                 (or the `token` query parameter).",
                false,
            )
        })
    }
}

/// An admin: creating and deleting restaurants.
#[derive(Debug, Clone)]
pub struct Admin(pub Claims);

impl<S> FromRequestParts<S> for Admin
where
    Arc<Verifier>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Caller(claims) = Caller::from_request_parts(parts, state).await?;
        if claims.role == Role::Admin {
            Ok(Admin(claims))
        } else {
            Err(Problem::forbidden("Only an admin may do this."))
        }
    }
}

/// A caller who manages the restaurant in the path (admin, or that
/// restaurant's staff), with the path's ids already parsed. Checked in
/// the order 401, 400 (path), 403, so the body is never read for a caller
/// who may not write.
#[derive(Debug, Clone)]
pub struct Manager<P> {
    pub claims: Claims,
    /// The parsed path ids.
    pub path: P,
}

impl<S, P> FromRequestParts<S> for Manager<P>
where
    Arc<Verifier>: FromRef<S>,
    S: Send + Sync,
    P: PathIds + Send,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Caller(claims) = Caller::from_request_parts(parts, state).await?;
        let path = P::from_parts(parts).await?;
        if claims.manages(path.restaurant_id()) {
            Ok(Manager { claims, path })
        } else {
            Err(Problem::forbidden(
                "Only an admin or this restaurant's staff may do this.",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"test-secret";

    #[test]
    fn an_issued_token_verifies_with_its_claims() {
        let token = issue(
            SECRET,
            Role::Staff,
            "alice",
            Some(7),
            Duration::from_secs(60),
        )
        .expect("issues");
        let claims = Verifier::new(SECRET).verify(&token).expect("verifies");
        assert_eq!(claims.sub, "alice");
        assert_eq!(claims.role, Role::Staff);
        assert_eq!(claims.restaurant_id, Some(7));
        assert_eq!(claims.iss, ISSUER);
        assert!(claims.exp >= claims.iat + 60);
    }

    #[test]
    fn a_token_signed_with_another_secret_is_refused() {
        let token =
            issue(b"other", Role::Admin, "root", None, Duration::from_secs(60)).expect("issues");
        assert!(matches!(
            Verifier::new(SECRET).verify(&token),
            Err(AuthError::Invalid(_))
        ));
    }

    #[test]
    fn an_expired_token_is_refused_as_expired() {
        let past = now_secs() - 3600;
        let claims = Claims {
            sub: "root".to_owned(),
            role: Role::Admin,
            restaurant_id: None,
            exp: past,
            iat: past - 60,
            iss: ISSUER.to_owned(),
        };
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(SECRET),
        )
        .expect("encodes");
        assert!(matches!(
            Verifier::new(SECRET).verify(&token),
            Err(AuthError::Expired)
        ));
    }

    #[test]
    fn staff_tokens_need_a_restaurant_and_only_staff_tokens_have_one() {
        let ttl = Duration::from_secs(60);
        assert!(matches!(
            issue(SECRET, Role::Staff, "bob", None, ttl),
            Err(AuthError::StaffWithoutRestaurant)
        ));
        assert!(matches!(
            issue(SECRET, Role::Customer, "bob", Some(1), ttl),
            Err(AuthError::RestaurantWithoutStaff)
        ));
        assert!(matches!(
            issue(SECRET, Role::Admin, " ", None, ttl),
            Err(AuthError::EmptySubject)
        ));
        for restaurant in [0, -1] {
            assert!(matches!(
                issue(SECRET, Role::Staff, "bob", Some(restaurant), ttl),
                Err(AuthError::StaffWithoutRestaurant)
            ));
        }
    }

    #[test]
    fn a_signed_token_whose_scope_is_not_a_restaurant_is_refused() {
        let iat = now_secs();
        for (role, restaurant_id) in [
            (Role::Staff, Some(0)),
            (Role::Staff, Some(-3)),
            (Role::Staff, None),
            (Role::Customer, Some(1)),
        ] {
            let claims = Claims {
                sub: "bob".to_owned(),
                role,
                restaurant_id,
                exp: iat + 60,
                iat,
                iss: ISSUER.to_owned(),
            };
            let token = jsonwebtoken::encode(
                &Header::new(Algorithm::HS256),
                &claims,
                &EncodingKey::from_secret(SECRET),
            )
            .expect("encodes");
            assert!(
                matches!(
                    Verifier::new(SECRET).verify(&token),
                    Err(AuthError::Invalid(_))
                ),
                "{role:?} {restaurant_id:?}"
            );
        }
    }

    #[test]
    fn admins_manage_every_restaurant_and_staff_only_their_own() {
        let claims = |role, restaurant_id| Claims {
            sub: "x".to_owned(),
            role,
            restaurant_id,
            exp: 0,
            iat: 0,
            iss: ISSUER.to_owned(),
        };
        assert!(claims(Role::Admin, None).manages(3));
        assert!(claims(Role::Staff, Some(3)).manages(3));
        assert!(!claims(Role::Staff, Some(4)).manages(3));
        assert!(!claims(Role::Customer, None).manages(3));
        assert!(!claims(Role::Driver, None).manages(3));
    }

    #[test]
    fn roles_are_lower_case_in_json_and_on_the_command_line() {
        assert_eq!(
            serde_json::to_string(&Role::Admin).expect("serializes"),
            "\"admin\""
        );
        assert_eq!("Staff".parse::<Role>().ok(), Some(Role::Staff));
        assert_eq!(Role::Driver.to_string(), "driver");
        assert!(matches!(
            "chef".parse::<Role>(),
            Err(AuthError::UnknownRole(_))
        ));
    }

    #[test]
    fn the_order_token_comes_from_its_header_or_the_query() {
        let parts = |uri: &str, header: Option<&str>| {
            let mut builder = axum::http::Request::builder().uri(uri);
            if let Some(value) = header {
                builder = builder.header(ORDER_TOKEN_HEADER, value);
            }
            builder.body(()).expect("request").into_parts().0
        };
        assert_eq!(
            order_token_in(&parts("/x", Some("abc"))).as_deref(),
            Some("abc")
        );
        assert_eq!(
            order_token_in(&parts("/x?a=1&token=q%2Bt", None)).as_deref(),
            Some("q+t")
        );
        assert_eq!(
            order_token_in(&parts("/x?token=q", Some("h"))).as_deref(),
            Some("h")
        );
        assert_eq!(order_token_in(&parts("/x?token=", None)), None);
        assert_eq!(order_token_in(&parts("/x", None)), None);
    }

    #[test]
    fn the_authorization_header_must_be_a_bearer_token() {
        let verifier = Verifier::new(SECRET);
        let mut headers = axum::http::HeaderMap::new();
        assert!(matches!(verifier.claims_in(&headers), Ok(None)));
        headers.insert(header::AUTHORIZATION, "Basic abc".parse().expect("header"));
        assert!(matches!(
            verifier.claims_in(&headers),
            Err(AuthError::NotBearer)
        ));
        let token =
            issue(SECRET, Role::Admin, "root", None, Duration::from_secs(60)).expect("issues");
        headers.insert(
            header::AUTHORIZATION,
            format!("bearer {token}").parse().expect("header"),
        );
        assert!(matches!(verifier.claims_in(&headers), Ok(Some(_))));
    }

    #[test]
    fn claims_verified_earlier_for_the_request_are_not_verified_again() {
        let verifier = Verifier::new(SECRET);
        let token =
            issue(SECRET, Role::Staff, "ana", Some(3), Duration::from_secs(60)).expect("issues");
        let verified = verifier.verify(&token).expect("valid");
        let (mut parts, ()) = axum::http::Request::builder()
            .body(())
            .expect("request")
            .into_parts();
        assert!(matches!(verifier.claims_of(&parts), Ok(None)));
        parts.extensions.insert(Verified(verified.clone()));
        assert_eq!(verifier.claims_of(&parts).ok().flatten(), Some(verified));
        // Without them, the header is read as before.
        let (parts, ()) = axum::http::Request::builder()
            .header(header::AUTHORIZATION, "Bearer not-a-token")
            .body(())
            .expect("request")
            .into_parts();
        assert!(matches!(
            verifier.claims_of(&parts),
            Err(AuthError::Invalid(_))
        ));
    }
}
