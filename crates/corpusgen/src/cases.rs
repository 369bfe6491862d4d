//! Solved cases (解决案例): one service case tying a device (model, contract, customer, site), a
//! fault, its cause and solution, and a date together; plus the `Case` graph entities and the
//! contract / customer summaries.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use store::{Category, Entity, EntityClass, Item, ItemKind, OrgLevel, Status};

use crate::authored::{Authored, Fault};
use calendar::Date;

use crate::date::ChineseDate;
use crate::phrases::{self, *};
use crate::rng::Rng;
use crate::text::{Vars, colloquialise, expand, strip_quotes};
use crate::world::{CustomerKind, World, warranty_status};

/// Solved cases drawn at scale 1 (before deliberate near-duplicates); times the scale above it.
pub const SOLVED_CASES: usize = 12_400;
/// One case in this many is also recorded a second time by another unit (a marked near-duplicate).
pub const NEAR_DUPLICATE_EVERY: usize = 97;
pub const SOURCE: &str = "gridkb demo corpus (generated)";

#[derive(Debug, Clone)]
pub struct Case {
    pub id: String,
    pub item_id: String,
    pub date: Date,
    pub fault: String,
    pub model: String,
    pub cause: String,
    pub solution: String,
    pub component: Option<String>,
    pub device: usize,
    pub category: Category,
    pub repeat_of: Option<usize>,
    pub channel: &'static str,
    pub onsite: bool,
    pub hours: u32,
    pub owner_org: String,
}

fn bigrams(text: &str) -> BTreeSet<(char, char)> {
    let chars: Vec<char> = text.chars().filter(|c| !c.is_whitespace()).collect();
    chars.windows(2).map(|w| (w[0], w[1])).collect()
}

/// The solution that fits a cause best: most shared character bigrams, ties to the same position.
fn solution_for(fault: &Fault, cause_index: usize, authored: &Authored) -> String {
    let cause = &authored.causes[&fault.causes[cause_index]];
    let cb = bigrams(&cause.label);
    let mut best = (0usize, usize::MAX, fault.solutions[cause_index % fault.solutions.len()].clone());
    for (i, s) in fault.solutions.iter().enumerate() {
        let score = bigrams(&authored.solutions[s].label).intersection(&cb).count();
        let distance = i.abs_diff(cause_index);
        if score > best.0 || (score == best.0 && score > 0 && distance < best.1) {
            best = (score, distance, s.clone());
        }
    }
    best.2
}

/// The board or module a case replaced: the component (on this model) whose names share most
/// with the cause and solution; a component the fault names counts as one shared bigram more.
/// `min_overlap` is the overlap needed to name a component at all.
fn component_for(fault: &Fault, model: &str, text: &str, authored: &Authored, min_overlap: usize) -> Option<String> {
    // Bigrams every board name or cause shares say nothing about which board it is.
    const GENERIC: &[(char, char)] =
        &[('插', '件'), ('模', '块'), ('装', '置'), ('故', '障'), ('更', '换'), ('系', '列')];
    let mut cb = bigrams(text);
    cb.retain(|b| !GENERIC.contains(b));
    authored
        .components
        .iter()
        .filter(|(_, comp)| comp.links.iter().any(|m| m == model))
        .map(|(id, comp)| {
            let overlap = comp
                .aliases
                .iter()
                .chain([&comp.label])
                .map(|a| bigrams(a).intersection(&cb).count())
                .max()
                .unwrap_or(0);
            let named = usize::from(fault.components.contains(id));
            (overlap + named, overlap, id)
        })
        .filter(|(_, overlap, _)| *overlap >= min_overlap)
        .max_by_key(|(score, _, id)| (*score, std::cmp::Reverse((*id).clone())))
        .map(|(_, _, id)| id.clone())
}

