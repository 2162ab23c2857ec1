//! CRM entity types: each one a description ([`EntityDef`]) registered here.
//!
//! Adding an entity is its description (a file like `lead.rs`), its migration and a
//! line in each of [`EntityType`], [`EntityType::def`] and [`EntityType::ALL`]; its
//! methods are one registration line in the server.

mod company;
mod contact;
mod deal;
pub mod dynamic;
mod lead;
mod model;

pub use company::COMPANY;
pub use contact::{CONTACT, CONTACT_COMPANY};
pub use deal::{DEAL, DEAL_CONTACT};
pub use lead::{LEAD, LEAD_CONTACT};
pub use model::{BindingKind, EntityDef, EntityType, Fixed, Naming, StageField};

use crate::field::{FieldDef, Storage};

impl EntityType {
    /// Every built-in entity type (smart processes are data: see [`dynamic`]).
    pub const ALL: [Self; 4] = [Self::Lead, Self::Contact, Self::Deal, Self::Company];

    /// The entity's description.
    pub fn def(self) -> &'static EntityDef {
        match self {
            Self::Lead => &LEAD,
            Self::Contact => &CONTACT,
            Self::Deal => &DEAL,
            Self::Company => &COMPANY,
            Self::Dynamic(id) => dynamic::def(id),
        }
    }

    /// The entity type of an `entityTypeId`: a built-in one, or a smart process's when
    /// the id is one a smart process may have (whether it exists is the store's to say).
    pub fn from_type_id(id: i64) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|e| e.type_id() == id)
            .or_else(|| dynamic::valid_id(id).then_some(Self::Dynamic(id)))
    }

    /// The portal's `entityTypeId`.
    pub fn type_id(self) -> i64 {
        self.def().type_id
    }

    /// The lower-case code used in role grants and on the command line (`lead`).
    pub fn code(self) -> &'static str {
        self.def().code
    }

    /// Parses a [`EntityType::code`] (case-insensitive; `dynamic_1030` for a smart
    /// process).
    pub fn parse_code(code: &str) -> Option<Self> {
        let code = code.trim();
        Self::ALL
            .into_iter()
            .find(|e| e.code().eq_ignore_ascii_case(code))
            .or_else(|| {
                let id: i64 = code
                    .get(..8)?
                    .eq_ignore_ascii_case("dynamic_")
                    .then(|| code[8..].parse().ok())??;
                dynamic::valid_id(id).then_some(Self::Dynamic(id))
            })
    }

    /// Name used in messages ("Lead", "Contact").
    pub fn title(self) -> &'static str {
        self.def().title
    }

    /// The standard fields, in `*.fields` order.
    pub fn fields(self) -> &'static [FieldDef] {
        self.def().fields
    }

    /// Looks a field up by its exact name.
    pub fn field(self, name: &str) -> Option<&'static FieldDef> {
        self.fields().iter().find(|f| f.name == name)
    }

    /// The fields stored as columns of the entity's table (ID excluded).
    pub fn columns(self) -> impl Iterator<Item = &'static FieldDef> {
        self.fields()
            .iter()
            .filter(|f| f.storage == Storage::Column && f.name != "ID")
    }
}

/// Every binding family of the built-in entities, from the entities that own them.
pub fn binding_kinds() -> impl Iterator<Item = BindingKind> {
    EntityType::ALL
        .into_iter()
        .flat_map(|e| e.def().owns.iter().copied())
}

/// The binding family with this storage code, a smart process's included (for
/// cascades: deleting a contact unbinds it from every set that holds it).
pub fn binding_kind(code: &str) -> Option<BindingKind> {
    binding_kinds().find(|k| k.code == code).or_else(|| {
        let owner = EntityType::parse_code(code.strip_suffix("_contact")?)?;
        owner.def().owns.iter().copied().find(|k| k.code == code)
    })
}

/// The multi-field types, in output order.
pub const MULTIFIELD_TYPES: [&str; 5] = ["PHONE", "EMAIL", "WEB", "IM", "LINK"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_are_consistent() {
        for e in EntityType::ALL {
            let d = e.def();
            assert_eq!(EntityType::parse_code(d.code), Some(e));
            assert!(e.field("ID").is_some(), "{}", d.code);
            for kind in d.owns {
                assert_eq!(kind.owner, e);
                let column = e.field(kind.owner_column).expect("mirror column");
                assert_eq!(column.storage, Storage::Column, "{}", kind.code);
                let ids = e.field(kind.ids_field).expect("ids field");
                assert_eq!(ids.storage, Storage::WriteOnly, "{}", kind.code);
            }
            for (name, _) in d.defaults {
                assert!(e.field(name).is_some(), "{}.{name}", d.code);
            }
            if let Some(stage) = d.stage {
                let optional = [
                    stage.closed_time,
                    stage.closed_flag,
                    stage.close_date,
                    stage.new_flag,
                ];
                for name in [stage.field, stage.semantic_field]
                    .into_iter()
                    .chain(optional.into_iter().flatten())
                {
                    assert!(e.field(name).is_some(), "{}.{name}", d.code);
                }
                let stages = crate::pipeline::Stages::defaults(stage.status_entity);
                assert!(stages.initial(0).is_some(), "{}", d.code);
                if let Some(previous) = stage.previous {
                    assert!(e.field(previous).is_some(), "{}.{previous}", d.code);
                }
                if let Some(category) = stage.category_field {
                    assert!(e.field(category).is_some(), "{}.{category}", d.code);
                }
            }
            if let Naming::Numbered { field, .. } = d.naming {
                assert!(e.field(field).is_some(), "{}.{field}", d.code);
            }
        }
    }
}
