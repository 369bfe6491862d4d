//! Text variation: a tiny template language, traditional characters, typing slips, loose codes.
//!
//! Templates: `{a|b|c}` picks one alternative (alternatives may nest and may be empty), `<name>`
//! inserts a variable. Nothing else is special, so Chinese punctuation passes through unchanged.

use crate::rng::Rng;

/// Variables for [`expand`]: a short list of (name, value).
#[derive(Debug, Default, Clone)]
pub struct Vars(Vec<(&'static str, String)>);

impl Vars {
    pub fn new() -> Self {
        Vars(Vec::new())
    }

    pub fn set(&mut self, name: &'static str, value: impl Into<String>) -> &mut Self {
        let value = value.into();
        if let Some(slot) = self.0.iter_mut().find(|(n, _)| *n == name) {
            slot.1 = value;
        } else {
            self.0.push((name, value));
        }
        self
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }
}

/// Expands a template. Unknown variables are a bug in the generator and panic in tests.
pub fn expand(rng: &mut Rng, template: &str, vars: &Vars) -> String {
    let chars: Vec<char> = template.chars().collect();
    let mut out = String::with_capacity(template.len() * 2);
    let mut pos = 0;
    expand_seq(rng, &chars, &mut pos, vars, &mut out, false);
    out
}

/// Expands until the end, or (inside braces) until the `|` or `}` that ends this alternative.
fn expand_seq(rng: &mut Rng, chars: &[char], pos: &mut usize, vars: &Vars, out: &mut String, nested: bool) {
    while *pos < chars.len() {
        let c = chars[*pos];
        match c {
            '{' => {
                *pos += 1;
                let alternatives = split_alternatives(chars, *pos);
                let (start, end) = alternatives[rng.below(alternatives.len())];
                let mut inner = start;
                let mut sub = String::new();
                expand_seq(rng, &chars[..end], &mut inner, vars, &mut sub, true);
                out.push_str(&sub);
                *pos = closing(chars, *pos) + 1;
            }
            '|' | '}' if nested => return,
            '<' => {
                let end = chars[*pos..].iter().position(|&c| c == '>').map(|p| *pos + p);
                match end {
                    Some(end)
                        if end > *pos + 1
                            && chars[*pos + 1..end].iter().all(|c| c.is_ascii_alphanumeric() || *c == '_') =>
                    {
                        let name: String = chars[*pos + 1..end].iter().collect();
                        match vars.get(&name) {
                            Some(v) => out.push_str(v),
                            None => panic!("template variable <{name}> not set"),
                        }
                        *pos = end + 1;
                    }
                    _ => {
                        out.push(c);
                        *pos += 1;
                    }
                }
            }
            _ => {
                out.push(c);
                *pos += 1;
            }
        }
    }
}

/// Index of the `}` closing the group that starts at `start` (just after its `{`).
fn closing(chars: &[char], start: usize) -> usize {
    let mut depth = 0;
    for (i, &c) in chars.iter().enumerate().skip(start) {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return i,
            '}' => depth -= 1,
            _ => {}
        }
    }
    panic!("unbalanced braces in template")
}

/// (start, end) of each top-level alternative of the group starting at `start`.
fn split_alternatives(chars: &[char], start: usize) -> Vec<(usize, usize)> {
    let end = closing(chars, start);
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut from = start;
    for (i, &c) in chars.iter().enumerate().take(end).skip(start) {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            '|' if depth == 0 => {
                parts.push((from, i));
                from = i + 1;
            }
            _ => {}
        }
    }
    parts.push((from, end));
    parts
}

/// Simplified → traditional for the characters our tickets use most (one-to-one choices only).
const TRAD: &str = "这這个個装裝报報断斷线線电電护護动動时時问問题題么麼发發现現说說们們没沒来來坏壞开開关關变變压壓闭閉锁鎖讯訊网網络絡号號码碼显顯灯燈过過还還会會让讓给給对對后後里裡应應该該处處师師经經话話联聯系係请請帮幫谢謝调調试試检檢换換块塊桩樁枪槍费費单單车車辆輛户戶务務厂廠业業场場区區县縣两兩几幾样樣为為吗嗎儿兒点點钟鐘头頭长長间間东東马馬门門气氣运運维維备備录錄数數据據远遠遥遙测測脑腦统統级級频頻闸閘差差实實际際够夠边邊机機样樣总總层層状狀态態错錯误誤启啟确確认認写寫图圖级級节節种種复復修修线線围圍严嚴紧緊办辦员員赶趕乱亂滚滾烧燒热熱响響鸣鳴备備视視频頻讲講费費钱錢账賬历歷货貨终終端端器器缆纜损損灭滅记記无無论論现現该該难難亏虧进進图圖态態压壓满滿";

/// Converts the characters listed in [`TRAD`]; everything else is kept.
pub fn to_traditional(text: &str) -> String {
    let pairs: Vec<char> = TRAD.chars().collect();
    text.chars().map(|c| pairs.chunks(2).find(|p| p[0] == c).map_or(c, |p| p[1])).collect()
}

