//! The 2022 national occupation classification (职业分类大典), embedded from
//! `assets/occupations/csco2022.csv` (see its README for source, licence and counts).

use std::collections::BTreeMap;
use std::sync::LazyLock;

static CSV: &str = include_str!("../../../assets/occupations/csco2022.csv");

/// One entry: level 1 (major group) to 4 (occupation), code, name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Occupation {
    pub level: u8,
    pub code: &'static str,
    pub name: &'static str,
}

/// By code. The source repeats four rows (one of them, `2-03-01-00`, once as a minor group and
/// once as an occupation); the first row of a code is kept.
static ALL: LazyLock<BTreeMap<&'static str, Occupation>> = LazyLock::new(|| {
    let mut all = BTreeMap::new();
    for line in CSV.lines().skip(1) {
        let mut f = line.splitn(3, ',');
        if let (Some(Ok(level)), Some(code), Some(name)) =
            (f.next().map(str::parse), f.next(), f.next())
        {
            all.entry(code).or_insert(Occupation { level, code, name });
        }
    }
    all
});

/// Every entry, by code.
pub fn all() -> impl Iterator<Item = &'static Occupation> {
    ALL.values()
}

pub fn get(code: &str) -> Option<&'static Occupation> {
    ALL.get(code)
}

/// The name of a level-4 occupation code.
pub fn name_of(code: &str) -> Option<&'static str> {
    get(code).filter(|o| o.level == 4).map(|o| o.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_has_every_row_of_the_2022_edition() {
        assert_eq!(CSV.lines().count(), 1 + 2051, "every row of the source");
        assert_eq!(all().count(), 2047, "distinct codes");
        assert_eq!(all().filter(|o| o.level == 4).count(), 1631);
        assert_eq!(get("2-03-01-00").map(|o| o.level), Some(3));
        assert_eq!(name_of("6-31-01-03"), Some("电工"));
        assert_eq!(
            name_of("6-31-01-00"),
            None,
            "a minor group is not an occupation"
        );
        assert_eq!(name_of("9-99-99-99"), None);
    }
}
