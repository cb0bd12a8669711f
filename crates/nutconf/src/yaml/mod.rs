//! nutcracker's YAML configuration file → validated [`PoolConf`]s.
//!
//! Owns the YAML side: reading the events of the text (with
//! `saphyr-parser`, node by node, so duplicate keys survive to be reported)
//! and checking the document's shape before any directive is looked at, as
//! nutcracker does. Invariants:
//! - exactly one YAML document; no explicit `---`/`...` markers, anchors,
//!   aliases, tags, flow sequences or flow mappings (nutcracker's parser
//!   refuses each of these);
//! - the top level maps pool names to mappings of directives; a directive's
//!   value is a scalar or a block list of scalars (nothing deeper);
//! - every pool has exactly one list directive (normally `servers`), not
//!   counting Slotway's `sentinels` list;
//! - values are taken as the exact scalar text (YAML's `true`, `yes`, `~`
//!   are just strings here, as for nutcracker); quoting changes nothing.
//!
//! Directive values are then validated by the shared directive table
//! (`crate::directive`), so the YAML and TOML forms accept the same pools.

use std::iter::Peekable;
use std::slice::Iter;

use saphyr_parser::{Event, Parser, Span};

use crate::directive::{RawDirective, RawPool, build_pools};
use crate::error::{ConfError, PoolProblem, ShapeProblem};
use crate::pool::PoolConf;

/// Parses and validates a nutcracker YAML configuration.
///
/// Returns the pools sorted in nutcracker's order (by name, shorter names
/// first), each with its servers in nutcracker's server order.
///
/// # Errors
/// The first problem found, in nutcracker's order: YAML syntax, document
/// shape, then each directive as written, then each pool, then duplicate
/// listen addresses and pool names across pools. See [`ConfError`].
pub fn parse_yaml(text: &str) -> Result<Vec<PoolConf>, ConfError> {
    let events = load_events(text)?;
    check_constructs(&events)?;
    let raw = Walker {
        events: events.iter().peekable(),
    }
    .document()?;
    build_pools(raw)
}

type Spanned<'a> = (Event<'a>, Span);

/// All events of `text`, or the YAML syntax error.
fn load_events(text: &str) -> Result<Vec<Spanned<'_>>, ConfError> {
    let mut events = Vec::new();
    for item in Parser::new_from_str(text) {
        match item {
            Ok(event) => events.push(event),
            Err(e) => {
                return Err(ConfError::Syntax {
                    line: e.marker().line(),
                    column: e.marker().col() + 1,
                    reason: e.info().to_string(),
                });
            }
        }
    }
    Ok(events)
}

fn shape(span: &Span, problem: ShapeProblem) -> ConfError {
    ConfError::Shape {
        line: span.start.line(),
        problem,
    }
}

