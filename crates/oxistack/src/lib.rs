//! The all-in-one cloud as a library: [`cloud::Cloud::start`] opens the
//! state directory and the store, bootstraps identity and the catalog,
//! binds every API on its standard port and serves until told to stop.
//! `oxistack up` and the in-process test kit both use it; [`admin`] and
//! [`status`] hold the operator commands; [`openapi`] the services' API
//! documents.

pub mod admin;
pub mod cloud;
pub mod openapi;
pub mod state;
pub mod status;
