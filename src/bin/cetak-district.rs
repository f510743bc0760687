//! `cetak-district`: the district queue service and its officers' commands
//! (the code lives in the `cetak-district` crate).

fn main() -> anyhow::Result<()> {
    cetak::cli::quiet_on_closed_pipe();
    cetak_district::cli::main()
}
