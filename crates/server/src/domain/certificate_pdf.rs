//! The printable certificate: an A4 PDF in Chinese with a subset CJK font (Noto Sans CJK SC from
//! Debian's `fonts-noto-cjk`, embedded by krilla with only the glyphs used), a QR code with the
//! compact signed form, and the signed credential JSON embedded as an associated file
//! (`certificate.json`, uncompressed, so `hearth verify-certificate FILE.pdf` finds it without
//! a PDF parser).

use std::sync::{Arc, OnceLock};

use hearth_protocol::credential::CertificateFacts;
use krilla::Document;
use krilla::color::rgb;
use krilla::embed::{AssociationKind, EmbeddedFile, MimeType};
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::surface::Surface;
use krilla::text::{Font, TextDirection};
use qrcode::{EcLevel, QrCode};

/// Where the CJK font is looked for, first found wins (`HEARTH_CJK_FONT` overrides).
const FONT_PATHS: &[(&str, u32)] = &[
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 2),
];

const A4_W: f32 = 595.28;
const A4_H: f32 = 841.89;
/// 3 cm in points: the printed size of the QR code.
pub const QR_SIZE_PT: f32 = 3.0 / 2.54 * 72.0;

#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("no CJK font: install fonts-noto-cjk or set HEARTH_CJK_FONT to a .ttc/.otf path")]
    FontMissing,
    #[error("the QR code cannot hold the certificate: {0}")]
    Qr(String),
    #[error("the PDF could not be written: {0}")]
    Write(String),
}

impl PdfError {
    pub fn code(&self) -> &'static str {
        match self {
            PdfError::FontMissing => "certificate.font_missing",
            PdfError::Qr(_) => "certificate.qr",
            PdfError::Write(_) => "certificate.pdf",
        }
    }
}

fn font() -> Result<Font, PdfError> {
    static FONT: OnceLock<Option<Font>> = OnceLock::new();
    FONT.get_or_init(|| {
        let env = std::env::var("HEARTH_CJK_FONT").ok();
        let candidates = env
            .iter()
            .map(|p| (p.as_str(), 2))
            .chain(FONT_PATHS.iter().copied());
        for (path, index) in candidates {
            if let Ok(bytes) = std::fs::read(path) {
                let data = Arc::new(bytes);
                // A single font file has index 0 only; a collection has the SC face at `index`.
                if let Some(f) =
                    Font::new(data.clone().into(), index).or_else(|| Font::new(data.into(), 0))
                {
                    return Some(f);
                }
            }
        }
        None
    })
    .clone()
    .ok_or(PdfError::FontMissing)
}

/// What the QR code of a certificate is: its version and size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QrInfo {
    pub version: i16,
    pub modules: usize,
    pub bytes: usize,
}

fn qr(text: &str) -> Result<(QrCode, QrInfo), PdfError> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
        .map_err(|e| PdfError::Qr(e.to_string()))?;
    let version = match code.version() {
        qrcode::Version::Normal(v) | qrcode::Version::Micro(v) => v,
    };
    let info = QrInfo {
        version,
        modules: code.width(),
        bytes: text.len(),
    };
    Ok((code, info))
}

/// The QR code's version and size for `text` (reported in the docs and the benchmark).
pub fn qr_info(text: &str) -> Result<QrInfo, PdfError> {
    qr(text).map(|(_, i)| i)
}

fn text(s: &mut Surface<'_>, font: &Font, x: f32, y: f32, size: f32, t: &str) {
    s.draw_text(
        Point::from_xy(x, y),
        font.clone(),
        size,
        t,
        false,
        TextDirection::Auto,
    );
}

/// Approximate advance of a line: CJK full width, the rest half.
fn width(t: &str, size: f32) -> f32 {
    t.chars()
        .map(|c| if c.is_ascii() { 0.55 } else { 1.0 })
        .sum::<f32>()
        * size
}

