//! `hearth-server`: the Hearth central service and its administration commands.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use hearth_protocol::LearnerId;
use hearth_server::env::{SystemClock, SystemRandom};
use hearth_server::store::Role;
use hearth_server::{Limits, Service};
use uuid::Uuid;

#[derive(Parser, Debug)]
#[command(name = "hearth-server", version, about = "The Hearth central service")]
struct Cli {
    /// The service's data folder (database, keys, published files).
    #[arg(
        long,
        global = true,
        env = "HEARTH_SERVER_DATA",
        default_value = "hearth-data"
    )]
    data: PathBuf,
    /// The database in PostgreSQL (`postgres://user@host/db`, or `host=… user=… dbname=…`)
    /// instead of the data folder's SQLite file. The data folder still holds the keys and the
    /// published files: every process serving one database opens the same shared folder.
    #[arg(long, global = true, env = "HEARTH_DATABASE")]
    database: Option<String>,
    /// A streaming replica of --database: learner records, class progress and the flags report
    /// asked by administrators and trainers (and `report`) are read from it; devices' own reads
    /// and all writes stay on the primary.
    #[arg(
        long,
        global = true,
        env = "HEARTH_READ_DATABASE",
        requires = "database"
    )]
    read_database: Option<String>,
    #[command(subcommand)]
    cmd: Cmd,
}

