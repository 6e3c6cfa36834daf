//! Fuzzy search over tools, hardware, fragments, kernel options and settings (nucleo-matcher).

use nucleo_matcher::pattern::{CaseMatching, Normalization, Pattern};
use nucleo_matcher::{Config, Matcher, Utf32String};

use super::menu::{Field, ItemKind, MenuId, home_of, universe};
use crate::model::{Catalog, Profile};

/// One thing that can be found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Name shown first (`dropbear`, `CONFIG_SERIAL_8250`).
    pub name: String,
    /// One line of description.
    pub description: String,
    /// Where it lives (`Tools > network`).
    pub location: String,
    /// Where Enter jumps: the menu and the item to highlight.
    pub target: Option<(MenuId, ItemKind)>,
}

/// Entries with their haystacks prepared for matching.
#[derive(Debug, Clone, Default)]
pub struct Index {
    /// The entries.
    pub entries: Vec<Entry>,
    haystacks: Vec<Utf32String>,
    name_len: Vec<u16>,
    /// Lowercase text matched as a plain substring (queries of 3 characters or more) when
    /// the fuzzy match fails: the start of a kernel option's help. Empty for most entries.
    extra: Vec<String>,
}

/// Queries from this many characters on are also looked for in [`Index`]'s extra text.
const EXTRA_FROM: usize = 3;

impl Index {
    /// An index over `entries`, matching on name and description.
    pub fn new(entries: Vec<Entry>) -> Index {
        let haystacks = entries
            .iter()
            .map(|e| Utf32String::from(format!("{} {}", e.name, e.description).as_str()))
            .collect();
        let name_len = entries
            .iter()
            .map(|e| e.name.len().min(u16::MAX as usize) as u16)
            .collect();
        let extra = vec![String::new(); entries.len()];
        Index {
            entries,
            haystacks,
            name_len,
            extra,
        }
    }

    /// An index over `entries` matching fuzzily on `texts` (one per entry, starting with
    /// the entry's name), and as a plain substring on `extra` (lowercase).
    pub fn with_haystacks(entries: Vec<Entry>, texts: Vec<String>, extra: Vec<String>) -> Index {
        let haystacks = texts
            .iter()
            .map(|t| Utf32String::from(t.as_str()))
            .collect();
        let name_len = entries
            .iter()
            .map(|e| e.name.len().min(u16::MAX as usize) as u16)
            .collect();
        Index {
            entries,
            haystacks,
            name_len,
            extra,
        }
    }

    /// Adds the entries of `other` after these (prepared haystacks are copied, not
    /// built again).
    pub fn append(&mut self, other: &Index) {
        self.entries.extend_from_slice(&other.entries);
        self.haystacks.extend_from_slice(&other.haystacks);
        self.name_len.extend_from_slice(&other.name_len);
        self.extra.extend_from_slice(&other.extra);
    }

    /// Everything in the catalog and the profile that search can find.
    pub fn build(profile: &Profile, catalog: &Catalog) -> Index {
        let mut v = Vec::new();
        let mut push = |name: String, description: String, kind: ItemKind| {
            let menu = home_of(&kind, profile, catalog);
            v.push(Entry {
                name,
                description,
                location: menu.path(),
                target: Some((menu, kind)),
            });
        };
        for t in universe(profile, catalog) {
            let desc = match &t.untested {
                Some(_) => format!("{} (untested)", t.description),
                None => t.description.clone(),
            };
            push(t.name.clone(), desc, ItemKind::Tool(t.name.clone()));
        }
        for h in &catalog.hardware {
            push(
                h.name.clone(),
                h.description.clone(),
                ItemKind::Hardware(h.name.clone()),
            );
        }
        for b in &catalog.bases {
            push(
                b.name.clone(),
                b.description.clone(),
                ItemKind::Base(b.name.clone()),
            );
        }
        for f in &catalog.fragments {
            push(
                f.name.clone(),
                format!("{}: {}", f.title, f.description),
                ItemKind::Fragment(f.name.clone()),
            );
        }
        for f in &catalog.fragments {
            for (k, val) in &f.options {
                let set = if val == "n" {
                    "is not set".to_string()
                } else {
                    format!("={val}")
                };
                let menu = MenuId::Fragments;
                v.push(Entry {
                    name: k.clone(),
                    description: format!("{set} in fragment {}", f.name),
                    location: format!("{} > {}", menu.path(), f.name),
                    target: Some((menu, ItemKind::Fragment(f.name.clone()))),
                });
            }
        }
        for (k, val) in &profile.kernel.options {
            let mut push2 = |name: String, d: String| {
                v.push(Entry {
                    name,
                    description: d,
                    location: MenuId::Options.path(),
                    target: Some((MenuId::Options, ItemKind::KOption(k.clone()))),
                })
            };
            push2(k.clone(), format!("={val} in this profile"));
        }
        for f in Field::ALL {
            let kind = ItemKind::Field(f);
            let menu = home_of(&kind, profile, catalog);
            v.push(Entry {
                name: f.label().to_string(),
                description: f.key().to_string(),
                location: menu.path(),
                target: Some((menu, kind)),
            });
        }
        for (m, d) in [
            (MenuId::Boot, "image.boot: bios, uefi or hybrid"),
            (MenuId::Compression, "image.compression: gzip, xz or zstd"),
            (MenuId::Options, "kernel.options: single CONFIG_ settings"),
        ] {
            let kind = ItemKind::Submenu(m.clone());
            let parent = m.parent().unwrap_or(MenuId::Main);
            v.push(Entry {
                name: m.title(),
                description: d.to_string(),
                location: parent.path(),
                target: Some((parent, kind)),
            });
        }
        Index::new(v)
    }

