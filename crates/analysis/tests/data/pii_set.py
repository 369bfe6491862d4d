#!/usr/bin/env python3
"""Writes pii_set.jsonl: the labelled set the masking test measures recall and precision on.

Every string was written for gridkb (fictional people, numbers and places); the numbers are
drawn from a fixed seed so that ID numbers carry a valid check digit and card numbers pass Luhn.
Each line: {"text", "kind", "pii": [substrings that must not survive masking],
"keep": [substrings that must survive verbatim]}. `kind` is "trap" for strings in which nothing
may be masked. Run from this directory: python3 pii_set.py > pii_set.jsonl
"""
import json
import random

rng = random.Random(14)
out = []


def add(kind, text, pii=(), keep=()):
    for s in list(pii) + list(keep):
        assert s in text, (s, text)
    out.append({"text": text, "kind": kind, "pii": list(pii), "keep": list(keep)})


def digits(n):
    return "".join(rng.choice("0123456789") for _ in range(n))


def mobile():
    return rng.choice(["13", "15", "17", "18", "19", "14", "16"]) + str(rng.randint(0, 9)) + digits(8)


W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
C = "10X98765432"


def id18():
    area = rng.choice(["110105", "320102", "440304", "330106", "510107", "420111", "370203"])
    y, m, d = rng.randint(1950, 2004), rng.randint(1, 12), rng.randint(1, 28)
    body = f"{area}{y:04d}{m:02d}{d:02d}{digits(3)}"
    return body + C[sum(int(a) * w for a, w in zip(body, W)) % 11]


def luhn_complete(prefix, length):
    body = prefix + digits(length - len(prefix) - 1)
    total = 0
    for i, ch in enumerate(reversed(body)):
        v = int(ch)
        if i % 2 == 0:
            v *= 2
            v = v - 9 if v > 9 else v
        total += v
    return body + str((10 - total % 10) % 10)


def card(length=None):
    return luhn_complete(rng.choice(["622202", "621700", "622848", "436742", "625965", "601382"]),
                         length or rng.choice([16, 19]))


FULL = str.maketrans("0123456789", "０１２３４５６７８９")
MATH = str.maketrans("0123456789", "𝟎𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖𝟗")
CN = str.maketrans("0123456789", "零一二三四五六七八九")
CN_RADIO = str.maketrans("0123456789", "洞幺两三四五六拐八勾")


def group(s, sizes, sep):
    parts, i = [], 0
    for n in sizes:
        parts.append(s[i:i + n])
        i += n
    if i < len(s):
        parts.append(s[i:])
    return sep.join(parts)


# --- mobiles ---------------------------------------------------------------------------------
SEPS = [" ", "-", ".", "\u00a0", "\u3000", "\u2010", "\u2011", "\u2012", "\u2013", "\u2014", "\u2212",
        "\ufe63", "\uff0d", " - ", "\u200b"]
LEADS = ["客户手机{}，请回电", "联系电话：{}", "回电{}找值班员", "我的手机是{}，急", "电话{}，装置一直告警",
         "{} 这个号码能打通", "手机号码 {} 已核实", "请拨打{}联系现场", "报修人电话{}。", "留的号是{}"]
for sep in SEPS:
    m = mobile()
    shown = group(m, [3, 4, 4], sep)
    add("mobile", rng.choice(LEADS).format(shown), [shown])
for sizes in ([3, 4, 4], [3, 8], [4, 4, 3], [3, 3, 5], [1] * 11, [11]):
    m = mobile()
    shown = group(m, sizes, " ")
    add("mobile", rng.choice(LEADS).format(shown), [shown])
for conv, note in ((FULL, "全角"), (MATH, "数学字体")):
    for sizes in ([11], [3, 4, 4]):
        m = mobile()
        shown = group(m, sizes, "-").translate(conv)
        add("mobile", rng.choice(LEADS).format(shown), [shown])
for conv in (CN, CN_RADIO):
    for sizes in ([11], [3, 4, 4]):
        m = mobile()
        shown = group(m, sizes, " ").translate(conv)
        add("mobile", rng.choice(LEADS).format(shown), [shown])
m = mobile()
add("mobile", "手机幺" + m[1:].translate(CN).replace("零", "〇") + "，尽快", ["幺" + m[1:].translate(CN).replace("零", "〇")])
for prefix in ["+86 ", "+86-", "+86", "0086 ", "0086-", "86 ", "(+86)", "+86\u00a0", "０"]:
    m = mobile()
    shown = prefix + group(m, [3, 4, 4], rng.choice([" ", "-", ""]))
    add("mobile", rng.choice(LEADS).format(shown), [shown[len(prefix):] if prefix != "０" else shown])
