//! Painting: a pure function of the [`App`] state onto a ratatui frame.

use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::app::{App, Confirm, Delta, Level, MIN_H, MIN_W, Modal, View};
use super::menu::{Field, Item, ItemKind, Marker, MenuId, home_of, universe};
use crate::model::catalog::{EMBEDDED_PROFILES, Source};
use crate::model::profile::{human, human_delta};

/// Where each part of the screen goes.
struct Areas {
    header: Rect,
    /// The menu (or search, help, diff) on the left.
    left: Rect,
    /// The size panel on the right.
    right: Rect,
    msg: Rect,
    hints: Rect,
}

fn areas(area: Rect) -> Areas {
    let body = Rect::new(area.x, area.y + 1, area.width, area.height - 3);
    let panel_w = if area.width >= 110 { 38 } else { 30 };
    Areas {
        header: Rect::new(area.x, area.y, area.width, 1),
        left: Rect::new(body.x, body.y, body.width - panel_w, body.height),
        right: Rect::new(body.x + body.width - panel_w, body.y, panel_w, body.height),
        msg: Rect::new(area.x, area.y + area.height - 2, area.width, 1),
        hints: Rect::new(area.x, area.y + area.height - 1, area.width, 1),
    }
}

/// Paints the whole screen.
pub fn draw(app: &App, f: &mut Frame) {
    let area = f.area();
    let th = &app.look.theme;
    if area.width < MIN_W || area.height < MIN_H {
        too_small(app, f, area);
        return;
    }
    f.render_widget(Block::new().style(th.screen_style()), area);
    let a = areas(area);
    draw_header(app, f, a.header);
    match app.view() {
        View::Menu { id, cursor } => draw_menu(app, f, a.left, id, *cursor),
        View::Search => draw_search(app, f, a.left),
        View::Help { scroll, .. } | View::Diff { scroll, .. } => {
            if let Some((title, lines)) = text_view(app) {
                draw_text(app, f, a.left, &title, lines, *scroll);
            }
        }
    }
    draw_size(app, f, a.right);
    draw_message(app, f, a.msg);
    draw_hints(app, f, a.hints);
    if let Some(m) = &app.modal {
        // Over the menu only: the size panel stays whole beside it.
        draw_modal(app, f, a.left, m);
    }
}

/// The title and lines of the help or diff screen on top of the stack.
fn text_view(app: &App) -> Option<(String, Vec<Line<'static>>)> {
    let th = &app.look.theme;
    match app.view() {
        View::Help { subject, .. } => Some(help_lines(app, subject.as_ref())),
        View::Diff { changes, .. } => {
            let title = match &app.saved.file {
                Some(p) if app.saved_text.is_some() => format!("Changes since {}", p.display()),
                _ => "Changes since the start".to_string(),
            };
            let mut lines: Vec<Line> = Vec::new();
            if changes.is_empty() {
                lines.push(Line::from("No changes since the last save."));
            }
            for c in changes {
                lines.push(Line::from(vec![
                    Span::styled(format!("{:<9}", c.area), th.fg(th.accent)),
                    Span::raw(app.look.glyphs.text(c.text.clone())),
                ]));
            }
            Some((title, lines))
        }
        _ => None,
    }
}

/// How far the help or diff screen can scroll at the app's terminal size: its wrapped
/// lines less the rows that show at once (0 when everything fits, or for other screens).
pub fn scroll_limit(app: &App) -> u16 {
    let (w, h) = app.size;
    if w < MIN_W || h < MIN_H {
        return 0;
    }
    let Some((_, lines)) = text_view(app) else {
        return 0;
    };
    let left = areas(Rect::new(0, 0, w, h)).left;
    // Borders and the one-column padding on each side.
    let width = left.width.saturating_sub(4);
    let rows = Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .line_count(width);
    let shown = left.height.saturating_sub(2) as usize;
    u16::try_from(rows.saturating_sub(shown)).unwrap_or(u16::MAX)
}

fn too_small(app: &App, f: &mut Frame, area: Rect) {
    let text = format!(
        "terminal too small: need {MIN_W}x{MIN_H}, have {}x{}",
        area.width, area.height
    );
    let mut lines = vec![Line::from(text)];
    if area.height > 3 {
        lines.push(Line::from(""));
        match &app.modal {
            Some(Modal::Confirm(c @ Confirm::Quit)) => {
                lines.push(Line::from(c.question()));
                let answers: Vec<String> = c
                    .answers()
                    .iter()
                    .map(|(k, a)| format!("{k}: {a}"))
                    .collect();
                lines.push(Line::from(answers.join(", ")));
            }
            _ => lines.push(Line::from("Enlarge the window, or press q to quit.")),
        }
    }
    let top = area.height.saturating_sub(lines.len() as u16 + 1) / 2;
    let inner = Rect::new(area.x, area.y + top, area.width, area.height - top);
    f.render_widget(Block::new().style(app.look.theme.screen_style()), area);
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .centered()
            .style(app.look.theme.screen_style()),
        inner,
    );
}