    /// How many entries there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Candidate counts from which scoring is spread over threads.
const PARALLEL_FROM: usize = 4096;

/// Scores `candidates`, returning sort keys (best score first, then shorter names, then
/// catalog order) and the matching indexes, both in candidate order.
fn score(
    candidates: &[usize],
    index: &Index,
    pattern: &Pattern,
    needle: Option<&str>,
    matcher: &mut Matcher,
) -> (Vec<u64>, Vec<usize>) {
    let (haystacks, name_len) = (&index.haystacks, &index.name_len);
    let mut keys = Vec::new();
    let mut hits = Vec::new();
    for &i in candidates {
        let Some(s) = pattern.score(haystacks[i].slice(..), matcher) else {
            // Found only in the extra text: after every fuzzy match.
            if let Some(nd) = needle
                && index.extra.get(i).is_some_and(|x| x.contains(nd))
            {
                let len = u64::from(name_len[i]);
                keys.push(u64::from(u16::MAX) << 48 | len << 32 | i as u64);
                hits.push(i);
            }
            continue;
        };
        {
            // A match in the name itself (the haystack starts with it) ranks first.
            let n = (name_len[i] as usize).min(haystacks[i].len());
            let bonus = if n > 0 {
                pattern.score(haystacks[i].slice(..n), matcher).unwrap_or(0)
            } else {
                0
            };
            let s = s + bonus;
            let score = u64::from(u16::MAX - s.min(u32::from(u16::MAX)) as u16);
            let len = u64::from(name_len[i]);
            keys.push(score << 48 | len << 32 | i as u64);
            hits.push(i);
        }
    }
    (keys, hits)
}

/// A search in progress: the query and its ranked results.
pub struct Search {
    /// What it searches.
    pub index: Index,
    /// The query.
    pub query: String,
    /// Indexes into `index.entries`, best first.
    pub results: Vec<usize>,
    /// The highlighted result.
    pub selected: usize,
    /// Whether keys go to the query (else they move through the results).
    pub typing: bool,
    /// One matcher per scoring thread (a matcher holds scratch memory, not thread-safe).
    matchers: Vec<Matcher>,
    last_query: String,
    last_hits: Vec<usize>,
}

impl std::fmt::Debug for Search {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Search")
            .field("query", &self.query)
            .field("results", &self.results.len())
            .field("selected", &self.selected)
            .finish()
    }
}

impl Search {
    /// A new search over `index`, showing everything.
    pub fn new(index: Index) -> Search {
        let mut s = Search {
            index,
            query: String::new(),
            results: Vec::new(),
            selected: 0,
            typing: true,
            matchers: (0..std::thread::available_parallelism()
                .map(|n| n.get().clamp(1, 4))
                .unwrap_or(1))
                .map(|_| Matcher::new(Config::DEFAULT))
                .collect(),
            last_query: String::new(),
            last_hits: Vec::new(),
        };
        s.run();
        s
    }