for _ in range(6):
    m = mobile()
    add("mobile", rng.choice(LEADS).format("0" + m), ["0" + m])
for _ in range(8):
    m = mobile()
    add("mobile", f"{rng.choice(['联系人', '客户', '报修人'])}电话{m}，{rng.choice(['主变跳闸', '充电桩离线', '通道中断告警', '电能表黑屏'])}", [m])
m1, m2 = mobile(), mobile()
add("mobile", f"两个号码 {m1} {m2} 都可以", [m1, m2])
m1 = mobile()
add("mobile", f"电话：{m1[:3]}\u200b{m1[3:7]}\u200b{m1[7:]}", [m1[:3] + "\u200b" + m1[3:7] + "\u200b" + m1[7:]])
m1 = mobile()
m2 = mobile()
add("mobile", f"手机{m1}/备用{m2}", [m1, m2])

# --- landlines -------------------------------------------------------------------------------
AREAS = ["010", "021", "022", "0571", "0755", "0512", "0431", "0898", "0780", "0594"]
for i in range(24):
    area = rng.choice(AREAS)
    local = str(rng.randint(2, 9)) + digits(7 if len(area) == 3 else rng.choice([6, 7]))
    form = i % 8
    if form == 0:
        shown = f"{area}-{local}"
    elif form == 1:
        shown = f"({area}){local}"
    elif form == 2:
        shown = f"（{area}）{local}"
    elif form == 3:
        shown = f"{area} {local[:4]} {local[4:]}"
    elif form == 4:
        shown = f"{area}\u2014{local}"
    elif form == 5:
        shown = f"+86-{area[1:]}-{local}"
    elif form == 6:
        shown = f"{area}\u00a0{local}".translate(FULL)
    else:
        shown = f"{area}.{local}"
    lead = rng.choice(["座机{}", "办公室电话：{}", "固话{}，上班时间打", "联系电话 {} 转 801", "我是班长，手机{}"])
    add("landline", lead.format(shown), [shown])
for _ in range(4):
    area = rng.choice(["0571", "0755", "0512"])
    local = str(rng.randint(2, 9)) + digits(7)
    add("landline", f"电话{area}{local}", [area + local])

# --- identity cards --------------------------------------------------------------------------
for i in range(22):
    n = id18()
    form = i % 7
    if form == 0:
        shown = n
    elif form == 1:
        shown = group(n, [6, 8, 4], " ")
    elif form == 2:
        shown = group(n, [6, 8, 4], "-")
    elif form == 3:
        shown = n.translate(FULL)
    elif form == 4:
        shown = group(n, [6, 8, 4], "\u00a0")
    elif form == 5:
        shown = group(n, [3, 3, 4, 4, 4], " ")
    else:
        shown = group(n, [6, 8, 4], "\u3000")
    lead = rng.choice(["身份证号：{}", "证件号码 {} 已核验", "户主身份证{}，办过户", "{}是我的身份证", "客户提供身份证号{}"])
    add("id_card", lead.format(shown), [shown])
add("id_card", "身份证110105491231002", ["110105491231002"])
n = id18()
add("id_card", f"身份證號碼：{n}", [n])

# --- bank cards ------------------------------------------------------------------------------
for i in range(18):
    c = card()
    form = i % 6
    if form == 0:
        shown = c
    elif form == 1:
        shown = group(c, [4, 4, 4, 4], " ")
    elif form == 2:
        shown = group(c, [6], " ")
    elif form == 3:
        shown = group(c, [4, 4, 4, 4], "-")
    elif form == 4:
        shown = c.translate(FULL)
    else:
        shown = group(c, [4, 4, 4, 4], "\u00a0")
    lead = rng.choice(["退款银行卡{}", "卡号 {}", "请退到我的卡{}上", "开户行工行，账号 {}", "银行卡号：{}，户名本人"])
    add("bank_card", lead.format(shown), [shown])
# Letters glued to a card number do not make it something else.
for text in ["ABC6222021234567890128", "卡号abc6222021234567890128x", "NO6222021234567890128请退款"]:
    add("bank_card", text, ["6222021234567890128"])