fn draw_qr(s: &mut Surface<'_>, code: &QrCode, x: f32, y: f32, size: f32) {
    let n = code.width();
    // 4 modules of quiet zone on each side, inside `size`.
    let m = size / (n as f32 + 8.0);
    let mut pb = PathBuilder::new();
    let colors = code.to_colors();
    for row in 0..n {
        for col in 0..n {
            if colors[row * n + col] == qrcode::Color::Dark
                && let Some(r) =
                    Rect::from_xywh(x + (col as f32 + 4.0) * m, y + (row as f32 + 4.0) * m, m, m)
            {
                pb.push_rect(r);
            }
        }
    }
    if let Some(path) = pb.finish() {
        s.set_stroke(None);
        s.set_fill(Some(Fill::default()));
        s.draw_path(&path);
    }
}

fn level_name(level: u8) -> &'static str {
    match hearth_protocol::credential::level_label(level) {
        "" => "—",
        l => l,
    }
}

/// Renders the certificate PDF. `credential_json` is embedded; `qr_text` is printed as a QR
/// code 3 cm wide.
pub fn render_certificate(
    facts: &CertificateFacts,
    credential_json: &str,
    qr_text: &str,
    revoked: bool,
) -> Result<Vec<u8>, PdfError> {
    let font = font()?;
    let (code, _) = qr(qr_text)?;
    let mut doc = Document::new();
    doc.set_metadata(
        Metadata::new()
            .title(format!("培训合格证明 {}", facts.serial))
            .language("zh-CN".into())
            .keywords(vec![facts.serial.clone()]),
    );
    {
        let mut page = doc.start_page_with(
            PageSettings::from_wh(A4_W, A4_H).ok_or(PdfError::Write("page size".into()))?,
        );
        let mut s = page.surface();
        // Border.
        if let Some(r) = Rect::from_xywh(36.0, 36.0, A4_W - 72.0, A4_H - 72.0) {
            let mut pb = PathBuilder::new();
            pb.push_rect(r);
            if let Some(p) = pb.finish() {
                s.set_fill(None);
                s.set_stroke(Some(Stroke {
                    paint: rgb::Color::new(150, 30, 30).into(),
                    width: 3.0,
                    ..Default::default()
                }));
                s.draw_path(&p);
            }
        }
        s.set_stroke(None);
        s.set_fill(Some(Fill {
            paint: rgb::Color::new(150, 30, 30).into(),
            ..Default::default()
        }));
        let title = "培训合格证明";
        text(
            &mut s,
            &font,
            (A4_W - width(title, 36.0)) / 2.0,
            130.0,
            36.0,
            title,
        );
        s.set_fill(Some(Fill::default()));
        let serial = format!("证书编号：{}", facts.serial);
        text(
            &mut s,
            &font,
            A4_W - 60.0 - width(&serial, 11.0),
            70.0,
            11.0,
            &serial,
        );

        let hours = format!(
            "{}.{} 学时",
            facts.hours_tenths / 10,
            facts.hours_tenths % 10
        );
        let exam = facts.exam.as_ref().map_or_else(
            || "—".to_owned(),
            |e| {
                format!(
                    "{}/{} 分（{}）",
                    e.score,
                    e.max_score,
                    if e.passed { "合格" } else { "不合格" }
                )
            },
        );
        let occupation = if facts.occupation_code.is_empty() {
            "—".to_owned()
        } else {
            format!("{}（{}）", facts.occupation_name, facts.occupation_code)
        };
        let rows: [(&str, String); 10] = [
            ("姓名", facts.name.clone()),
            ("身份证号", facts.national_id_masked.clone()),
            ("培训项目", facts.project.clone()),
            ("职业（工种）", occupation),
            ("技能等级", level_name(facts.occupation_level).to_owned()),
            ("培训学时", hours),
            ("考核成绩", exam),
            (
                "培训时间",
                format!("{} 至 {}", facts.start_date, facts.end_date),
            ),
            ("培训机构", facts.institution.clone()),
            ("发证日期", facts.issued_date.clone()),
        ];
        let mut y = 200.0;
        for (label, value) in &rows {
            text(&mut s, &font, 90.0, y, 15.0, &format!("{label}："));
            text(&mut s, &font, 210.0, y, 15.0, value);
            y += 34.0;
        }
        let lead =
            "经审核，该学员已完成上述职业技能培训，学时由签名学习记录核定，考核合格，特发此证明。";
        let mut line = String::new();
        let mut ly = y + 16.0;
        for c in lead.chars() {
            line.push(c);
            if width(&line, 13.0) > A4_W - 190.0 {
                text(&mut s, &font, 90.0, ly, 13.0, &line);
                line.clear();
                ly += 22.0;
            }
        }
        if !line.is_empty() {
            text(&mut s, &font, 90.0, ly, 13.0, &line);
        }

        let qx = A4_W - 90.0 - QR_SIZE_PT;
        let qy = A4_H - 110.0 - QR_SIZE_PT;
        draw_qr(&mut s, &code, qx, qy, QR_SIZE_PT);
        let seal = format!("{}（盖章）", facts.institution);
        text(&mut s, &font, 90.0, qy + 30.0, 13.0, &seal);
        text(
            &mut s,
            &font,
            90.0,
            qy + 56.0,
            10.0,
            "扫描右侧二维码可离线验证本证明（hearth verify-certificate）。",
        );
        text(
            &mut s,
            &font,
            90.0,
            qy + 74.0,
            10.0,
            &format!("在线查验：/verify/{}", facts.serial),
        );
        if revoked {
            s.set_fill(Some(Fill {
                paint: rgb::Color::new(200, 0, 0).into(),
                ..Default::default()
            }));
            text(&mut s, &font, 90.0, 170.0, 20.0, "本证明已被撤销");
        }
        s.finish();
        page.finish();
    }
    doc.embed_file(EmbeddedFile {
        path: "certificate.json".into(),
        mime_type: MimeType::new("application/json"),
        description: Some("W3C Verifiable Credential (eddsa-jcs-2022)".into()),
        association_kind: AssociationKind::Source,
        data: credential_json.as_bytes().to_vec().into(),
        modification_date: None,
        compress: Some(false),
        location: None,
    })
    .ok_or_else(|| PdfError::Write("the credential could not be embedded".into()))?;
    doc.finish().map_err(|e| PdfError::Write(format!("{e:?}")))
}