/// Typing slips people make with a pinyin input method (right word → homophone typed instead).
pub const TYPOS: &[(&str, &str)] = &[
    ("通讯", "通迅"),
    ("装置", "装制"),
    ("断线", "段线"),
    ("闭锁", "闭所"),
    ("采集", "彩集"),
    ("逆变器", "逆变气"),
    ("充电桩", "充电装"),
    ("电源", "电原"),
    ("保护", "保户"),
    ("定值", "定制"),
    ("差动", "查动"),
    ("遥信", "摇信"),
    ("遥测", "摇测"),
    ("插件", "差件"),
    ("告警", "高警"),
    ("离线", "离先"),
    ("监控", "监空"),
    ("网关", "网官"),
    ("集中器", "集中气"),
    ("智能", "只能"),
    ("后台", "后太"),
    ("死机", "死鸡"),
    ("光纤", "光线"),
    ("跳闸", "跳匝"),
    ("故障", "故账"),
    ("显示", "显式"),
    ("接地", "接的"),
    ("屏幕", "平幕"),
    ("电表", "电标"),
    ("充不进", "冲不进"),
    ("充电", "冲电"),
    ("信号", "信好"),
    ("已经", "以经"),
    ("一直", "一只"),
    ("在线", "再线"),
];

/// Applies up to `max` typing slips that fit the text.
pub fn add_typos(rng: &mut Rng, text: &str, max: usize) -> (String, usize) {
    let mut out = text.to_string();
    let mut applied = 0;
    let mut order: Vec<usize> = (0..TYPOS.len()).collect();
    rng.shuffle(&mut order);
    for i in order {
        if applied >= max {
            break;
        }
        let (right, wrong) = TYPOS[i];
        if out.contains(right) {
            out = out.replacen(right, wrong, 1);
            applied += 1;
        }
    }
    (out, applied)
}

/// A model code written the loose ways people write it: `gkb931a`, `931A`, `GKB 931-A`, full width.
pub fn loose_code(rng: &mut Rng, code: &str, aliases: &[String]) -> String {
    let digits_part = code.split_once('-').map_or(code, |(_, tail)| tail);
    let short: Vec<&String> =
        aliases.iter().filter(|a| a.chars().count() <= 12 && !a.contains(' ') && a.as_str() != code).collect();
    match rng.below(9) {
        0 | 1 if !short.is_empty() => (*rng.pick(&short)).clone(),
        2 => code.to_ascii_lowercase().replace('-', ""),
        3 => digits_part.to_string(),
        4 => digits_part.to_ascii_lowercase(),
        5 => code.replace('-', " "),
        6 => code.chars().map(to_full_width).collect(),
        7 => code.to_ascii_lowercase(),
        _ => code.to_string(),
    }
}

fn to_full_width(c: char) -> char {
    match c {
        '!'..='~' => char::from_u32(c as u32 + 0xFEE0).unwrap_or(c),
        _ => c,
    }
}

/// Cuts a sentence at a comma or after a few characters: people rarely finish the thought.
pub fn truncate_thought(rng: &mut Rng, text: &str) -> String {
    let cuts: Vec<usize> = text.char_indices().filter(|(_, c)| "，,；;".contains(*c)).map(|(i, _)| i).collect();
    if !cuts.is_empty() && rng.chance(0.6) {
        return text[..*rng.pick(&cuts)].to_string();
    }
    text.to_string()
}

/// Swaps words for the everyday ones customers use.
pub const COLLOQUIAL: &[(&str, &str)] = &[
    ("装置", "设备"),
    ("告警", "报警"),
    ("异常", "不正常"),
    ("中断", "断了"),
    ("无法", "没法"),
    ("显示", "显"),
    ("不能", "没法"),
    ("故障", "毛病"),
    ("检查", "看看"),
    ("频繁", "老是"),
    ("立即", "马上"),
    ("一直", "老"),
    ("没有", "没"),
    ("出现", "冒出"),
    ("检测到", "测出"),
    ("数据", "数"),
    ("屏幕", "屏"),
    ("提示", "跳出来"),
    ("停止", "停了"),
    ("怎么", "咋"),
    ("是不是", "是否"),
];

pub fn colloquialise(rng: &mut Rng, text: &str) -> String {
    let mut out = text.to_string();
    for (formal, casual) in COLLOQUIAL {
        if out.contains(formal) && rng.chance(0.5) {
            out = out.replace(formal, casual);
        }
    }
    out
}

/// Engineer's wording with the phrases nobody says aloud removed or shortened.
pub fn strip_quotes(text: &str) -> String {
    text.replace(['“', '”', '「', '」'], "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_expand_choices_and_variables() {
        let mut vars = Vars::new();
        vars.set("x", "甲");
        let mut rng = Rng::new(1);
        for _ in 0..50 {
            let s = expand(&mut rng, "前{a|b{c|d}|}<x>后", &vars);
            assert!(["前a甲后", "前bc甲后", "前bd甲后", "前甲后"].contains(&s.as_str()), "{s}");
        }
        assert_eq!(expand(&mut rng, "a<b c>d", &vars), "a<b c>d");
    }

    #[test]
    fn traditional_and_typos() {
        assert_eq!(to_traditional("这个装置报断线"), "這個裝置報斷線");
        let mut rng = Rng::new(3);
        let (t, n) = add_typos(&mut rng, "通讯装置", 1);
        assert_eq!(n, 1);
        assert_ne!(t, "通讯装置");
        let pairs: Vec<char> = TRAD.chars().collect();
        assert_eq!(pairs.len() % 2, 0);
    }
}
