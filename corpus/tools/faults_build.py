# -*- coding: utf-8 -*-
"""Turn the hand-written faults (faults_*.py) into Fault / Cause / Solution entities and
technical-point items; then the hand-written item modules (items_*.py)."""
import importlib, os, glob
import fdef

LINE_KEYS = {
    "line": "pl-line-protection", "xfmr": "pl-transformer-protection", "bus": "pl-busbar-protection",
    "feeder": "pl-feeder-protection", "bcu": "pl-bay-control", "mu": "pl-merging-unit",
    "it": "pl-smart-terminal", "scada": "pl-substation-monitoring", "gw": "pl-telecontrol-gateway",
    "master": "pl-dispatch-master", "dt": "pl-distribution-terminal", "acq": "pl-acquisition-terminal",
    "meter": "pl-smart-meter", "ev": "pl-ev-charger", "pv": "pl-pv-inverter", "pcs": "pl-storage-pcs",
    "om": "pl-online-monitoring", "rec": "pl-fault-recorder", "ts": "pl-time-sync",
    "nsm": "pl-network-security-monitor", "ve": "pl-vertical-encryption", "bzt": "pl-auto-transfer",
    "dc": "pl-dc-power",
}
# owners of technical points, rotated deterministically
OWNERS = [
    ("华东某省电力公司客户服务中心", "province"), ("某电气设备有限公司技术服务部", "hq"),
    ("某市供电公司变电运维中心", "city"), ("某省电力科学研究院二次技术室", "province"),
    ("某市供电公司调度控制中心", "city"), ("某县供电公司运维检修部", "county"),
    ("某电气设备有限公司华北服务站", "hq"), ("某省新能源运维公司", "province"),
]


TITLE_SUFFIX = ["：现象、检查与处理", "的原因分析与处理步骤", "的排查方法与处置", "：故障判断与处理要点"]
SHORT = {
    "pl-line-protection": "线路保护", "pl-transformer-protection": "主变保护", "pl-busbar-protection": "母线保护",
    "pl-feeder-protection": "中低压保护", "pl-bay-control": "测控", "pl-merging-unit": "合并单元",
    "pl-smart-terminal": "智能终端", "pl-substation-monitoring": "监控后台", "pl-telecontrol-gateway": "远动网关机",
    "pl-dispatch-master": "调度主站", "pl-distribution-terminal": "配电终端", "pl-acquisition-terminal": "采集终端",
    "pl-smart-meter": "智能电表", "pl-ev-charger": "充电桩", "pl-pv-inverter": "光伏逆变器", "pl-storage-pcs": "储能PCS",
    "pl-online-monitoring": "在线监测", "pl-fault-recorder": "故障录波", "pl-time-sync": "时间同步",
    "pl-network-security-monitor": "网安监测", "pl-vertical-encryption": "纵向加密", "pl-auto-transfer": "备自投",
    "pl-dc-power": "直流电源",
}


def pid(tok):
    if tok in LINE_KEYS:
        return LINE_KEYS[tok]
    if tok.startswith("GK"):
        return "pm-" + tok.lower()
    if tok.startswith(("pl-", "pm-", "comp-")):
        return tok
    raise KeyError(f"unknown product token {tok}")


def load_modules(pattern):
    here = os.path.dirname(os.path.abspath(__file__))
    mods = []
    for path in sorted(glob.glob(os.path.join(here, pattern))):
        name = os.path.splitext(os.path.basename(path))[0]
        mods.append(importlib.import_module(name))
    return mods


