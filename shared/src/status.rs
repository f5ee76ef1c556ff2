//! The gRPC status a service answers a refusal with, built one way
//! everywhere so the gateway's one table (`gateway/src/problem.rs`) can read
//! any service's refusals.
//!
//! A refusal carries its code and message, an `ErrorInfo` with a stable
//! reason in the service's error domain (`foodmesh.order`), and — when
//! fields are at fault — a `BadRequest` naming each by its path in the
//! request. Which code and reason a refusal gets is the service's own table,
//! in its single `From<DomainError> for Status`.

use std::collections::HashMap;

use foodmesh_proto::common::v1::ErrorReason;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

use crate::validate::Violations;

/// A refusal's status: `code` and `message`, an `ErrorInfo` with `reason`
/// (by its name in the contract) in `domain` and its `metadata`, and a
/// `BadRequest` listing `fields` in their order unless there are none.
pub fn refusal(
    code: Code,
    message: impl Into<String>,
    domain: &str,
    reason: ErrorReason,
    metadata: HashMap<String, String>,
    fields: &Violations,
) -> Status {
    let mut details = ErrorDetails::with_error_info(reason.as_str_name(), domain, metadata);
    if !fields.is_empty() {
        details.set_bad_request(
            fields
                .iter()
                .map(|v| FieldViolation::new(&v.field, &v.description))
                .collect::<Vec<_>>(),
        );
    }
    Status::with_error_details(code, message, details)
}

/// The status of a failure no client can fix (the database is down, a
/// bug): the cause chain goes to the log, the client gets an opaque
/// `INTERNAL` that leaks nothing of it.
pub fn unexpected(cause: &anyhow::Error) -> Status {
    tracing::error!(error = format!("{cause:#}"), "unexpected failure");
    Status::internal("internal error")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_carries_its_reason_and_fields_in_order() {
        let mut fields = Violations::one("name", "must not be empty");
        fields.add("items[0].quantity", "must be 1 to 99");
        let metadata = HashMap::from([("status".to_owned(), "READY".to_owned())]);
        let status = refusal(
            Code::InvalidArgument,
            "invalid request",
            "foodmesh.test",
            ErrorReason::ValidationFailed,
            metadata.clone(),
            &fields,
        );

        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message(), "invalid request");
        let info = status.get_details_error_info().expect("ErrorInfo");
        assert_eq!(
            (info.reason.as_str(), info.domain.as_str(), info.metadata),
            ("VALIDATION_FAILED", "foodmesh.test", metadata)
        );
        let named: Vec<_> = status
            .get_details_bad_request()
            .expect("BadRequest")
            .field_violations
            .into_iter()
            .map(|v| (v.field, v.description))
            .collect();
        assert_eq!(
            named,
            [
                ("name".to_owned(), "must not be empty".to_owned()),
                ("items[0].quantity".to_owned(), "must be 1 to 99".to_owned()),
            ]
        );
    }

    #[test]
    fn a_refusal_without_fields_has_no_bad_request() {
        let status = refusal(
            Code::NotFound,
            "order 7 not found",
            "foodmesh.test",
            ErrorReason::OrderNotFound,
            HashMap::new(),
            &Violations::default(),
        );
        assert!(status.get_details_bad_request().is_none());
        assert!(status.get_details_error_info().is_some());
    }

    #[test]
    fn an_unexpected_failure_is_opaque() {
        let status = unexpected(&anyhow::anyhow!("password=hunter2").context("database"));
        assert_eq!(status.code(), Code::Internal);
        assert_eq!(status.message(), "internal error");
    }
}
