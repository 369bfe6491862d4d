//! The labelled ticket set: tickets written the way customers and field engineers write, each
//! with its gold items (2 = solves it, 1 = relevant), category, product and fault.
//!
//! Tickets are built from the same world as the cases (customers, devices, faults) but their
//! text is written from scratch in spoken style, never copied from a gold item, so that lexical
//! overlap with the answers stays low (see [`Tickets::mean_jaccard`]).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use store::{Category, Item, ItemKind};

use crate::authored::Authored;
use crate::cases::Case;
use crate::names::{ADDRESS, GIVEN, SURNAMES};
use crate::rng::Rng;
use crate::text::{Vars, add_typos, colloquialise, expand, loose_code, strip_quotes, to_traditional, truncate_thought};
use crate::world::{Contract, CustomerKind, Device, World, warranty_status};
use calendar::Date;

/// Tickets in the set.
pub const TICKETS: usize = 2_400;
/// Share of tickets in the dev split (the rest is test).
pub const DEV_SHARE: f64 = 0.4;

#[derive(Debug, Clone, Serialize)]
pub struct Query {
    #[serde(rename = "_id")]
    pub id: String,
    pub text: String,
    pub split: &'static str,
    pub major: &'static str,
    pub minor: &'static str,
    pub products: Vec<String>,
    pub faults: Vec<String>,
    pub customer_id: Option<String>,
    pub device_serial: Option<String>,
    pub channel: &'static str,
    /// Who wrote it: `customer` or `engineer`.
    pub writer: &'static str,
    /// Personal data written into the text (to be masked): `name`, `mobile`, `landline`.
    pub pii: Vec<&'static str>,
    pub traditional: bool,
    pub typos: usize,
    /// The scenario the ticket was drawn from (for per-scenario evaluation).
    pub scenario: &'static str,
}

#[derive(Debug, Clone)]
pub struct Qrel {
    pub query: String,
    pub item: String,
    pub grade: u8,
    pub split: &'static str,
}

#[derive(Debug)]
pub struct Tickets {
    pub queries: Vec<Query>,
    pub qrels: Vec<Qrel>,
    pub mean_jaccard: f64,
}

/// A non-fault scenario: its category, wording and gold items.
struct Scenario {
    name: &'static str,
    minor: Category,
    /// Product lines a device must belong to (empty: no device, or any device).
    lines: &'static [&'static str],
    needs_device: bool,
    texts: &'static [&'static str],
    gold2: &'static [&'static str],
    gold1: &'static [&'static str],
    weight: u32,
}

const PROTECTION: &[&str] = &[
    "pl-line-protection",
    "pl-transformer-protection",
    "pl-busbar-protection",
    "pl-feeder-protection",
    "pl-auto-transfer",
];

