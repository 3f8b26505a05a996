//! `seatkeeper`: the server and the operator's commands.

mod commands;
mod demo;
mod opts;

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = opts::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SEATKEEPER_LOG").unwrap_or_else(|_| {
                "seatkeeper=info,seatkeeper_web=info,seatkeeper_app=info,warn".into()
            }),
        )
        .with_writer(std::io::stderr)
        .init();
    match commands::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
