//! `hearth`: the headless Hearth client.
//!
//! Exit codes scripts can rely on:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success (for `sync`: everything recorded is acknowledged) |
//! | 1 | an error, reported as `error[CODE]: message` on stderr with a stable CODE |
//! | 2 | wrong usage (from clap) |
//! | 3 | `sync`, `download`: the service cannot be reached (`sync.offline`), or the link broke off or was too slow even after retries (`sync.interrupted`, `sync.timeout`); nothing was lost, run it again to continue |
//! | 4 | `sync`: the service answered, but receipts are still waiting (a gap or a rejection) |
//!
//! `import-course` refuses a package it cannot trust with exit code 1 and the refusal's code
//! (`package.*`, `manifest.*`, `content.*`; docs/package-format.md lists them); nothing of a
//! refused package is kept.

mod certificate;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use hearth_core::content::{DownloadOptions, HttpSource, Progress};
use hearth_core::sync::batch::{BatchConfig, BatchSizer};
use hearth_core::sync::http::{self, HttpTransport};
use hearth_core::sync::schedule::RetryConfig;
use hearth_core::sync::{RoundOptions, SyncError, TransportError, sync_round_with};
use hearth_core::{CoreError, Env, Hearth, certificates};
use hearth_protocol::CourseId;

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
    /// Check a certificate offline: a PDF, the QR code's text (HC1:…) or the credential JSON,
    /// a file or the text itself. Needs no data folder and no network.
    VerifyCertificate {
        /// A file (PDF or JSON) or the text (QR text or JSON).
        input: String,
        /// The issuer key the service publishes (`publicKeyMultibase` of
        /// /.well-known/hearth-issuer.json, or 64 hex characters).
        #[arg(long, env = "HEARTH_ISSUER_KEY")]
        key: String,
        /// A saved copy of the signed revocation status list, to report revocation.
        #[arg(long)]
        status_list: Option<PathBuf>,
    },
    /// The certificates of the learner at the keyboard (as the last `hearth sync` pulled
    /// them), and downloading one with its PDF.
    #[command(subcommand)]
    Certificate(CertificateCommand),
    /// Download the signed electronic training record (电子培训档案) of the learner at the
    /// keyboard, as JSON and PDF, verified under the service's issuer key.
    TrainingRecord {
        /// Where to save the PDF.
        #[arg(long)]
        pdf: Option<PathBuf>,
        /// Where to save the signed JSON (`--json` alone is the global switch for JSON output).
        #[arg(long = "json-file", value_name = "FILE")]
        json_file: Option<PathBuf>,
    },
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
    /// Enroll this device with a service using a one-time code from a trainer or administrator.
    Enroll {
        /// The service address, e.g. http://192.168.1.10:8080
        #[arg(long)]
        service: String,
        /// The one-time enrollment code.
        #[arg(long)]
        code: String,
        /// A label for people, e.g. "2号教室 3号机".
        #[arg(long)]
        label: Option<String>,
    },
    /// Write every receipt not yet acknowledged to a file (for a USB stick or a kiosk relay).
    ExportReceipts {
        /// The file to write, e.g. /media/usb/receipts-kiosk3.hrx
        #[arg(long)]
        to: PathBuf,
    },
    /// Hand the service a receipt file carried from other devices (this kiosk as a relay).
    Relay {
        /// A file written by `hearth export-receipts` on another device.
        file: PathBuf,
    },
    /// List the courses on this device (installed, with their sizes) and the service's catalog
    /// as last fetched.
    Courses,
    /// Import a course package file from a USB stick or a shared folder. The device must be
    /// enrolled: the package must be signed by a publisher this device trusts.
    #[command(after_help = IMPORT_HELP)]
    ImportCourse {
        /// The package file, e.g. /media/usb/electrician-safety.hcp
        file: PathBuf,
    },
    /// Write an installed course as one package file, for another device (`hearth
    /// import-course`).
    ExportCourse {
        /// The course id, e.g. electrician-safety
        #[arg(value_parser = parse_course)]
        course: CourseId,
        /// The version (the newest installed one if not given).
        #[arg(long)]
        version: Option<u32>,
        /// The package file to write, e.g. /media/usb/electrician-safety.hcp
        #[arg(long)]
        to: PathBuf,
    },
    /// Send every waiting receipt to the service now. Batches are sized to the link's measured
    /// speed, and a reset, a cut or a 408 is tried again within the run.
    Sync {
        /// Receipts per upload batch, fixed (default: sized to the link, 5 to 500).
        #[arg(long)]
        batch: Option<u32>,
        /// Failures in a row tried again within the run before giving up (0: none).
        #[arg(long, default_value_t = RetryConfig::default().attempts)]
        retries: u32,
    },
    /// Download a course from the service and install it. A broken transfer resumes where it
    /// stopped (HTTP Range); run it again after a failure to continue.
    Download {
        /// The course id, e.g. electrician-safety
        #[arg(value_parser = parse_course)]
        course: CourseId,
        /// The version (the catalog's, fetched now, if not given).
        #[arg(long)]
        version: Option<u32>,
        /// Broken transfers in a row resumed per file before giving up.
        #[arg(long, default_value_t = 8)]
        retries: u32,
    },
}

