//! stali: compose, build and boot a fully static musl Linux image.

pub mod pipeline;