fn block<'a>(app: &App, title: String) -> Block<'a> {
    let th = &app.look.theme;
    Block::bordered()
        .border_set(app.look.glyphs.border)
        .border_style(th.border_style())
        .style(th.base())
        .title(Span::styled(
            format!(" {} ", app.look.glyphs.text(title)),
            th.title_style(),
        ))
}

fn draw_header(app: &App, f: &mut Frame, area: Rect) {
    let th = &app.look.theme;
    let file = match &app.profile.file {
        Some(p) => p.display().to_string(),
        None => "not saved yet".to_string(),
    };
    let mut spans = vec![
        Span::styled(" stali ", th.title_style().add_modifier(Modifier::REVERSED)),
        Span::styled(format!(" {} ", app.profile.name), th.title_style()),
        Span::raw(format!("({file})")),
    ];
    if app.dirty() {
        spans.push(Span::styled(" [modified]", th.fg(th.warn)));
    }
    f.render_widget(
        Paragraph::new(Line::from(spans)).style(th.screen_style()),
        area,
    );
}

/// First line shown for a list of `len` lines with `cursor` highlighted in `height` rows:
/// whole pages, so moving within a page redraws only two lines.
pub fn page_offset(cursor: usize, len: usize, height: usize) -> usize {
    if height == 0 || len <= height {
        return 0;
    }
    let page = cursor / height * height;
    page.min(len - height)
}

fn truncate(s: &str, w: usize, ell: &str) -> String {
    if s.chars().count() <= w {
        return s.to_string();
    }
    let keep = w.saturating_sub(1);
    let mut out: String = s.chars().take(keep).collect();
    if w > 0 {
        out.push_str(ell);
    }
    out
}

fn item_line<'a>(app: &App, it: &Item, name_w: usize, width: usize, selected: bool) -> Line<'a> {
    let th = &app.look.theme;
    let g = &app.look.glyphs;
    let plain = |s: String| Span::raw(s);
    let dim = |s: String| {
        if selected {
            Span::raw(s)
        } else {
            Span::styled(s, th.dim_style())
        }
    };
    // A pointer as well as the highlight: visible without colour and in plain-text captures.
    let pointer = if selected { ">" } else { " " };
    let mut spans = vec![plain(format!("{pointer}{} ", it.marker.text()))];
    match &it.kind {
        ItemKind::Submenu(_) => {
            spans.push(plain(it.label.clone()));
            spans.push(plain("  --->".into()));
        }
        ItemKind::KEntry(_) | ItemKind::Note => {
            if let Some(v) = &it.value {
                let v = truncate(v, 24, g.ellipsis);
                spans[0] = plain(format!("{pointer}({v}) "));
            }
            spans.push(plain(it.label.clone()));
            if !it.detail.is_empty() {
                spans.push(dim(format!("  [{}]", it.detail)));
            }
        }
        ItemKind::Field(_) => {
            let v = truncate(it.value.as_deref().unwrap_or(""), 30, g.ellipsis);
            spans.push(plain(format!("({v}) ")));
            spans.push(plain(it.label.clone()));
        }
        _ => {
            spans.push(plain(format!("{:<name_w$} ", it.label)));
            if it.untested {
                spans.push(if selected {
                    Span::raw("(untested) ")
                } else {
                    Span::styled("(untested) ", th.fg(th.warn))
                });
            }
            spans.push(dim(it.detail.clone()));
        }
    }
    // Cut to the width, then pad so the highlight fills the line.
    let mut used = 0usize;
    let mut out = Vec::new();
    for s in spans {
        let text = g.text(s.content.to_string());
        let n = text.chars().count();
        if used + n > width {
            let room = width.saturating_sub(used);
            out.push(Span::styled(truncate(&text, room, g.ellipsis), s.style));
            used = width;
            break;
        }
        used += n;
        out.push(Span::styled(text, s.style));
    }
    if used < width {
        out.push(Span::raw(" ".repeat(width - used)));
    }
    let line = Line::from(out);
    if selected {
        line.style(th.selected())
    } else {
        line
    }
}

fn draw_menu(app: &App, f: &mut Frame, area: Rect, id: &MenuId, cursor: usize) {
    let g = &app.look.glyphs;
    let h = area.height.saturating_sub(2) as usize;
    let w = area.width.saturating_sub(2) as usize;
    let off = page_offset(cursor, app.items.len(), h);
    let mut b = block(app, id.path());
    if off > 0 {
        b = b.title_top(Line::from(format!(" {} more ", g.more_up)).right_aligned());
    }
    if off + h < app.items.len() {
        b = b.title_bottom(Line::from(format!(" {} more ", g.more_down)).right_aligned());
    }
    let name_w = app
        .items
        .iter()
        .filter(|i| {
            !matches!(
                i.kind,
                ItemKind::Submenu(_) | ItemKind::Field(_) | ItemKind::KEntry(_) | ItemKind::Note
            )
        })
        .map(|i| i.label.chars().count())
        .max()
        .unwrap_or(0)
        .min(24);
    let lines: Vec<Line> = app
        .items
        .iter()
        .enumerate()
        .skip(off)
        .take(h)
        .map(|(i, it)| item_line(app, it, name_w, w, i == cursor))
        .collect();
    let lines = if lines.is_empty() {
        vec![Line::from(" (empty)")]
    } else {
        lines
    };
    f.render_widget(Paragraph::new(lines).block(b), area);
}

