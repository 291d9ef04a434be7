//! Writes the seed corpus (`mpic_fuzz::seeds`) to `corpus/<target>/<name>`.
//!
//! `cargo run --example seed_corpus` from `fuzz/`; files are overwritten,
//! other files in the corpus directories are left alone.

use std::path::Path;

fn main() -> std::io::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let seeds = mpic_fuzz::seeds::all();
    for (target, name, bytes) in &seeds {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(name), bytes)?;
    }
    println!("wrote {} seeds under {}", seeds.len(), root.display());
    Ok(())
}