const SCENARIOS: &[Scenario] = &[
    // 质量投诉
    Scenario {
        name: "qc-repeat-failure",
        minor: Category::QualityComplaint,
        lines: &[],
        needs_device: true,
        texts: &[
            "{这台|你们这个|我们站那台}<code>{一年|半年|才几个月}{坏了|出了}{两回|两次|三次}<falias>了，{质量到底行不行|什么质量啊|要求给个说法}",
            "<code>又{报|出}<falias>，上次{修完|换完}{才|没}{两个月|多久}，{要求|我们要求}{厂家|你们}{出分析报告|查根本原因}",
            "{投诉|反映}{产品质量|质量问题}：<site><code>{反复|多次}<falias>，{换了板子|处理过}还是{不行|这样}",
        ],
        gold2: &["kb-as-quality-complaint-02", "kb-rs-quality-batch-issue"],
        gold1: &["kb-as-quality-complaint-01", "kb-br-quality-feedback-loop", "kb-br-warranty-after-repair"],
        weight: 5,
    },
    Scenario {
        name: "qc-protection-plugin-repeat",
        minor: Category::QualityComplaint,
        lines: &["pl-line-protection", "pl-transformer-protection"],
        needs_device: true,
        texts: &[
            "<code>的电源{板|插件}{又|一年内}坏了{两次|第二次}，{你们|厂家}{怎么保证质量|得给个说法}",
            "{同一个|同一块}{插件|板子}{反复|老是}坏，<site>那台<code>，{要求|希望}{做失效分析|查批次}",
        ],
        gold2: &["kb-as-x-qc-protection-repeat", "kb-as-quality-complaint-02"],
        gold1: &["kb-rs-quality-batch-issue", "kb-br-quality-feedback-loop"],
        weight: 2,
    },
    Scenario {
        name: "qc-damaged-delivery",
        minor: Category::QualityComplaint,
        lines: &[],
        needs_device: true,
        texts: &[
            "{刚到货的|新到的|今天到的}<code>{外壳|面板|屏幕}{摔坏了|裂了|变形}，{还|而且}{缺|少}{配件|端子|说明书}",
            "{开箱|验收}{发现|时}<code>{破损|有磕碰}{，|}{怎么|能不能}{换货|处理}",
        ],
        gold2: &["kb-as-quality-complaint-03"],
        gold1: &["kb-br-return-goods", "kb-as-quality-complaint-01"],
        weight: 2,
    },
    Scenario {
        name: "qc-meter-accuracy",
        minor: Category::QualityComplaint,
        lines: &["pl-smart-meter"],
        needs_device: true,
        texts: &[
            "{我怀疑|感觉}{你们|这个}{电表|表}{不准|走字快}，{家里|店里}{没怎么用电|用电没变}{电费|度数}{翻倍|涨了好多}",
            "{新换的|换了}{智能表|电表}{以后|之后}{电费|用电量}{明显|一下子}{多了|高了}，{要求|我要}{检定|校验}",
        ],
        gold2: &["kb-as-x-qc-meter-accuracy"],
        gold1: &["kb-br-meter-verification-request", "kb-as-f-meter-fast", "kb-rs-bill-sensitive"],
        weight: 2,
    },
    Scenario {
        name: "qc-charger-failure-rate",
        minor: Category::QualityComplaint,
        lines: &["pl-ev-charger"],
        needs_device: true,
        texts: &[
            "我们{场站|站里}{这批|你们的}{桩|<code>}{故障率|坏的}{太高了|也太多了}，{一个月|这周}{坏了|报修}{好几台|七八次}",
            "{运营商|我们公司}{投诉|反映}：<code>{老是|经常}{离线|报故障}，{影响营收|用户投诉不断}",
        ],
        gold2: &["kb-as-x-qc-charger-faults", "kb-as-quality-complaint-04"],
        gold1: &["kb-rs-quality-batch-issue", "kb-br-charger-site-fault-sla"],
        weight: 2,
    },
    Scenario {
        name: "qc-inverter-early-failure",
        minor: Category::QualityComplaint,
        lines: &["pl-pv-inverter"],
        needs_device: true,
        texts: &[
            "{逆变器|<code>}{才装了|装上}{半年|不到一年}就{坏了|不发电了}，{这质量|太差了}",
            "{去年|刚}装的<code>{已经|又}{坏|报故障}了，{是不是|要不要}{质量问题|换新}",
        ],
        gold2: &["kb-as-x-qc-inverter-early-fail"],
        gold1: &["kb-br-warranty-pv-inverter", "kb-br-pv-warranty-claim", "kb-as-quality-complaint-01"],
        weight: 2,
    },
    Scenario {
        name: "qc-report-dispute",
        minor: Category::QualityComplaint,
        lines: &[],
        needs_device: true,
        texts: &[
            "{你们的|厂家给的}{分析报告|检测结论}说是{我们|现场}{操作问题|外部原因}，{我们不认可|不同意}，{要求|申请}第三方检测",
            "<code>返修的{结论|报告}{有问题|不对}，{说是|写的}{雷击|进水}，{根本不是|我们不接受}",
        ],
        gold2: &["kb-as-quality-complaint-05", "kb-rs-x-qc-third-party-test"],
        gold1: &["kb-br-warranty-exclusions", "kb-as-quality-complaint-06"],
        weight: 1,
    },
    // 服务投诉
    Scenario {
        name: "sc-engineer-late",
        minor: Category::ServiceComplaint,
        lines: &[],
        needs_device: false,
        texts: &[
            "{说好|约好}{上午|今天|昨天}{来人|到现场}，{到现在|等到下午}{人影都没有|还没来}，{什么服务|搞什么}",
            "{你们的|派的}工程师{迟到|没按时到}{好几个小时|半天}，{我们|一站人}{等着|白等}",
            "{投诉|我要投诉}{现场服务|服务}{不守时|不准时}，{约了两次|两次}都{没来|放鸽子}",
        ],
        gold2: &["kb-as-service-complaint-02"],
        gold1: &["kb-br-site-service-response", "kb-as-service-complaint-01", "kb-br-complaint-timelimit"],
        weight: 3,
    },
    Scenario {
        name: "sc-hotline",
        minor: Category::ServiceComplaint,
        lines: &[],
        needs_device: false,
        texts: &[
            "{热线|客服电话}{打了|拨了}{十几遍|半天}{都没人接|打不通}，{转来转去|一直转接}",
            "{你们|客服}电话{太难打了|根本打不进去}，{转了三次|转了好几个人}{也没解决|没人管}",
        ],
        gold2: &["kb-as-service-complaint-03"],
        gold1: &["kb-as-service-complaint-01", "kb-rs-emotional-customer"],
        weight: 2,
    },
    Scenario {
        name: "sc-no-callback",
        minor: Category::ServiceComplaint,
        lines: &[],
        needs_device: false,
        texts: &[
            "{上周|前天}{报的|提的}{问题|单子}{说|答应}{当天|24小时内}回电，{到现在|一直}{没人回|没消息}",
            "{答应|说好}给我{回电话|回复}的，{三天了|好几天}{都没回|一点动静没有}",
        ],
        gold2: &["kb-as-x-sc-no-callback"],
        gold1: &["kb-as-service-complaint-04", "kb-br-complaint-timelimit", "kb-rs-repeat-caller"],
        weight: 2,
    },
    Scenario {
        name: "sc-repeat-visit",
        minor: Category::ServiceComplaint,
        lines: &[],
        needs_device: true,
        texts: &[
            "<code>{来了三次|上门好几次}{都没修好|还是老样子}，{到底|你们}{能不能|会不会}修",
            "{工程师|你们的人}{跑了|来了}{几趟|两趟}，<falias>{还是|照样}{没解决|在报}",
        ],
        gold2: &["kb-as-x-sc-repeat-visit"],
        gold1: &["kb-rs-unresolved-followup", "kb-as-service-complaint-01"],
        weight: 2,
    },
    Scenario {
        name: "sc-engineer-conduct",
        minor: Category::ServiceComplaint,
        lines: &[],
        needs_device: false,
        texts: &[
            "{你们|来的}工程师{在现场|干活}{不戴安全帽|不办工作票|抽烟}，{太不规范|很不专业}",
            "{投诉|反映}{现场人员|服务人员}{态度差|作业不规范}，{走的时候|干完}{现场|屏柜}{乱七八糟|没收拾}",
        ],
        gold2: &["kb-as-x-sc-engineer-conduct", "kb-as-service-complaint-06"],
        gold1: &["kb-br-site-work-safety", "kb-as-service-complaint-01"],
        weight: 2,
    },
    Scenario {
        name: "sc-slow-rma",
        minor: Category::ServiceComplaint,
        lines: &[],
        needs_device: true,
        texts: &[
            "{寄回去|返厂}{修的|的}<code>{一个多月|快两个月}了{还没寄回来|没消息}，{现场|站里}{一直缺着|没备用}",
            "{返修|送修}{太慢了|周期太长}，{板子|插件}{寄走|发过去}{四周|三十多天}了",
        ],
        gold2: &["kb-rs-x-sc-slow-rma"],
        gold1: &["kb-br-rma-process", "kb-br-loaner-equipment"],
        weight: 2,
    },
    Scenario {
        name: "sc-media-threat",
        minor: Category::ServiceComplaint,
        lines: &[],
        needs_device: false,
        texts: &[
            "{再不解决|今天不给答复}我就{找媒体|发网上|找电视台}，{你们看着办|说到做到}",
            "{已经|都}{投诉|打电话}{好几次|N次}了，{没人管|推来推去}，{我要|准备}{曝光|找记者}",
        ],
        gold2: &["kb-rs-media-threat", "kb-rs-escalation"],
        gold1: &["kb-rs-emotional-customer", "kb-as-service-complaint-01"],
        weight: 1,
    },
    Scenario {
        name: "sc-charging-staff",
        minor: Category::ServiceComplaint,
        lines: &["pl-ev-charger"],
        needs_device: false,
        texts: &["{充电站|场站}{的|那个}{工作人员|管理员}{态度|说话}{很差|很冲}，{问他|找他}{也不理|还凶我}"],
        gold2: &["kb-as-x-sc-charging-staff"],
        gold1: &["kb-as-service-complaint-01", "kb-rs-bill-sensitive-charging"],
        weight: 1,
    },
    Scenario {
        name: "sc-outage-notice",
        minor: Category::ServiceComplaint,
        lines: &[],
        needs_device: false,
        texts: &["{今天|昨天}{突然|一早}停电{也不提前通知|没有通知}，{厂里|店里}{损失|耽误}{不少|大了}"],
        gold2: &["kb-as-x-sc-outage-notice"],
        gold1: &["kb-rs-outage-sensitive-planned", "kb-rs-emotional-repeat-outage"],
        weight: 1,
    },
    // 服务申请
    Scenario {
        name: "sr-spare-parts",
        minor: Category::ServiceRequest,
        lines: &[],
        needs_device: true,
        texts: &[
            "{想|需要}{买|申请}{几块|两块}<code>的{备件|备用插件|电源板}，{多少钱|怎么下单|多久能到}",
            "<code>{备品备件|备件}{申请|采购}，{型号|编号}{见|是}<serial>，{麻烦|请}{报个价|安排}",
        ],
        gold2: &["kb-as-service-request-02", "kb-br-spare-parts-supply"],
        gold1: &["kb-br-spare-parts-price", "kb-br-spare-parts-consignment"],
        weight: 3,
    },
    Scenario {
        name: "sr-site-service",
        minor: Category::ServiceRequest,
        lines: &[],
        needs_device: true,
        texts: &[
            "<site>{下周|月底}{检修|停电检修}，{想|需要}{请|约}{厂家|你们}{派人|来人}{配合|到场}<code>{校验|调试}",
            "{申请|预约}{现场服务|技术服务}：<code>{定检|年检|改定值}，{时间|大概}{下周三|15号}{左右|前后}",
        ],
        gold2: &["kb-as-service-request-01", "kb-br-site-service-response"],
        gold1: &["kb-br-site-service-fee", "kb-br-site-work-safety", "kb-br-engineer-visit-record"],
        weight: 3,
    },
    Scenario {
        name: "sr-training",
        minor: Category::ServiceRequest,
        lines: &[],
        needs_device: true,
        texts: &[
            "{我们|班组}{新来了|来了}{几个|一批}{人|新员工}，{想|能不能}{安排|搞}{个|一次}<code>{培训|操作培训}",
            "{申请|预约}{技术培训|运维培训}，{主要是|内容}<line>{日常维护|常见故障处理}",
        ],
        gold2: &["kb-as-service-request-03", "kb-br-training-service"],
        gold1: &["kb-as-x-cs-smart-sub-training"],
        weight: 2,
    },
    Scenario {
        name: "sr-invoice",
        minor: Category::ServiceRequest,
        lines: &[],
        needs_device: false,
        texts: &[
            "合同<contract>的{发票|专票}{还没开|没收到}，{财务|我们财务}{催了|要报账}",
            "{发票|开的票}{抬头|税号}{写错了|不对}，{要|需要}{重开|作废重开}，合同号<contract>",
        ],
        gold2: &["kb-as-service-request-04", "kb-br-invoice-issue"],
        gold1: &["kb-br-invoice-reissue", "kb-br-payment-terms"],
        weight: 2,
    },
    Scenario {
        name: "sr-rma",
        minor: Category::ServiceRequest,
        lines: &[],
        needs_device: true,
        texts: &[
            "<code>{坏的|故障}{板子|插件|模块}{要|想}{寄回|返厂}{维修|修}，{流程|怎么弄}{是什么|发哪里}",
            "{申请返修|办理返修}，{设备|出厂}编号<serial>，{能不能|可以}{先借|先发}{一块|一台}{备用的|备机}",
        ],
        gold2: &["kb-as-service-request-05", "kb-br-rma-process"],
        gold1: &["kb-br-rma-data-security", "kb-br-loaner-equipment"],
        weight: 2,
    },
    Scenario {
        name: "sr-documents",
        minor: Category::ServiceRequest,
        lines: &[],
        needs_device: true,
        texts: &[
            "{要|需要}<code>的{说明书|图纸|ICD文件|检测报告}，{发|发到}{邮箱|我邮箱}{就行|可以吗}",
            "{验收|报资料}{需要|缺}<code>{型式试验报告|出厂检验报告|说明书}，{去哪|怎么}{下载|申请}",
        ],
        gold2: &["kb-as-service-request-06", "kb-br-document-request"],
        gold1: &[],
        weight: 2,
    },
    Scenario {
        name: "sr-contract-change",
        minor: Category::ServiceRequest,
        lines: &[],
        needs_device: false,
        texts: &[
            "合同<contract>{想|需要}{改一下|变更}{交货地点|数量|型号}，{怎么办理|要走什么流程}",
            "{能不能|可以}{把|将}合同<contract>{里的|中}{型号|配置}{换一下|调整}",
        ],
        gold2: &["kb-rs-contract-change-request", "kb-br-contract-change"],
        gold1: &["kb-br-contract-delivery-delay"],
        weight: 1,
    },
    Scenario {
        name: "sr-upgrade",
        minor: Category::ServiceRequest,
        lines: &[],
        needs_device: true,
        texts: &[
            "<code>{程序|软件}{要不要|需不需要}升级，{现在|版本}是<fw>，{能不能|请}{安排|派人}升级",
            "{反措|调度}{要求|通知}{升级|更新}<code>{程序|版本}，{怎么申请|谁来做}",
        ],
        gold2: &["kb-br-software-upgrade-policy"],
        gold1: &["kb-as-x-cs-protection-version", "kb-as-service-request-01"],
        weight: 2,
    },
    Scenario {
        name: "sr-relocation",
        minor: Category::ServiceRequest,
        lines: &[],
        needs_device: true,
        texts: &[
            "{站里|我们}{要搬|改造}，<code>{要|需要}{挪位置|迁到新屏|移到别的地方}，{你们能|可以}{派人|来人}{拆装调试|重新调试}吗",
        ],
        gold2: &["kb-br-device-relocation"],
        gold1: &["kb-as-service-request-01", "kb-br-site-service-fee"],
        weight: 1,
    },
    Scenario {
        name: "sr-charging-refund",
        minor: Category::ServiceRequest,
        lines: &["pl-ev-charger"],
        needs_device: false,
        texts: &[
            "{充电|昨天充电}{没充进去|没充上}{钱|费用}{却扣了|照扣}，{怎么退|申请退款}",
            "{订单|充电订单}{重复扣费|扣了两次}，{要|请}{退钱|退款}",
        ],
        gold2: &["kb-br-charging-refund"],
        gold1: &["kb-rs-bill-sensitive-charging", "kb-br-charging-invoice"],
        weight: 1,
    },
    Scenario {
        name: "sr-pv-account",
        minor: Category::ServiceRequest,
        lines: &["pl-pv-inverter"],
        needs_device: false,
        texts: &["{光伏|逆变器}{监控|APP}{账号|密码}{忘了|登不上}，{怎么|能不能}{找回|重置}"],
        gold2: &["kb-br-pv-monitoring-account"],
        gold1: &["kb-as-x-sg-pv-monitoring"],
        weight: 1,
    },
    Scenario {
        name: "sr-meter-verification",
        minor: Category::ServiceRequest,
        lines: &["pl-smart-meter"],
        needs_device: false,
        texts: &["{申请|我要申请}{校表|电表校验}，{感觉|怀疑}{表|电表}{有问题|不准}，{要|收}{钱吗|费吗}"],
        gold2: &["kb-br-meter-verification-request"],
        gold1: &["kb-as-consultation-04", "kb-as-x-qc-meter-accuracy"],
        weight: 1,
    },
    Scenario {
        name: "sr-contact-update",
        minor: Category::ServiceRequest,
        lines: &[],
        needs_device: false,
        texts: &["{我们|单位}{联系人|对接人}{换了|变了}，{麻烦|请}{改一下|更新}{档案|联系方式}"],
        gold2: &["kb-br-customer-info-update"],
        gold1: &[],
        weight: 1,
    },
    // 业务咨询
    Scenario {
        name: "cs-warranty",
        minor: Category::Consultation,
        lines: &[],
        needs_device: true,
        texts: &[
            "<code>{还在|过没过}{保修期|质保期}{吗|没}？{编号|出厂编号|SN}<serial>",
            "{查一下|帮我查下}{质保|保修}{到什么时候|到哪天}，合同<contract>",
            "<site>那{几台|台}<code>{是哪年|什么时候}{装的|投运的}，{还保不保|保修到哪天}",
        ],
        gold2: &["kb-as-consultation-01"],
        gold1: &["kb-br-warranty-query", "kb-br-warranty-exclusions"],
        weight: 5,
    },
    Scenario {
        name: "cs-params",
        minor: Category::Consultation,
        lines: &[],
        needs_device: true,
        texts: &[
            "<code>{支持|能不能用}{哪些|什么}{规约|通信规约}？{接口|口}有{几个|多少}",
            "{想问下|请问}<code>的{技术参数|功耗|尺寸|电源电压}{是多少|多少}",
            "{选型|新建站}{考虑|想用}<code>，{跟|和}{别的型号|同系列}{有啥区别|区别在哪}",
        ],
        gold2: &[],
        gold1: &["kb-as-consultation-02"],
        weight: 4,
    },
    Scenario {
        name: "cs-meter-bill",
        minor: Category::Consultation,
        lines: &["pl-smart-meter"],
        needs_device: false,
        texts: &[
            "{这个月|上个月}{电费|电量}{怎么|为什么}{这么高|突然多了}，{我家|家里}{就两个人|没人住}",
            "{阶梯电价|峰谷电价}{怎么算|是怎么计算的}，{账单|电费单}{看不懂|看不明白}",
        ],
        gold2: &["kb-as-consultation-04"],
        gold1: &["kb-as-f-meter-fast", "kb-rs-bill-sensitive", "kb-br-metering-error-refund"],
        weight: 2,
    },
    Scenario {
        name: "cs-charging-price",
        minor: Category::Consultation,
        lines: &["pl-ev-charger"],
        needs_device: false,
        texts: &[
            "{充电|快充}{一度|每度}{多少钱|怎么收费}，{服务费|停车费}{另算吗|怎么算}",
            "{为什么|怎么}{充完|充满}{还|又}{扣|收}{占位费|超时费}",
        ],
        gold2: &["kb-as-consultation-05"],
        gold1: &["kb-br-charging-occupancy-fee", "kb-rs-bill-sensitive-charging"],
        weight: 2,
    },
    Scenario {
        name: "cs-version",
        minor: Category::Consultation,
        lines: PROTECTION,
        needs_device: true,
        texts: &["<code>{现在|目前}{版本|程序}<fw>，{要不要|需不需要}{升级|换程序}？{有没有|是否有}{反措|家族性缺陷}"],
        gold2: &["kb-as-x-cs-protection-version"],
        gold1: &["kb-br-software-upgrade-policy"],
        weight: 2,
    },
    Scenario {
        name: "cs-home-charger",
        minor: Category::Consultation,
        lines: &[],
        needs_device: false,
        texts: &["{想|准备}在{小区|家里车位}{装|安装}{个|一个}{充电桩|交流桩}，{需要|要}{什么条件|哪些手续}"],
        gold2: &["kb-as-x-cs-charger-install"],
        gold1: &["kb-br-warranty-ev-charger"],
        weight: 1,
    },
    Scenario {
        name: "cs-pv-grid",
        minor: Category::Consultation,
        lines: &[],
        needs_device: false,
        texts: &["{屋顶|厂房}{想装|装了}光伏，{并网|接入电网}{怎么办理|要什么流程}"],
        gold2: &["kb-as-x-cs-pv-grid"],
        gold1: &[],
        weight: 1,
    },
    Scenario {
        name: "cs-storage",
        minor: Category::Consultation,
        lines: &[],
        needs_device: false,
        texts: &["{工厂|企业}{装|上}{储能|储能柜}{划算吗|能省多少钱}，{峰谷差|电价差}{多少|够不够}"],
        gold2: &["kb-as-x-cs-storage-benefit"],
        gold1: &[],
        weight: 1,
    },
    Scenario {
        name: "cs-payment",
        minor: Category::Consultation,
        lines: &[],
        needs_device: false,
        texts: &["合同<contract>的{质保金|尾款}{什么时候|啥时候}{付|能退}，{付款|结算}{条件|节点}是啥"],
        gold2: &["kb-br-payment-terms"],
        gold1: &["kb-br-contract-query"],
        weight: 1,
    },
    Scenario {
        name: "cs-eol",
        minor: Category::Consultation,
        lines: &[],
        needs_device: true,
        texts: &["<code>{是不是|听说}{停产了|不生产了}？{以后|今后}{备件|维修}{还有没有|怎么办}"],
        gold2: &["kb-br-eol-notice"],
        gold1: &["kb-br-spare-parts-supply"],
        weight: 1,
    },
    Scenario {
        name: "cs-privacy",
        minor: Category::Consultation,
        lines: &[],
        needs_device: false,
        texts: &["{你们|工单里}{存了|记录了}我的{手机号|身份证}，{能不能|我要求}{删掉|删除}"],
        gold2: &["kb-rs-data-privacy-request"],
        gold1: &["kb-br-pii-masking"],
        weight: 1,
    },
    // 建议
    Scenario {
        name: "sg-alarm-wording",
        minor: Category::Suggestion,
        lines: &[],
        needs_device: true,
        texts: &["{建议|希望}<code>的{告警|报警}{文字|信息}{写得|改得}{明白点|通俗点}，{现在|有的}{看不懂|太专业}"],
        gold2: &["kb-as-x-sg-alarm-wording", "kb-as-suggestion-01"],
        gold1: &["kb-rs-suggestion-handling", "kb-br-suggestion-handling-rule"],
        weight: 2,
    },
    Scenario {
        name: "sg-app",
        minor: Category::Suggestion,
        lines: &[],
        needs_device: false,
        texts: &["{APP|小程序}{能不能|建议}{加个|增加}{预约|排队提醒|发票下载}{功能|的功能}"],
        gold2: &["kb-as-x-sg-app-feature", "kb-as-suggestion-03"],
        gold1: &["kb-rs-suggestion-handling"],
        weight: 1,
    },
    Scenario {
        name: "sg-pv-platform",
        minor: Category::Suggestion,
        lines: &[],
        needs_device: false,
        texts: &["{监控平台|光伏APP}{建议|希望}{能|可以}{导出报表|看每块组串|推送告警}"],
        gold2: &["kb-as-x-sg-pv-monitoring"],
        gold1: &["kb-as-suggestion-03", "kb-rs-suggestion-handling"],
        weight: 1,
    },
    Scenario {
        name: "sg-training",
        minor: Category::Suggestion,
        lines: &[],
        needs_device: false,
        texts: &["{培训|上次培训}{理论太多|讲得太虚}，{建议|希望}{多点|增加}{实操|故障处理案例}"],
        gold2: &["kb-as-x-sg-training-content"],
        gold1: &["kb-rs-suggestion-handling", "kb-br-training-service"],
        weight: 1,
    },
    Scenario {
        name: "sg-safety",
        minor: Category::Suggestion,
        lines: &[],
        needs_device: true,
        texts: &["<code>{端子|接线}{裸露|没有防护罩}，{建议|最好}{加个|增加}{防护|盖板}，{容易|怕}{触电|误碰}"],
        gold2: &["kb-rs-x-sg-safety-hazard", "kb-as-suggestion-04"],
        gold1: &["kb-br-suggestion-handling-rule"],
        weight: 1,
    },
    Scenario {
        name: "sg-bill",
        minor: Category::Suggestion,
        lines: &[],
        needs_device: false,
        texts: &["{电费账单|电费短信}{建议|能不能}{写清楚|列明}{峰谷|每天}{用电量|电量}"],
        gold2: &["kb-as-x-sg-meter-reading"],
        gold1: &["kb-as-suggestion-01"],
        weight: 1,
    },
    Scenario {
        name: "sg-process",
        minor: Category::Suggestion,
        lines: &[],
        needs_device: false,
        texts: &["{报修|服务}流程{太繁琐|环节太多}，{建议|希望}{简化|线上就能办}"],
        gold2: &["kb-as-suggestion-02"],
        gold1: &["kb-rs-suggestion-handling", "kb-as-suggestion-05"],
        weight: 1,
    },
    // 意见
    Scenario {
        name: "op-price",
        minor: Category::Opinion,
        lines: &[],
        needs_device: false,
        texts: &["{你们的|厂家}{备件|服务}{价格|报价}{太贵了|高得离谱}，{一块板子|上门一次}{要这么多钱|几千块}"],
        gold2: &["kb-as-x-op-price", "kb-as-opinion-01"],
        gold1: &["kb-rs-opinion-handling", "kb-br-spare-parts-price"],
        weight: 2,
    },
    Scenario {
        name: "op-charging-fee",
        minor: Category::Opinion,
        lines: &[],
        needs_device: false,
        texts: &["{充电|快充}{服务费|费用}{又涨了|太高}，{比加油|比别家}{还贵|贵多了}"],
        gold2: &["kb-as-x-op-charging-price"],
        gold1: &["kb-as-opinion-01", "kb-rs-opinion-handling"],
        weight: 1,
    },
    Scenario {
        name: "op-outage-plan",
        minor: Category::Opinion,
        lines: &[],
        needs_device: false,
        texts: &["{计划停电|检修停电}{总是|老是}{安排在|放在}{工作日|白天}，{对|给}{生产|我们}{影响太大|影响很大}"],
        gold2: &["kb-as-x-op-outage-plan", "kb-as-opinion-03"],
        gold1: &["kb-rs-outage-sensitive-planned", "kb-rs-opinion-handling"],
        weight: 1,
    },
    Scenario {
        name: "op-design",
        minor: Category::Opinion,
        lines: &[],
        needs_device: true,
        texts: &["<code>{菜单|界面}{设计得|做得}{太绕|不合理}，{改个定值|查个报告}{要翻好几层|太麻烦}"],
        gold2: &["kb-as-x-op-product-design", "kb-as-opinion-02"],
        gold1: &["kb-rs-opinion-handling"],
        weight: 1,
    },
    Scenario {
        name: "op-policy",
        minor: Category::Opinion,
        lines: &[],
        needs_device: false,
        texts: &["{你们|这个}{规定|政策}{不合理|太死板}，{过保一天|就差几天}{也要收费|就不给免费修}"],
        gold2: &["kb-rs-x-op-policy"],
        gold1: &["kb-rs-opinion-handling", "kb-rs-out-of-warranty"],
        weight: 1,
    },
    // 表扬
    Scenario {
        name: "pr-night-repair",
        minor: Category::Praise,
        lines: &[],
        needs_device: true,
        texts: &[
            "{昨晚|半夜}<code>{出问题|坏了}，{你们|工程师}{连夜|半夜}{赶来|过来}{修好了|处理好了}，{非常感谢|点个赞}",
        ],
        gold2: &["kb-as-x-pr-night-repair", "kb-as-praise-02"],
        gold1: &["kb-as-praise-01", "kb-br-praise-handling"],
        weight: 1,
    },
    Scenario {
        name: "pr-charging",
        minor: Category::Praise,
        lines: &[],
        needs_device: false,
        texts: &["{枪拔不下来|充电卡住了}，{客服|你们}{远程|一下就}{解锁了|弄好了}，{很快|效率高}，{表扬|谢谢}"],
        gold2: &["kb-as-x-pr-charging-service"],
        gold1: &["kb-as-praise-01", "kb-rs-x-pr-record"],
        weight: 1,
    },
    Scenario {
        name: "pr-training",
        minor: Category::Praise,
        lines: &[],
        needs_device: false,
        texts: &["{上周|这次}的培训{讲得|老师讲得}{很实用|特别好}，{大家|我们班组}{收获很大|都说好}"],
        gold2: &["kb-as-x-pr-training"],
        gold1: &["kb-as-praise-01", "kb-rs-praise-to-improvement"],
        weight: 1,
    },
    Scenario {
        name: "pr-pv",
        minor: Category::Praise,
        lines: &[],
        needs_device: false,
        texts: &["{光伏|逆变器}{用了|装了}{两年|三年}{发电|运行}{一直|都}{挺好|很稳}，{售后|你们服务}{也到位|也不错}"],
        gold2: &["kb-as-x-pr-pv-owner"],
        gold1: &["kb-as-praise-03", "kb-as-praise-01"],
        weight: 1,
    },
    Scenario {
        name: "pr-stable",
        minor: Category::Praise,
        lines: &[],
        needs_device: true,
        texts: &[
            "<code>{投运|用了}{好几年|五六年}{没出过|没什么}{毛病|问题}，{质量|产品}{不错|可以}，{表扬一下|给你们点赞}",
        ],
        gold2: &["kb-as-praise-03"],
        gold1: &["kb-as-praise-01", "kb-as-praise-05"],
        weight: 1,
    },
    Scenario {
        name: "pr-with-request",
        minor: Category::Praise,
        lines: &[],
        needs_device: true,
        texts: &["{上次|你们的}工程师{很专业|服务很好}，{顺便问下|另外}<code>{的备件|的资料}{能不能|怎么}{申请|要}"],
        gold2: &["kb-as-praise-04"],
        gold1: &["kb-as-praise-01", "kb-rs-praise-to-improvement"],
        weight: 1,
    },
];

