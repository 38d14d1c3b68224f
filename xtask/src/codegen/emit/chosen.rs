//! Unions chosen by a sibling field (`oneOf` + a selector enum): the enum, `choose`,
//! `choose_str`, serde impls, and the `Deserialize` of the struct that holds one.

use proc_macro2::{Ident, TokenStream};
use quote::quote;

use super::super::model::{ChosenBy, ChosenVariant, Def, DefKind, Field, Model};
use super::{doc, field_serde_attrs, field_ty, ident, ty};

#[allow(clippy::too_many_arguments)]
pub(super) fn chosen_enum(
    model: &Model,
    d: &Def,
    name: &Ident,
    docs: &TokenStream,
    variants: &[ChosenVariant],
    raw: bool,
    default: Option<&str>,
    guess_key: Option<&(String, String)>,
) -> TokenStream {
    // The selecting enum: found from the struct that uses this union.
    let by_enum = model
        .defs
        .iter()
        .find_map(|o| match &o.kind {
            DefKind::Struct {
                chosen: Some(c), ..
            } if c.union == d.name => Some(c.by_enum.clone()),
            _ => None,
        })
        .unwrap_or_else(|| "OperationKind".into());
    let by = ident(&by_enum);
    let vdefs = chosen_variant_defs(variants, &by_enum);
    let raw_variant = if raw {
        quote! {
            /// A payload of an unknown type, or one that does not match its type's schema.
            Raw(serde_json::Value),
        }
    } else {
        quote!()
    };
    let choose = choose_fn(&by, variants, raw, default, guess_key);
    let choose_str = choose_str_fn(&by, variants, raw, default);
    let serde_impls = chosen_serde(name, variants, raw);
    quote! {
        #docs
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        #[allow(clippy::large_enum_variant)]
        pub enum #name {
            #(#vdefs)*
            #raw_variant
        }
        impl #name {
            #choose
            #choose_str
        }
        #serde_impls
    }
}