fn draw_search(app: &App, f: &mut Frame, area: Rect) {
    let th = &app.look.theme;
    let g = &app.look.glyphs;
    let Some(s) = &app.search else { return };
    let title = format!("Search: {} of {}", s.results.len(), s.index.len());
    let inner = Rect::new(
        area.x + 1,
        area.y + 1,
        area.width.saturating_sub(2),
        area.height.saturating_sub(2),
    );
    f.render_widget(block(app, title), area);
    let w = inner.width as usize;
    let q = truncate(&s.query, w.saturating_sub(4), g.ellipsis);
    let qline = Line::from(vec![
        Span::styled(" / ", th.fg(th.accent)),
        Span::styled(
            q.clone(),
            if s.typing {
                th.base().add_modifier(Modifier::BOLD)
            } else {
                th.base()
            },
        ),
    ]);
    f.render_widget(
        Paragraph::new(qline),
        Rect::new(inner.x, inner.y, inner.width, 1),
    );
    if s.typing && app.modal.is_none() {
        let x = inner.x + 3 + q.chars().count() as u16;
        f.set_cursor_position(Position::new(
            x.min(inner.right().saturating_sub(1)),
            inner.y,
        ));
    }
    let help = if s.results.is_empty() {
        "no match: fewer letters, or other words"
    } else if s.typing {
        "Enter: jump to the highlighted one; Tab: pick 1-9"
    } else {
        "1-9 or Enter jump there; / edits the query"
    };
    f.render_widget(
        Paragraph::new(Span::styled(format!(" {help}"), th.dim_style())),
        Rect::new(inner.x, inner.y + 1, inner.width, 1),
    );
    let list = Rect::new(
        inner.x,
        inner.y + 2,
        inner.width,
        inner.height.saturating_sub(2),
    );
    let h = list.height as usize;
    let off = page_offset(s.selected, s.results.len(), h);
    let shown: Vec<usize> = s.results.iter().skip(off).take(h).copied().collect();
    let name_w = shown
        .iter()
        .filter_map(|i| s.index.entries.get(*i))
        .map(|e| e.name.chars().count())
        .max()
        .unwrap_or(0)
        .min(22);
    let loc_w = shown
        .iter()
        .filter_map(|i| s.index.entries.get(*i))
        .map(|e| e.location.chars().count())
        .max()
        .unwrap_or(0)
        .min(26);
    let mut lines = Vec::new();
    for (row, i) in shown.iter().enumerate() {
        let Some(e) = s.index.entries.get(*i) else {
            continue;
        };
        let n = off + row;
        let selected = n == s.selected;
        let num = if n < 9 {
            format!("{}", n + 1)
        } else {
            " ".into()
        };
        let marker = match &e.target {
            Some((_, ItemKind::Tool(t))) => super::menu::tool_marker(t, &app.profile, &app.plan),
            Some((_, ItemKind::Fragment(fr))) => {
                super::menu::fragment_marker(fr, &app.profile, &app.plan)
            }
            Some((_, ItemKind::Hardware(hw))) if *hw == app.profile.hardware => Marker::RadioOn,
            Some((_, ItemKind::Hardware(_))) => Marker::RadioOff,
            _ => Marker::Blank,
        };
        let pointer = if selected { ">" } else { " " };
        let text = format!(
            "{pointer}{num} {} {:<name_w$}  {:<loc_w$}  ",
            marker.text(),
            truncate(&e.name, name_w, g.ellipsis),
            truncate(&e.location, loc_w, g.ellipsis)
        );
        let used = text.chars().count();
        let rest = truncate(&e.description, w.saturating_sub(used), g.ellipsis);
        let pad = w.saturating_sub(used + rest.chars().count());
        let line = if selected {
            Line::from(g.text(format!("{text}{rest}{}", " ".repeat(pad)))).style(th.selected())
        } else {
            Line::from(vec![
                Span::raw(g.text(text)),
                Span::styled(g.text(rest), th.dim_style()),
            ])
        };
        lines.push(line);
    }
    f.render_widget(Paragraph::new(lines), list);
}

fn draw_text(
    app: &App,
    f: &mut Frame,
    area: Rect,
    title: &str,
    lines: Vec<Line<'static>>,
    scroll: u16,
) {
    let lines: Vec<Line> = lines
        .into_iter()
        .map(|l| {
            let spans: Vec<Span> = l
                .spans
                .into_iter()
                .map(|s| Span::styled(app.look.glyphs.text(s.content.into_owned()), s.style))
                .collect();
            Line::from(spans).style(l.style)
        })
        .collect();
    f.render_widget(
        Paragraph::new(lines)
            .block(block(app, title.to_string()).padding(ratatui::widgets::Padding::horizontal(1)))
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0)),
        area,
    );
}

