//! Colour themes (TOML files under `themes/`) and the glyphs used for lines and bars.

use anyhow::{Context, Result, bail};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::border;

use crate::model::Catalog;
use crate::model::diag::suggestion;

/// A parsed colour theme.
#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    /// Theme name.
    pub name: String,
    /// Normal text.
    pub text: Color,
    /// Background of the panels.
    pub background: Color,
    /// Background outside the panels (menuconfig's blue screen); `background` when unset.
    pub screen: Color,
    /// Titles.
    pub title: Color,
    /// Box borders.
    pub border: Color,
    /// Secondary text.
    pub dim: Color,
    /// Foreground of the highlighted line.
    pub selected_fg: Color,
    /// Background of the highlighted line.
    pub selected_bg: Color,
    /// Accents (hot keys, markers).
    pub accent: Color,
    /// Good news.
    pub ok: Color,
    /// Warnings.
    pub warn: Color,
    /// Errors and refusals.
    pub error: Color,
    /// Budget bar under budget.
    pub bar: Color,
    /// Budget bar over budget.
    pub bar_over: Color,
    /// No colour at all: the selection is drawn in reverse video.
    pub mono: bool,
}

/// Keys of the `[colors]` table.
const COLOR_KEYS: &[&str] = &[
    "text",
    "background",
    "title",
    "border",
    "dim",
    "selected_fg",
    "selected_bg",
    "accent",
    "ok",
    "warn",
    "error",
    "bar",
    "bar_over",
    "screen",
];

/// Parses a colour: an ANSI name, `reset`, or `#rrggbb`.
pub fn parse_color(s: &str) -> Option<Color> {
    let s = s.trim().to_ascii_lowercase();
    if let Some(hex) = s.strip_prefix('#') {
        if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let v = u32::from_str_radix(hex, 16).ok()?;
        return Some(Color::Rgb((v >> 16) as u8, (v >> 8) as u8, v as u8));
    }
    Some(match s.as_str() {
        "reset" | "default" => Color::Reset,
        "black" => Color::Black,
        "red" => Color::Red,
        "green" => Color::Green,
        "yellow" => Color::Yellow,
        "blue" => Color::Blue,
        "magenta" => Color::Magenta,
        "cyan" => Color::Cyan,
        "gray" | "grey" => Color::Gray,
        "darkgray" | "darkgrey" => Color::DarkGray,
        "lightred" => Color::LightRed,
        "lightgreen" => Color::LightGreen,
        "lightyellow" => Color::LightYellow,
        "lightblue" => Color::LightBlue,
        "lightmagenta" => Color::LightMagenta,
        "lightcyan" => Color::LightCyan,
        "white" => Color::White,
        _ => return None,
    })
}

impl Theme {
    /// Parses a theme file's text.
    pub fn parse(name: &str, text: &str) -> Result<Theme> {
        let doc: toml::Table =
            toml::from_str(text).with_context(|| format!("theme `{name}` is not valid TOML"))?;
        let mono = doc
            .get("mono")
            .and_then(toml::Value::as_bool)
            .unwrap_or(false);
        let colors = doc
            .get("colors")
            .and_then(toml::Value::as_table)
            .with_context(|| format!("theme `{name}` has no [colors] table"))?;
        for k in colors.keys() {
            if !COLOR_KEYS.contains(&k.as_str()) {
                bail!(
                    "theme `{name}`: unknown colour key `{k}`{}",
                    suggestion(k, COLOR_KEYS.iter().copied())
                );
            }
        }
        let get = |key: &str, fallback: Color| -> Result<Color> {
            match colors.get(key) {
                None => Ok(fallback),
                Some(v) => {
                    let s = v
                        .as_str()
                        .with_context(|| format!("theme `{name}`: `{key}` is not a string"))?;
                    if mono {
                        return Ok(Color::Reset);
                    }
                    parse_color(s).with_context(|| {
                        format!("theme `{name}`: `{key}` = \"{s}\" is not a colour (an ANSI name, reset, or #rrggbb)")
                    })
                }
            }
        };
        let background = get("background", Color::Reset)?;
        Ok(Theme {
            name: name.to_string(),
            text: get("text", Color::Reset)?,
            background,
            screen: get("screen", background)?,
            title: get("title", Color::Reset)?,
            border: get("border", Color::Reset)?,
            dim: get("dim", Color::Reset)?,
            selected_fg: get("selected_fg", Color::Reset)?,
            selected_bg: get("selected_bg", Color::Reset)?,
            accent: get("accent", Color::Reset)?,
            ok: get("ok", Color::Reset)?,
            warn: get("warn", Color::Reset)?,
            error: get("error", Color::Reset)?,
            bar: get("bar", Color::Reset)?,
            bar_over: get("bar_over", Color::Reset)?,
            mono,
        })
    }

    /// The theme called `name` from the catalog; an unknown name is an error with a suggestion.
    pub fn named(catalog: &Catalog, name: &str) -> Result<Theme> {
        match catalog.themes.iter().find(|t| t.name == name) {
            Some(t) => Theme::parse(&t.name, &t.text),
            None => {
                let names: Vec<&str> = catalog.themes.iter().map(|t| t.name.as_str()).collect();
                bail!(
                    "unknown theme `{name}`{} (themes: {})",
                    suggestion(name, names.iter().copied()),
                    names.join(", ")
                )
            }
        }
    }

    /// Which theme to use: `--theme`, else `mono` when `NO_COLOR` is set, else `default`.
    pub fn choose(catalog: &Catalog, requested: Option<&str>, no_color: bool) -> Result<Theme> {
        let name = requested.unwrap_or(if no_color { "mono" } else { "default" });
        Theme::named(catalog, name)
    }

