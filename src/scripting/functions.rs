//! Function libraries (FUNCTION LOAD, FCALL): which libraries exist, the
//! functions each registered, and the Lua state that compiled them.
//!
//! Functions have a Lua state of their own, apart from EVAL's (SCRIPT
//! FLUSH leaves them; FUNCTION FLUSH starts a fresh one). The registry
//! keeps each library's code as it was loaded: that is what FUNCTION
//! DUMP, the RDB's function section and the AOF carry, and loading it
//! again rebuilds the same functions.

use super::{Engine, ScriptFlags};
use mlua::Function;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

/// A registered function.
pub struct FunctionInfo {
    pub name: String,
    pub description: Option<Vec<u8>>,
    pub flags: ScriptFlags,
    pub callback: Function,
}

pub struct Library {
    pub name: String,
    /// The code as given to FUNCTION LOAD, shebang included.
    pub code: Vec<u8>,
    pub functions: Vec<Rc<FunctionInfo>>,
}

/// What FUNCTION RESTORE does with the libraries already there.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RestorePolicy {
    Flush,
    Append,
    Replace,
}

/// Milliseconds a library's code may run while it loads (Redis's
/// `LOAD_TIMEOUT_MS`); files and the AOF load without a limit.
pub const LOAD_TIMEOUT_MS: u64 = 500;

#[derive(Default)]
pub struct Functions {
    /// The Lua state, made when the first library loads; out on loan
    /// while a function runs.
    engine: Option<Box<Engine>>,
    /// By name, which is case-sensitive; listed in name order.
    libraries: BTreeMap<String, Library>,
    /// Every library's functions, by lowercased name (FCALL's lookup is
    /// case-insensitive).
    by_name: HashMap<String, Rc<FunctionInfo>>,
}

/// A library's shebang (`functionExtractLibMetaData`): its engine, its
/// name, and the code with the shebang line blanked so line numbers hold.
fn parse_metadata(code: &[u8]) -> Result<(String, String, Vec<u8>), String> {
    if !code.starts_with(b"#!") {
        return Err("Missing library metadata".into());
    }
    let Some(end) = memchr::memchr(b'\n', code) else {
        return Err("Invalid library metadata".into());
    };
    let parts = crate::protocol::request::split_config_line(&code[..end])
        .filter(|parts| !parts.is_empty())
        .ok_or("Invalid library metadata")?;
    let engine = String::from_utf8_lossy(parts[0].get(2..).unwrap_or_default()).into_owned();
    let mut name = None;
    for part in &parts[1..] {
        let is_name = part.len() >= 5 && part[..5].eq_ignore_ascii_case(b"name=");
        if !is_name {
            return Err(format!(
                "Invalid metadata value given: {}",
                String::from_utf8_lossy(part)
            ));
        }
        if name.is_some() {
            return Err("Invalid metadata value, name argument was given multiple times".into());
        }
        name = Some(String::from_utf8_lossy(&part[5..]).into_owned());
    }
    let name = name.ok_or("Library name was not given")?;
    Ok((engine, name, code[end..].to_vec()))
}

