//! Which answer standard and response strategies an agent reads out for a ticket: chosen by what
//! the ticket is about, not by which text scored best.
//!
//! A guidance item declares what it is for: its service category, product lines and models
//! (`products`), faults, and in its tags the customers it is written for (household or
//! organisation, `guidance_rules.json`) and customer tags (停电敏感, 情绪化 ...). A ticket is
//! about a [`Subject`]: the predicted category, the product lines and models of its device and of
//! the products its words name, the faults its words name, whether its writer is a household or
//! an organisation, and the customer's tags. [`rank`] keeps the items whose declarations do not
//! contradict the ticket, most specific first:
//!
//! 1. an item that declares a line, fault or audience the ticket contradicts is refused (an
//!    EV-charger script is never read to a fault-recorder ticket; a time-sync script never to an
//!    SV link break; a household strategy never to a substation engineer) — except that a
//!    response strategy, or an item whose customer tag or topic the ticket's words show (a
//!    repeated visit, a program version), for another line is only put after the others: it is
//!    for a customer and a situation (a quality complaint about a batch), its lines say where it
//!    is most used;
//! 2. the rest are ranked by how much of the ticket they match (fault 4, a fault only inferred
//!    from the ticket's most similar solved cases 3, line 2, model 1, audience 1, each customer
//!    tag 2, the later step of a ticket the item is for 2, each topic of the item the ticket's
//!    words show — spare parts, a damaged delivery, a safety hazard: `topic_tags` — 3; the
//!    audience and the tags count for an answer standard written for a fault only when the ticket
//!    names a fault (its own or an inferred one); in a fault report or a consultation a line or
//!    model counts only beside a matched fault, since every script of a line matches it
//!    there) — but an item for a later step than the ticket's (closing words, an appointment, a
//!    progress answer or a follow-up — `step_tags`) comes after the intake items, however much it
//!    matches, unless the ticket's words show that step —, then (a fault report or a
//!    consultation) a fault's script that nothing beside the words supports comes after the
//!    equally specific items — no fault named or inferred, and none of the ticket's three
//!    closest solved cases about its fault: vague words (红灯一直闪, 嘀嘀响) match some fault's
//!    script, and the category's generic one is the safer read-out; so does, in a fault report
//!    that names no device or product, a line's script —, then items of the
//!    ticket's own category, then in the order the ticket's words rank them. A declaration the
//!    ticket does not speak to (a line when the ticket names no product) neither adds nor
//!    refuses: the words decide among such items and the generic ones. An item with no
//!    declaration (the category's generic one) matches nothing and so comes after every item
//!    that matches something.
//!
//! Category: an item answers its own category; a fault script also answers a fault report or a
//! consultation about the fault it names (快充很慢 is both), and so does the script of another
//! category for a fault that no fault-report or consultation script covers (charging-module
//! faults have only the quality-complaint one), named or, when the ticket names none, inferred. A response strategy for the customer's tags or
//! for a topic the words show (a warranty question) answers any category. Every choice carries its reason, in
//! the agent's language. Every function here is pure.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use serde::Deserialize;
use store::Category;

const RULES_JSON: &str = include_str!("guidance_rules.json");

/// Points of one kind of match: a fault is the most specific thing a ticket can name.
const FAULT_POINTS: u32 = 4;
const INFERRED_FAULT_POINTS: u32 = 3;
const LINE_POINTS: u32 = 2;
const MODEL_POINTS: u32 = 1;
const AUDIENCE_POINTS: u32 = 1;
/// A tag on the customer's record, or a tag or situation their words show (`text_tags`), is
/// about this customer; an audience is about a kind of customer, so a tag weighs more.
const TAG_POINTS: u32 = 2;
/// The ticket's words show the later step an item is for (a progress question, a follow-up).
const STEP_POINTS: u32 = 2;
/// The ticket's words show a topic the item names (`topic_tags`): more than a line, so that a
/// line's script does not win a ticket about another topic (a damaged delivery of a protection
/// device is answered by the delivery script, not the protection repeat-failure one).
const TOPIC_POINTS: u32 = 3;

/// Whom a ticket's writer, or a guidance item's reader, is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Audience {
    /// A household: a resident, a private PV or charger owner.
    Household,
    /// A utility, plant, operator or enterprise, usually its engineers.
    Organisation,
}

impl Audience {
    fn label_zh(self) -> &'static str {
        match self {
            Audience::Household => "个人/居民用户",
            Audience::Organisation => "单位用户",
        }
    }
}

#[derive(Debug, Deserialize)]
struct AudienceTags {
    household: Vec<String>,
    organisation: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct TextTag {
    tag: String,
    words: Vec<String>,
}

/// The bundled rules (`guidance_rules.json`).
#[derive(Debug, Deserialize)]
pub struct GuidanceRules {
    #[serde(rename = "_comment")]
    _comment: String,
    audience_tags: AudienceTags,
    organisation_types: Vec<String>,
    household_words: Vec<String>,
    organisation_words: Vec<String>,
    text_tags: Vec<TextTag>,
    step_tags: Vec<TextTag>,
    topic_tags: Vec<TextTag>,
    vague_words: Vec<String>,
}

impl GuidanceRules {
    pub fn bundled() -> &'static GuidanceRules {
        static RULES: OnceLock<GuidanceRules> = OnceLock::new();
        RULES.get_or_init(|| match serde_json::from_str(RULES_JSON) {
            Ok(rules) => rules,
            // A unit test parses the bundled table: this is a build that skipped its tests.
            Err(e) => panic!("guidance_rules.json does not parse: {e}"),
        })
    }

    /// Every word the rules listen for in a ticket's text.
    pub fn words(&self) -> impl Iterator<Item = &str> {
        let lists = [&self.household_words, &self.organisation_words, &self.vague_words];
        let tagged = [&self.text_tags, &self.step_tags, &self.topic_tags];
        lists.into_iter().flatten().chain(tagged.into_iter().flatten().flat_map(|tag| &tag.words)).map(String::as_str)
    }

    /// The audience a guidance item's tags declare, if any.
    pub fn item_audience(&self, tags: &[String]) -> Option<Audience> {
        let has = |list: &[String]| tags.iter().any(|t| list.contains(t));
        match (has(&self.audience_tags.household), has(&self.audience_tags.organisation)) {
            (true, false) => Some(Audience::Household),
            (false, true) => Some(Audience::Organisation),
            _ => None,
        }
    }

    /// The audience of a customer record's type (`attrs.type`).
    pub fn customer_audience(&self, customer_type: &str) -> Option<Audience> {
        self.organisation_types.iter().any(|t| t == customer_type).then_some(Audience::Organisation)
    }