pub fn draw_cases(seed: u64, corpus_date: Date, authored: &Authored, world: &World) -> Vec<Case> {
    let faults: Vec<&Fault> =
        authored.faults.values().filter(|f| f.models.iter().any(|m| world.devices_by_model.contains_key(m))).collect();
    let mut wrng = Rng::derive(seed, "fault-popularity", 0);
    let weights: Vec<u32> = faults
        .iter()
        .map(|f| {
            let base = 2 + wrng.below(6) as u32;
            let severity = match f.severity.as_str() {
                "紧急" => 1,
                "严重" => 2,
                _ => 3,
            };
            base * severity * if wrng.chance(0.12) { 4 } else { 1 }
        })
        .collect();
    let latest = corpus_date.plus_days(-1);
    let target = SOLVED_CASES * world.scale;
    let mut cases: Vec<Case> = Vec::with_capacity(target);
    let mut by_fault_model: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
    let mut i = 0u64;
    while cases.len() < target {
        let mut rng = Rng::derive(seed, "case", i);
        i += 1;
        let fault = faults[rng.weighted(&weights)];
        let models: Vec<&String> = fault.models.iter().filter(|m| world.devices_by_model.contains_key(*m)).collect();
        let mweights: Vec<u32> = models.iter().map(|m| if fault.named_models.contains(m) { 3 } else { 1 }).collect();
        let model = models[rng.weighted(&mweights)].clone();
        // A recurrence on a device that already had this fault, or a fresh device.
        let mut repeat_of = None;
        let device = match by_fault_model.get(&(fault.id.clone(), model.clone())) {
            Some(earlier) if rng.chance(0.06) => {
                let e = earlier[rng.below(earlier.len())];
                repeat_of = Some(e);
                cases[e].device
            }
            _ => {
                let pool = &world.devices_by_model[&model];
                pool[rng.below(pool.len())]
            }
        };
        let d = &world.devices[device];
        let mut earliest = d.commissioned.plus_days(7);
        if let Some(e) = repeat_of {
            earliest = earliest.max(cases[e].date.plus_days(20));
        }
        if earliest >= latest {
            continue;
        }
        // Later years have more devices in service, so more cases: skew towards the end.
        let span = latest.days() - earliest.days();
        let a = rng.range(0, span);
        let b = rng.range(0, span);
        let date = Date::from_days(earliest.days() + a.max(b));
        let cause_index = rng.below(fault.causes.len());
        let cause = fault.causes[cause_index].clone();
        let cause_kind = authored.causes[&cause].kind.clone();
        let solution = solution_for(fault, cause_index, authored);
        let evidence = format!("{}{}", authored.causes[&cause].label, authored.solutions[&solution].label);
        let component =
            if cause_kind == "装置硬件" { component_for(fault, &model, &evidence, authored, 1) } else { None };
        let category = if repeat_of.is_some() {
            Category::QualityComplaint
        } else if cause_kind == "正常运行特性" {
            Category::Consultation
        } else {
            Category::FaultRepair
        };
        let onsite = rng.chance(phrases::cause_type(&cause_kind).onsite);
        let hours = match fault.severity.as_str() {
            "紧急" => rng.range(2, 10),
            "严重" => rng.range(3, 24),
            "一般" => rng.range(4, 48),
            _ => rng.range(1, 72),
        } as u32
            + if onsite { 2 } else { 0 };
        let customer = &world.customers[d.customer];
        let owner_org = if customer.level == OrgLevel::Province || rng.chance(0.1) {
            World::org_id(&crate::world::Region { province: customer.region.province, city: None, county: None })
        } else {
            customer.org.clone()
        };
        let channel = match customer.kind {
            CustomerKind::ChargingOperator | CustomerKind::Park if rng.chance(0.4) => "服务APP",
            CustomerKind::Utility if rng.chance(0.15) => "调度转办",
            _ => *rng.pick(CHANNELS),
        };
        let n = cases.len();
        by_fault_model.entry((fault.id.clone(), model.clone())).or_default().push(n);
        cases.push(Case {
            id: String::new(),
            item_id: String::new(),
            date,
            fault: fault.id.clone(),
            model,
            cause,
            solution,
            component,
            device,
            category,
            repeat_of,
            channel,
            onsite,
            hours,
            owner_org,
        });
    }
    // Number cases in date order, so that ids read like a case log.
    let mut order: Vec<usize> = (0..cases.len()).collect();
    order.sort_by_key(|&i| (cases[i].date, i));
    let mut new_index = vec![0; cases.len()];
    for (new, &old) in order.iter().enumerate() {
        new_index[old] = new;
    }
    let mut sorted: Vec<Case> = order.iter().map(|&old| cases[old].clone()).collect();
    let width = case_id_width(sorted.len());
    for (n, case) in sorted.iter_mut().enumerate() {
        case.repeat_of = case.repeat_of.map(|r| new_index[r]);
        case.id = format!("case-{:0width$}", n + 1);
        case.item_id = format!("kb-sc-{:0width$}", n + 1);
    }
    sorted
}

fn role(rng: &mut Rng, kind: CustomerKind) -> &'static str {
    match kind {
        CustomerKind::Utility => rng.pick_str(ROLES_UTILITY),
        CustomerKind::PvPlant | CustomerKind::WindPlant | CustomerKind::HydroPlant | CustomerKind::ThermalPlant => {
            rng.pick_str(ROLES_PLANT)
        }
        CustomerKind::ChargingOperator => rng.pick_str(ROLES_OPERATOR),
        _ => rng.pick_str(ROLES_ENTERPRISE),
    }
}

/// Shortens a label at its first comma or 、 so that it fits in a title.
fn short(label: &str) -> String {
    let chars: Vec<char> = label.chars().collect();
    let cut = chars.iter().enumerate().position(|(i, c)| i >= 4 && "，、（(或".contains(*c)).unwrap_or(chars.len());
    chars[..cut.min(24)].iter().collect()
}

#[derive(Debug)]
pub struct CaseText {
    pub title: String,
    pub body: String,
}