# --- e-mail ----------------------------------------------------------------------------------
for local, domain in [("zhangwei", "example.com"), ("li.na", "corp.example.cn"), ("wang_fang88", "163.com"),
                      ("liu-yang", "qq.com"), ("chen.jie", "mail.example.org"), ("13812345678", "139.com")]:
    add("email", f"邮箱{local}@{domain}", [f"{local}@{domain}"])
    fw = f"{local}＠{domain}".translate(str.maketrans({c: chr(ord(c) + 0xFEE0) for c in "abcdefghijklmnopqrstuvwxyz0123456789._-"}))
    add("email", f"发票寄到{fw}，谢谢", [fw])
add("email", "邮箱：ｚｈａｏ．ｌｅｉ＠ｅｘａｍｐｌｅ．ｃｏｍ", ["ｚｈａｏ．ｌｅｉ＠ｅｘａｍｐｌｅ．ｃｏｍ"])
add("email", "联系邮箱 sun.li@example.com 或电话", ["sun.li@example.com"])

# --- account / meter numbers in context ------------------------------------------------------
for i in range(26):
    acct = digits(10)
    form = i % 13
    forms = [
        ("户号：{}", acct), ("户号码{}", acct), ("户号(用电)：{}", acct), ("户号（居民）{}", acct),
        ("户号，{}", acct), ("我家户号是 {}", acct), ("用电户号{}欠费", acct),
        ("户号：{}", group(acct, [4, 4], " ")), ("户号：{}", group(acct, [3, 3], "-")),
        ("客户编号 {}", acct), ("户号{}", acct.translate(FULL)), ("户号码：{}", acct.translate(CN)),
        ("戶號：{}", acct),
    ]
    tmpl, shown = forms[form]
    add("account", tmpl.format(shown) + rng.choice(["，停电了", "", " 查一下电费", "，缴费没到账"]), [shown])
for i in range(16):
    meter = digits(rng.choice([12, 14, 16]))
    form = i % 8
    forms = [
        ("表号：{}", meter), ("表号No.{}", meter), ("表号No:{}", meter), ("电能表号 {}", meter),
        ("表号，{}", meter), ("表号(资产号){}", meter), ("电能表资产编号：{}", "1130001" + digits(15)),
        ("表号：{}", group(meter, [4, 4, 4], " ")),
    ]
    tmpl, shown = forms[form]
    add("meter", tmpl.format(shown) + rng.choice(["无法抄读", "", "，屏幕不亮", " 走字快"]), [shown])
add("meter", "表号SN2023A0012345无法抄读", ["SN2023A0012345"])

# --- names -----------------------------------------------------------------------------------
NAMES = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "赵敏", "黄志强", "周建华", "吴秀兰", "徐涛", "孙丽",
         "马超", "朱红梅", "胡军", "郭晓东", "何平", "高原", "林娟", "罗刚", "欧阳明", "司马青", "郑志强", "谢婷"]
SURNAMES = ["张", "王", "李", "刘", "陈", "杨", "赵", "黄", "周", "吴", "邓", "程", "冯", "曹", "沈", "唐"]
name_templates = [
    ("联系人{}", "，电话稍后发"), ("联系人：{}", ""), ("联系人是{} ", "现场等着"), ("我是{}，", "变电站值班员"),
    ("我叫{}，", "家里停电了"), ("我是{}", "，手机打不通"), ("姓名：{}，", "报修电能表"), ("联系人 {}；", "明早到"),
]
for i, name in enumerate(NAMES):
    lead, tail = name_templates[i % len(name_templates)]
    add("name", lead.format(name) + tail, [name])
for i, s in enumerate(SURNAMES):
    title = ["师傅", "先生", "女士", "师傅", "先生", "女士", "小姐", "师傅"][i % 8]
    lead = ["找{}", "请{}回电", "{}刚才来过", "联系人{}", "{}说表坏了", "麻烦转告{}", "我是{}", "谢谢{}"][i % 8]
    add("name", lead.format(s + title), [s + title])
for s, t in [("周", "工"), ("吴", "经理"), ("于", "老师"), ("张", "站长"), ("胡", "班长"), ("冯", "主任")]:
    add("name", f"联系人{s}{t} 明天到", [s + t])
add("name", "张伟先生反映电表走字快", ["张伟"])

# --- addresses -------------------------------------------------------------------------------
ADDRS = ["南京市玄武区中山路18号", "杭州市西湖区文三路90号3幢502室", "幸福小区3栋2单元501", "城南镇李家村五组",
         "滨江路88号东方花园12幢", "建设路街道光明里7号", "青山区和平大道1024号", "桃源县漳江镇人民路45号",
         "成都市武侯区科华北路65号", "梅林一村12栋1205"]