/// The variants of a union chosen by a sibling enum, each documented with its selector values.
fn chosen_variant_defs(variants: &[ChosenVariant], by_enum: &str) -> Vec<TokenStream> {
    let empty = quote!();
    variants
        .iter()
        .map(|v| {
            let vi = ident(&v.name);
            let t = ty(&v.ty, &empty);
            let vd = doc(&format!(
                "Selected by {}.",
                if v.when.is_empty() {
                    "any other value".to_string()
                } else {
                    v.when
                        .iter()
                        .map(|w| format!("`{by_enum}::{w}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ));
            quote!(#vd #vi(#t),)
        })
        .collect()
}

/// `choose`: decodes a `Value` as the variant the selector picks (or `Raw`, or the default,
/// or a guess from the payload's keys).
fn choose_fn(
    by: &Ident,
    variants: &[ChosenVariant],
    raw: bool,
    default: Option<&str>,
    guess_key: Option<&(String, String)>,
) -> TokenStream {
    let choose_arms = selector_arms(variants, |wi, vi| {
        if raw {
            quote! {
                Some(#by::#wi) => match crate::json::from_value(&value) {
                    Ok(v) => Ok(Self::#vi(v)),
                    Err(_) => Ok(Self::Raw(value)),
                },
            }
        } else {
            quote!(Some(#by::#wi) => crate::json::from_value(&value).map(Self::#vi),)
        }
    });
    let fallback = match (raw, default, guess_key) {
        (true, _, _) => quote!(_ => Ok(Self::Raw(value)),),
        (false, Some(def), Some((key, guess))) => {
            let di = ident(def);
            let gi = ident(guess);
            quote! {
                Some(_) => crate::json::from_value(&value).map(Self::#di),
                None => {
                    if value.get(#key).is_some() {
                        crate::json::from_value(&value).map(Self::#gi)
                    } else {
                        crate::json::from_value(&value).map(Self::#di)
                    }
                }
            }
        }
        (false, Some(def), None) => {
            let di = ident(def);
            quote!(_ => crate::json::from_value(&value).map(Self::#di),)
        }
        (false, None, _) => quote!(_ => Err("no variant matches".to_string()),),
    };
    let choose_doc = doc(if raw {
        "Decodes `value` as the variant `selector` picks; unknown selectors and mismatching payloads give `Raw`."
    } else {
        "Decodes `value` as the variant `selector` picks (`None`: guessed from the payload's keys). The error names the JSON path."
    });
    quote! {
        #choose_doc
        pub fn choose(selector: Option<&#by>, value: serde_json::Value) -> Result<Self, String> {
            match selector {
                #(#choose_arms)*
                #fallback
            }
        }
    }
}

/// One match arm per selector value of each variant: `arm(selector value, variant)`.
fn selector_arms(
    variants: &[ChosenVariant],
    arm: impl Fn(&Ident, &Ident) -> TokenStream,
) -> Vec<TokenStream> {
    variants
        .iter()
        .flat_map(|v| {
            let vi = ident(&v.name);
            v.when.iter().map(move |w| (ident(w), vi.clone()))
        })
        .map(|(wi, vi)| arm(&wi, &vi))
        .collect()
}

/// `choose_str`: the selected variant straight from the JSON text (one pass, no tree); on any
/// miss (no selector, an unknown one, a payload that does not decode) the text is parsed into a
/// `Value` and `choose` decides, so results and errors are exactly `choose`'s.
fn choose_str_fn(
    by: &Ident,
    variants: &[ChosenVariant],
    raw: bool,
    default: Option<&str>,
) -> TokenStream {
    let fast_arms = selector_arms(
        variants,
        |wi, vi| quote!(Some(#by::#wi) => serde_json::from_str(json).ok().map(Self::#vi),),
    );
    let fast_default = match (raw, default) {
        (false, Some(def)) => {
            let di = ident(def);
            quote!(Some(_) => serde_json::from_str(json).ok().map(Self::#di),)
        }
        _ => quote!(),
    };
    let choose_str_doc = doc(if raw {
        "Like `choose`, for the payload's JSON text: the variant `selector` picks is decoded straight from the text (no `Value` tree), and only an unknown selector or a mismatching payload parses it into the `Raw` value. Errs only when `json` is not JSON."
    } else {
        "Like `choose`, for the payload's JSON text: the variant `selector` picks is decoded straight from the text (no `Value` tree); without a selector, or when that fails, the result (and the error, with its JSON path) is `choose`'s. Also errs when `json` is not JSON."
    });
    quote! {
        #choose_str_doc
        pub fn choose_str(selector: Option<&#by>, json: &str) -> Result<Self, String> {
            let typed = match selector {
                #(#fast_arms)*
                #fast_default
                _ => None,
            };
            match typed {
                Some(v) => Ok(v),
                None => {
                    let value = serde_json::from_str(json).map_err(|e| e.to_string())?;
                    Self::choose(selector, value)
                }
            }
        }
    }
}

/// `Serialize` (the variant's payload as is) and `Deserialize` (`choose` without a selector).
fn chosen_serde(name: &Ident, variants: &[ChosenVariant], raw: bool) -> TokenStream {
    let ser_arms = variants.iter().map(|v| {
        let vi = ident(&v.name);
        quote!(Self::#vi(v) => v.serialize(serializer),)
    });
    let ser_raw = if raw {
        quote!(Self::Raw(v) => v.serialize(serializer),)
    } else {
        quote!()
    };
    quote! {
        impl serde::Serialize for #name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                match self {
                    #(#ser_arms)*
                    #ser_raw
                }
            }
        }
        impl<'de> serde::Deserialize<'de> for #name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = <serde_json::Value as serde::Deserialize>::deserialize(deserializer)?;
                Self::choose(None, value).map_err(serde::de::Error::custom)
            }
        }
    }
}

/// `Deserialize` for a struct whose `oneOf` field is chosen by a sibling: decode the rest first,
/// keep the union buffered (its JSON text from serde_json, else a `Value`), then pick and decode
/// its variant from the sibling's value.
pub(super) fn chosen_deserialize(name: &Ident, fields: &[Field], c: &ChosenBy) -> TokenStream {
    let empty = quote!();
    let owner = name.to_string();
    let wire_fields = fields.iter().map(|f| {
        let fi = ident(&f.rust);
        let attrs = field_serde_attrs(&owner, f);
        if f.wire == c.field {
            if f.required && !f.nullable {
                quote!(#attrs #[serde(borrow)] #fi: crate::de::Buffered<'a>,)
            } else {
                quote!(#attrs #[serde(borrow)] #fi: Option<crate::de::Buffered<'a>>,)
            }
        } else {
            let t = field_ty(f, &empty);
            quote!(#attrs #fi: #t,)
        }
    });
    let union = ident(&c.union);
    let by_field = fields
        .iter()
        .find(|f| f.wire == c.by)
        .expect("checked in the model");
    let by = ident(&by_field.rust);
    let selector = if by_field.required && !by_field.nullable {
        quote!(Some(&wire.#by))
    } else {
        quote!(wire.#by.as_ref())
    };
    let target = fields
        .iter()
        .find(|f| f.wire == c.field)
        .expect("checked in the model");
    let ti = ident(&target.rust);
    let wire_name = &c.field;
    let choose = quote! {
        match v {
            crate::de::Buffered::Text(text) => #union::choose_str(#selector, &text),
            crate::de::Buffered::Value(value) => #union::choose(#selector, value),
        }
        .map_err(|e| serde::de::Error::custom(format!("{}: {e}", #wire_name)))?
    };
    let decode = if target.required && !target.nullable {
        quote! {
            let #ti = {
                let v = wire.#ti;
                #choose
            };
        }
    } else {
        quote! {
            let #ti = match wire.#ti {
                Some(v) => Some(#choose),
                None => None,
            };
        }
    };
    let inits = fields.iter().map(|f| {
        let fi = ident(&f.rust);
        if f.wire == c.field {
            quote!(#fi,)
        } else {
            quote!(#fi: wire.#fi,)
        }
    });
    quote! {
        impl<'de> serde::Deserialize<'de> for #name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                #[derive(serde::Deserialize)]
                struct Wire<'a> {
                    #(#wire_fields)*
                }
                let wire = Wire::deserialize(deserializer)?;
                #decode
                Ok(Self { #(#inits)* })
            }
        }
    }
}
