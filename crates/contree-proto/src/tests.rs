//! Spec-driven tests: every example payload of the spec and seeded random values of every
//! generated type decode and re-encode to equivalent JSON; forward compatibility; decode errors.

use serde_json::{Map, Value, json};

use crate::generated::roundtrip::{DECODE_DEFAULTS, TYPE_NAMES, roundtrip};

const EXAMPLES: &str = include_str!("generated/examples.json");
const SHAPES: &str = include_str!("generated/shapes.json");

/// Whether `v` is what a lenient field (`DECODE_DEFAULTS`) decodes to when absent.
fn is_decode_default(key: &str, v: &Value) -> bool {
    DECODE_DEFAULTS.iter().any(|(_, f)| *f == key)
        && match v {
            Value::String(s) => s.is_empty() || s == "ascii",
            Value::Number(n) => n.as_f64() == Some(0.0),
            Value::Bool(b) => !b,
            Value::Array(a) => a.is_empty(),
            Value::Object(o) => o.values().all(|x| x.is_null()),
            Value::Null => true,
        }
}

/// JSON equivalence: `null`-valued object keys count as absent, numbers compare by value, and
/// a lenient field absent from `a` may come back as its default in `b`.
fn equivalent(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys = x.keys().chain(y.keys());
            keys.into_iter().all(|k| {
                if !x.contains_key(k) && y.get(k).is_some_and(|v| is_decode_default(k, v)) {
                    return true;
                }
                // Case-insensitive enums (`status`) come back in the spec's case.
                if let (Some(Value::String(a)), Some(Value::String(b))) = (x.get(k), y.get(k))
                    && k == "status"
                    && a.eq_ignore_ascii_case(b)
                {
                    return true;
                }
                let xv = x.get(k).unwrap_or(&Value::Null);
                let yv = y.get(k).unwrap_or(&Value::Null);
                equivalent(xv, yv)
            })
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| equivalent(a, b))
        }
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(a), Some(b)) => a == b,
            _ => x.as_f64() == y.as_f64(),
        },
        _ => a == b,
    }
}

fn check_roundtrip(type_name: &str, input: &Value, expected: &Value, what: &str) {
    let out = roundtrip(type_name, input)
        .unwrap_or_else(|| panic!("{what}: no generated type named {type_name}"))
        .unwrap_or_else(|e| panic!("{what}: {input} does not decode as {type_name}: {e}"));
    assert!(
        equivalent(expected, &out),
        "{what}: {type_name} re-encodes differently\n  input:  {expected}\n  output: {out}"
    );
}

#[test]
fn every_spec_example_round_trips() {
    let examples: Vec<Value> = serde_json::from_str(EXAMPLES).unwrap();
    assert!(
        examples.len() > 30,
        "the generator found {} examples",
        examples.len()
    );
    for e in &examples {
        let t = e["type"].as_str().unwrap();
        let source = e["source"].as_str().unwrap();
        check_roundtrip(t, &e["value"], &e["value"], source);
    }
}

/// splitmix64: a tiny seeded generator, so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, one_in: u64) -> bool {
        self.below(one_in) == 0
    }
    fn string(&mut self) -> String {
        const ALPHABET: &[&str] = &[
            "a", "Z", "0", "_", "-", " ", "/", ":", "\"", "\\", "\n", "é", "日", "🦀", "%",
        ];
        let n = self.below(12);
        (0..n)
            .map(|_| ALPHABET[self.below(ALPHABET.len() as u64) as usize])
            .collect()
    }
    fn uuid(&mut self) -> String {
        let bytes: Vec<u8> = (0..16).map(|_| self.next() as u8).collect();
        uuid::Uuid::from_slice(&bytes).unwrap().to_string()
    }
    fn i64(&mut self) -> i64 {
        match self.below(4) {
            0 => self.below(10) as i64 - 1,
            1 => self.next() as i64,
            _ => self.below(100_000) as i64,
        }
    }
    fn f64(&mut self) -> f64 {
        (self.below(1_000_000) as f64 - 1000.0) / 8.0
    }
    fn json(&mut self, depth: u32) -> Value {
        match self.below(if depth > 2 { 4 } else { 6 }) {
            0 => Value::Null,
            1 => json!(self.i64()),
            2 => json!(self.string()),
            3 => json!(self.chance(2)),
            4 => Value::Array((0..self.below(3)).map(|_| self.json(depth + 1)).collect()),
            _ => Value::Object(self.json_object(depth + 1)),
        }
    }
    fn json_object(&mut self, depth: u32) -> Map<String, Value> {
        (0..self.below(3))
            .map(|i| (format!("k{i}{}", self.string()), self.json(depth + 1)))
            .collect()
    }
}

/// Generates (noisy, clean) values of a shape: `noisy` has unknown fields in every object of a
/// generated struct; `clean` is what the round trip must give back.
struct Gen<'a> {
    shapes: &'a Map<String, Value>,
    rng: Rng,
    extras: bool,
}