addr_templates = ["地址：{}，停电一天了", "住在{}，楼道没电", "家住{}", "地址是{}，请派人", "收货地址：{}",
                  "我住{}，表箱烧了", "详细地址{}，户号不知道", "住址：{}"]
for i, a in enumerate(ADDRS):
    add("address", addr_templates[i % len(addr_templates)].format(a), [a])
for i, a in enumerate(ADDRS[:6]):
    add("address", addr_templates[(i + 3) % len(addr_templates)].format(a), [a])

# --- mixed sentences with things to keep -----------------------------------------------------
for _ in range(10):
    m = mobile()
    model = rng.choice(["GKB-931A", "GKT-712", "GKV-DC360", "GKA-2100", "GKZ-9100"])
    kv = rng.choice(["110kV", "35kV", "10kV", "220kV"])
    date = f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    add("mobile", f"{date} {kv}变电站{model}告警，联系人电话{m}", [m], [model, kv, date])

# --- traps: must stay as they are ------------------------------------------------------------
traps = [
    "年发电量15000000000千瓦时", "年发电量约15000000000 千瓦时", "装机容量1380000千瓦", "累计电量13800012345度",
    "合同金额13800000000元", "总投资15600000000元", "电量13912345678kWh",
    "ICCID 89860012345678901234", "物联网卡ICCID：8986011912345678901", "SIM卡号89860318000012345678",
    "iccid=8986041517170009876", "资产编号GKB-931A-2023-0001", "资产编号：GKA-2100-2019-0042", "资产编号GKT712-2020-0815",
    "出厂编号GKB1903D74967", "序列号GKB1903D74967，软件V2.3.1", "设备SN：GKV21A0345678", "出厂编号GKA2100A19071234",
    "工单号20230512001234", "工单号GD202305120031已派发", "工单编号：GD-2024-031245", "返修单号RMA2023051200017",
    "合同号GKHT-2019-0004", "合同编号GKHT-2021-0137，质保到2026-12-31", "订单号913812345678901",
    "GB/T 14285-2023 继电保护和安全自动装置技术规程", "DL/T 860 和 IEC 61850-7-4", "Q/GDW 1396-2012",
    "GB 50150-2016 交接试验标准", "DL/T 5136-2012", "GB/T 2887-2011",
    "110kV、220kV、500kV变电站", "10kV/0.4kV 配电变压器", "额定电流1250A，短路电流31.5kA", "额定容量 180000kVA",
    "0.5S级，电压互感器变比110/0.1", "CT变比600/5", "工频50Hz，额定电压380V",
    "2023-05-12 10:30:45 装置告警", "2023年5月12日13时", "20230512103045", "时间戳1684123456789", "时间戳 1684123456",
    "2024/11/30 08:15", "2025.06.30 到期", "检修时间 13:00-17:30",
    "版本V2.3.15，IP 192.168.10.138", "主站IP 10.138.12.345", "端口 2404 和 102", "MAC 00-1A-2B-3C-4D-5E",
    "型号GKB-931A，序列号SN2023A0012345", "GKV-DC360 360kW分体式群充系统", "GKP-TTU100 台区智能融合终端",
    "95598服务热线、400-820-8820", "拨打95598报修", "热线4008208820", "火警119，急救120",
    "账号admin密码admin123", "户号为空", "户号不知道，表号也没看到", "工作票编号20230512001", "操作票号2023-0512-0031",
    "1234567890", "6222021234567890123", "110105194912310021",
    "1380 1234 5678 9999", "208613812345678", "电阻值13.8123456欧", "坐标 东经113.2643851 北纬23.1290805",
    "师傅，主变一送电差动就跳了", "谢谢你们的师傅，服务很好", "王家坝变电站10kV出线", "李家村台区电压低",
    "我是供电所的，想问一下", "我是用户，家里跳闸了", "联系人信息已更新", "合同联系人一致才能查询",
    "请先生成报表再导出", "IP地址192.168.1.10不通", "NTP服务器地址配置错误", "通信地址或端口未放行",
    "地址设置不一致", "地址（西泉县）", "MAC地址冲突", "服务地址：https://kb.example.com/api",
    "张力放线施工", "高压开关柜", "周期性告警", "黄色预警", "方向过流保护", "马达保护器",
    "GKO-20 二次设备", "一二次设备联调", "三相四线电能表", "第一三八组电容器", "共计一二三四五",
    "0.2S级电能表 3×1.5(6)A", "变压器 SZ11-50000/110", "线路长度 13.8 公里", "负荷 138 MW",
    "编号 13-8123-4567", "规格 138×1234×5678mm", "抽检 138 台中 12 台不合格",
    # A labelled value that happens to pass Luhn stays, and so does a dated serial glued to letters.
    "出厂编号GK6222021234567890128", "序列号 SN6222021234567890128", "设备条码GKV2023051200012345",
]
for t in traps:
    add("trap", t)

