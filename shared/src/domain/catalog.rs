//! A concert's catalog as an operator sets it: its name, its opening instant, and per date the
//! sections that number its seats 1 to N, each with its price. Parsed whole, so a catalog that
//! exists is one the holds can sell from.

use std::fmt;

use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};

use super::ids::{ConcertDate, Invalid, SeatNo};
use super::money::Won;

/// At most this many seats a date.
pub const MAX_SEATS: u16 = 2_000;
/// At most this many dates a concert: a catalog change is one transaction (100 items), the
/// concert item and every changed date.
pub const MAX_DATES: usize = 90;
/// Dates one change may add, change or remove: its transaction holds them and the concert,
/// and DynamoDB's holds at most 100 items. (Replacing 90 dates by 90 others is two changes.)
pub const MAX_DATE_WRITES: usize = 99;
/// A date's sections, at most (one per seat would be silly; 100 is a big arena's blocks).
pub const MAX_SECTIONS: usize = 100;

/// A concert's or section's name: 1 to 100 characters, no control characters, not blank.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Name(String);

impl Name {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let count = s.chars().count();
        if count == 0 || count > 100 || s.trim().is_empty() {
            return Err(Invalid("must be 1 to 100 characters, not blank"));
        }
        if s.chars().any(char::is_control) {
            return Err(Invalid("must not contain control characters"));
        }
        Ok(Self(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl TryFrom<String> for Name {
    type Error = Invalid;
    fn try_from(s: String) -> Result<Self, Invalid> {
        Self::parse(&s)
    }
}
impl From<Name> for String {
    fn from(n: Name) -> String {
        n.0
    }
}
impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Seats `from_seat..=to_seat` of a date, at one price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Section {
    pub name: Name,
    pub from_seat: SeatNo,
    pub to_seat: SeatNo,
    pub price: Won,
}

/// A date's sections, in seat order, covering 1..=N once each (N <= [`MAX_SEATS`]), with
/// distinct names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<Section>", into = "Vec<Section>")]
pub struct Sections(Vec<Section>);

/// Why a date's sections do not make a seat map: `field` is the path under the date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionsInvalid {
    pub field: String,
    pub reason: String,
}

impl Sections {
    pub fn parse(mut sections: Vec<Section>) -> Result<Self, SectionsInvalid> {
        let bad = |field: String, reason: String| Err(SectionsInvalid { field, reason });
        if sections.is_empty() || sections.len() > MAX_SECTIONS {
            return bad(
                "sections".into(),
                format!("must have 1 to {MAX_SECTIONS} sections"),
            );
        }
        for (i, s) in sections.iter().enumerate() {
            if s.from_seat > s.to_seat {
                return bad(
                    format!("sections[{i}].toSeat"),
                    "must not be below fromSeat".into(),
                );
            }
            if s.to_seat.get() > MAX_SEATS {
                return bad(
                    format!("sections[{i}].toSeat"),
                    format!("must be at most {MAX_SEATS} (seats a date)"),
                );
            }
        }
        for (i, s) in sections.iter().enumerate() {
            if sections[..i].iter().any(|o| o.name == s.name) {
                return bad(
                    format!("sections[{i}].name"),
                    format!("section {} is named twice", s.name),
                );
            }
        }
        sections.sort_by_key(|s| s.from_seat);
        let mut next = 1u16;
        for s in &sections {
            if s.from_seat.get() != next {
                let reason = if s.from_seat.get() < next {
                    format!("section {} overlaps seats before it", s.name)
                } else {
                    format!(
                        "seats {next} to {} are in no section",
                        s.from_seat.get() - 1
                    )
                };
                return bad("sections".into(), reason);
            }
            next = s.to_seat.get() + 1;
        }
        Ok(Self(sections))
    }

    /// One section of all seats at one price: what `make seed` asks for.
    pub fn uniform(seats: u16, price: Won) -> Result<Self, SectionsInvalid> {
        let seat = |n: u16| {
            SeatNo::new(i64::from(n)).map_err(|e| SectionsInvalid {
                field: "seats".into(),
                reason: e.to_string(),
            })
        };
        Self::parse(vec![Section {
            name: Name::parse("General").expect("a valid name"),
            from_seat: seat(1)?,
            to_seat: seat(seats)?,
            price,
        }])
    }

    /// N: the seats are numbered 1..=N.
    pub fn seat_count(&self) -> u16 {
        self.0.last().map_or(0, |s| s.to_seat.get())
    }

    /// The section of a seat; None past N.
    pub fn section_of(&self, seat: SeatNo) -> Option<&Section> {
        let i = self.0.partition_point(|s| s.to_seat < seat);
        self.0.get(i).filter(|s| s.from_seat <= seat)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Section> {
        self.0.iter()
    }
}

impl TryFrom<Vec<Section>> for Sections {
    type Error = Invalid;
    fn try_from(v: Vec<Section>) -> Result<Self, Invalid> {
        // Stored sections were parsed when written; this path is for reading them back.
        Self::parse(v).map_err(|_| Invalid("must cover seats 1 to N once each"))
    }
}
impl From<Sections> for Vec<Section> {
    fn from(s: Sections) -> Self {
        s.0
    }
}

/// One date of a catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateCatalog {
    pub date: ConcertDate,
    pub sections: Sections,
}

/// What `PUT /admin/concerts/{id}` asks for, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogRequest {
    pub name: Name,
    /// Absent: leave it as stored. `Some(None)`: clear it.
    pub opens_at: Option<Option<DateTime<Utc>>>,
    /// Ascending, distinct.
    pub dates: Vec<DateCatalog>,
}

/// Why a catalog change is refused once the stored concert is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeRefused {
    /// The sections of this date changed (or it was left out), and it has had a hold.
    Locked(ConcertDate),
    /// A new opening instant that is not in the future.
    OpeningInPast,
    /// The opening has passed: the line is open, and moving it would close it again.
    OpeningPassed(DateTime<Utc>),
    /// An opening past what RFC 3339 can write (the year 9999).
    OpeningOutOfRange,
    /// More dates added, changed or removed than one transaction holds.
    TooLarge(usize),
}

