//! Ticket matching: from the words of a customer's ticket to what the agent says and does.
//!
//! One ticket runs three searches on the same engine (the query embedding is computed once and
//! reused): knowledge that solves the problem, solved cases like it, and the guidance items
//! (answer standards and response strategies). The service category is predicted from two
//! sources that need no labelled tickets, and a third when the service centre has them:
//!
//! * **neighbours**: the categories of the closest labelled items (guidance items and solved
//!   cases), each voting with its fused score;
//! * **cue words**: short phrases that mark a category in Chinese service tickets (`点赞`,
//!   `建议`, `太慢`, `这批` ...), each adding a fixed weight;
//! * **past tickets**: the category model learned from the centre's own labelled tickets
//!   (`category_model.rs`), whose probabilities are added to the first two's shares.
//!
//! The answer standard to read out and the response strategies are chosen by what the ticket is
//! about (`guidance.rs`): the product lines and models of its device and of the products it
//! names, the faults it names, the customer's type and tags (from the customer record, or from
//! the device's owner when only a serial number is known, else from the ticket's words) and the
//! predicted category. The most specific item whose declarations the ticket confirms comes first,
//! the category's generic one only when nothing specific applies, and an item whose declared line,
//! fault or audience contradicts the ticket never; each carries the reason.

use std::collections::BTreeMap;
use std::time::Instant;

use lexical::FilterField;
use serde::{Deserialize, Serialize};
use store::{Category, EntityClass, ItemKind, Record};
use utoipa::ToSchema;

use crate::fusion::Retriever;
use crate::guidance::{Candidate, GuidanceRules, Subject};
use crate::guidance_table::{Entities, GuidanceTable};
use crate::query::{AnalysedQuery, Shown};
use crate::{Engine, Error, Hit, Invalid, LinkedEntity, Result, SearchRequest, Stop};

/// Solutions returned when the request does not say.
pub const DEFAULT_SOLUTIONS: usize = 5;
/// Similar solved cases returned.
pub const SIMILAR_CASES: usize = 5;
/// Guidance items (answer standards and response strategies) that take part in the vote.
const GUIDANCE_DEPTH: usize = 20;
/// Neighbours that vote, from each of the guidance and case lists.
const VOTERS: usize = 10;
/// Weight of one point of cue words (a cue weighs 1 to 3 points).
const CUE_POINT: f32 = 1.0;
/// Weight of a neighbour's fused score (which lies in 0..=2): neighbours break ties and decide
/// when no cue word is there; 11,434 of the 12,528 solved cases are fault reports, so their
/// votes lean that way. Chosen on the ticket dev split: minor-category accuracy 0.81 / 0.95 /
/// 0.92 / 0.81 / 0.71 with weights 0 / 0.1 / 0.25 / 0.5 / 1.
const NEIGHBOUR_WEIGHT: f32 = 0.1;
/// Points of the category model learned from past tickets, spread by its probabilities (which
/// sum to 1): as much as one weak cue word, so it decides where only neighbours voted or the
/// cues are split, and leaves a clear cue (2–3 points) alone. Chosen on the ticket dev split,
/// each ticket left out of the model that classified it: minor-category accuracy 0.9864
/// without, 0.9864 / 0.9891 / 0.9891 / 0.9854 / 0.9836 / 0.9809 with 0.25 / 0.5 / 1 / 1.5 / 2 / 3
/// points (mixing its probabilities into the cues' and neighbours' shares at 0.3 instead gave
/// 0.9882: a lone neighbour's vote is then a share of 1 it cannot outweigh).
const LEARNED_POINTS: f32 = 1.0;
/// Response strategies returned.
const STRATEGIES: usize = 3;
/// Closest solved cases whose fault is taken as the ticket's when it names none: a fault most of
/// them share.
const INFERENCE_CASES: usize = 3;

/// The guidance items: what an agent reads out and how to handle the customer.
const GUIDANCE_KINDS: [ItemKind; 2] = [ItemKind::AnswerStandard, ItemKind::ResponseStrategy];

/// Kinds that count as solutions: knowledge an agent follows to solve the problem.
const SOLUTION_KINDS: [ItemKind; 5] = [
    ItemKind::TechnicalPoint,
    ItemKind::ProductDoc,
    ItemKind::BusinessRule,
    ItemKind::Regulation,
    ItemKind::FulfilmentInfo,
];

/// A ticket as the agent's desk or a chatbot sends it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketRequest {
    /// The customer's words, as typed or transcribed.
    pub text: String,
    #[serde(default)]
    pub customer_id: Option<String>,
    #[serde(default)]
    pub device_serial: Option<String>,
    /// Where the ticket came from (hotline, WeChat, e-mail, field app); echoed back.
    #[serde(default)]
    pub channel: Option<String>,
    /// Solutions to return (default 5).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// The predicted service category.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CategoryPrediction {
    pub major: String,
    pub major_label: String,
    pub minor: String,
    pub minor_label: String,
    /// Share of the winning minor category in all votes, 0..=1.
    pub confidence: f32,
    /// Share of the winning major category (the sum of its minor categories), 0..=1.
    pub major_confidence: f32,
    /// Every minor category that got a vote, best first.
    pub scores: Vec<CategoryScore>,
    /// Cue words found in the ticket, with the category each marks.
    pub cues: Vec<Cue>,
    /// The labelled items that voted, best first.
    pub neighbours: Vec<Neighbour>,
    /// What the category model learned from the service centre's past tickets says (its
    /// probabilities, at most three, best first), when the data directory has such tickets; it
    /// votes with one point spread by these probabilities (a cue word weighs 1 to 3 points).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub learned: Vec<CategoryScore>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CategoryScore {
    pub category: String,
    pub share: f32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Cue {
    pub word: String,
    pub category: String,
    /// 3 marks the category on its own, 2 is a strong hint, 1 a weak one.
    pub weight: u8,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Neighbour {
    pub id: String,
    pub category: String,
    pub weight: f32,
}

/// The customer, as far as the ticket lets us know them.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CustomerView {
    pub id: String,
    pub label: String,
    pub level: Option<String>,
    pub tags: Vec<String>,
    /// How the customer was found: `request` (customer_id) or `device` (the device's owner).
    pub source: String,
}