fn person(rng: &mut Rng) -> (String, String) {
    let surname = *rng.pick(SURNAMES);
    let full = format!("{surname}{}", rng.pick(GIVEN));
    let address = format!("{surname}{}", rng.pick(ADDRESS));
    (full, address)
}

fn mobile(rng: &mut Rng) -> String {
    let second = *rng.pick(&['3', '5', '7', '8', '9']);
    let digits: String = (0..9).map(|_| char::from(b'0' + rng.below(10) as u8)).collect();
    let n = format!("1{second}{digits}");
    match rng.below(4) {
        0 => format!("{}-{}-{}", &n[..3], &n[3..7], &n[7..]),
        1 => format!("{} {} {}", &n[..3], &n[3..7], &n[7..]),
        _ => n,
    }
}

fn landline(rng: &mut Rng) -> String {
    let area = format!("0{}", rng.range(510, 799));
    let first = rng.range(2, 8);
    let rest: String = (0..6).map(|_| char::from(b'0' + rng.below(10) as u8)).collect();
    format!("{area}-{first}{rest}")
}

struct Ctx<'a> {
    authored: &'a Authored,
    world: &'a World,
    corpus_date: Date,
    /// Solved-case item ids by (fault, model).
    cases_by_fault_model: BTreeMap<(&'a str, &'a str), Vec<String>>,
    /// Quality-complaint case items by (fault, model).
    repeat_cases: BTreeMap<(&'a str, &'a str), Vec<String>>,
    contract_item: BTreeMap<&'a str, String>,
    devices_by_line: BTreeMap<&'a str, Vec<usize>>,
}