    /// Sets the query and ranks the entries again.
    pub fn set_query(&mut self, q: &str) {
        self.query = q.to_string();
        self.run();
    }

    /// Ranks the entries for the current query. When the query only grew by plain
    /// characters, only the previous matches are scored again.
    pub fn run(&mut self) {
        self.selected = 0;
        let q = self.query.trim();
        if q.is_empty() {
            self.results = (0..self.index.len()).collect();
            self.last_query.clear();
            self.last_hits = self.results.clone();
            return;
        }
        let plain = |s: &str| {
            s.chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == ' ')
        };
        // (A query reaching EXTRA_FROM characters also looks in the extra text: all again.)
        let narrow = !self.last_query.is_empty()
            && q.starts_with(self.last_query.as_str())
            && plain(q)
            && (self.last_query.chars().count() >= EXTRA_FROM || q.chars().count() < EXTRA_FROM);
        let needle = (q.chars().count() >= EXTRA_FROM).then(|| q.to_lowercase());
        let needle = needle.as_deref();
        let pattern = Pattern::parse(q, CaseMatching::Smart, Normalization::Smart);
        let candidates: Vec<usize> = if narrow {
            std::mem::take(&mut self.last_hits)
        } else {
            (0..self.index.len()).collect()
        };
        // Large candidate sets (the first letters of a query over a big index) are scored on
        // every core; the order of hits stays the candidates' order.
        let threads = if candidates.len() >= PARALLEL_FROM {
            self.matchers.len()
        } else {
            1
        };
        let chunk = candidates.len().div_ceil(threads).max(1);
        let (index, pattern) = (&self.index, &pattern);
        let parts: Vec<(Vec<u64>, Vec<usize>)> = if threads > 1 {
            std::thread::scope(|sc| {
                let handles: Vec<_> = candidates
                    .chunks(chunk)
                    .zip(self.matchers.iter_mut())
                    .map(|(c, m)| sc.spawn(move || score(c, index, pattern, needle, m)))
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or_default())
                    .collect()
            })
        } else {
            let m = &mut self.matchers[0];
            vec![score(&candidates, index, pattern, needle, m)]
        };
        let mut keys: Vec<u64> = Vec::with_capacity(candidates.len());
        let mut hits: Vec<usize> = Vec::with_capacity(candidates.len());
        for (k, h) in parts {
            keys.extend(k);
            hits.extend(h);
        }
        self.last_hits = hits;
        self.last_query = q.to_string();
        keys.sort_unstable();
        self.results = keys
            .into_iter()
            .map(|k| (k & 0xffff_ffff) as usize)
            .collect();
    }

    /// The highlighted entry.
    pub fn current(&self) -> Option<&Entry> {
        self.results
            .get(self.selected)
            .and_then(|i| self.index.entries.get(*i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_rank_exactly_like_one() {
        let entries: Vec<Entry> = (0..10_000)
            .map(|i| Entry {
                name: format!("CONFIG_{}_{i}", ["SERIAL", "USB", "NET", "DRM"][i % 4]),
                description: format!("option {i} of {}", ["serial", "usb"][i % 2]),
                location: "Kernel".into(),
                target: None,
            })
            .collect();
        let mut one = Search::new(Index::new(entries.clone()));
        one.matchers.truncate(1);
        let mut many = Search::new(Index::new(entries));
        many.matchers = (0..3).map(|_| Matcher::new(Config::DEFAULT)).collect();
        for q in ["s", "se", "ser", "usb", "x", "sb 1"] {
            one.set_query(q);
            many.set_query(q);
            assert_eq!(one.results, many.results, "query {q:?}");
            assert!(
                q == "x" || !one.results.is_empty(),
                "query {q:?} finds something"
            );
        }
    }

    #[test]
    fn finds_dropbear_first() {
        let c = Catalog::embedded();
        let p = Profile::default();
        let mut s = Search::new(Index::build(&p, &c));
        s.set_query("drop");
        let e = s.current().expect("a result");
        assert_eq!(e.name, "dropbear");
        assert_eq!(e.location, "Tools > network");
        s.set_query("dropb");
        assert_eq!(s.current().map(|e| e.name.as_str()), Some("dropbear"));
        s.set_query("serial_8250");
        assert!(
            s.current()
                .is_some_and(|e| e.name.starts_with("CONFIG_SERIAL_8250"))
        );
    }
}