/// How `issue-cards` writes its file.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum CardFormat {
    Json,
    Text,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Serves the HTTP API.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8470")]
        listen: String,
        /// Wrong enrollment codes or credentials one address may send in 5 minutes before it is
        /// refused (429 auth.too_many_failures).
        #[arg(long, default_value_t = Limits::default().guesses_per_window)]
        guesses_per_window: u32,
        /// The public base URL of the service, named in certificates' revocation status entries.
        #[arg(
            long,
            env = "HEARTH_PUBLIC_URL",
            default_value = "http://127.0.0.1:8470"
        )]
        public_url: String,
        /// The built console pages, served at /console/ (`make console` builds them).
        #[arg(long, env = "HEARTH_CONSOLE_DIR", default_value = "console/dist")]
        console_dir: PathBuf,
    },
    /// Sets an administrator's, trainer's or supervisor's console login and password (read from the first
    /// line of standard input, so that it stays out of the shell history and the process list);
    /// ends their open console sessions.
    SetPassword {
        #[arg(long)]
        user: Uuid,
        /// The login name they sign in with (3-64 letters, digits, '.', '-', '_', '@').
        #[arg(long)]
        login: String,
    },
    /// Prints the certificate issuer key document (also served at
    /// /.well-known/hearth-issuer.json); `publicKeyMultibase` is what verifiers are given.
    IssuerKey,
    /// Prints a certificate's signed Verifiable Credential (JSON).
    Certificate { serial: String },
    /// Writes a certificate's printable A4 PDF.
    CertificatePdf {
        serial: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Revokes a certificate; the revocation status list shows it from then on.
    RevokeCertificate {
        serial: String,
        #[arg(long)]
        reason: String,
    },
    /// Writes the signed subsidy claim pack of a class or one learner.
    ClaimPack {
        #[arg(long, group = "of", required = true)]
        class: Option<Uuid>,
        #[arg(long, group = "of")]
        learner: Option<Uuid>,
        #[arg(long)]
        out: PathBuf,
    },
    /// Checks a claim pack offline: its signature and every certificate in it, under the
    /// issuer key (`publicKeyMultibase` or hex). Needs no data folder.
    VerifyClaim {
        file: PathBuf,
        #[arg(long, env = "HEARTH_ISSUER_KEY")]
        key: String,
    },
    /// Creates an organisation and prints its id.
    CreateOrg { name: String },
    /// Creates a supervised region (an administrative division: six-digit code such as 440300)
    /// and its human-resources office; prints the office's organisation id.
    CreateRegion {
        code: String,
        #[arg(long)]
        name: String,
        /// The region it is part of (its supervisors see this one's institutions too).
        #[arg(long)]
        parent: Option<String>,
    },
    /// Puts an institution in a region (moving it out of the one it was in).
    SetRegion {
        #[arg(long)]
        org: Uuid,
        #[arg(long)]
        region: String,
    },
    /// Adds a supervisor of a region and prints their id and a token; `set-password` gives them
    /// a console sign-in.
    AddSupervisor {
        #[arg(long)]
        region: String,
        #[arg(long)]
        name: String,
    },
    /// Adds an administrator and prints their id and a token.
    AddAdmin {
        #[arg(long)]
        org: Uuid,
        #[arg(long)]
        name: String,
    },
    /// Adds a trainer and prints their id and a token.
    AddTrainer {
        #[arg(long)]
        org: Uuid,
        #[arg(long)]
        name: String,
        /// A kiosk sign-in PIN (4-12 digits), to open classes and attest attendance on kiosks.
        #[arg(long)]
        pin: Option<String>,
    },
    /// Assigns a lesson, a whole course or an exam to a class (in its trainer's name); devices
    /// get it with their next sync.
    Assign {
        #[arg(long)]
        class: Uuid,
        #[arg(long)]
        course: String,
        #[arg(long, conflicts_with = "exam")]
        lesson: Option<String>,
        #[arg(long)]
        exam: Option<String>,
        /// Due this many days from now.
        #[arg(long)]
        due_days: Option<u32>,
    },
    /// Sets or changes the kiosk sign-in PIN of a learner or a trainer (kiosks get it with
    /// their next roster).
    SetPin {
        /// The learner's or trainer's id.
        #[arg(long)]
        person: Uuid,
        #[arg(long)]
        pin: String,
    },
    /// Issues new kiosk sign-in cards (issue #17 item 3) to every learner of a class, or to one
    /// learner, replacing their old cards, and writes what to print (name, masked ID number,
    /// the QR code's text) to a file. The card texts are secrets: print them, then delete the
    /// file.
    IssueCards {
        #[arg(long, required_unless_present = "learner", conflicts_with = "learner")]
        class: Option<Uuid>,
        #[arg(long)]
        learner: Option<Uuid>,
        /// Where to write the cards.
        #[arg(long)]
        out: std::path::PathBuf,
        /// `json` (an array) or `text` (one card a line: name, masked ID, card text, by tabs).
        #[arg(long, default_value = "json")]
        format: CardFormat,
    },
    /// Issues a new token for an administrator or trainer.
    Token {
        #[arg(long)]
        user: Uuid,
        #[arg(long, default_value_t = 90)]
        days: i64,
    },
    /// Revokes a device's credentials, a user's tokens, or one token; the next request with any
    /// of them is refused.
    Revoke {
        #[arg(long, group = "what")]
        device: Option<Uuid>,
        #[arg(long, group = "what")]
        user: Option<Uuid>,
        /// A token as issued (hd1_… or hu1_…).
        #[arg(long, group = "what")]
        token: Option<String>,
    },
    /// Adds a class led by a trainer and prints its id.
    AddClass {
        #[arg(long)]
        trainer: Uuid,
        #[arg(long)]
        name: String,
    },
    /// Adds a real-name learner and prints their id.
    AddLearner {
        #[arg(long)]
        org: Uuid,
        #[arg(long)]
        name: String,
        /// The national ID number (kept only as a keyed hash and its last four characters).
        #[arg(long)]
        national_id: String,
        #[arg(long)]
        class: Option<Uuid>,
        /// A kiosk sign-in PIN (4-12 digits).
        #[arg(long)]
        pin: Option<String>,
    },
    /// Issues a one-time device enrollment code (for a learner's own device with --learner,
    /// else for a kiosk of the organisation serving the classes named with --class; a kiosk
    /// gets the PIN verifiers of its classes' learners and trainers only).
    IssueCode {
        #[arg(long)]
        org: Uuid,
        #[arg(long)]
        learner: Option<Uuid>,
        /// A class the kiosk serves (repeat for several).
        #[arg(long = "class", conflicts_with = "learner")]
        classes: Vec<Uuid>,
        #[arg(long)]
        hours: Option<i64>,
    },
    /// Sets the classes a kiosk serves (every one: the list replaces the one before; none
    /// leaves the kiosk an empty roster). The kiosk gets the new roster with its next sync and
    /// drops the PIN verifiers of everyone else.
    SetKioskClasses {
        #[arg(long)]
        device: Uuid,
        /// A class the kiosk serves (repeat for several).
        #[arg(long = "class")]
        classes: Vec<Uuid>,
    },
    /// Publishes a course source folder as a signed package.
    Publish { source: PathBuf },
    /// Writes a published course version as one package file, for a USB stick or a shared
    /// folder (imported on a device with `hearth import-course FILE`).
    ExportPackage {
        /// The course id, e.g. electrician-safety
        course: String,
        /// The version (the latest published one if not given).
        #[arg(long)]
        version: Option<u32>,
        /// The package file to write, e.g. /media/usb/electrician-safety.hcp
        #[arg(long)]
        out: PathBuf,
    },
    /// Imports a receipt bundle from a USB stick (written by `hearth export-receipts`), with the
    /// same verification as an upload; prints one JSON line per device section.
    ImportReceipts { file: PathBuf },
    /// Prints a report as JSON.
    Report {
        #[command(subcommand)]
        what: Report,
    },
    /// Resolves a device's flag (a fork: a copied key or a restored database) after looking into
    /// it: the device earns credit again and what it recorded while flagged is credited. Who and
    /// why are recorded and shown in the flags report.
    ResolveFlag {
        #[arg(long)]
        device: Uuid,
        /// Who resolves it (a name or user id).
        #[arg(long)]
        by: String,
        #[arg(long)]
        reason: String,
    },
    /// Sets an organisation's daily cap on credited study (8 hours unless set).
    SetPolicy {
        #[arg(long)]
        org: Uuid,
        #[arg(long)]
        daily_cap_hours: f64,
    },
    /// Turns an organisation's photo checkpoints on or off (off unless turned on; each learner
    /// still decides by consent; docs/privacy.md).
    SetPhotos {
        #[arg(long)]
        org: Uuid,
        /// `on` or `off`.
        #[arg(long, value_parser = ["on", "off"])]
        photos: String,
    },
    /// Copies a SQLite service (its data folder's hearth.db) into an empty PostgreSQL database,
    /// every receipt byte for byte, and verifies the copy receipt by receipt.
    Migrate {
        /// The SQLite service's data folder.
        #[arg(long)]
        from: PathBuf,
        /// The PostgreSQL database (`postgres://…`), empty or not yet created by hearth.
        #[arg(long)]
        to: String,
    },
    /// Derives every learner's credit again from the stored receipts (after a change of the
    /// rules; the service also does it by itself after an upgrade).
    Rederive {
        /// Only this organisation.
        #[arg(long)]
        org: Option<Uuid>,
    },
}

