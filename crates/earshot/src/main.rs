//! The `earshot` command.

use std::process::ExitCode;

const USAGE: &str = "\
earshot — a voice media node that answers, places and taps SIP calls

Usage: earshot [OPTIONS]

Options:
  -h, --help     Print this help
  -V, --version  Print the version
";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        None | Some("-h" | "--help" | "help") => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some("-V" | "--version") => {
            println!("earshot {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("earshot: unknown argument '{other}'\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}