fn kv(th: &super::theme::Theme, k: &str, v: String) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("{k:<11}"), th.fg(th.accent)),
        Span::raw(v),
    ])
}

/// The title and text of the help screen about `subject`.
pub fn help_lines(app: &App, subject: Option<&ItemKind>) -> (String, Vec<Line<'static>>) {
    let th = &app.look.theme;
    let c = &app.catalog;
    let mut v: Vec<Line<'static>> = Vec::new();
    let para = |v: &mut Vec<Line<'static>>, text: &str| {
        for l in text.trim().lines() {
            v.push(Line::from(l.trim_end().to_string()));
        }
    };
    let title;
    match subject {
        Some(ItemKind::Tool(name)) => {
            title = format!("Help: {name}");
            let all = universe(&app.profile, c);
            let Some(t) = all.iter().find(|t| &t.name == name) else {
                return (title, vec![Line::from("unknown tool")]);
            };
            v.push(Line::styled(
                format!("{} - {}", t.name, t.description),
                th.title_style(),
            ));
            if let Some(u) = &t.untested {
                v.push(Line::styled(
                    format!("Untested recipe: {u}"),
                    th.fg(th.warn),
                ));
            }
            v.push(Line::from(""));
            para(&mut v, &t.long);
            v.push(Line::from(""));
            v.push(kv(th, "Upstream", t.source.url().to_string()));
            v.push(kv(
                th,
                "Pinned",
                match &t.source {
                    Source::Git { rev, .. } => format!("commit {rev}"),
                    Source::Tarball { sha256, .. } => format!("sha256 {sha256}"),
                },
            ));
            v.push(kv(th, "License", t.license.clone()));
            let in_image = app
                .estimate
                .component(name)
                .map(|c| format!(", {} in the image", human(c.bytes)));
            let size = if t.only_linked() {
                "nothing of its own: linked into the programs that use it".to_string()
            } else {
                format!(
                    "{} installed{}",
                    human(t.size),
                    in_image.unwrap_or_default()
                )
            };
            v.push(kv(th, "Size", size));
            v.push(kv(th, "", t.size_source.clone()));
            let list = |x: &[String]| {
                if x.is_empty() {
                    "none".to_string()
                } else {
                    x.join(", ")
                }
            };
            v.push(kv(th, "Depends on", list(&t.depends)));
            let rev: Vec<String> = all
                .iter()
                .filter(|o| o.depends.iter().any(|d| d == name))
                .map(|o| o.name.clone())
                .collect();
            v.push(kv(th, "Needed by", list(&rev)));
            if !t.provides.is_empty() {
                v.push(kv(th, "Provides", t.provides.join(", ")));
            }
            if !t.conflicts.is_empty() {
                v.push(kv(th, "Conflicts", t.conflicts.join(", ")));
            }
            for (i, svc) in t.services.iter().enumerate() {
                let label = if i == 0 { "At boot" } else { "" };
                v.push(kv(th, label, svc.summary()));
            }
            let state = match app.plan.tool(name) {
                Some(p) if p.selected => "chosen".to_string(),
                Some(p) => format!("pulled in by {}", p.required_by.join(", ")),
                None => "not in the image".to_string(),
            };
            v.push(kv(th, "State", state));
            v.push(kv(
                th,
                "Menu",
                home_of(&ItemKind::Tool(name.clone()), &app.profile, c).path(),
            ));
        }
        Some(ItemKind::Hardware(name)) => {
            title = format!("Help: {name}");
            if let Some(h) = c.hardware(name) {
                v.push(Line::styled(
                    format!("{} - {}", h.name, h.description),
                    th.title_style(),
                ));
                v.push(Line::from(""));
                para(&mut v, &h.long);
                v.push(Line::from(""));
                v.push(kv(th, "Arch", format!("{} ({})", h.arch, h.triple)));
                v.push(kv(th, "Console", h.console.clone()));
                v.push(kv(th, "Boot", h.boot.as_str().to_string()));
                v.push(kv(th, "Fragments", h.fragments.join(", ")));
            }
        }
        Some(ItemKind::Base(name)) => {
            title = format!("Help: {name}");
            if let Some(b) = c.base(name) {
                v.push(Line::styled(
                    format!("{} - {}", b.name, b.description),
                    th.title_style(),
                ));
                v.push(Line::from(""));
                v.push(kv(th, "Size", format!("{} (xz bzImage)", human(b.size))));
                v.push(kv(th, "", b.size_source.clone()));
            }
        }
        Some(ItemKind::Fragment(name)) => {
            title = format!("Help: fragment {name}");
            if let Some(fr) = c.fragment(name) {
                v.push(Line::styled(
                    format!("{} - {}", fr.name, fr.title),
                    th.title_style(),
                ));
                v.push(Line::from(""));
                para(&mut v, &fr.description);
                v.push(Line::from(""));
                v.push(kv(
                    th,
                    "Size",
                    format!("{} on the kernel", human_delta(fr.size)),
                ));
                v.push(kv(th, "", fr.size_source.clone()));
                v.push(kv(
                    th,
                    "Depends on",
                    if fr.depends.is_empty() {
                        "none".into()
                    } else {
                        fr.depends.join(", ")
                    },
                ));
                let state = match app
                    .plan
                    .kernel
                    .fragments
                    .iter()
                    .find(|p| p.fragment.name == *name)
                {
                    Some(p) => format!("in the kernel ({})", p.reason),
                    None => "not used".into(),
                };
                v.push(kv(th, "State", state));
                v.push(kv(th, "Options", String::new()));
                for (k, val) in &fr.options {
                    let s = if val == "n" {
                        format!("# {k} is not set")
                    } else {
                        format!("{k}={val}")
                    };
                    v.push(Line::from(format!("  {s}")));
                }
            }
        }
        Some(ItemKind::KOption(name)) => {
            title = format!("Help: {name}");
            let val = app
                .profile
                .kernel
                .options
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone());
            v.push(Line::styled(
                format!("{name} = {}", val.unwrap_or_default()),
                th.title_style(),
            ));
            v.push(Line::from(""));
            para(
                &mut v,
                "An extra kernel option of this profile, applied after the fragments (the last value wins).\nValue `n` writes `# CONFIG_X is not set`. Enter edits the value, x removes the option.\nThe size estimate does not count single options.",
            );
            for fr in &c.fragments {
                if let Some((_, fv)) = fr.options.iter().find(|(k, _)| k == name) {
                    v.push(Line::from(format!("Fragment {} sets it to {fv}.", fr.name)));
                }
            }
        }
        Some(ItemKind::AddOption) => {
            title = "Help: extra options".into();
            para(
                &mut v,
                "Adds a kernel option, written CONFIG_NAME=value (y, n, m, a number or text).",
            );
        }
        Some(ItemKind::Boot(_)) | Some(ItemKind::Submenu(MenuId::Boot)) => {
            title = "Help: boot mode".into();
            para(
                &mut v,
                "bios: legacy BIOS through isolinux.\nuefi: UEFI through the kernel's own EFI stub (adds the efi fragment).\nhybrid: both in one image; holds two copies of the kernel.\ndefault: what the hardware target uses.\n\nProfile key: image.boot",
            );
        }
        Some(ItemKind::Compression(_)) | Some(ItemKind::Submenu(MenuId::Compression)) => {
            title = "Help: compression".into();
            para(
                &mut v,
                "How the kernel and the initramfs are compressed.\ngzip: fastest to unpack, largest. xz: smallest. zstd: fast and small.\n\nProfile key: image.compression",
            );
        }
        Some(ItemKind::Field(fld)) => {
            title = format!("Help: {}", fld.label());
            let text = match fld {
                Field::Name => {
                    "The profile's name: used in the ready banner (\"stali: NAME ready\") and file names. 1-64 lowercase letters, digits, -, _, ."
                }
                Field::Description => "One line saying what this image is for.",
                Field::KernelSource => {
                    "Where the kernel source comes from. The menu edits a local path (a tree or a tarball such as Debian's /usr/src/linux-source-6.1.tar.xz); edit the file for a git or tarball source."
                }
                Field::Cmdline => {
                    "The kernel command line, built into the kernel. Empty means console=<the hardware's console>. Letters, digits, spaces and =,.:/_-+@% only."
                }
                Field::Hostname => {
                    "The host name of the booted system: 1-63 letters, digits and -."
                }
                Field::Budget => {
                    "A size budget for the image, such as 2 MiB. The size panel shows a bar against it, red when over; `stali size` warns. Empty for none."
                }
            };
            para(&mut v, text);
            v.push(Line::from(""));
            v.push(kv(th, "Profile key", fld.key().to_string()));
            v.push(kv(th, "Value", fld.value(&app.profile, &app.plan)));
        }
        Some(ItemKind::KEntry(_)) => {
            let Some(h) = &app.kernel_help else {
                let st = app.kernel.status().unwrap_or_default();
                return ("Help".into(), vec![Line::from(st)]);
            };
            title = format!("Help: {}", h.title);
            v.push(Line::styled(h.title.clone(), th.title_style()));
            if !h.status.is_empty() {
                v.push(Line::styled(h.status.clone(), th.fg(th.warn)));
            }
            v.push(Line::from(""));
            if h.help.trim().is_empty() {
                v.push(Line::from("There is no help available for this option."));
            } else {
                para(&mut v, &h.help);
            }
            v.push(Line::from(""));
            for (k, val) in &h.facts {
                v.push(Line::from(vec![
                    Span::styled(format!("{k}: "), th.fg(th.accent)),
                    Span::raw(val.clone()),
                ]));
            }
            if !h.why.is_empty() {
                v.push(Line::from(""));
                v.push(Line::styled("Why it has its value", th.title_style()));
                para(&mut v, &h.why);
            }
        }
        Some(ItemKind::Note) => {
            title = "Help: Kernel > All options".into();
            para(
                &mut v,
                "The kernel's own menu tree, read from the profile's kernel source for the hardware's architecture. It loads in the background; a source not on this machine yet (a tarball or git source before the first build) cannot be shown.",
            );
        }
        Some(ItemKind::Submenu(MenuId::KMenu(..))) => {
            title = "Help: Kernel > All options".into();
            para(
                &mut v,
                "The kernel's own menu tree, as menuconfig shows it: [*] on, [ ] off, -*- forced on by a select, (X) the chosen value of a choice, (value) a number or text. z shows the options hidden by unmet dependencies, each with why. A change becomes a line in [kernel.options] only when it differs from what the base and the fragments give; setting it back removes the line.",
            );
        }
        Some(ItemKind::Submenu(m)) => {
            title = format!("Help: {}", m.title());
            let text = match m {
                MenuId::Hardware => {
                    "The machine the image is for: it decides the kernel fragments, the console and the default boot mode."
                }
                MenuId::Tools => {
                    "The programs in the image, by category. [*] you chose it, -*- a chosen tool needs it, [ ] not in the image. Tools that provide the same thing (sh, init) exclude each other."
                }
                MenuId::Category(_) => {
                    "Space toggles a tool. Its dependencies come with it (-*-); a tool another one needs cannot be removed."
                }
                MenuId::Kernel => {
                    "Kernel source, base configuration, fragments and single options."
                }
                MenuId::Base => "The kbuild target the configuration starts from.",
                MenuId::Fragments => {
                    "Groups of kernel options. [*] chosen in the profile, -*- needed by the hardware, the boot mode or another fragment."
                }
                MenuId::Options => "Single kernel options, applied last.",
                MenuId::Image => {
                    "How the image boots, how it is compressed, the command line, the host name and the size budget."
                }
                _ => "",
            };
            para(&mut v, text);
        }
        None => {
            title = "Help".into();
            para(
                &mut v,
                "stali menu composes a Stali image and saves it as a profile. Every key, by screen:",
            );
            use super::action::{GLOBAL, MENU, QUERY, RESULTS, TEXT, key_help};
            for (heading, tables) in [
                ("In a menu", &[MENU, GLOBAL][..]),
                ("Typing a search", &[QUERY][..]),
                ("In the search results", &[RESULTS][..]),
                ("In the help and the diff", &[TEXT][..]),
            ] {
                v.push(Line::from(""));
                v.push(Line::styled(heading.to_string(), th.title_style()));
                for (keys, what) in key_help(tables) {
                    v.push(Line::from(vec![
                        Span::styled(keys, th.fg(th.accent)),
                        Span::raw(format!(": {what}")),
                    ]));
                }
            }
        }
    }
    (title, v)
}

