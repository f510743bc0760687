//! The `cetak` binary: parses the command line and hands over to the
//! library.

fn main() -> anyhow::Result<()> {
    cetak_model::edge::quiet_on_closed_pipe();
    cetak::cli::main(cetak::cli::help::parse())
}
