//! A valid profile of about 1 MiB is read and checked (positions are found through a line
//! index, not by rescanning the file per entry). How fast is measured by `cargo bench
//! --bench model` (`check/generated 1 MiB ...`), never by a timed test.

use stali::model::profile::generated_profile;
use stali::model::{Catalog, Profile, resolve};

#[test]
fn a_one_mebibyte_profile_parses_and_positions_stay_exact() {
    let catalog = Catalog::load();
    for one_line in [false, true] {
        let text = generated_profile(1 << 20, one_line);
        assert!(text.len() > 1_000_000, "{}", text.len());
        let p = Profile::parse(&text, None, &catalog).expect("valid");
        assert!(
            p.kernel.options.len() > 25_000,
            "{}",
            p.kernel.options.len()
        );
        resolve(&p, &catalog).expect("resolves");
        // The last option's position is where the text says.
        let (name, _) = p.kernel.options.last().expect("options");
        let offset = text.find(name.as_str()).expect("in the text");
        let line = text[..offset].matches('\n').count() + 1;
        let col = offset - text[..offset].rfind('\n').map_or(0, |i| i + 1) + 1;
        let key = format!("kernel.options.{name}");
        let at = p.locate(stali::model::Diagnostic::warning("x"), &key).pos;
        let name_at = p
            .locate_name(stali::model::Diagnostic::warning("x"), &key)
            .pos;
        assert!(
            at.is_some_and(|(l, _)| l == line) && name_at == Some((line, col)),
            "{key}: at {at:?}, name at {name_at:?}, expected ({line}, {col})"
        );
    }
}
