//! The `cetak` binary: parses the command line and hands over to the
//! library.

fn main() -> anyhow::Result<()> {
    cetak::cli::quiet_on_closed_pipe();
    cetak::cli::main(cetak::cli::help::parse())
}