fn draw_size(app: &App, f: &mut Frame, area: Rect) {
    let th = &app.look.theme;
    let g = &app.look.glyphs;
    let e = &app.estimate;
    let inner_w = area.width.saturating_sub(4) as usize;
    let row = |k: &str, v: String, bold: bool| {
        let pad = inner_w.saturating_sub(k.chars().count() + v.chars().count());
        let st = if bold {
            th.base().add_modifier(Modifier::BOLD)
        } else {
            th.base()
        };
        Line::from(vec![
            Span::styled(format!("{k}{}", " ".repeat(pad)), st),
            Span::styled(v, st),
        ])
    };
    let mut v = vec![
        row("Image", human(e.total_bytes), true),
        row("  kernel", human(e.kernel_bytes), false),
        row("  userland", human(e.userland_bytes), false),
        row("  boot", human(e.boot_bytes), false),
        row("  overhead", human(e.overhead_bytes), false),
    ];
    if !e.no_figure.is_empty() {
        v.push(Line::styled(
            format!(
                "{} chosen kernel option{} without a figure (counted as 0)",
                e.no_figure.len(),
                if e.no_figure.len() == 1 { "" } else { "s" }
            ),
            th.dim_style(),
        ));
    }
    v.push(Line::from(""));
    match e.budget_bytes {
        Some(b) => {
            v.push(row("Budget", human(b), false));
            let over = e.over_budget();
            let bar_w = inner_w.saturating_sub(5);
            let filled = ((e.total_bytes as f64 / b.max(1) as f64) * bar_w as f64).round() as usize;
            let filled = filled.min(bar_w);
            let pct = (e.total_bytes as f64 * 100.0 / b.max(1) as f64).round() as u64;
            let color = if over { th.bar_over } else { th.bar };
            let style = if th.mono {
                Style::new()
            } else {
                Style::new().fg(color)
            };
            v.push(Line::from(vec![
                Span::styled(g.bar_full.repeat(filled), style),
                Span::styled(g.bar_empty.repeat(bar_w - filled), th.dim_style()),
                Span::styled(
                    format!("{pct:>4}%"),
                    if over { th.fg(th.error) } else { th.base() },
                ),
            ]));
            if over {
                v.push(Line::styled(
                    format!("OVER by {}", human(e.total_bytes - b)),
                    th.fg(th.error).add_modifier(Modifier::BOLD),
                ));
            } else {
                v.push(Line::styled(
                    format!("{} left", human(b - e.total_bytes)),
                    th.dim_style(),
                ));
            }
        }
        None => v.push(Line::styled("no budget set", th.dim_style())),
    }
    v.push(Line::from(""));
    if let Some(k) = app.focused() {
        let (name, verb) = match &k {
            ItemKind::Tool(n) => {
                let m = super::menu::tool_marker(n, &app.profile, &app.plan);
                (
                    n.clone(),
                    if m == Marker::Off {
                        "adding it"
                    } else {
                        "removing it"
                    },
                )
            }
            ItemKind::Fragment(n) => {
                let m = super::menu::fragment_marker(n, &app.profile, &app.plan);
                (
                    n.clone(),
                    if m == Marker::Off {
                        "adding it"
                    } else {
                        "removing it"
                    },
                )
            }
            ItemKind::Hardware(n) | ItemKind::Base(n) => (n.clone(), "choosing it"),
            ItemKind::Boot(b) => (
                b.map(|b| b.as_str()).unwrap_or("default").to_string(),
                "choosing it",
            ),
            ItemKind::Compression(c) => (c.as_str().to_string(), "choosing it"),
            _ => (String::new(), ""),
        };
        match &app.delta {
            Delta::None => {}
            Delta::Current => {
                v.push(Line::styled(
                    truncate(&name, inner_w, g.ellipsis),
                    th.title_style(),
                ));
                v.push(Line::from("the current choice"));
            }
            Delta::Bytes { delta, total } => {
                v.push(Line::styled(
                    truncate(&name, inner_w, g.ellipsis),
                    th.title_style(),
                ));
                v.push(Line::from(format!("{verb}, in the image:")));
                let over = e.budget_bytes.is_some_and(|b| *total > b);
                let arrow = if g.ascii { "->" } else { "→" };
                v.push(Line::from(vec![
                    Span::styled(
                        g.text(human_delta(*delta)),
                        th.fg(th.accent).add_modifier(Modifier::BOLD),
                    ),
                    Span::styled(
                        format!(" {arrow} {}", human(*total)),
                        if over { th.fg(th.error) } else { th.base() },
                    ),
                ]));
            }
            Delta::Refused(why) => {
                v.push(Line::styled(
                    truncate(&name, inner_w, g.ellipsis),
                    th.title_style(),
                ));
                v.push(Line::styled(g.text(why.clone()), th.fg(th.error)));
            }
        }
        if !matches!(app.delta, Delta::None) {
            v.push(Line::from(""));
        }
    }
    if let Some(kf) = &app.kernel_focus {
        v.push(Line::styled(
            truncate(&kf.name, inner_w, g.ellipsis),
            th.title_style(),
        ));
        v.push(Line::from(kf.value.clone()));
        if !kf.note.is_empty() {
            v.push(Line::styled(g.text(kf.note.clone()), th.fg(th.warn)));
        }
        if !kf.size.is_empty() {
            v.push(Line::styled(
                g.text(kf.size.clone()),
                th.fg(th.accent).add_modifier(Modifier::BOLD),
            ));
        }
        v.push(Line::from(""));
    }
    for w in &app.plan.warnings {
        v.push(Line::styled(
            format!("! {}", g.text(w.message.clone())),
            th.fg(th.warn),
        ));
    }
    // Code the profile brings runs as the user at build time: say so, and what it runs.
    for c in crate::model::trust::carried_code(&app.profile) {
        v.push(Line::styled(
            format!(
                "! carries code: {}; built only once trusted (stali trust FILE)",
                g.text(c.runs)
            ),
            th.fg(th.warn),
        ));
    }
    let b = block(app, "Size estimate".into()).padding(ratatui::widgets::Padding::horizontal(1));
    f.render_widget(Paragraph::new(v).wrap(Wrap { trim: false }).block(b), area);
}

