# -*- coding: utf-8 -*-
"""Product documents: one per product line (hand-written introduction and typical
configuration) and two per model (overview with hardware composition; parameter sheet).
Overviews and parameters are the hand-written data in data_products.py."""
import data_products as P
from data_typical import TYPICAL

FILE = "product_docs.jsonl"
OWN = ("某电气设备有限公司产品管理部", "hq")

LINE_INTRO = {
 "pl-line-protection": "线路保护是输电线路的第一道防线。本系列覆盖35kV至500kV：超高压线路以分相电流差动为主保护、双重化配置（两套不同通道的独立保护）；110kV线路以阶段式距离和零序为主；35kV及以下采用保护测控一体化装置。典型配置：220kV线路两面屏，每屏一套GKB-931A（或智能站GKB-931B），A套走专用光纤、B套走复用2M通道。",
 "pl-transformer-protection": "变压器保护集差动、后备和非电量保护于一体。220kV主变按双重化配置两套电量保护和一套非电量保护；110kV主变一般为主后一体装置加独立非电量保护。选型时需提供主变容量、接线组别、各侧电压和CT变比，用于定值平衡系数计算。",
 "pl-busbar-protection": "母线保护决定母线故障时能否快速、有选择地切除故障母线，同时承担断路器失灵保护。220kV母线按双重化配置。工程设计需提供主接线、支路数量、各支路CT变比和刀闸位置接入方式。",
 "pl-feeder-protection": "中低压保护测控装置用于6kV～35kV馈线、电容器、电动机、站用变等，分散安装在开关柜上，通过站控层网络接入监控系统。选型按间隔类型选择对应型号，同一站内宜统一系列以便维护和备件通用。",
 "pl-bay-control": "测控装置完成一个间隔或一组公用信号的“四遥”（遥测、遥信、遥控、遥调）和联闭锁，是监控系统与一次设备之间的桥梁。常规站用GKC-630，智能站用GKC-631A，公用信号和主变本体用GKC-632。",
 "pl-merging-unit": "合并单元是智能变电站过程层的采样设备，把互感器的模拟量变换成同步的数字采样值（SV），供保护、测控、计量、录波共用。可靠的时间同步和稳定的额定延时是其关键指标。",
 "pl-smart-terminal": "智能终端是智能变电站过程层的执行和采集设备，接收保护和测控的GOOSE命令控制断路器、刀闸，并把一次设备位置和告警以GOOSE上送，就地安装在户外智能控制柜内。",
 "pl-substation-monitoring": "变电站监控系统（后台）为运行人员提供全站监视和控制，包括画面、告警、SOE、遥控、防误闭锁、报表等；智能站版本增加一键顺控、智能告警和源端维护。",
 "pl-telecontrol-gateway": "数据通信网关机（远动）负责变电站与调度主站之间的数据交换：I区网关机传实时数据和遥控，II区网关机传保护信息、录波和非实时数据；通信管理机用于小型站点的规约转换。",
 "pl-dispatch-master": "调度自动化主站系统为调度员提供电网实时监视、控制和分析，包括SCADA、前置采集、网络分析、AVC和配网自动化等功能，按安全分区部署在生产控制大区和管理信息大区。",
 "pl-distribution-terminal": "配电自动化终端安装在配电网现场，实现开关的监视与控制和故障检测，与主站配合完成馈线自动化。DTU用于环网柜和开闭所，FTU用于柱上开关，TTU/融合终端用于配电台区。",
 "pl-acquisition-terminal": "用电信息采集终端负责抄读电能表数据并上传采集主站，支撑电费结算、线损分析和费控。公变台区用集中器，小台区用II型集中器，专变用户用专变采集终端。",
 "pl-smart-meter": "智能电能表除计量外还具备费控、分时计量、事件记录、远程通信等功能，按准确度和接线方式分为单相、三相和关口表。电能表是贸易结算器具，其检定和更换按计量法规执行。",
 "pl-ev-charger": "电动汽车充电设备包括交流桩、一体式直流桩和分体式群充系统，接入运营平台实现扫码充电、计费和远程运维，执行电动汽车传导充电系列国家标准。",
 "pl-pv-inverter": "光伏逆变器把光伏组件的直流电转换为交流电并网，同时承担MPPT、绝缘与漏电保护、防孤岛和电网支撑。组串式用于工商业和户用，集中式用于大型地面电站。",
 "pl-storage-pcs": "储能变流器是电池与电网之间的双向功率变换设备，接受EMS调度实现充放电、调峰调频和离网供电，需与BMS紧密配合以保护电池安全。",
 "pl-online-monitoring": "变电设备在线监测装置对变压器油中溶解气体、GIS局部放电、避雷器泄漏电流等状态量进行连续监测，为状态检修提供依据，数据经II区上送监测主站。",
 "pl-fault-recorder": "故障录波装置记录电网故障前后的电压、电流和开关量，是事故分析的核心依据；网络报文记录分析一体化装置还记录智能站过程层和站控层报文。",
 "pl-time-sync": "时间同步装置为站内所有二次设备提供统一的时间基准，保证SOE、录波和合并单元采样的时间一致，主时钟以北斗为主、GPS为辅，配合扩展装置覆盖全站。",
 "pl-network-security-monitor": "网络安全监测装置采集厂站和主站内主机、网络设备和安防设备的安全事件，进行本地分析并上报网络安全管理平台，是电力监控系统安全防护体系的感知环节。",
 "pl-vertical-encryption": "纵向加密认证装置部署在生产控制大区与调度数据网的边界，为纵向业务提供双向身份认证、数据加密和访问控制，是“纵向认证”原则的落实设备。",
 "pl-auto-transfer": "备用电源自动投入装置在工作电源失电后自动投入备用电源，提高供电可靠性，广泛用于110kV及以下变电站和重要用户的双电源系统。",
 "pl-dc-power": "站用直流电源系统为保护、控制、信号和断路器操作提供不间断直流电源，由充电装置、蓄电池组、绝缘监测和馈线组成，是二次系统的“心脏”。",
}


