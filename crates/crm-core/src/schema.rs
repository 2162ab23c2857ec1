//! The fields of an entity type as one call sees them: the standard fields of its
//! description, then the fields defined at run time. Everything that reads a client's
//! field names or writes a row out (`record`, `query`, `item`) takes a [`Schema`], so
//! fields that exist only as data are handled like the described ones.

use crate::entity::{EntityDef, EntityType};
use crate::field::{FieldDef, Storage};

/// The fields of one entity type for one call.
#[derive(Debug, Clone)]
pub struct Schema {
    entity: EntityType,
    /// Fields defined at run time, after the standard ones, in their output order.
    dynamic: Vec<&'static FieldDef>,
}

impl Schema {
    /// The standard fields only.
    pub fn standard(entity: EntityType) -> Self {
        Self {
            entity,
            dynamic: Vec::new(),
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

    /// Every field: the standard ones in `*.fields` order, then the dynamic ones.
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

    /// The fields a filter or an order may name: the stored ones and `ID`.
    pub fn queryable(&self, name: &str) -> Option<&'static FieldDef> {
        self.field(name)
            .filter(|f| f.storage == Storage::Column || f.name == "ID")
    }
}