fn draw_message(app: &App, f: &mut Frame, area: Rect) {
    let th = &app.look.theme;
    let Some(m) = &app.message else {
        f.render_widget(Paragraph::new("").style(th.screen_style()), area);
        return;
    };
    let style = match m.level {
        Level::Info => th.screen_style(),
        Level::Ok => th.screen_style().patch(th.fg(th.ok)),
        Level::Warn => th.screen_style().patch(th.fg(th.warn)),
        Level::Error => th
            .screen_style()
            .patch(th.fg(th.error))
            .add_modifier(Modifier::BOLD),
    };
    let text = truncate(
        &app.look.glyphs.text(m.text.clone()),
        area.width.saturating_sub(1) as usize,
        app.look.glyphs.ellipsis,
    );
    f.render_widget(Paragraph::new(format!(" {text}")).style(style), area);
}

fn draw_hints(app: &App, f: &mut Frame, area: Rect) {
    let th = &app.look.theme;
    let key_style = if th.mono {
        Style::new().add_modifier(Modifier::REVERSED)
    } else {
        th.selected()
    };
    let mut spans = Vec::new();
    let mut used = 0usize;
    for (k, a) in app.hints() {
        let n = k.len() + a.len() + 3;
        if used + n > area.width as usize {
            break;
        }
        used += n;
        spans.push(Span::raw(" "));
        spans.push(Span::styled(k.to_string(), key_style));
        spans.push(Span::styled(format!(" {a} "), th.screen_style()));
    }
    f.render_widget(
        Paragraph::new(Line::from(spans)).style(th.screen_style()),
        area,
    );
}

