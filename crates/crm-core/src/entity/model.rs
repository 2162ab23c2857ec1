//! What describes a CRM entity: its identity, its field table, its stage field, the
//! binding sets it owns and its creation rules. Each entity is one [`EntityDef`] value
//! (in `lead.rs`, `contact.rs`, …); the generic code in [`crate::record`], the stores and
//! the methods read these descriptions and hold no entity-specific branches.

use crate::field::FieldDef;

/// A CRM entity type, with the portal's numeric `entityTypeId`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntityType {
    /// Lead (`entityTypeId` 1).
    Lead,
    /// Contact (`entityTypeId` 3).
    Contact,
    /// Deal (`entityTypeId` 2).
    Deal,
    /// Company (`entityTypeId` 4).
    Company,
    /// A smart process's items (`entityTypeId` 128–192 or an even number from 1030),
    /// described by [`super::dynamic`].
    Dynamic(i64),
}

/// The description of one entity type.
#[derive(Debug)]
pub struct EntityDef {
    /// The portal's `entityTypeId`.
    pub type_id: i64,
    /// Lower-case code for role grants, the command line and export files (`lead`).
    pub code: &'static str,
    /// Plural of the code, for counts (`leads`).
    pub plural: &'static str,
    /// Name in messages (`Lead`).
    pub title: &'static str,
    /// The table holding one row per entity, one column per stored field (a fixed
    /// whitelist: SQL never takes a table name from input).
    pub table: &'static str,
    /// The standard fields, in `*.fields` order.
    pub fields: &'static [FieldDef],
    /// The pipeline field, when the entity moves through stages.
    pub stage: Option<StageField>,
    /// The binding sets this entity owns (`crm.lead.contact.*` for leads).
    pub owns: &'static [BindingKind],
    /// Relations this entity is the bound side of that one of its write-only fields
    /// sets from this side (a company's `CONTACT_ID` list of contacts), with that field.
    pub held: &'static [(BindingKind, &'static str)],
    /// Values a new entity gets when the client gives none (or an empty one).
    pub defaults: &'static [(&'static str, Fixed)],
    /// Fields described as writable that the server computes itself; client values
    /// are ignored (`CLOSED` of a deal follows its stage).
    pub computed: &'static [&'static str],
    /// How an entity created without a name is named.
    pub naming: Naming,
    /// Whether `IS_RETURN_CUSTOMER` tracks the entity's company and bindings (leads).
    pub returning_customer: bool,
    /// The error text of `*.update` for a missing entity ("Lead is not found").
    pub missing_on_update: &'static str,
}

/// A constant stored value, for defaults in a description.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fixed {
    /// Text.
    Text(&'static str),
    /// An amount.
    Real(f64),
    /// An integer.
    Int(i64),
    /// A date this many days after the current one in the server's time zone.
    DaysFromToday(i64),
}

/// How an entity created without a name gets one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Naming {
    /// An empty `field` becomes "`prefix` #`id`" once the id is known (`Lead #12`).
    Numbered {
        /// The title field.
        field: &'static str,
        /// The word before the number.
        prefix: &'static str,
    },
    /// A person: when both `NAME` and `LAST_NAME` are empty, `LAST_NAME` becomes
    /// "Untitled".
    Person,
    /// An entity without a name keeps it empty (a smart process item).
    Keep,
}

/// The field that holds an entity's stage, and the fields a stage change updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageField {
    /// The stage code (`STATUS_ID`).
    pub field: &'static str,
    /// The stage's semantics, `P`/`S`/`F` (`STATUS_SEMANTIC_ID`).
    pub semantic_field: &'static str,
    /// The reference list of its stages (`STATUS`, `DEAL_STAGE`); with a category
    /// field, category N > 0 uses the list `<list>_<N>` (see [`crate::pipeline`]).
    pub status_entity: &'static str,
    /// The field naming the entity's category (`CATEGORY_ID` of a deal), if it has
    /// categories; its stage list follows it.
    pub category_field: Option<&'static str>,
    /// Set to the time of a move into a final stage, cleared on a move back
    /// (`DATE_CLOSED` of a lead).
    pub closed_time: Option<&'static str>,
    /// `Y` in a final stage, `N` otherwise (`CLOSED` of a deal).
    pub closed_flag: Option<&'static str>,
    /// Set to the current date on a move into a final stage unless the request sets it
    /// (`CLOSEDATE` of a deal).
    pub close_date: Option<&'static str>,
    /// `Y` while in the initial stage (`IS_NEW` of a deal).
    pub new_flag: Option<&'static str>,
    /// Set to the stage left on a move (`PREVIOUS_STAGE_ID` of a smart process item).
    pub previous: Option<&'static str>,
    /// The error for a stage that is not one of the entity's; `None`: an unknown stage is
    /// ignored (a lead keeps or gets its initial stage).
    pub unknown: Option<&'static str>,
}

/// One owner → bound relation family: an entity (the owner, a lead) bound to many
/// entities of another type (contacts), each binding with a SORT, a ROLE_ID and a
/// primary flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BindingKind {
    /// Stable storage code (`lead_contact`).
    pub code: &'static str,
    /// The entity that owns the set (the lead).
    pub owner: EntityType,
    /// The entity that is bound (the contact).
    pub bound: EntityType,
    /// Name of the bound id in `fields`/`items` (`CONTACT_ID`).
    pub bound_key: &'static str,
    /// The owner's column that mirrors the primary binding (`CONTACT_ID` on the lead).
    pub owner_column: &'static str,
    /// The owner's write-only field that replaces the whole set on add/update
    /// (`CONTACT_IDS`).
    pub ids_field: &'static str,
}
