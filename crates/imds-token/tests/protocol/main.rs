//! Protocol tests: each source against a wiremock stand-in that records the exact requests,
//! with time from a manual clock.

mod common;

mod app_service;
mod cache;
mod from_env;
mod imds;
mod responses;
mod retries;
mod unreachable;
mod workload_identity;
