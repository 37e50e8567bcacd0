//! `customs.report/v1` as JSON Lines: one object per scanned image, so a run over several
//! targets stays parseable line by line and a single image is a plain JSON document.

use std::io::{self, Write};

use customs_core::Report;

pub(super) fn write(reports: &[Report], w: &mut dyn Write) -> io::Result<()> {
    for r in reports {
        serde_json::to_writer(&mut *w, r)?;
        w.write_all(b"\n")?;
    }
    Ok(())
}