/// What a ticket is drawn around.
struct Subject<'a> {
    device: Option<&'a Device>,
    contract: Option<&'a Contract>,
    customer: Option<usize>,
}

pub fn build(
    seed: u64,
    corpus_date: Date,
    authored: &Authored,
    world: &World,
    cases: &[Case],
    solved: &[Item],
    contract_items: &[Item],
) -> Tickets {
    let mut ctx = Ctx {
        authored,
        world,
        corpus_date,
        cases_by_fault_model: BTreeMap::new(),
        repeat_cases: BTreeMap::new(),
        contract_item: BTreeMap::new(),
        devices_by_line: BTreeMap::new(),
    };
    for item in solved {
        if item.kind != ItemKind::SolvedCase {
            continue;
        }
        let (Some(fault), Some(model)) = (item.faults.first(), item.products.first()) else { continue };
        ctx.cases_by_fault_model.entry((fault.as_str(), model.as_str())).or_default().push(item.id.clone());
        if item.category == Some(Category::QualityComplaint) {
            ctx.repeat_cases.entry((fault.as_str(), model.as_str())).or_default().push(item.id.clone());
        }
    }
    for item in contract_items {
        if let Some(c) = item.contracts.first() {
            ctx.contract_item.insert(c.as_str(), item.id.clone());
        }
    }
    for (i, d) in world.devices.iter().enumerate() {
        ctx.devices_by_line.entry(authored.models[&d.model].line.as_str()).or_default().push(i);
    }

    let scenario_weights: Vec<u32> = SCENARIOS.iter().map(|s| s.weight).collect();
    let mut queries = Vec::with_capacity(TICKETS);
    let mut qrels = Vec::new();
    let mut n = 0u64;
    while queries.len() < TICKETS {
        let mut rng = Rng::derive(seed, "ticket", n);
        n += 1;
        let id = format!("t-{:05}", queries.len() + 1);
        let split = if rng.chance(DEV_SHARE) { "dev" } else { "test" };
        // 60 % fault reports, the rest spread over the other seven categories.
        let drawn = if rng.chance(0.6) {
            fault_ticket(&mut rng, &ctx, cases, &id)
        } else {
            let s = &SCENARIOS[rng.weighted(&scenario_weights)];
            scenario_ticket(&mut rng, &ctx, s, &id)
        };
        let Some((mut query, gold)) = drawn else { continue };
        query.split = split;
        let mut seen = BTreeSet::new();
        for (item, grade) in gold {
            if seen.insert(item.clone()) {
                qrels.push(Qrel { query: id.clone(), item, grade, split });
            }
        }
        queries.push(query);
    }
    qrels.sort_by(|a, b| (&a.query, &a.item).cmp(&(&b.query, &b.item)));

    let mean_jaccard = mean_jaccard(&queries, &qrels, authored, solved, contract_items);
    Tickets { queries, qrels, mean_jaccard }
}