def build(write_jsonl, source):
    load_modules("faults_*.py")
    faults, causes, sols, tps = [], {}, {}, []
    seen = set()
    for i, f in enumerate(fdef.FAULTS):
        fid = "f-" + f["fid"]
        assert fid not in seen, fid
        seen.add(fid)
        prods = []
        for t in f["products"]:
            p = pid(t)
            if p not in prods:
                prods.append(p)
        cids = ["cause-" + c for c, _ in f["causes"]]
        sids = ["sol-" + s for s, _ in f["sols"]]
        for (c, lab) in f["causes"]:
            e = causes.setdefault("cause-" + c, {"class": "Cause", "id": "cause-" + c, "label": lab,
                                                   "links": {"fault": []}})
            e["links"]["fault"].append(fid)
        for (s, lab) in f["sols"]:
            e = sols.setdefault("sol-" + s, {"class": "Solution", "id": "sol-" + s, "label": lab,
                                               "links": {"fault": []}})
            e["links"]["fault"].append(fid)
        faults.append({"class": "Fault", "id": fid, "label": f["label"],
                       "aliases": [a for a in dict.fromkeys(f["aliases"]) if a != f["label"]],
                       "links": {"product": prods, "cause": cids, "solution": sids},
                       "attrs": {"symptom_customer": f["cust"], "symptom_engineer": f["eng"],
                                 "severity": f["sev"]}})
        owner, level = OWNERS[i % len(OWNERS)]
        short = [SHORT[p] for p in prods if p in SHORT][:3]
        ctx = f"（{'、'.join(short)}）" if short else ""
        title = f["title"] or f"{f['label']}{TITLE_SUFFIX[i % len(TITLE_SUFFIX)]}{ctx}"
        body = f["tp"]
        if "可能原因" not in body:
            body += "\n\n**可能原因汇总**：" + "；".join(lab for _, lab in f["causes"]) + "。"
        if "处理措施" not in body:
            body += "\n**对应处理措施**：" + "；".join(lab for _, lab in f["sols"]) + "。"
        item = {"id": f"kb-tp-{f['fid']}-01", "kind": "technical_point", "title": title,
                "body": body, "products": prods, "faults": [fid] + cids + sids,
                "category": "fault_repair", "tags": ["故障处理", f["label"]],
                "owner": owner, "owner_level": level, "status": "published", "version": 1,
                "source": source}
        if f["cites"]:
            item["cites"] = f["cites"]
        tps.append(item)
        if f["selfcheck"]:
            owner2, level2 = OWNERS[(i + 3) % len(OWNERS)]
            tps.append({"id": f"kb-tp-{f['fid']}-02", "kind": "technical_point",
                        "title": f"{f['label']}：坐席电话指导客户自查要点",
                        "body": f["selfcheck"] + f"\n\n客户常见说法：“{f['cust']}”。工程师描述：{f['eng']}。"
                                + f"\n派单提示：自查后仍未恢复的，按“{f['label']}”建立故障报修工单，参考缺陷等级：{f['sev']}。", "products": prods, "faults": [fid],
                        "category": "fault_repair", "tags": ["电话指导", "客户自查", f["label"]],
                        "owner": owner2, "owner_level": level2, "status": "published", "version": 1,
                        "source": source})
    from data_cause_types import CAUSE_TYPE
    missing = [c for c in causes if c[len("cause-"):] not in CAUSE_TYPE]
    assert not missing, f"causes without a type: {missing}"
    for cid, e in causes.items():
        e["attrs"] = {"type": CAUSE_TYPE[cid[len("cause-"):]]}
    import data_products as P
    from data_fault_components import FAULT_COMPONENTS
    spec = {L["id"]: L["attrs"]["speciality"] for L in P.LINES}
    model_line = {"pm-" + M["code"].lower(): L["id"] for L in P.LINES for M in L["models"]}
    line_comps = {L["id"]: {c[0]: f"comp-{L['attrs']['prefix'].lower()}-{c[0]}" for c in L["components"]}
                  for L in P.LINES}
    fids = {e["id"] for e in faults}
    assert all("f-" + k in fids for k in FAULT_COMPONENTS), [k for k in FAULT_COMPONENTS if "f-" + k not in fids]
    for e in faults:
        slugs = FAULT_COMPONENTS.get(e["id"][2:], [])
        lines = []
        for p in e["links"]["product"]:
            l = p if p.startswith("pl-") else model_line.get(p)
            if l and l not in lines:
                lines.append(l)
        comps = [line_comps[l][s] for l in lines for s in slugs if s in line_comps[l]]
        if comps:
            e["links"]["component"] = comps
    for e in faults:
        lines = [p for p in e["links"]["product"] if p.startswith("pl-")]
        e["attrs"]["speciality"] = sorted({spec[l] for l in lines}) if lines else []
    write_jsonl("entities/faults.jsonl", faults)
    write_jsonl("entities/causes.jsonl", sorted(causes.values(), key=lambda e: e["id"]))
    write_jsonl("entities/solutions.jsonl", sorted(sols.values(), key=lambda e: e["id"]))
    write_jsonl("items/technical_points_faults.jsonl", tps)
    # hand-written item modules: each exposes ITEMS (list of dicts) and FILE (output name)
    for m in load_modules("items_*.py"):
        recs = []
        for it in m.ITEMS:
            r = dict(it)
            r.setdefault("status", "published")
            r.setdefault("version", 1)
            r.setdefault("source", source)
            if "products" in r:
                r["products"] = [pid(t) for t in r["products"]]
            recs.append(r)
        write_jsonl("items/" + m.FILE, recs)
