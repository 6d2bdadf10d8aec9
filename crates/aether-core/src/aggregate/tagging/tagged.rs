//! A deserializer that reads a stored payload as the tagged variant
//! `{"<type>":<payload>}` without writing that text: the variant's name is
//! the event type, its content is read from the payload's own text.
//!
//! It does what serde_json does with the text for the calls an externally
//! tagged enum (or a map) makes; any other call is an error, and the caller
//! then falls back to the text itself, so a type decodes exactly as it did
//! from the text.

use serde::de::value::BorrowedStrDeserializer;
use serde::de::{DeserializeSeed, Deserializer, EnumAccess, MapAccess, VariantAccess, Visitor};
use serde_json::Error;

/// `{"<tag>":<data>}`, `data` being one JSON value's text.
pub(super) struct Tagged<'a> {
    pub(super) tag: &'a str,
    pub(super) data: &'a str,
}

/// Reads `data` to its end, as one JSON value.
fn content<'a, T>(
    data: &'a str,
    read: impl FnOnce(&mut serde_json::Deserializer<serde_json::de::StrRead<'a>>) -> Result<T, Error>,
) -> Result<T, Error> {
    let mut de = serde_json::Deserializer::from_str(data);
    let value = read(&mut de)?;
    de.end()?;
    Ok(value)
}

impl<'a> Deserializer<'a> for Tagged<'a> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_map(Entry {
            tag: Some(self.tag),
            data: self.data,
        })
    }

    fn deserialize_enum<V: Visitor<'a>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_enum(self)
    }

    serde::forward_to_deserialize_any! {
        <V: Visitor<'a>>
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}

/// The object's one entry.
struct Entry<'a> {
    tag: Option<&'a str>,
    data: &'a str,
}

impl<'a> MapAccess<'a> for Entry<'a> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'a>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        self.tag
            .take()
            .map(|tag| seed.deserialize(BorrowedStrDeserializer::<Error>::new(tag)))
            .transpose()
    }

    fn next_value_seed<V: DeserializeSeed<'a>>(&mut self, seed: V) -> Result<V::Value, Error> {
        content(self.data, |de| seed.deserialize(de))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(usize::from(self.tag.is_some()))
    }
}

impl<'a> EnumAccess<'a> for Tagged<'a> {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'a>>(self, seed: V) -> Result<(V::Value, Self), Error> {
        let variant = seed.deserialize(BorrowedStrDeserializer::<Error>::new(self.tag))?;
        Ok((variant, self))
    }
}

impl<'a> VariantAccess<'a> for Tagged<'a> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        content(self.data, |de| serde::Deserialize::deserialize(de))
    }

    fn newtype_variant_seed<T: DeserializeSeed<'a>>(self, seed: T) -> Result<T::Value, Error> {
        content(self.data, |de| seed.deserialize(de))
    }

    fn tuple_variant<V: Visitor<'a>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        content(self.data, |de| de.deserialize_seq(visitor))
    }

    fn struct_variant<V: Visitor<'a>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        content(self.data, |de| de.deserialize_any(visitor))
    }
}