/// Sorted, distinct character bigrams of a text (whitespace ignored), packed into u64s.
fn bigram_set(text: &str) -> Vec<u64> {
    let chars: Vec<char> = text.chars().filter(|c| !c.is_whitespace()).collect();
    let mut grams: Vec<u64> = chars.windows(2).map(|w| (u64::from(w[0]) << 32) | u64::from(w[1])).collect();
    grams.sort_unstable();
    grams.dedup();
    grams
}

fn jaccard_sets(a: &[u64], b: &[u64]) -> f64 {
    let (mut i, mut j, mut common) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    let union = a.len() + b.len() - common;
    if union == 0 { 0.0 } else { common as f64 / union as f64 }
}

/// Character-bigram Jaccard between two texts.
pub fn jaccard(a: &str, b: &str) -> f64 {
    jaccard_sets(&bigram_set(a), &bigram_set(b))
}

fn mean_jaccard(queries: &[Query], qrels: &[Qrel], authored: &Authored, solved: &[Item], contracts: &[Item]) -> f64 {
    let mut items: BTreeMap<&str, &Item> = BTreeMap::new();
    for item in authored.items.values().chain(solved).chain(contracts) {
        items.insert(item.id.as_str(), item);
    }
    let mut cache: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    let by_id: BTreeMap<&str, Vec<u64>> = queries.iter().map(|q| (q.id.as_str(), bigram_set(&q.text))).collect();
    let (mut sum, mut count) = (0.0, 0usize);
    for r in qrels {
        let (Some(q), Some(item)) = (by_id.get(r.query.as_str()), items.get(r.item.as_str())) else { continue };
        let grams =
            cache.entry(item.id.as_str()).or_insert_with(|| bigram_set(&format!("{}\n{}", item.title, item.body)));
        sum += jaccard_sets(q, grams);
        count += 1;
    }
    if count == 0 { 0.0 } else { (sum * 10_000.0 / count as f64).round() / 10_000.0 }
}