#[derive(Subcommand, Debug)]
enum Report {
    /// One learner's hours, results and certificates.
    Learner { id: Uuid },
    /// A class's progress.
    Class { id: Uuid },
    /// Flagged devices, rejected receipts, withheld credit and overlaps of an organisation.
    Flags {
        #[arg(long)]
        org: Uuid,
        /// The next page of rejected receipts (`nextBefore` of the previous page).
        #[arg(long)]
        before: Option<i64>,
        /// The next page of learners (`nextAfter` of the previous page).
        #[arg(long)]
        after: Option<Uuid>,
    },
}

/// Ctrl-C everywhere, and SIGTERM on Unix (service managers, test harnesses). Every acknowledged
/// receipt is already on disk, so this only lets requests in flight finish.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    tracing::info!("shutting down");
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_http=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    if let Cmd::VerifyClaim { file, key } = &cli.cmd {
        return verify_claim(file, key);
    }
    if let Cmd::Migrate { from, to } = &cli.cmd {
        let report = hearth_server::store::migrate::sqlite_to_postgres(from, to)
            .with_context(|| format!("migrating {} to PostgreSQL", from.display()))?;
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let (clock, random) = (Arc::new(SystemClock), Arc::new(SystemRandom::default()));
    let mut svc = match (&cli.database, &cli.read_database) {
        (Some(db), Some(replica)) => {
            Service::open_with_replica(&cli.data, db, replica, clock, random)
        }
        (db, _) => Service::open_with(&cli.data, db.as_deref(), clock, random),
    }
    .with_context(|| match &cli.database {
        Some(_) => format!(
            "opening the database (keys and files in {})",
            cli.data.display()
        ),
        None => format!("opening the data folder {}", cli.data.display()),
    })?;
    match cli.cmd {
        Cmd::Serve {
            listen,
            guesses_per_window,
            public_url,
            console_dir,
        } => {
            svc.config.public_url = public_url.trim_end_matches('/').to_owned();
            if console_dir.join("index.html").is_file() {
                svc.config.console_pages = Some(console_dir);
            } else {
                tracing::warn!(
                    dir = %console_dir.display(),
                    "no built console pages there (make console); serving the console API only"
                );
            }
            let limits = Limits {
                guesses_per_window,
                ..Limits::default()
            };
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind(&listen)
                    .await
                    .with_context(|| format!("listening on {listen}"))?;
                tracing::info!(addr = %listener.local_addr()?, data = %cli.data.display(), "hearth-server listening");
                hearth_server::serve(listener, svc, limits, shutdown_signal())
                .await?;
                anyhow::Ok(())
            })?;
        }
        Cmd::VerifyClaim { .. } => unreachable!("handled before opening the data folder"),
        Cmd::IssuerKey => {
            println!("{:#}", svc.issuer_document());
        }
        Cmd::Certificate { serial } => {
            println!("{:#}", svc.issued_certificate(&serial)?.credential);
        }
        Cmd::CertificatePdf { serial, out } => {
            let c = svc.issued_certificate(&serial)?;
            let pdf = svc.certificate_pdf(&c)?;
            std::fs::write(&out, pdf).with_context(|| format!("writing {}", out.display()))?;
            println!("{}", out.display());
        }
        Cmd::RevokeCertificate { serial, reason } => {
            svc.revoke_certificate(&serial, &reason)?;
            println!("revoked {serial}");
        }
        Cmd::ClaimPack {
            class,
            learner,
            out,
        } => {
            let pack = match (class, learner) {
                (Some(c), None) => svc.class_claim_pack(c)?,
                (None, Some(l)) => svc.learner_claim_pack(LearnerId(l))?,
                _ => bail!("name one of --class, --learner"),
            };
            std::fs::write(&out, format!("{pack:#}\n"))
                .with_context(|| format!("writing {}", out.display()))?;
            let n = pack["learners"].as_array().map_or(0, Vec::len);
            println!("{} ({n} learners)", out.display());
        }
        Cmd::CreateOrg { name } => {
            let org = svc.create_org(&name)?;
            println!("{}", org.id);
        }
        Cmd::CreateRegion { code, name, parent } => {
            let r = svc.create_region(&code, &name, parent.as_deref())?;
            println!("region {}\noffice {}", r.code, r.office);
        }
        Cmd::SetRegion { org, region } => {
            svc.put_org_in_region(org, &region)?;
            println!("{org} is in region {region}");
        }
        Cmd::AddSupervisor { region, name } => {
            let (u, token) = svc.add_supervisor(&region, &name)?;
            println!("user {}\ntoken {token}", u.id);
        }
        Cmd::AddAdmin { org, name } => {
            let (u, token) = svc.add_user(org, Role::Admin, &name)?;
            println!("user {}\ntoken {token}", u.id);
        }
        Cmd::AddTrainer { org, name, pin } => {
            let (u, token) = svc.add_trainer(org, &name, pin.as_deref())?;
            println!("user {}\ntoken {token}", u.id);
        }
        Cmd::Assign {
            class,
            course,
            lesson,
            exam,
            due_days,
        } => {
            let due_ms = due_days.map(|d| svc.now() + i64::from(d) * 86_400_000);
            let a = svc.assign_for_trainer(
                class,
                hearth_protocol::wire::NewAssignment {
                    course,
                    lesson,
                    exam,
                    due_ms,
                },
            )?;
            println!("{}", a.id);
        }
        Cmd::SetPassword { user, login } => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("reading the password from standard input")?;
            let password = line.trim_end_matches(['\r', '\n']);
            svc.set_password(user, &login, password)?;
            println!("password set for {}", login.trim().to_lowercase());
        }
        Cmd::SetPin { person, pin } => {
            svc.set_pin(person, &pin)?;
            println!("PIN set");
        }
        Cmd::IssueCards {
            class,
            learner,
            out,
            format,
        } => {
            let cards = match (class, learner) {
                (Some(c), _) => svc.issue_class_cards(hearth_protocol::ClassId(c))?,
                (None, Some(l)) => vec![svc.issue_card(hearth_protocol::LearnerId(l))?],
                (None, None) => bail!("give --class or --learner"),
            };
            let text = match format {
                CardFormat::Json => serde_json::to_string_pretty(&cards)?,
                CardFormat::Text => cards
                    .iter()
                    .map(|c| format!("{}\t{}\t{}\n", c.name, c.national_id_masked, c.card_text))
                    .collect(),
            };
            write_owner_only(&out, text.as_bytes())
                .with_context(|| format!("writing {}", out.display()))?;
            println!(
                "{} card(s) issued, written to {}",
                cards.len(),
                out.display()
            );
        }
        Cmd::Token { user, days } => {
            if days <= 0 {
                bail!("--days must be positive");
            }
            println!("{}", svc.issue_user_token(user, days)?);
        }
        Cmd::Revoke {
            device,
            user,
            token,
        } => {
            let n = match (device, user, token) {
                (Some(d), None, None) => svc.revoke_device(None, hearth_protocol::DeviceId(d))?,
                (None, Some(u), None) => svc.revoke_user(None, u)?,
                (None, None, Some(t)) => u64::from(svc.revoke_token(&t)?),
                _ => bail!("name one of --device, --user, --token"),
            };
            println!("revoked {n}");
        }
        Cmd::AddClass { trainer, name } => {
            println!("{}", svc.add_class(trainer, &name)?.id);
        }
        Cmd::AddLearner {
            org,
            name,
            national_id,
            class,
            pin,
        } => {
            let l = svc.add_learner(org, &name, &national_id, class, pin.as_deref())?;
            println!("{}", l.id);
        }
        Cmd::IssueCode {
            org,
            learner,
            classes,
            hours,
        } => {
            let code = match learner {
                Some(l) => svc.issue_enrollment_code(org, Some(LearnerId(l)), hours),
                None => svc.issue_kiosk_code(org, &classes, hours).map(|c| {
                    if c.classes.is_empty() {
                        warn_no_classes();
                    }
                    c.code
                }),
            }
            .map_err(|e| anyhow::anyhow!("{}: {e}", e.code()))?;
            println!("{code}");
        }
        Cmd::SetKioskClasses { device, classes } => {
            let k = svc
                .set_kiosk_classes(None, hearth_protocol::DeviceId(device), &classes)
                .map_err(|e| anyhow::anyhow!("{}: {e}", e.code()))?;
            if k.classes.is_empty() {
                warn_no_classes();
            }
            println!("kiosk {device} serves {} classes", k.classes.len());
            for c in k.classes {
                println!("{c}");
            }
        }
        Cmd::Publish { source } => {
            let p = svc
                .publish(&source)
                .with_context(|| format!("publishing {}", source.display()))?;
            println!(
                "published {} version {} ({} files, {} bytes), manifest {}",
                p.course, p.version, p.files, p.total_size, p.manifest_sha256
            );
        }
        Cmd::ExportPackage {
            course,
            version,
            out,
        } => {
            let e = svc
                .export_package(&course, version, &out)
                .map_err(|e| anyhow::anyhow!("{}: {e}", e.code()))?;
            println!(
                "exported {} version {} ({} files, {} bytes) to {}",
                e.course,
                e.version,
                e.files,
                e.bytes,
                out.display()
            );
        }
        Cmd::ImportReceipts { file } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let mut refused = 0;
            let sections = svc
                .ingest_bundle(None, &bytes)
                .map_err(|e| anyhow::anyhow!("{}: {e}", e.code()))?;
            svc.record_carrier(None, &sections)?;
            for section in sections {
                let line = match &section.result {
                    Ok(out) => {
                        let count = |want: fn(&hearth_server::domain::ReceiptOutcome) -> bool| {
                            out.results.iter().filter(|r| want(r)).count()
                        };
                        serde_json::json!({
                            "deviceId": section.device,
                            "accepted": count(|r| matches!(r, hearth_server::domain::ReceiptOutcome::Accepted)),
                            "duplicates": count(|r| matches!(r, hearth_server::domain::ReceiptOutcome::Duplicate)),
                            "pending": count(|r| matches!(r, hearth_server::domain::ReceiptOutcome::Pending)),
                            "rejected": count(|r| matches!(r, hearth_server::domain::ReceiptOutcome::Rejected { .. })),
                            "headSeq": out.head.seq,
                        })
                    }
                    Err(code) => {
                        refused += 1;
                        serde_json::json!({ "deviceId": section.device, "code": code })
                    }
                };
                println!("{line}");
            }
            if refused > 0 {
                anyhow::bail!("{refused} device sections were refused");
            }
        }
        Cmd::Report { what } => {
            let svc = svc.for_reports();
            let json = match what {
                Report::Learner { id } => {
                    let l = svc
                        .store
                        .learner(LearnerId(id))?
                        .context("no such learner")?;
                    serde_json::to_string_pretty(&svc.learner_record(&l)?)?
                }
                Report::Class { id } => {
                    let c = svc.store.class(id)?.context("no such class")?;
                    serde_json::to_string_pretty(&svc.class_progress(&c)?)?
                }
                Report::Flags { org, before, after } => serde_json::to_string_pretty(
                    &svc.flags_report(org, before, after.map(LearnerId))?,
                )?,
            };
            println!("{json}");
        }
        Cmd::ResolveFlag { device, by, reason } => {
            svc.resolve_flag(hearth_protocol::DeviceId(device), &by, &reason)
                .map_err(|e| anyhow::anyhow!("{}: {e}", e.code()))?;
            println!(
                "resolved the flag of device {device}; its organisation's credit is derived again"
            );
        }
        Cmd::SetPolicy {
            org,
            daily_cap_hours,
        } => {
            svc.set_daily_cap(org, daily_cap_hours)
                .map_err(|e| anyhow::anyhow!("{}: {e}", e.code()))?;
            println!("daily cap of {org} set to {daily_cap_hours} h; credit derived again");
        }
        Cmd::SetPhotos { org, photos } => {
            let on = photos == "on";
            svc.set_org_photos(org, on, hearth_server::domain::audit::Actor::Cli)
                .map_err(|e| anyhow::anyhow!("{}: {e}", e.code()))?;
            println!("photo checkpoints of {org} turned {photos}");
        }
        Cmd::Migrate { .. } => unreachable!("handled before the service is opened"),
        Cmd::Rederive { org } => {
            svc.rebuild_facts(org)
                .map_err(|e| anyhow::anyhow!("{}: {e}", e.code()))?;
            println!("credit derived again");
        }
    }
    Ok(())
}

