//! `cetak-district`: the district queue service and its officers' commands
//! (the code lives in the `cetak-district` crate).

fn main() -> anyhow::Result<()> {
    cetak_district::cli::main()
}
