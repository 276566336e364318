//! The `verdict` binary: parses the command line and hands over to `verdict_server::cli`.

#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    verdict_server::cli::main()
}
