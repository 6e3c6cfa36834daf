//! The Kconfig preprocessor (`scripts/kconfig/preprocess.c`): `$(...)` references to
//! variables, user macros with arguments, the built-in functions and the environment.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use anyhow::{Result, bail};

use super::cache::ShellCache;

/// How a variable was assigned: `=` (expanded on use) or `:=` (expanded once).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// `=`: the value is expanded each time the variable is referenced.
    Recursive,
    /// `:=`: the value was expanded when assigned.
    Simple,
    /// `+=`: appends to the existing value.
    Append,
}

#[derive(Debug, Clone)]
struct Variable {
    value: String,
    flavor: Flavor,
    exp_count: u32,
}

/// Preprocessor state: user variables, the environment kbuild exports, the shell cache.
pub struct Preprocessor<'a> {
    vars: HashMap<String, Variable>,
    env: &'a HashMap<String, String>,
    /// Environment variables referenced, with their values (as `auto.conf.cmd` lists them).
    pub env_used: Vec<(String, String)>,
    cache: &'a mut ShellCache,
    /// Directory the `$(shell,...)` commands run in.
    pub workdir: &'a Path,
    /// Current file name, for `$(filename)`.
    pub file: String,
    /// Current line, for `$(lineno)` and messages.
    pub line: u32,
    /// Warnings from `$(warning-if,...)` and `$(info,...)`.
    pub messages: Vec<String>,
}