const OPENINGS: &[&str] = &["", "", "", "喂，", "你好，", "您好，", "在吗，", "师傅，", "客服你好，", "麻烦问下，"];
const WHEN: &[&str] =
    &["", "", "昨晚", "今天早上", "刚才", "上午十点多", "从前天开始", "这两天", "下午", "半夜", "周末", "交接班的时候"];
const ASKS: &[&str] = &[
    "",
    "怎么处理",
    "咋整",
    "能不能派人来看下",
    "急",
    "麻烦尽快",
    "在线等",
    "怎么办啊",
    "要紧吗",
    "要不要停运",
    "能远程看看吗",
    "给个处理意见",
    "请回电",
    "是不是坏了",
];
const EMOTION: &[&str] = &["都第二次了", "急死了", "你们到底管不管", "再拖下去要出事", "打了好几个电话了", "气死了"];
const OUTAGE: &[&str] =
    &["厂里不能停产", "医院不能停电的", "一停电就麻烦大了", "机房不敢断电", "千万别让我们停电", "停电损失谁负责"];

/// How the writer refers to the device.
fn device_phrase(rng: &mut Rng, ctx: &Ctx, device: &Device, writer: &str, allow_serial: bool) -> (String, bool) {
    let model = &ctx.authored.models[&device.model];
    let line = &ctx.authored.lines[&model.line];
    let mut used_serial = false;
    let phrase = match rng.below(10) {
        0..=4 => {
            let code = loose_code(rng, &model.code, &model.aliases);
            let words: Vec<&String> = line.aliases.iter().filter(|a| !a.is_ascii()).collect();
            if !words.is_empty() && rng.chance(0.3) { format!("{code}{}", rng.pick(&words)) } else { code }
        }
        5 | 6 => {
            let a = if line.aliases.is_empty() { line.label.clone() } else { rng.pick(&line.aliases).clone() };
            format!("{}{a}", rng.pick(&["那台", "我们的", "站里的", "这个", "", "一台"]))
        }
        7 if writer == "engineer" => format!("{} {}", model.code, rng.pick(&["", "装置", "A套", "B套", "1号"])),
        _ if !allow_serial => loose_code(rng, &model.code, &model.aliases),
        _ => {
            used_serial = true;
            let label = rng.pick(&["编号", "出厂编号", "SN", "序列号", "设备号"]);
            let serial = if rng.chance(0.3) { device.serial.to_ascii_lowercase() } else { device.serial.clone() };
            format!("{}（{label}{serial}）", loose_code(rng, &model.code, &model.aliases))
        }
    };
    (phrase.trim().to_string(), used_serial)
}

