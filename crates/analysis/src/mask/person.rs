//! Names and street addresses in ticket text, recognised by the contexts they are written in.
//!
//! A name is only found where the words around it say it is one: after `联系人`, `我是`, `我叫`,
//! `姓名`; before `师傅`, `先生`, `女士`, `小姐` right after a surname; before `，电话` at the
//! start of a clause. A bare `王家坝变电站` or `张力放线` is never a name, and `我是供电所的` is
//! not one either (`供` is no surname). Replacements keep the surname of a full name (`张*`) and
//! hide it in a surname with a title (`*师傅`), so that at most the surname is ever shown.
//!
//! An address is found after `地址`, `住址`, `住在`, `家住`, `我住` when it has an address's
//! shape (a number before `号` / `室` / `栋`, or `村`, `小区`, `弄` …); `IP地址`, `服务器地址`
//! and `地址设置不一致` have none. The administrative part (province, city, district, county) is
//! kept, the rest hidden.

use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, MatchKind};

use super::{Claims, PiiKind};

/// Common single-character surnames (the most frequent ~130, less those that are everyday words
/// at the start of a phrase in this domain, such as 电, 用, 信, 新, 东).
const SURNAMES: &str = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余杜叶程苏魏\
吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔汤\
向常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍\
涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农卓古吉缪简车项连芦麦褚娄窦戚岑景党宫\
费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝于高傅";

const COMPOUND_SURNAMES: &[&str] =
    &["欧阳", "司马", "诸葛", "上官", "皇甫", "令狐", "慕容", "司徒", "夏侯", "尉迟", "公孙", "长孙", "宇文", "端木"];

/// Titles that mark a name on their own, right after a surname: `张师傅`, `王先生`.
const TITLES: &[&str] = &["师傅", "師傅", "先生", "女士", "小姐"];

/// Titles that mark a name only in a name context (`联系人周工`, `我是吴经理`): alone they are
/// too often words (`周工作`).
const CONTEXT_TITLES: &[&str] = &[
    "工程师",
    "工",
    "经理",
    "經理",
    "站长",
    "站長",
    "班长",
    "班長",
    "主任",
    "老师",
    "老師",
    "总",
    "總",
    "科长",
    "所长",
    "队长",
    "组长",
    "主管",
    "书记",
    "厂长",
    "大姐",
    "阿姨",
    "大爷",
    "老板",
    "师傅",
    "先生",
    "女士",
    "小姐",
    "師傅",
];

/// Words after which a name follows.
const NAME_CONTEXTS: &[&str] = &[
    "联系人",
    "聯繫人",
    "联系人是",
    "联系人为",
    "我是",
    "我叫",
    "我姓",
    "姓名",
    "名字叫",
    "名字是",
    "本人",
    "报修人",
    "户主",
    "户名",
    "客户姓名",
    "用户姓名",
    "收件人",
    "收货人",
    "联络人",
    "申请人",
    "来电人",
    "经办人",
];

/// Words that may follow a name directly.
const AFTER_NAME: &[&str] = &[
    "电话", "手机", "手機", "電話", "联系", "來電", "来电", "反映", "回电", "说", "在", "先生", "女士", "师傅", "小姐",
];

static NAME_CONTEXT: LazyLock<AhoCorasick> = LazyLock::new(|| {
    AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostLongest)
        .build(NAME_CONTEXTS)
        .expect("built-in name contexts form a valid automaton")
});

static TITLE: LazyLock<AhoCorasick> = LazyLock::new(|| {
    AhoCorasick::builder().match_kind(MatchKind::LeftmostLongest).build(TITLES).expect("built-in titles are valid")
});

fn is_han(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}')
}

/// The surname at the start of `text`, in bytes.
fn surname_len(text: &str) -> Option<usize> {
    if let Some(compound) = COMPOUND_SURNAMES.iter().find(|s| text.starts_with(**s)) {
        return Some(compound.len());
    }
    let first = text.chars().next()?;
    SURNAMES.contains(first).then(|| first.len_utf8())
}

