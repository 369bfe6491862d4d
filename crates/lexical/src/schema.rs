//! The tantivy schema of knowledge items.

use tantivy::TantivyDocument;
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};

use crate::IndexDoc;

/// Bumped whenever the fields or their analysis change; an index with another version is rebuilt.
pub const SCHEMA_VERSION: u32 = 3;

/// The id field's name: also a fast (column) field, so ranked ids are read without the documents.
pub(crate) const ID_FIELD: &str = "id";

/// Name under which the jieba tokenizer is registered.
pub(crate) const TOKENIZER: &str = analysis::TOKENIZER_NAME;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields {
    pub id: Field,
    /// The title as written, for display.
    pub display_title: Field,
    /// Normalised title, segmented; stored for snippets.
    pub title: Field,
    /// Normalised body, segmented; stored for snippets.
    pub body: Field,
    /// Labels and aliases of linked entities; indexed only.
    pub related: Field,
    pub kind: Field,
    pub category: Field,
    pub major: Field,
    pub status: Field,
    pub owner: Field,
    pub owner_level: Field,
    pub products: Field,
    pub faults: Field,
    pub tags: Field,
    pub version: Field,
}

pub(crate) fn build() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let segmented = |stored: bool| {
        let indexing = TextFieldIndexing::default()
            .set_tokenizer(TOKENIZER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions);
        let options = TextOptions::default().set_indexing_options(indexing);
        if stored { options.set_stored() } else { options }
    };
    let fields = Fields {
        id: builder.add_text_field(ID_FIELD, STRING | STORED | FAST),
        display_title: builder.add_text_field("display_title", STORED),
        title: builder.add_text_field("title", segmented(true)),
        body: builder.add_text_field("body", segmented(true)),
        related: builder.add_text_field("related", segmented(false)),
        kind: builder.add_text_field("kind", STRING | STORED),
        category: builder.add_text_field("category", STRING | STORED),
        major: builder.add_text_field("major", STRING | STORED),
        status: builder.add_text_field("status", STRING | STORED),
        owner: builder.add_text_field("owner", STRING | STORED),
        owner_level: builder.add_text_field("owner_level", STRING | STORED),
        products: builder.add_text_field("products", STRING | STORED),
        faults: builder.add_text_field("faults", STRING | STORED),
        tags: builder.add_text_field("tags", STRING | STORED),
        version: builder.add_u64_field("version", INDEXED | STORED | FAST),
    };
    (builder.build(), fields)
}

impl Fields {
    pub(crate) fn document(&self, doc: &IndexDoc) -> TantivyDocument {
        let mut out = TantivyDocument::default();
        out.add_text(self.id, &doc.id);
        out.add_text(self.display_title, &doc.title);
        out.add_text(self.title, analysis::normalize(&doc.title));
        out.add_text(self.body, analysis::normalize(&doc.body));
        if !doc.related.is_empty() {
            out.add_text(self.related, analysis::normalize(&doc.related));
        }
        out.add_text(self.kind, &doc.kind);
        out.add_text(self.status, &doc.status);
        for (field, value) in [
            (self.category, &doc.category),
            (self.major, &doc.major),
            (self.owner, &doc.owner),
            (self.owner_level, &doc.owner_level),
        ] {
            if let Some(value) = value {
                out.add_text(field, value);
            }
        }
        for (field, values) in [(self.products, &doc.products), (self.faults, &doc.faults), (self.tags, &doc.tags)] {
            for value in values {
                out.add_text(field, value);
            }
        }
        out.add_u64(self.version, doc.version);
        out
    }

    /// The first text value of `field` in a stored document ("" when absent).
    pub(crate) fn text(&self, doc: &TantivyDocument, field: Field) -> String {
        use tantivy::schema::Value;
        doc.get_first(field).and_then(|v| v.as_str()).unwrap_or_default().to_string()
    }

    /// A stored document's filterable codes.
    pub(crate) fn codes(&self, doc: &TantivyDocument) -> crate::filters::Codes {
        use tantivy::schema::Value;
        let mut codes = crate::filters::Codes::default();
        for field in FilterField::ALL {
            codes.set(
                field,
                doc.get_all(self.filter_field(field)).filter_map(|v| v.as_str().map(str::to_string)).collect(),
            );
        }
        codes
    }

    /// The filterable field called `name` in requests.
    pub(crate) fn filter_field(&self, name: FilterField) -> Field {
        match name {
            FilterField::Kind => self.kind,
            FilterField::Category => self.category,
            FilterField::Major => self.major,
            FilterField::Status => self.status,
            FilterField::Owner => self.owner,
            FilterField::OwnerLevel => self.owner_level,
            FilterField::Product => self.products,
            FilterField::Fault => self.faults,
            FilterField::Tag => self.tags,
        }
    }
}

impl FilterField {
    /// Every filterable field, in declaration order (`field as usize` indexes it).
    pub const ALL: [FilterField; 9] = [
        FilterField::Kind,
        FilterField::Category,
        FilterField::Major,
        FilterField::Status,
        FilterField::Owner,
        FilterField::OwnerLevel,
        FilterField::Product,
        FilterField::Fault,
        FilterField::Tag,
    ];
}

/// Fields a search can be restricted by (exact codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterField {
    Kind,
    Category,
    Major,
    Status,
    Owner,
    OwnerLevel,
    Product,
    Fault,
    Tag,
}