/// A guidance item in full: answer standards are read out verbatim.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Guidance {
    pub id: String,
    pub title: String,
    pub kind: String,
    pub category: Option<String>,
    pub tags: Vec<String>,
    /// The full text, personal data masked.
    pub body: String,
    /// Why this one: the category it answers and the customer tags it matches.
    pub reason: String,
}

/// Characters of the ticket read as a word of the service's vocabulary they sound like.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Reading {
    /// As typed.
    pub written: String,
    /// As read.
    pub read: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TicketMatch {
    /// This response's id in the request log: name it in `POST /v1/feedback` (also the
    /// `X-Request-Id` header). Set by the server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The ticket with personal data masked.
    pub ticket: String,
    /// Homophone slips of the service's words (`故账`, `冲电桩`) that were read as those words
    /// (`故障`, `充电桩`) for the category, the guidance, the dispatch and the searches. Absent
    /// when there were none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub spelling: Vec<Reading>,
    /// The terms the ticket was analysed into.
    pub terms: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    pub category: CategoryPrediction,
    pub linked: Vec<LinkedEntity>,
    pub customer: Option<CustomerView>,
    /// The device named by `device_serial` or found in the ticket text, with its model,
    /// contract, warranty state and service history (as `GET /v1/devices/{serial}`).
    #[schema(value_type = Option<Object>)]
    pub device: Option<graph::DeviceReport>,
    pub answer_standard: Option<Guidance>,
    pub response_strategies: Vec<Guidance>,
    pub solutions: Vec<Hit>,
    pub similar_cases: Vec<Hit>,
    /// Where the ticket goes (工单派发): the speciality, the urgency and the responsible service
    /// unit, each with its rule and reason (`search::dispatch`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dispatch: Option<crate::dispatch::Dispatch>,
    /// Things the agent should know about this answer: an unknown customer or serial, a
    /// retriever that could not take part.
    pub notes: Vec<String>,
    pub took_ms: f64,
}

/// Words that frame a ticket as a question about how to do something, a suggestion, a complaint
/// about the product's quality or a request to send a part back for repair: the fault and service
/// words of another category in such a ticket name what it asks, suggests or complains about, or
/// what is sent (`告警音响怎么设置`, `建议报警推送到微信`, `电源板坏了两次，给个说法`,
/// `故障模块要寄回修`), and count [`FRAMED_SHARE`] of their weight. Each framing word is also a cue
/// of its category (`CUES`).
const FRAMING: &[&str] = &[
    "怎么设置",
    "如何设置",
    "怎么操作",
    "如何操作",
    "怎么配置",
    "如何配置",
    "如何查看",
    "怎么查看",
    "怎么导出",
    "如何导出",
    "怎么开启",
    "如何开启",
    "怎么绑定",
    "在哪里改",
    "在哪里设置",
    "在哪设置",
    "怎么重新",
    "流程怎么走",
    "建议",
    "最好能",
    "应该加",
    "能不能做",
    "能不能多",
    "希望增加",
    "能不能增加",
    "能不能加",
    "加个",
    "加一个",
    // A complaint about the product's quality: the fault words name what failed.
    "质量问题",
    "给个说法",
    "这批",
    "故障率",
    "第三方检测",
    // A module sent back for repair: the fault words name what is sent.
    "寄回修",
    "返厂修",
];
/// Share of its weight a fault or service cue keeps in a ticket framed as another category.
const FRAMED_SHARE: f32 = 0.5;

