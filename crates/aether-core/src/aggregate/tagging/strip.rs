//! A serializer that writes a typed event without its variant tag: the
//! variant named as the event type, at the top level, is written as its
//! content (a unit variant as `null`). Everything else goes to the wrapped
//! serializer as it is.
//!
//! It writes what cutting `{"<type>":<content>}` down to `<content>` in the
//! serialized text would give, without writing the tag and without scanning
//! the text afterwards.

use std::cell::Cell;

use serde::ser::{
    Serialize, SerializeStruct, SerializeStructVariant, SerializeTuple, SerializeTupleVariant,
    Serializer,
};

/// `event` serialized without its variant tag when its variant is named
/// `event_type`; `stripped` tells afterwards whether it was.
pub(super) struct Untagged<'a, T: ?Sized> {
    pub(super) event: &'a T,
    pub(super) event_type: &'a str,
    pub(super) stripped: &'a Cell<bool>,
}

impl<T: Serialize + ?Sized> Serialize for Untagged<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.event.serialize(Strip {
            inner: serializer,
            event_type: self.event_type,
            stripped: self.stripped,
        })
    }
}

/// The serializer [`Untagged`] hands the event: its own only at the top level.
struct Strip<'a, S> {
    inner: S,
    event_type: &'a str,
    stripped: &'a Cell<bool>,
}

impl<S> Strip<'_, S> {
    /// Whether `variant` is the one to strip (and notes it if so).
    fn strips(&self, variant: &str) -> bool {
        let strips = variant == self.event_type;
        if strips {
            self.stripped.set(true);
        }
        strips
    }
}

/// A tuple variant, tagged as usual or stripped to a tuple.
enum TupleVariant<S: Serializer> {
    Tagged(S::SerializeTupleVariant),
    Stripped(S::SerializeTuple),
}

impl<S: Serializer> SerializeTupleVariant for TupleVariant<S> {
    type Ok = S::Ok;
    type Error = S::Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), S::Error> {
        match self {
            Self::Tagged(v) => v.serialize_field(value),
            Self::Stripped(t) => t.serialize_element(value),
        }
    }

    fn end(self) -> Result<S::Ok, S::Error> {
        match self {
            Self::Tagged(v) => v.end(),
            Self::Stripped(t) => t.end(),
        }
    }
}

/// A struct variant, tagged as usual or stripped to a struct.
enum StructVariant<S: Serializer> {
    Tagged(S::SerializeStructVariant),
    Stripped(S::SerializeStruct),
}

impl<S: Serializer> SerializeStructVariant for StructVariant<S> {
    type Ok = S::Ok;
    type Error = S::Error;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), S::Error> {
        match self {
            Self::Tagged(v) => v.serialize_field(key, value),
            Self::Stripped(s) => s.serialize_field(key, value),
        }
    }

    fn skip_field(&mut self, key: &'static str) -> Result<(), S::Error> {
        match self {
            Self::Tagged(v) => v.skip_field(key),
            Self::Stripped(s) => s.skip_field(key),
        }
    }

    fn end(self) -> Result<S::Ok, S::Error> {
        match self {
            Self::Tagged(v) => v.end(),
            Self::Stripped(s) => s.end(),
        }
    }
}

/// Forwards `serialize_<ty>(v)` to the wrapped serializer.
macro_rules! forward {
    ($($method:ident($ty:ty)),* $(,)?) => {
        $(
            fn $method(self, v: $ty) -> Result<S::Ok, S::Error> {
                self.inner.$method(v)
            }
        )*
    };
}

impl<S: Serializer> Serializer for Strip<'_, S> {
    type Ok = S::Ok;
    type Error = S::Error;
    type SerializeSeq = S::SerializeSeq;
    type SerializeTuple = S::SerializeTuple;
    type SerializeTupleStruct = S::SerializeTupleStruct;
    type SerializeTupleVariant = TupleVariant<S>;
    type SerializeMap = S::SerializeMap;
    type SerializeStruct = S::SerializeStruct;
    type SerializeStructVariant = StructVariant<S>;

    forward! {
        serialize_bool(bool), serialize_i8(i8), serialize_i16(i16), serialize_i32(i32),
        serialize_i64(i64), serialize_i128(i128), serialize_u8(u8), serialize_u16(u16),
        serialize_u32(u32), serialize_u64(u64), serialize_u128(u128), serialize_f32(f32),
        serialize_f64(f64), serialize_char(char), serialize_str(&str), serialize_bytes(&[u8]),
        serialize_unit_struct(&'static str),
    }

    fn serialize_none(self) -> Result<S::Ok, S::Error> {
        self.inner.serialize_none()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<S::Ok, S::Error> {
        self.inner.serialize_some(value)
    }

    fn serialize_unit(self) -> Result<S::Ok, S::Error> {
        self.inner.serialize_unit()
    }

    fn serialize_unit_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
    ) -> Result<S::Ok, S::Error> {
        if self.strips(variant) {
            return self.inner.serialize_unit();
        }
        self.inner.serialize_unit_variant(name, index, variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        self.inner.serialize_newtype_struct(name, value)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        if self.strips(variant) {
            return value.serialize(self.inner);
        }
        self.inner
            .serialize_newtype_variant(name, index, variant, value)
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<S::SerializeSeq, S::Error> {
        self.inner.serialize_seq(len)
    }

    fn serialize_tuple(self, len: usize) -> Result<S::SerializeTuple, S::Error> {
        self.inner.serialize_tuple(len)
    }

    fn serialize_tuple_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<S::SerializeTupleStruct, S::Error> {
        self.inner.serialize_tuple_struct(name, len)
    }

    fn serialize_tuple_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<TupleVariant<S>, S::Error> {
        if self.strips(variant) {
            return self.inner.serialize_tuple(len).map(TupleVariant::Stripped);
        }
        self.inner
            .serialize_tuple_variant(name, index, variant, len)
            .map(TupleVariant::Tagged)
    }

    fn serialize_map(self, len: Option<usize>) -> Result<S::SerializeMap, S::Error> {
        self.inner.serialize_map(len)
    }

    fn serialize_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<S::SerializeStruct, S::Error> {
        self.inner.serialize_struct(name, len)
    }

    fn serialize_struct_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<StructVariant<S>, S::Error> {
        if self.strips(variant) {
            return self
                .inner
                .serialize_struct(name, len)
                .map(StructVariant::Stripped);
        }
        self.inner
            .serialize_struct_variant(name, index, variant, len)
            .map(StructVariant::Tagged)
    }

    fn collect_str<T: std::fmt::Display + ?Sized>(self, value: &T) -> Result<S::Ok, S::Error> {
        self.inner.collect_str(value)
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}
