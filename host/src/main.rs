//! The `arca` command: a thin `main` over [`cli`]. Exit codes: 0 success,
//! 1 an operation failed, 2 a usage error.

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // A bug must still end in one readable line, never a panic message and a
    // backtrace.
    std::panic::set_hook(Box::new(|info| {
        let msg = arca_core::export::panic_message(info.payload());
        eprintln!("arca: internal error: {msg}");
    }));
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    // The server logs one line per request by default; other commands only
    // warnings. RUST_LOG overrides both.
    let default = if matches!(cli.command, cli::Command::Serve(_)) {
        "info"
    } else {
        "warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .init();
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("arca: error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(cli::Failure::Usage(msg)) => {
            eprintln!("arca: error: {msg}");
            ExitCode::from(2)
        }
        Err(cli::Failure::Failed(errors)) => {
            for e in &errors {
                if cli::is_broken_pipe(e) {
                    return ExitCode::SUCCESS;
                }
                eprintln!("arca: error: {e}");
            }
            ExitCode::from(1)
        }
    }
}