/// A kiosk that serves no class signs nobody in until an administrator links one.
fn warn_no_classes() {
    eprintln!(
        "warning: {}: this kiosk serves no class, so it gets nobody's PIN and signs nobody in; \
         link its classes with `hearth-server set-kiosk-classes --device ID --class CLASS`",
        hearth_server::domain::kiosk_classes::NO_CLASSES
    );
}

/// `verify-claim`: offline, with the issuer key only.
fn verify_claim(file: &std::path::Path, key: &str) -> Result<()> {
    use hearth_protocol::credential;
    let key =
        credential::parse_issuer_key(key).map_err(|e| anyhow::anyhow!("{}: {e}", e.code()))?;
    let text = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let pack: serde_json::Value = serde_json::from_slice(&text)
        .map_err(|e| anyhow::anyhow!("credential.malformed: the file is not JSON: {e}"))?;
    match credential::verify_claim_pack(&pack, &key) {
        Ok(n) => {
            println!(
                "valid: claim pack of {n} learners from {}, signed by {}",
                pack["institution"].as_str().unwrap_or("?"),
                credential::multikey(&key)
            );
            Ok(())
        }
        Err(e) => bail!("invalid: {}: {e}", e.code()),
    }
}

/// Writes a file that holds secrets (the card texts: whoever reads one signs in as that
/// learner) readable by this account only on Unix; replaces the file if it exists. On Windows it
/// inherits the folder's ACL.
fn write_owner_only(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        o.mode(0o600);
        // An existing file keeps its mode on open: narrow it first.
        if path.exists() {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    let mut f = o.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}
