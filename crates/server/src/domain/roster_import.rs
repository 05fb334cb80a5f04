//! Roster import (issue #15): an administrator uploads a real-name roster (CSV or XLSX), sees a
//! preview with a reason for every bad row, and commits it all or nothing.
//!
//! The first row names the columns: `姓名` or `name`, and `身份证号` (`身份证号码`,
//! `national_id`, `id`). A row is refused, with a stable code, when
//!
//! - `roster.missing_name`: the name is empty;
//! - `roster.invalid_id`: the ID number is not 18 characters (17 digits and a digit or X) or the
//!   older 15 digits;
//! - `roster.bad_checksum`: an 18-character number whose check digit is wrong (GB 11643-1999:
//!   weights 2^(17-i) mod 11 over the first 17 digits, the sum mod 11 picks `10X98765432`);
//! - `roster.id_as_number`: an XLSX cell holds the ID as a number (a spreadsheet keeps 15
//!   significant digits, so the number is already damaged: format the column as text);
//! - `roster.duplicate_in_file`: the same person appears on an earlier line;
//! - `roster.already_registered`: the organisation has this learner already.
//!
//! Committing checks everything again and stores the rows in one transaction: a roster with any
//! bad row, or one that meets a learner registered meanwhile, stores nothing.

use std::collections::{HashMap, HashSet};
use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::audit::Actor;
use super::{Service, ServiceError, ServiceResult, mask_national_id, normalise_national_id};
use crate::store::{Learner, StoreError};
use hearth_protocol::LearnerId;

/// At most this many rows in one roster.
pub const MAX_ROWS: usize = 10_000;

/// The GB 11643 check character of the first 17 digits.
pub fn check_char(first17: &[u8]) -> Option<u8> {
    if first17.len() != 17 || !first17.iter().all(u8::is_ascii_digit) {
        return None;
    }
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = first17
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    Some(b"10X98765432"[(sum % 11) as usize])
}

/// One cell of the ID column as read.
#[derive(Clone, Debug)]
enum IdCell {
    Text(String),
    /// A number in a spreadsheet cell.
    Number,
}

/// One row of the file as read.
#[derive(Clone, Debug)]
struct RawRow {
    line: usize,
    name: String,
    id: IdCell,
}

/// One row of the preview.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PreviewRow {
    /// The line (CSV) or row (XLSX) number in the file, counting the header as 1.
    pub line: usize,
    pub name: String,
    /// The ID number masked to its last four characters.
    pub national_id: String,
    /// `None`: the row is good.
    pub reason: Option<&'static str>,
    pub message: Option<String>,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Preview {
    pub rows: Vec<PreviewRow>,
    pub good: usize,
    pub bad: usize,
}

fn invalid(code: &'static str, message: impl Into<String>) -> ServiceError {
    ServiceError::Invalid(code, message.into())
}

fn column(header: &[String], names: &[&str]) -> Option<usize> {
    header.iter().position(|h| {
        let h = h.trim().trim_start_matches('\u{feff}').to_lowercase();
        names.iter().any(|n| h == *n)
    })
}

fn columns(header: &[String]) -> ServiceResult<(usize, usize)> {
    let name = column(header, &["姓名", "name"]);
    let id = column(
        header,
        &["身份证号", "身份证号码", "national_id", "nationalid", "id"],
    );
    match (name, id) {
        (Some(n), Some(i)) => Ok((n, i)),
        _ => Err(invalid(
            "roster.no_header",
            "the first row must name the columns 姓名 (name) and 身份证号 (national_id)",
        )),
    }
}