/// Cue words per minor category, with their weight (3 = marks the category on its own, 2 = a
/// strong hint, 1 = a weak one). Written for the demo corpus's service centre from the dev split
/// of its ticket set; common phrasings agents see every day, not an exhaustive lexicon. Matched on
/// normalised (simplified, half-width) text.
const CUES: &[(Category, u8, &[&str])] = &[
    (
        Category::Praise,
        3,
        &["很实用", "都说好", "点赞", "点个赞", "表扬", "好评", "辛苦了", "给力", "修好了", "弄好了", "处理好了"],
    ),
    (
        Category::Praise,
        2,
        &[
            "感谢",
            "谢谢",
            "很专业",
            "收获很大",
            "讲得",
            "质量不错",
            "没出过",
            "很稳",
            "都很稳",
            "服务也不错",
            "服务也到位",
            "效率高",
            "都说好",
            "挺好",
        ],
    ),
    (
        Category::Suggestion,
        3,
        &[
            "改得通俗",
            "改得明白",
            "建议",
            "希望增加",
            "能不能增加",
            "能不能加",
            "最好加",
            "写得通俗",
            "写得明白",
            "写清楚",
            "能不能列",
            "可以导出",
            "希望可以",
            "希望线上",
            "最好能",
            "应该加",
            "能不能做",
            "能不能多",
            "可以把",
        ],
    ),
    (Category::Suggestion, 2, &["希望", "改进", "优化", "太繁琐", "列明", "加个", "加一个"]),
    (
        Category::Opinion,
        3,
        &[
            "总是安排",
            "太死板",
            "高得离谱",
            "贵多了",
            "有意见",
            "意见很大",
            "说不过去",
            "不公平",
            "太绕",
            "不近人情",
            "改来改去",
        ],
    ),
    (
        Category::Opinion,
        2,
        &[
            "太贵",
            "不合理",
            "影响太大",
            "影响很大",
            "要这么多钱",
            "又涨了",
            "总是安排",
            "几千块",
            "不好用",
            "搞不清楚",
            "太高了",
        ],
    ),
    (
        Category::ServiceComplaint,
        3,
        &[
            "放鸽子",
            "都没来",
            "没人接",
            "一直转接",
            "没有通知",
            "都没修好",
            "服务不准时",
            "太慢",
            "还没来",
            "没消息",
            "搞什么",
            "还是老样子",
            "来了几趟",
            "不接电话",
            "踢皮球",
            "推诿",
            "人影都没有",
            "没按时到",
            "迟到",
            "白等",
            "一点动静没有",
            "都没回",
            "跑了几趟",
            "跑了两趟",
            "跑了好几趟",
            "不提前通知",
            "没提前通知",
            "没回电",
            "没寄回",
            "周期太长",
            "不规范",
            "不戴安全帽",
            "曝光",
            "媒体",
            "态度",
        ],
    ),
    (Category::ServiceComplaint, 2, &["说好", "好几次", "没人回", "没人管", "快两个月", "寄走", "转接", "我要投诉"]),
    (
        Category::QualityComplaint,
        3,
        &[
            "这质量",
            "质量问题",
            "产品质量",
            "才装了",
            "破损",
            "分析报告",
            "还是不行",
            "换了板子还是",
            "用电量明显多",
            "这批",
            "坏的太多",
            "坏得太多",
            "反复坏",
            "失效分析",
            "磕碰",
            "故障率",
            "质量太差",
            "什么质量",
            "第三方检测",
            "查根本原因",
            "给个说法",
            "摔坏",
            "外壳裂",
            "面板裂",
            "缺端子",
            "少端子",
            "走字快",
            "换货",
        ],
    ),
    (
        Category::QualityComplaint,
        2,
        &[
            "批次",
            "上次换完",
            "明显高",
            "涨了好多",
            "出了两回",
            "出了两次",
            "坏了三次",
            "刚到货",
            "新到的",
            "经常离线",
            "老是离线",
            "才几个月",
            "半年出了",
            "坏了好几",
            "坏的也太",
            "报修好几",
            "坏了一半",
            "影响营收",
            "半年就",
            "坏了两次",
            "坏了第二次",
            "新换的",
            "的质量",
        ],
    ),
    (
        Category::ServiceRequest,
        3,
        &[
            "说明书",
            "发到邮箱",
            "到场",
            "退钱",
            "怎么退",
            "下单",
            "更新联系方式",
            "申请",
            "预约",
            "校表",
            "培训",
            "发票",
            "开票",
            "专票",
            "重开",
            "图纸",
            "重新调试",
            "移机",
            "迁移",
            "退款",
            "寄回修",
            "返厂修",
            "派人配合",
            "挪位置",
            "想改",
        ],
    ),
    (
        Category::ServiceRequest,
        2,
        &[
            "安排",
            "校验",
            "升级",
            "备件",
            "改一下",
            "换一下",
            "办理",
            "上门",
            "资料",
            "变更",
            "重置",
            "流程是什么",
            "发我邮箱",
            "谁来做",
            "找回",
            "要买",
        ],
    ),
    (Category::ServiceRequest, 1, &["定检"]),
    (
        Category::Consultation,
        3,
        &[
            "需不需要",
            "要不要升级",
            "是否有",
            "需要什么条件",
            "什么流程",
            "查下质保",
            "到哪天",
            "不生产了",
            "电费怎么",
            "多少钱",
            "能省",
            "划算",
            "区别",
            "保修期吗",
            "质保期",
            "保修到",
            "过没过",
            "技术参数",
            "规约",
            "停产了",
            "占位费",
            "选型",
            "咨询",
            // How-to questions: the customer asks how to do something, nothing is broken.
            "怎么设置",
            "如何设置",
            "怎么操作",
            "如何操作",
            "怎么配置",
            "如何配置",
            "如何查看",
            "怎么查看",
            "怎么导出",
            "如何导出",
            "怎么开启",
            "如何开启",
            "怎么绑定",
            "怎么判断",
            "在哪里改",
            "在哪里设置",
            "在哪设置",
            "怎么重新",
            "什么意思",
            "想了解",
            "怎么看",
            "流程怎么走",
            "多久回本",
            "怎么算",
            "怎么核对",
            "哪些手续",
            "什么手续",
            "怎么办理",
        ],
    ),
    (
        Category::Consultation,
        2,
        &[
            "为什么",
            "怎么收",
            "收费吗",
            "政策",
            "电价",
            "峰谷",
            "多少",
            "什么时候",
            "想问下",
            "怎么突然",
            "啥时候",
            "支持哪些",
            "能不能用",
            "如何",
            "怎样",
            "想问",
            "想知道",
            "正常吗",
            "需要掌握",
            "推荐",
        ],
    ),
    (Category::Consultation, 1, &["请问"]),
    (
        Category::FaultRepair,
        3,
        &[
            "做完定检",
            "报警",
            "告警",
            "故障",
            "坏了",
            "停机",
            "黑屏",
            "不亮",
            "跳闸",
            "乱码",
            "死机",
            "报错",
            "冒烟",
            "能远程看看",
            "派人来看",
            "是不是坏了",
            "红灯一直",
            "灯一直闪",
            "没动作",
            "赶紧来人",
            "不对劲",
            "一点电都没",
        ],
    ),
    (
        Category::FaultRepair,
        2,
        &[
            "异常",
            "中断",
            "离线",
            "打不开",
            "不通",
            "不启动",
            "通讯",
            "不刷新",
            "没反应",
            "误报",
            "突增",
            "突变",
            "偏低",
            "偏高",
            "差很多",
            "不正常",
            "处理意见",
            "没电了",
            "现场没有",
            "停运",
        ],
    ),
    (Category::FaultRepair, 1, &["报", "急"]),
];

impl Engine {
    /// Matches a ticket: its category, the customer and device it concerns, what to say and
    /// what to do.
    pub fn match_ticket(&self, request: &TicketRequest) -> Result<TicketMatch> {
        self.match_ticket_until(request, &self.default_stop())
    }

    /// [`Engine::match_ticket`] that stops early when `stop` says so: its three searches share
    /// one deadline, and an abandoned match ends at the next stage of any of them.
    pub fn match_ticket_until(&self, request: &TicketRequest, stop: &Stop) -> Result<TicketMatch> {
        self.match_ticket_inner(request, stop, None)
    }

    /// [`Engine::match_ticket`] for an evaluation on the tickets the category model learned
    /// from: the past ticket `history_id` does not vote for its own category.
    pub fn match_ticket_leaving_out(&self, request: &TicketRequest, history_id: &str) -> Result<TicketMatch> {
        self.match_ticket_inner(request, &self.default_stop(), Some(history_id))
    }