pub fn vars_for(rng: &mut Rng, case: &Case, authored: &Authored, world: &World, corpus_date: Date) -> Vars {
    let d = &world.devices[case.device];
    let customer = &world.customers[d.customer];
    let contract = &world.contracts[d.contract];
    let model = &authored.models[&case.model];
    let fault = &authored.faults[&case.fault];
    let cause = &authored.causes[&case.cause];
    let mut v = Vars::new();
    v.set("date", case.date.zh());
    v.set("md", case.date.zh_md());
    v.set("year", case.date.year().to_string());
    v.set("cust", customer.name.clone());
    v.set("cust_short", customer.short.clone());
    v.set("site", d.site.clone());
    v.set("place", world.place(&customer.region));
    v.set("code", model.code.clone());
    v.set("mname", model.name.clone());
    v.set("line", authored.lines[&model.line].label.clone());
    v.set("fault", fault.label.clone());
    let alias_pool: Vec<&String> = fault.aliases.iter().filter(|a| a.chars().count() >= 3).collect();
    let falias =
        if !alias_pool.is_empty() && rng.chance(0.6) { (*rng.pick(&alias_pool)).clone() } else { fault.label.clone() };
    v.set("falias", falias);
    let sym_c = match rng.below(10) {
        0..=3 => fault.symptom_customer.clone(),
        4..=6 => colloquialise(rng, &fault.symptom_customer),
        _ => {
            let alias = v.get("falias").unwrap_or_default().to_string();
            let mut av = Vars::new();
            av.set("a", alias);
            expand(rng, "{设备|装置|机器}{报|显示|出了}<a>，{不知道|不清楚}{怎么回事|什么原因|要不要紧}", &av)
        }
    };
    v.set("sym_c", sym_c);
    v.set("sym_e", strip_quotes(&fault.symptom_engineer));
    v.set("cause", cause.label.clone());
    v.set("cause_short", short(&cause.label));
    v.set("ctype", cause.kind.clone());
    let sol = &authored.solutions[&case.solution].label;
    v.set("sol", sol.clone());
    v.set("sol_short", short(sol));
    v.set("serial", d.serial.clone());
    v.set("contract", contract.number.clone());
    v.set("role", role(rng, customer.kind));
    v.set("eng", *rng.pick(ENGINEERS));
    v.set("channel", case.channel);
    v.set("hours", case.hours.to_string());
    let in_warranty = case.date <= contract.warranty_end;
    let wstate = if in_warranty {
        if contract.warranty_end.days() - case.date.days() <= 90 {
            format!("在质保期内（{}到期，剩余不足90天）", contract.warranty_end.zh())
        } else {
            format!("在质保期内（质保至{}）", contract.warranty_end.zh())
        }
    } else {
        format!("已过质保期（{}到期）", contract.warranty_end.zh())
    };
    v.set("wstate", wstate);
    let fee = match (in_warranty, case.component.is_some()) {
        (true, _) => "{免费处理|按质保免费处理|不收费}",
        (false, true) => "{备件按过保价格报价|按过保流程有偿更换备件|备件费用按报价执行}",
        (false, false) => "{按运维合同处理|未产生费用|按过保服务收费标准结算}",
    };
    let fee = expand(rng, fee, &v);
    v.set("fee", fee);
    let _ = corpus_date;
    v
}