fn read_csv(bytes: &[u8]) -> ServiceResult<Vec<RawRow>> {
    let text = std::str::from_utf8(bytes).map_err(|_| {
        invalid(
            "roster.not_utf8",
            "the CSV file is not UTF-8 text (save it as \"CSV UTF-8\")",
        )
    })?;
    let mut rd = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = rd.records();
    let header: Vec<String> = match records.next() {
        Some(r) => r
            .map_err(|e| invalid("roster.bad_csv", format!("the CSV file is malformed: {e}")))?
            .iter()
            .map(str::to_owned)
            .collect(),
        None => return Err(invalid("roster.empty", "the file has no rows")),
    };
    let (n, i) = columns(&header)?;
    let mut rows = Vec::new();
    for r in records {
        let r =
            r.map_err(|e| invalid("roster.bad_csv", format!("the CSV file is malformed: {e}")))?;
        let line = r.position().map_or(rows.len() + 2, |p| p.line() as usize);
        if r.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        rows.push(RawRow {
            line,
            name: r.get(n).unwrap_or("").trim().to_owned(),
            id: IdCell::Text(r.get(i).unwrap_or("").to_owned()),
        });
    }
    Ok(rows)
}

fn cell_text(d: &Data) -> String {
    match d {
        Data::Empty => String::new(),
        other => other.to_string(),
    }
}

fn read_xlsx(bytes: &[u8]) -> ServiceResult<Vec<RawRow>> {
    let mut book = Xlsx::new(Cursor::new(bytes)).map_err(|e| {
        invalid(
            "roster.bad_xlsx",
            format!("the XLSX file is malformed: {e}"),
        )
    })?;
    let range = book
        .worksheet_range_at(0)
        .ok_or_else(|| invalid("roster.empty", "the workbook has no sheet"))?
        .map_err(|e| {
            invalid(
                "roster.bad_xlsx",
                format!("the first sheet is unreadable: {e}"),
            )
        })?;
    let first_row = range.start().map_or(0, |(r, _)| r as usize);
    let mut it = range.rows();
    let header: Vec<String> = match it.next() {
        Some(r) => r.iter().map(cell_text).collect(),
        None => return Err(invalid("roster.empty", "the file has no rows")),
    };
    let (n, i) = columns(&header)?;
    let mut rows = Vec::new();
    for (k, r) in it.enumerate() {
        if r.iter().all(|c| cell_text(c).trim().is_empty()) {
            continue;
        }
        let id = match r.get(i) {
            Some(Data::Float(_) | Data::Int(_)) => IdCell::Number,
            Some(d) => IdCell::Text(cell_text(d)),
            None => IdCell::Text(String::new()),
        };
        rows.push(RawRow {
            // Spreadsheet rows count from 1; the header is the range's first row.
            line: first_row + k + 2,
            name: r
                .get(n)
                .map(cell_text)
                .unwrap_or_default()
                .trim()
                .to_owned(),
            id,
        });
    }
    Ok(rows)
}

/// Reads a roster file: XLSX when it is a ZIP archive, CSV otherwise.
fn read(bytes: &[u8]) -> ServiceResult<Vec<RawRow>> {
    let rows = if bytes.starts_with(b"PK\x03\x04") {
        read_xlsx(bytes)?
    } else {
        read_csv(bytes)?
    };
    if rows.len() > MAX_ROWS {
        return Err(invalid(
            "roster.too_many_rows",
            format!("at most {MAX_ROWS} rows in one roster"),
        ));
    }
    Ok(rows)
}

/// A checked row: the preview row and, when good, the normalised ID.
struct Checked {
    row: PreviewRow,
    id: Option<String>,
}

