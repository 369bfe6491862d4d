//! The records gridkb stores: knowledge items and graph entities (docs/schema.md).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Longest accepted record id, in bytes.
pub const MAX_ID_LEN: usize = 128;
/// Longest accepted item title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest accepted item body, in characters.
pub const MAX_BODY_CHARS: usize = 20_000;
/// Longest accepted entity label, in characters.
pub const MAX_LABEL_CHARS: usize = 500;
/// Most ids one link list may hold.
pub const MAX_LINKS_PER_FIELD: usize = 256;

/// A record as read from input: an item or an entity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
#[expect(
    clippy::large_enum_variant,
    reason = "records travel in batches of mostly one kind; a box per item buys nothing measured"
)]
pub enum Record {
    Item(Item),
    Entity(Entity),
}

impl Record {
    pub fn id(&self) -> &str {
        match self {
            Record::Item(item) => &item.id,
            Record::Entity(entity) => &entity.id,
        }
    }

    pub fn version(&self) -> u32 {
        match self {
            Record::Item(item) => item.version,
            Record::Entity(entity) => entity.version,
        }
    }

    pub fn validate(&self) -> Result<(), FieldError> {
        match self {
            Record::Item(item) => item.validate(),
            Record::Entity(entity) => entity.validate(),
        }
    }
}

/// A knowledge item: what an agent reads out, follows or cites.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    pub id: String,
    pub kind: ItemKind,
    pub title: String,
    pub body: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub products: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contracts: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cases: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub customers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cites: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Category>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_level: Option<OrgLevel>,
    #[serde(default)]
    pub status: Status,
    #[serde(default = "first_version")]
    pub version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub superseded_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The date by which an editor must review the item again (及时更新); past it, the item is
    /// overdue in the editors' lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_by: Option<String>,
}

/// A node of the knowledge graph: a product, a fault, a customer, a labelled ticket, ...
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entity {
    pub id: String,
    pub class: EntityClass,
    pub label: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub links: BTreeMap<String, Vec<String>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attrs: BTreeMap<String, serde_json::Value>,
    #[serde(default = "first_version")]
    pub version: u32,
}

fn first_version() -> u32 {
    1
}

/// Declares a closed vocabulary: a serde-compatible enum with its wire codes and Chinese labels.
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $code:literal / $zh:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name { $(#[serde(rename = $code)] $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The code used on the wire and in the indexes.
            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            /// The Chinese name shown to people.
            pub fn label_zh(self) -> &'static str {
                match self { $($name::$variant => $zh),+ }
            }

            pub fn from_code(code: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.code() == code)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.code())
            }
        }
    };
}

vocabulary! {
    /// What sort of knowledge an item holds.
    ItemKind {
        TechnicalPoint = "technical_point" / "技术要点",
        AnswerStandard = "answer_standard" / "应答规范",
        ResponseStrategy = "response_strategy" / "应对策略",
        SolvedCase = "solved_case" / "解决案例",
        ProductDoc = "product_doc" / "产品文档",
        BusinessRule = "business_rule" / "业务规则",
        Regulation = "regulation" / "法规标准",
        ContractInfo = "contract_info" / "合同信息",
        CustomerInfo = "customer_info" / "客户信息",
        FulfilmentInfo = "fulfilment_info" / "履约信息",
    }
}

vocabulary! {
    /// The eight minor service categories; each belongs to one of four major ones.
    Category {
        ServiceComplaint = "service_complaint" / "服务投诉",
        QualityComplaint = "quality_complaint" / "质量投诉",
        FaultRepair = "fault_repair" / "故障报修",
        ServiceRequest = "service_request" / "服务申请",
        Consultation = "consultation" / "业务咨询",
        Suggestion = "suggestion" / "建议",
        Opinion = "opinion" / "意见",
        Praise = "praise" / "表扬",
    }
}

vocabulary! {
    /// The four major service categories.
    MajorCategory {
        Complaint = "complaint" / "投诉",
        FaultRepair = "fault_repair" / "故障报修",
        ServiceRequest = "service_request" / "服务申请",
        Other = "other" / "其他诉求",
    }
}

