//! The `cetak` binary: parses the command line and hands over to the
//! library.

use clap::Parser;

fn main() -> anyhow::Result<()> {
    cetak::cli::main(cetak::cli::Cli::parse())
}