impl Service {
    fn check_roster(&self, org: Uuid, bytes: &[u8]) -> ServiceResult<Vec<Checked>> {
        self.require_org(org)?;
        let rows = read(bytes)?;
        let registered: HashSet<[u8; 32]> = self
            .store
            .learners_of_org(org)?
            .into_iter()
            .map(|l| l.national_id_mac)
            .collect();
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let (shown, verdict) = match &r.id {
                IdCell::Number => (
                    String::new(),
                    Err((
                        "roster.id_as_number",
                        "the ID number is stored as a number, which loses digits; format the column as text".to_owned(),
                    )),
                ),
                IdCell::Text(raw) => match normalise_national_id(raw) {
                    None => (
                        String::new(),
                        Err((
                            "roster.invalid_id",
                            "an ID number has 18 characters (17 digits and a digit or X)".to_owned(),
                        )),
                    ),
                    Some(id) => {
                        let shown = mask_national_id(&id[id.len() - 4..], id.len());
                        let v = if id.len() == 18
                            && check_char(&id.as_bytes()[..17]) != Some(id.as_bytes()[17])
                        {
                            Err((
                                "roster.bad_checksum",
                                "the ID number's check digit is wrong (a typing mistake?)"
                                    .to_owned(),
                            ))
                        } else {
                            Ok(id)
                        };
                        (shown, v)
                    }
                },
            };
            let verdict = match verdict {
                _ if r.name.is_empty() => Err(("roster.missing_name", "the name is empty".into())),
                Ok(id) => {
                    if let Some(first) = seen.get(&id) {
                        Err((
                            "roster.duplicate_in_file",
                            format!("the same person is on line {first}"),
                        ))
                    } else if registered.contains(&self.keys.national_id_mac(&id)) {
                        Err((
                            "roster.already_registered",
                            "this person is registered in the organisation already".into(),
                        ))
                    } else {
                        seen.insert(id.clone(), r.line);
                        Ok(id)
                    }
                }
                Err(e) => Err(e),
            };
            let (reason, message, id) = match verdict {
                Ok(id) => (None, None, Some(id)),
                Err((code, msg)) => (Some(code), Some(msg), None),
            };
            out.push(Checked {
                row: PreviewRow {
                    line: r.line,
                    name: r.name,
                    national_id: shown,
                    reason,
                    message,
                },
                id,
            });
        }
        Ok(out)
    }

    /// Checks a roster file without storing anything.
    pub fn preview_roster(&self, org: Uuid, bytes: &[u8]) -> ServiceResult<Preview> {
        let checked = self.check_roster(org, bytes)?;
        let bad = checked.iter().filter(|c| c.id.is_none()).count();
        Ok(Preview {
            good: checked.len() - bad,
            bad,
            rows: checked.into_iter().map(|c| c.row).collect(),
        })
    }

    /// Imports a roster file all or nothing; refused (nothing stored) while any row is bad.
    pub fn import_roster(
        &self,
        org: Uuid,
        by: Actor,
        bytes: &[u8],
        class: Option<Uuid>,
    ) -> ServiceResult<Vec<Learner>> {
        if let Some(c) = class {
            let c = self
                .store
                .class(c)?
                .ok_or(ServiceError::NotFound("class.not_found", "no such class"))?;
            if c.org != org {
                return Err(ServiceError::Forbidden(
                    "auth.wrong_org",
                    "the class belongs to another organisation",
                ));
            }
        }
        let checked = self.check_roster(org, bytes)?;
        let bad = checked.iter().filter(|c| c.id.is_none()).count();
        if bad > 0 {
            return Err(invalid(
                "roster.has_bad_rows",
                format!("{bad} rows are bad; nothing was imported (see the preview)"),
            ));
        }
        if checked.is_empty() {
            return Err(invalid("roster.empty", "the roster has no learners"));
        }
        let now = self.now();
        let learners: Vec<Learner> = checked
            .into_iter()
            .filter_map(|c| c.id.map(|id| (c.row.name, id)))
            .map(|(name, id)| Learner {
                id: LearnerId(self.new_uuid()),
                org,
                name,
                national_id_mac: self.keys.national_id_mac(&id),
                national_id_tail: id[id.len() - 4..].into(),
                class,
                pin_hash: None,
                created_ms: now,
            })
            .collect();
        self.store.import_learners(&learners).map_err(|e| match e {
            StoreError::Conflict(_) => ServiceError::Conflict(
                "learner.exists",
                "a learner of the roster was registered meanwhile; nothing was imported",
            ),
            e => e.into(),
        })?;
        self.audit(
            org,
            by,
            "roster.import",
            json!({ "learners": learners.len(), "class": class }),
        )?;
        Ok(learners)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_digit_follows_gb_11643() {
        // The standard's own example: 11010519491231002X.
        assert_eq!(check_char(b"11010519491231002"), Some(b'X'));
        assert_eq!(check_char(b"44052418800101001"), Some(b'4'));
        assert_eq!(check_char(b"1101051949123100"), None);
    }
}