impl Category {
    pub fn major(self) -> MajorCategory {
        match self {
            Category::ServiceComplaint | Category::QualityComplaint => MajorCategory::Complaint,
            Category::FaultRepair => MajorCategory::FaultRepair,
            Category::ServiceRequest => MajorCategory::ServiceRequest,
            Category::Consultation | Category::Suggestion | Category::Opinion | Category::Praise => {
                MajorCategory::Other
            }
        }
    }
}

vocabulary! {
    /// Level of the organisation unit that owns an item.
    OrgLevel {
        Hq = "hq" / "总部",
        Province = "province" / "省级",
        City = "city" / "地市级",
        County = "county" / "县级",
    }
}

vocabulary! {
    /// Lifecycle state of an item.
    Status {
        Draft = "draft" / "草稿",
        Review = "review" / "审核中",
        Published = "published" / "已发布",
        Retired = "retired" / "已退役",
    }
}

#[expect(clippy::derivable_impls, reason = "the enum is declared by `vocabulary!`, which cannot mark a default")]
impl Default for Status {
    fn default() -> Self {
        Status::Published
    }
}

vocabulary! {
    /// Node types of the knowledge graph.
    EntityClass {
        ProductLine = "ProductLine" / "产品线",
        ProductModel = "ProductModel" / "产品型号",
        Component = "Component" / "部件",
        Fault = "Fault" / "故障",
        Cause = "Cause" / "原因",
        Solution = "Solution" / "解决方案",
        Customer = "Customer" / "客户",
        Contract = "Contract" / "合同",
        Device = "Device" / "设备",
        Organisation = "Organisation" / "组织",
        Case = "Case" / "案例",
        Ticket = "Ticket" / "工单",
        Concept = "Concept" / "概念",
    }
}

/// A record that breaks the schema, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field `{field}`: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError { field: field.into(), message: message.into() }
    }
}

/// Checks an id against the schema: 1–128 bytes of `[A-Za-z0-9._:-]`.
pub fn validate_id(field: &str, id: &str) -> Result<(), FieldError> {
    if id.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if id.len() > MAX_ID_LEN {
        return Err(FieldError::new(field, format!("longer than {MAX_ID_LEN} bytes")));
    }
    if let Some(bad) = id.chars().find(|c| !(c.is_ascii_alphanumeric() || "._:-".contains(*c))) {
        return Err(FieldError::new(field, format!("`{id}` contains {bad:?}; ids use only A-Z a-z 0-9 . _ : -")));
    }
    Ok(())
}

fn validate_text(field: &str, text: &str, max_chars: usize) -> Result<(), FieldError> {
    if text.trim().is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    let chars = text.chars().count();
    if chars > max_chars {
        return Err(FieldError::new(field, format!("{chars} characters, at most {max_chars} allowed")));
    }
    Ok(())
}

fn validate_ids(field: &str, ids: &[String]) -> Result<(), FieldError> {
    if ids.len() > MAX_LINKS_PER_FIELD {
        return Err(FieldError::new(field, format!("more than {MAX_LINKS_PER_FIELD} ids")));
    }
    ids.iter().try_for_each(|id| validate_id(field, id))
}

fn validate_version(version: u32) -> Result<(), FieldError> {
    if version == 0 {
        return Err(FieldError::new("version", "must be at least 1"));
    }
    Ok(())
}

/// Checks a `YYYY-MM-DD` date, including the number of days in its month.
pub fn validate_date(field: &str, date: &str) -> Result<(), FieldError> {
    match calendar::Date::parse(date) {
        Ok(_) => Ok(()),
        Err(calendar::DateError::Format | calendar::DateError::NoSuchDay) => {
            Err(FieldError::new(field, format!("`{date}` is not a date of the form YYYY-MM-DD")))
        }
    }
}