KEY_CN = {
    "voltage": "电压等级", "principle": "保护原理", "channel": "纵联通道", "smart_sub": "智能变电站", "bays": "支路数",
    "wiring": "主接线", "windings": "绕组", "application": "应用场合", "di": "开入", "do": "开出", "sampling": "采样率",
    "protocol": "采样值协议", "action_time": "出口动作时间", "os": "操作系统", "db": "数据库", "functions": "主要功能",
    "zone": "部署安全区", "protocols": "规约", "level": "调度层级", "intervals": "间隔数", "local": "本地通信",
    "control": "控制功能", "class": "准确度等级", "phase": "接线", "cost_control": "费控", "power": "额定功率",
    "output": "输出", "standard": "执行标准", "terminals": "终端数", "mppt": "MPPT路数", "max_dc": "最大直流电压",
    "dc_range": "直流电压范围", "gases": "检测气体", "band": "检测频带", "measure": "监测量", "channels": "通道",
    "ports": "采集口", "sources": "时间源", "holdover": "守时", "input": "输入", "type": "类型",
    "throughput": "吞吐量", "crypto": "密码算法", "modes": "备投方式", "dc": "直流电压", "battery": "蓄电池",
    "integrated": "集成功能",
}


def items():
    out = []
    for L in P.LINES:
        models = "；".join(f"{M['code']}（{M['label'].split(' ', 1)[1]}）" for M in L["models"])
        comps = "、".join(c[1] for c in L["components"])
        body = (LINE_INTRO[L["id"]] + f"\n\n**本系列型号**：{models}。\n**主要部件**：{comps}。"
                + f"\n**常见叫法**：{'、'.join(L['aliases'])}。")
        out.append({"id": f"kb-pd-{L['id'][3:]}", "kind": "product_doc",
                    "title": f"{L['label']}产品系列介绍与典型配置", "body": body,
                    "products": [L["id"]], "category": "consultation",
                    "tags": ["产品介绍", L["label"]], "owner": OWN[0], "owner_level": OWN[1]})
        for M in L["models"]:
            mid = "pm-" + M["code"].lower()
            smart = M["attrs"].get("smart_sub") == "专用"
            hw = "、".join(c[1] for c in L["components"]
                          if not (smart and c[0] in {"ac", "bio", "trip", "nonelec"})
                          and not (not smart and c[3].get("smart_only")))
            alias = "、".join(M["aliases"][:5])
            body = M["overview"] + f"\n\n**硬件组成**：{hw}。\n**现场常见叫法**：{alias}。"
            out.append({"id": f"kb-pd-{M['code'].lower()}-overview", "kind": "product_doc",
                        "title": f"{M['label']} 产品概述", "body": body,
                        "products": [mid, L["id"]], "category": "consultation",
                        "tags": ["产品概述", M["code"]], "owner": OWN[0], "owner_level": OWN[1]})
            rows = "\n".join(f"| {k} | {v} |" for k, v in M["params"].items())
            extra = "；".join(f"{KEY_CN[k]}：{v}" for k, v in M["attrs"].items() if isinstance(v, str))
            body = (f"{M['code']} 主要技术参数与接口（以出厂技术说明书为准，不同订货配置可能不同）：\n\n"
                    f"| 参数 | 数值 |\n|---|---|\n{rows}\n\n**适用范围**：{extra}。\n\n{TYPICAL[M['code']]}")
            out.append({"id": f"kb-pd-{M['code'].lower()}-params", "kind": "product_doc",
                        "title": f"{M['code']} 技术参数与接口", "body": body,
                        "products": [mid], "category": "consultation",
                        "tags": ["技术参数", M["code"]], "owner": OWN[0], "owner_level": OWN[1]})
    return out


ITEMS = items()
