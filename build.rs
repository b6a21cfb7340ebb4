//! Builds the one piece of C in rudis: INCRBYFLOAT's long double
//! arithmetic (see csrc/floats.c), with the `cc` crate.

fn main() {
    println!("cargo:rerun-if-changed=csrc/floats.c");
    cc::Build::new()
        .file("csrc/floats.c")
        .warnings(true)
        .compile("rudis_floats");
}