/// Lines of text laid out on A4 pages, a new page when one is full.
struct Pages {
    doc: Document,
    lines: Vec<(f32, String)>,
}

impl Pages {
    fn line(&mut self, size: f32, t: impl Into<String>) {
        self.lines.push((size, t.into()));
    }

    fn finish(mut self, font: &Font) -> Result<Vec<u8>, PdfError> {
        let top = 70.0;
        let bottom = A4_H - 60.0;
        let mut chunks: Vec<Vec<(f32, String)>> = vec![Vec::new()];
        let mut y = top;
        for (size, t) in std::mem::take(&mut self.lines) {
            if y + size * 1.6 > bottom {
                chunks.push(Vec::new());
                y = top;
            }
            y += size * 1.6;
            if let Some(c) = chunks.last_mut() {
                c.push((size, t));
            }
        }
        let n = chunks.len();
        for (i, chunk) in chunks.into_iter().enumerate() {
            let mut page = self.doc.start_page_with(
                PageSettings::from_wh(A4_W, A4_H).ok_or(PdfError::Write("page size".into()))?,
            );
            let mut s = page.surface();
            s.set_fill(Some(Fill::default()));
            let mut y = top;
            for (size, t) in chunk {
                y += size * 1.6;
                text(&mut s, font, 60.0, y, size, &t);
            }
            text(
                &mut s,
                font,
                A4_W - 110.0,
                A4_H - 35.0,
                9.0,
                &format!("第 {} / {n} 页", i + 1),
            );
            s.finish();
            page.finish();
        }
        self.doc
            .finish()
            .map_err(|e| PdfError::Write(format!("{e:?}")))
    }
}

fn hours(ms: u64) -> String {
    format!("{:.1}", ms as f64 / 3_600_000.0)
}