    /// The built-in default theme, used when the catalog has none.
    pub fn fallback() -> Theme {
        Theme {
            name: "default".into(),
            text: Color::Reset,
            background: Color::Reset,
            screen: Color::Reset,
            title: Color::LightCyan,
            border: Color::Blue,
            dim: Color::DarkGray,
            selected_fg: Color::Black,
            selected_bg: Color::Cyan,
            accent: Color::Yellow,
            ok: Color::Green,
            warn: Color::Yellow,
            error: Color::LightRed,
            bar: Color::Green,
            bar_over: Color::Red,
            mono: false,
        }
    }

    /// Plain text.
    pub fn base(&self) -> Style {
        Style::new().fg(self.text).bg(self.background)
    }

    /// The area outside the panels.
    pub fn screen_style(&self) -> Style {
        Style::new().fg(self.text).bg(self.screen)
    }

    /// The highlighted line.
    pub fn selected(&self) -> Style {
        if self.mono {
            Style::new().add_modifier(Modifier::REVERSED)
        } else {
            Style::new().fg(self.selected_fg).bg(self.selected_bg)
        }
    }

    /// Titles.
    pub fn title_style(&self) -> Style {
        Style::new()
            .fg(self.title)
            .bg(self.background)
            .add_modifier(Modifier::BOLD)
    }

    /// Borders.
    pub fn border_style(&self) -> Style {
        Style::new().fg(self.border).bg(self.background)
    }

    /// Secondary text.
    pub fn dim_style(&self) -> Style {
        if self.mono {
            Style::new()
        } else {
            Style::new().fg(self.dim)
        }
    }

    /// A foreground colour on the panel background; bold when monochrome so it still stands out.
    pub fn fg(&self, c: Color) -> Style {
        if self.mono {
            Style::new().add_modifier(Modifier::BOLD)
        } else {
            Style::new().fg(c)
        }
    }
}

/// Characters for boxes, bars and markers: Unicode or plain ASCII.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Glyphs {
    /// Whether only ASCII is used.
    pub ascii: bool,
    /// Box borders.
    pub border: border::Set<'static>,
    /// Filled part of the budget bar.
    pub bar_full: &'static str,
    /// Empty part of the budget bar.
    pub bar_empty: &'static str,
    /// Separator between key hints.
    pub sep: &'static str,
    /// Marks text cut short.
    pub ellipsis: &'static str,
    /// Marks more lines above.
    pub more_up: &'static str,
    /// Marks more lines below.
    pub more_down: &'static str,
}

/// An all-ASCII box.
pub const ASCII_BORDER: border::Set<'static> = border::Set {
    top_left: "+",
    top_right: "+",
    bottom_left: "+",
    bottom_right: "+",
    vertical_left: "|",
    vertical_right: "|",
    horizontal_top: "-",
    horizontal_bottom: "-",
};

impl Glyphs {
    /// Unicode line drawing.
    pub const UNICODE: Glyphs = Glyphs {
        ascii: false,
        border: border::PLAIN,
        bar_full: "█",
        bar_empty: "░",
        sep: " ",
        ellipsis: "…",
        more_up: "↑",
        more_down: "↓",
    };

    /// ASCII only, for the Linux console and old terminals.
    pub const ASCII: Glyphs = Glyphs {
        ascii: true,
        border: ASCII_BORDER,
        bar_full: "#",
        bar_empty: ".",
        sep: " ",
        ellipsis: "~",
        more_up: "^",
        more_down: "v",
    };

    /// Picks ASCII when asked or when `TERM` is `linux`, `vt100` or another `vt*`.
    pub fn choose(ascii_flag: bool, term: Option<&str>) -> Glyphs {
        let term_ascii = term.is_some_and(|t| t == "linux" || t.starts_with("vt"));
        if ascii_flag || term_ascii {
            Glyphs::ASCII
        } else {
            Glyphs::UNICODE
        }
    }

    /// Replaces the few non-ASCII characters the model's text may contain.
    pub fn text(&self, s: String) -> String {
        if self.ascii && !s.is_ascii() {
            s.replace('±', "+")
                .replace('…', "~")
                .replace('→', "->")
                .replace('·', "-")
        } else {
            s
        }
    }
}

/// Theme and glyphs together: everything about how the UI looks.
#[derive(Debug, Clone, PartialEq)]
pub struct Look {
    /// Colours.
    pub theme: Theme,
    /// Characters.
    pub glyphs: Glyphs,
}

impl Default for Look {
    fn default() -> Self {
        Look {
            theme: Theme::fallback(),
            glyphs: Glyphs::UNICODE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_themes_parse() {
        let c = Catalog::embedded();
        for t in &c.themes {
            let th = Theme::parse(&t.name, &t.text).expect("theme parses");
            assert_eq!(th.mono, t.name == "mono");
        }
        let mono = Theme::named(&c, "mono").expect("mono");
        assert_eq!(
            mono.selected(),
            Style::new().add_modifier(Modifier::REVERSED)
        );
    }

    #[test]
    fn unknown_theme_suggests() {
        let c = Catalog::embedded();
        let e = Theme::named(&c, "clasic").expect_err("unknown").to_string();
        assert!(e.contains("did you mean `classic`"), "{e}");
        assert_eq!(Theme::choose(&c, None, true).expect("mono").name, "mono");
    }

    #[test]
    fn colours_parse() {
        assert_eq!(parse_color("#ff0001"), Some(Color::Rgb(255, 0, 1)));
        assert_eq!(parse_color("LightCyan"), Some(Color::LightCyan));
        assert_eq!(parse_color("#ff"), None);
        assert!(Glyphs::choose(false, Some("vt220")).ascii);
        assert!(Glyphs::choose(false, Some("linux")).ascii);
        assert!(!Glyphs::choose(false, Some("xterm-256color")).ascii);
    }
}