    /// The audience a ticket's words show, with the word that shows it; none when they show
    /// both or neither.
    pub fn text_audience(&self, text: &str) -> Option<(Audience, String)> {
        let first = |words: &[String]| words.iter().find(|w| text.contains(w.as_str())).cloned();
        match (first(&self.household_words), first(&self.organisation_words)) {
            (Some(word), None) => Some((Audience::Household, word)),
            (None, Some(word)) => Some((Audience::Organisation, word)),
            _ => None,
        }
    }

    /// Customer tags the ticket's words show on their own, each with the word that shows it.
    pub fn text_tags(&self, text: &str) -> Vec<(String, String)> {
        shown(&self.text_tags, text)
    }

    /// The later step of a ticket (after its intake) a guidance item's tags say it is for.
    pub fn item_step(&self, tags: &[String]) -> Option<String> {
        self.step_tags.iter().find(|rule| tags.contains(&rule.tag)).map(|rule| rule.tag.clone())
    }

    /// The topics (`topic_tags`: spare parts, a damaged delivery, a safety hazard ...) a
    /// ticket's words show, each with the word that shows it.
    pub fn text_topics(&self, text: &str) -> Vec<(String, String)> {
        shown(&self.topic_tags, text)
    }

    /// The word by which a ticket says only how its device looks or sounds (红灯一直闪, 嘀嘀响),
    /// not what failed: no fault is inferred for it from its closest cases.
    pub fn vague_word(&self, text: &str) -> Option<&str> {
        self.vague_words.iter().find(|w| text.contains(w.as_str())).map(String::as_str)
    }

    /// The later steps a ticket's words show it has reached, each with the word that shows it.
    pub fn text_steps(&self, text: &str) -> Vec<(String, String)> {
        shown(&self.step_tags, text)
    }
}

/// The tags of `rules` whose words `text` contains, each with the first such word.
fn shown(rules: &[TextTag], text: &str) -> Vec<(String, String)> {
    rules
        .iter()
        .filter_map(|rule| rule.words.iter().find(|w| text.contains(w.as_str())).map(|w| (rule.tag.clone(), w.clone())))
        .collect()
}

/// What a ticket is about, as far as it lets us know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub category: Category,
    /// Product lines of the device and of the products the ticket names.
    pub lines: BTreeSet<String>,
    pub models: BTreeSet<String>,
    /// Faults the ticket names.
    pub faults: BTreeSet<String>,
    /// With no fault named: the fault of the ticket's most similar solved cases. It adds to an
    /// item that declares it, and refuses none.
    pub inferred_faults: BTreeSet<String>,
    /// The faults of the ticket's closest solved cases, on any line: with no fault named or
    /// inferred, a fault's script that only the words put forward is trusted when one of these
    /// cases was about its fault.
    pub case_faults: BTreeSet<String>,
    /// Lines the named faults occur on: with no line known, an item for another line is
    /// still refused.
    pub fault_lines: BTreeSet<String>,
    pub audience: Option<Audience>,
    /// The customer's tags (record) and those the ticket's words show.
    pub tags: BTreeSet<String>,
    /// The later steps (`step_tags`) the ticket's words show it has reached: none for a new
    /// problem.
    pub steps: BTreeSet<String>,
    /// The topics (`topic_tags`) the ticket's words show.
    pub topics: BTreeSet<String>,
}

impl Subject {
    pub fn new(category: Category) -> Subject {
        Subject {
            category,
            lines: BTreeSet::new(),
            models: BTreeSet::new(),
            faults: BTreeSet::new(),
            inferred_faults: BTreeSet::new(),
            case_faults: BTreeSet::new(),
            fault_lines: BTreeSet::new(),
            audience: None,
            tags: BTreeSet::new(),
            steps: BTreeSet::new(),
            topics: BTreeSet::new(),
        }
    }
}

/// The faults that more than half of a ticket's `of` closest solved cases on its line were about
/// (`near`: each such case's linked ids). A case names its cause and solution beside its fault,
/// and they agree as often as the fault does: only the ids `is_fault` accepts vote.
pub fn infer_faults(near: &[impl AsRef<[String]>], of: usize, is_fault: &dyn Fn(&str) -> bool) -> BTreeSet<String> {
    let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
    for case in near {
        let faults: BTreeSet<&str> = case.as_ref().iter().map(String::as_str).filter(|id| is_fault(id)).collect();
        for fault in faults {
            *votes.entry(fault).or_default() += 1;
        }
    }
    votes.into_iter().filter(|(_, n)| n * 2 > of).map(|(fault, _)| fault.to_string()).collect()
}

/// A guidance item as the ranking sees it: its declarations, lines and models resolved from its
/// products, and its place in the ticket's text ranking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: String,
    pub category: Option<Category>,
    pub lines: BTreeSet<String>,
    pub models: BTreeSet<String>,
    pub faults: BTreeSet<String>,
    pub audience: Option<Audience>,
    pub tags: Vec<String>,
    /// The later step of a ticket the item is for (closing words, an appointment, a follow-up):
    /// a ticket that does not show that step gets it only after the items for its intake.
    pub step: Option<String>,
    /// 0 = the ticket's words rank it first among the candidates.
    pub text_rank: usize,
}

/// A chosen item with why it was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub id: String,
    /// Match points (0: nothing matched, e.g. a generic item).
    pub specificity: u32,
    /// The ticket confirms every declaration of the item.
    pub confirmed: bool,
    pub reason: String,
}

/// How one declaration of an item relates to the ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fit {
    /// The item declares nothing here.
    Open,
    Match,
    /// The ticket does not say.
    Unknown,
    Contradicts,
}

fn fit(declared: &BTreeSet<String>, known: &BTreeSet<String>) -> Fit {
    if declared.is_empty() {
        Fit::Open
    } else if known.is_empty() {
        Fit::Unknown
    } else if declared.intersection(known).next().is_some() {
        Fit::Match
    } else {
        Fit::Contradicts
    }
}

/// Fault reports and consultations about a fault share the fault's script.
fn fault_family(category: Category) -> bool {
    matches!(category, Category::FaultRepair | Category::Consultation)
}

fn joined(set: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    set.into_iter().map(|s| s.as_ref().to_string()).collect::<Vec<_>>().join("、")
}

/// What ranks an applicable item, most important first (higher is better): whether it is for the
/// ticket's step, its match points, whether anything beside the words supports the fault it is
/// written for, whether (a strategy) it is for the ticket's line, whether it is of the ticket's
/// own category.
type Standing = (bool, u32, bool, bool, bool);

