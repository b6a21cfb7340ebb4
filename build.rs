//! Builds the one piece of C in rudis: INCRBYFLOAT's long double
//! arithmetic (see csrc/long_double.c), with the `cc` crate.

fn main() {
    println!("cargo:rerun-if-changed=csrc/long_double.c");
    cc::Build::new()
        .file("csrc/long_double.c")
        .warnings(true)
        .compile("rudis_long_double");
}
