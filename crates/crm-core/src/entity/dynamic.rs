//! Smart processes (dynamic types): entity types an administrator creates at run time
//! with `crm.type.add`. Every one has the same description, parameterised by its
//! `entityTypeId` (its table, its stage lists `DYNAMIC_<id>_STAGE_<category>`, its
//! contact binding set); descriptions are made once per type id and kept, so they are
//! `&'static` like the built-in ones.

use super::model::{BindingKind, EntityDef, EntityType, Fixed, Naming, StageField};
use crate::field::{FieldDef, FieldType as T};
use crate::reference::BASE_CURRENCY;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

const fn f(name: &'static str, ty: T, title: &'static str) -> FieldDef {
    FieldDef::new(name, ty, title)
}

/// The lowest `entityTypeId` handed out automatically; later ones are the next even
/// numbers. A client may also choose one from 128 to 192.
pub const FIRST_ID: i64 = 1030;

/// Whether `id` is an `entityTypeId` a smart process may have: 128–192, or an even
/// number from 1030.
pub fn valid_id(id: i64) -> bool {
    (128..=192).contains(&id) || (id >= FIRST_ID && id % 2 == 0)
}

/// The fields of a smart process's items (`crm.item.fields`), under the classic-style
/// names the universal API translates (`DATE_CREATE` → `createdTime`).
static FIELDS: &[FieldDef] = &[
    f("ID", T::Integer, "ID").ro(),
    f("XML_ID", T::String, "External ID"),
    f("TITLE", T::String, "Name"),
    f("CREATED_BY_ID", T::User, "Created by").ro(),
    f("MODIFY_BY_ID", T::User, "Updated by").ro(),
    f("MOVED_BY_ID", T::User, "Moved by").ro(),
    f("DATE_CREATE", T::DateTime, "Created on").ro(),
    f("DATE_MODIFY", T::DateTime, "Updated on").ro(),
    f("MOVED_TIME", T::DateTime, "Moved on").ro(),
    f("CATEGORY_ID", T::CrmCategory, "Pipeline").immutable(),
    f("OPENED", T::Char, "Available to everyone"),
    f("STAGE_ID", T::CrmStatus, "Stage"),
    f("STAGE_SEMANTIC_ID", T::String, "Stage semantics")
        .ro()
        .hidden(),
    f("PREVIOUS_STAGE_ID", T::CrmStatus, "Previous stage").ro(),
    f("BEGINDATE", T::Date, "Start date"),
    f("CLOSEDATE", T::Date, "End date"),
    f("COMPANY_ID", T::CrmCompany, "Company").parent(4),
    f("CONTACT_ID", T::CrmContact, "Contact").parent(3),
    f("CONTACT_IDS", T::CrmContact, "Contacts")
        .multi()
        .write_only(),
    f("OPPORTUNITY", T::Double, "Amount"),
    f("IS_MANUAL_OPPORTUNITY", T::Char, "Manual amount"),
    f("TAX_VALUE", T::Double, "Tax"),
    f("CURRENCY_ID", T::CrmCurrency, "Currency"),
    f("MYCOMPANY_ID", T::CrmCompany, "Your company details").parent(4),
    f("SOURCE_ID", T::CrmStatus, "Source").status("SOURCE"),
    f("SOURCE_DESCRIPTION", T::String, "Source information"),
    f("ASSIGNED_BY_ID", T::User, "Responsible person"),
    f("LAST_ACTIVITY_BY", T::User, "Last activity by").ro(),
    f("LAST_ACTIVITY_TIME", T::DateTime, "Last activity on").ro(),
];

/// The description of the smart process with this `entityTypeId`.
pub(super) fn def(entity_type_id: i64) -> &'static EntityDef {
    static DEFS: OnceLock<Mutex<HashMap<i64, &'static EntityDef>>> = OnceLock::new();
    let mut defs = DEFS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    defs.entry(entity_type_id)
        .or_insert_with(|| Box::leak(Box::new(describe(entity_type_id))))
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn describe(id: i64) -> EntityDef {
    let entity = EntityType::Dynamic(id);
    let contacts = BindingKind {
        code: leak(format!("dynamic_{id}_contact")),
        owner: entity,
        bound: EntityType::Contact,
        bound_key: "CONTACT_ID",
        owner_column: "CONTACT_ID",
        ids_field: "CONTACT_IDS",
    };
    EntityDef {
        type_id: id,
        code: leak(format!("dynamic_{id}")),
        plural: leak(format!("dynamic_{id}_items")),
        title: "Item",
        table: leak(format!("crm_dynamic_{id}")),
        fields: FIELDS,
        stage: Some(StageField {
            field: "STAGE_ID",
            semantic_field: "STAGE_SEMANTIC_ID",
            status_entity: leak(stage_list(id)),
            category_field: Some("CATEGORY_ID"),
            closed_time: None,
            closed_flag: None,
            close_date: None,
            new_flag: None,
            previous: Some("PREVIOUS_STAGE_ID"),
            unknown: Some("Unknown stage"),
        }),
        owns: Box::leak(Box::new([contacts])),
        held: &[],
        defaults: &[
            ("OPPORTUNITY", Fixed::Real(0.0)),
            ("CURRENCY_ID", Fixed::Text(BASE_CURRENCY)),
            ("IS_MANUAL_OPPORTUNITY", Fixed::Text("N")),
        ],
        computed: &[],
        naming: Naming::Keep,
        returning_customer: false,
        missing_on_update: "Element not found",
    }
}

/// The base of a smart process's stage lists: `DYNAMIC_<id>_STAGE` (the list of category
/// N is `DYNAMIC_<id>_STAGE_<N>`).
pub fn stage_list(entity_type_id: i64) -> String {
    format!("DYNAMIC_{entity_type_id}_STAGE")
}

/// The prefix of the stage codes of a smart process's category: `DT<id>_<category>:`.
pub fn stage_prefix(entity_type_id: i64, category: i64) -> String {
    format!("DT{entity_type_id}_{category}:")
}

/// The smart process and category of a stage list (`DYNAMIC_1030_STAGE_7` → (1030, 7)).
pub fn parse_stage_list(entity_id: &str) -> Option<(i64, i64)> {
    let rest = entity_id.strip_prefix("DYNAMIC_")?;
    let (id, category) = rest.split_once("_STAGE_")?;
    let id: i64 = id.parse().ok().filter(|i| valid_id(*i))?;
    let category: i64 = category.parse().ok().filter(|c| *c > 0)?;
    Some((id, category))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_lists() {
        assert!(valid_id(128) && valid_id(192) && valid_id(1030) && valid_id(2024));
        assert!(!valid_id(127) && !valid_id(1031) && !valid_id(500) && !valid_id(1028));
        assert_eq!(parse_stage_list("DYNAMIC_1030_STAGE_7"), Some((1030, 7)));
        assert_eq!(parse_stage_list("DYNAMIC_1031_STAGE_7"), None);
        assert_eq!(parse_stage_list("DEAL_STAGE_7"), None);
        let d = def(1030);
        assert!(std::ptr::eq(d, def(1030)));
        assert_eq!((d.table, d.code), ("crm_dynamic_1030", "dynamic_1030"));
        assert_eq!(d.owns[0].code, "dynamic_1030_contact");
        assert_eq!(
            crate::entity::binding_kind("dynamic_1030_contact").map(|k| k.owner),
            Some(EntityType::Dynamic(1030))
        );
        assert_eq!(
            EntityType::parse_code("DYNAMIC_1030"),
            Some(EntityType::Dynamic(1030))
        );
    }
}
