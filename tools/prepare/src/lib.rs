//! `prepare`: gets AWS ready for a ticket opening and back after it, from the capacity model
//! ([`model`], docs/capacity.md). `raise` sets the ElastiCache Serverless cache's minimum
//! ECPUs per second (ModifyServerlessCache; its maximum and data-storage limit kept as they
//! are), and brings a table whose warm throughput reads below a new on-demand table's up to
//! it (UpdateTable; the crowd itself writes nothing to DynamoDB); `lower` takes the cache's
//! minimum back down. Each reads the current settings first, changes only what is below (or, lowering,
//! above) the target, and with `--dry-run` only reads and prints.

pub mod cli;
pub mod model;

use std::fmt::Debug;
use std::io::Write;

use anyhow::{anyhow, bail, Context};
use aws_sdk_dynamodb::types::WarmThroughput;
use aws_sdk_elasticache::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_elasticache::operation::RequestId;
use aws_sdk_elasticache::types::{CacheUsageLimits, EcpuPerSecond, ServerlessCache};

use cli::{Command, Names, CACHE_PREFIX};
use model::Warm;

/// The two control planes the command speaks to.
pub struct Clients {
    pub cache: aws_sdk_elasticache::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
}

/// Runs `command`, printing what it finds and does to `out`; an error goes to `err`. Returns
/// the exit code: 0, or 1 when AWS refused or could not be reached.
pub async fn execute(
    command: &Command,
    clients: &Clients,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    match run(command, clients, out).await {
        Ok(()) => 0,
        Err(e) => {
            // `{:#}`: the error and its causes, one after the other.
            let _ = writeln!(err, "prepare: {e:#}");
            1
        }
    }
}

pub async fn run(command: &Command, clients: &Clients, out: &mut dyn Write) -> anyhow::Result<()> {
    match command {
        Command::Raise {
            expected_users,
            names,
            dry_run,
        } => raise(*expected_users, names, *dry_run, clients, out).await,
        Command::Lower {
            floor,
            cache,
            dry_run,
        } => lower(*floor, cache.as_deref(), *dry_run, clients, out).await,
    }
}

async fn raise(
    users: u64,
    names: &Names,
    dry_run: bool,
    clients: &Clients,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let minimum = model::cache_ecpu_minimum(users);
    writeln!(
        out,
        "expected users {}: {} joins/s, polls peaking at {}/s, one line's peak {} ECPU/s",
        grouped(users),
        grouped(model::joins_per_second(users)),
        grouped(model::peak_polls_per_second(users)),
        grouped(model::peak_ecpu_per_second(users)),
    )?;
    if model::exceeds_one_slot(users) {
        writeln!(
            out,
            "warning: one concert's line is one cache slot, which ElastiCache serves at most {} ECPU/s whatever the minimum: more than one line can take (docs/capacity.md, where one deployment stops)",
            grouped(model::SLOT_ECPU_LIMIT)
        )?;
    }

    // Everything is read and checked before the first write, so a refusal found here changes
    // nothing.
    let cache = find_cache(&clients.cache, names.cache.as_deref()).await?;
    let cache_change = cache_plan(&cache, minimum, Direction::Up, out)?;
    let mut table_changes = Vec::new();
    for table in [&names.table, &names.reservations_table] {
        if let Some(change) = table_plan(&clients.dynamodb, table, model::tables(), out).await? {
            table_changes.push((table, change));
        }
    }

    if dry_run {
        writeln!(out, "dry run: nothing changed")?;
        return Ok(());
    }
    let changed = cache_change.is_some() || !table_changes.is_empty();
    if let Some(limits) = cache_change {
        modify_cache(&clients.cache, &cache, limits, out).await?;
    }
    for (table, raise) in table_changes {
        update_table(&clients.dynamodb, table, raise, out).await?;
    }
    if changed {
        writeln!(
            out,
            "the cache reaches a new minimum within an hour and warm throughput updates in the background: raise an hour ahead at least, a day ahead for the tables"
        )?;
    } else {
        writeln!(out, "nothing to change")?;
    }
    Ok(())
}