impl Item {
    pub fn validate(&self) -> Result<(), FieldError> {
        validate_id("id", &self.id)?;
        validate_text("title", &self.title, MAX_TITLE_CHARS)?;
        validate_text("body", &self.body, MAX_BODY_CHARS)?;
        for (field, ids) in [
            ("products", &self.products),
            ("faults", &self.faults),
            ("contracts", &self.contracts),
            ("cases", &self.cases),
            ("customers", &self.customers),
            ("cites", &self.cites),
        ] {
            validate_ids(field, ids)?;
        }
        if let Some(tag) = self.tags.iter().find(|t| t.trim().is_empty() || t.chars().count() > 64) {
            return Err(FieldError::new("tags", format!("tag {tag:?} must be 1–64 characters")));
        }
        if let Some(owner) = &self.owner {
            validate_text("owner", owner, MAX_TITLE_CHARS)?;
        }
        validate_version(self.version)?;
        if let Some(date) = &self.valid_until {
            validate_date("valid_until", date)?;
        }
        if let Some(date) = &self.review_by {
            validate_date("review_by", date)?;
        }
        if let Some(id) = &self.superseded_by {
            validate_id("superseded_by", id)?;
        }
        Ok(())
    }
}

impl Entity {
    pub fn validate(&self) -> Result<(), FieldError> {
        validate_id("id", &self.id)?;
        validate_text("label", &self.label, MAX_LABEL_CHARS)?;
        if let Some(alias) = self.aliases.iter().find(|a| a.trim().is_empty() || a.chars().count() > MAX_TITLE_CHARS) {
            return Err(FieldError::new("aliases", format!("alias {alias:?} must be 1–200 characters")));
        }
        for (relation, ids) in &self.links {
            if relation.is_empty() || !relation.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(FieldError::new("links", format!("relation name {relation:?} must be [A-Za-z0-9_]+")));
            }
            validate_ids(&format!("links.{relation}"), ids)?;
        }
        validate_version(self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item_json(extra: &str) -> String {
        format!(r#"{{"id":"kb-1","kind":"technical_point","title":"CT断线处理","body":"检查二次回路"{extra}}}"#)
    }

    #[test]
    fn item_defaults_and_untagged_dispatch() {
        let record: Record = serde_json::from_str(&item_json("")).expect("valid item");
        let Record::Item(item) = record else { panic!("expected an item") };
        assert_eq!(item.status, Status::Published);
        assert_eq!(item.version, 1);
        item.validate().expect("valid");

        let entity: Record =
            serde_json::from_str(r#"{"id":"pm-1","class":"ProductModel","label":"GKB-931A"}"#).expect("entity");
        assert!(matches!(entity, Record::Entity(_)));
    }

    #[test]
    fn unknown_fields_are_rejected() {
        assert!(serde_json::from_str::<Item>(&item_json(r#","titel":"x""#)).is_err());
    }

    #[test]
    fn validation_names_the_field() {
        let mut item: Item = serde_json::from_str(&item_json("")).expect("valid item");
        item.id = "kb 1".into();
        assert_eq!(item.validate().unwrap_err().field, "id");
        item.id = "kb-1".into();
        item.valid_until = Some("2026-02-30".into());
        assert_eq!(item.validate().unwrap_err().field, "valid_until");
        // A sign is not a digit, though `u32::from_str` takes one.
        item.valid_until = Some("2026-+1-05".into());
        assert_eq!(item.validate().unwrap_err().field, "valid_until");
        item.valid_until = Some("2028-02-29".into());
        item.validate().expect("leap day is a date");
        item.title = "标".repeat(MAX_TITLE_CHARS + 1);
        assert_eq!(item.validate().unwrap_err().field, "title");
    }

    #[test]
    fn categories_map_to_four_majors() {
        let majors: std::collections::BTreeSet<_> = Category::ALL.iter().map(|c| c.major()).collect();
        // Every category's code reads back as that category, and no two share a code.
        for category in Category::ALL {
            assert_eq!(Category::from_code(category.code()), Some(*category));
        }
        let codes: std::collections::BTreeSet<_> = Category::ALL.iter().map(|c| c.code()).collect();
        assert_eq!(codes.len(), Category::ALL.len());
        assert_eq!(majors.len(), 4);
        assert_eq!(Category::from_code("praise").map(Category::major), Some(MajorCategory::Other));
    }
}
