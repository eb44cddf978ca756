//! The small expression language of skill files, e.g.
//! `steps.gap.attainment < 0.9 and row.segment == 'SMB'`.
//!
//! Numbers, 'strings', true/false/null, dotted paths into the skill's data (with
//! `[other.path]` looked up at run time), + - * /, comparisons, and/or/not, parentheses.
//! Null in arithmetic gives null; a comparison with null is false, so a missing number
//! never triggers a finding; `x != null` tests for a value. `a or b` gives a when it is truthy, else b.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Str(String),
    Ident(String),
    Op(&'static str),
}

fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
    let c: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    const OPS: [&str; 13] = [
        "<=", ">=", "==", "!=", "<", ">", "+", "-", "*", "/", "(", ")", ",",
    ];
    while i < c.len() {
        let ch = c[i];
        if ch.is_whitespace() {
            i += 1;
        } else if ch.is_ascii_digit() {
            let st = i;
            while i < c.len() && (c[i].is_ascii_digit() || c[i] == '.' || c[i] == '_') {
                i += 1;
            }
            let n: String = c[st..i].iter().filter(|c| **c != '_').collect();
            out.push(Tok::Num(
                n.parse().map_err(|_| format!("bad number {n:?}"))?,
            ));
        } else if ch == '\'' || ch == '"' {
            let st = i + 1;
            i += 1;
            while i < c.len() && c[i] != ch {
                i += 1;
            }
            if i >= c.len() {
                return Err("unterminated string".into());
            }
            out.push(Tok::Str(c[st..i].iter().collect()));
            i += 1;
        } else if ch.is_alphabetic() || ch == '_' {
            let st = i;
            while i < c.len()
                && (c[i].is_alphanumeric()
                    || c[i] == '_'
                    || c[i] == '.'
                    || c[i] == '['
                    || c[i] == ']')
            {
                i += 1;
            }
            out.push(Tok::Ident(c[st..i].iter().collect()));
        } else if let Some(op) = OPS
            .iter()
            .find(|op| c[i..].iter().take(op.len()).copied().eq(op.chars()))
        {
            out.push(Tok::Op(op));
            i += op.len();
        } else {
            return Err(format!("unexpected {ch:?}"));
        }
    }
    Ok(out)
}

/// One step of a path: a key (or list index), or `[other.path]` looked up at run time.
#[derive(Debug, Clone, PartialEq)]
pub enum Seg {
    Key(String),
    Dyn(Vec<String>),
}

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Lit(Value),
    Path(Vec<Seg>),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    Bin(&'static str, Box<Expr>, Box<Expr>),
}

struct P {
    t: Vec<Tok>,
    i: usize,
}

