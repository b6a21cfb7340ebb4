//! `LOLWUT [VERSION v] [args...]`: computer art and the server's version,
//! drawn as Redis 7.0 draws it. Version 5 is Georg Nees's "Schotter" in
//! Braille characters, version 6 a city skyline in terminal colours, any
//! other version the version line alone. The art is random on purpose.

use super::{Args, Ctx};
use crate::cmd::keys::random_below;

pub(super) fn lolwut(ctx: &mut Ctx, args: Args) {
    let mut rest: Vec<&[u8]> = args.iter().skip(1).collect();
    let mut major = crate::REDIS_VERSION
        .split('.')
        .next()
        .and_then(|m| m.parse::<i64>().ok())
        .unwrap_or(0);
    let mut minor_is_9 = crate::REDIS_VERSION.split('.').nth(1) == Some("9");
    if rest.len() >= 2 && rest[0].eq_ignore_ascii_case(b"version") {
        let Some(version) = super::i64_arg(ctx.reply, rest[1]) else {
            return;
        };
        // Redis formats the version as an unsigned int, then reads it back.
        major = i64::from(version as u32);
        minor_is_9 = false;
        rest.drain(..2);
    }
    let text = match (major, minor_is_9) {
        (5, false) | (4, true) => schotter(ctx, &rest),
        (6, false) | (5, true) => skyline(ctx, &rest),
        _ => Some(String::new()),
    };
    let Some(mut text) = text else {
        return;
    };
    if text.is_empty() {
        text.push_str("Redis ver. ");
    }
    text.push_str(crate::REDIS_VERSION);
    text.push('\n');
    ctx.reply.verbatim(text.as_bytes());
}

/// The numeric arguments, in order, with their defaults; None when one is
/// not an integer (the error is the reply).
fn numbers<const N: usize>(ctx: &mut Ctx, args: &[&[u8]], defaults: [i64; N]) -> Option<[i64; N]> {
    let mut values = defaults;
    for (value, arg) in values.iter_mut().zip(args) {
        *value = super::i64_arg(ctx.reply, arg)?;
    }
    Some(values)
}

/// A uniform draw in [0, 1], as `rand() / RAND_MAX`.
fn unit() -> f32 {
    random_below(1 << 24) as f32 / ((1 << 24) - 1) as f32
}

/// A grid of pixels, each a colour index.
struct Canvas {
    width: i64,
    height: i64,
    pixels: Vec<u8>,
}

impl Canvas {
    fn new(width: i64, height: i64, background: u8) -> Canvas {
        let size = usize::try_from(width * height).unwrap_or(0);
        Canvas {
            width,
            height,
            pixels: vec![background; size],
        }
    }

    fn index(&self, x: i64, y: i64) -> Option<usize> {
        let inside = (0..self.width).contains(&x) && (0..self.height).contains(&y);
        inside.then(|| (x + y * self.width) as usize)
    }

    fn set(&mut self, x: i64, y: i64, color: u8) {
        if let Some(pixel) = self.index(x, y).and_then(|i| self.pixels.get_mut(i)) {
            *pixel = color;
        }
    }

    fn get(&self, x: i64, y: i64) -> u8 {
        self.index(x, y)
            .and_then(|i| self.pixels.get(i))
            .copied()
            .unwrap_or(0)
    }

    /// Bresenham's line.
    fn line(&mut self, (mut x1, mut y1): (i64, i64), (x2, y2): (i64, i64), color: u8) {
        let (dx, dy) = ((x2 - x1).abs(), (y2 - y1).abs());
        let (sx, sy) = (if x1 < x2 { 1 } else { -1 }, if y1 < y2 { 1 } else { -1 });
        let mut err = dx - dy;
        loop {
            self.set(x1, y1, color);
            if x1 == x2 && y1 == y2 {
                break;
            }
            let e2 = err * 2;
            if e2 > -dy {
                err -= dy;
                x1 += sx;
            }
            if e2 < dx {
                err += dx;
                y1 += sy;
            }
        }
    }

    /// A square of side `size` centred on (x, y), turned by `angle`.
    fn square(&mut self, x: i64, y: i64, size: f32, angle: f32, color: u8) {
        // The square inscribed in a circle of radius 1 has a side of √2.
        let size = (size / std::f32::consts::SQRT_2).round();
        let mut k = std::f32::consts::FRAC_PI_4 + angle;
        let mut corners = [(0i64, 0i64); 4];
        for corner in &mut corners {
            *corner = (
                (k.sin() * size + x as f32).round() as i64,
                (k.cos() * size + y as f32).round() as i64,
            );
            k += std::f32::consts::FRAC_PI_2;
        }
        for j in 0..4 {
            self.line(corners[j], corners[(j + 1) % 4], color);
        }
    }
}