    fn match_ticket_inner(&self, request: &TicketRequest, stop: &Stop, leave_out: Option<&str>) -> Result<TicketMatch> {
        let started = Instant::now();
        let chars = request.text.chars().count();
        let most = self.limits().max_ticket_chars;
        if chars > most {
            return Err(Error::invalid(
                Invalid::QueryTooLong,
                format!("a ticket has at most {most} characters, this one has {chars}"),
            ));
        }
        if request.text.trim().is_empty() {
            return Err(Error::invalid(Invalid::EmptyQuery, "`text` must hold the ticket's words"));
        }
        let limit = request.limit.unwrap_or(DEFAULT_SOLUTIONS);
        if limit == 0 || limit > self.limits().max_limit {
            return Err(Error::invalid(
                Invalid::Limit,
                format!("limit must be between 1 and {}", self.limits().max_limit),
            ));
        }
        for (field, value) in [("customer_id", &request.customer_id), ("device_serial", &request.device_serial)] {
            if let Some(value) = value
                && (value.trim().is_empty() || value.len() > 128)
            {
                return Err(Error::invalid(Invalid::Parameter, format!("`{field}` must be 1 to 128 bytes")));
            }
        }

        let normalized = analysis::normalize(&request.text);
        let masked = analysis::mask(&normalized).text;
        // The rules, the links and the searches read homophone slips as the words they stand for.
        let spelled = self.speller.current().correct(&masked);
        let read = spelled.text.as_str();
        // Search with the head of the ticket: the limit on query length applies to searches.
        let q: String = read.chars().take(self.limits().max_query_chars).collect();
        // Analysed once, for every search below; `q` is normalised, masked and read already.
        let query = self.analyse_read(&q, q.clone());
        // The searches below carry kind filters, which would turn a query without words into a
        // browse of everything: refuse it here.
        if query.terms.is_empty() {
            return Err(Error::invalid(
                Invalid::EmptyQuery,
                "the ticket has no searchable words (only punctuation or masked personal data)",
            ));
        }
        // What needs no query vector runs while the embedding thread computes it: the device,
        // the customer, the guidance items' table and their lexical ranking, the entity links
        // and the graph expansion the three searches share.
        self.embed_ahead(&query);
        let mut notes = Vec::new();
        let device = self.ticket_device(request, &normalized, &mut notes)?;
        let customer = self.ticket_customer(request, device.as_ref(), &mut notes)?;
        let table = self.guidance_table()?;
        // The four searches below (guidance by words, solutions, similar cases, guidance) rank
        // the same words with different kind filters: one BM25 ranking serves them all.
        self.rank_ahead_by_kind(&query, &[&SOLUTION_KINDS, &[ItemKind::SolvedCase], &GUIDANCE_KINDS], stop)?;
        let words = self.guidance_words(&query, stop)?;
        self.link_ahead(&query)?;

        let search = |kinds: &[ItemKind], limit: usize, shown: Shown| -> Result<crate::SearchResponse> {
            let mut filters = BTreeMap::new();
            filters.insert(FilterField::Kind, kinds.iter().map(|k| k.code().to_string()).collect());
            let request = SearchRequest { q: q.clone(), limit: Some(limit), filters, ..SearchRequest::default() };
            self.search_analysed(&request, &query, stop, shown)
        };
        // The first search collects the query vector and computes the dense neighbours the three
        // share; the other two then run side by side. Guidance hits are votes
        // and candidates, never shown as they are: they are not read back.
        let solutions = search(&SOLUTION_KINDS, limit, Shown::All)?;
        notes.extend(solutions.degraded.clone());
        let (cases, guidance) = std::thread::scope(|scope| {
            let cases =
                scope.spawn(|| search(&[ItemKind::SolvedCase], SIMILAR_CASES.max(VOTERS), Shown::First(SIMILAR_CASES)));
            let guidance = search(&GUIDANCE_KINDS, GUIDANCE_DEPTH, Shown::First(0));
            // A panic in the other search is a bug: carry it on (the server answers 500).
            let cases = cases.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (cases, guidance)
        });
        let (cases, guidance) = (cases?, guidance?);

        let learned = self.learned_categories().map(|model| model.posterior(read, leave_out)).unwrap_or_default();
        let category = predict_category(read, &guidance.hits, &cases.hits, &learned);
        let minor = Category::from_code(&category.minor).unwrap_or(Category::FaultRepair);

        let mut entities = Entities::default();
        let subject = self.ticket_subject(
            (minor, read),
            (&solutions.linked, &cases.hits),
            device.as_ref(),
            customer.as_ref(),
            &mut entities,
        )?;
        // Every guidance item the ticket's words match, best first: the fused guidance hits, then
        // the lexical ranking of both kinds (the rest of the items follow from the table).
        let by_words: Vec<String> = guidance.hits.iter().map(|hit| hit.id.clone()).chain(words).collect();
        let answer_standard =
            self.pick_guidance(&table, ItemKind::AnswerStandard, &subject, &by_words, 1)?.into_iter().next();
        let response_strategies =
            self.pick_guidance(&table, ItemKind::ResponseStrategy, &subject, &by_words, STRATEGIES)?;

        let mut similar_cases = cases.hits;
        similar_cases.truncate(SIMILAR_CASES);
        let dispatch = self.ticket_dispatch(read, minor, &solutions.linked, device.as_ref(), customer.as_ref())?;
        Ok(TicketMatch {
            request_id: None,
            ticket: masked,
            spelling: spelled.fixes.into_iter().map(|f| Reading { written: f.written, read: f.read }).collect(),
            terms: solutions.terms,
            // Echoed as the other text we show: normalised, personal data masked.
            channel: request.channel.as_deref().map(|c| analysis::mask(&analysis::normalize(c)).text),
            category,
            linked: solutions.linked,
            customer,
            device,
            answer_standard,
            response_strategies,
            solutions: solutions.hits,
            similar_cases,
            dispatch: Some(dispatch),
            notes,
            took_ms: started.elapsed().as_secs_f64() * 1e3,
        })
    }