#[derive(Debug, Subcommand)]
enum CertificateCommand {
    /// List the certificates of the learner at the keyboard from the record last pulled.
    List,
    /// Download a certificate's signed credential and PDF, verify them under the service's
    /// issuer key, keep them in the data folder, and save copies where asked.
    Download {
        /// The serial number, e.g. HC-7Q2M9K4T1B3X
        serial: String,
        /// Where to save the PDF.
        #[arg(long)]
        pdf: Option<PathBuf>,
        /// Where to save the credential JSON (`--json` alone is the global switch for JSON
        /// output).
        #[arg(long = "json-file", value_name = "FILE")]
        json_file: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum LearnersCommand {
    /// List the learners on this device.
    List,
    /// Add a local learner profile.
    Add { name: String },
}

const IMPORT_HELP: &str = "\
Every check is made before the course appears: the publisher's signature, the package's limits,
each file's size and SHA-256. A refused package exits with code 1 and `error[CODE]: message`
(for example package.truncated, package.hash_mismatch, manifest.unknown_publisher,
content.not_enrolled, content.budget_exceeded, content.disk_full); nothing of it is kept.";

fn parse_course(s: &str) -> Result<CourseId, String> {
    CourseId::new(s).map_err(|_| format!("{s:?} is not a course id (a-z 0-9 . _ -)"))
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// Exit code for "the service cannot be reached".
const EXIT_OFFLINE: u8 = 3;
/// Exit code for "synced, but receipts are still waiting".
const EXIT_INCOMPLETE: u8 = 4;

/// An error that chooses its own exit code.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
struct Exit {
    code: String,
    message: String,
    status: u8,
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
            if let Some(exit) = err.downcast_ref::<Exit>() {
                eprintln!("error[{}]: {}", exit.code, clean(&exit.message));
                return ExitCode::from(exit.status);
            }
            let code = err
                .downcast_ref::<CoreError>()
                .map_or("cli.error", CoreError::code);
            eprintln!("error[{code}]: {}", clean(&message(&err)));
            ExitCode::FAILURE
        }
    }
}

/// What an import or a download installed, as JSON or a line (the title from the manifest
/// cleaned of control characters).
fn print_installed(json: bool, verb: &str, c: &hearth_core::content::CourseSummary) {
    print(
        json,
        serde_json::json!({
            "course": c.course,
            "version": c.version,
            "title": c.title,
            "totalSize": c.total_size,
            "lessons": c.lessons.len(),
        }),
        || {
            format!(
                "{verb} {} version {} ({}, {} lessons, {})",
                c.course,
                c.version,
                clean(&c.title),
                c.lessons.len(),
                megabytes(c.total_size)
            )
        },
    );
}

fn print(json: bool, value: serde_json::Value, text: impl FnOnce() -> String) {
    if json {
        // serde_json writes control characters as `\u` escapes.
        println!("{value}");
    } else {
        let text = text();
        let lines: Vec<String> = text.lines().map(clean).collect();
        println!("{}", lines.join("\n"));
    }
}

/// An error and its causes, each cause only when the message so far does not already say it
/// (`CoreError` messages include their inner error's text, so the plain chain would state each
/// refusal's cause twice).
fn message(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if out.is_empty() {
            out = text;
        } else if !out.contains(&text) {
            out = format!("{out}: {text}");
        }
    }
    out
}