/// Rows `lines` take when wrapped to `width` columns.
fn rows(lines: &[Line<'_>], width: u16) -> u16 {
    let n = Paragraph::new(lines.to_vec())
        .wrap(Wrap { trim: true })
        .line_count(width);
    u16::try_from(n).unwrap_or(u16::MAX)
}

fn draw_modal(app: &App, f: &mut Frame, within: Rect, m: &Modal) {
    let th = &app.look.theme;
    let w = within.width.saturating_sub(4).min(72);
    let x = within.x + (within.width.saturating_sub(w)) / 2;
    let inner_w = w.saturating_sub(4);
    // A box of `inner` rows inside its borders, centred in `within`, with the columns
    // between it and `within`'s borders cleared too, so no text behind peeks out.
    let place = |f: &mut Frame, inner: u16| {
        let h = (inner + 2).min(within.height);
        let y = within.y + within.height.saturating_sub(h) / 2;
        let margin = Rect::new(within.x + 1, y, within.width.saturating_sub(2), h);
        f.render_widget(Clear, margin);
        f.render_widget(Block::new().style(th.base()), margin);
        Rect::new(x, y, w, h)
    };
    match m {
        Modal::Prompt(p) => {
            let (text, style) = match &p.error {
                Some(e) => (e.clone(), th.fg(th.error)),
                None => (
                    p.note.clone().unwrap_or_else(|| prompt_hint(&p.kind)),
                    th.dim_style(),
                ),
            };
            let note = vec![Line::from(app.look.glyphs.text(text))];
            let note_h = rows(&note, inner_w).max(1);
            let area = place(f, 1 + note_h);
            let y = area.y;
            f.render_widget(block(app, p.kind.title()), area);
            let inner_w = inner_w as usize;
            // Scroll the text so the cursor stays visible.
            let chars: Vec<char> = p.text.chars().collect();
            let start = p.cursor.saturating_sub(inner_w.saturating_sub(1));
            let shown: String = chars.iter().skip(start).take(inner_w).collect();
            let input = Rect::new(x + 2, y + 1, w.saturating_sub(4), 1);
            f.render_widget(
                Paragraph::new(shown).style(th.base().add_modifier(Modifier::UNDERLINED)),
                input,
            );
            f.set_cursor_position(Position::new(x + 2 + (p.cursor - start) as u16, y + 1));
            f.render_widget(
                Paragraph::new(note).style(style).wrap(Wrap { trim: true }),
                Rect::new(x + 2, y + 2, w.saturating_sub(4), note_h),
            );
        }
        Modal::Confirm(c) => {
            let title = match c {
                Confirm::Quit => "Quit",
                Confirm::Recover { .. } => "Recover",
                Confirm::Open => "Open",
                Confirm::Overwrite(_) => "Overwrite",
            };
            let mut answers = Vec::new();
            for (k, a) in c.answers() {
                answers.push(Span::styled(format!(" {k} "), th.selected()));
                answers.push(Span::raw(format!(" {a}  ")));
            }
            let mut lines: Vec<Line> = c
                .question()
                .lines()
                .map(|l| Line::from(app.look.glyphs.text(l.to_string())))
                .collect();
            lines.push(Line::from(""));
            lines.push(Line::from(answers));
            let area = place(f, rows(&lines, w.saturating_sub(2)));
            f.render_widget(
                Paragraph::new(lines)
                    .wrap(Wrap { trim: true })
                    .block(block(app, title.into())),
                area,
            );
        }
    }
}

fn prompt_hint(k: &super::prompt::PromptKind) -> String {
    use super::prompt::PromptKind as P;
    if *k == P::Open {
        let names: Vec<&str> = EMBEDDED_PROFILES.iter().map(|(n, _)| *n).collect();
        return format!("a profile file, or a shipped one: {}", names.join(", "));
    }
    match k {
        P::Cmdline => "e.g. console=ttyS0 quiet; empty for the hardware's console",
        P::Hostname => "letters, digits and -",
        P::Budget => "e.g. 2 MiB, 512 KiB, 1500000",
        P::Name => "lowercase letters, digits, -, _, .",
        P::Description => "one line",
        P::KernelPath => "a kernel tree or tarball on this machine",
        P::OptionValue(_) => "y, n (not set), a number or text; never m (no modules)",
        P::KValue(..) => "the value; the kernel's range and type are checked",
        P::NewOption => "e.g. CONFIG_PRINTK_TIME=y; Tab completes the name",
        P::SaveAs => "a path; relative to the current folder",
        P::Open => "a profile file",
    }
    .to_string()
}