    /// The device of the request's serial, or else the first serial in the ticket text that
    /// names a known device.
    fn ticket_device(
        &self,
        request: &TicketRequest,
        normalized: &str,
        notes: &mut Vec<String>,
    ) -> Result<Option<graph::DeviceReport>> {
        let Some(graph) = self.graph() else {
            return Ok(None);
        };
        let today = graph::Date::today();
        if let Some(serial) = &request.device_serial {
            let found = graph::device_by_serial(graph, serial, today)?;
            if found.is_none() {
                notes.push("no device with the `device_serial` given is on record".to_string());
            }
            return Ok(found);
        }
        Ok(graph::device_in_text(graph, normalized, today)?)
    }

    fn ticket_customer(
        &self,
        request: &TicketRequest,
        device: Option<&graph::DeviceReport>,
        notes: &mut Vec<String>,
    ) -> Result<Option<CustomerView>> {
        if let Some(id) = &request.customer_id {
            match self.store().get(id)?.map(|stored| stored.record) {
                Some(Record::Entity(entity)) if entity.class == EntityClass::Customer => {
                    let attr_text = |name: &str| entity.attrs.get(name).and_then(|v| v.as_str()).map(str::to_string);
                    let tags = entity
                        .attrs
                        .get("tags")
                        .and_then(|v| v.as_array())
                        .map(|list| list.iter().filter_map(|t| t.as_str().map(str::to_string)).collect())
                        .unwrap_or_default();
                    return Ok(Some(CustomerView {
                        id: entity.id.clone(),
                        label: entity.label.clone(),
                        level: attr_text("level"),
                        tags,
                        source: "request".into(),
                    }));
                }
                _ => notes.push("no customer with the `customer_id` given is on record".to_string()),
            }
        }
        Ok(device.and_then(|d| d.customer.as_ref()).map(|c| CustomerView {
            id: c.id.clone(),
            label: c.label.clone(),
            level: c.level.clone(),
            tags: c.tags.clone(),
            source: "device".into(),
        }))
    }

    /// What the ticket is about: its category, the product lines and models of its device and
    /// of the products its words name, the faults they name, whether its writer is a household
    /// or an organisation, and the customer's tags (record and words).
    fn ticket_subject(
        &self,
        (minor, masked): (Category, &str),
        (linked, cases): (&[LinkedEntity], &[Hit]),
        device: Option<&graph::DeviceReport>,
        customer: Option<&CustomerView>,
        entities: &mut Entities,
    ) -> Result<Subject> {
        let rules = GuidanceRules::bundled();
        let mut subject = Subject::new(minor);
        if let Some(device) = device {
            subject.models.extend(device.model.iter().map(|m| m.id.clone()));
            subject.lines.extend(device.line.iter().map(|l| l.id.clone()));
        }
        for entity in linked {
            let Some(found) = entities.get(self, &entity.id)?.cloned() else { continue };
            match found.class {
                EntityClass::ProductLine => {
                    subject.lines.insert(found.id);
                }
                EntityClass::ProductModel | EntityClass::Component => {
                    let (lines, models) = entities.lines_of(self, &found.id)?;
                    subject.lines.extend(lines);
                    subject.models.extend(models);
                }
                EntityClass::Fault => {
                    subject.faults.insert(found.id.clone());
                    for product in found.links.get("product").into_iter().flatten() {
                        let (lines, _) = entities.lines_of(self, product)?;
                        subject.fault_lines.extend(lines);
                    }
                }
                _ => {}
            }
        }
        if subject.faults.is_empty() && matches!(minor, Category::FaultRepair | Category::Consultation) {
            // The faults (not the causes and solutions a case also links) of the closest solved
            // cases: on any line, what a fault's script the words put forward needs to be
            // trusted; on the ticket's known line, in a fault report, the fault most of them
            // were about is inferred.
            let near: Vec<&Hit> = cases.iter().take(INFERENCE_CASES).collect();
            for case in &near {
                for id in &case.faults {
                    if entities.get(self, id)?.is_some_and(|e| e.class == EntityClass::Fault) {
                        subject.case_faults.insert(id.clone());
                    }
                }
            }
            // A report of how the device looks or sounds (红灯一直闪) says nothing of what failed.
            if minor == Category::FaultRepair && !subject.lines.is_empty() && rules.vague_word(masked).is_none() {
                let mut on_line = Vec::new();
                for case in &near {
                    let mut on = false;
                    for product in &case.products {
                        on |= entities.lines_of(self, product)?.0.iter().any(|l| subject.lines.contains(l));
                    }
                    if on {
                        on_line.push(&case.faults);
                    }
                }
                let is_fault = |id: &str| subject.case_faults.contains(id);
                subject.inferred_faults = crate::guidance::infer_faults(&on_line, INFERENCE_CASES, &is_fault);
            }
        }
        if subject.lines.is_empty() && subject.fault_lines.len() == 1 {
            // The named fault occurs on one line only: that is the ticket's line.
            subject.lines = subject.fault_lines.clone();
        }
        let record_type = match customer {
            Some(c) => entities
                .get(self, &c.id)?
                .and_then(|e| e.attrs.get("type").and_then(|t| t.as_str()).map(str::to_string)),
            None => None,
        };
        subject.audience = record_type
            .as_deref()
            .and_then(|t| rules.customer_audience(t))
            .or_else(|| rules.text_audience(masked).map(|(audience, _)| audience));
        subject.tags.extend(customer.into_iter().flat_map(|c| c.tags.iter().cloned()));
        subject.tags.extend(rules.text_tags(masked).into_iter().map(|(tag, _)| tag));
        subject.steps.extend(rules.text_steps(masked).into_iter().map(|(step, _)| step));
        subject.topics.extend(topics_beside_products(rules, masked, linked));
        Ok(subject)
    }