pub fn case_text(seed: u64, case: &Case, authored: &Authored, world: &World, corpus_date: Date) -> CaseText {
    let mut rng = Rng::derive(seed, &case.item_id, 0);
    let v = vars_for(&mut rng, case, authored, world, corpus_date);
    let ct = phrases::cause_type(v.get("ctype").unwrap_or(""));
    let title = pick_expand(&mut rng, TITLES, &v);
    let opener = pick_expand(&mut rng, OPENERS, &v);
    let report = pick_expand(&mut rng, REPORTS, &v);
    let observation = pick_expand(&mut rng, OBSERVATIONS, &v);
    let generic_hardware = ct.kind == "装置硬件" && case.component.is_none();
    let check = pick_expand(&mut rng, if generic_hardware { HARDWARE_CHECK_NO_PART } else { ct.check }, &v);
    let cause = pick_expand(&mut rng, CAUSE_LINES, &v);
    let solution = pick_expand(&mut rng, SOLUTION_LINES, &v);
    let fix = pick_expand(&mut rng, if generic_hardware { HARDWARE_FIX_NO_PART } else { ct.fix }, &v);
    let result = pick_expand(&mut rng, RESULTS, &v);
    let warranty = pick_expand(&mut rng, WARRANTY_LINES, &v);
    let lesson = pick_expand(&mut rng, ct.lesson, &v);
    let component = case.component.as_ref().map(|c| {
        let comp = &authored.components[c];
        let name = comp.aliases.first().cloned().unwrap_or_else(|| comp.label.clone());
        let mut cv = v.clone();
        cv.set("comp", name);
        expand(&mut rng, "{涉及部件|更换部件|相关部件}：<comp>{。|；}", &cv)
    });
    let repeat = case.repeat_of.map(|_| {
        expand(
            &mut rng,
            "{该设备|这台装置|同一台设备}{此前|之前|前期}已{发生|出现}过{同类|相同}故障，{客户|用户}{对质量有意见|提出质量投诉|要求分析根因}，{本次|这次}{按质量投诉|按重复故障}{闭环|流程}处理，{故障件送质量部门分析|启动根因分析}。",
            &v,
        )
    });
    let style = rng.below(3);
    let (cause, solution, warranty) = if style == 1 {
        (cause, solution, warranty)
    } else {
        (unlabel(&cause).to_string(), unlabel(&solution).to_string(), unlabel(&warranty).to_string())
    };
    let mut body = String::new();
    match style {
        0 => {
            // Labelled sections.
            body.push_str(&format!(
                "**{}**：{opener}{report}\n",
                pick_label(&mut rng, &["报修情况", "故障现象", "问题描述"])
            ));
            body.push_str(&format!(
                "**{}**：{observation}{check}。\n",
                pick_label(&mut rng, &["检查过程", "排查过程", "现场检查"])
            ));
            body.push_str(&format!("**{}**：{cause}\n", pick_label(&mut rng, &["原因分析", "故障原因", "原因"])));
            body.push_str(&format!(
                "**{}**：{solution}{fix}。",
                pick_label(&mut rng, &["处理措施", "处理过程", "解决方法"])
            ));
            if let Some(c) = &component {
                body.push_str(c);
            }
            body.push('\n');
            body.push_str(&format!(
                "**{}**：{result}{warranty}\n",
                pick_label(&mut rng, &["处理结果", "结果", "结论"])
            ));
            if let Some(r) = &repeat {
                body.push_str(&format!("**质量跟踪**：{r}\n"));
            }
            if rng.chance(0.7) {
                body.push_str(&format!(
                    "**{}**：{lesson}。",
                    pick_label(&mut rng, &["经验总结", "防范建议", "注意事项"])
                ));
            }
        }
        1 => {
            // Narrative.
            body.push_str(&opener);
            body.push_str(&report);
            body.push_str("。\n");
            if rng.chance(0.5) {
                body.push_str(&observation);
                body.push_str(&check);
                body.push('。');
                body.push_str(&cause);
            } else {
                body.push_str(&observation);
                body.push_str(&cause);
                body.push_str(&check);
                body.push('。');
            }
            body.push('\n');
            body.push_str(&solution);
            body.push_str(&fix);
            body.push('。');
            if let Some(c) = &component {
                body.push_str(c);
            }
            body.push_str(&result);
            body.push('\n');
            if let Some(r) = &repeat {
                body.push_str(r);
                body.push('\n');
            }
            body.push_str(&warranty);
            if rng.chance(0.6) {
                body.push('\n');
                body.push_str(&lesson);
                body.push('。');
            }
        }
        _ => {
            // Work-order summary.
            let d = &world.devices[case.device];
            let customer = &world.customers[d.customer];
            body.push_str(&format!(
                "客户：{}（{}）\n站点：{}\n设备：{} {}，出厂编号{}，程序版本{}\n",
                customer.name,
                customer.level.label_zh(),
                d.site,
                v.get("code").unwrap_or_default(),
                v.get("mname").unwrap_or_default(),
                d.serial,
                d.firmware
            ));
            body.push_str(&format!("报修日期：{}，渠道：{}\n", case.date, case.channel));
            body.push_str(&format!("故障现象：{report}；{observation}\n"));
            body.push_str(&format!("处理过程：{check}。{solution}{fix}。"));
            if let Some(c) = &component {
                body.push_str(c);
            }
            body.push('\n');
            body.push_str(&format!("故障原因：{cause}\n"));
            body.push_str(&format!("处理结果：{result}\n"));
            if let Some(r) = &repeat {
                body.push_str(&format!("备注：{r}\n"));
            }
            body.push_str(&format!("质保：{warranty}"));
            if rng.chance(0.5) {
                body.push_str(&format!("\n建议：{lesson}。"));
            }
        }
    }
    let body = tidy(&body);
    let title: String = tidy(&title).chars().take(store::record::MAX_TITLE_CHARS).collect();
    CaseText { title, body }
}