impl Gen<'_> {
    fn same(v: Value) -> (Value, Value) {
        (v.clone(), v)
    }

    fn ty(&mut self, ty: &Value, depth: u32) -> (Value, Value) {
        if let Some(t) = ty.as_str() {
            return Self::same(match t {
                "string" => json!(self.rng.string()),
                "i64" => json!(self.rng.i64()),
                "f64" => json!(self.rng.f64()),
                "bool" => json!(self.rng.chance(2)),
                "uuid" => json!(self.rng.uuid()),
                "json" => self.rng.json(depth),
                "json_object" => Value::Object(self.rng.json_object(depth)),
                other => panic!("unknown primitive {other}"),
            });
        }
        if let Some(n) = ty.get("named").and_then(Value::as_str) {
            return self.named(n, depth);
        }
        let limit = if depth > 4 { 1 } else { 3 };
        if let Some(item) = ty.get("vec") {
            let n = self.rng.below(limit);
            let (a, b): (Vec<_>, Vec<_>) = (0..n).map(|_| self.ty(item, depth + 1)).unzip();
            return (Value::Array(a), Value::Array(b));
        }
        if let Some(item) = ty.get("map") {
            let mut a = Map::new();
            let mut b = Map::new();
            for _ in 0..self.rng.below(limit) {
                let key = self.rng.string();
                let (x, y) = self.ty(item, depth + 1);
                a.insert(key.clone(), x);
                b.insert(key, y);
            }
            return (Value::Object(a), Value::Object(b));
        }
        panic!("unknown type {ty}")
    }

    fn named(&mut self, name: &str, depth: u32) -> (Value, Value) {
        let shape = self
            .shapes
            .get(name)
            .unwrap_or_else(|| panic!("no shape {name}"))
            .clone();
        match shape["kind"].as_str().unwrap() {
            "enum" => {
                let values = shape["values"].as_array().unwrap();
                if self.rng.chance(5) {
                    Self::same(json!(format!("unknown-{}", self.rng.below(1000))))
                } else {
                    Self::same(values[self.rng.below(values.len() as u64) as usize].clone())
                }
            }
            "alias" => self.ty(&shape["ty"], depth),
            "union" => {
                let vs = shape["variants"].as_array().unwrap();
                let v = vs[self.rng.below(vs.len() as u64) as usize].clone();
                self.ty(&v, depth + 1)
            }
            "image_source" => {
                if self.rng.chance(2) {
                    Self::same(json!(self.rng.uuid()))
                } else {
                    let prefix = shape["prefix"].as_str().unwrap();
                    Self::same(json!(format!(
                        "{prefix}img{}:v{}",
                        self.rng.below(99),
                        self.rng.below(9)
                    )))
                }
            }
            "chosen" => {
                if shape["raw"].as_bool().unwrap() {
                    Self::same(self.rng.json(depth))
                } else {
                    let vs = shape["variants"].as_array().unwrap();
                    let v = vs[self.rng.below(vs.len() as u64) as usize].clone();
                    self.ty(&v, depth + 1)
                }
            }
            "struct" => self.structure(&shape, depth),
            other => panic!("unknown shape kind {other}"),
        }
    }

    fn structure(&mut self, shape: &Value, depth: u32) -> (Value, Value) {
        let mut noisy = Map::new();
        let mut clean = Map::new();
        let chosen = shape.get("chosen").filter(|c| !c.is_null());
        for f in shape["fields"].as_array().unwrap() {
            let wire = f["wire"].as_str().unwrap();
            let required = f["required"].as_bool().unwrap();
            let nullable = f["nullable"].as_bool().unwrap() || f["tristate"].as_bool().unwrap();
            if !required && self.rng.chance(3) {
                continue;
            }
            if (nullable || !required) && self.rng.chance(6) {
                noisy.insert(wire.into(), Value::Null);
                clean.insert(wire.into(), Value::Null);
                continue;
            }
            let (a, b) = match chosen.filter(|c| c["field"] == wire) {
                Some(c) => {
                    let by = c["by"].as_str().unwrap();
                    let selected = clean.get(by).and_then(Value::as_str).map(str::to_owned);
                    let pick = selected.and_then(|s| c["map"].get(&s).cloned());
                    match (pick, c["default"].clone(), c["raw"].as_bool().unwrap()) {
                        (Some(t), _, _) => self.ty(&t, depth + 1),
                        (None, Value::Null, _) => Self::same(self.rng.json(depth)),
                        (None, d, _) => self.ty(&d, depth + 1),
                    }
                }
                None => self.ty(&f["ty"], depth + 1),
            };
            noisy.insert(wire.into(), a);
            clean.insert(wire.into(), b);
        }
        if self.extras && self.rng.chance(2) {
            noisy.insert(
                format!("zz_unknown_{}", self.rng.below(100)),
                self.rng.json(3),
            );
        }
        (Value::Object(noisy), Value::Object(clean))
    }
}

fn random_round_trips(extras: bool, seed: u64) {
    let shapes: Map<String, Value> = serde_json::from_str(SHAPES).unwrap();
    let mut g = Gen {
        shapes: &shapes,
        rng: Rng(seed),
        extras,
    };
    assert!(TYPE_NAMES.len() >= 44);
    for name in TYPE_NAMES {
        for i in 0..40 {
            let (noisy, clean) = g.named(name, 0);
            check_roundtrip(name, &noisy, &clean, &format!("seed {seed} {name} #{i}"));
        }
    }
}

#[test]
fn every_type_round_trips_seeded_random_values() {
    random_round_trips(false, 7);
    random_round_trips(false, 0xC0FFEE);
}

#[test]
fn unknown_fields_are_ignored_everywhere() {
    random_round_trips(true, 42);
}

#[test]
fn equivalence_is_strict_where_it_matters() {
    assert!(equivalent(&json!({"a": 1, "b": null}), &json!({"a": 1.0})));
    assert!(!equivalent(&json!({"a": 1}), &json!({"a": 2})));
    assert!(!equivalent(&json!({"a": "x"}), &json!({})));
    assert!(!equivalent(&json!([1, 2]), &json!([2, 1])));
    // A round trip that loses data is caught.
    let lossy = json!({"status": "FAILED", "error": "boom"});
    let out = roundtrip("OperationSummary", &lossy).unwrap().unwrap();
    assert!(equivalent(&lossy, &out));
    assert!(!equivalent(
        &json!({"status": "FAILED", "error": "other"}),
        &out
    ));
}
