//! Build steps:
//! - INCRBYFLOAT's long double arithmetic (csrc/floats.c), the one piece of
//!   C in rudis, compiled with the `cc` crate;
//! - the command table, generated from `commands/*.json` (one file per
//!   command, as Redis keeps them): names, arity, flags, ACL categories,
//!   key specs, documentation and the handler each command runs. See
//!   build/command_table.rs.

#[path = "build/command_table.rs"]
mod command_table;

fn main() {
    println!("cargo:rerun-if-changed=csrc/floats.c");
    cc::Build::new()
        .file("csrc/floats.c")
        .warnings(true)
        .compile("rudis_floats");
    command_table::generate();
}
