//! The progress bar on stderr (only when stderr is a terminal).

use std::time::Duration;

use customs_image::Image;
use customs_image::walk::Progress;
use indicatif::{ProgressBar, ProgressStyle};

pub struct Bar {
    bar: ProgressBar,
}

impl Bar {
    pub fn new(target: &str, image: &Image) -> Bar {
        let total: u64 = image.layers.iter().filter_map(|l| l.size).sum();
        let bar = if total > 0 {
            ProgressBar::new(total)
        } else {
            ProgressBar::new_spinner()
        };
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {elapsed}",
            )
            .expect("template is valid")
            .progress_chars("=> "),
        );
        bar.set_message(format!("{target}: {} layers", image.layers.len()));
        bar.enable_steady_tick(Duration::from_millis(120));
        Bar { bar }
    }

    pub fn finish(self) {
        self.bar.finish_and_clear();
    }
}

impl Progress for Bar {
    fn blob_bytes(&self, n: u64) {
        self.bar.inc(n);
    }
}