/// Renders a signed training record (from `Service::training_record`) as a PDF, with the
/// signed JSON embedded as `training-record.json`.
pub fn render_training_record(record: &serde_json::Value) -> Result<Vec<u8>, PdfError> {
    let font = font()?;
    let mut doc = Document::new();
    doc.set_metadata(
        Metadata::new()
            .title("电子培训档案".into())
            .language("zh-CN".into()),
    );
    let json_text = record.to_string();
    doc.embed_file(EmbeddedFile {
        path: "training-record.json".into(),
        mime_type: MimeType::new("application/json"),
        description: Some("signed training record (eddsa-jcs-2022)".into()),
        association_kind: AssociationKind::Source,
        data: json_text.into_bytes().into(),
        modification_date: None,
        compress: Some(false),
        location: None,
    })
    .ok_or_else(|| PdfError::Write("the record could not be embedded".into()))?;
    let mut p = Pages {
        doc,
        lines: Vec::new(),
    };
    let l = &record["learner"];
    let r = &l["record"];
    let s = |v: &serde_json::Value| v.as_str().unwrap_or("").to_owned();
    p.line(22.0, "电子培训档案");
    p.line(
        11.0,
        format!(
            "培训机构：{}    生成日期：{}",
            s(&record["institution"]),
            s(&record["generated"])
        ),
    );
    p.line(
        13.0,
        format!(
            "姓名：{}    身份证号：{}",
            s(&l["name"]),
            s(&l["nationalIdMasked"])
        ),
    );
    p.line(
        13.0,
        format!("累计核定学时：{} 学时", s(&l["creditedHours"])),
    );
    p.line(15.0, "一、课程");
    for c in r["courses"].as_array().into_iter().flatten() {
        p.line(
            11.0,
            format!(
                "{}：核定 {} / 要求 {} 学时，{}",
                s(&c["course"]),
                hours(c["creditedMs"].as_u64().unwrap_or(0)),
                hours(c["requiredMs"].as_u64().unwrap_or(0)),
                if c["completed"].as_bool() == Some(true) {
                    "已完成"
                } else {
                    "未完成"
                }
            ),
        );
        for e in c["exams"].as_array().into_iter().flatten() {
            p.line(
                10.0,
                format!(
                    "    考试 {} 第 {} 次：{}/{} 分，{}（{}）",
                    s(&e["exam"]),
                    e["attempt"],
                    e["score"],
                    e["maxScore"],
                    if e["passed"].as_bool() == Some(true) {
                        "合格"
                    } else {
                        "不合格"
                    },
                    s(&e["status"])
                ),
            );
        }
    }
    p.line(15.0, "二、每日核定学时");
    for d in r["days"].as_array().into_iter().flatten() {
        p.line(
            10.0,
            format!(
                "{}：{} 学时",
                s(&d["day"]),
                hours(d["creditedMs"].as_u64().unwrap_or(0))
            ),
        );
    }
    p.line(15.0, "三、培训合格证明");
    for c in l["certificates"].as_array().into_iter().flatten() {
        let h = &c["credential"]["hearth"];
        p.line(
            10.0,
            format!(
                "{}  {}  发证 {}{}",
                s(&h["serial"]),
                s(&h["project"]),
                s(&h["issuedDate"]),
                if c["revoked"].is_null() {
                    ""
                } else {
                    "（已撤销）"
                }
            ),
        );
    }
    p.line(15.0, "四、考勤确认");
    for a in record["attestations"].as_array().into_iter().flatten() {
        p.line(
            10.0,
            format!("收据 {}（教师 {}）", s(&a["receiptId"]), s(&a["trainerId"])),
        );
    }
    p.line(15.0, "五、学习凭证链（证据）");
    for e in l["chainHeads"].as_array().into_iter().flatten() {
        p.line(
            9.0,
            format!(
                "设备 {} 序号 {} 收据 {}",
                s(&e["device"]),
                e["seq"],
                s(&e["receipt"])
            ),
        );
    }
    p.line(
        10.0,
        "本档案由培训机构签名（eddsa-jcs-2022），签名数据见附件 training-record.json。",
    );
    p.finish(&font)
}

impl super::Service {
    /// The PDF of a learner's training record.
    pub fn training_record_pdf(
        &self,
        learner: hearth_protocol::LearnerId,
    ) -> super::ServiceResult<Vec<u8>> {
        let record = self.training_record(learner)?;
        render_training_record(&record)
            .map_err(|e| super::ServiceError::Internal(format!("{}: {e}", e.code())))
    }
}

impl super::Service {
    /// The PDF of an issued certificate.
    pub fn certificate_pdf(
        &self,
        c: &super::certificate::IssuedCertificate,
    ) -> super::ServiceResult<Vec<u8>> {
        render_certificate(
            &c.facts,
            &c.credential.to_string(),
            &self.certificate_qr(c),
            c.revoked.is_some(),
        )
        .map_err(|e| super::ServiceError::Internal(format!("{}: {e}", e.code())))
    }
}
