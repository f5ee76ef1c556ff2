//! The contracts of FoodMesh, generated from the `.proto` files beside this
//! crate. Every service and the gateway depend on this crate alone for wire
//! types, so a contract change is one edit and one rebuild.
//!
//! # Layout
//! - [`common`] — money, addresses, geo points, paging, actors.
//! - [`restaurant`], [`order`], [`kitchen`], [`delivery`], [`accounting`],
//!   [`notification`] — one versioned package per service.
//! - [`events`] — the envelope every domain event travels in.
//! - [`FILE_DESCRIPTOR_SET`] — for gRPC server reflection.

#![allow(clippy::large_enum_variant, clippy::doc_lazy_continuation)]

/// Every compiled file's descriptor, so reflection clients (grpcurl) can list
/// and call each service without the `.proto` files at hand.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/foodmesh_descriptor.bin"));

/// Shared messages.
pub mod common {
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/foodmesh.common.v1.rs"));
    }
}

/// Restaurants, menus and coupons.
pub mod restaurant {
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/foodmesh.restaurant.v1.rs"));
    }
}

/// Orders and customers.
pub mod order {
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/foodmesh.order.v1.rs"));
    }
}

/// Kitchen tickets.
pub mod kitchen {
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/foodmesh.kitchen.v1.rs"));
    }
}

/// Deliveries and drivers.
pub mod delivery {
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/foodmesh.delivery.v1.rs"));
    }
}

/// Payments, invoices and the ledger.
pub mod accounting {
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/foodmesh.accounting.v1.rs"));
    }
}

pub mod notification {
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/foodmesh.notification.v1.rs"));
    }
}

/// Domain events.
pub mod events {
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/foodmesh.events.v1.rs"));
    }
}