/// The document count, then the YAML features nutcracker refuses.
fn check_constructs(events: &[Spanned<'_>]) -> Result<(), ConfError> {
    let documents = events
        .iter()
        .filter(|(e, _)| matches!(e, Event::DocumentStart(_)))
        .count();
    if documents != 1 {
        let span = events.last().map(|(_, s)| *s).unwrap_or_default();
        return Err(shape(&span, ShapeProblem::DocumentCount(documents)));
    }
    for (event, span) in events {
        // Block collections start with an empty span; flow ones span their
        // `[` or `{`. An implicit document end is empty too; `...` is not.
        let refused = match event {
            Event::DocumentStart(true) => Some("explicit document markers (--- and ...)"),
            Event::DocumentEnd if !span.is_empty() => {
                Some("explicit document markers (--- and ...)")
            }
            Event::Alias(_) => Some("aliases (*name)"),
            Event::Scalar(_, _, anchor, _)
            | Event::SequenceStart(anchor, _)
            | Event::MappingStart(anchor, _)
                if *anchor != 0 =>
            {
                Some("anchors (&name)")
            }
            Event::Scalar(_, _, _, Some(_))
            | Event::SequenceStart(_, Some(_))
            | Event::MappingStart(_, Some(_)) => Some("tags (!name)"),
            Event::SequenceStart(..) if !span.is_empty() => Some("flow sequences ([a, b])"),
            Event::MappingStart(..) if !span.is_empty() => Some("flow mappings ({a: b})"),
            _ => None,
        };
        if let Some(what) = refused {
            return Err(shape(span, ShapeProblem::Disallowed(what)));
        }
    }
    Ok(())
}

/// Walks the events of one checked document into [`RawPool`]s.
struct Walker<'e, 'a> {
    events: Peekable<Iter<'e, Spanned<'a>>>,
}

impl<'e, 'a> Walker<'e, 'a> {
    fn next(&mut self) -> Result<&'e Spanned<'a>, ConfError> {
        self.events.next().ok_or_else(|| ConfError::Syntax {
            line: 0,
            column: 0,
            reason: "unexpected end of the YAML events".to_string(),
        })
    }

    /// Skips to the root node and reads it as the pool mapping.
    fn document(mut self) -> Result<Vec<RawPool>, ConfError> {
        loop {
            let (event, span) = self.next()?;
            match event {
                Event::StreamStart | Event::DocumentStart(_) | Event::Nothing => {}
                Event::MappingStart(..) => return self.pools(),
                _ => return Err(shape(span, ShapeProblem::TopNotMapping)),
            }
        }
    }

    /// A mapping key: a scalar, or `None` at the end of the mapping.
    fn key(&mut self) -> Result<Option<(&'e str, &'e Span)>, ConfError> {
        let (event, span) = self.next()?;
        match event {
            Event::MappingEnd => Ok(None),
            Event::Scalar(text, ..) => Ok(Some((text.as_ref(), span))),
            _ => Err(shape(span, ShapeProblem::ComplexKey)),
        }
    }

    /// The top-level mapping: pool name → pool mapping.
    fn pools(&mut self) -> Result<Vec<RawPool>, ConfError> {
        let mut pools = Vec::new();
        while let Some((name, _)) = self.key()? {
            let (event, span) = self.next()?;
            if !matches!(event, Event::MappingStart(..)) {
                return Err(shape(span, ShapeProblem::PoolNotMapping(name.to_string())));
            }
            pools.push(self.pool(name)?);
        }
        Ok(pools)
    }

    /// One pool's directives, with nutcracker's one-list rule.
    fn pool(&mut self, name: &str) -> Result<RawPool, ConfError> {
        let problem = |problem| ConfError::Pool {
            pool: name.to_string(),
            problem,
        };
        let mut directives = Vec::new();
        let mut list_key: Option<&str> = None;
        while let Some((key, _)) = self.key()? {
            let (event, _) = self.next()?;
            let values = match event {
                Event::Scalar(text, ..) => vec![text.to_string()],
                Event::SequenceStart(..) => {
                    if key != "sentinels" {
                        if let Some(first) = list_key {
                            return Err(problem(PoolProblem::TwoSequences {
                                first: first.to_string(),
                                second: key.to_string(),
                            }));
                        }
                        list_key = Some(key);
                    }
                    self.list(name, key)?
                }
                _ => return Err(problem(PoolProblem::Nested(key.to_string()))),
            };
            directives.push(RawDirective {
                key: key.to_string(),
                values,
            });
        }
        if list_key.is_none() {
            return Err(problem(PoolProblem::MissingSequence));
        }
        Ok(RawPool {
            name: name.to_string(),
            directives,
        })
    }

    /// The scalars of a block list, up to its end.
    fn list(&mut self, pool: &str, key: &str) -> Result<Vec<String>, ConfError> {
        let mut values = Vec::new();
        loop {
            let (event, _) = self.next()?;
            match event {
                Event::SequenceEnd => return Ok(values),
                Event::Scalar(text, ..) => values.push(text.to_string()),
                _ => {
                    return Err(ConfError::Pool {
                        pool: pool.to_string(),
                        problem: PoolProblem::Nested(key.to_string()),
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
