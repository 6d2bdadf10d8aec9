//! JSON Schemas of a model: checked against their meta-schema, local
//! references only (a remote `$ref` is refused), linear-time regexes.

use crate::error::ModelError;
use serde_json::Value as Json;

/// A compiled JSON Schema.
pub(crate) struct Schema {
    validator: jsonschema::Validator,
}

impl std::fmt::Debug for Schema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Schema")
    }
}

/// One way an instance fails its schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// JSON Pointer (RFC 6901) of the failing part of the instance (`""` is the whole).
    pub pointer: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pointer = if self.pointer.is_empty() {
            "/"
        } else {
            &self.pointer
        };
        write!(f, "{pointer}: {}", self.message)
    }
}

impl Schema {
    /// Compiles `schema` (found at `path` in the model).
    pub(crate) fn compile(schema: &Json, path: &str) -> Result<Schema, Vec<ModelError>> {
        let mut errors = Vec::new();
        remote_refs(schema, &mut String::new(), path, &mut errors);
        if !errors.is_empty() {
            return Err(errors);
        }
        if let Err(e) = jsonschema::meta::validate(schema) {
            let at = e.instance_path().to_string();
            return Err(vec![ModelError::new(
                format!("{path}{}", pointer_suffix(&at)),
                format!("not a valid JSON Schema: {}", e.masked()),
            )]);
        }
        let validator = jsonschema::options()
            .offline()
            .with_pattern_options(jsonschema::PatternOptions::regex())
            .build(schema)
            .map_err(|e| {
                vec![ModelError::new(
                    path.to_owned(),
                    format!("not a usable JSON Schema: {}", e.masked()),
                )]
            })?;
        Ok(Schema { validator })
    }

    /// Every way `instance` fails this schema (empty when valid).
    pub(crate) fn violations(&self, instance: &Json) -> Vec<Violation> {
        if self.validator.is_valid(instance) {
            return Vec::new();
        }
        self.validator
            .iter_errors(instance)
            .map(|e| Violation {
                pointer: e.instance_path().to_string(),
                message: e.masked().to_string(),
            })
            .collect()
    }
}

fn pointer_suffix(pointer: &str) -> String {
    if pointer.is_empty() {
        String::new()
    } else {
        format!(" (at {pointer})")
    }
}

/// Refuses every reference that is not local to the document (`#…`).
fn remote_refs(schema: &Json, at: &mut String, path: &str, errors: &mut Vec<ModelError>) {
    match schema {
        Json::Object(o) => {
            for (k, v) in o {
                let len = at.len();
                at.push('/');
                at.push_str(&k.replace('~', "~0").replace('/', "~1"));
                if matches!(k.as_str(), "$ref" | "$dynamicRef" | "$recursiveRef")
                    && let Json::String(r) = v
                    && !r.starts_with('#')
                {
                    errors.push(ModelError::new(
                        format!("{path} (at {at})"),
                        format!("remote reference `{r}` refused: a model's schemas may only refer inside themselves (`#/...`)"),
                    ));
                }
                remote_refs(v, at, path, errors);
                at.truncate(len);
            }
        }
        Json::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                let len = at.len();
                at.push('/');
                at.push_str(&i.to_string());
                remote_refs(v, at, path, errors);
                at.truncate(len);
            }
        }
        _ => {}
    }
}
