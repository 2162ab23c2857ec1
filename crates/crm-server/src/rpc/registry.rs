//! The method registry: Bitrix method names mapped to typed handlers, erased once at
//! registration (the idea of axum's `Handler`, for our one-parameter case).

use crate::rpc::{ApiError, Ctx};
use crate::wire::params::from_params;
use crm_core::identity::Scope;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A method's output: the `result`, plus `next`/`total` for list methods.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The envelope's `result`.
    pub result: Value,
    /// Offset of the next page, when there is one.
    pub next: Option<i64>,
    /// Total number of matching rows (list methods).
    pub total: Option<i64>,
}

/// A page of a list method.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The rows.
    pub items: T,
    /// Offset of the next page.
    pub next: Option<i64>,
    /// Total count.
    pub total: i64,
}

/// The one spelling of a method name: surrounding blanks and slashes dropped (the PHP
/// SDK calls `…//crm.lead.add/`), lower case, without a `.json` or `.xml` format suffix.
/// The HTTP route and `batch` both look methods up through this.
pub fn canonical_name(raw: &str) -> String {
    let lower = raw.trim().trim_matches('/').to_ascii_lowercase();
    for suffix in [".json", ".xml"] {
        if let Some(stripped) = lower.strip_suffix(suffix) {
            return stripped.to_string();
        }
    }
    lower
}

/// The boxed future of an erased method.
pub type MethodFuture = Pin<Box<dyn Future<Output = Result<Reply, ApiError>> + Send>>;
type Erased = Arc<dyn Fn(Ctx, Arc<Value>) -> MethodFuture + Send + Sync>;

/// A registered method.
#[derive(Clone)]
pub struct MethodSpec {
    /// Canonical lower-case name (`crm.lead.contact.add`).
    pub name: &'static str,
    /// Scope required (`None` = global scope).
    pub scope: Option<Scope>,
    /// Whether `batch` may call it.
    pub batchable: bool,
    /// Which credentials may call it.
    pub auth: AuthRule,
    call: Erased,
}

/// Which kinds of credentials may call a method; the others get `WRONG_AUTH_TYPE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthRule {
    /// Webhooks and access tokens.
    Any,
    /// Only an application's access token (a portal's `event.*`, `placement.*`).
    AppOnly,
    /// Only an incoming webhook.
    WebhookOnly,
}

impl AuthRule {
    /// Whether a caller passes who presented an access token (`token`) or a webhook.
    pub fn admits(self, token: bool) -> bool {
        match self {
            Self::Any => true,
            Self::AppOnly => token,
            Self::WebhookOnly => !token,
        }
    }
}

impl std::fmt::Debug for MethodSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MethodSpec")
            .field("name", &self.name)
            .field("scope", &self.scope)
            .field("batchable", &self.batchable)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl MethodSpec {
    /// Runs the method (no scope check: see [`crate::rpc::dispatch`]).
    pub fn invoke(&self, ctx: Ctx, params: Arc<Value>) -> MethodFuture {
        (self.call)(ctx, params)
    }
}

/// Every method, by canonical name.
#[derive(Debug, Default)]
pub struct Registry {
    methods: BTreeMap<&'static str, MethodSpec>,
}

/// A handler's output as the answer's `result`. Most handlers build a `Value` or a JSON
/// object already: those are taken as they are (serialising them into a new `Value` copied
/// every answer, a tenth of a `crm.lead.get`'s instructions); any other type is serialised.
fn to_result<T: Serialize + 'static>(out: T) -> Result<serde_json::Value, ApiError> {
    let mut slot = Some(out);
    let any = &mut slot as &mut dyn std::any::Any;
    if let Some(value) = any.downcast_mut::<Option<serde_json::Value>>() {
        return Ok(value.take().unwrap_or_default());
    }
    if let Some(object) = any.downcast_mut::<Option<serde_json::Map<String, serde_json::Value>>>() {
        return Ok(serde_json::Value::Object(object.take().unwrap_or_default()));
    }
    serde_json::to_value(slot).map_err(|e| ApiError::Internal(e.to_string()))
}

fn bad_params(e: impl std::fmt::Display) -> ApiError {
    ApiError::Invalid(format!("Invalid parameters: {e}"))
}