async fn lower(
    floor: u64,
    cache_name: Option<&str>,
    dry_run: bool,
    clients: &Clients,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let cache = find_cache(&clients.cache, cache_name).await?;
    let change = cache_plan(&cache, floor, Direction::Down, out)?;
    // DynamoDB refuses to lower warm throughput; it was billed once and costs nothing kept.
    writeln!(
        out,
        "tables: warm throughput cannot be lowered (nor does it cost anything kept): left as is"
    )?;
    if dry_run {
        writeln!(out, "dry run: nothing changed")?;
        return Ok(());
    }
    match change {
        Some(limits) => modify_cache(&clients.cache, &cache, limits, out).await,
        None => Ok(writeln!(out, "nothing to change")?),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Up,
    Down,
}

/// The cache's limits with the ECPU minimum at `target`, or `None` when it already is there
/// (raising never lowers a minimum set higher by hand, lowering never raises one).
fn cache_plan(
    cache: &ServerlessCache,
    target: u64,
    direction: Direction,
    out: &mut dyn Write,
) -> anyhow::Result<Option<CacheUsageLimits>> {
    let name = cache.serverless_cache_name().unwrap_or_default();
    let limits = cache.cache_usage_limits();
    let ecpu = limits.and_then(|l| l.ecpu_per_second());
    let current = ecpu.and_then(|e| e.minimum()).unwrap_or(0);
    let maximum = ecpu.and_then(|e| e.maximum());
    let target_i32 = i32::try_from(target)
        .map_err(|_| anyhow!("{} ECPU/s is more than a cache takes", grouped(target)))?;
    if let Some(max) = maximum.filter(|&m| m > 0 && m < target_i32) {
        bail!(
            "cache {name}: its ECPU/s maximum ({}) is below the minimum of {}: raise the maximum first (template.yaml, CacheUsageLimits)",
            grouped(max as u64),
            grouped(target)
        );
    }
    let kept = describe_kept(limits);
    let needed = match direction {
        Direction::Up => current < target_i32,
        Direction::Down => current > target_i32,
    };
    if !needed {
        writeln!(
            out,
            "cache {name}: minimum ECPU/s {} already, left as is ({kept})",
            minimum_text(current)
        )?;
        return Ok(None);
    }
    writeln!(
        out,
        "cache {name}: minimum ECPU/s {} -> {} ({kept} kept)",
        minimum_text(current),
        minimum_text(target_i32)
    )?;
    let ecpu = EcpuPerSecond::builder()
        .minimum(target_i32)
        .set_maximum(maximum)
        .build();
    Ok(Some(
        CacheUsageLimits::builder()
            .set_data_storage(limits.and_then(|l| l.data_storage()).cloned())
            .ecpu_per_second(ecpu)
            .build(),
    ))
}

/// What to raise of `table`'s warm throughput, or `None` when it already serves `target`. Only
/// the dimensions below their target are sent: warm throughput only goes up, and one already
/// there is left out rather than sent again.
async fn table_plan(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    target: Warm,
    out: &mut dyn Write,
) -> anyhow::Result<Option<TableRaise>> {
    let described = client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(|e| refused(format!("DescribeTable on table {table}"), e))?;
    let warm = described.table().and_then(|t| t.warm_throughput());
    let current = Warm {
        reads: warm
            .and_then(|w| w.read_units_per_second())
            .unwrap_or(0)
            .max(0) as u64,
        writes: warm
            .and_then(|w| w.write_units_per_second())
            .unwrap_or(0)
            .max(0) as u64,
    };
    let raise = TableRaise {
        reads: (current.reads < target.reads).then_some(target.reads),
        writes: (current.writes < target.writes).then_some(target.writes),
    };
    if raise.reads.is_none() && raise.writes.is_none() {
        writeln!(
            out,
            "table {table}: warm throughput {} already covers {}, left as is",
            warm_text(current),
            warm_text(target)
        )?;
        return Ok(None);
    }
    writeln!(
        out,
        "table {table}: warm throughput {} -> {}",
        warm_text(current),
        warm_text(raise.applied_to(current))
    )?;
    Ok(Some(raise))
}

/// The warm throughput an UpdateTable raises: reads, writes or both.
#[derive(Debug, Clone, Copy)]
struct TableRaise {
    reads: Option<u64>,
    writes: Option<u64>,
}

impl TableRaise {
    fn applied_to(self, current: Warm) -> Warm {
        Warm {
            reads: self.reads.unwrap_or(current.reads),
            writes: self.writes.unwrap_or(current.writes),
        }
    }
}

/// The cache by name, or without one the only cache named as the template names it.
async fn find_cache(
    client: &aws_sdk_elasticache::Client,
    name: Option<&str>,
) -> anyhow::Result<ServerlessCache> {
    if let Some(name) = name {
        let found = client
            .describe_serverless_caches()
            .serverless_cache_name(name)
            .send()
            .await
            .map_err(|e| refused(format!("DescribeServerlessCaches for cache {name}"), e))?;
        return found
            .serverless_caches()
            .first()
            .cloned()
            .ok_or_else(|| anyhow!("no serverless cache named {name}"));
    }
    let mut ours = Vec::new();
    let mut next = None;
    loop {
        let page = client
            .describe_serverless_caches()
            .set_next_token(next)
            .send()
            .await
            .map_err(|e| refused("DescribeServerlessCaches".to_owned(), e))?;
        ours.extend(
            page.serverless_caches()
                .iter()
                .filter(|c| {
                    c.serverless_cache_name()
                        .is_some_and(|n| n.starts_with(CACHE_PREFIX))
                })
                .cloned(),
        );
        next = page.next_token().map(str::to_owned);
        if next.is_none() {
            break;
        }
    }
    match ours.len() {
        1 => Ok(ours.remove(0)),
        0 => bail!("no serverless cache named {CACHE_PREFIX}… in this region: pass --cache NAME"),
        _ => bail!(
            "{} serverless caches are named {CACHE_PREFIX}… ({}): pass --cache NAME",
            ours.len(),
            ours.iter()
                .filter_map(|c| c.serverless_cache_name())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

async fn modify_cache(
    client: &aws_sdk_elasticache::Client,
    cache: &ServerlessCache,
    limits: CacheUsageLimits,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let name = cache.serverless_cache_name().unwrap_or_default();
    let minimum = limits
        .ecpu_per_second()
        .and_then(|e| e.minimum())
        .unwrap_or(0);
    client
        .modify_serverless_cache()
        .serverless_cache_name(name)
        .cache_usage_limits(limits)
        .send()
        .await
        .map_err(|e| refused(format!("ModifyServerlessCache on cache {name}"), e))?;
    writeln!(
        out,
        "cache {name}: minimum ECPU/s set to {}",
        minimum_text(minimum)
    )?;
    Ok(())
}

async fn update_table(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    raise: TableRaise,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let to_i64 = |n: Option<u64>| {
        n.map(i64::try_from)
            .transpose()
            .context("warm throughput out of range")
    };
    client
        .update_table()
        .table_name(table)
        .warm_throughput(
            WarmThroughput::builder()
                .set_read_units_per_second(to_i64(raise.reads)?)
                .set_write_units_per_second(to_i64(raise.writes)?)
                .build(),
        )
        .send()
        .await
        .map_err(|e| refused(format!("UpdateTable on table {table}"), e))?;
    let set: Vec<String> = [(raise.reads, "reads/s"), (raise.writes, "writes/s")]
        .into_iter()
        .filter_map(|(n, unit)| n.map(|n| format!("{} {unit}", grouped(n))))
        .collect();
    writeln!(
        out,
        "table {table}: warm throughput raised to {}",
        set.join(", ")
    )?;
    Ok(())
}

/// An SDK error as an operator can act on it: the call, and AWS's own code and message (and
/// request ID, for AWS support) when AWS answered; otherwise the whole chain of causes
/// (credentials, region, network).
fn refused<E, R>(call: String, error: SdkError<E, R>) -> anyhow::Error
where
    E: ProvideErrorMetadata + RequestId + std::error::Error + Send + Sync + 'static,
    R: Debug + Send + Sync + 'static,
{
    match error.as_service_error() {
        Some(e) => {
            let request = e
                .request_id()
                .map(|id| format!(" (request {id})"))
                .unwrap_or_default();
            anyhow!(
                "{call}: AWS refused it: {}: {}{request}",
                e.code().unwrap_or("unknown error"),
                e.message().unwrap_or("no message")
            )
        }
        None => {
            let mut text = error.to_string();
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                text.push_str(": ");
                text.push_str(&cause.to_string());
                source = cause.source();
            }
            anyhow!("{call}: {text}")
        }
    }
}

fn describe_kept(limits: Option<&CacheUsageLimits>) -> String {
    let maximum = limits
        .and_then(|l| l.ecpu_per_second())
        .and_then(|e| e.maximum())
        .map(|m| format!("maximum {}", grouped(m.max(0) as u64)))
        .unwrap_or_else(|| "no maximum".to_owned());
    let storage = limits
        .and_then(|l| l.data_storage())
        .map(|d| {
            let unit = d.unit().map(|u| u.as_str()).unwrap_or("");
            match (d.minimum(), d.maximum()) {
                (Some(min), Some(max)) => format!("data storage {min}-{max} {unit}"),
                (None, Some(max)) => format!("data storage up to {max} {unit}"),
                (Some(min), None) => format!("data storage at least {min} {unit}"),
                (None, None) => "no data-storage limit".to_owned(),
            }
        })
        .unwrap_or_else(|| "no data-storage limit".to_owned());
    format!("{maximum}, {storage}")
}

fn minimum_text(minimum: i32) -> String {
    if minimum <= 0 {
        "none".to_owned()
    } else {
        grouped(minimum as u64)
    }
}

fn warm_text(w: Warm) -> String {
    format!(
        "{} reads/s, {} writes/s",
        grouped(w.reads),
        grouped(w.writes)
    )
}

/// 1234567 as 1,234,567.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut text = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            text.push(',');
        }
        text.push(c);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::grouped;

    #[test]
    fn numbers_print_in_groups_of_three() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(23_000), "23,000");
        assert_eq!(grouped(1_000_000), "1,000,000");
    }
}