/// A name may end here: end of text, punctuation, a space, a digit, or a word that follows names.
fn ends_name(rest: &str) -> bool {
    match rest.chars().next() {
        None => true,
        Some(c) if !is_han(c) => true,
        Some(_) => AFTER_NAME.iter().any(|w| rest.starts_with(w)),
    }
}

fn starred(n: usize) -> String {
    "*".repeat(n)
}

pub(super) fn find_names(text: &str, claims: &mut Claims) {
    // Names after a context word: `联系人沈超`, `我是吴经理`, `姓名：赵敏`.
    for m in NAME_CONTEXT.find_iter(text) {
        let rest = &text[m.end()..];
        let skipped = rest.len() - rest.trim_start_matches([' ', ':', '：', '是', '为']).len();
        let start = m.end() + skipped;
        if let Some((end, replacement)) = name_at(text, start) {
            claims.claim(start, end, PiiKind::Name, replacement);
        }
    }
    // A surname (and given name) right before a title: `找程师傅`, `张伟先生`.
    for m in TITLE.find_iter(text) {
        let title_end = m.end();
        if text[title_end..].starts_with(['成', '产', '进']) && text[m.start()..title_end].starts_with('先') {
            continue; // 先生成, 先生产: "first generate", not "Mr".
        }
        let before: Vec<(usize, char)> = text[..m.start()].char_indices().rev().take(3).collect();
        // The shortest name that works: the surname alone, then with a given name of 1 or 2.
        for extra in 0..=2 {
            let Some(&(start, _)) = before.get(extra) else { break };
            if !before[..=extra].iter().all(|(_, c)| is_han(*c)) {
                break;
            }
            let name = &text[start..m.start()];
            let Some(surname) = surname_len(name) else { continue };
            let given = name[surname..].chars().count();
            let title = &text[m.start()..title_end];
            let (end, replacement) = if given == 0 {
                (title_end, format!("{}{title}", starred(name.chars().count())))
            } else if char_before_is_boundary(text, start) {
                // A name with a given name must start a clause or follow a verb of address.
                (m.start(), format!("{}{}", &name[..surname], starred(given)))
            } else {
                continue;
            };
            claims.claim(start, end, PiiKind::Name, replacement);
            break;
        }
    }
    // A name at the start of a clause, before its phone number: `曹立新，电话178…`.
    let mut clause_start = 0;
    for (at, c) in text.char_indices().chain(std::iter::once((text.len(), '\n'))) {
        if is_han(c) || at < clause_start {
            continue;
        }
        let clause = &text[clause_start..at];
        let rest = text[at..].trim_start_matches([',', '，', ' ']);
        if !clause.is_empty()
            && clause.chars().count() <= 4
            && ["电话", "手机", "手機", "電話"].iter().any(|w| rest.starts_with(w))
            && let Some((end, replacement)) = name_at(text, clause_start)
            && end == at
        {
            claims.claim(clause_start, end, PiiKind::Name, replacement);
        }
        clause_start = at + c.len_utf8();
    }
}

fn char_before_is_boundary(text: &str, at: usize) -> bool {
    const VERBS: &[char] =
        &['找', '请', '叫', '是', '谢', '告', '给', '让', '和', '跟', '问', '向', '由', '被', '对', '喊', '联'];
    text[..at].chars().next_back().is_none_or(|c| !is_han(c) || VERBS.contains(&c))
}

/// A name starting at `start`: a surname with a title (`周工`), or a surname with a given name
/// of one or two characters followed by something that ends a name. Returns its end and its
/// replacement.
fn name_at(text: &str, start: usize) -> Option<(usize, String)> {
    let rest = &text[start..];
    let surname = surname_len(rest)?;
    let after_surname = &rest[surname..];
    if let Some(title) = CONTEXT_TITLES.iter().filter(|t| after_surname.starts_with(**t)).max_by_key(|t| t.len())
        && ends_name(&after_surname[title.len()..])
    {
        return Some((start + surname + title.len(), format!("{}{title}", starred(rest[..surname].chars().count()))));
    }
    let given: Vec<(usize, char)> = after_surname.char_indices().take(2).collect();
    for n in (1..=2).rev() {
        if given.len() < n || !given[..n].iter().all(|(_, c)| is_han(*c)) {
            continue;
        }
        let end = surname + given[..n].iter().map(|(_, c)| c.len_utf8()).sum::<usize>();
        if ends_name(&rest[end..]) {
            return Some((start + end, format!("{}{}", &rest[..surname], starred(n))));
        }
    }
    None
}