/// Finishes a ticket: contact data, slips, traditional characters.
fn finish(rng: &mut Rng, parts: Vec<String>, pii: &mut Vec<&'static str>) -> (String, bool, usize) {
    let mut parts: Vec<String> = parts.into_iter().filter(|p| !p.trim().is_empty()).collect();
    if rng.chance(0.45) {
        let (full, address) = person(rng);
        let number = if rng.chance(0.8) { mobile(rng) } else { landline(rng) };
        pii.push("name");
        pii.push(if number.starts_with('1') { "mobile" } else { "landline" });
        let who = if rng.chance(0.5) { full } else { address };
        let contact = match rng.below(4) {
            0 => format!("联系人{who} {number}"),
            1 => format!("{who}，电话{number}"),
            2 => format!("回电{number}找{who}"),
            _ => format!("我是{who}，手机{number}"),
        };
        if rng.chance(0.5) {
            parts.push(contact);
        } else {
            parts.insert(0, contact);
        }
    }
    let separators = ["，", "，", "，", " ", "。", "！", ",", "；", ""];
    let mut text = String::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            text.push_str(rng.pick_str(&separators));
        }
        text.push_str(p);
    }
    if rng.chance(0.3) {
        text.push_str(rng.pick_str(&["", "。", "！！", "？", "...", "啊"]));
    }
    let (text, typos) = if rng.chance(0.3) {
        let max = 1 + rng.below(2);
        add_typos(rng, &text, max)
    } else {
        (text, 0)
    };
    let traditional = rng.chance(0.08);
    let text = if traditional { to_traditional(&text) } else { text };
    (text, traditional, typos)
}

fn fault_ticket(rng: &mut Rng, ctx: &Ctx, cases: &[Case], id: &str) -> Option<(Query, Vec<(String, u8)>)> {
    let case = &cases[rng.below(cases.len())];
    let fault = &ctx.authored.faults[&case.fault];
    let model = &ctx.authored.models[&case.model];
    let pool = &ctx.world.devices_by_model[&case.model];
    let device = &ctx.world.devices[pool[rng.below(pool.len())]];
    let customer = &ctx.world.customers[device.customer];
    let writer = if rng.chance(0.3) { "engineer" } else { "customer" };
    let (device_phrase, serial_in_text) = device_phrase(rng, ctx, device, writer, true);
    let mut parts = Vec::new();
    let opening = *rng.pick(OPENINGS);
    let when = *rng.pick(WHEN);
    let colloquial_aliases: Vec<&String> =
        fault.aliases.iter().filter(|a| a.chars().count() <= 8 && !a.is_ascii()).collect();
    let problem = if writer == "engineer" {
        let e = strip_quotes(&fault.symptom_engineer);
        match rng.below(3) {
            0 => truncate_thought(rng, &e),
            1 if !colloquial_aliases.is_empty() => format!("报{}", rng.pick(&colloquial_aliases)),
            _ => format!("报{}", fault.label),
        }
    } else {
        match rng.below(4) {
            0 | 1 => {
                let c = colloquialise(rng, &fault.symptom_customer);
                truncate_thought(rng, &c)
            }
            2 if !colloquial_aliases.is_empty() => (*rng.pick(&colloquial_aliases)).clone(),
            _ => {
                let t = truncate_thought(rng, &fault.symptom_customer);
                colloquialise(rng, &t)
            }
        }
    };
    let site = if rng.chance(0.5) { device.site.clone() } else { String::new() };
    let place = if rng.chance(0.3) { customer.short.clone() } else { String::new() };
    let head = format!("{opening}{place}{site}{when}");
    match rng.below(3) {
        0 => {
            parts.push(format!("{head}{device_phrase}{problem}"));
        }
        1 => {
            parts.push(format!("{head}{device_phrase}"));
            parts.push(problem);
        }
        _ => {
            parts.push(format!("{opening}{problem}"));
            parts.push(format!("{place}{site}{}", if rng.chance(0.6) { device_phrase.clone() } else { String::new() }));
        }
    }
    let mut gold: Vec<(String, u8)> = Vec::new();
    if writer == "engineer" && rng.chance(0.4) {
        parts.push(
            (*rng.pick(&[
                "已重启过没用",
                "插件灯正常",
                "已经查过接线",
                "后台也有告警",
                if model.line == "pl-line-protection" { "对侧正常" } else { "别的装置正常" },
                "刚做完定检",
                "备件现场没有",
            ]))
            .to_string(),
        );
    }
    if customer.tags.contains(&"情绪化") && rng.chance(0.5) {
        parts.push((*rng.pick(EMOTION)).to_string());
        gold.push(("kb-rs-emotional-customer".into(), 1));
    }
    if customer.tags.contains(&"停电敏感") && rng.chance(0.5) {
        parts.push((*rng.pick(OUTAGE)).to_string());
        gold.push(("kb-rs-outage-sensitive-fault".into(), 1));
    }
    parts.push((*rng.pick(ASKS)).to_string());
    let mut pii = Vec::new();
    let (text, traditional, typos) = finish(rng, parts, &mut pii);

    // Gold: the fault's check-and-handle point and the cases of this fault on this model solve it;
    // the other authored items on the fault (phone guidance, answer scripts, model procedures)
    // are relevant.
    let slug = fault.id.trim_start_matches("f-");
    for item_id in ctx.authored.items_by_fault.get(&fault.id).into_iter().flatten() {
        let item = &ctx.authored.items[item_id];
        let about_product = item.products.is_empty()
            || item
                .products
                .iter()
                .any(|p| p == &model.id || p == &model.line || item_concerns_model(ctx, p, &model.id));
        if !about_product {
            continue;
        }
        let grade = if *item_id == format!("kb-tp-{slug}-01") { 2 } else { 1 };
        gold.push((item_id.clone(), grade));
    }
    for ((f, m), ids) in ctx.cases_by_fault_model.range((fault.id.as_str(), "")..) {
        if *f != fault.id.as_str() {
            break;
        }
        if *m == model.id.as_str() {
            gold.extend(ids.iter().map(|i| (i.clone(), 2)));
        }
    }
    if !gold.iter().any(|(_, g)| *g == 2) {
        return None;
    }
    let query = Query {
        id: id.to_string(),
        text,
        split: "test",
        major: Category::FaultRepair.major().code(),
        minor: Category::FaultRepair.code(),
        products: vec![model.id.clone(), model.line.clone()],
        faults: vec![fault.id.clone()],
        customer_id: Some(customer.id.clone()),
        device_serial: Some(device.serial.clone()),
        channel: channel(rng, writer, customer.kind),
        writer,
        pii,
        traditional,
        typos,
        scenario: if serial_in_text { "fault-with-serial" } else { "fault" },
    };
    Some((query, gold))
}

fn item_concerns_model(ctx: &Ctx, product: &str, model: &str) -> bool {
    ctx.authored.components.get(product).is_some_and(|c| c.links.iter().any(|m| m == model))
}

fn channel(rng: &mut Rng, writer: &str, kind: CustomerKind) -> &'static str {
    if writer == "engineer" {
        return rng.pick_str(&["现场工程师APP", "企业微信", "电话", "邮件"]);
    }
    match kind {
        CustomerKind::ChargingOperator | CustomerKind::Park => {
            rng.pick_str(&["服务APP", "微信公众号", "电话", "小程序"])
        }
        _ => rng.pick_str(&["电话", "电话", "微信公众号", "服务APP", "邮件", "网站留言"]),
    }
}

