//! `hearth`: the headless Hearth client.
//!
//! Exit codes scripts can rely on: 0 success; 1 an error reported as `error[CODE]: message` on
//! stderr (CODE is the stable code of hearth-core's error); 2 wrong usage (from clap).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use hearth_core::{CoreError, Env, Hearth};

#[derive(Debug, Parser)]
#[command(
    name = "hearth",
    version,
    about = "Hearth offline learning client, without a window"
)]
struct Cli {
    /// The data folder (store and device key). Created on first use.
    #[arg(
        long,
        env = "HEARTH_DATA_DIR",
        global = true,
        default_value = "hearth-data"
    )]
    data: PathBuf,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show the device and where its ledger stands.
    Status,
    /// List or add learners.
    #[command(subcommand)]
    Learners(LearnersCommand),
    /// List the most recent receipts.
    Receipts {
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Verify every receipt's signature and the whole chain.
    Verify,
}

#[derive(Debug, Subcommand)]
enum LearnersCommand {
    /// List the learners on this device.
    List,
    /// Add a local learner profile.
    Add { name: String },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HEARTH_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let code = err
                .downcast_ref::<CoreError>()
                .map_or("cli.error", CoreError::code);
            eprintln!("error[{code}]: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn print(json: bool, value: serde_json::Value, text: impl FnOnce() -> String) {
    if json {
        println!("{value}");
    } else {
        println!("{}", text());
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let mut hearth = Hearth::open(&cli.data, Env::system())?;
    match cli.command {
        Command::Status => {
            let device = hearth.device();
            let status = hearth.ledger_status()?;
            print(
                cli.json,
                serde_json::json!({ "device": device, "ledger": status }),
                || {
                    format!(
                        "device    {}\nkey       {}\nreceipts  {} recorded, {} acknowledged, {} waiting to sync",
                        device.id,
                        device.public_key.to_hex(),
                        status.head_seq,
                        status.acked_seq,
                        status.pending
                    )
                },
            );
        }
        Command::Learners(LearnersCommand::List) => {
            let learners = hearth.learners()?;
            print(cli.json, serde_json::json!(learners), || {
                learners
                    .iter()
                    .map(|l| format!("{}  {}", l.id, l.display_name))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        Command::Learners(LearnersCommand::Add { name }) => {
            let learner = hearth.add_learner(&name)?;
            print(cli.json, serde_json::json!(learner), || {
                format!("{}  {}", learner.id, learner.display_name)
            });
        }
        Command::Receipts { limit } => {
            let receipts = hearth.recent_receipts(limit)?;
            print(cli.json, serde_json::json!(receipts), || {
                receipts
                    .iter()
                    .map(|r| {
                        let synced = if r.acknowledged { "synced" } else { "pending" };
                        format!(
                            "{:>6}  {}  {:<18} {}  {}",
                            r.seq,
                            &r.id.to_hex()[..12],
                            r.kind,
                            r.learner,
                            synced
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        Command::Verify => {
            let head = hearth.verify_ledger()?;
            print(
                cli.json,
                serde_json::json!({ "verifiedUpTo": head.seq, "headId": head.id }),
                || format!("ok: {} receipts verify, chain head {}", head.seq, head.id),
            );
        }
    }
    Ok(())
}