/// Library and function names: `[A-Za-z0-9_]+`.
fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl Functions {
    pub fn library_count(&self) -> usize {
        self.libraries.len()
    }

    pub fn function_count(&self) -> usize {
        self.libraries.values().map(|l| l.functions.len()).sum()
    }

    /// Libraries in name order.
    pub fn libraries(&self) -> impl Iterator<Item = &Library> {
        self.libraries.values()
    }

    /// Every library's code, for DUMP, the RDB and the AOF.
    pub fn codes(&self) -> Vec<&[u8]> {
        self.libraries.values().map(|l| &l.code[..]).collect()
    }

    /// A function by name, in any case.
    pub fn find(&self, name: &[u8]) -> Option<Rc<FunctionInfo>> {
        let mut lowered = [0u8; 64];
        if name.len() <= lowered.len() {
            let lowered = &mut lowered[..name.len()];
            lowered.copy_from_slice(name);
            lowered.make_ascii_lowercase();
            let key = std::str::from_utf8(lowered).ok()?;
            return self.by_name.get(key).cloned();
        }
        let key = String::from_utf8_lossy(name).to_ascii_lowercase();
        self.by_name.get(&key).cloned()
    }

    /// Bytes the functions' Lua state holds (`used_memory_vm_functions`).
    pub fn vm_memory(&self) -> usize {
        self.engine.as_ref().map_or(0, |e| e.memory())
    }

    /// Bytes of the registry itself (`used_memory_functions`): names,
    /// code and descriptions.
    pub fn registry_memory(&self) -> usize {
        self.libraries
            .values()
            .map(|l| {
                l.name.len()
                    + l.code.len()
                    + 64
                    + l.functions
                        .iter()
                        .map(|f| f.name.len() + f.description.as_ref().map_or(0, Vec::len) + 64)
                        .sum::<usize>()
            })
            .sum()
    }

    /// Takes the Lua state out for a function to run (the commands it
    /// calls get the whole server state).
    pub fn take_engine(&mut self) -> Option<Box<Engine>> {
        self.engine.take()
    }

    pub fn put_engine(&mut self, engine: Box<Engine>) {
        self.engine = Some(engine);
    }

    fn engine(&mut self) -> Result<&Engine, String> {
        if self.engine.is_none() {
            let engine = Engine::for_functions().map_err(|e| format!("Lua engine: {e}"))?;
            self.engine = Some(Box::new(engine));
        }
        self.engine.as_deref().ok_or_else(|| "Lua engine".into())
    }

    /// A library's name and body, checked (the first steps of
    /// `functionsCreateWithLibraryCtx`).
    fn checked_metadata(code: &[u8]) -> Result<(String, Vec<u8>), String> {
        let (engine, name, body) = parse_metadata(code)?;
        if !valid_name(&name) {
            return Err("Library names can only contain letters, numbers, or underscores(_) and must be at least one character long".into());
        }
        if !engine.eq_ignore_ascii_case("lua") {
            return Err(format!("Engine '{engine}' not found"));
        }
        Ok((name, body))
    }

    /// Runs a library's body in this registry's Lua state to collect its
    /// functions, without linking them.
    fn compile(
        &mut self,
        name: String,
        code: &[u8],
        body: &[u8],
        timeout_ms: u64,
    ) -> Result<Library, String> {
        let registered = self.engine()?.load_library(body, timeout_ms)?;
        if registered.is_empty() {
            return Err("No functions registered".into());
        }
        Ok(Library {
            name,
            code: code.to_vec(),
            functions: registered.into_iter().map(Rc::new).collect(),
        })
    }

    /// FUNCTION LOAD (`functionsCreateWithLibraryCtx`): compiles and runs
    /// the library's code and links its functions; the library's name, or
    /// the error text (without its `ERR `). A failed load leaves things as
    /// they were, the replaced library included.
    pub fn load(&mut self, code: &[u8], replace: bool, timeout_ms: u64) -> Result<String, String> {
        let (name, body) = Self::checked_metadata(code)?;
        if self.libraries.contains_key(&name) && !replace {
            return Err(format!("Library '{name}' already exists"));
        }
        let library = self.compile(name.clone(), code, &body, timeout_ms)?;
        for function in &library.functions {
            let owner = self.find(function.name.as_bytes());
            if owner.is_some_and(|f| !self.belongs_to(&f, &name)) {
                return Err(format!("Function {} already exists", function.name));
            }
        }
        self.unlink(&name);
        self.link(library);
        Ok(name)
    }

    fn belongs_to(&self, function: &Rc<FunctionInfo>, library: &str) -> bool {
        self.libraries
            .get(library)
            .is_some_and(|l| l.functions.iter().any(|f| Rc::ptr_eq(f, function)))
    }

    /// Takes a library and its functions out of the registry.
    fn unlink(&mut self, name: &str) -> Option<Library> {
        let library = self.libraries.remove(name)?;
        for function in &library.functions {
            let key = function.name.to_ascii_lowercase();
            if self
                .by_name
                .get(&key)
                .is_some_and(|f| Rc::ptr_eq(f, function))
            {
                self.by_name.remove(&key);
            }
        }
        Some(library)
    }

    /// FUNCTION DELETE: whether the library was there.
    pub fn delete(&mut self, name: &[u8]) -> bool {
        let name = String::from_utf8_lossy(name);
        self.unlink(&name).is_some()
    }

    /// FUNCTION FLUSH: every library goes, with the Lua state.
    pub fn flush(&mut self) {
        *self = Functions::default();
    }

    /// A registry of the libraries an RDB's function section holds.
    pub fn from_codes(codes: &[Vec<u8>]) -> Result<Functions, String> {
        let mut functions = Functions::default();
        functions.restore(codes, RestorePolicy::Flush)?;
        Ok(functions)
    }

    /// FUNCTION RESTORE (`functionRestoreCommand`, `libraryJoin`): the
    /// libraries of the codes given, compiled here with no time limit,
    /// added to these. A library name taken is an error unless `Replace`
    /// (`Flush` empties the registry first); a function name taken by a
    /// library that stays always is. On error nothing changes.
    pub fn restore(&mut self, codes: &[Vec<u8>], policy: RestorePolicy) -> Result<(), String> {
        let mut incoming: Vec<Library> = Vec::with_capacity(codes.len());
        for code in codes {
            let (name, body) = Self::checked_metadata(code)?;
            if incoming.iter().any(|l| l.name == name) {
                return Err(format!("Library '{name}' already exists"));
            }
            let library = self.compile(name, code, &body, 0)?;
            let known = incoming.iter().flat_map(|l| &l.functions);
            for function in &library.functions {
                if known
                    .clone()
                    .any(|f| f.name.eq_ignore_ascii_case(&function.name))
                {
                    return Err(format!("Function {} already exists", function.name));
                }
            }
            incoming.push(library);
        }
        if policy == RestorePolicy::Flush {
            self.libraries.clear();
            self.by_name.clear();
        }
        let mut replaced = Vec::new();
        let mut failure = None;
        for library in &incoming {
            if !self.libraries.contains_key(&library.name) {
                continue;
            }
            if policy == RestorePolicy::Append {
                failure = Some(format!("Library {} already exists", library.name));
                break;
            }
            replaced.extend(self.unlink(&library.name));
        }
        if failure.is_none() {
            failure = incoming
                .iter()
                .flat_map(|l| &l.functions)
                .find(|f| self.find(f.name.as_bytes()).is_some())
                .map(|f| format!("Function {} already exists", f.name));
        }
        if let Some(failure) = failure {
            for library in replaced {
                self.link(library);
            }
            return Err(failure);
        }
        for library in incoming {
            self.link(library);
        }
        Ok(())
    }

    fn link(&mut self, library: Library) {
        for function in &library.functions {
            self.by_name
                .entry(function.name.to_ascii_lowercase())
                .or_insert_with(|| function.clone());
        }
        self.libraries.insert(library.name.clone(), library);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_is_read_as_redis_reads_it() {
        let (engine, name, body) = parse_metadata(b"#!lua name=mylib\nreturn 1").unwrap();
        assert_eq!((engine.as_str(), name.as_str()), ("lua", "mylib"));
        assert_eq!(body, b"\nreturn 1");
        let (_, name, _) = parse_metadata(b"#!LUA  NAME=\"a b\"\n").unwrap();
        assert_eq!(name, "a b");
        let err = |code: &[u8]| parse_metadata(code).unwrap_err();
        assert_eq!(err(b"return 1"), "Missing library metadata");
        assert_eq!(err(b"#!lua name=x"), "Invalid library metadata");
        assert_eq!(err(b"#!lua name=\"x\n"), "Invalid library metadata");
        assert_eq!(err(b"#!lua\n"), "Library name was not given");
        assert_eq!(
            err(b"#!lua name=x y=z\n"),
            "Invalid metadata value given: y=z"
        );
        assert_eq!(
            err(b"#!lua name=x name=y\n"),
            "Invalid metadata value, name argument was given multiple times"
        );
    }

    #[test]
    fn names_are_letters_digits_and_underscores() {
        assert!(valid_name("a_B9"));
        assert!(!valid_name(""));
        assert!(!valid_name("a-b"));
        assert!(!valid_name("a b"));
    }
}
