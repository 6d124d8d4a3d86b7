//! `create-tables` and `seed`: the table from `shared::store::schema`, the catalog in the data
//! model the holds use.

use shared::domain::money::parse_price;
use shared::domain::{ConcertDate, ConcertId, SeatNo, Won};
use shared::store::schema;
use shared::{AppState, StoreError};

/// What `make seed ARGS='...'` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedArgs {
    pub concert: ConcertId,
    pub dates: Vec<ConcertDate>,
    pub seats: u16,
    pub price: Won,
}

impl SeedArgs {
    /// `--concert-id ID --dates 2026-12-24,2026-12-25 --seats 50 --price 50000`
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut concert = None;
        let mut dates = None;
        let mut seats = 50u16;
        let mut price = Won::new(50_000);
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
            match flag.as_str() {
                "--concert-id" => {
                    concert =
                        Some(ConcertId::parse(value).map_err(|e| format!("--concert-id {e}"))?)
                }
                "--dates" => {
                    let parsed: Result<Vec<_>, _> = value
                        .split(',')
                        .map(|d| ConcertDate::parse(d.trim()))
                        .collect();
                    dates = Some(parsed.map_err(|e| format!("--dates: each {e}"))?);
                }
                "--seats" => {
                    let n: i64 = value.parse().map_err(|_| "--seats must be a number")?;
                    seats = SeatNo::new(n).map_err(|e| format!("--seats {e}"))?.get();
                    if seats > shared::domain::catalog::MAX_SEATS {
                        return Err(format!(
                            "--seats must be at most {}",
                            shared::domain::catalog::MAX_SEATS
                        ));
                    }
                }
                "--price" => {
                    let n: i64 = value.parse().map_err(|_| "--price must be a number")?;
                    price = parse_price(n).map_err(|e| format!("--price {e}"))?;
                }
                other => return Err(format!("unknown option {other}")),
            }
        }
        Ok(Self {
            concert: concert.ok_or("--concert-id is required")?,
            dates: dates.ok_or("--dates is required")?,
            seats,
            price,
        })
    }
}

pub async fn create_tables(state: &AppState) -> Result<(), StoreError> {
    schema::create_tables(&state.db).await
}

/// The same catalog change as `PUT /admin/concerts/{id}`, keeping the concert's other dates.
pub async fn seed(state: &AppState, args: &SeedArgs) -> Result<(), shared::ApiError> {
    let changed = shared::flows::catalog::seed(
        &state.db,
        &args.concert,
        &args.dates,
        args.seats,
        args.price,
    )
    .await?;
    shared::flows::seats::invalidate(state, &args.concert, &changed).await;
    Ok(())
}

/// The demo catalog `make run` seeds: three dates from today, 50 seats each.
pub fn demo() -> SeedArgs {
    let today = ConcertDate::today_utc().naive();
    SeedArgs {
        concert: ConcertId::parse("demo").expect("a valid id"),
        dates: (0..3)
            .map(|d| ConcertDate::from_naive(today + chrono::Days::new(d)))
            .collect(),
        seats: 50,
        price: Won::new(50_000),
    }
}