# --- written after the detectors, measured once before any change (recall 0.80, precision 0.95) ---
HELD_OUT = [
    ('pii', '回拨电话：186 0571 2233', ['186 0571 2233']),
    ('pii', '手机：１５９－８８７７－６６５５', ['１５９－８８７７－６６５５']),
    ('pii', 'tel: +86 (0)21 6234 5678', ['6234 5678']),
    ('pii', '我老公的号码是一八六一二三四五六七八', ['一八六一二三四五六七八']),
    ('pii', '宅电 021-5888 6666', ['021-5888 6666']),
    ('pii', '电话 0755-2688 8888 转 8001', ['0755-2688 8888']),
    ('pii', '打这个135 1234 5678哈', ['135 1234 5678']),
    ('pii', '身份证后面是X的，号码 440304198808081238', ['440304198808081238']),
    ('pii', '银行卡6217 0012 3456 7890 122', ['6217 0012 3456 7890 122']),
    ('pii', '邮箱 wang.xiaoming@sgcc.com.cn', ['wang.xiaoming@sgcc.com.cn']),
    ('pii', '户 号：3205123456', ['3205123456']),
    ('pii', '电费户号3205123456，表号2340001234567', ['3205123456', '2340001234567']),
    ('pii', '联系人：欧阳娜娜，13512345678', ['欧阳娜娜', '13512345678']),
    ('pii', '张女士电话13800001111', ['张女士', '13800001111']),
    ('pii', '找一下王工程师', ['王工程师']),
    ('pii', '家住城北区建设新村12号楼3单元402', ['建设新村12号楼3单元402']),
    ('pii', '地址在解放路288号', ['解放路288号']),
    ('pii', '麻烦李师傅明天上午来一趟', ['李师傅']),
    ('pii', '收件人：赵小军', ['赵小军']),
    ('pii', '客户刘建国反映电表走字快', ['刘建国']),
    ('pii', '我的微信号是wxid_13812345678', ['13812345678']),
    ('pii', '座机号码（0571）8888 6666', ['8888 6666']),
    ('trap', '110kV 母线电压 115.5kV', []),
    ('trap', '电量 1380 万千瓦时', []),
    ('trap', '序列号 GKB2309A12345', []),
    ('trap', '工单 GD2025-0612-0031', []),
    ('trap', 'ICCID：89860 12345 67890 12345', []),
    ('trap', '合同 GKHT-2024-0108 已签', []),
    ('trap', '标准 DL/T 634.5104-2009', []),
    ('trap', '2025年6月12日 14:30', []),
    ('trap', '主变容量 2×180MVA', []),
    ('trap', '坐标 30.2741, 120.1551', []),
    ('trap', '师傅您好，开关柜温度高', []),
    ('trap', '王家营变电站', []),
    ('trap', '李村站 10kV 线路', []),
    ('trap', '请先生成工单', []),
    ('trap', '地址码 0x1A2B', []),
    ('trap', '通信地址 192.168.0.10', []),
    ('trap', '共 13812 台', []),
    ('trap', '版本号 V1.3.8.1234', []),
    ('trap', '电话会议 14:00', []),
    ('trap', '电话 95598', []),
    ('trap', '保护动作时间 0.035 秒', []),
    ('trap', '订单 2025061200012345678', []),
    ('trap', '采集终端地址 123456789012', []),
    ('trap', '测量值 13912.345678', []),
    ('trap', '设备运行 18600 小时', []),
    ('trap', '报文 68 13 00 00 00 68', []),
    ('trap', 'GPS 时钟 1575.42MHz', []),
    ('trap', '电能表常数 1600imp/kWh', []),
]
for kind, text, pii in HELD_OUT:
    add("held_out" if kind == "pii" else "trap", text, pii)

print("\n".join(json.dumps(r, ensure_ascii=False) for r in out))