fn pick_expand(rng: &mut Rng, options: &[&'static str], v: &Vars) -> String {
    let template = options[rng.below(options.len())];
    expand(rng, template, v)
}

/// Drops a label the sentence starts with (`原因：...`) when the layout already labels it.
fn unlabel(text: &str) -> &str {
    const LABELS: &[&str] = &["原因：", "处理：", "处理措施：", "处理方法：", "质保情况：", "保修情况："];
    LABELS.iter().find_map(|label| text.strip_prefix(label)).unwrap_or(text)
}

fn pick_label(rng: &mut Rng, options: &[&'static str]) -> &'static str {
    options[rng.below(options.len())]
}

/// Removes doubled punctuation left where a template joins two sentences.
fn tidy(text: &str) -> String {
    let mut out = text.to_string();
    for (from, to) in [
        ("。。", "。"),
        ("，。", "。"),
        ("；。", "。"),
        ("。，", "。"),
        ("；；", "；"),
        ("，，", "，"),
        ("：：", "："),
        ("”。”", "。”"),
        ("；\n", "。\n"),
    ] {
        while out.contains(from) {
            out = out.replace(from, to);
        }
    }
    let out = out.trim();
    match out.strip_suffix('；') {
        Some(rest) => format!("{rest}。"),
        None => out.to_string(),
    }
}

fn case_tags(case: &Case, world: &World, corpus_date: Date) -> Vec<String> {
    let d = &world.devices[case.device];
    let customer = &world.customers[d.customer];
    let contract = &world.contracts[d.contract];
    let mut tags = vec!["解决案例".to_string()];
    tags.extend(customer.tags.iter().map(|t| t.to_string()));
    tags.push(if case.date <= contract.warranty_end { "质保期内".into() } else { "过保".into() });
    tags.push(if case.onsite { "现场处理".into() } else { "远程处理".into() });
    if case.repeat_of.is_some() {
        tags.push("重复故障".into());
    }
    let _ = corpus_date;
    tags
}

/// The digits of case numbers: 5, or more when the cases and their near-duplicates need them.
fn case_id_width(cases: usize) -> usize {
    crate::world::id_width(5, cases + cases / NEAR_DUPLICATE_EVERY + 1)
}

pub fn case_items(seed: u64, cases: &[Case], authored: &Authored, world: &World, corpus_date: Date) -> Vec<Item> {
    let mut items = Vec::with_capacity(cases.len() + cases.len() / NEAR_DUPLICATE_EVERY + 1);
    for case in cases {
        let text = case_text(seed, case, authored, world, corpus_date);
        items.push(case_item(case, cases, text, authored, world, corpus_date));
    }
    // Deliberate near-duplicates: the same case recorded again by another unit, lightly edited.
    let base = items.len();
    let width = case_id_width(cases.len());
    let mut extra = Vec::new();
    for (n, case) in cases.iter().enumerate().filter(|(n, _)| n % NEAR_DUPLICATE_EVERY == NEAR_DUPLICATE_EVERY / 2) {
        let mut rng = Rng::derive(seed, "near-duplicate", n as u64);
        let original: &Item = &items[n];
        let mut dup = original.clone();
        dup.id = format!("kb-sc-{:0width$}", base + extra.len() + 1);
        dup.title = format!(
            "{}{}",
            original.title,
            rng.pick(&["（补录）", "（重复录入）", "（县网点记录）", "（服务站记录）"])
        );
        let mut body = original.body.clone();
        for (from, to) in
            [("处理后", "处理完毕后"), ("现场", "到站"), ("客户", "用户"), ("确认", "核实"), ("原因", "根因")]
        {
            if body.contains(from) && rng.chance(0.6) {
                body = body.replacen(from, to, 1);
            }
        }
        body.push_str(&format!(
            "\n（本条由{}根据同一工单补录，与{}为同一案例。）",
            world.org(&case.owner_org).label,
            original.id
        ));
        dup.body = body;
        let customer = &world.customers[world.devices[case.device].customer];
        let other_org = if case.owner_org == customer.org {
            World::org_id(&crate::world::Region { province: customer.region.province, city: None, county: None })
        } else {
            customer.org.clone()
        };
        let org = world.org(&other_org);
        dup.owner = Some(org.label.clone());
        dup.owner_level = Some(org.level);
        dup.tags.push(format!("near-duplicate-of:{}", original.id));
        extra.push(dup);
    }
    items.extend(extra);
    items
}

/// The item of `case`, one of `all` (which its `repeat_of` indexes).
fn case_item(case: &Case, all: &[Case], text: CaseText, authored: &Authored, world: &World, corpus_date: Date) -> Item {
    let d = &world.devices[case.device];
    let customer = &world.customers[d.customer];
    let contract = &world.contracts[d.contract];
    let model = &authored.models[&case.model];
    let org = world.org(&case.owner_org);
    let mut products = vec![case.model.clone(), model.line.clone()];
    if let Some(c) = &case.component {
        products.push(c.clone());
    }
    let mut cases = vec![case.id.clone()];
    if let Some(r) = case.repeat_of {
        cases.push(all[r].id.clone());
    }
    Item {
        id: case.item_id.clone(),
        kind: ItemKind::SolvedCase,
        title: text.title,
        body: text.body,
        products,
        faults: vec![case.fault.clone(), case.cause.clone(), case.solution.clone()],
        contracts: vec![contract.id.clone()],
        cases,
        customers: vec![customer.id.clone()],
        cites: Vec::new(),
        tags: case_tags(case, world, corpus_date),
        category: Some(case.category),
        owner: Some(org.label.clone()),
        owner_level: Some(org.level),
        status: Status::Published,
        version: 1,
        valid_until: None,
        review_by: None,
        superseded_by: None,
        source: Some(SOURCE.into()),
    }
}

pub fn case_entities(cases: &[Case], authored: &Authored, world: &World) -> Vec<Entity> {
    cases
        .iter()
        .map(|case| {
            let d = &world.devices[case.device];
            let customer = &world.customers[d.customer];
            let contract = &world.contracts[d.contract];
            let model = &authored.models[&case.model];
            let fault = &authored.faults[&case.fault];
            let mut links = BTreeMap::new();
            links.insert("model".to_string(), vec![case.model.clone()]);
            links.insert("fault".to_string(), vec![case.fault.clone()]);
            links.insert("cause".to_string(), vec![case.cause.clone()]);
            links.insert("solution".to_string(), vec![case.solution.clone()]);
            links.insert("device".to_string(), vec![d.id.clone()]);
            links.insert("contract".to_string(), vec![contract.id.clone()]);
            links.insert("customer".to_string(), vec![customer.id.clone()]);
            links.insert("org".to_string(), vec![case.owner_org.clone()]);
            if let Some(c) = &case.component {
                links.insert("component".to_string(), vec![c.clone()]);
            }
            if let Some(r) = case.repeat_of {
                links.insert("repeat_of".to_string(), vec![cases[r].id.clone()]);
            }
            let mut attrs: BTreeMap<String, Value> = BTreeMap::new();
            attrs.insert("date".into(), json!(case.date.to_string()));
            attrs.insert("site".into(), json!(d.site));
            attrs.insert("region".into(), json!(world.region_name(&customer.region)));
            attrs.insert("severity".into(), json!(fault.severity));
            attrs.insert("category".into(), json!(case.category.code()));
            attrs.insert("channel".into(), json!(case.channel));
            attrs.insert("onsite".into(), json!(case.onsite));
            attrs.insert("hours_to_restore".into(), json!(case.hours));
            attrs.insert("in_warranty".into(), json!(case.date <= contract.warranty_end));
            attrs.insert("item".into(), json!(case.item_id));
            Entity {
                id: case.id.clone(),
                class: EntityClass::Case,
                label: format!("{} {} {} {}", case.date, d.site, model.code, fault.label),
                aliases: Vec::new(),
                links,
                attrs,
                version: 1,
            }
        })
        .collect()
}

/// One `contract_info` item per contract: what an agent needs when a customer quotes a contract.
pub fn contract_items(world: &World, authored: &Authored, corpus_date: Date) -> Vec<Item> {
    world
        .contracts
        .iter()
        .map(|k| {
            let customer = &world.customers[k.customer];
            let org = world.org(&customer.org);
            let status = warranty_status(k.warranty_end, corpus_date);
            let mut body = format!(
                "合同编号：{}\n合同类型：{}\n客户：{}（{}，{}）\n签订日期：{}；到货日期：{}\n",
                k.number,
                k.kind,
                customer.name,
                customer.level.label_zh(),
                world.region_name(&customer.region),
                k.signed.zh(),
                k.delivered.zh()
            );
            body.push_str("供货范围：");
            let lines: Vec<String> = k
                .lines
                .iter()
                .map(|(m, q)| {
                    let model = &authored.models[m];
                    format!("{} {} {}{}", model.code, model.name, q, if q > &1 { "台/套" } else { "台" })
                })
                .collect();
            body.push_str(&lines.join("；"));
            body.push('\n');
            let serials: Vec<String> = k
                .devices
                .iter()
                .map(|d| format!("{}（{}）", world.devices[*d].serial, world.devices[*d].site))
                .collect();
            body.push_str(&format!("登记序列号：{}\n", serials.join("、")));
            body.push_str(&format!(
                "质保：{}个月，{}起至{}止，当前状态：{}",
                k.months,
                k.warranty_start.zh(),
                k.warranty_end.zh(),
                status
            ));
            if status == "90天内到期" {
                body.push_str(&format!(
                    "（剩余{}天，已触发质保到期预警，请客户经理联系客户介绍运维服务合同）",
                    k.warranty_end.days() - corpus_date.days()
                ));
            }
            body.push_str(&format!("\n服务承诺：{}\n合同金额约{}万元（示例数据）。", k.response, k.amount_wan));
            let mut tags = vec!["合同信息".to_string(), k.kind.to_string(), status.to_string()];
            tags.extend(customer.tags.iter().map(|t| t.to_string()));
            let mut products: Vec<String> = k.lines.iter().map(|(m, _)| m.clone()).collect();
            for (m, _) in &k.lines {
                let line = authored.models[m].line.clone();
                if !products.contains(&line) {
                    products.push(line);
                }
            }
            Item {
                id: format!("kb-ci-{}", k.id.trim_start_matches("ct-")),
                kind: ItemKind::ContractInfo,
                title: format!("合同{}（{}，{}）", k.number, customer.short, k.kind),
                body,
                products,
                faults: Vec::new(),
                contracts: vec![k.id.clone()],
                cases: Vec::new(),
                customers: vec![customer.id.clone()],
                cites: Vec::new(),
                tags,
                category: Some(Category::Consultation),
                owner: Some(org.label.clone()),
                owner_level: Some(org.level),
                status: Status::Published,
                version: 1,
                valid_until: Some(k.warranty_end.to_string()),
                review_by: None,
                superseded_by: None,
                source: Some(SOURCE.into()),
            }
        })
        .collect()
}

fn tag_advice(tag: &str) -> &'static str {
    match tag {
        "停电敏感" => "停电敏感：涉及供电中断的报修按最高优先级派单，主动告知预计恢复时间并定时回电通报进展",
        "电费敏感" => "电费敏感：涉及计量、电量、充电费用的问题先核对数据再答复，说明计算依据，避免笼统表态",
        "情绪化" => "情绪化：先倾听和致歉，不争辩，承诺具体的回复时间并按时兑现，必要时由班长接续",
        "重要客户" => "重要客户：紧急缺陷同步报告服务分中心负责人，优先安排备件和专家支持",
        _ => "",
    }
}

/// One `customer_info` item per customer: profile, tags and what they mean for service.
pub fn customer_items(world: &World, authored: &Authored, corpus_date: Date) -> Vec<Item> {
    world
        .customers
        .iter()
        .map(|c| {
            let org = world.org(&c.org);
            let mut body = format!(
                "客户名称：{}\n客户类型：{}；层级：{}；所在地区：{}\n服务单位：{}\n",
                c.name,
                c.kind.zh(),
                c.level.label_zh(),
                world.region_name(&c.region),
                org.label
            );
            if let Some(p) = &c.parent
                && let Some(parent) = world.customers.iter().find(|x| &x.id == p)
            {
                body.push_str(&format!("上级单位/属地供电企业：{}\n", parent.name));
            }
            body.push_str(&format!("主要站点：{}\n", c.sites.join("、")));
            let mut models: Vec<String> = Vec::new();
            let mut expiring = Vec::new();
            for k in &c.contracts {
                let contract = &world.contracts[*k];
                for (m, _) in &contract.lines {
                    if !models.contains(m) {
                        models.push(m.clone());
                    }
                }
                if warranty_status(contract.warranty_end, corpus_date) == "90天内到期" {
                    expiring.push(format!("{}（{}到期）", contract.number, contract.warranty_end));
                }
            }
            let codes: Vec<&str> = models.iter().map(|m| authored.models[m].code.as_str()).collect();
            body.push_str(&format!(
                "在运产品：{}\n",
                if codes.is_empty() { "暂无登记".to_string() } else { codes.join("、") }
            ));
            let numbers: Vec<&str> = c.contracts.iter().map(|k| world.contracts[*k].number.as_str()).collect();
            body.push_str(&format!("合同：{}\n", numbers.join("、")));
            if !expiring.is_empty() {
                body.push_str(&format!("质保即将到期：{}\n", expiring.join("、")));
            }
            if c.tags.is_empty() {
                body.push_str("客户标签：无特殊标签，按标准流程服务。");
            } else {
                body.push_str(&format!("客户标签：{}\n", c.tags.join("、")));
                let advice: Vec<&str> = c.tags.iter().map(|t| tag_advice(t)).filter(|a| !a.is_empty()).collect();
                body.push_str(&format!("服务提示：{}。", advice.join("；")));
            }
            let mut tags = vec!["客户信息".to_string(), c.kind.zh().to_string()];
            tags.extend(c.tags.iter().map(|t| t.to_string()));
            let contracts: Vec<String> = c.contracts.iter().map(|k| world.contracts[*k].id.clone()).collect();
            Item {
                id: format!("kb-cu-{}", c.id.trim_start_matches("cust-")),
                kind: ItemKind::CustomerInfo,
                title: format!("{}客户档案", c.name),
                body,
                products: models,
                faults: Vec::new(),
                contracts,
                cases: Vec::new(),
                customers: vec![c.id.clone()],
                cites: Vec::new(),
                tags,
                category: Some(Category::Consultation),
                owner: Some(org.label.clone()),
                owner_level: Some(org.level),
                status: Status::Published,
                version: 1,
                valid_until: None,
                review_by: None,
                superseded_by: None,
                source: Some(SOURCE.into()),
            }
        })
        .collect()
}

/// What commissioning covers, per product line (real test items, in our words).
fn commissioning_checks(line: &str) -> &'static str {
    match line {
        "pl-line-protection" | "pl-transformer-protection" | "pl-busbar-protection" | "pl-feeder-protection" => {
            "{绝缘检查、|}采样精度校验、开入开出检查、定值校验、整组传动{、通道联调|}{，投运前带负荷测相量|}"
        }
        "pl-auto-transfer" => "采样与开入检查、备自投逻辑{模拟|试验}、与相关保护的配合传动",
        "pl-bay-control" | "pl-substation-monitoring" | "pl-telecontrol-gateway" => {
            "遥信、遥测、遥控{逐点|全部}对点，{与主站|与调度}{规约|通信}联调{，五防闭锁校验|}"
        }
        "pl-dispatch-master" => "{硬件上架、|}系统部署、数据库与画面{建模|导入}、厂站接入联调、{72小时|连续}试运行",
        "pl-merging-unit" | "pl-smart-terminal" => {
            "SV/GOOSE{收发|链路}联调、{采样同步与|}对时检查、{与保护|与测控}{传动|联调}"
        }
        "pl-distribution-terminal" => {
            "{三遥|遥信遥测遥控}联调、{馈线自动化逻辑|FA逻辑}测试、{无线|光纤}{通信|通道}测试、后备电源{检查|切换试验}"
        }
        "pl-acquisition-terminal" | "pl-smart-meter" => {
            "{安装接线检查、|}{HPLC|载波}通信组网、{抄表成功率|采集成功率}{测试|统计}、主站档案{核对|同步}"
        }
        "pl-ev-charger" => "{绝缘检测、|}{充电|带车}测试、{急停与门禁|保护功能}{试验|检查}、{运营平台|平台}接入",
        "pl-pv-inverter" => "{直流侧绝缘|组串}检查、并网{测试|调试}、{功率|出力}{测试|核对}、监控平台接入",
        "pl-storage-pcs" => "{电池|BMS}通信联调、{充放电|功率}测试、{并离网切换|保护}试验、{EMS|能量管理系统}接入",
        "pl-online-monitoring" => "传感器{安装|标定}、{数据|采集}{上传|通信}测试、告警{阈值|定值}设置",
        "pl-fault-recorder" => "{模拟量|开关量}{接入|通道}核对、启动定值{设置|校验}、{录波文件|报文}上送{主站|测试}",
        "pl-time-sync" => "{北斗/GPS|卫星}{接收|锁定}检查、{对时精度|输出}测试、{各装置|下游装置}对时{核对|验证}",
        "pl-network-security-monitor" => {
            "{资产|设备}{接入|发现}、{采集|告警}策略配置、{与平台|向调度平台}{上送|联调}测试"
        }
        "pl-vertical-encryption" => "{证书|密钥}{导入|申请}、{隧道|策略}配置、{与主站|与对端}加密{联调|通信测试}",
        "pl-dc-power" => "{蓄电池|电池组}{核对性放电|核容}、{充电模块|整流模块}{均流|输出}检查、绝缘监测{校验|试验}",
        _ => "{外观检查、|}{上电|功能}{检查|测试}、{参数设置|配置核对}",
    }
}

/// One `fulfilment_info` item per contract: delivery, acceptance, installation, commissioning.
pub fn fulfilment_items(seed: u64, world: &World, authored: &Authored) -> Vec<Item> {
    world
        .contracts
        .iter()
        .map(|k| {
            let mut rng = Rng::derive(seed, &k.id, 1);
            let customer = &world.customers[k.customer];
            let org = world.org(&customer.org);
            let mut v = Vars::new();
            v.set("cust", customer.short.clone());
            let mut body = format!("合同{}（{}）履约记录。\n", k.number, k.kind);
            body.push_str(&format!(
                "到货：{}{}，{}。\n",
                k.delivered.zh(),
                expand(&mut rng, "{到货|货物送达}", &v),
                expand(
                    &mut rng,
                    "{到货验收|开箱验收}{合格|通过}，{数量与装箱单一致|数量、外观、随机资料齐全}{|，客户签收}",
                    &v
                )
            ));
            let mut sites: Vec<&str> = k.devices.iter().map(|d| world.devices[*d].site.as_str()).collect();
            sites.sort_unstable();
            sites.dedup();
            body.push_str(&format!("安装地点：{}。\n", sites.join("、")));
            for (m, q) in &k.lines {
                let model = &authored.models[m];
                let checks = expand(&mut rng, commissioning_checks(&model.line), &v);
                body.push_str(&format!("{}（{}台/套）调试内容：{checks}。\n", model.code, q));
            }
            body.push_str(&format!("投运日期：{}，质保自该日起算。\n", k.warranty_start.zh()));
            let leftover = match rng.below(6) {
                0 => "遗留问题：随机资料缺少一份出厂检验报告，已于一周内补寄",
                1 => "遗留问题：一台装置面板有划痕，已现场更换面板",
                2 => "遗留问题：客户要求补充一次运维培训，已安排",
                _ => "遗留问题：无",
            };
            body.push_str(&format!("{leftover}。"));
            let mut products: Vec<String> = k.lines.iter().map(|(m, _)| m.clone()).collect();
            for (m, _) in &k.lines {
                let line = authored.models[m].line.clone();
                if !products.contains(&line) {
                    products.push(line);
                }
            }
            Item {
                id: format!("kb-fi-{}", k.id.trim_start_matches("ct-")),
                kind: ItemKind::FulfilmentInfo,
                title: format!("合同{}履约记录：到货、安装与投运（{}）", k.number, customer.short),
                body,
                products,
                faults: Vec::new(),
                contracts: vec![k.id.clone()],
                cases: Vec::new(),
                customers: vec![customer.id.clone()],
                cites: Vec::new(),
                tags: vec!["履约信息".into(), "到货验收".into(), "调试投运".into()],
                category: Some(Category::ServiceRequest),
                owner: Some(org.label.clone()),
                owner_level: Some(org.level),
                status: Status::Published,
                version: 1,
                valid_until: None,
                review_by: None,
                superseded_by: None,
                source: Some(SOURCE.into()),
            }
        })
        .collect()
}
