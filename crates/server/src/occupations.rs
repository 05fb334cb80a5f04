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

static ALL: LazyLock<BTreeMap<&'static str, Occupation>> = LazyLock::new(|| {
    CSV.lines()
        .skip(1)
        .filter_map(|line| {
            let mut f = line.splitn(3, ',');
            let level = f.next()?.parse().ok()?;
            let code = f.next()?;
            let name = f.next()?;
            Some((code, Occupation { level, code, name }))
        })
        .collect()
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
        assert_eq!(all().count(), 2051);
        assert_eq!(all().filter(|o| o.level == 4).count(), 1634);
        assert_eq!(name_of("6-31-01-03"), Some("电工"));
        assert_eq!(
            name_of("6-31-01-00"),
            None,
            "a minor group is not an occupation"
        );
        assert_eq!(name_of("9-99-99-99"), None);
    }
}
