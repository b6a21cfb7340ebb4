//! Generates `$OUT_DIR/command_table.rs`, the static command table, from
//! `commands/*.json`. Each file describes one command (its subcommands
//! nested), in the shape `COMMAND INFO` and `COMMAND DOCS` serve; its
//! `handler` names the function that runs it, relative to `src/cmd`. A new
//! command is one data file and one function.

use serde_json::Value;
use std::fmt::Write;
use std::path::Path;

pub fn generate() {
    println!("cargo:rerun-if-changed=commands");
    let mut files: Vec<_> = std::fs::read_dir("commands")
        .expect("commands/ directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "/// Every command, generated from commands/*.json by build.rs."
    );
    let _ = writeln!(
        out,
        "static GENERATED_COMMANDS: [Command; {}] = [",
        files.len()
    );
    for path in &files {
        println!("cargo:rerun-if-changed={}", path.display());
        let text = std::fs::read_to_string(path).expect("readable command file");
        let command: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        command_literal(&mut out, &command, 1);
        out.push_str(",\n");
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("command_table.rs");
    std::fs::write(dest, out).expect("writable OUT_DIR");
}

fn text(v: &Value, key: &str) -> String {
    format!("{:?}", v.get(key).and_then(Value::as_str).unwrap_or(""))
}

fn int(v: &Value, key: &str, default: i64) -> i64 {
    v.get(key).and_then(Value::as_i64).unwrap_or(default)
}

fn indent(level: usize) -> String {
    "    ".repeat(level)
}

fn command_literal(out: &mut String, c: &Value, level: usize) {
    let pad = indent(level + 1);
    let _ = writeln!(out, "{}Command {{", indent(level));
    let _ = writeln!(out, "{pad}name: {},", text(c, "name"));
    match c.get("handler").and_then(Value::as_str) {
        Some(handler) => {
            let _ = writeln!(out, "{pad}handler: {handler},");
        }
        None => {
            let _ = writeln!(out, "{pad}handler: container,");
        }
    }
    let _ = writeln!(out, "{pad}arity: {},", int(c, "arity", 1));
    for field in ["flags", "acl", "tips"] {
        let _ = writeln!(out, "{pad}{field}: {},", text(c, field));
    }
    let keys: Vec<i64> = c
        .get("keys")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default();
    let key = |i: usize| keys.get(i).copied().unwrap_or(0);
    let _ = writeln!(out, "{pad}keys: ({}, {}, {}),", key(0), key(1), key(2));
    let _ = write!(out, "{pad}key_specs: &[");
    for spec in c
        .get("key_specs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let begin = &spec["begin"];
        let begin = match (begin.get("index"), begin.get("keyword")) {
            (Some(i), _) => format!("BeginSearch::Index({i})"),
            (_, Some(_)) => format!(
                "BeginSearch::Keyword({}, {})",
                text(begin, "keyword"),
                int(begin, "startfrom", 0)
            ),
            _ => "BeginSearch::Unknown".to_string(),
        };
        let find = &spec["find"];
        let find = match (find.get("range"), find.get("keynum")) {
            (Some(r), _) => format!("FindKeys::Range({}, {}, {})", r[0], r[1], r[2]),
            (_, Some(k)) => format!("FindKeys::Keynum({}, {}, {})", k[0], k[1], k[2]),
            _ => "FindKeys::Unknown".to_string(),
        };
        let _ = write!(
            out,
            "KeySpec {{ notes: {}, flags: {}, begin: {begin}, find: {find} }}, ",
            text(spec, "notes"),
            text(spec, "flags")
        );
    }
    out.push_str("],\n");
    for field in [
        "group",
        "since",
        "summary",
        "complexity",
        "doc_flags",
        "deprecated_since",
        "replaced_by",
    ] {
        let _ = writeln!(out, "{pad}{field}: {},", text(c, field));
    }
    let _ = write!(out, "{pad}history: &[");
    for entry in c
        .get("history")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let _ = write!(
            out,
            "({:?}, {:?}), ",
            entry[0].as_str().unwrap_or(""),
            entry[1].as_str().unwrap_or("")
        );
    }
    out.push_str("],\n");
    let _ = write!(out, "{pad}args: ");
    args_literal(out, c.get("arguments"), level + 1);
    out.push_str(",\n");
    let _ = writeln!(out, "{pad}subcommands: &[");
    for sub in c
        .get("subcommands")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        command_literal(out, sub, level + 2);
        out.push_str(",\n");
    }
    let _ = writeln!(out, "{pad}],");
    let _ = write!(out, "{}}}", indent(level));
}

fn args_literal(out: &mut String, args: Option<&Value>, level: usize) {
    let args = args.and_then(Value::as_array);
    let Some(args) = args.filter(|a| !a.is_empty()) else {
        out.push_str("&[]");
        return;
    };
    out.push_str("&[\n");
    for a in args {
        let _ = write!(
            out,
            "{}Arg {{ name: {}, kind: {}, key_spec_index: {}, token: {}, summary: {}, since: {}, deprecated_since: {}, flags: {}, args: ",
            indent(level + 1),
            text(a, "name"),
            text(a, "type"),
            int(a, "key_spec_index", -1),
            text(a, "token"),
            text(a, "summary"),
            text(a, "since"),
            text(a, "deprecated_since"),
            text(a, "flags"),
        );
        args_literal(out, a.get("arguments"), level + 1);
        out.push_str(" },\n");
    }
    let _ = write!(out, "{}]", indent(level));
}