// --- addresses -------------------------------------------------------------------------------

const ADDRESS_CONTEXTS: &[&str] = &[
    "地址",
    "住址",
    "家住",
    "住在",
    "我住",
    "现住",
    "居住在",
    "收货地址",
    "详细地址",
    "家庭住址",
    "户籍地址",
    "通讯地址",
    "联系地址",
    "住的是",
];

static ADDRESS_CONTEXT: LazyLock<AhoCorasick> = LazyLock::new(|| {
    AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostLongest)
        .build(ADDRESS_CONTEXTS)
        .expect("built-in address contexts form a valid automaton")
});

/// Words that make a run of text an address by themselves.
const PLACE_WORDS: &[&str] = &["村", "小区", "花园", "大厦", "公寓", "社区", "苑", "弄", "巷", "新村", "家园", "胡同"];
/// Words that end a numbered part of an address: `18号`, `502室`, `3栋`, `2单元`, `五组`.
const NUMBERED: &[&str] = &["号", "室", "栋", "幢", "楼", "层", "组", "单元", "座", "户", "弄", "排", "巷"];
/// Longest address taken, in characters.
const MAX_ADDRESS_CHARS: usize = 40;

pub(super) fn find_addresses(text: &str, claims: &mut Claims) {
    for m in ADDRESS_CONTEXT.find_iter(text) {
        let rest = &text[m.end()..];
        let skipped = rest.len() - rest.trim_start_matches([' ', ':', '是', '为', '在']).len();
        let start = m.end() + skipped;
        let value: String = text[start..]
            .chars()
            .take_while(|c| is_han(*c) || c.is_ascii_alphanumeric() || matches!(c, '-' | '#'))
            .take(MAX_ADDRESS_CHARS)
            .collect();
        // End the address after its last numbered part or place word.
        let chars: Vec<char> = value.chars().collect();
        let mut end_chars = 0;
        let mut shaped = false;
        for (i, c) in chars.iter().enumerate() {
            let tail: String = chars[i..].iter().take(2).collect();
            let after_number = i > 0 && (chars[i - 1].is_ascii_digit() || is_numeral(chars[i - 1]));
            let word = PLACE_WORDS
                .iter()
                .chain(NUMBERED.iter().filter(|_| after_number))
                .filter(|w| tail.starts_with(**w))
                .map(|w| w.chars().count())
                .max();
            if let Some(len) = word {
                shaped = true;
                end_chars = end_chars.max(i + len);
            } else if shaped && (c.is_ascii_alphanumeric() || *c == '-') && i == end_chars {
                end_chars = i + 1; // the room number after the last part: `2单元501`
            }
        }
        if !shaped {
            continue;
        }
        let address: String = chars[..end_chars].iter().collect();
        let kept = administrative_prefix(&address);
        let end = start + address.len();
        claims.claim(start, end, PiiKind::Address, format!("{}****", &address[..kept]));
    }
}

fn is_numeral(c: char) -> bool {
    "一二三四五六七八九十百零〇两".contains(c)
}

/// Bytes of the leading province / city / district / county part, at most ten characters.
fn administrative_prefix(address: &str) -> usize {
    let mut kept = 0;
    let mut previous = None;
    for (i, (at, c)) in address.char_indices().enumerate() {
        if i >= 10 {
            break;
        }
        let is_admin = matches!(c, '省' | '市' | '县' | '区' | '州' | '旗')
            && !matches!(previous, None | Some('小' | '社' | '园' | '景' | '校' | '厂' | '城'));
        if is_admin {
            kept = at + c.len_utf8();
        }
        previous = Some(c);
    }
    kept
}
