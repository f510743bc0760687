//! `cetak-district`: the district queue service and its officers' commands.

fn main() -> anyhow::Result<()> {
    cetak_model::edge::quiet_on_closed_pipe();
    cetak_district::cli::main()
}