/// LOLWUT 5 `[columns [squares-per-row [squares-per-column]]]`.
fn schotter(ctx: &mut Ctx, args: &[&[u8]]) -> Option<String> {
    let [cols, per_row, per_col] = numbers(ctx, args, [66, 8, 12])?;
    let (cols, per_row, per_col) = (
        cols.clamp(1, 1000),
        per_row.clamp(1, 200),
        per_col.clamp(1, 200),
    );
    let width = cols * 2;
    let padding = if width > 4 { 2 } else { 0 };
    let side = (width - padding * 2) as f32 / per_row as f32;
    let height = (side * per_col as f32) as i64 + padding * 2;
    let mut canvas = Canvas::new(width, height, 0);
    for y in 0..per_col {
        for x in 0..per_row {
            let mut sx = (x as f32 * side + side / 2.0) as i64 + padding;
            let mut sy = (y as f32 * side + side / 2.0) as i64 + padding;
            // Rotated and moved at random, more so down the rows.
            let mut angle = 0.0;
            if y > 1 {
                let spread = |_| unit() / per_col as f32 * y as f32;
                let [mut r1, mut r2, mut r3] = [0; 3].map(spread);
                for r in [&mut r1, &mut r2, &mut r3] {
                    if random_below(2) == 1 {
                        *r = -*r;
                    }
                }
                angle = r1;
                sx = (sx as f32 + r2 * side / 3.0) as i64;
                sy = (sy as f32 + r3 * side / 3.0) as i64;
            }
            canvas.square(sx, sy, side, angle, 1);
        }
    }
    let mut text = braille(&canvas);
    text.push_str("\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. ");
    Some(text)
}

/// Each 2x4 block of pixels as one Braille character (U+2800 + dots).
fn braille(canvas: &Canvas) -> String {
    let mut text = String::new();
    for y in (0..canvas.height).step_by(4) {
        for x in (0..canvas.width).step_by(2) {
            let dots = [
                (x, y),
                (x, y + 1),
                (x, y + 2),
                (x + 1, y),
                (x + 1, y + 1),
                (x + 1, y + 2),
                (x, y + 3),
                (x + 1, y + 3),
            ];
            let byte = dots
                .iter()
                .enumerate()
                .filter(|(_, &(px, py))| canvas.get(px, py) != 0)
                .fold(0u32, |acc, (bit, _)| acc | (1 << bit));
            text.push(char::from_u32(0x2800 + byte).unwrap_or(' '));
        }
        if y != canvas.height - 1 {
            text.push('\n');
        }
    }
    text
}

/// LOLWUT 6 `[columns [rows]]`.
fn skyline(ctx: &mut Ctx, args: &[&[u8]]) -> Option<String> {
    let [cols, rows] = numbers(ctx, args, [80, 20])?;
    let mut canvas = Canvas::new(cols.clamp(1, 1000), rows.clamp(1, 1000), 3);
    draw_skyline(&mut canvas);
    let mut text = String::new();
    for y in 0..canvas.height {
        for x in 0..canvas.width {
            // Foreground and background both, for the same look everywhere.
            let escape = match canvas.get(x, y) {
                1 => "0;90;100m",
                2 => "0;37;47m",
                3 => "0;97;107m",
                _ => "0;30;40m",
            };
            text.push_str("\x1b[");
            text.push_str(escape);
            text.push_str(" \x1b[0m");
        }
        if y != canvas.height - 1 {
            text.push('\n');
        }
    }
    text.push_str(
        "\nDedicated to the 8 bit game developers of past and present.\n\
         Original 8 bit image from Plaguemon by hikikomori. Redis ver. ",
    );
    Some(text)
}

struct Skyscraper {
    xoff: i64,
    width: i64,
    height: i64,
    windows: bool,
    color: u8,
}

/// A city skyline as in the parallax backgrounds of 8 bit games: two rows
/// of grey towers behind, then black ones with windows.
fn draw_skyline(canvas: &mut Canvas) {
    let rand = |n: i64| random_below(n.max(1) as usize) as i64;
    let (width, height) = (canvas.width, canvas.height);
    for color in [2u8, 1] {
        let mut offset = -10;
        while offset < width {
            offset += rand(8);
            let tower_width = 10 + rand(9);
            // The lighter towers behind are the taller.
            let divisor = if color == 2 { 2 } else { 3 };
            let tower = Skyscraper {
                xoff: offset,
                width: tower_width,
                height: height / 2 + rand(height) / divisor,
                windows: false,
                color,
            };
            draw_skyscraper(canvas, &tower);
            offset += if color == 2 {
                tower_width / 2
            } else {
                tower_width + 1
            };
        }
    }
    let mut offset = -10;
    while offset < width {
        offset += rand(8);
        let mut tower_width = 5 + rand(14);
        if tower_width % 4 != 0 {
            tower_width += tower_width % 3;
        }
        let tower = Skyscraper {
            xoff: offset,
            width: tower_width,
            height: height / 3 + rand(height) / 2,
            windows: true,
            color: 0,
        };
        draw_skyscraper(canvas, &tower);
        offset += tower_width + 5;
    }
}

fn draw_skyscraper(canvas: &mut Canvas, tower: &Skyscraper) {
    let start_y = canvas.height - 1;
    let end_y = start_y - tower.height + 1;
    let (left, right) = (tower.xoff, tower.xoff + tower.width);
    for y in (end_y..=start_y).rev() {
        for x in left..right {
            // The roof is four pixels narrower.
            if y == end_y && (x <= left + 1 || x >= right - 2) {
                continue;
            }
            let mut color = tower.color;
            let inner = x > left + 1 && x < right - 2 && y > end_y + 1 && y < start_y - 1;
            if tower.windows && inner {
                let (rel_x, rel_y) = (x - (left + 1), y - (end_y + 1));
                // Windows two pixels wide and one tall: terminal "pixels"
                // are not square.
                if (rel_x / 2) % 2 != 0 && rel_y % 2 != 0 {
                    color = loop {
                        let lit = 1 + random_below(2) as u8;
                        if lit != tower.color {
                            break lit;
                        }
                    };
                    if rel_x % 2 != 0 {
                        color = canvas.get(x - 1, y);
                    }
                }
            }
            canvas.set(x, y, color);
        }
    }
}
