//! Pictures of the screen: a ratatui buffer drawn as SVG on a monospace grid.

use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};

use super::theme::Theme;

const CELL_W: f32 = 8.4;
const CELL_H: f32 = 17.0;

/// The xterm RGB of an ANSI colour; `Reset` gives `dflt`.
fn rgb(c: Color, dflt: (u8, u8, u8)) -> (u8, u8, u8) {
    match c {
        Color::Reset => dflt,
        Color::Black => (0, 0, 0),
        Color::Red => (205, 0, 0),
        Color::Green => (0, 205, 0),
        Color::Yellow => (205, 205, 0),
        Color::Blue => (0, 0, 238),
        Color::Magenta => (205, 0, 205),
        Color::Cyan => (0, 205, 205),
        Color::Gray => (229, 229, 229),
        Color::DarkGray => (127, 127, 127),
        Color::LightRed => (255, 0, 0),
        Color::LightGreen => (0, 255, 0),
        Color::LightYellow => (255, 255, 0),
        Color::LightBlue => (92, 92, 255),
        Color::LightMagenta => (255, 0, 255),
        Color::LightCyan => (0, 255, 255),
        Color::White => (255, 255, 255),
        Color::Rgb(r, g, b) => (r, g, b),
        Color::Indexed(i) => (i, i, i),
    }
}

fn hex((r, g, b): (u8, u8, u8)) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The buffer as an SVG document; default colours are a light-on-dark terminal.
pub fn buffer_to_svg(buf: &Buffer, theme: &Theme) -> String {
    let _ = theme;
    let fg0 = (208, 208, 208);
    let bg0 = (24, 24, 24);
    let area = buf.area;
    let (w, h) = (area.width as f32 * CELL_W, area.height as f32 * CELL_H);
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{h:.0}\" viewBox=\"0 0 {w:.1} {h:.1}\" font-family=\"DejaVu Sans Mono, Menlo, Consolas, monospace\" font-size=\"14\">\n<rect width=\"100%\" height=\"100%\" fill=\"{}\"/>\n",
        hex(bg0)
    );
    for y in area.top()..area.bottom() {
        // Background runs.
        let mut x = area.left();
        while x < area.right() {
            let cell = &buf[(x, y)];
            let rev = cell.modifier.contains(Modifier::REVERSED);
            let bg = if rev {
                rgb(cell.fg, fg0)
            } else {
                rgb(cell.bg, bg0)
            };
            let start = x;
            while x < area.right() {
                let c = &buf[(x, y)];
                let r = c.modifier.contains(Modifier::REVERSED);
                let b = if r { rgb(c.fg, fg0) } else { rgb(c.bg, bg0) };
                if b != bg {
                    break;
                }
                x += 1;
            }
            if bg != bg0 {
                out.push_str(&format!(
                    "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\"/>\n",
                    (start - area.left()) as f32 * CELL_W,
                    (y - area.top()) as f32 * CELL_H,
                    (x - start) as f32 * CELL_W,
                    CELL_H,
                    hex(bg)
                ));
            }
        }
        // Text runs: same colour and weight; each cell keeps its grid column.
        let mut x = area.left();
        while x < area.right() {
            let cell = &buf[(x, y)];
            let style_of = |c: &ratatui::buffer::Cell| {
                let r = c.modifier.contains(Modifier::REVERSED);
                let fg = if r { rgb(c.bg, bg0) } else { rgb(c.fg, fg0) };
                (
                    fg,
                    c.modifier.contains(Modifier::BOLD),
                    c.modifier.contains(Modifier::UNDERLINED),
                )
            };
            let st = style_of(cell);
            let start = x;
            let mut text = String::new();
            while x < area.right() {
                let c = &buf[(x, y)];
                if style_of(c) != st {
                    break;
                }
                text.push_str(c.symbol());
                x += 1;
            }
            if text.trim().is_empty() && !st.2 {
                continue;
            }
            let (fg, bold, under) = st;
            out.push_str(&format!(
                "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"{}\"{}{} textLength=\"{:.1}\" lengthAdjust=\"spacingAndGlyphs\" xml:space=\"preserve\">{}</text>\n",
                (start - area.left()) as f32 * CELL_W,
                (y - area.top()) as f32 * CELL_H + CELL_H * 0.78,
                hex(fg),
                if bold { " font-weight=\"bold\"" } else { "" },
                if under { " text-decoration=\"underline\"" } else { "" },
                (x - start) as f32 * CELL_W,
                escape(&text)
            ));
        }
    }
    out.push_str("</svg>\n");
    out
}
