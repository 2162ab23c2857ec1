//! The fields of an entity type as one call sees them: the standard fields of its
//! description, then its user fields. Everything that reads a client's field names or
//! writes a row out (`record`, `query`, `item`) takes a [`Schema`], so fields that exist
//! only as data are handled like the described ones.

use crate::entity::{EntityDef, EntityType};
use crate::field::{FieldDef, Storage};
use crate::userfield::UserField;

/// The fields of one entity type for one call.
#[derive(Debug, Clone)]
pub struct Schema {
    entity: EntityType,
    /// User field definitions, in output order (sort key, then id).
    user: Vec<UserField>,
    /// Their descriptors, in the same order.
    dynamic: Vec<&'static FieldDef>,
}

impl Schema {
    /// The standard fields only.
    pub fn standard(entity: EntityType) -> Self {
        Self::with_user_fields(entity, Vec::new())
    }

    /// The standard fields, then these user fields (ordered by sort key, then id).
    pub fn with_user_fields(entity: EntityType, mut user: Vec<UserField>) -> Self {
        user.sort_by_key(|f| (f.sort, f.id));
        let dynamic = user.iter().map(UserField::field_def).collect();
        Self {
            entity,
            user,
            dynamic,
        }
    }

    /// The entity type.
    pub fn entity(&self) -> EntityType {
        self.entity
    }

    /// The entity's description.
    pub fn def(&self) -> &'static EntityDef {
        self.entity.def()
    }

    /// Every field: the standard ones in `*.fields` order, then the user fields.
    pub fn fields(&self) -> impl Iterator<Item = &'static FieldDef> + '_ {
        self.entity
            .fields()
            .iter()
            .chain(self.dynamic.iter().copied())
    }

    /// Looks a field up by its exact name.
    pub fn field(&self, name: &str) -> Option<&'static FieldDef> {
        self.fields().find(|f| f.name == name)
    }

    /// The fields a filter or an order may name: the stored ones and `ID` (a multiple
    /// user field filters but does not sort; see [`crate::query`]).
    pub fn queryable(&self, name: &str) -> Option<&'static FieldDef> {
        self.field(name)
            .filter(|f| matches!(f.storage, Storage::Column | Storage::User) || f.name == "ID")
    }

    /// The user field definitions, in output order.
    pub fn user_fields(&self) -> &[UserField] {
        &self.user
    }

    /// The definition of a user field by name.
    pub fn user_field(&self, name: &str) -> Option<&UserField> {
        self.user.iter().find(|f| f.field_name == name)
    }
}
