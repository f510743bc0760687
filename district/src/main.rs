//! `cetak-district`: the district queue's commands.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "cetak-district", version, about = "The district queue of cetak, on PostgreSQL")]
struct Cli {
    /// PostgreSQL URL (or CETAK_DISTRICT_DB).
    #[arg(long, env = "CETAK_DISTRICT_DB", global = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Imports a JSONL file of PRRs for the district of REGENCY (PP.KK).
    Import {
        file: PathBuf,
        #[arg(long)]
        regency: String,
    },
    /// An officer approves jobs held for approval.
    Approve { jobs: Vec<String> },
    /// The jobs in the queue (no personal data).
    Jobs,
    /// Starts a throw-away PostgreSQL cluster and prints its URL; stops it
    /// on Ctrl-C.
    Dev,
}

/// The officer: the operating-system user running the command.
fn actor() -> String {
    format!("uid:{}", rustix::process::getuid().as_raw())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_writer(std::io::stderr).init();
    let cli = Cli::parse();
    let url = || cli.database_url.clone().context("no database: give --database-url or CETAK_DISTRICT_DB (try 'cetak-district dev')");
    match &cli.command {
        Command::Dev => {
            let cluster = cetak_district::pgtemp::TempCluster::start()?;
            cetak_district::connect(&cluster.url()).await?;
            println!("CETAK_DISTRICT_DB={}", cluster.url());
            println!("throw-away cluster in {}; Ctrl-C stops and removes it", cluster.dir().display());
            tokio::signal::ctrl_c().await?;
        }
        Command::Import { file, regency } => {
            let pool = cetak_district::connect(&url()?).await?;
            let today = time::OffsetDateTime::now_utc().date();
            let r = cetak_district::import_file(&pool, file, regency, &actor(), today).await?;
            println!(
                "pending {}, held for approval {}, other regency refused {}, invalid refused {}, already known {}",
                r.pending.len(),
                r.held.len(),
                r.foreign.len(),
                r.invalid.len(),
                r.known.len()
            );
            for (id, code, field) in &r.invalid {
                println!("  refused {id}: {code} ({field})");
            }
        }
        Command::Approve { jobs } => {
            let pool = cetak_district::connect(&url()?).await?;
            cetak_district::approve(&pool, jobs, &actor()).await?;
            println!("approved {}", jobs.len());
        }
        Command::Jobs => {
            let pool = cetak_district::connect(&url()?).await?;
            for j in cetak_district::jobs(&pool).await? {
                println!(
                    "{:<24} {} {:<7} {:<8} approval={}",
                    j.job_id,
                    j.kode_wilayah,
                    j.priority,
                    j.state,
                    j.approved_by.as_deref().unwrap_or("-")
                );
            }
        }
    }
    Ok(())
}
