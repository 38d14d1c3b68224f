//! Decoding helpers the generated code uses on hot paths (event streams, operation polling).
//!
//! - [`Buffered`]: a JSON value kept for a second, typed decode once a sibling field (the
//!   event's `type`, the operation's `kind`) is known. From serde_json's own deserializers it is
//!   the value's JSON text, borrowed from the input when possible; from any other deserializer
//!   (serde's buffered `Content` inside untagged enums, other formats) it is a
//!   [`serde_json::Value`].
//! - [`string_enum`]: decodes a forward-compatible string enum without allocating for the
//!   values it knows.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// The newtype name serde_json's deserializers (with the `raw_value` feature) answer with the
/// value's raw JSON text: the protocol of `serde_json::value::RawValue`. A test checks that
/// serde_json still honours it; were it ever changed, decoding would stay correct (every value
/// would be buffered as a [`Value`]), only slower.
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

/// A JSON value kept for a second decode (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Buffered<'a> {
    /// The value's JSON text (from serde_json's deserializers: syntactically valid JSON).
    Text(Cow<'a, str>),
    /// The value, from a deserializer that cannot hand over raw text.
    Value(Value),
}

impl<'de: 'a, 'a> Deserialize<'de> for Buffered<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_newtype_struct(RAW_VALUE_TOKEN, BufferedVisitor(PhantomData))
    }
}

