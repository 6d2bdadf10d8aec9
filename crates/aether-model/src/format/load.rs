//! Reading a model from JSON (canonical) or YAML (for authors), and writing
//! its canonical JSON.

use super::Model;
use crate::error::{ModelError, Position};

fn path_of(path: &serde_path_to_error::Path) -> String {
    let p = path.to_string();
    if p.is_empty() || p == "." {
        ".".to_owned()
    } else {
        p
    }
}

fn clamp(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl Model {
    /// Reads a model from its canonical JSON form.
    ///
    /// # Errors
    ///
    /// A [`ModelError`] with the path of the field at fault and the line and
    /// column in `json`: syntax errors, unknown fields, duplicate names,
    /// missing or mistyped fields.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = aether_model::Model::from_json(r#"{"model": "a", "versoin": 1}"#).unwrap_err();
    /// assert!(err.to_string().contains("versoin"), "{err}");
    /// ```
    pub fn from_json(json: &str) -> Result<Model, ModelError> {
        let mut de = serde_json::Deserializer::from_str(json);
        let model: Model = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = path_of(e.path());
            let inner = e.into_inner();
            let position = (inner.line() > 0).then(|| Position {
                line: clamp(inner.line()),
                column: clamp(inner.column()),
            });
            ModelError::new(path, strip_position(&inner.to_string())).at(position)
        })?;
        de.end().map_err(|e| {
            ModelError::new(".", strip_position(&e.to_string())).at(Some(Position {
                line: clamp(e.line()),
                column: clamp(e.column()),
            }))
        })?;
        Ok(model)
    }

    /// Reads a model from YAML (the authors' form; the same fields as JSON).
    ///
    /// # Errors
    ///
    /// As [`Model::from_json`], with the line and column in `yaml`.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = aether_model::Model::from_yaml("model: a\nversion: one\n").unwrap_err();
    /// assert_eq!(err.path, "version");
    /// assert_eq!(err.position.unwrap().line, 2);
    /// ```
    pub fn from_yaml(yaml: &str) -> Result<Model, ModelError> {
        let mut failed_at: Option<String> = None;
        let slot = &mut failed_at;
        let result = serde_saphyr::with_deserializer_from_str(yaml, move |de| {
            serde_path_to_error::deserialize(de).map_err(|e| {
                *slot = Some(path_of(e.path()));
                e.into_inner()
            })
        });
        result.map_err(|e| {
            let position = e.location().map(|l| Position {
                line: clamp(l.line() as usize),
                column: clamp(l.column() as usize),
            });
            let message = first_line(&e.to_string());
            ModelError::new(failed_at.unwrap_or_else(|| ".".to_owned()), message).at(position)
        })
    }

    /// The canonical JSON form (compact; sections and names in the
    /// document's order).
    ///
    /// # Examples
    ///
    /// ```
    /// let yaml = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/models/account.yaml")).unwrap();
    /// let model = aether_model::Model::from_yaml(&yaml).unwrap();
    /// assert_eq!(aether_model::Model::from_json(&model.to_json()).unwrap(), model);
    /// ```
    pub fn to_json(&self) -> String {
        // A model holds only strings, numbers, maps and JSON values: this cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The canonical JSON form, indented for people.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// serde_json appends " at line L column C"; the position is kept apart.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or(message).trim().to_owned()
}