fn is_end_of_token(c: u8) -> bool {
    !(c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
}

impl<'a> Preprocessor<'a> {
    /// A preprocessor over `env`, caching shell results in `cache`.
    pub fn new(
        env: &'a HashMap<String, String>,
        cache: &'a mut ShellCache,
        workdir: &'a Path,
    ) -> Self {
        Preprocessor {
            vars: HashMap::new(),
            env,
            env_used: Vec::new(),
            cache,
            workdir,
            file: String::new(),
            line: 0,
            messages: Vec::new(),
        }
    }

    fn err(&self, msg: String) -> anyhow::Error {
        anyhow::anyhow!("{}:{}: {}", self.file, self.line, msg)
    }

    /// `variable_add`: assigns or appends a variable.
    pub fn add_variable(&mut self, name: &str, value: &str, flavor: Flavor) -> Result<()> {
        let (flavor, append) = match (self.vars.get(name), flavor) {
            (Some(v), Flavor::Append) => (v.flavor, true),
            (None, Flavor::Append) => (Flavor::Recursive, false),
            (_, f) => (f, false),
        };
        let new_value = if flavor == Flavor::Simple {
            self.expand_string(value.as_bytes(), &[])?
        } else {
            value.to_string()
        };
        let v = self.vars.entry(name.to_string()).or_insert(Variable {
            value: String::new(),
            flavor,
            exp_count: 0,
        });
        v.flavor = flavor;
        if append {
            v.value.push(' ');
            v.value.push_str(&new_value);
        } else {
            v.value = new_value;
        }
        Ok(())
    }

    /// Expands a whole string (`expand_string`).
    pub fn expand_string(&mut self, s: &[u8], args: &[String]) -> Result<String> {
        let mut pos = 0;
        self.expand_until(s, &mut pos, |c| c == 0, args)
    }

    /// Expands one token from `s[*pos..]` up to the end of the token (`expand_one_token`),
    /// advancing `pos`.
    pub fn expand_one_token(&mut self, s: &[u8], pos: &mut usize) -> Result<String> {
        self.expand_until(s, pos, is_end_of_token, &[])
    }

    /// Expands the `$...` at `s[*pos]` (which points just after the `$`), advancing `pos`.
    pub fn expand_dollar(&mut self, s: &[u8], pos: &mut usize) -> Result<String> {
        self.expand_dollar_args(s, pos, &[])
    }

    fn expand_until(
        &mut self,
        s: &[u8],
        pos: &mut usize,
        is_end: impl Fn(u8) -> bool,
        args: &[String],
    ) -> Result<String> {
        let mut out: Vec<u8> = Vec::new();
        let mut start = *pos;
        let mut p = *pos;
        loop {
            let c = s.get(p).copied().unwrap_or(0);
            if c == b'$' {
                out.extend_from_slice(&s[start..p]);
                p += 1;
                let e = self.expand_dollar_args(s, &mut p, args)?;
                out.extend_from_slice(e.as_bytes());
                start = p;
                continue;
            }
            if is_end(c) {
                break;
            }
            p += 1;
        }
        out.extend_from_slice(&s[start..p]);
        *pos = p;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    fn expand_dollar_args(&mut self, s: &[u8], pos: &mut usize, args: &[String]) -> Result<String> {
        let p = *pos;
        if s.get(p) != Some(&b'(') {
            return Ok("$".to_string());
        }
        let start = p + 1;
        let mut q = start;
        let mut nest = 0i32;
        while q < s.len() && s[q] != 0 {
            if s[q] == b'(' {
                nest += 1;
            } else if s[q] == b')' {
                if nest == 0 {
                    break;
                }
                nest -= 1;
            }
            q += 1;
        }
        if q >= s.len() || s[q] == 0 {
            return Err(self.err(format!(
                "unterminated reference to '{}': missing ')'",
                String::from_utf8_lossy(&s[start..q])
            )));
        }
        *pos = q + 1;
        self.eval_clause(&s[start..q], args)
    }

    fn eval_clause(&mut self, clause: &[u8], args: &[String]) -> Result<String> {
        let text = String::from_utf8_lossy(clause);
        if let Ok(n) = text.parse::<usize>()
            && n > 0
            && n <= args.len()
        {
            return Ok(args[n - 1].clone());
        }
        // Split at top-level commas.
        let mut parts: Vec<&[u8]> = Vec::new();
        let mut nest = 0i32;
        let mut prev = 0;
        for (i, &c) in clause.iter().enumerate() {
            if nest == 0 && c == b',' {
                parts.push(&clause[prev..i]);
                prev = i + 1;
            } else if c == b'(' {
                nest += 1;
            } else if c == b')' {
                nest -= 1;
            }
        }
        parts.push(&clause[prev..]);
        if parts.len() > 16 {
            return Err(self.err("too many function arguments".to_string()));
        }
        let name = self.expand_string(parts[0], args)?;
        let mut new_args = Vec::with_capacity(parts.len() - 1);
        for p in &parts[1..] {
            new_args.push(self.expand_string(p, args)?);
        }
        if let Some(r) = self.variable_expand(&name, &new_args)? {
            return Ok(r);
        }
        if let Some(r) = self.function_expand(&name, &new_args)? {
            return Ok(r);
        }
        if new_args.is_empty()
            && !name.is_empty()
            && let Some(v) = self.env.get(&name)
        {
            if !self.env_used.iter().any(|(n, _)| *n == name) {
                self.env_used.push((name.clone(), v.clone()));
            }
            return Ok(v.clone());
        }
        Ok(String::new())
    }

    fn variable_expand(&mut self, name: &str, args: &[String]) -> Result<Option<String>> {
        let Some(v) = self.vars.get_mut(name) else {
            return Ok(None);
        };
        if args.is_empty() && v.exp_count > 0 {
            let msg = format!("Recursive variable '{name}' references itself (eventually)");
            return Err(self.err(msg));
        }
        if v.exp_count > 1000 {
            return Err(self.err("Too deep recursive expansion".to_string()));
        }
        v.exp_count += 1;
        let (flavor, value) = (v.flavor, v.value.clone());
        let res = if flavor == Flavor::Recursive {
            self.expand_string(value.as_bytes(), args)
        } else {
            Ok(value)
        };
        if let Some(v) = self.vars.get_mut(name) {
            v.exp_count -= 1;
        }
        res.map(Some)
    }

    fn function_expand(&mut self, name: &str, args: &[String]) -> Result<Option<String>> {
        let (min, max) = match name {
            "error-if" | "warning-if" => (2, 2),
            "filename" | "lineno" => (0, 0),
            "info" | "shell" => (1, 1),
            _ => return Ok(None),
        };
        if args.len() < min {
            return Err(self.err(format!("too few function arguments passed to '{name}'")));
        }
        if args.len() > max {
            return Err(self.err(format!("too many function arguments passed to '{name}'")));
        }
        Ok(Some(match name {
            "error-if" => {
                if args[0] == "y" {
                    return Err(self.err(args[1].clone()));
                }
                String::new()
            }
            "warning-if" => {
                if args[0] == "y" {
                    let m = format!("{}:{}: {}", self.file, self.line, args[1]);
                    self.messages.push(m);
                }
                String::new()
            }
            "info" => {
                self.messages.push(args[0].clone());
                String::new()
            }
            "filename" => self.file.clone(),
            "lineno" => self.line.to_string(),
            _ => self.shell(&args[0])?,
        }))
    }

    /// `$(shell,cmd)`: stdout with trailing newlines removed and inner ones made spaces,
    /// memoized in the cache.
    fn shell(&mut self, cmd: &str) -> Result<String> {
        if let Some(r) = self.cache.get(cmd) {
            return Ok(r.to_string());
        }
        let out = run_shell(cmd, self.env, self.workdir)
            .map_err(|e| self.err(format!("running $(shell,{cmd}): {e:#}")))?;
        self.cache.insert(cmd, &out);
        Ok(out)
    }
}

/// Runs `cmd` with `sh -c` the way `do_shell` does and returns its normalized output.
pub fn run_shell(cmd: &str, env: &HashMap<String, String>, workdir: &Path) -> Result<String> {
    let mut c = Command::new("/bin/sh");
    c.arg("-c").arg(cmd).current_dir(workdir);
    for (k, v) in env {
        c.env(k, v);
    }
    c.stdin(std::process::Stdio::null());
    c.stderr(std::process::Stdio::null());
    let out = match c.output() {
        Ok(o) => o,
        Err(e) => bail!("cannot start /bin/sh: {e}"),
    };
    let mut buf = out.stdout;
    buf.truncate(4095);
    while buf.last() == Some(&b'\n') {
        buf.pop();
    }
    for b in buf.iter_mut() {
        if *b == b'\n' {
            *b = b' ';
        }
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_functions_and_arguments_expand_as_the_kernel_does() {
        let env: HashMap<String, String> = [("ARCH".to_string(), "x86_64".to_string())].into();
        let mut cache = ShellCache::in_memory();
        let dir = std::env::temp_dir();
        let mut pp = Preprocessor::new(&env, &mut cache, &dir);
        pp.add_variable("greet", "hello $(1) and $(2)", Flavor::Recursive)
            .expect("add");
        pp.add_variable("now", "$(ARCH)", Flavor::Simple)
            .expect("add");
        pp.add_variable("now", "more", Flavor::Append).expect("add");
        let e =
            |pp: &mut Preprocessor, s: &str| pp.expand_string(s.as_bytes(), &[]).expect("expand");
        assert_eq!(e(&mut pp, "$(greet,a,b)"), "hello a and b");
        assert_eq!(e(&mut pp, "$(now)"), "x86_64 more");
        assert_eq!(e(&mut pp, "$(shell,echo one; echo two)"), "one two");
        assert_eq!(e(&mut pp, "a$$b $x"), "a$$b $x");
        assert_eq!(e(&mut pp, "$(UNDEFINED)"), "");
        assert_eq!(pp.env_used, [("ARCH".to_string(), "x86_64".to_string())]);
        pp.add_variable("loop", "$(loop)", Flavor::Recursive)
            .expect("add");
        let err = pp
            .expand_string(b"$(loop)", &[])
            .expect_err("self reference");
        assert!(err.to_string().contains("references itself"), "{err}");
        let err = pp
            .expand_string(b"$(error-if,y,stop here)", &[])
            .expect_err("error-if");
        assert!(err.to_string().contains("stop here"), "{err}");
        assert!(pp.expand_string(b"$(unterminated", &[]).is_err());
    }
}