struct BufferedVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for BufferedVisitor<'a> {
    type Value = Buffered<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        Value::deserialize(d).map(Buffered::Value)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        match map.next_key_seed(KeySeed)? {
            None => Ok(Buffered::Value(Value::Object(Map::new()))),
            // serde_json's raw-value protocol: one entry, the JSON text.
            Some(Key::RawToken) => map
                .next_value_seed(TextSeed(PhantomData))
                .map(Buffered::Text),
            // A deserializer that answers a newtype with the map itself: an ordinary object.
            Some(Key::Other(first)) => {
                let mut object = Map::new();
                object.insert(first, map.next_value()?);
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    object.insert(k, v);
                }
                Ok(Buffered::Value(Value::Object(object)))
            }
        }
    }

    // Deserializers that forward newtypes to `deserialize_any`: any JSON value.
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Buffered::Value(Value::Bool(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Buffered::Value(Value::from(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Buffered::Value(Value::from(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Buffered::Value(Value::from(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Buffered::Value(Value::String(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Buffered::Value(Value::String(v)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Buffered::Value(Value::Null))
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Buffered::Value(Value::Null))
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        Value::deserialize(d).map(Buffered::Value)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Value::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(Buffered::Value)
    }
}

/// The first key of a map handed to [`BufferedVisitor`].
enum Key {
    RawToken,
    Other(String),
}

struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
        d.deserialize_string(KeySeed)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
        Ok(if v == RAW_VALUE_TOKEN {
            Key::RawToken
        } else {
            Key::Other(v.to_owned())
        })
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Key, E> {
        Ok(if v == RAW_VALUE_TOKEN {
            Key::RawToken
        } else {
            Key::Other(v)
        })
    }
}

/// The raw JSON text, borrowed from the input when the deserializer allows it.
struct TextSeed<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> DeserializeSeed<'de> for TextSeed<'a> {
    type Value = Cow<'a, str>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de: 'a, 'a> Visitor<'de> for TextSeed<'a> {
    type Value = Cow<'a, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("raw JSON text")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

/// Decodes a forward-compatible string enum: a borrowed or transient string goes through
/// `From<&str>` (no allocation for known values), an owned one through `From<String>` (kept
/// as `Unknown` without a copy). Anything but a string is an error, as for `String`.
pub(crate) fn string_enum<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: for<'s> From<&'s str> + From<String>,
{
    deserializer.deserialize_string(EnumVisitor(PhantomData))
}

struct EnumVisitor<T>(PhantomData<T>);

impl<'de, T> Visitor<'de> for EnumVisitor<T>
where
    T: for<'s> From<&'s str> + From<String>,
{
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        Ok(T::from(v))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<T, E> {
        Ok(T::from(v))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<T, E> {
        match std::str::from_utf8(v) {
            Ok(s) => Ok(T::from(s)),
            Err(_) => Err(E::invalid_value(de::Unexpected::Bytes(v), &self)),
        }
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<T, E> {
        match String::from_utf8(v) {
            Ok(s) => Ok(T::from(s)),
            Err(e) => Err(E::invalid_value(
                de::Unexpected::Bytes(&e.into_bytes()),
                &self,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::OperationEventType;
    use serde_json::json;

    #[derive(Deserialize)]
    struct Holder<'a> {
        #[serde(borrow)]
        data: Buffered<'a>,
    }

    #[test]
    fn serde_json_hands_over_borrowed_text() {
        // Guards the raw-value protocol: were serde_json to change it, this fails (decoding
        // would still be correct, only slower).
        let h: Holder<'_> = serde_json::from_str(r#"{"data": {"a": [1, "x"]} }"#).unwrap();
        assert_eq!(h.data, Buffered::Text(Cow::Borrowed(r#"{"a": [1, "x"]}"#)));
        assert!(matches!(h.data, Buffered::Text(Cow::Borrowed(_))));
    }

    #[test]
    fn readers_and_values_hand_over_owned_text() {
        let mut reader = serde_json::Deserializer::from_reader(&br#"{"data":[1,2]}"#[..]);
        let h = Holder::deserialize(&mut reader).unwrap();
        assert_eq!(h.data, Buffered::Text(Cow::Owned("[1,2]".into())));
        let h = Holder::deserialize(json!({"data": {"k": null}})).unwrap();
        assert_eq!(h.data, Buffered::Text(Cow::Owned(r#"{"k":null}"#.into())));
        let v = json!({"data": "s"});
        let h = Holder::deserialize(&v).unwrap();
        assert_eq!(h.data, Buffered::Text(Cow::Owned(r#""s""#.into())));
    }

    #[test]
    fn other_deserializers_give_a_value() {
        // Untagged enums replay a buffered `Content`, which cannot hand over raw text.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either<'a> {
            Held(#[serde(borrow)] Holder<'a>),
        }
        for (input, expected) in [
            (
                r#"{"data":{"k":[1,true,null,"s",2.5,-3]}}"#,
                json!({"k":[1,true,null,"s",2.5,-3]}),
            ),
            (r#"{"data":[{}]}"#, json!([{}])),
            (r#"{"data":"text"}"#, json!("text")),
            (r#"{"data":null}"#, json!(null)),
            (r#"{"data":7}"#, json!(7)),
        ] {
            let Either::Held(h) = serde_json::from_str::<Either<'_>>(input).unwrap();
            assert_eq!(h.data, Buffered::Value(expected), "{input}");
        }
        // A deserializer that answers a newtype with the map itself.
        let map = de::value::MapDeserializer::<_, de::value::Error>::new(
            [("a", 1i64), ("b", 2)].into_iter(),
        );
        let b = Buffered::deserialize(de::value::MapAccessDeserializer::new(map)).unwrap();
        assert_eq!(b, Buffered::Value(json!({"a": 1, "b": 2})));
    }

    #[test]
    fn string_enums_decode_from_borrowed_owned_and_byte_strings() {
        let known: OperationEventType = serde_json::from_str(r#""stdout""#).unwrap();
        assert_eq!(known, OperationEventType::Stdout);
        let escaped: OperationEventType = serde_json::from_str(r#""std\u006fut""#).unwrap();
        assert_eq!(escaped, OperationEventType::Stdout);
        let unknown: OperationEventType = serde_json::from_value(json!("later")).unwrap();
        assert_eq!(unknown, OperationEventType::Unknown("later".into()));
        let bytes = de::value::BytesDeserializer::<de::value::Error>::new(b"exit");
        assert_eq!(
            string_enum::<_, OperationEventType>(bytes).unwrap(),
            OperationEventType::Exit
        );
        let bad = de::value::BytesDeserializer::<de::value::Error>::new(b"\xff");
        assert!(string_enum::<_, OperationEventType>(bad).is_err());
        let err = serde_json::from_str::<OperationEventType>("5").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid type: integer `5`, expected a string at line 1 column 1"
        );
    }
}
