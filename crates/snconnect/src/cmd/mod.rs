//! One module per command or command group. Each takes the run's [`Ctx`](crate::ctx::Ctx)
//! and its parsed arguments and returns what to print (an [`Outcome`](crate::output::Outcome)).

pub mod assist;
pub mod inventory;
pub mod login;
pub mod migrate;
pub mod preflight;
pub mod profile;
pub mod register;
pub mod report;
pub mod test;
pub mod token;
pub mod verify;