    /// The guidance items of both kinds the ticket's words match, best first (one lexical
    /// ranking).
    fn guidance_words(&self, query: &AnalysedQuery<'_>, stop: &Stop) -> Result<Vec<String>> {
        let mut filters = BTreeMap::new();
        filters.insert(FilterField::Kind, GUIDANCE_KINDS.iter().map(|k| k.code().to_string()).collect());
        let by_words = SearchRequest {
            q: query.text.clone(),
            limit: Some(self.limits().max_limit),
            filters,
            retrievers: Some(vec![Retriever::Lexical]),
            ..SearchRequest::default()
        };
        Ok(self.search_analysed(&by_words, query, stop, Shown::First(0))?.hits.into_iter().map(|hit| hit.id).collect())
    }

    /// The applicable items of `kind`, most specific first, at most `count`, in full. The
    /// candidates are the items of `kind` that `by_words` names (in that order), then the other
    /// items of the ticket's category family (of every category for strategies when the
    /// customer has tags) and, for answer standards, the scripts of the ticket's faults.
    fn pick_guidance(
        &self,
        table: &GuidanceTable,
        kind: ItemKind,
        subject: &Subject,
        by_words: &[String],
        count: usize,
    ) -> Result<Vec<Guidance>> {
        let family: Vec<Category> =
            if kind == ItemKind::ResponseStrategy && !(subject.tags.is_empty() && subject.topics.is_empty()) {
                // Strategies for the customer's tags or the ticket's topics apply in every category.
                Category::ALL.to_vec()
            } else if matches!(subject.category, Category::FaultRepair | Category::Consultation) {
                vec![Category::FaultRepair, Category::Consultation]
            } else {
                vec![subject.category]
            };
        let by_fault = kind == ItemKind::AnswerStandard;
        let eligible = |c: &Candidate| {
            c.category.is_some_and(|category| family.contains(&category))
                || (by_fault && !c.faults.is_disjoint(&subject.faults))
        };
        let candidates = table.candidates(kind, by_words.iter().map(String::as_str), eligible);
        let label = |id: &str| table.label(id);
        let by_customer = kind == ItemKind::ResponseStrategy;
        let mut chosen = Vec::new();
        for choice in crate::guidance::rank(subject, &candidates, by_customer, &label) {
            if chosen.len() == count {
                break;
            }
            if let Some(item) = self.guidance(&choice.id, choice.reason)? {
                chosen.push(item);
            }
        }
        Ok(chosen)
    }

    /// A published item in full, masked.
    fn guidance(&self, id: &str, reason: String) -> Result<Option<Guidance>> {
        Ok(match self.store().get(id)?.map(|stored| stored.record) {
            Some(Record::Item(item)) => Some(Guidance {
                id: item.id,
                title: analysis::mask(&item.title).text,
                kind: item.kind.code().to_string(),
                category: item.category.map(|c| c.code().to_string()),
                tags: item.tags,
                body: analysis::mask(&item.body).text,
                reason,
            }),
            _ => None,
        })
    }
}

/// Votes of the neighbours and the cue words, turned into shares.
pub fn predict_category(
    masked: &str,
    guidance: &[Hit],
    cases: &[Hit],
    learned: &[(Category, f32)],
) -> CategoryPrediction {
    let mut votes: BTreeMap<Category, f32> = BTreeMap::new();
    let mut neighbours = Vec::new();
    for hit in guidance.iter().take(VOTERS).chain(cases.iter().take(VOTERS)) {
        let Some(category) = hit.category.as_deref().and_then(Category::from_code) else {
            continue;
        };
        let weight = NEIGHBOUR_WEIGHT * hit.score.max(0.0);
        *votes.entry(category).or_default() += weight;
        neighbours.push(Neighbour { id: hit.id.clone(), category: category.code().to_string(), weight });
    }
    neighbours.sort_by(|a, b| b.weight.total_cmp(&a.weight));
    let cues = cue_words(masked);
    // The categories the ticket is framed as: a fault or service cue of another category names
    // what it asks, suggests or complains about.
    let framing: Vec<&str> =
        cues.iter().filter(|c| FRAMING.contains(&c.word.as_str())).map(|c| c.category.as_str()).collect();
    for cue in &cues {
        if let Some(category) = Category::from_code(&cue.category) {
            let framed = matches!(category, Category::FaultRepair | Category::ServiceRequest)
                && framing.iter().any(|f| *f != cue.category);
            let share = if framed { FRAMED_SHARE } else { 1.0 };
            *votes.entry(category).or_default() += CUE_POINT * f32::from(cue.weight) * share;
        }
    }
    for (category, p) in learned {
        *votes.entry(*category).or_default() += LEARNED_POINTS * p;
    }
    let learned = learned
        .iter()
        .filter(|(_, p)| *p >= 0.01)
        .take(3)
        .map(|(c, p)| CategoryScore { category: c.code().to_string(), share: *p })
        .collect();
    let total: f32 = votes.values().sum();
    let mut scores: Vec<CategoryScore> = votes
        .iter()
        .map(|(c, v)| CategoryScore {
            category: c.code().to_string(),
            share: if total > 0.0 { v / total } else { 0.0 },
        })
        .collect();
    scores.retain(|s| s.share > 0.0);
    scores.sort_by(|a, b| b.share.total_cmp(&a.share).then_with(|| a.category.cmp(&b.category)));
    // With no evidence at all, a ticket is a fault report: by far the most common kind.
    let minor = scores.first().and_then(|s| Category::from_code(&s.category)).unwrap_or(Category::FaultRepair);
    let confidence = scores.first().map_or(0.0, |s| s.share);
    let major = minor.major();
    let major_confidence = if total > 0.0 {
        votes.iter().filter(|(c, _)| c.major() == major).map(|(_, v)| v).sum::<f32>() / total
    } else {
        0.0
    };
    CategoryPrediction {
        major: major.code().to_string(),
        major_label: major.label_zh().to_string(),
        minor: minor.code().to_string(),
        minor_label: minor.label_zh().to_string(),
        confidence,
        major_confidence,
        scores,
        cues,
        neighbours,
        learned,
    }
}

