//! How an exam item's answer is graded against its key. The keys are kept on the service
//! (never in a package) and read by the credit rules through the course book.

use hearth_protocol::Answer;
use serde::{Deserialize, Serialize};

/// The pseudo-exam under which attention check keys are stored beside exam keys (`@` is not a
/// slug character, so no exam can be named so).
pub const CHECK_KEYS: &str = "@checks";

/// An exam item's answer key as stored (never sent to clients).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExamKey {
    /// The set of right option indices, for choice items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choices: Option<Vec<u8>>,
    /// Accepted text answers (compared trimmed, case-insensitive), for text items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<Vec<String>>,
}

impl ExamKey {
    pub fn is_right(&self, answer: &Answer) -> bool {
        match (answer, &self.choices, &self.text) {
            (Answer::Choices(c), Some(want), _) => {
                let mut c = c.clone();
                c.sort_unstable();
                c.dedup();
                let mut w = want.clone();
                w.sort_unstable();
                c == w
            }
            (Answer::Text(t), _, Some(ok)) => {
                ok.iter().any(|o| o.trim().eq_ignore_ascii_case(t.trim()))
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exam_keys() {
        let k = ExamKey {
            choices: Some(vec![2, 0]),
            text: None,
        };
        assert!(k.is_right(&Answer::Choices(vec![0, 2])));
        assert!(!k.is_right(&Answer::Choices(vec![0])));
        assert!(!k.is_right(&Answer::Text("0".into())));
        let t = ExamKey {
            choices: None,
            text: Some(vec!["Ground".into()]),
        };
        assert!(t.is_right(&Answer::Text(" ground ".into())));
    }
}