/// Text from a package, a service or a file name, made safe for a terminal: control characters
/// (escape sequences, carriage returns, newlines) and bidirectional overrides are shown as
/// `\u{..}` escapes instead of acting on the terminal.
fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let bidi = matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        if c.is_control() || bidi {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::VerifyCertificate {
        input,
        key,
        status_list,
    } = &cli.command
    {
        let checked = certificate::check(input, key, status_list.as_deref()).map_err(|e| Exit {
            code: e.code,
            message: e.message,
            status: 1,
        })?;
        print(cli.json, certificate::report_json(&checked), || {
            certificate::report_text(&checked)
        });
        return Ok(());
    }
    let mut hearth = Hearth::open(&cli.data, Env::system())?;
    match cli.command {
        Command::VerifyCertificate { .. } => unreachable!("checked before opening the data folder"),
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
                    .map(|l| format!("{}  {}", l.id, clean(&l.display_name)))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        Command::Learners(LearnersCommand::Add { name }) => {
            let learner = hearth.add_learner(&name)?;
            print(cli.json, serde_json::json!(learner), || {
                format!("{}  {}", learner.id, clean(&learner.display_name))
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
        Command::Enroll {
            service,
            code,
            label,
        } => {
            let now = hearth_core::Clock::wall_ms(&hearth_core::SystemClock::new());
            let answer = runtime()?
                .block_on(http::enroll(
                    &service,
                    &code,
                    hearth.device().public_key,
                    label,
                    now,
                ))
                .map_err(|e| sync_exit(SyncError::Transport(e)))?;
            hearth.apply_enroll_answer(&answer)?;
            let e = &answer.enrollment;
            print(
                cli.json,
                serde_json::json!({ "deviceId": hearth.device().id, "orgId": e.org_id, "orgName": e.org_name, "roster": answer.roster.len() }),
                || {
                    format!(
                        "enrolled device {} with {} ({} people on the roster)",
                        hearth.device().id,
                        clean(&e.org_name),
                        answer.roster.len()
                    )
                },
            );
        }
        Command::ExportReceipts { to } => {
            let count = hearth.export_receipts(&to)?;
            print(
                cli.json,
                serde_json::json!({ "receipts": count, "file": to }),
                || format!("wrote {count} receipts to {}", to.display()),
            );
        }
        Command::Relay { file } => {
            let enrollment = enrolled(&hearth)?;
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let transport = HttpTransport::new(&enrollment).map_err(|e| sync_exit(e.into()))?;
            let answer = runtime()?
                .block_on(transport.relay(&bytes))
                .map_err(|e| sync_exit(e.into()))?;
            print(cli.json, serde_json::json!(answer), || {
                answer
                    .sections
                    .iter()
                    .map(|s| match &s.code {
                        Some(code) => format!("{}  refused: {code}", s.device_id),
                        None => format!(
                            "{}  {} receipts: {} accepted, {} already there, {} waiting, {} rejected",
                            s.device_id,
                            s.results.len(),
                            s.results.matches('A').count(),
                            s.results.matches('D').count(),
                            s.results.matches('P').count(),
                            s.results.matches('R').count()
                        ),
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        Command::Certificate(CertificateCommand::List) => {
            let list = hearth.certificates()?;
            print(cli.json, serde_json::json!(list), || {
                if list.is_empty() {
                    return "no certificates in the record last pulled (run `hearth sync` to refresh)"
                        .to_owned();
                }
                list.iter()
                    .map(|c| {
                        let kept = if c.saved {
                            "kept on this PC"
                        } else {
                            "not downloaded"
                        };
                        format!("{}  {}  {kept}", c.serial, c.course)
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        Command::Certificate(CertificateCommand::Download {
            serial,
            pdf,
            json_file: json,
        }) => {
            let (folder, transport) = hearth.certificate_to_fetch(&serial)?;
            drop(hearth);
            let check = runtime()?
                .block_on(certificates::download(&folder, &transport, &serial))
                .map_err(sync_exit)?;
            if let Some(to) = &pdf {
                folder.save_pdf(&serial, to)?;
            }
            if let Some(to) = &json {
                folder.save_json(&serial, to)?;
            }
            print(cli.json, serde_json::json!(check), || {
                let mut lines = vec![format!(
                    "downloaded certificate {serial}: {}",
                    certificate::status_word(&check)
                )];
                lines.extend(
                    pdf.iter()
                        .map(|p| format!("saved the PDF to {}", p.display())),
                );
                lines.extend(
                    json.iter()
                        .map(|p| format!("saved the credential to {}", p.display())),
                );
                lines.join("\n")
            });
        }
        Command::TrainingRecord {
            pdf,
            json_file: json,
        } => {
            if pdf.is_none() && json.is_none() {
                return Err(Exit {
                    code: "cli.usage".into(),
                    message: "say where to save the record: --pdf FILE and/or --json-file FILE"
                        .into(),
                    status: 2,
                }
                .into());
            }
            let (learner, folder, transport) = hearth.record_to_fetch()?;
            drop(hearth);
            runtime()?
                .block_on(certificates::download_record(&folder, &transport, learner))
                .map_err(sync_exit)?;
            folder.save_record(learner, json.as_deref(), pdf.as_deref())?;
            print(
                cli.json,
                serde_json::json!({ "learner": learner, "pdf": pdf, "json": json }),
                || {
                    let mut lines = vec![format!("training record of {learner} verified")];
                    lines.extend(
                        pdf.iter()
                            .map(|p| format!("saved the PDF to {}", p.display())),
                    );
                    lines.extend(
                        json.iter()
                            .map(|p| format!("saved the JSON to {}", p.display())),
                    );
                    lines.join("\n")
                },
            );
        }
        Command::Courses => {
            let installed = hearth.installed_courses()?;
            let catalog = hearth.cached_catalog()?;
            let usage = hearth.content_usage()?;
            let budget = hearth.content_budget()?;
            let is_installed =
                |c: &CourseId, v: u32| installed.iter().any(|i| i.course == *c && i.version == v);
            let catalog_json = catalog.as_ref().map(|cat| {
                cat.courses
                    .iter()
                    .map(|e| {
                        serde_json::json!({
                            "course": e.course,
                            "version": e.version,
                            "title": e.title,
                            "totalSize": e.total_size,
                            "installed": is_installed(&e.course, e.version),
                        })
                    })
                    .collect::<Vec<_>>()
            });
            let installed_json: Vec<_> = installed
                .iter()
                .map(|c| {
                    serde_json::json!({
                        "course": c.course,
                        "version": c.version,
                        "title": c.title,
                        "language": c.language,
                        "totalSize": c.total_size,
                        "lessons": c.lessons.len(),
                        "installedMs": c.installed_ms,
                    })
                })
                .collect();
            print(
                cli.json,
                serde_json::json!({
                    "installed": installed_json,
                    "catalog": catalog_json,
                    "cacheBytes": usage,
                    "budgetBytes": budget,
                }),
                || {
                    let mut out = vec!["installed:".to_owned()];
                    if installed.is_empty() {
                        out.push("  (none)".into());
                    }
                    for c in &installed {
                        out.push(format!(
                            "  {}  v{}  {}  {}  {} lessons",
                            c.course,
                            c.version,
                            clean(&c.title),
                            megabytes(c.total_size),
                            c.lessons.len()
                        ));
                    }
                    match &catalog {
                        None => out.push("catalog: not fetched yet".into()),
                        Some(cat) => {
                            out.push("catalog (as last fetched):".into());
                            for e in &cat.courses {
                                out.push(format!(
                                    "  {}  v{}  {}  {}  {}",
                                    e.course,
                                    e.version,
                                    clean(&e.title),
                                    megabytes(e.total_size),
                                    if is_installed(&e.course, e.version) {
                                        "installed"
                                    } else {
                                        "not installed"
                                    }
                                ));
                            }
                        }
                    }
                    out.push(format!(
                        "cache: {} of a {} budget",
                        megabytes(usage),
                        megabytes(budget)
                    ));
                    out.join("\n")
                },
            );
        }
        Command::ImportCourse { file } => {
            let c = hearth.import_course(&file)?;
            print_installed(cli.json, "imported", &c);
        }
        Command::ExportCourse {
            course,
            version,
            to,
        } => {
            let version = match version {
                Some(v) => v,
                None => hearth
                    .installed_courses()?
                    .iter()
                    .filter(|c| c.course == course)
                    .map(|c| c.version)
                    .max()
                    .ok_or_else(|| Exit {
                        code: "content.not_installed".into(),
                        message: format!("no version of course {course} is installed"),
                        status: 1,
                    })?,
            };
            let e = hearth.export_course(&course, version, &to)?;
            print(cli.json, serde_json::json!(e), || {
                format!(
                    "wrote {} version {} ({} files, {}) to {}",
                    e.course,
                    e.version,
                    e.files,
                    megabytes(e.bytes),
                    clean(&e.path.display().to_string())
                )
            });
        }
        Command::Sync { batch, retries } => {
            let enrollment = enrolled(&hearth)?;
            let transport = HttpTransport::new(&enrollment).map_err(|e| sync_exit(e.into()))?;
            let hearth = std::sync::Mutex::new(hearth);
            let mut options = RoundOptions {
                batch: BatchSizer::new(batch.map_or_else(BatchConfig::default, BatchConfig::fixed)),
                retry: RetryConfig {
                    attempts: retries,
                    ..RetryConfig::default()
                },
            };
            let report = runtime()?
                .block_on(sync_round_with(
                    &hearth,
                    &transport,
                    &enrollment.anchor_key,
                    &mut options,
                ))
                .map_err(sync_exit)?;
            print(cli.json, serde_json::json!(report), || {
                let mut text = format!(
                    "sent {} receipts in {} batches: {} accepted, {} already there, {} waiting, {} rejected; {} left",
                    report.sent,
                    report.batches,
                    report.accepted,
                    report.duplicates,
                    report.pending,
                    report.rejected,
                    report.left
                );
                if report.retries > 0 || report.resumed > 0 {
                    text.push_str(&format!(
                        "\n{} retries; {} receipts found stored by the service after a cut, not sent again",
                        report.retries, report.resumed
                    ));
                }
                text
            });
            if report.left > 0 {
                return Err(Exit {
                    code: "sync.incomplete".into(),
                    message: format!("{} receipts are still waiting for the service", report.left),
                    status: EXIT_INCOMPLETE,
                }
                .into());
            }
        }
        Command::Download {
            course,
            version,
            retries,
        } => {
            let enrollment = enrolled(&hearth)?;
            let source = HttpSource::new(&enrollment)?;
            let rt = runtime()?;
            let version = match version {
                Some(v) => v,
                None => {
                    let catalog = rt
                        .block_on(refresh_catalog(&mut hearth, &source, retries))
                        .map_err(download_exit)?;
                    catalog
                        .courses
                        .iter()
                        .filter(|e| e.course == course)
                        .map(|e| e.version)
                        .max()
                        .ok_or_else(|| Exit {
                            code: "content.not_in_catalog".into(),
                            message: format!("the service's catalog has no course {course}"),
                            status: 1,
                        })?
                }
            };
            let options = DownloadOptions {
                retries,
                ..DownloadOptions::default()
            };
            let mut last_percent = None;
            let json = cli.json;
            let mut progress = |p: &Progress| {
                if json || p.bytes_total == 0 {
                    return;
                }
                let percent = p.bytes_done * 100 / p.bytes_total;
                if last_percent.is_none_or(|l| percent >= l + 10 || percent == 100 && l < 100) {
                    last_percent = Some(percent);
                    eprintln!(
                        "{percent:>3} %  {} of {}  {} files of {}",
                        megabytes(p.bytes_done),
                        megabytes(p.bytes_total),
                        p.files_done,
                        p.files_total
                    );
                }
            };
            let c = rt
                .block_on(hearth.download_course(&source, &course, version, options, &mut progress))
                .map_err(download_exit)?;
            print_installed(cli.json, "downloaded", &c);
        }
    }
    Ok(())
}

fn enrolled(hearth: &Hearth) -> anyhow::Result<hearth_core::Enrollment> {
    Ok(hearth.enrollment()?.ok_or_else(|| Exit {
        code: "sync.not_enrolled".into(),
        message: "this device is not enrolled yet: run `hearth enroll` first".into(),
        status: 1,
    })?)
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// The catalog, fetched now (conditional), with a few tries on a broken transfer.
async fn refresh_catalog(
    hearth: &mut Hearth,
    source: &HttpSource,
    retries: u32,
) -> Result<hearth_protocol::wire::Catalog, CoreError> {
    let mut attempt = 0;
    loop {
        match hearth.refresh_catalog(source).await {
            Ok(r) => return Ok(r.catalog),
            Err(CoreError::ContentNetwork(m)) if attempt < retries => {
                attempt += 1;
                tracing::info!(error = %m, attempt, "the catalog broke off; asking again");
                tokio::time::sleep(std::time::Duration::from_millis(500 << attempt.min(5))).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// A failed download: a broken link exits like an offline sync (3: run it again to continue).
fn download_exit(e: CoreError) -> anyhow::Error {
    match e {
        CoreError::ContentNetwork(message) => Exit {
            code: "content.network".into(),
            message: format!("the download broke off (run it again to continue): {message}"),
            status: EXIT_OFFLINE,
        }
        .into(),
        e => e.into(),
    }
}

fn sync_exit(e: SyncError) -> anyhow::Error {
    let status = match &e {
        SyncError::Transport(
            TransportError::Unreachable(_)
            | TransportError::Interrupted(_)
            | TransportError::TimedOut(_),
        ) => EXIT_OFFLINE,
        _ => 1,
    };
    Exit {
        code: e.code().into(),
        message: e.to_string(),
        status,
    }
    .into()
}