impl P {
    fn peek(&self) -> Option<&Tok> {
        self.t.get(self.i)
    }
    fn word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(x)) if x == w)
    }
    fn op(&self, o: &str) -> bool {
        matches!(self.peek(), Some(Tok::Op(x)) if *x == o)
    }
    fn or(&mut self) -> Result<Expr, String> {
        let mut l = self.and()?;
        while self.word("or") {
            self.i += 1;
            l = Expr::Bin("or", Box::new(l), Box::new(self.and()?));
        }
        Ok(l)
    }
    fn and(&mut self) -> Result<Expr, String> {
        let mut l = self.not()?;
        while self.word("and") {
            self.i += 1;
            l = Expr::Bin("and", Box::new(l), Box::new(self.not()?));
        }
        Ok(l)
    }
    fn not(&mut self) -> Result<Expr, String> {
        if self.word("not") {
            self.i += 1;
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.cmp()
    }
    fn cmp(&mut self) -> Result<Expr, String> {
        let l = self.sum()?;
        for o in ["<=", ">=", "==", "!=", "<", ">"] {
            if self.op(o) {
                self.i += 1;
                return Ok(Expr::Bin(o, Box::new(l), Box::new(self.sum()?)));
            }
        }
        Ok(l)
    }
    fn sum(&mut self) -> Result<Expr, String> {
        let mut l = self.prod()?;
        loop {
            let o = if self.op("+") {
                "+"
            } else if self.op("-") {
                "-"
            } else {
                return Ok(l);
            };
            self.i += 1;
            l = Expr::Bin(o, Box::new(l), Box::new(self.prod()?));
        }
    }
    fn prod(&mut self) -> Result<Expr, String> {
        let mut l = self.unary()?;
        loop {
            let o = if self.op("*") {
                "*"
            } else if self.op("/") {
                "/"
            } else {
                return Ok(l);
            };
            self.i += 1;
            l = Expr::Bin(o, Box::new(l), Box::new(self.unary()?));
        }
    }
    fn unary(&mut self) -> Result<Expr, String> {
        if self.op("-") {
            self.i += 1;
            return Ok(Expr::Neg(Box::new(self.unary()?)));
        }
        self.atom()
    }
    fn atom(&mut self) -> Result<Expr, String> {
        let t = self.peek().cloned().ok_or("expression ends too early")?;
        self.i += 1;
        Ok(match t {
            Tok::Num(n) => Expr::Lit(Value::from(n)),
            Tok::Str(s) => Expr::Lit(Value::from(s)),
            Tok::Ident(w) if w == "true" => Expr::Lit(Value::Bool(true)),
            Tok::Ident(w) if w == "false" => Expr::Lit(Value::Bool(false)),
            Tok::Ident(w) if w == "null" => Expr::Lit(Value::Null),
            Tok::Ident(w) => Expr::Path(split_path(&w)),
            Tok::Op("(") => {
                let e = self.or()?;
                if !self.op(")") {
                    return Err("missing ')'".into());
                }
                self.i += 1;
                e
            }
            Tok::Op(o) => return Err(format!("unexpected {o:?}")),
        })
    }
}

fn split_path(w: &str) -> Vec<Seg> {
    let mut out = Vec::new();
    let mut rest = w;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').unwrap_or(r.len());
            let inner = &r[..end];
            out.push(if inner.parse::<usize>().is_ok() {
                Seg::Key(inner.to_string())
            } else {
                Seg::Dyn(inner.split('.').map(str::to_string).collect())
            });
            rest = r.get(end + 1..).unwrap_or("");
        } else {
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            if end > 0 {
                out.push(Seg::Key(rest[..end].to_string()));
            }
            rest = rest[end..].strip_prefix('.').unwrap_or(&rest[end..]);
        }
    }
    out
}

impl Expr {
    pub fn parse(s: &str) -> Result<Expr, String> {
        let mut p = P {
            t: tokenize(s).map_err(|e| format!("{s:?}: {e}"))?,
            i: 0,
        };
        let e = p.or().map_err(|e| format!("{s:?}: {e}"))?;
        if p.i != p.t.len() {
            return Err(format!("{s:?}: unexpected text after the expression"));
        }
        Ok(e)
    }

    /// Dotted paths the expression reads (for validation).
    pub fn paths(&self) -> Vec<Vec<String>> {
        match self {
            Expr::Lit(_) => vec![],
            Expr::Path(p) => {
                let mut v = vec![p
                    .iter()
                    .take_while(|s| matches!(s, Seg::Key(_)))
                    .map(|s| match s {
                        Seg::Key(k) => k.clone(),
                        Seg::Dyn(_) => String::new(),
                    })
                    .collect::<Vec<_>>()];
                v.extend(p.iter().filter_map(|s| match s {
                    Seg::Dyn(d) => Some(d.clone()),
                    Seg::Key(_) => None,
                }));
                v
            }
            Expr::Not(e) | Expr::Neg(e) => e.paths(),
            Expr::Bin(_, a, b) => {
                let mut v = a.paths();
                v.extend(b.paths());
                v
            }
        }
    }

