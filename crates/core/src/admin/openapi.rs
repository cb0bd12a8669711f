//! The admin API's OpenAPI description (docs/admin-openapi.json, embedded
//! and served at `/api/v1/openapi.json`) and its check against the routes.
//!
//! Invariant (tested): every route of [`super::routes::ROUTES`] is
//! documented, and every documented operation is a route.

/// The description, as committed in the repository.
pub const TEXT: &str = include_str!("../../../../docs/admin-openapi.json");

/// Methods OpenAPI can list under a path.
const METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch"];

/// Every documented `(method, path)` operation.
///
/// # Errors
/// The description is not JSON or has no `paths` object.
pub fn documented() -> Result<Vec<(String, String)>, String> {
    let doc: serde_json::Value =
        serde_json::from_str(TEXT).map_err(|e| format!("docs/admin-openapi.json: {e}"))?;
    let paths = doc
        .get("paths")
        .and_then(serde_json::Value::as_object)
        .ok_or("docs/admin-openapi.json: no paths object")?;
    let mut ops = Vec::new();
    for (path, item) in paths {
        let Some(item) = item.as_object() else {
            continue;
        };
        for method in item.keys().filter(|k| METHODS.contains(&k.as_str())) {
            ops.push((method.clone(), path.clone()));
        }
    }
    Ok(ops)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::routes::ROUTES;
    use super::*;

    #[test]
    fn description_and_routes_agree() {
        let documented = documented().unwrap();
        for &(method, path) in ROUTES {
            assert!(
                documented
                    .iter()
                    .any(|(m, p)| m == method.as_str() && p == path),
                "route {} {path} is not in docs/admin-openapi.json",
                method.as_str()
            );
        }
        for (m, p) in &documented {
            assert!(
                ROUTES
                    .iter()
                    .any(|&(method, path)| method.as_str() == m && path == p),
                "docs/admin-openapi.json documents {m} {p}, which is not served"
            );
        }
    }
}