/// The candidates that apply to `subject`, most specific first (see the module doc); the
/// refused ones are left out. `label` names an entity id for the reasons (its label, or the id).
///
/// `by_customer`: response strategies are chosen for the customer — one that declares a tag of
/// the ticket's customer, or a topic its words show, applies in any category and on any product
/// line.
pub fn rank(
    subject: &Subject,
    candidates: &[Candidate],
    by_customer: bool,
    label: &dyn Fn(&str) -> String,
) -> Vec<Choice> {
    // The named faults that a script of the fault family (a fault report, a consultation)
    // answers: a script of another category written for a fault answers only the others.
    // With none named, the faults inferred from the closest cases stand for them here.
    let known_faults = if subject.faults.is_empty() { &subject.inferred_faults } else { &subject.faults };
    let scripted: BTreeSet<&String> = candidates
        .iter()
        .filter(|c| c.category.is_some_and(fault_family))
        .flat_map(|c| c.faults.intersection(known_faults))
        .collect();
    let mut ranked: Vec<(Standing, usize, Choice)> = Vec::new();
    for c in candidates {
        let in_category = c.category == Some(subject.category);
        let faults = fit(&c.faults, &subject.faults);
        let tags: Vec<&String> = c.tags.iter().filter(|t| subject.tags.contains(*t)).collect();
        let topics: Vec<&String> = c.tags.iter().filter(|t| subject.topics.contains(*t)).collect();
        // A strategy for the customer's tag or for a topic the words show (a warranty
        // question, a repeated failure) is for that situation in any category.
        let for_customer = by_customer && !(tags.is_empty() && topics.is_empty());
        let inferred: Vec<&String> =
            if faults == Fit::Unknown { c.faults.intersection(&subject.inferred_faults).collect() } else { vec![] };
        let cross_category = !in_category
            && fault_family(subject.category)
            && if c.category.is_some_and(fault_family) {
                // A consultation script for a topic the words show (a program version) answers a
                // fault report about it, and the other way round.
                faults == Fit::Match || !inferred.is_empty() || !topics.is_empty()
            } else {
                // The only script for a fault the ticket names (or, naming none, its closest cases
                // were about), written in another category (the quality-complaint script for
                // charging-module faults), answers its report too.
                c.faults.intersection(known_faults).any(|f| !scripted.contains(f))
            };
        if !in_category && !cross_category && !for_customer {
            continue;
        }
        let mut lines = fit(&c.lines, &subject.lines);
        if lines == Fit::Unknown && !subject.fault_lines.is_empty() && c.lines.is_disjoint(&subject.fault_lines) {
            // No line known, but the named fault never occurs on the item's lines.
            lines = Fit::Contradicts;
        }
        if for_customer && lines != Fit::Match {
            // The customer decides, the item's lines only add to it.
            lines = Fit::Open;
        }
        // A strategy is for a customer and a situation, and so is an answer standard whose
        // situation or topic the ticket shows (a repeated visit, a callback never made, a
        // program version): the lines it names are where it is most used, so another line puts
        // it after the others instead of refusing it. A fault the ticket names still refuses a
        // script for another fault.
        let situation = !(tags.is_empty() && topics.is_empty());
        let on_line = !((by_customer || situation) && lines == Fit::Contradicts);
        if !on_line {
            lines = Fit::Open;
        }
        let audience = match (c.audience, subject.audience) {
            (None, _) => Fit::Open,
            (Some(_), None) => Fit::Unknown,
            (Some(a), Some(b)) if a == b => Fit::Match,
            _ => Fit::Contradicts,
        };
        if [faults, lines, audience].contains(&Fit::Contradicts) {
            continue;
        }
        let models: Vec<&String> = c.models.intersection(&subject.models).collect();
        let mut points = 0;
        let mut why = Vec::new();
        if faults == Fit::Match {
            points += FAULT_POINTS;
            why.push(format!("故障：{}", joined(c.faults.intersection(&subject.faults).map(|f| label(f)))));
        }
        if !inferred.is_empty() {
            points += INFERRED_FAULT_POINTS;
            why.push(format!("故障（据相似案例推断）：{}", joined(inferred.iter().map(|f| label(f)))));
        }
        // In a fault report or a consultation the line alone says little (every script of a
        // line matches it): it counts with a matched fault; elsewhere it names the product
        // praised, complained about or asked to change.
        let line_counts = !fault_family(subject.category) || faults == Fit::Match || !inferred.is_empty();
        if lines == Fit::Match && line_counts {
            points += LINE_POINTS;
            let shared: Vec<String> = c.lines.intersection(&subject.lines).map(|l| label(l)).collect();
            if !shared.is_empty() {
                why.push(format!("产品线：{}", joined(shared)));
            }
        }
        if !models.is_empty() && line_counts {
            points += MODEL_POINTS;
            why.push(format!("型号：{}", joined(models.iter().map(|m| label(m)))));
        }
        // An answer standard is read out for a problem: one written for a fault the ticket does
        // not name is not made to fit by whom it is for or by the customer's tags (a charger
        // operator's fault-rate script for a relay complaint; a meter-fault script tagged
        // 电费敏感 for a question about charging fees). A strategy is for the customer: its
        // audience and tags always count.
        let customer_counts = by_customer || !(faults == Fit::Unknown && inferred.is_empty());
        if audience == Fit::Match && customer_counts {
            points += AUDIENCE_POINTS;
            why.push(format!("客户类型：{}", subject.audience.map_or("", Audience::label_zh)));
        }
        if !tags.is_empty() && customer_counts {
            points += TAG_POINTS * tags.len() as u32;
            why.push(format!("客户标签：{}", joined(&tags)));
        }
        if !topics.is_empty() {
            points += TOPIC_POINTS * topics.len() as u32;
            why.push(format!("话题：{}", joined(&topics)));
        }
        let in_step = c.step.as_ref().is_none_or(|step| subject.steps.contains(step));
        if let Some(step) = c.step.as_ref().filter(|_| in_step) {
            points += STEP_POINTS;
            why.push(format!("工单环节：{step}"));
        }
        let mut unsaid = Vec::new();
        if faults == Fit::Unknown && inferred.is_empty() {
            unsaid.push("故障");
        }
        if lines == Fit::Unknown {
            unsaid.push("产品线");
        }
        if audience == Fit::Unknown {
            unsaid.push("客户类型");
        }
        // A fault's script that only the words put forward — the ticket names no fault, none is
        // inferred, and none of its closest cases was about the script's fault — is a guess: in a
        // fault report or a consultation it comes after the equally specific items (the
        // category's generic one), since vague words (红灯一直闪) match some fault's script.
        // So is, in a fault report that names no device or product, a line's script: the
        // category's generic intake asks which device it is.
        let supported = !(fault_family(subject.category)
            && faults == Fit::Unknown
            && inferred.is_empty()
            && c.faults.is_disjoint(&subject.case_faults))
            && !(subject.category == Category::FaultRepair && lines == Fit::Unknown && faults == Fit::Open);
        let confirmed = unsaid.is_empty();
        let specific = points > 0;
        let category = subject.category.label_zh();
        let reason = match (specific, confirmed) {
            (true, true) => format!("适用：{}（{category}）", why.join("；")),
            (true, false) => format!("适用：{}；其{}工单未说明（{category}）", why.join("；"), unsaid.join("、")),
            (false, true) => format!("无更具体的适用项，按类别“{category}”的通用项"),
            (false, false) => {
                format!("无更具体的适用项，按类别“{category}”及文本相关度选取（其{}工单未说明）", unsaid.join("、"))
            }
        };
        let choice = Choice { id: c.id.clone(), specificity: points, confirmed, reason };
        ranked.push(((in_step, points, supported, on_line, in_category), c.text_rank, choice));
    }
    // An item for a later step the ticket has not reached comes after the others; then the
    // matches, then a fault's script the words alone put forward after the rest, then
    // (strategies) one for its line, then one of its own category, then the
    // words' order.
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then_with(|| a.2.id.cmp(&b.2.id)));
    ranked.into_iter().map(|(_, _, choice)| choice).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| (*s).to_string()).collect()
    }

    fn item(id: &str, category: Category, lines: &[&str], faults: &[&str], rank: usize) -> Candidate {
        Candidate {
            id: id.into(),
            category: Some(category),
            lines: set(lines),
            models: BTreeSet::new(),
            faults: set(faults),
            audience: None,
            tags: vec![],
            step: None,
            text_rank: rank,
        }
    }

    fn ids(choices: &[Choice]) -> Vec<&str> {
        choices.iter().map(|c| c.id.as_str()).collect()
    }

    fn plain(id: &str) -> String {
        id.to_string()
    }

    #[test]
    fn the_bundled_rules_parse_and_read_audiences() {
        let rules = GuidanceRules::bundled();
        assert_eq!(rules.item_audience(&["应对策略".into(), "个人用户".into()]), Some(Audience::Household));
        assert_eq!(rules.item_audience(&["专业客户".into()]), Some(Audience::Organisation));
        assert_eq!(rules.item_audience(&["应答规范".into()]), None);
        assert_eq!(rules.customer_audience("供电企业"), Some(Audience::Organisation));
        assert_eq!(rules.text_audience("我们110kV变电站的逆变器").map(|a| a.0), Some(Audience::Organisation));
        assert_eq!(rules.text_audience("我家屋顶的光伏不发电了").map(|a| a.0), Some(Audience::Household));
        assert_eq!(rules.text_audience("逆变器报警"), None);
        let tags: Vec<String> = rules.text_tags("厂里不能停电，气死了").into_iter().map(|t| t.0).collect();
        assert_eq!(tags, ["停电敏感", "情绪化"]);
    }

    #[test]
    fn the_most_specific_applicable_item_comes_first() {
        let mut subject = Subject::new(Category::FaultRepair);
        subject.lines = set(&["pl-ev-charger"]);
        subject.faults = set(&["f-charger-offline"]);
        let candidates = [
            item("generic", Category::FaultRepair, &[], &[], 0),
            item("line", Category::FaultRepair, &["pl-ev-charger"], &[], 1),
            item("line-fault", Category::FaultRepair, &["pl-ev-charger"], &["f-charger-offline"], 2),
        ];
        let ranked = rank(&subject, &candidates, false, &plain);
        // In a fault report the line alone says little: the words order "line" and "generic".
        assert_eq!(ids(&ranked), ["line-fault", "generic", "line"]);
        assert_eq!(ranked[0].reason, "适用：故障：f-charger-offline；产品线：pl-ev-charger（故障报修）");
        assert!(ranked[0].specificity > ranked[1].specificity && ranked[1].specificity == ranked[2].specificity);
        // Elsewhere the line names the product praised or complained about, and counts.
        let mut praise = Subject::new(Category::Praise);
        praise.lines = set(&["pl-ev-charger"]);
        let candidates = [
            item("generic", Category::Praise, &[], &[], 0),
            item("line", Category::Praise, &["pl-ev-charger"], &[], 1),
        ];
        let ranked = rank(&praise, &candidates, false, &plain);
        assert_eq!(ids(&ranked), ["line", "generic"]);
        assert!(ranked[0].specificity > ranked[1].specificity);
    }

    #[test]
    fn the_generic_item_is_the_fallback_and_says_so() {
        let mut subject = Subject::new(Category::FaultRepair);
        subject.lines = set(&["pl-fault-recorder"]);
        subject.faults = set(&["f-recorder-disk-full"]);
        let candidates = [
            // The words rank the charger script first: it is still refused.
            item("charger", Category::FaultRepair, &["pl-ev-charger"], &[], 0),
            item("generic", Category::FaultRepair, &[], &[], 1),
        ];
        let ranked = rank(&subject, &candidates, false, &plain);
        assert_eq!(ids(&ranked), ["generic"]);
        assert_eq!(ranked[0].reason, "无更具体的适用项，按类别“故障报修”的通用项");
        assert_eq!(ranked[0].specificity, 0);
    }

    #[test]
    fn a_script_for_another_fault_is_refused_even_on_a_shared_line() {
        // SV断链 on a merging unit: the time-sync script shares the line, not the fault.
        let mut subject = Subject::new(Category::FaultRepair);
        subject.lines = set(&["pl-merging-unit"]);
        subject.faults = set(&["f-sv-link-break"]);
        let candidates = [
            item("time-sync", Category::FaultRepair, &["pl-time-sync", "pl-merging-unit"], &["f-mu-sync-loss"], 0),
            item("generic", Category::FaultRepair, &[], &[], 1),
        ];
        assert_eq!(ids(&rank(&subject, &candidates, false, &plain)), ["generic"]);
    }

    #[test]
    fn with_no_line_known_the_faults_lines_still_refuse_another_line() {
        let mut subject = Subject::new(Category::FaultRepair);
        subject.faults = set(&["f-recorder-disk-full"]);
        subject.fault_lines = set(&["pl-fault-recorder", "pl-telecontrol-gateway"]);
        let candidates = [
            item("charger", Category::FaultRepair, &["pl-ev-charger"], &[], 0),
            item("recorder", Category::FaultRepair, &["pl-fault-recorder"], &[], 1),
        ];
        let ranked = rank(&subject, &candidates, false, &plain);
        // The recorder item is not refused, but its line is not confirmed either.
        assert_eq!(ids(&ranked), ["recorder"]);
        assert!(!ranked[0].confirmed);
        assert_eq!(ranked[0].reason, "无更具体的适用项，按类别“故障报修”及文本相关度选取（其产品线工单未说明）");
    }

    #[test]
    fn a_declaration_the_ticket_does_not_speak_to_leaves_the_choice_to_the_words() {
        // An opinion about spare-part prices names no product: the price script (declared for
        // substation lines) and the generic one are ranked by the words.
        let subject = Subject::new(Category::Opinion);
        let candidates = [
            item("price", Category::Opinion, &["pl-line-protection"], &[], 0),
            item("generic", Category::Opinion, &[], &[], 1),
        ];
        assert_eq!(ids(&rank(&subject, &candidates, false, &plain)), ["price", "generic"]);
        let swapped = [
            item("price", Category::Opinion, &["pl-line-protection"], &[], 1),
            item("generic", Category::Opinion, &[], &[], 0),
        ];
        assert_eq!(ids(&rank(&subject, &swapped, false, &plain)), ["generic", "price"]);
    }

    #[test]
    fn a_partly_confirmed_item_says_what_the_ticket_left_unsaid() {
        let mut subject = Subject::new(Category::QualityComplaint);
        subject.lines = set(&["pl-ev-charger"]);
        let candidates = [
            item("generic", Category::QualityComplaint, &[], &[], 0),
            item("gun-stuck", Category::QualityComplaint, &["pl-ev-charger"], &["f-charging-gun-unlock-fail"], 1),
        ];
        let ranked = rank(&subject, &candidates, false, &plain);
        assert_eq!(ids(&ranked), ["gun-stuck", "generic"]);
        assert_eq!(
            ranked[0].reason,
            format!("适用：产品线：pl-ev-charger；其故障工单未说明（{}）", Category::QualityComplaint.label_zh())
        );
        // A fault report that names the line but not the fault: the fault's script is no more
        // specific than the generic one, and says why.
        let mut report = Subject::new(Category::FaultRepair);
        report.lines = set(&["pl-ev-charger"]);
        let candidates = [
            item("generic", Category::FaultRepair, &[], &[], 0),
            item("gun-stuck", Category::FaultRepair, &["pl-ev-charger"], &["f-charging-gun-unlock-fail"], 1),
        ];
        let ranked = rank(&report, &candidates, false, &plain);
        assert_eq!(ids(&ranked), ["generic", "gun-stuck"]);
        assert_eq!(ranked[1].reason, "无更具体的适用项，按类别“故障报修”及文本相关度选取（其故障工单未说明）");
    }

    #[test]
    fn an_inferred_fault_adds_but_never_refuses() {
        let mut subject = Subject::new(Category::FaultRepair);
        subject.lines = set(&["pl-distribution-terminal"]);
        subject.inferred_faults = set(&["f-dtu-offline"]);
        let candidates = [
            item("line", Category::FaultRepair, &["pl-distribution-terminal"], &[], 0),
            item("offline", Category::FaultRepair, &["pl-distribution-terminal"], &["f-dtu-offline"], 1),
            item("battery", Category::FaultRepair, &["pl-distribution-terminal"], &["f-dt-battery-fault"], 2),
        ];
        let ranked = rank(&subject, &candidates, false, &plain);
        assert_eq!(ids(&ranked), ["offline", "line", "battery"]);
        assert!(
            ranked[0].reason.starts_with("适用：故障（据相似案例推断）：f-dtu-offline；产品线"),
            "{}",
            ranked[0].reason
        );
    }

    #[test]
    fn only_faults_vote_and_a_majority_of_the_cases_infers_one() {
        let case = |ids: &[&str]| ids.iter().map(|s| (*s).to_string()).collect::<Vec<_>>();
        let is_fault = |id: &str| id.starts_with("f-");
        // Each case links its cause and solution beside its fault; they agree as often and must
        // not take the fault's place (a solution id matches no script).
        let bzt = case(&["f-bzt-not-act", "cause-bzt-logic", "sol-bzt-setting"]);
        let near = [bzt.clone(), bzt.clone(), bzt];
        assert_eq!(infer_faults(&near, 3, &is_fault), set(&["f-bzt-not-act"]));
        // Two of three agree: inferred; no majority: nothing.
        let near = [case(&["f-a"]), case(&["f-b"]), case(&["f-a", "f-a"])];
        assert_eq!(infer_faults(&near, 3, &is_fault), set(&["f-a"]));
        let near = [case(&["f-a"]), case(&["f-b"]), case(&["f-c"])];
        assert!(infer_faults(&near, 3, &is_fault).is_empty());
        // Fewer cases on the line than looked at still need a majority of those looked at.
        assert!(infer_faults(&[case(&["f-a"])], 3, &is_fault).is_empty());
    }

    #[test]
    fn a_fault_script_only_the_words_put_forward_comes_after_the_generic_one() {
        // 机器上红灯一直闪: no line, no fault; the words rank a PV script first.
        let mut subject = Subject::new(Category::FaultRepair);
        subject.case_faults = set(&["f-ems-command-not-exec"]);
        let candidates = [
            item("pv-no-gen", Category::FaultRepair, &["pl-pv-inverter"], &["f-inverter-no-grid"], 0),
            item("generic", Category::FaultRepair, &[], &[], 1),
        ];
        assert_eq!(ids(&rank(&subject, &candidates, false, &plain)), ["generic", "pv-no-gen"]);
        // A close case about the script's fault supports the words: they decide again.
        subject.case_faults = set(&["f-inverter-no-grid", "f-ems-command-not-exec"]);
        assert_eq!(ids(&rank(&subject, &candidates, false, &plain)), ["pv-no-gen", "generic"]);
        // Outside the fault family a fault-declaring script is a situation's script: the words
        // decide as before.
        let mut praise = Subject::new(Category::Praise);
        praise.case_faults = BTreeSet::new();
        let candidates = [
            item("unlock", Category::Praise, &["pl-ev-charger"], &["f-charging-gun-unlock-fail"], 0),
            item("generic", Category::Praise, &[], &[], 1),
        ];
        assert_eq!(ids(&rank(&praise, &candidates, false, &plain)), ["unlock", "generic"]);
    }

    #[test]
    fn a_lines_script_waits_behind_the_generic_intake_when_the_report_names_no_device() {
        // 机器上红灯一直闪: the words rank the charger script first, but nothing says it is a
        // charger.
        let subject = Subject::new(Category::FaultRepair);
        let candidates = [
            item("charger-repair", Category::FaultRepair, &["pl-ev-charger"], &[], 0),
            item("generic", Category::FaultRepair, &[], &[], 1),
        ];
        assert_eq!(ids(&rank(&subject, &candidates, false, &plain)), ["generic", "charger-repair"]);
        // Once the line is known the words decide again.
        let mut charger = Subject::new(Category::FaultRepair);
        charger.lines = set(&["pl-ev-charger"]);
        assert_eq!(ids(&rank(&charger, &candidates, false, &plain)), ["charger-repair", "generic"]);
        // A consultation's scripts are for topics (the meter-bill one for 电费怎么突然多了): the
        // words decide.
        let question = Subject::new(Category::Consultation);
        let candidates = [
            item("meter-bill", Category::Consultation, &["pl-smart-meter"], &[], 0),
            item("generic", Category::Consultation, &[], &[], 1),
        ];
        assert_eq!(ids(&rank(&question, &candidates, false, &plain)), ["meter-bill", "generic"]);
    }

    #[test]
    fn the_bundled_vague_words_read_a_report_that_names_no_failure() {
        let rules = GuidanceRules::bundled();
        assert_eq!(rules.vague_word("机器上红灯一直闪,不知道怎么回事"), Some("红灯"));
        assert_eq!(rules.vague_word("设备有点不对劲,老是嘀嘀响"), Some("嘀嘀"));
        assert_eq!(rules.vague_word("配网主站上我们这台dtu老是离线"), None);
        assert_eq!(rules.vague_word("主进线没电了,备用电源没自动投上"), None);
    }

    /// The operators' quality-complaint script, the only one for charging-module faults, and the
    /// charger line's generic fault-report script.
    fn charger_module_scripts() -> (Candidate, Candidate) {
        let module = item(
            "qc-charger-faults",
            Category::QualityComplaint,
            &["pl-ev-charger"],
            &["f-charger-module-fault", "f-charger-offline"],
            1,
        );
        (module, item("charger-repair", Category::FaultRepair, &["pl-ev-charger"], &[], 0))
    }

    #[test]
    fn the_only_script_for_an_inferred_fault_answers_its_report_whatever_its_category() {
        // 充电桩报模块毛病: no fault named, the closest cases on the line are module faults,
        // which only the operators' quality-complaint script covers.
        let mut subject = Subject::new(Category::FaultRepair);
        subject.lines = set(&["pl-ev-charger"]);
        subject.inferred_faults = set(&["f-charger-module-fault"]);
        let (module, generic) = charger_module_scripts();
        let ranked = rank(&subject, &[module.clone(), generic.clone()], false, &plain);
        assert_eq!(ids(&ranked), ["qc-charger-faults", "charger-repair"]);
        assert_eq!(
            ranked[0].reason,
            "适用：故障（据相似案例推断）：f-charger-module-fault；产品线：pl-ev-charger（故障报修）"
        );
        // An inferred fault a fault-report script covers is answered by that script alone.
        subject.inferred_faults = set(&["f-charger-offline"]);
        let offline = item("offline", Category::FaultRepair, &["pl-ev-charger"], &["f-charger-offline"], 2);
        assert_eq!(ids(&rank(&subject, &[module, generic, offline], false, &plain)), ["offline", "charger-repair"]);
    }

    #[test]
    fn a_household_item_is_never_given_to_an_organisation() {
        let mut subject = Subject::new(Category::FaultRepair);
        subject.lines = set(&["pl-pv-inverter"]);
        subject.audience = Some(Audience::Organisation);
        let mut household = item("household-pv", Category::FaultRepair, &["pl-pv-inverter"], &[], 0);
        household.audience = Some(Audience::Household);
        let generic = item("generic", Category::FaultRepair, &[], &[], 1);
        let ranked = rank(&subject, &[household.clone(), generic.clone()], false, &plain);
        assert_eq!(ids(&ranked), ["generic"]);
        subject.audience = Some(Audience::Household);
        let ranked = rank(&subject, &[household, generic], false, &plain);
        assert_eq!(ids(&ranked), ["household-pv", "generic"]);
        assert!(ranked[0].reason.contains("客户类型：个人/居民用户"), "{}", ranked[0].reason);
    }

    #[test]
    fn customer_tags_make_an_item_more_specific() {
        let mut subject = Subject::new(Category::ServiceComplaint);
        subject.tags = set(&["情绪化"]);
        let mut emotional = item("emotional", Category::ServiceComplaint, &[], &[], 3);
        emotional.tags = vec!["应对策略".into(), "情绪化".into()];
        let candidates = [item("escalation", Category::ServiceComplaint, &[], &[], 0), emotional];
        let ranked = rank(&subject, &candidates, false, &plain);
        assert_eq!(ids(&ranked), ["emotional", "escalation"]);
        assert_eq!(ranked[0].reason, "适用：客户标签：情绪化（服务投诉）");
    }

    #[test]
    fn a_fault_script_answers_a_consultation_about_its_fault_but_not_a_complaint() {
        let mut subject = Subject::new(Category::FaultRepair);
        subject.lines = set(&["pl-ev-charger"]);
        subject.faults = set(&["f-charging-power-low"]);
        let slow = item("slow", Category::Consultation, &["pl-ev-charger"], &["f-charging-power-low"], 1);
        let generic = item("generic", Category::FaultRepair, &[], &[], 0);
        assert_eq!(ids(&rank(&subject, &[slow.clone(), generic.clone()], false, &plain)), ["slow", "generic"]);
        subject.category = Category::ServiceComplaint;
        assert!(rank(&subject, &[slow], false, &plain).is_empty());
    }

    #[test]
    fn items_of_another_category_never_apply() {
        let subject = Subject::new(Category::Suggestion);
        let candidates =
            [item("fault", Category::FaultRepair, &[], &[], 0), item("suggestion", Category::Suggestion, &[], &[], 1)];
        assert_eq!(ids(&rank(&subject, &candidates, false, &plain)), ["suggestion"]);
    }

    #[test]
    fn a_strategy_for_the_customers_tag_applies_in_any_category_and_line() {
        let mut subject = Subject::new(Category::FaultRepair);
        subject.lines = set(&["pl-line-protection"]);
        subject.tags = set(&["停电敏感"]);
        let mut outage = item("outage", Category::Consultation, &["pl-distribution-terminal"], &[], 2);
        outage.tags = vec!["停电敏感".into()];
        let generic = item("follow-up", Category::FaultRepair, &[], &[], 0);
        let candidates = [outage, generic];
        assert_eq!(ids(&rank(&subject, &candidates, true, &plain)), ["outage", "follow-up"]);
        // An answer standard is not chosen by the customer's tags alone.
        assert_eq!(ids(&rank(&subject, &candidates, false, &plain)), ["follow-up"]);
    }

    #[test]
    fn an_item_for_a_later_step_waits_until_the_ticket_shows_that_step() {
        let rules = GuidanceRules::bundled();
        let tags = |list: &[&str]| list.iter().map(|t| (*t).to_string()).collect::<Vec<_>>();
        assert_eq!(rules.item_step(&tags(&["应答规范", "进度查询"])).as_deref(), Some("进度查询"));
        assert_eq!(rules.item_step(&tags(&["应答规范", "受理"])), None);
        let mut progress = item("progress", Category::ServiceComplaint, &[], &[], 0);
        progress.step = rules.item_step(&tags(&["应答规范", "进度查询"]));
        let intake = item("intake", Category::ServiceComplaint, &[], &[], 1);
        let candidates = [progress, intake];
        // A new complaint: the words rank the progress answer first, the intake still comes first.
        let new = Subject::new(Category::ServiceComplaint);
        assert_eq!(ids(&rank(&new, &candidates, false, &plain)), ["intake", "progress"]);
        // A complaint about where the last one has got to.
        let mut asking = Subject::new(Category::ServiceComplaint);
        asking.steps = rules.text_steps("上周投诉的事处理到哪一步了").into_iter().map(|s| s.0).collect();
        let ranked = rank(&asking, &candidates, false, &plain);
        assert_eq!(ids(&ranked), ["progress", "intake"]);
        assert_eq!(ranked[0].reason, "适用：工单环节：进度查询（服务投诉）");
    }

    #[test]
    fn a_strategy_for_another_line_comes_last_but_is_not_refused() {
        let mut subject = Subject::new(Category::QualityComplaint);
        subject.lines = set(&["pl-bay-control"]);
        let batch = item("batch", Category::QualityComplaint, &["pl-line-protection", "pl-ev-charger"], &[], 0);
        let generic = item("generic", Category::QualityComplaint, &[], &[], 1);
        let candidates = [batch, generic];
        assert_eq!(ids(&rank(&subject, &candidates, true, &plain)), ["generic", "batch"]);
        // An answer standard for another line is still refused.
        assert_eq!(ids(&rank(&subject, &candidates, false, &plain)), ["generic"]);
        // The words show the situation the strategy is for: it comes first.
        subject.tags = GuidanceRules::bundled().text_tags("同一批装置好几台都坏了").into_iter().map(|t| t.0).collect();
        let mut tagged = candidates.clone();
        tagged[0].tags = vec!["批次问题".into()];
        assert_eq!(ids(&rank(&subject, &tagged, true, &plain)), ["batch", "generic"]);
    }

    #[test]
    fn an_answer_standard_for_an_unnamed_fault_gains_nothing_from_the_customers_tags() {
        let mut subject = Subject::new(Category::Consultation);
        subject.tags = set(&["电费敏感"]);
        // A close case about the fault keeps the script among the words' choices.
        subject.case_faults = set(&["f-meter-fast"]);
        let mut meter = item("meter-fast", Category::Consultation, &["pl-smart-meter"], &["f-meter-fast"], 0);
        meter.tags = vec!["电费敏感".into()];
        let fees = item("charging-fees", Category::Consultation, &[], &[], 1);
        let candidates = [meter, fees];
        // The words rank the meter script first; nothing about the ticket makes it more specific.
        assert_eq!(ids(&rank(&subject, &candidates, false, &plain)), ["meter-fast", "charging-fees"]);
        assert_eq!(rank(&subject, &candidates, false, &plain)[0].specificity, 0);
        // Named, the fault makes the tag count too.
        subject.faults = set(&["f-meter-fast"]);
        let ranked = rank(&subject, &candidates, false, &plain);
        assert_eq!(ranked[0].specificity, FAULT_POINTS + TAG_POINTS);
        // A strategy's tags count whatever the ticket names.
        subject.faults.clear();
        assert_eq!(rank(&subject, &candidates, true, &plain)[0].specificity, TAG_POINTS);
    }

    #[test]
    fn a_topic_the_words_show_outweighs_a_line_in_a_complaint() {
        let rules = GuidanceRules::bundled();
        let mut subject = Subject::new(Category::QualityComplaint);
        subject.lines = set(&["pl-line-protection"]);
        let repeat = item("protection-repeat", Category::QualityComplaint, &["pl-line-protection"], &[], 0);
        let mut delivery = item("damaged-delivery", Category::QualityComplaint, &[], &[], 1);
        delivery.tags = vec!["应答规范".into(), "到货".into(), "破损".into()];
        let candidates = [repeat, delivery];
        // Nothing but the line: the line's script.
        assert_eq!(ids(&rank(&subject, &candidates, false, &plain)), ["protection-repeat", "damaged-delivery"]);
        // The ticket is about a damaged delivery of that line's device.
        subject.topics = rules.text_topics("今天到的线路保护面板裂了，还缺端子").into_iter().map(|t| t.0).collect();
        assert_eq!(subject.topics, set(&["到货", "破损"]));
        let ranked = rank(&subject, &candidates, false, &plain);
        assert_eq!(ids(&ranked), ["damaged-delivery", "protection-repeat"]);
        assert_eq!(ranked[0].specificity, 2 * TOPIC_POINTS);
        assert_eq!(ranked[0].reason, "适用：话题：到货、破损（质量投诉）");
    }

    #[test]
    fn the_audience_alone_does_not_make_a_script_for_an_unnamed_fault_fit() {
        let mut subject = Subject::new(Category::QualityComplaint);
        subject.audience = Some(Audience::Organisation);
        let mut operator = item("charger-fault-rate", Category::QualityComplaint, &["pl-ev-charger"], &["f-module"], 0);
        operator.audience = Some(Audience::Organisation);
        let generic = item("intake", Category::QualityComplaint, &[], &[], 1);
        let candidates = [operator, generic];
        let ranked = rank(&subject, &candidates, false, &plain);
        assert!(ranked.iter().all(|c| c.specificity == 0), "{ranked:?}");
        // With its fault named, whom it is written for counts again.
        subject.faults = set(&["f-module"]);
        assert_eq!(rank(&subject, &candidates, false, &plain)[0].specificity, FAULT_POINTS + AUDIENCE_POINTS);
    }

    #[test]
    fn the_only_script_for_a_named_fault_answers_its_report_whatever_its_category() {
        // Charging-module faults have only the operators' quality-complaint script.
        let mut subject = Subject::new(Category::FaultRepair);
        subject.lines = set(&["pl-ev-charger"]);
        subject.faults = set(&["f-charger-module-fault"]);
        let (module, generic) = charger_module_scripts();
        let ranked = rank(&subject, &[module.clone(), generic.clone()], false, &plain);
        assert_eq!(ids(&ranked), ["qc-charger-faults", "charger-repair"]);
        assert_eq!(ranked[0].reason, "适用：故障：f-charger-module-fault；产品线：pl-ev-charger（故障报修）");
        // A fault that a fault-report script covers is answered by that script alone.
        subject.faults = set(&["f-charger-offline"]);
        let offline = item("offline", Category::FaultRepair, &["pl-ev-charger"], &["f-charger-offline"], 2);
        assert_eq!(
            ids(&rank(&subject, &[module.clone(), generic.clone(), offline], false, &plain)),
            ["offline", "charger-repair"]
        );
        // A complaint is not answered by a script of another category for its fault.
        subject.category = Category::ServiceComplaint;
        subject.faults = set(&["f-charger-module-fault"]);
        assert!(rank(&subject, &[module], false, &plain).is_empty());
    }

    #[test]
    fn an_item_whose_situation_the_words_show_is_not_refused_for_another_line() {
        let rules = GuidanceRules::bundled();
        // A repeated visit about a DC power panel: the repeat-visit script names other lines.
        let mut subject = Subject::new(Category::ServiceComplaint);
        subject.lines = set(&["pl-dc-power"]);
        let mut repeat = item("repeat-visit", Category::ServiceComplaint, &["pl-pv-inverter", "pl-ev-charger"], &[], 2);
        repeat.tags = vec!["服务投诉".into(), "重复上门".into()];
        let hotline = item("hotline", Category::ServiceComplaint, &[], &[], 0);
        let candidates = [repeat, hotline];
        // Nothing shows the situation: refused for its lines.
        assert_eq!(ids(&rank(&subject, &candidates, false, &plain)), ["hotline"]);
        subject.tags = rules.text_tags("上门好几次还是老样子").into_iter().map(|t| t.0).collect();
        let ranked = rank(&subject, &candidates, false, &plain);
        assert_eq!(ids(&ranked), ["repeat-visit", "hotline"]);
        assert_eq!(ranked[0].reason, "适用：客户标签：重复上门（服务投诉）");
        // A named fault still refuses a script for another fault, topic or not.
        let mut consult = Subject::new(Category::Consultation);
        consult.lines = set(&["pl-feeder-protection"]);
        consult.topics = rules.text_topics("611现在版本V2.3.21，要不要升级").into_iter().map(|t| t.0).collect();
        assert!(consult.topics.contains("程序版本"), "{:?}", consult.topics);
        let mut version =
            item("version", Category::Consultation, &["pl-line-protection"], &["f-device-program-version"], 1);
        version.tags = vec!["咨询".into(), "程序版本".into()];
        let warranty = item("warranty", Category::Consultation, &[], &[], 0);
        assert_eq!(ids(&rank(&consult, &[version.clone(), warranty.clone()], false, &plain)), ["version", "warranty"]);
        consult.faults = set(&["f-device-lockout"]);
        assert_eq!(ids(&rank(&consult, &[version, warranty], false, &plain)), ["warranty"]);
    }

    #[test]
    fn a_strategy_for_a_topic_the_words_show_applies_in_any_category() {
        let rules = GuidanceRules::bundled();
        let mut subject = Subject::new(Category::Consultation);
        subject.topics = rules.text_topics("帮我查下质保到什么时候").into_iter().map(|t| t.0).collect();
        let mut warranty = item("out-of-warranty", Category::ServiceRequest, &[], &[], 2);
        warranty.tags = vec!["应对策略".into(), "过保".into(), "质保".into()];
        let privacy = item("privacy", Category::Consultation, &[], &[], 0);
        let ranked = rank(&subject, &[warranty.clone(), privacy.clone()], true, &plain);
        assert_eq!(ids(&ranked), ["out-of-warranty", "privacy"]);
        assert_eq!(ranked[0].reason, "适用：话题：质保（业务咨询）");
        // An answer standard of another category is not chosen by a topic.
        assert_eq!(ids(&rank(&subject, &[warranty, privacy], false, &plain)), ["privacy"]);
    }

    #[test]
    fn a_consultation_script_for_the_topic_answers_a_fault_report_about_it() {
        // 调度说我们保护的版本号和备案的不一样: filed as a fault report, about a program version.
        let rules = GuidanceRules::bundled();
        let mut subject = Subject::new(Category::FaultRepair);
        subject.topics = rules.text_topics("调度说我们保护的版本号和备案的不一样").into_iter().map(|t| t.0).collect();
        let mut version = item("version", Category::Consultation, &[], &["f-program-version"], 3);
        version.tags = vec!["咨询".into(), "程序版本".into()];
        let generic = item("intake", Category::FaultRepair, &[], &[], 0);
        let candidates = [version, generic];
        assert_eq!(ids(&rank(&subject, &candidates, false, &plain)), ["version", "intake"]);
        // Without the topic, a consultation script for a fault the report does not name is not
        // a candidate.
        subject.topics.clear();
        assert_eq!(ids(&rank(&subject, &candidates, false, &plain)), ["intake"]);
    }

    #[test]
    fn an_item_for_a_later_step_comes_after_the_intake_however_much_it_matches() {
        let rules = GuidanceRules::bundled();
        let mut subject = Subject::new(Category::FaultRepair);
        subject.topics =
            rules.text_topics("设备老是嘀嘀响，调试完能派人配合看一下吗").into_iter().map(|t| t.0).collect();
        assert!(subject.topics.contains("现场服务"), "{:?}", subject.topics);
        let mut visit = item("appointment", Category::FaultRepair, &[], &[], 0);
        visit.tags = vec!["应答规范".into(), "现场服务".into(), "预约".into()];
        visit.step = rules.item_step(&visit.tags);
        let intake = item("intake", Category::FaultRepair, &[], &[], 1);
        let candidates = [visit, intake];
        let ranked = rank(&subject, &candidates, false, &plain);
        assert_eq!(ids(&ranked), ["intake", "appointment"]);
        assert!(ranked[1].specificity > ranked[0].specificity);
        subject.steps = rules.text_steps("约个时间派人配合调试").into_iter().map(|s| s.0).collect();
        assert_eq!(ids(&rank(&subject, &candidates, false, &plain)), ["appointment", "intake"]);
    }

    #[test]
    fn the_bundled_topics_read_customers_words() {
        let rules = GuidanceRules::bundled();
        let topics = |text: &str| rules.text_topics(text).into_iter().map(|t| t.0).collect::<BTreeSet<_>>();
        assert!(topics("说好给我回电话的，好几天都没回").contains("未回电"));
        assert!(topics("为什么充完还扣占位费").contains("资费"));
        assert!(topics("录波文件怎么导出来").contains("选型"));
        assert!(topics("GKT-712的电源板又坏了两次").contains("重复故障"));
        assert!(topics("换了电表以后用电量明显多了，我要校验").contains("计量"));
        assert!(topics("站里要搬，能派人重新调试吗").contains("现场服务"));
        // A fault report asking for someone to come is not a request for site service.
        assert!(!topics("能派人来看一下吗").contains("现场服务"));
        let tags = |text: &str| rules.text_tags(text).into_iter().map(|t| t.0).collect::<BTreeSet<_>>();
        assert!(tags("工程师跑了几趟还是在报").contains("重复上门"));
        assert!(tags("昨天充电没充进去钱照扣").contains("电费敏感"));
    }

    #[test]
    fn equal_items_keep_the_order_of_the_words() {
        let subject = Subject::new(Category::Praise);
        let candidates = [item("b", Category::Praise, &[], &[], 1), item("a", Category::Praise, &[], &[], 0)];
        assert_eq!(ids(&rank(&subject, &candidates, false, &plain)), ["a", "b"]);
    }
}
