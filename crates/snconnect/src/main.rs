//! `snconnect`: the command line over snconnect-core.
//!
//! Secrets never come from argv: `SNCONNECT_PASSWORD`, `SNCONNECT_CLIENT_SECRET`,
//! `SNCONNECT_API_KEY`, `SNCONNECT_ADMIN_PASSWORD`, or a hidden prompt when stdin is a terminal.
//! Exit status: 0 success; 1 the connection or check failed (diagnosis printed);
//! 2 usage or local configuration error.
//!
//! This file parses (`cli`) and dispatches to one module per command (`cmd/`); `ctx` is what
//! every command shares, `output` how an outcome is printed.

mod cli;
mod cmd;
mod ctx;
mod output;
mod secrets;
mod signin;
mod views;

use clap::Parser;
use cli::{Cli, Command};
use ctx::Ctx;
use output::{exit_status, Outcome};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SNCONNECT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let json = cli.global.json;
    let outcome = runtime.block_on(run(cli));
    outcome.emit(json);
    ExitCode::from(exit_status(&outcome))
}

async fn run(cli: Cli) -> Outcome {
    let ctx = match Ctx::new(&cli.global) {
        Ok(c) => c,
        Err(d) => return Outcome::failed(d),
    };
    let result = match cli.command {
        Command::Verify(a) => cmd::verify::verify(&ctx, a).await,
        Command::Profile(p) => cmd::profile::profile_cmd(&ctx, p).await,
        Command::Login(a) => cmd::login::login(&ctx, a).await,
        Command::Test(a) => cmd::test::test(&ctx, a).await,
        Command::Token(t) => cmd::token::token_cmd(&ctx, t).await,
        Command::Report(a) => cmd::report::report(&ctx, a).await,
        Command::Preflight(a) => cmd::preflight::preflight(&ctx, a).await,
        Command::Register(a) => cmd::register::register(&ctx, a).await,
        Command::Migrate(a) => cmd::migrate::migrate(&ctx, a).await,
        Command::Inventory(a) => cmd::inventory::inventory(&ctx, a).await,
    };
    result.unwrap_or_else(Outcome::failed)
}
