//! The expression seam: CEL compiled and evaluated by the engine chosen in
//! `ENGINES.md` (`cel-core`, evaluator only), behind Aether's own types.
//!
//! Nothing of the engine leaves this module tree: the checker reads
//! [`Node`], Aether's view of the syntax tree, and the evaluator handles
//! [`Value`] only through the functions of [`value`].

mod ast;
mod fast;
mod position;
mod scope;
pub(crate) mod value;

pub(crate) use ast::{BinOp, Kind, Lit, Node};
pub(crate) use position::position_of;
pub(crate) use scope::Scope;

use crate::error::Position;
use std::cell::Cell;
use std::sync::{Arc, OnceLock};

/// A runtime value of the engine.
pub(crate) type Value = cel_core::Value;

/// Longest expression source, in bytes (a cost bound, checked before parsing).
pub(crate) const MAX_SOURCE_BYTES: usize = 4096;
/// Deepest bracket/unary nesting, checked before parsing (the parser recurses).
pub(crate) const MAX_NESTING: usize = 32;
/// Deepest syntax tree kept (evaluation recurses over it, on the caller's stack).
pub(crate) const MAX_DEPTH: usize = 64;
/// Stack of the thread that parses: a 4 KiB source can still nest a
/// thousand deep (a chain of `+`) before the depth bound refuses it.
const COMPILE_STACK: usize = 64 << 20;

/// A compiled expression: the engine's program and Aether's syntax tree.
pub(crate) struct Expr {
    program: cel_core::Program,
    /// The same expression on the fast path, when all of it is in its subset.
    fast: Option<fast::Fast>,
    pub(crate) tree: Node,
    pub(crate) source: Arc<str>,
}

impl std::fmt::Debug for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Expr").field(&self.source).finish()
    }
}

/// Why an expression did not compile: where in its source, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CompileError {
    pub(crate) position: Option<Position>,
    pub(crate) message: String,
}

/// An expression failed while running (overflow, division by zero, no such
/// key or overload, a type error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EvalError {
    pub(crate) message: String,
}

fn env() -> &'static cel_core::Env {
    static ENV: OnceLock<cel_core::Env> = OnceLock::new();
    ENV.get_or_init(cel_core::Env::with_standard_library)
}

/// Compiles `source`: size and nesting bounds first (they protect the
/// parser), then the engine's parser (macros expanded), then Aether's tree.
pub(crate) fn compile(source: &str) -> Result<Expr, CompileError> {
    if source.len() > MAX_SOURCE_BYTES {
        return Err(CompileError {
            position: None,
            message: format!(
                "cost bound: the expression is {} bytes, more than {MAX_SOURCE_BYTES}",
                source.len()
            ),
        });
    }
    if let Some((offset, depth)) = too_deep(source) {
        return Err(CompileError {
            position: Some(position_of(source, offset)),
            message: format!("cost bound: nesting deeper than {MAX_NESTING} ({depth})"),
        });
    }
    // Parsing, converting and dropping a deep tree recurse: do it on a
    // thread with a large stack, off the hot path, and keep only shallow
    // trees. A panic of the engine's parser becomes an error.
    if ON_LARGE_STACK.with(Cell::get) {
        return parse(source);
    }
    on_large_stack(|| parse(source)).unwrap_or_else(|message| {
        Err(CompileError {
            position: None,
            message,
        })
    })
}

thread_local! {
    static ON_LARGE_STACK: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` on a thread with a stack large enough to parse any expression
/// within the size bound (the `check` of a whole model runs on one). The
/// error is a panic (of the engine) or a failure to start the thread.
pub(crate) fn on_large_stack<T: Send>(f: impl FnOnce() -> T + Send) -> Result<T, String> {
    std::thread::scope(|s| {
        let worker = std::thread::Builder::new()
            .name("aether-model-compile".to_owned())
            .stack_size(COMPILE_STACK)
            .spawn_scoped(s, || {
                ON_LARGE_STACK.with(|c| c.set(true));
                f()
            });
        match worker {
            Ok(handle) => handle
                .join()
                .map_err(|_| "the expression could not be parsed (the engine failed)".to_owned()),
            Err(e) => Err(format!("could not start the compiler thread: {e}")),
        }
    })
}

fn parse(source: &str) -> Result<Expr, CompileError> {
    let ast = env().parse_only(source).map_err(|e| match e {
        cel_core::CompileError::Parse(errors) => {
            let first = errors.first();
            CompileError {
                position: first.map(|e| position_of(source, e.span.start)),
                message: first.map_or_else(|| "syntax error".to_owned(), |e| e.message.clone()),
            }
        }
        other => CompileError {
            position: None,
            message: other.to_string(),
        },
    })?;
    let tree = ast::convert(ast.expr());
    let mut deepest = 0usize;
    tree.walk(0, &mut |_, d| deepest = deepest.max(d));
    if deepest > MAX_DEPTH {
        return Err(CompileError {
            position: None,
            message: format!("cost bound: nested {deepest} deep, more than {MAX_DEPTH}"),
        });
    }
    let program = env().program(&ast).map_err(|e| CompileError {
        position: None,
        message: e.to_string(),
    })?;
    Ok(Expr {
        program,
        fast: fast::compile(&tree),
        tree,
        source: Arc::from(source),
    })
}

impl Expr {
    /// Evaluates the expression against `scope`. An error value of the
    /// engine becomes an [`EvalError`].
    pub(crate) fn eval(&self, scope: &Scope<'_>) -> Result<Value, EvalError> {
        if let Some(f) = &self.fast
            && let Some(v) = fast::eval(f, scope)
        {
            return Ok(v);
        }
        self.eval_engine(scope)
    }

    /// Evaluates with the engine alone (no fast path).
    pub(crate) fn eval_engine(&self, scope: &Scope<'_>) -> Result<Value, EvalError> {
        match self.program.eval(scope) {
            Value::Error(e) => Err(EvalError {
                message: e.message.clone(),
            }),
            v => Ok(v),
        }
    }
}

/// The first place where brackets, or runs of unary operators and `?`,
/// nest deeper than [`MAX_NESTING`]: a lexical scan that skips string
/// literals, so no input reaches the recursive parser too deep.
fn too_deep(source: &str) -> Option<(usize, usize)> {
    let bytes = source.as_bytes();
    let mut depth = 0usize;
    let mut unary_run = 0usize;
    let mut ternaries = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'"' | b'\'' => {
                // Skip a string literal (triple-quoted ones too); escapes skip a byte.
                let triple = bytes.get(i..i + 3) == Some(&[b, b, b][..]);
                let close = if triple { 3 } else { 1 };
                i += close;
                while i < bytes.len() {
                    if bytes[i] == b'\\' {
                        i += 2;
                        continue;
                    }
                    if bytes[i] == b && (!triple || bytes.get(i..i + 3) == Some(&[b, b, b][..])) {
                        i += close;
                        break;
                    }
                    i += 1;
                }
                unary_run = 0;
                continue;
            }
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            b'!' | b'-' => unary_run += 1,
            b'?' => ternaries += 1,
            b' ' | b'\t' | b'\n' | b'\r' => {}
            _ => unary_run = 0,
        }
        let nesting = depth + unary_run + ternaries;
        if nesting > MAX_NESTING {
            return Some((i, nesting));
        }
        i += 1;
    }
    None
}