impl Registry {
    fn insert(&mut self, name: &'static str, scope: Option<Scope>, call: Erased) -> &mut Self {
        assert_eq!(
            name,
            name.to_ascii_lowercase(),
            "method names are registered in lower case"
        );
        let spec = MethodSpec {
            name,
            scope,
            batchable: true,
            auth: AuthRule::Any,
            call,
        };
        assert!(
            self.methods.insert(name, spec).is_none(),
            "method `{name}` registered twice"
        );
        self
    }

    /// Erases a typed handler: parameters are read leniently into `P`, the handler's
    /// output `O` becomes a [`Reply`] through `reply`.
    fn typed<P, O, F, Fut>(
        &mut self,
        name: &'static str,
        scope: Option<Scope>,
        f: F,
        reply: fn(O) -> Result<Reply, ApiError>,
    ) -> &mut Self
    where
        P: DeserializeOwned + Send + 'static,
        O: Send + 'static,
        F: Fn(Ctx, P) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<O, ApiError>> + Send + 'static,
    {
        let call: Erased = Arc::new(move |ctx, params| {
            let f = f.clone();
            Box::pin(async move {
                let p: P = from_params(&params).map_err(bad_params)?;
                reply(f(ctx, p).await?)
            })
        });
        self.insert(name, scope, call)
    }

    /// Registers `f` under `name`: parameters are read leniently into `P`; the output
    /// becomes `result`.
    pub fn method<P, R, F, Fut>(
        &mut self,
        name: &'static str,
        scope: Option<Scope>,
        f: F,
    ) -> &mut Self
    where
        P: DeserializeOwned + Send + 'static,
        R: Serialize + Send + 'static,
        F: Fn(Ctx, P) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<R, ApiError>> + Send + 'static,
    {
        self.typed(name, scope, f, |out: R| {
            Ok(Reply {
                result: to_result(out)?,
                next: None,
                total: None,
            })
        })
    }

    /// Registers a list method: its `Page` becomes `result`, `next` and `total`.
    pub fn list_method<P, R, F, Fut>(
        &mut self,
        name: &'static str,
        scope: Option<Scope>,
        f: F,
    ) -> &mut Self
    where
        P: DeserializeOwned + Send + 'static,
        R: Serialize + Send + 'static,
        F: Fn(Ctx, P) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<Page<R>, ApiError>> + Send + 'static,
    {
        self.typed(name, scope, f, |page: Page<R>| {
            Ok(Reply {
                result: to_result(page.items)?,
                next: page.next,
                total: Some(page.total),
            })
        })
    }

    /// Registers a method whose handler builds the whole [`Reply`] (a list method whose
    /// `total` is left out in some answers).
    pub fn reply_method<P, F, Fut>(
        &mut self,
        name: &'static str,
        scope: Option<Scope>,
        f: F,
    ) -> &mut Self
    where
        P: DeserializeOwned + Send + 'static,
        F: Fn(Ctx, P) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<Reply, ApiError>> + Send + 'static,
    {
        self.typed(name, scope, f, Ok)
    }

    /// Restricts the method `name` to the given kinds of credentials.
    pub fn only_for(&mut self, name: &str, rule: AuthRule) -> &mut Self {
        if let Some(m) = self.methods.get_mut(name) {
            m.auth = rule;
        }
        self
    }

    /// Marks the method `name` as not callable from `batch`.
    pub fn not_batchable(&mut self, name: &str) -> &mut Self {
        if let Some(m) = self.methods.get_mut(name) {
            m.batchable = false;
        }
        self
    }

    /// Finds a method by its name as a client wrote it, in a URL or a `batch` command
    /// (see [`canonical_name`]).
    pub fn get(&self, name: &str) -> Option<&MethodSpec> {
        self.methods.get(canonical_name(name).as_str())
    }

    /// Every method, by name.
    pub fn iter(&self) -> impl Iterator<Item = &MethodSpec> {
        self.methods.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_have_one_spelling() {
        for raw in [
            "crm.lead.add",
            "CRM.Lead.Add",
            "crm.lead.add.json",
            "crm.lead.add.XML",
            " /crm.lead.add/ ",
        ] {
            assert_eq!(canonical_name(raw), "crm.lead.add", "{raw:?}");
        }
        assert_eq!(canonical_name("server.time.json.xml"), "server.time.json");
    }
}