    pub fn eval(&self, data: &Value) -> Value {
        match self {
            Expr::Lit(v) => v.clone(),
            Expr::Path(p) => {
                let keys: Option<Vec<String>> = p
                    .iter()
                    .map(|s| match s {
                        Seg::Key(k) => Some(k.clone()),
                        Seg::Dyn(d) => lookup(data, d).and_then(|v| match v {
                            Value::String(s) => Some(s.clone()),
                            Value::Number(n) => Some(n.to_string()),
                            _ => None,
                        }),
                    })
                    .collect();
                keys.and_then(|k| lookup(data, &k).cloned())
                    .unwrap_or(Value::Null)
            }
            Expr::Not(e) => Value::Bool(!truthy(&e.eval(data))),
            Expr::Neg(e) => e
                .eval(data)
                .as_f64()
                .map_or(Value::Null, |n| Value::from(-n)),
            Expr::Bin(op, a, b) => {
                let (x, y) = (a.eval(data), b.eval(data));
                match *op {
                    "and" => Value::Bool(truthy(&x) && truthy(&y)),
                    // `a or b` is a when a is truthy, else b: also a default-value operator.
                    "or" => {
                        if truthy(&x) {
                            x
                        } else {
                            y
                        }
                    }
                    "==" => Value::Bool(equal(&x, &y)),
                    "!=" => Value::Bool(!equal(&x, &y)),
                    "<" | "<=" | ">" | ">=" => {
                        let ord = match (x.as_f64(), y.as_f64(), x.as_str(), y.as_str()) {
                            (Some(a), Some(b), _, _) => a.partial_cmp(&b),
                            (_, _, Some(a), Some(b)) => Some(a.cmp(b)),
                            _ => None,
                        };
                        Value::Bool(ord.is_some_and(|o| match *op {
                            "<" => o.is_lt(),
                            "<=" => o.is_le(),
                            ">" => o.is_gt(),
                            _ => o.is_ge(),
                        }))
                    }
                    _ => match (x.as_f64(), y.as_f64()) {
                        (Some(a), Some(b)) => {
                            let r = match *op {
                                "+" => a + b,
                                "-" => a - b,
                                "*" => a * b,
                                _ => a / b,
                            };
                            if r.is_finite() {
                                Value::from(r)
                            } else {
                                Value::Null
                            }
                        }
                        _ => Value::Null,
                    },
                }
            }
        }
    }
}

fn equal(x: &Value, y: &Value) -> bool {
    match (x.as_f64(), y.as_f64()) {
        (Some(a), Some(b)) => a == b,
        _ => x == y,
    }
}

pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// Follows a dotted path through objects and arrays.
pub fn lookup<'a>(data: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut cur = data;
    for p in path {
        cur = match cur {
            Value::Object(m) => m.get(p)?,
            Value::Array(a) => a.get(p.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(s: &str) -> Value {
        Expr::parse(s).unwrap().eval(
            &json!({"a": {"b": 4, "s": "SMB"}, "rows": [{"x": 2}], "n": null,
            "by": {"SMB": {"v": 7}}, "row": {"seg": "SMB"}}),
        )
    }

    #[test]
    fn dynamic_keys_look_up_at_run_time() {
        assert_eq!(ev("by[row.seg].v"), json!(7));
        assert_eq!(ev("by[row.missing].v"), Value::Null);
    }

    #[test]
    fn evaluates_arithmetic_comparisons_and_logic() {
        assert_eq!(ev("1 + 2 * 3"), json!(7.0));
        assert_eq!(ev("(1 + 2) * 3"), json!(9.0));
        assert_eq!(ev("a.b / 2 >= 2"), json!(true));
        assert_eq!(ev("a.s == 'SMB' and not (a.b < 1)"), json!(true));
        assert_eq!(ev("rows[0].x - 3"), json!(-1.0));
        assert_eq!(ev("-a.b"), json!(-4.0));
        assert_eq!(ev("n or a.s"), json!("SMB"));
    }

    #[test]
    fn null_never_triggers() {
        assert_eq!(ev("n < 1"), json!(false));
        assert_eq!(ev("n != null"), json!(false));
        assert_eq!(ev("a.b != null"), json!(true));
        assert_eq!(ev("n > 1"), json!(false));
        assert_eq!(ev("n + 1"), Value::Null);
        assert_eq!(ev("missing.path == 3"), json!(false));
        assert_eq!(ev("1 / 0"), Value::Null);
    }

    #[test]
    fn rejects_malformed_expressions() {
        assert!(Expr::parse("1 +").is_err());
        assert!(Expr::parse("(1").is_err());
        assert!(Expr::parse("a ; b").is_err());
        assert!(Expr::parse("'x").is_err());
    }
}
