//! API errors as Kubernetes `Status` objects: the HTTP code, the reason
//! and the message text kube-apiserver would send, so kubectl prints the
//! familiar lines (`Error from server (NotFound): services "web" not
//! found`). Pure: built here, serialized by the HTTP layer.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ListMeta, Status, StatusDetails};

use crate::{
    resources::ResourceInfo,
    validation::{self, FieldCause},
};

/// The largest request body accepted, as kube-apiserver's 3 MiB limit.
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// An error response.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// `Status.reason` (`NotFound`, `AlreadyExists`, ...).
    pub reason: &'static str,
    /// The human-readable message.
    pub message: String,
    /// The object it concerns, and field causes for `Invalid` (boxed: it
    /// is large and rare, and errors travel in every `Result`).
    pub details: Option<Box<StatusDetails>>,
}

/// `services` in the core group, `deployments.apps` elsewhere.
pub fn qualified(resource: &ResourceInfo) -> String {
    if resource.group.is_empty() {
        resource.plural.to_owned()
    } else {
        format!("{}.{}", resource.plural, resource.group)
    }
}

fn details(resource: &ResourceInfo, name: &str) -> Option<Box<StatusDetails>> {
    Some(Box::new(StatusDetails {
        name: Some(name.to_owned()),
        group: Some(resource.group.to_owned()),
        kind: Some(resource.plural.to_owned()),
        ..StatusDetails::default()
    }))
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    /// 400: malformed body or parameters.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "BadRequest", message)
    }

    /// 401: no or unknown credentials.
    pub fn unauthorized() -> ApiError {
        ApiError::new(401, "Unauthorized", "Unauthorized")
    }

    /// 403: the authorizer said no, worded as kube-apiserver words it.
    pub fn forbidden(
        user: &str,
        verb: &str,
        resource: &ResourceInfo,
        namespace: Option<&str>,
    ) -> ApiError {
        let scope = match namespace {
            Some(ns) if resource.namespaced => format!(" in the namespace \"{ns}\""),
            _ => " at the cluster scope".to_owned(),
        };
        ApiError::new(
            403,
            "Forbidden",
            format!(
                "{} is forbidden: User \"{user}\" cannot {verb} resource \"{}\" in API group \"{}\"{scope}",
                qualified(resource),
                resource.plural,
                resource.group
            ),
        )
    }

    /// 404 for an object.
    pub fn not_found(resource: &ResourceInfo, name: &str) -> ApiError {
        ApiError {
            details: details(resource, name),
            ..ApiError::new(
                404,
                "NotFound",
                format!("{} \"{name}\" not found", qualified(resource)),
            )
        }
    }

    /// 404 for a path that names nothing.
    pub fn no_such_resource() -> ApiError {
        ApiError::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    }

    /// 405.
    pub fn method_not_allowed() -> ApiError {
        ApiError::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
    }

    /// 409: create of an existing name.
    pub fn already_exists(resource: &ResourceInfo, name: &str) -> ApiError {
        ApiError {
            details: details(resource, name),
            ..ApiError::new(
                409,
                "AlreadyExists",
                format!("{} \"{name}\" already exists", qualified(resource)),
            )
        }
    }

    /// 409: a write based on a stale resourceVersion.
    pub fn conflict(resource: &ResourceInfo, name: &str) -> ApiError {
        ApiError {
            details: details(resource, name),
            ..ApiError::new(
                409,
                "Conflict",
                format!(
                    "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; \
                     please apply your changes to the latest version and try again",
                    qualified(resource)
                ),
            )
        }
    }

    /// 410: history or a continue token older than what is kept.
    pub fn expired(message: impl Into<String>) -> ApiError {
        ApiError::new(410, "Expired", message)
    }

    /// 413: a body over [`MAX_BODY_BYTES`].
    pub fn too_large() -> ApiError {
        ApiError::new(
            413,
            "RequestEntityTooLarge",
            format!("Request entity too large: limit is {MAX_BODY_BYTES}"),
        )
    }

    /// 415 for a body in a supported media type that this server cannot
    /// take in that form (a protobuf kind or field it does not convert).
    pub fn unsupported_body(message: impl Into<String>) -> ApiError {
        ApiError::new(415, "UnsupportedMediaType", message)
    }

    /// 415: a content type the verb does not take.
    pub fn unsupported_media_type(content_type: &str) -> ApiError {
        ApiError::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (got {content_type:?})"
            ),
        )
    }

    /// 422: field causes, summarized as kube-apiserver does
    /// (`Deployment.apps "web" is invalid: ...`).
    pub fn invalid(resource: &ResourceInfo, name: &str, causes: &[FieldCause]) -> ApiError {
        let mut details = details(resource, name).unwrap_or_default();
        details.kind = Some(resource.kind.to_owned());
        details.causes = Some(causes.iter().map(FieldCause::to_status_cause).collect());
        ApiError {
            details: Some(details),
            ..ApiError::new(
                422,
                "Invalid",
                validation::invalid_message(resource.group, resource.kind, name, causes),
            )
        }
    }

    /// 500: something failed on the server; the detail is logged, not leaked.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(500, "InternalError", message)
    }

    /// The `Status` object of this error.
    pub fn to_status(&self) -> Status {
        Status {
            code: Some(i32::from(self.code)),
            details: self.details.as_deref().cloned(),
            message: Some(self.message.clone()),
            metadata: ListMeta::default(),
            reason: Some(self.reason.to_owned()),
            status: Some("Failure".to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{resources, validation::Path};

    fn svc() -> &'static ResourceInfo {
        resources::find("", "v1", "services").expect("services")
    }

    #[test]
    fn messages_read_like_kube_apiserver() {
        assert_eq!(
            ApiError::not_found(svc(), "web").message,
            "services \"web\" not found"
        );
        let deploy = resources::find("apps", "v1", "deployments").expect("deployments");
        assert_eq!(
            ApiError::already_exists(deploy, "web").message,
            "deployments.apps \"web\" already exists"
        );
        assert!(ApiError::conflict(svc(), "web").message.starts_with(
            "Operation cannot be fulfilled on services \"web\": the object has been modified"
        ));
        assert_eq!(
            ApiError::forbidden("bob", "list", svc(), Some("default")).message,
            "services is forbidden: User \"bob\" cannot list resource \"services\" in API group \"\" in the namespace \"default\""
        );
        let nodes = resources::find("", "v1", "nodes").expect("nodes");
        assert!(
            ApiError::forbidden("bob", "get", nodes, Some("x"))
                .message
                .ends_with("at the cluster scope")
        );
    }

    #[test]
    fn invalid_carries_causes_and_summarizes_them() {
        let one = FieldCause::invalid(
            &Path::new("spec").child("ports").index(0).child("port"),
            0,
            "must be between 1 and 65535, inclusive",
        );
        let err = ApiError::invalid(svc(), "web", std::slice::from_ref(&one));
        assert_eq!(err.code, 422);
        assert_eq!(
            err.message,
            "Service \"web\" is invalid: spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive"
        );
        let status = err.to_status();
        assert_eq!(status.reason.as_deref(), Some("Invalid"));
        assert_eq!(status.status.as_deref(), Some("Failure"));
        let causes = status.details.and_then(|d| d.causes).expect("causes");
        assert_eq!(causes[0].field.as_deref(), Some("spec.ports[0].port"));

        let deploy = resources::find("apps", "v1", "deployments").expect("deployments");
        let other = FieldCause::required(&Path::new("spec").child("selector"), "");
        let two = ApiError::invalid(deploy, "web", &[one, other]);
        assert!(
            two.message
                .starts_with("Deployment.apps \"web\" is invalid: ["),
            "{}",
            two.message
        );
    }
}
