//! The command line: `--name value` pairs and `--dry-run`, taken one by one as tools/load does;
//! whatever is left over is a usage error.

use anyhow::{anyhow, bail};

pub const USAGE: &str = "usage: prepare raise --expected-users N [--dry-run] [--cache NAME] [--table NAME] [--reservations-table NAME]
       prepare lower [--floor ECPU] [--dry-run] [--cache NAME]
(`before` and `after` are the same as `raise` and `lower`)";

/// The main table's name when the stack keeps the template's default `TableName`.
pub const DEFAULT_TABLE: &str = "concert-booking";

/// The template names its cache `concert-booking-` and the first block of the stack's ID, so
/// without `--cache` the one cache named so is taken.
pub const CACHE_PREFIX: &str = "concert-booking-";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Before an opening: the model's figures for the expected crowd.
    Raise {
        expected_users: u64,
        names: Names,
        dry_run: bool,
    },
    /// After the sale: the cache's minimum back to `floor` (0: none, as the template leaves it).
    Lower {
        floor: u64,
        cache: Option<String>,
        dry_run: bool,
    },
}

/// What to prepare: the cache (`None`: the one named [`CACHE_PREFIX`]…) and the two tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    pub cache: Option<String>,
    pub table: String,
    pub reservations_table: String,
}

impl Command {
    pub fn parse(args: &[String]) -> anyhow::Result<Command> {
        let (command, rest) = args.split_first().ok_or_else(|| anyhow!(USAGE))?;
        let mut args = Args(rest.to_vec());
        let dry_run = args.flag("--dry-run");
        let cache = args.optional("--cache")?;
        let command = match command.as_str() {
            "raise" | "before" => {
                let expected_users = args
                    .number("--expected-users")?
                    .ok_or_else(|| anyhow!("--expected-users is required\n{USAGE}"))?;
                if expected_users == 0 {
                    bail!("--expected-users must be at least 1");
                }
                let table = args
                    .optional("--table")?
                    .unwrap_or_else(|| DEFAULT_TABLE.to_owned());
                // The template names it after the main table.
                let reservations_table = args
                    .optional("--reservations-table")?
                    .unwrap_or_else(|| format!("{table}-reservations"));
                Command::Raise {
                    expected_users,
                    names: Names {
                        cache,
                        table,
                        reservations_table,
                    },
                    dry_run,
                }
            }
            "lower" | "after" => Command::Lower {
                floor: args.number("--floor")?.unwrap_or(0),
                cache,
                dry_run,
            },
            other => bail!("unknown command {other:?}\n{USAGE}"),
        };
        args.done()?;
        Ok(command)
    }
}

struct Args(Vec<String>);

impl Args {
    fn flag(&mut self, name: &str) -> bool {
        let before = self.0.len();
        self.0.retain(|a| a != name);
        self.0.len() != before
    }

    fn optional(&mut self, name: &str) -> anyhow::Result<Option<String>> {
        let Some(i) = self.0.iter().position(|a| a == name) else {
            return Ok(None);
        };
        if i + 1 >= self.0.len() {
            bail!("{name} needs a value\n{USAGE}");
        }
        let value = self.0.remove(i + 1);
        self.0.remove(i);
        Ok(Some(value))
    }

    /// A whole number; `_` and `,` may group its digits (`1_000_000`).
    fn number(&mut self, name: &str) -> anyhow::Result<Option<u64>> {
        match self.optional(name)? {
            None => Ok(None),
            Some(v) => v
                .replace(['_', ','], "")
                .parse()
                .map(Some)
                .map_err(|_| anyhow!("{name} must be a whole number, not {v:?}")),
        }
    }

    fn done(&self) -> anyhow::Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            bail!("unexpected arguments {:?}\n{USAGE}", self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> anyhow::Result<Command> {
        let args: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        Command::parse(&args)
    }

    #[test]
    fn a_raise_defaults_to_the_template_table_names() {
        assert_eq!(
            parse("raise --expected-users 1_000_000 --dry-run").unwrap(),
            Command::Raise {
                expected_users: 1_000_000,
                names: Names {
                    cache: None,
                    table: "concert-booking".into(),
                    reservations_table: "concert-booking-reservations".into(),
                },
                dry_run: true,
            }
        );
    }

    #[test]
    fn the_reservations_table_follows_a_named_main_table() {
        let Command::Raise { names, .. } =
            parse("before --table gala --cache c1 --expected-users 10").unwrap()
        else {
            panic!("not a raise");
        };
        assert_eq!(names.reservations_table, "gala-reservations");
        assert_eq!(names.cache.as_deref(), Some("c1"));
    }

    #[test]
    fn a_lower_defaults_to_no_minimum() {
        assert_eq!(
            parse("after").unwrap(),
            Command::Lower {
                floor: 0,
                cache: None,
                dry_run: false
            }
        );
    }

    #[test]
    fn a_raise_without_a_crowd_or_with_extra_words_is_refused() {
        assert!(parse("raise").is_err());
        assert!(parse("raise --expected-users many").is_err());
        assert!(parse("raise --expected-users 0").is_err());
        assert!(parse("raise --expected-users 5 --force").is_err());
        assert!(parse("lower --floor").is_err());
        assert!(parse("warm").is_err());
        assert!(parse("").is_err());
    }
}