/// The topics the words of `masked` show, but for a topic word inside the name of a product it
/// names (储能 of 储能变流器): that word names the product, not what the ticket is about.
fn topics_beside_products(rules: &GuidanceRules, masked: &str, linked: &[LinkedEntity]) -> Vec<String> {
    let products: Vec<&str> = linked
        .iter()
        .filter(|l| {
            matches!(EntityClass::from_code(&l.class), Some(EntityClass::ProductLine | EntityClass::ProductModel))
        })
        .map(|l| l.matched.as_str())
        .collect();
    rules
        .text_topics(masked)
        .into_iter()
        .filter(|(_, word)| !products.iter().any(|name| name.contains(word.as_str())))
        .map(|(topic, _)| topic)
        .collect()
}

/// Every category cue word.
pub(crate) fn cue_vocabulary() -> impl Iterator<Item = &'static str> {
    CUES.iter().flat_map(|(_, _, words)| words.iter().copied())
}

/// The cue words in `text`, each counted once; a cue inside a longer cue of the same category
/// that was already found is not counted again.
fn cue_words(text: &str) -> Vec<Cue> {
    let mut found: Vec<Cue> = Vec::new();
    for (category, weight, words) in CUES {
        for word in *words {
            let inside_longer = found.iter().any(|c| c.category == category.code() && c.word.contains(word));
            if text.contains(word) && !inside_longer {
                found.push(Cue { word: (*word).to_string(), category: category.code().to_string(), weight: *weight });
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Explanation;

    fn hit(id: &str, category: &str, score: f32) -> Hit {
        Hit {
            id: id.into(),
            rank: 1,
            score,
            title: String::new(),
            kind: "answer_standard".into(),
            category: Some(category.into()),
            status: "published".into(),
            products: vec![],
            faults: vec![],
            tags: vec![],
            snippet: String::new(),
            explanation: Explanation {
                matched_terms: vec![],
                lexical: None,
                semantic: None,
                graph: None,
                graph_path: vec![],
                feedback: None,
                fused_score: score,
            },
        }
    }

    #[test]
    fn a_topic_word_inside_a_named_product_is_not_a_topic() {
        let rules = GuidanceRules::bundled();
        let text = "站内储能变流器报交流过流跳机了";
        let line = |matched: &str| LinkedEntity {
            id: "pl-storage-pcs".into(),
            class: "ProductLine".into(),
            label: "储能变流器".into(),
            matched: matched.into(),
        };
        assert!(topics_beside_products(rules, text, &[]).contains(&"储能".to_string()));
        assert!(!topics_beside_products(rules, text, &[line("储能变流器")]).contains(&"储能".to_string()));
        // The word elsewhere in the text still shows the topic.
        let asked = "储能收益怎么算，我们的PCS";
        assert!(topics_beside_products(rules, asked, &[line("pcs")]).contains(&"储能".to_string()));
    }

    #[test]
    fn cue_words_decide_when_neighbours_are_silent() {
        let p = predict_category("这次的培训讲得特别好，给你们点赞", &[], &[], &[]);
        assert_eq!((p.minor.as_str(), p.major.as_str()), ("praise", "other"));
        assert!(p.cues.iter().any(|c| c.word == "点赞"));
        assert!(p.confidence > 0.5, "{p:?}");
    }

    #[test]
    fn a_request_for_a_handling_opinion_is_a_fault_report_not_an_opinion() {
        // Opinion items are the words' closest neighbours (处理意见 shares 意见 with them).
        let opinions = [hit("o1", "opinion", 1.5), hit("o2", "opinion", 1.2)];
        let p = predict_category("升压站今天早上定值自检错，给个处理意见", &opinions, &[], &[]);
        assert_eq!(p.minor, "fault_repair", "{p:?}");
        assert!(p.cues.iter().any(|c| c.word == "处理意见"));
        let p = predict_category("主进线没电了，都第二次了", &opinions, &[], &[]);
        assert_eq!(p.minor, "fault_repair", "{p:?}");
    }

    #[test]
    fn a_reading_out_of_range_is_a_fault_report() {
        // Consultation items about the same measurement are the words' closest neighbours.
        let consultations = [hit("c1", "consultation", 1.5), hit("c2", "consultation", 1.2)];
        for text in ["储能系统几簇电池的电流差很多", "从前天开始电压偏低", "电量显示突变", "逆变器老显示电网不正常"]
        {
            let p = predict_category(text, &consultations, &[], &[]);
            assert_eq!(p.minor, "fault_repair", "{text}: {p:?}");
        }
    }

    #[test]
    fn neighbours_vote_with_their_scores_and_shares_sum_to_one() {
        let guidance = [hit("a", "service_request", 1.2), hit("b", "consultation", 0.3)];
        let p = predict_category("没有提示词的句子", &guidance, &[hit("c", "service_request", 0.5)], &[]);
        assert_eq!(p.minor, "service_request");
        assert_eq!(p.major, "service_request");
        let sum: f32 = p.scores.iter().map(|s| s.share).sum();
        assert!((sum - 1.0).abs() < 1e-5, "{sum}");
        assert_eq!(p.neighbours.first().map(|n| n.id.as_str()), Some("a"));
    }

    fn minor(text: &str) -> String {
        predict_category(text, &[], &[], &[]).minor
    }

    #[test]
    fn how_to_questions_are_consultations_not_fault_reports() {
        assert_eq!(minor("后台的告警音响怎么设置成只响事故信号"), "consultation");
        assert_eq!(minor("想问一下录波器的录波文件怎么导出来"), "consultation");
        assert_eq!(minor("如何查看保护装置的程序版本和校验码？定检的时候要核对"), "consultation");
        assert_eq!(minor("光伏逆变器的通讯棒怎么重新配网"), "consultation");
        assert_eq!(minor("测控装置的同期定值在哪里改，说明书上没找到"), "consultation");
        // A report of something broken stays one.
        assert_eq!(minor("后台告警一直响，装置黑屏了"), "fault_repair");
    }

    #[test]
    fn suggestions_and_opinions_are_not_fault_reports() {
        assert_eq!(minor("给个小建议，逆变器的报警最好能推送到微信上，不然坏了好几天都不知道"), "suggestion");
        assert_eq!(minor("装置的液晶屏能不能做大一点"), "suggestion");
        assert_eq!(minor("你们的充电站应该加个雨棚"), "suggestion");
        assert_eq!(minor("充完电多停一会儿就罚钱，太不近人情了"), "opinion");
        assert_eq!(minor("电价政策改来改去的，老百姓根本搞不清楚"), "opinion");
    }

    #[test]
    fn vague_reports_are_fault_reports() {
        assert_eq!(minor("机器上红灯一直闪，不知道怎么回事"), "fault_repair");
        assert_eq!(minor("设备有点不对劲，老是嘀嘀响"), "fault_repair");
    }

    #[test]
    fn quality_complaints_naming_the_fault_are_quality_complaints() {
        // The fault words name what failed; the complaint is about the product.
        assert_eq!(minor("去年装的逆变器已经报故障了，是不是质量问题"), "quality_complaint");
        assert_eq!(minor("保护装置的电源板又坏了两次，你们得给个说法"), "quality_complaint");
        assert_eq!(minor("同一台装置的电源插件一年坏了两次，你们的质量是不是有问题"), "quality_complaint");
        assert_eq!(minor("我们站这批桩故障率太高，一个月坏了七八次"), "quality_complaint");
        // The service words too, even with a service neighbour.
        let requests = [hit("s", "service_request", 1.0)];
        let p = predict_category("你们的检测结论说是我们操作问题，我们不认，申请第三方检测", &requests, &[], &[]);
        assert_eq!(p.minor, "quality_complaint", "{p:?}");
        assert_eq!(minor("新换的电表以后电费一下子高了"), "quality_complaint");
        // A plain report of a fault stays one.
        assert_eq!(minor("逆变器报故障了，麻烦派人来看看"), "fault_repair");
    }

    #[test]
    fn service_requests_naming_a_fault_or_a_site_job_are_service_requests() {
        assert_eq!(minor("电表的故障模块要寄回修，怎么弄，发哪里"), "service_request");
        assert_eq!(minor("配电室月底停电检修，想请厂家派人配合调试"), "service_request");
        assert_eq!(minor("我们要搬，这台表要挪位置，可以来人吗"), "service_request");
        assert_eq!(minor("合同想改一下数量，要走什么流程"), "service_request");
        assert_eq!(minor("需要买两块保护装置的备件，多少钱"), "service_request");
        assert_eq!(minor("光伏监控密码登不上，能不能找回"), "service_request");
    }

    #[test]
    fn a_fault_with_no_spare_on_site_or_a_question_of_stopping_is_a_fault_report() {
        // A consultation neighbour; the spare-part words are a service cue: the fault cues decide.
        let consultations = [hit("c", "consultation", 2.0)];
        let p = predict_category("召唤装置定值超时，备件现场没有", &consultations, &[], &[]);
        assert_eq!(p.minor, "fault_repair", "{p:?}");
        let p = predict_category("储能电量一会儿显示60%，一会儿40%，要不要停运", &consultations, &[], &[]);
        assert_eq!(p.minor, "fault_repair", "{p:?}");
    }

    #[test]
    fn repeated_visits_missing_notices_and_transfers_are_service_complaints() {
        assert_eq!(minor("工程师跑了几趟，调度通道断还是在报"), "service_complaint");
        assert_eq!(minor("停电也不提前通知，冷库里的货全坏了，我要投诉"), "service_complaint");
        assert_eq!(minor("热线打过去都在转接"), "service_complaint");
    }

    #[test]
    fn praise_suggestions_and_consultations_in_their_own_words() {
        assert_eq!(minor("昨晚电表坏了，你们半夜过来修好了，点个赞"), "praise");
        assert_eq!(minor("希望你们的说明书后面加一个常见告警处理的附表"), "suggestion");
        assert_eq!(minor("准备在家里车位装个充电桩，需要哪些手续"), "consultation");
        assert_eq!(minor("厂房装了光伏，接入电网怎么办理"), "consultation");
        assert_eq!(minor("运维人员需要掌握哪些技能，有没有培训推荐"), "consultation");
    }

    #[test]
    fn every_framing_word_is_a_cue() {
        for word in FRAMING {
            assert!(CUES.iter().any(|(_, _, words)| words.contains(word)), "{word}");
        }
    }

    #[test]
    fn past_tickets_outvote_neighbours_and_weak_cues_but_not_a_clear_cue() {
        let learned = [(Category::Suggestion, 0.9), (Category::FaultRepair, 0.1)];
        // Only a neighbour's vote: what was learned decides, and is shown.
        let guidance = [hit("a", "fault_repair", 1.0)];
        assert_eq!(predict_category("没有提示词的句子", &guidance, &[], &[]).minor, "fault_repair");
        let p = predict_category("没有提示词的句子", &guidance, &[], &learned);
        assert_eq!(p.minor, "suggestion");
        assert_eq!(p.major, "other");
        assert_eq!(p.learned.iter().map(|s| s.category.as_str()).collect::<Vec<_>>(), ["suggestion", "fault_repair"]);
        assert!((p.scores.iter().map(|s| s.share).sum::<f32>() - 1.0).abs() < 1e-4);
        // A clear cue (three points) stays.
        assert_eq!(predict_category("这次的培训讲得特别好，给你们点赞", &[], &[], &learned).minor, "praise");
    }

    #[test]
    fn no_evidence_means_a_fault_report_with_zero_confidence() {
        let p = predict_category("嗯", &[], &[], &[]);
        assert_eq!((p.minor.as_str(), p.confidence), ("fault_repair", 0.0));
    }

    #[test]
    fn major_confidence_adds_up_the_minor_categories_of_the_major_one() {
        let guidance =
            [hit("a", "service_complaint", 1.0), hit("b", "quality_complaint", 0.8), hit("c", "praise", 0.2)];
        let p = predict_category("x", &guidance, &[], &[]);
        assert_eq!(p.major, "complaint");
        assert!((p.major_confidence - 0.9).abs() < 1e-5, "{p:?}");
    }
}