/// How a date's stored catalog compares with the requested one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateChange {
    Unchanged,
    Added,
    Changed,
    Removed,
}

/// The rule for a change of opening instant: a new value must be in the future, and an
/// opening that has passed stays where it was.
pub fn check_opening(
    stored: Option<DateTime<Utc>>,
    requested: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), ChangeRefused> {
    if stored == requested {
        return Ok(());
    }
    if let Some(passed) = stored.filter(|at| *at <= now) {
        return Err(ChangeRefused::OpeningPassed(passed));
    }
    match requested {
        Some(at) if at <= now => Err(ChangeRefused::OpeningInPast),
        Some(at) if at.year() > 9999 => Err(ChangeRefused::OpeningOutOfRange),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(name: &str, from: i64, to: i64, price: u64) -> Section {
        Section {
            name: Name::parse(name).unwrap(),
            from_seat: SeatNo::new(from).unwrap(),
            to_seat: SeatNo::new(to).unwrap(),
            price: Won::new(price),
        }
    }

    #[test]
    fn sections_must_number_the_seats_from_one_without_gaps_or_overlaps() {
        let ok = Sections::parse(vec![section("B", 11, 20, 1), section("A", 1, 10, 2)]).unwrap();
        assert_eq!(ok.seat_count(), 20);
        assert_eq!(ok.iter().next().unwrap().name.as_str(), "A");
        let gap = Sections::parse(vec![section("A", 1, 10, 1), section("B", 12, 20, 1)]);
        assert_eq!(gap.unwrap_err().reason, "seats 11 to 11 are in no section");
        let overlap = Sections::parse(vec![section("A", 1, 10, 1), section("B", 10, 20, 1)]);
        assert!(overlap.unwrap_err().reason.contains("overlaps"));
        let late = Sections::parse(vec![section("A", 2, 10, 1)]);
        assert!(late.is_err());
    }

    #[test]
    fn a_date_has_at_most_two_thousand_seats() {
        assert!(Sections::parse(vec![section("A", 1, 2_000, 1)]).is_ok());
        let big = Sections::parse(vec![section("A", 1, 2_001, 1)]).unwrap_err();
        assert_eq!(big.field, "sections[0].toSeat");
    }

    #[test]
    fn section_names_are_distinct_within_a_date() {
        let twice = Sections::parse(vec![section("A", 1, 5, 1), section("A", 6, 9, 1)]);
        assert_eq!(twice.unwrap_err().field, "sections[1].name");
    }

    #[test]
    fn a_seat_finds_its_section() {
        let s = Sections::parse(vec![
            section("A", 1, 10, 100),
            section("B", 11, 11, 200),
            section("C", 12, 2_000, 300),
        ])
        .unwrap();
        let at = |n| s.section_of(SeatNo::new(n).unwrap()).map(|x| x.price.get());
        assert_eq!(at(1), Some(100));
        assert_eq!(at(10), Some(100));
        assert_eq!(at(11), Some(200));
        assert_eq!(at(2_000), Some(300));
        assert_eq!(at(2_001), None);
    }

    #[test]
    fn an_opening_can_move_until_it_passes() {
        let now = Utc::now();
        let hour = chrono::Duration::hours(1);
        assert_eq!(check_opening(None, Some(now + hour), now), Ok(()));
        assert_eq!(
            check_opening(None, Some(now - hour), now),
            Err(ChangeRefused::OpeningInPast)
        );
        assert_eq!(check_opening(Some(now + hour), None, now), Ok(()));
        assert_eq!(
            check_opening(Some(now - hour), Some(now + hour), now),
            Err(ChangeRefused::OpeningPassed(now - hour))
        );
        // The same value again is no change, passed or not.
        assert_eq!(
            check_opening(Some(now - hour), Some(now - hour), now),
            Ok(())
        );
    }

    #[test]
    fn an_opening_past_the_year_9999_is_refused() {
        let now = Utc::now();
        let y10k = "9999-12-31T23:00:00-05:00"
            .parse::<DateTime<Utc>>()
            .unwrap();
        assert_eq!(
            check_opening(None, Some(y10k), now),
            Err(ChangeRefused::OpeningOutOfRange)
        );
        let last = "9999-12-31T23:59:59Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(check_opening(None, Some(last), now), Ok(()));
    }
}
