//! `PUT /admin/concerts/{concertId}`: creates (201) or changes (200) a concert's catalog; the
//! same body again changes nothing. Operators only.
//! Round trips: one DynamoDB Query (the concert as stored), and when something changed one
//! TransactWriteItems (the concert and every changed date) and one Redis call that
//! invalidates the changed dates' seat maps and the dates listing; then one Redis script that
//! writes the line's mirror of the opening and controls.

use chrono::{DateTime, Utc};
use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde::{Deserialize, Deserializer};
use shared::domain::catalog::{CatalogRequest, DateCatalog, Name, Section, Sections, MAX_DATES};
use shared::domain::money::Price;
use shared::domain::{ConcertDate, ConcertId, SeatNo};
use shared::flows::catalog::Applied;
use shared::http::{self, views::AdminConcertView, HttpResponse};
use shared::{flows, ApiError, AppState};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PutConcertBody {
    name: Name,
    /// Absent: as stored. null: none.
    #[serde(default, deserialize_with = "present")]
    opens_at: Option<Option<DateTime<Utc>>>,
    dates: Vec<DateBody>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct DateBody {
    date: ConcertDate,
    sections: Vec<SectionBody>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SectionBody {
    name: Name,
    from_seat: SeatNo,
    to_seat: SeatNo,
    price: Price,
}

/// A field that is present, null or not: `Some(None)` for null.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

fn parse(body: PutConcertBody) -> Result<CatalogRequest, ApiError> {
    if body.dates.len() > MAX_DATES {
        return Err(ApiError::validation(
            "dates",
            format!("must have at most {MAX_DATES} dates"),
        ));
    }
    let mut dates = Vec::with_capacity(body.dates.len());
    for (i, d) in body.dates.into_iter().enumerate() {
        if dates.iter().any(|x: &DateCatalog| x.date == d.date) {
            return Err(ApiError::validation(
                format!("dates[{i}].date"),
                format!("{} is given twice", d.date),
            ));
        }
        let sections = d
            .sections
            .into_iter()
            .map(|s| Section {
                name: s.name,
                from_seat: s.from_seat,
                to_seat: s.to_seat,
                price: s.price.won(),
            })
            .collect();
        let sections = Sections::parse(sections)
            .map_err(|e| ApiError::validation(format!("dates[{i}].{}", e.field), e.reason))?;
        dates.push(DateCatalog {
            date: d.date,
            sections,
        });
    }
    dates.sort_by_key(|d| d.date);
    Ok(CatalogRequest {
        name: body.name,
        opens_at: body.opens_at,
        dates,
    })
}

pub async fn handler(state: &AppState, req: Request) -> Result<HttpResponse, lambda_http::Error> {
    http::respond(async {
        http::operator(state, &req)?;
        let concert = http::path(&req, "concertId", ConcertId::parse)?;
        let body: PutConcertBody = http::body_within(&req, http::MAX_ADMIN_BODY_BYTES)?;
        let catalog = parse(body)?;
        let applied = flows::catalog::put(state, &concert, &catalog).await?;
        let status = match applied {
            Applied::Created(_) => StatusCode::CREATED,
            Applied::Updated(_) | Applied::Unchanged(_) => StatusCode::OK,
        };
        Ok(http::json(
            status,
            &AdminConcertView::stored(applied.stored()),
        ))
    })
    .await
}