fn scenario_ticket(rng: &mut Rng, ctx: &Ctx, s: &Scenario, id: &str) -> Option<(Query, Vec<(String, u8)>)> {
    let world = ctx.world;
    let subject = if s.needs_device || !s.lines.is_empty() || rng.chance(0.5) {
        let pool: Vec<usize> = if s.lines.is_empty() {
            (0..world.devices.len()).collect()
        } else {
            s.lines.iter().flat_map(|l| ctx.devices_by_line.get(l).cloned().unwrap_or_default()).collect()
        };
        if pool.is_empty() {
            return None;
        }
        let d = &world.devices[pool[rng.below(pool.len())]];
        Subject { device: Some(d), contract: Some(&world.contracts[d.contract]), customer: Some(d.customer) }
    } else {
        let k = &world.contracts[rng.below(world.contracts.len())];
        Subject { device: None, contract: Some(k), customer: Some(k.customer) }
    };
    let template = s.texts[rng.below(s.texts.len())];
    let mut v = Vars::new();
    let mut gold: Vec<(String, u8)> = Vec::new();
    let mut products = Vec::new();
    let mut faults = Vec::new();
    if let Some(d) = subject.device {
        let model = &ctx.authored.models[&d.model];
        let (phrase, _) = device_phrase(rng, ctx, d, "customer", !template.contains("<serial>"));
        v.set("code", phrase);
        v.set("serial", if rng.chance(0.3) { d.serial.to_ascii_lowercase() } else { d.serial.clone() });
        v.set("site", d.site.clone());
        v.set("fw", d.firmware.clone());
        v.set("line", ctx.authored.lines[&model.line].aliases.first().cloned().unwrap_or_default());
        products.push(model.id.clone());
        products.push(model.line.clone());
        // The fault a repeat-failure complaint is about: one this model has cases of.
        let candidates: Vec<&String> =
            ctx.authored.faults.values().filter(|f| f.models.contains(&model.id)).map(|f| &f.id).collect();
        if !candidates.is_empty() {
            let f = &ctx.authored.faults[*rng.pick(&candidates)];
            let alias = f.aliases.iter().find(|a| !a.is_ascii()).cloned().unwrap_or(f.label.clone());
            v.set("falias", alias);
            if s.name == "qc-repeat-failure" || s.name == "sc-repeat-visit" {
                faults.push(f.id.clone());
                gold.push((format!("kb-tp-{}-01", f.id.trim_start_matches("f-")), 1));
                if s.name == "qc-repeat-failure"
                    && let Some(ids) = ctx.repeat_cases.get(&(f.id.as_str(), model.id.as_str()))
                {
                    gold.extend(ids.iter().map(|i| (i.clone(), 1)));
                }
            }
        } else {
            v.set("falias", "故障");
        }
        if s.name == "cs-params" {
            let code = model.code.to_ascii_lowercase();
            gold.push((format!("kb-pd-{code}-params"), 2));
            gold.push((format!("kb-pd-{code}-overview"), 1));
            gold.push((format!("kb-pd-{}", model.line.trim_start_matches("pl-")), 1));
        }
        if s.name == "sr-documents" {
            gold.push((format!("kb-pd-{}-overview", model.code.to_ascii_lowercase()), 1));
        }
    }
    if let Some(k) = subject.contract {
        v.set("contract", if rng.chance(0.2) { k.number.to_ascii_lowercase() } else { k.number.clone() });
        if ["cs-warranty", "sr-invoice", "sr-contract-change", "cs-payment"].contains(&s.name)
            && let Some(item) = ctx.contract_item.get(k.id.as_str())
        {
            gold.push((item.clone(), if s.name == "cs-warranty" { 2 } else { 1 }));
        }
        if s.name == "cs-warranty" {
            let line = subject.device.map(|d| ctx.authored.models[&d.model].line.as_str()).unwrap_or("");
            let rule = match line {
                "pl-ev-charger" => "kb-br-warranty-ev-charger",
                "pl-pv-inverter" | "pl-storage-pcs" => "kb-br-warranty-pv-inverter",
                "pl-dispatch-master" | "pl-substation-monitoring" => "kb-br-warranty-master-station",
                _ => "kb-br-warranty-secondary",
            };
            gold.push((rule.into(), 1));
            match warranty_status(k.warranty_end, ctx.corpus_date) {
                "90天内到期" => {
                    gold.push(("kb-rs-warranty-expiring".into(), 1));
                    gold.push(("kb-br-warranty-expiry-alert".into(), 1));
                }
                "已过保" => gold.push(("kb-rs-out-of-warranty".into(), 1)),
                _ => {}
            }
        }
    }
    if v.get("code").is_none_or(str::is_empty) {
        v.set("code", "设备");
        v.set("serial", "");
        v.set("site", "站里");
        v.set("fw", "");
        v.set("line", "设备");
        v.set("falias", "故障");
    }
    let body = expand(rng, template, &v);
    let customer = subject.customer.map(|c| &world.customers[c]);
    let mut parts = vec![format!("{}{}", rng.pick(OPENINGS), body)];
    if rng.chance(0.25)
        && let Some(c) = customer
    {
        parts.insert(0, format!("{}{}", c.short, rng.pick(&["", "的", "这边", "，"])));
    }
    if let Some(c) = customer
        && c.tags.contains(&"情绪化")
        && s.minor == Category::ServiceComplaint
        && rng.chance(0.5)
    {
        parts.push((*rng.pick(EMOTION)).to_string());
        gold.push(("kb-rs-emotional-customer".into(), 1));
    }
    let mut pii = Vec::new();
    let (text, traditional, typos) = finish(rng, parts, &mut pii);
    gold.extend(s.gold2.iter().map(|g| (g.to_string(), 2)));
    gold.extend(s.gold1.iter().map(|g| (g.to_string(), 1)));
    gold.retain(|(g, _)| ctx.authored.has_item(g) || g.starts_with("kb-sc-") || g.starts_with("kb-ci-"));
    // The strongest label wins when an item is listed twice.
    gold.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    gold.dedup_by(|a, b| a.0 == b.0);
    if !gold.iter().any(|(_, g)| *g == 2) {
        return None;
    }
    let writer = "customer";
    let query = Query {
        id: id.to_string(),
        text,
        split: "test",
        major: s.minor.major().code(),
        minor: s.minor.code(),
        products,
        faults,
        customer_id: customer.map(|c| c.id.clone()),
        device_serial: subject.device.map(|d| d.serial.clone()),
        channel: channel(rng, writer, customer.map_or(CustomerKind::Enterprise, |c| c.kind)),
        writer,
        pii,
        traditional,
        typos,
        scenario: s.name,
    };
    Some((query, gold))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jaccard_of_bigrams() {
        assert_eq!(jaccard("CT断线", "CT断线"), 1.0);
        assert_eq!(jaccard("甲乙", "丙丁"), 0.0);
        // {CT, T断, 断线} vs {断线, 线了}: one shared of four.
        assert!((jaccard("CT断线", "断线了") - 0.25).abs() < 1e-9);
    }
}
