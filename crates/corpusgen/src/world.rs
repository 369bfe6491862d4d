//! The fictional world the cases happen in: service organisation, customers, contracts, devices.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use store::{Entity, EntityClass, OrgLevel};

use crate::authored::Authored;
use crate::names::*;
use crate::rng::Rng;
use calendar::Date;

/// Name of the (fictional) equipment maker whose service centre owns the corpus.
pub const COMPANY: &str = "某电气设备有限公司";

#[derive(Debug, Clone)]
pub struct Region {
    pub province: usize,
    pub city: Option<usize>,
    pub county: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct Org {
    pub id: String,
    pub label: String,
    pub level: OrgLevel,
    pub parent: Option<String>,
    pub region_name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomerKind {
    Utility,
    PvPlant,
    WindPlant,
    HydroPlant,
    ThermalPlant,
    Enterprise,
    Hospital,
    DataCentre,
    Rail,
    ChargingOperator,
    Park,
}

impl CustomerKind {
    pub fn zh(self) -> &'static str {
        match self {
            CustomerKind::Utility => "供电企业",
            CustomerKind::PvPlant => "光伏电站",
            CustomerKind::WindPlant => "风电场",
            CustomerKind::HydroPlant => "水电站",
            CustomerKind::ThermalPlant => "火电厂",
            CustomerKind::Enterprise => "工业企业",
            CustomerKind::Hospital => "医院",
            CustomerKind::DataCentre => "数据中心",
            CustomerKind::Rail => "轨道交通",
            CustomerKind::ChargingOperator => "充电运营商",
            CustomerKind::Park => "园区与商业综合体",
        }
    }

    /// Product lines this kind of customer buys, with weights.
    fn lines(self, level: OrgLevel) -> &'static [(&'static str, u32)] {
        match (self, level) {
            (CustomerKind::Utility, OrgLevel::Province | OrgLevel::Hq) => &[
                ("pl-dispatch-master", 4),
                ("pl-line-protection", 3),
                ("pl-busbar-protection", 2),
                ("pl-transformer-protection", 2),
                ("pl-fault-recorder", 2),
                ("pl-time-sync", 2),
                ("pl-network-security-monitor", 2),
                ("pl-vertical-encryption", 2),
                ("pl-online-monitoring", 2),
                ("pl-substation-monitoring", 1),
                ("pl-telecontrol-gateway", 1),
                ("pl-merging-unit", 1),
                ("pl-smart-terminal", 1),
            ],
            (CustomerKind::Utility, OrgLevel::City) => &[
                ("pl-line-protection", 2),
                ("pl-transformer-protection", 2),
                ("pl-busbar-protection", 1),
                ("pl-bay-control", 2),
                ("pl-merging-unit", 2),
                ("pl-smart-terminal", 2),
                ("pl-substation-monitoring", 2),
                ("pl-telecontrol-gateway", 2),
                ("pl-distribution-terminal", 2),
                ("pl-fault-recorder", 1),
                ("pl-time-sync", 1),
                ("pl-network-security-monitor", 1),
                ("pl-vertical-encryption", 1),
                ("pl-dc-power", 1),
                ("pl-auto-transfer", 1),
                ("pl-online-monitoring", 1),
                ("pl-acquisition-terminal", 1),
                ("pl-smart-meter", 1),
                ("pl-ev-charger", 1),
                ("pl-dispatch-master", 1),
            ],
            (CustomerKind::Utility, OrgLevel::County) => &[
                ("pl-feeder-protection", 3),
                ("pl-distribution-terminal", 3),
                ("pl-acquisition-terminal", 3),
                ("pl-smart-meter", 3),
                ("pl-dc-power", 1),
                ("pl-bay-control", 1),
                ("pl-telecontrol-gateway", 1),
                ("pl-auto-transfer", 1),
                ("pl-substation-monitoring", 1),
                ("pl-time-sync", 1),
                ("pl-ev-charger", 1),
            ],
            (CustomerKind::PvPlant, _) => &[
                ("pl-pv-inverter", 5),
                ("pl-storage-pcs", 2),
                ("pl-telecontrol-gateway", 2),
                ("pl-line-protection", 1),
                ("pl-transformer-protection", 1),
                ("pl-time-sync", 1),
                ("pl-network-security-monitor", 1),
                ("pl-vertical-encryption", 1),
                ("pl-fault-recorder", 1),
                ("pl-dc-power", 1),
                ("pl-bay-control", 1),
                ("pl-smart-meter", 1),
            ],
            (CustomerKind::WindPlant | CustomerKind::HydroPlant | CustomerKind::ThermalPlant, _) => &[
                ("pl-line-protection", 2),
                ("pl-transformer-protection", 2),
                ("pl-busbar-protection", 1),
                ("pl-bay-control", 1),
                ("pl-telecontrol-gateway", 2),
                ("pl-fault-recorder", 1),
                ("pl-time-sync", 1),
                ("pl-network-security-monitor", 1),
                ("pl-vertical-encryption", 1),
                ("pl-dc-power", 1),
                ("pl-online-monitoring", 1),
                ("pl-storage-pcs", 1),
                ("pl-substation-monitoring", 1),
            ],
            (CustomerKind::Enterprise | CustomerKind::Rail, _) => &[
                ("pl-feeder-protection", 3),
                ("pl-transformer-protection", 1),
                ("pl-auto-transfer", 2),
                ("pl-dc-power", 2),
                ("pl-smart-meter", 2),
                ("pl-substation-monitoring", 1),
                ("pl-storage-pcs", 1),
                ("pl-ev-charger", 1),
                ("pl-online-monitoring", 1),
                ("pl-acquisition-terminal", 1),
            ],
            (CustomerKind::Hospital | CustomerKind::DataCentre, _) => &[
                ("pl-auto-transfer", 3),
                ("pl-feeder-protection", 2),
                ("pl-dc-power", 2),
                ("pl-smart-meter", 1),
                ("pl-storage-pcs", 1),
                ("pl-online-monitoring", 1),
                ("pl-substation-monitoring", 1),
            ],
            (CustomerKind::ChargingOperator, _) => {
                &[("pl-ev-charger", 6), ("pl-smart-meter", 1), ("pl-storage-pcs", 1)]
            }
            (CustomerKind::Park, _) => &[
                ("pl-ev-charger", 2),
                ("pl-storage-pcs", 2),
                ("pl-pv-inverter", 2),
                ("pl-feeder-protection", 1),
                ("pl-smart-meter", 1),
                ("pl-distribution-terminal", 1),
            ],
        }
    }
}

#[derive(Debug, Clone)]
pub struct Customer {
    pub id: String,
    pub name: String,
    pub short: String,
    pub kind: CustomerKind,
    pub level: OrgLevel,
    pub region: Region,
    pub tags: Vec<&'static str>,
    pub lines: Vec<(String, u32)>,
    pub sites: Vec<String>,
    pub org: String,
    pub parent: Option<String>,
    pub contracts: Vec<usize>,
}

#[derive(Debug, Clone)]
pub struct Contract {
    pub id: String,
    pub number: String,
    pub customer: usize,
    pub kind: &'static str,
    pub signed: Date,
    pub delivered: Date,
    pub warranty_start: Date,
    pub warranty_end: Date,
    pub months: i64,
    /// (model id, quantity)
    pub lines: Vec<(String, u32)>,
    pub devices: Vec<usize>,
    pub amount_wan: u32,
    pub response: &'static str,
}

#[derive(Debug, Clone)]
pub struct Device {
    pub id: String,
    pub serial: String,
    pub model: String,
    pub contract: usize,
    pub customer: usize,
    pub site: String,
    pub commissioned: Date,
    pub firmware: String,
}

/// Everything the cases and tickets draw on.
#[derive(Debug)]
pub struct World {
    pub provinces: Vec<String>,
    pub cities: Vec<Vec<String>>,
    pub counties: Vec<Vec<Vec<String>>>,
    pub orgs: Vec<Org>,
    pub customers: Vec<Customer>,
    pub contracts: Vec<Contract>,
    pub devices: Vec<Device>,
    pub devices_by_model: BTreeMap<String, Vec<usize>>,
    /// The scale the world was built at (1 ..= [`MAX_SCALE`]).
    pub scale: usize,
}

const CITIES_PER_PROVINCE: usize = 5;
const COUNTIES_PER_CITY: usize = 4;
/// Contracts per customer drawn from this range; at least `MIN_CONTRACTS` overall (times the scale).
pub const MIN_CONTRACTS: usize = 1_200;
/// The largest scale factor of the world (and of the generated corpus).
pub const MAX_SCALE: usize = 10;

/// The width of a zero-padded number that counts up to about `count`: `min` digits, more when
/// `count` needs them (ids keep one width within a corpus, so they sort as they count).
pub fn id_width(min: usize, count: usize) -> usize {
    min.max(count.max(1).ilog10() as usize + 1)
}

fn warranty_months(line: &str, frame: bool) -> i64 {
    match line {
        "pl-pv-inverter" => 60,
        "pl-storage-pcs" | "pl-dispatch-master" | "pl-substation-monitoring" | "pl-smart-meter" => 36,
        "pl-acquisition-terminal" | "pl-distribution-terminal" | "pl-online-monitoring" | "pl-dc-power" => 36,
        "pl-ev-charger" => 24,
        _ if frame => 36,
        _ => 24,
    }
}

/// Lines sold in batches (many units per contract; a few serials are recorded as samples).
fn bulk_line(line: &str) -> bool {
    matches!(line, "pl-smart-meter" | "pl-acquisition-terminal" | "pl-distribution-terminal" | "pl-ev-charger")
}

/// Cities per province at each scale (index `scale − 1`): the square root of the scale times
/// five, so that a bigger world has both more cities and more counties per city.
const CITIES_PER_PROVINCE_AT_SCALE: [usize; MAX_SCALE] = [5, 7, 9, 10, 11, 12, 13, 14, 15, 16];
/// The least number of counties a city has in a scaled-up world.
const MIN_COUNTIES_PER_CITY: usize = 2;

/// Province names; city names by province; county names by province and city.
type Geography = (Vec<String>, Vec<Vec<String>>, Vec<Vec<Vec<String>>>);

/// Province, city and county names of a world of `scale` (1 ..= `MAX_SCALE`).
///
/// At scale 1: 6 provinces of 5 cities of 4 counties, drawn exactly as the committed corpus was.
/// Above it the provinces stay the same six and fill up: more cities per province
/// ([`CITIES_PER_PROVINCE_AT_SCALE`]) and `20 × scale` counties per province, spread unevenly
/// over its cities, named from a larger pool of county syllables.
pub(crate) fn geography(seed: u64, scale: usize) -> Geography {
    assert!((1..=MAX_SCALE).contains(&scale), "scale {scale} outside 1..={MAX_SCALE}");
    let mut rng = Rng::derive(seed, "geography", 0);
    let provinces: Vec<String> = PROVINCES.iter().map(|p| format!("{p}省")).collect();
    let mut city_firsts: Vec<&str> = CITY_FIRST.to_vec();
    rng.shuffle(&mut city_firsts);
    let mut cities = Vec::new();
    let mut counties = Vec::new();
    let (firsts, seconds) = if scale == 1 {
        (COUNTY_FIRST.to_vec(), COUNTY_SECOND.to_vec())
    } else {
        ([COUNTY_FIRST, COUNTY_FIRST_MORE].concat(), [COUNTY_SECOND, COUNTY_SECOND_MORE].concat())
    };
    let mut county_pool: Vec<String> =
        firsts.iter().flat_map(|a| seconds.iter().map(move |b| format!("{a}{b}"))).collect();
    rng.shuffle(&mut county_pool);
    let cities_per_province = CITIES_PER_PROVINCE_AT_SCALE[scale - 1];
    // How many counties each city of each province has: 4 each at scale 1 (no draw, so the
    // committed corpus stays as it is), else `20 × scale` per province spread at random.
    let mut spread = Rng::derive(seed, "geography-scale", scale as u64);
    let county_counts: Vec<Vec<usize>> = (0..provinces.len())
        .map(|_| {
            if scale == 1 {
                return vec![COUNTIES_PER_CITY; cities_per_province];
            }
            let total = COUNTIES_PER_CITY * CITIES_PER_PROVINCE * scale;
            let mut counts = vec![MIN_COUNTIES_PER_CITY; cities_per_province];
            for _ in 0..total - MIN_COUNTIES_PER_CITY * cities_per_province {
                counts[spread.below(cities_per_province)] += 1;
            }
            counts
        })
        .collect();
    let needed: usize = county_counts.iter().flatten().sum();
    assert!(needed <= county_pool.len(), "{needed} counties but {} county names", county_pool.len());
    let mut used_cities = BTreeSet::new();
    let mut next_county = 0;
    for p in 0..provinces.len() {
        let mut pc = Vec::new();
        let mut pcounties = Vec::new();
        for c in 0..cities_per_province {
            let first = city_firsts[(p * cities_per_province + c) % city_firsts.len()];
            // A first character serves several cities only in a scaled-up world; a name is
            // drawn again until it is new (at scale 1 the first draw always is).
            let name = loop {
                let name = format!("{first}{}", rng.pick(CITY_SECOND));
                if used_cities.insert(name.clone()) {
                    break name;
                }
            };
            pc.push(name);
            let mut cc = Vec::new();
            for _ in 0..county_counts[p][c] {
                let suffix = if rng.chance(0.7) { "县" } else { "区" };
                cc.push(format!("{}{suffix}", county_pool[next_county]));
                next_county += 1;
            }
            pcounties.push(cc);
        }
        cities.push(pc);
        counties.push(pcounties);
    }
    (provinces, cities, counties)
}

impl World {
    /// The world of `scale` (1 ..= [`MAX_SCALE`]): at scale N about N times the regions,
    /// customers, contracts and devices of scale 1, which is the committed corpus's world.
    pub fn build(seed: u64, corpus_date: Date, authored: &Authored, scale: usize) -> World {
        let (provinces, cities, counties) = geography(seed, scale);

        let mut world = World {
            provinces,
            cities,
            counties,
            orgs: Vec::new(),
            customers: Vec::new(),
            contracts: Vec::new(),
            devices: Vec::new(),
            devices_by_model: BTreeMap::new(),
            scale,
        };
        world.build_orgs();
        world.build_customers(seed);
        world.build_contracts(seed, corpus_date, authored);
        world
    }

    pub fn org_id(region: &Region) -> String {
        let mut id = format!("org-p{:02}", region.province + 1);
        if let Some(c) = region.city {
            id.push_str(&format!("-c{:02}", c + 1));
        }
        if let Some(x) = region.county {
            id.push_str(&format!("-x{:02}", x + 1));
        }
        id
    }

    pub fn region_name(&self, region: &Region) -> String {
        let mut name = self.provinces[region.province].clone();
        if let Some(c) = region.city {
            name.push_str(&format!("{}市", self.cities[region.province][c]));
        }
        if let Some(x) = region.county {
            name.push_str(&self.counties[region.province][region.city.unwrap_or(0)][x]);
        }
        name
    }

    /// The narrowest place name: county, else city, else province.
    pub fn place(&self, region: &Region) -> String {
        match (region.city, region.county) {
            (Some(c), Some(x)) => self.counties[region.province][c][x].clone(),
            (Some(c), None) => format!("{}市", self.cities[region.province][c]),
            _ => self.provinces[region.province].clone(),
        }
    }

    pub fn city_name(&self, region: &Region) -> String {
        match region.city {
            Some(c) => self.cities[region.province][c].clone(),
            None => self.provinces[region.province].trim_end_matches('省').to_string(),
        }
    }

    fn build_orgs(&mut self) {
        self.orgs.push(Org {
            id: "org-hq".into(),
            label: format!("{COMPANY}客户服务中心"),
            level: OrgLevel::Hq,
            parent: None,
            region_name: "总部".into(),
        });
        for p in 0..self.provinces.len() {
            let pr = Region { province: p, city: None, county: None };
            self.orgs.push(Org {
                id: World::org_id(&pr),
                label: format!("{COMPANY}{}服务分中心", self.provinces[p]),
                level: OrgLevel::Province,
                parent: Some("org-hq".into()),
                region_name: self.region_name(&pr),
            });
            for c in 0..self.cities[p].len() {
                let cr = Region { province: p, city: Some(c), county: None };
                self.orgs.push(Org {
                    id: World::org_id(&cr),
                    label: format!("{COMPANY}{}{}服务站", self.provinces[p], self.cities[p][c]),
                    level: OrgLevel::City,
                    parent: Some(World::org_id(&pr)),
                    region_name: self.region_name(&cr),
                });
                for x in 0..self.counties[p][c].len() {
                    let xr = Region { province: p, city: Some(c), county: Some(x) };
                    self.orgs.push(Org {
                        id: World::org_id(&xr),
                        label: format!("{COMPANY}{}{}服务网点", self.cities[p][c], self.counties[p][c][x]),
                        level: OrgLevel::County,
                        parent: Some(World::org_id(&cr)),
                        region_name: self.region_name(&xr),
                    });
                }
            }
        }
    }

    pub fn org(&self, id: &str) -> &Org {
        self.orgs.iter().find(|o| o.id == id).expect("org exists")
    }

    fn build_customers(&mut self, seed: u64) {
        // Utilities: one per province, city and county.
        for p in 0..self.provinces.len() {
            let pr = Region { province: p, city: None, county: None };
            let province_id = format!("cust-util-p{:02}", p + 1);
            let name = format!("{}电力公司", self.provinces[p]);
            self.add_customer(seed, province_id.clone(), name, CustomerKind::Utility, OrgLevel::Province, pr, None);
            for c in 0..self.cities[p].len() {
                let cr = Region { province: p, city: Some(c), county: None };
                let city_id = format!("cust-util-p{:02}-c{:02}", p + 1, c + 1);
                let name = format!("{}电力公司{}供电公司", self.provinces[p], self.cities[p][c]);
                self.add_customer(
                    seed,
                    city_id.clone(),
                    name,
                    CustomerKind::Utility,
                    OrgLevel::City,
                    cr,
                    Some(province_id.clone()),
                );
                for x in 0..self.counties[p][c].len() {
                    let xr = Region { province: p, city: Some(c), county: Some(x) };
                    let id = format!("cust-util-p{:02}-c{:02}-x{:02}", p + 1, c + 1, x + 1);
                    let name = format!("{}供电公司{}供电分公司", self.cities[p][c], self.counties[p][c][x]);
                    self.add_customer(
                        seed,
                        id,
                        name,
                        CustomerKind::Utility,
                        OrgLevel::County,
                        xr,
                        Some(city_id.clone()),
                    );
                }
            }
        }
        // Plants, enterprises, operators: spread over the regions.
        let others: &[(CustomerKind, usize, &str)] = &[
            (CustomerKind::PvPlant, 48, "plant"),
            (CustomerKind::WindPlant, 24, "plant"),
            (CustomerKind::HydroPlant, 12, "plant"),
            (CustomerKind::ThermalPlant, 10, "plant"),
            (CustomerKind::Enterprise, 48, "ent"),
            (CustomerKind::Hospital, 10, "ent"),
            (CustomerKind::DataCentre, 10, "ent"),
            (CustomerKind::Rail, 6, "ent"),
            (CustomerKind::ChargingOperator, 20, "op"),
            (CustomerKind::Park, 16, "ent"),
        ];
        let mut counters: BTreeMap<&str, usize> = BTreeMap::new();
        let mut used_names = BTreeSet::new();
        for &(kind, count, prefix) in others {
            for _ in 0..count * self.scale {
                let n = counters.entry(prefix).or_insert(0);
                *n += 1;
                let id = format!("cust-{prefix}-{:04}", *n);
                let mut rng = Rng::derive(seed, "customer-name", (self.customers.len()) as u64);
                let p = rng.below(self.provinces.len());
                let c = rng.below(self.cities[p].len());
                let (level, county) = match kind {
                    CustomerKind::Rail | CustomerKind::ThermalPlant => (OrgLevel::City, None),
                    _ if rng.chance(0.55) => (OrgLevel::County, Some(rng.below(self.counties[p][c].len()))),
                    _ => (OrgLevel::City, None),
                };
                let region = Region { province: p, city: Some(c), county };
                let place = self.place(&region);
                let city = self.cities[p][c].clone();
                let mut name;
                let mut attempts = 0;
                loop {
                    attempts += 1;
                    let stem = *rng.pick(COMPANY_STEMS);
                    let site = *rng.pick(SITE_NAMES);
                    name = match kind {
                        CustomerKind::PvPlant => {
                            format!(
                                "{}{stem}新能源有限公司{site}{}",
                                place.trim_end_matches(['县', '区', '市']),
                                rng.pick(&["光伏电站", "农光互补电站", "渔光互补电站", "屋顶分布式光伏项目"])
                            )
                        }
                        CustomerKind::WindPlant => format!("{stem}风电{city}{site}风电场"),
                        CustomerKind::HydroPlant => format!("{city}{site}水电站"),
                        CustomerKind::ThermalPlant => format!("{stem}能源{city}发电厂"),
                        CustomerKind::Enterprise => format!(
                            "{city}{stem}{}有限公司",
                            rng.pick(&[
                                "钢铁",
                                "化工",
                                "水泥",
                                "造纸",
                                "纺织",
                                "汽车零部件",
                                "电子材料",
                                "食品",
                                "制药",
                                "玻璃"
                            ])
                        ),
                        CustomerKind::Hospital => format!(
                            "{city}市{}医院",
                            rng.pick(&["第一人民", "第二人民", "中心", "妇幼保健", "中医", "儿童"])
                        ),
                        CustomerKind::DataCentre => format!("{stem}云计算{city}数据中心"),
                        CustomerKind::Rail => format!("{city}{stem}轨道交通运营有限公司"),
                        CustomerKind::ChargingOperator => format!(
                            "{}{stem}{}",
                            if rng.chance(0.5) { city.as_str() } else { "" },
                            rng.pick(&[
                                "充电科技有限公司",
                                "新能源汽车服务有限公司",
                                "公交集团有限公司",
                                "出租汽车有限公司",
                                "物流有限公司"
                            ])
                        ),
                        CustomerKind::Park => format!(
                            "{city}{site}{}",
                            rng.pick(&[
                                "工业园区管委会",
                                "科技园运营有限公司",
                                "商业综合体",
                                "物流园",
                                "高速公路服务区"
                            ])
                        ),
                        CustomerKind::Utility => unreachable!("utilities are built above"),
                    };
                    if attempts > 50 {
                        name = format!("{name}（{attempts}）");
                    }
                    if used_names.insert(name.clone()) {
                        break;
                    }
                }
                let parent = Some(match county {
                    Some(x) => format!("cust-util-p{:02}-c{:02}-x{:02}", p + 1, c + 1, x + 1),
                    None => format!("cust-util-p{:02}-c{:02}", p + 1, c + 1),
                });
                self.add_customer(seed, id, name, kind, level, region, parent);
            }
        }
    }

    #[expect(clippy::too_many_arguments, reason = "one call site per customer family, all named")]
    fn add_customer(
        &mut self,
        seed: u64,
        id: String,
        name: String,
        kind: CustomerKind,
        level: OrgLevel,
        region: Region,
        parent: Option<String>,
    ) {
        let mut rng = Rng::derive(seed, &id, 0);
        let mut tags = Vec::new();
        let important = match (kind, level) {
            (CustomerKind::Utility, OrgLevel::Province) => true,
            (CustomerKind::Utility, OrgLevel::City) => rng.chance(0.6),
            (CustomerKind::Hospital | CustomerKind::DataCentre | CustomerKind::Rail, _) => true,
            (CustomerKind::ThermalPlant, _) => rng.chance(0.5),
            _ => rng.chance(0.08),
        };
        let outage = match kind {
            CustomerKind::Hospital | CustomerKind::DataCentre | CustomerKind::Rail => true,
            CustomerKind::Enterprise | CustomerKind::Park => rng.chance(0.6),
            CustomerKind::Utility if level == OrgLevel::County => rng.chance(0.35),
            _ => rng.chance(0.1),
        };
        let bill = match kind {
            CustomerKind::ChargingOperator | CustomerKind::PvPlant => rng.chance(0.65),
            CustomerKind::Enterprise | CustomerKind::Park => rng.chance(0.4),
            CustomerKind::Utility if level == OrgLevel::County => rng.chance(0.2),
            _ => rng.chance(0.08),
        };
        let emotional = rng.chance(if level == OrgLevel::County { 0.18 } else { 0.1 });
        for (on, tag) in [(outage, "停电敏感"), (bill, "电费敏感"), (emotional, "情绪化"), (important, "重要客户")]
        {
            if on {
                tags.push(tag);
            }
        }
        let short = short_name(&name);
        let sites = self.sites_for(&mut rng, kind, level, &region, &name);
        let lines = kind.lines(level).iter().map(|(l, w)| (l.to_string(), *w)).collect();
        let org = match level {
            OrgLevel::Province | OrgLevel::Hq => {
                World::org_id(&Region { province: region.province, city: None, county: None })
            }
            _ => World::org_id(&region),
        };
        self.customers.push(Customer {
            id,
            name,
            short,
            kind,
            level,
            region,
            tags,
            lines,
            sites,
            org,
            parent,
            contracts: Vec::new(),
        });
    }

    fn sites_for(
        &self,
        rng: &mut Rng,
        kind: CustomerKind,
        level: OrgLevel,
        region: &Region,
        name: &str,
    ) -> Vec<String> {
        let city = self.city_name(region);
        let mut names: Vec<&str> = SITE_NAMES.to_vec();
        rng.shuffle(&mut names);
        let mut sites: Vec<String> = match (kind, level) {
            (CustomerKind::Utility, OrgLevel::Province | OrgLevel::Hq) => {
                let mut s: Vec<String> = names[..5]
                    .iter()
                    .enumerate()
                    .map(|(i, n)| format!("{}{n}变电站", if i < 2 { "500kV" } else { "220kV" }))
                    .collect();
                s.push(format!("{}调度控制中心", self.provinces[region.province].trim_end_matches('省')));
                s
            }
            (CustomerKind::Utility, OrgLevel::City) => {
                let mut s: Vec<String> = names[..7]
                    .iter()
                    .enumerate()
                    .map(|(i, n)| format!("{}{n}变电站", if i < 3 { "220kV" } else { "110kV" }))
                    .collect();
                s.push(format!("{city}地调主站"));
                s.push(format!("{}开闭所", names[7]));
                s.push(format!("{}公共充电站", names[8]));
                s
            }
            (CustomerKind::Utility, _) => {
                let county = self.place(region);
                let mut s: Vec<String> = names[..4].iter().map(|n| format!("35kV{n}变电站")).collect();
                s.push(format!("110kV{}变电站", names[4]));
                s.push(format!("{}台区", names[5]));
                s.push(format!("{county}{}供电所", names[6]));
                s.push(format!("10kV{}线", names[7]));
                s.push(format!("{county}{}充电站", names[8]));
                s
            }
            (CustomerKind::PvPlant, _) => vec![
                "升压站".to_string(),
                format!("{}号方阵", rng.range(1, 6)),
                format!("{}号方阵", rng.range(7, 12)),
                "集控室".to_string(),
            ],
            (CustomerKind::WindPlant | CustomerKind::HydroPlant | CustomerKind::ThermalPlant, _) => {
                vec!["升压站".into(), "网控室".into(), "厂用电配电室".into(), "主控楼".into()]
            }
            (CustomerKind::ChargingOperator, _) => names[..4].iter().map(|n| format!("{city}{n}充电站")).collect(),
            (CustomerKind::Park, _) => {
                vec![format!("{}充电场站", names[0]), "储能站".into(), "10kV配电房".into(), "屋顶光伏".into()]
            }
            _ => vec!["总降变电所".into(), "1号配电室".into(), "2号配电室".into(), "动力中心".into()],
        };
        if sites.is_empty() {
            sites.push(format!("{name}配电室"));
        }
        sites
    }

    fn build_contracts(&mut self, seed: u64, corpus_date: Date, authored: &Authored) {
        let models_by_line: BTreeMap<&str, Vec<&str>> =
            authored.models.values().fold(BTreeMap::new(), |mut m, model| {
                m.entry(model.line.as_str()).or_default().push(model.id.as_str());
                m
            });
        let earliest = Date::from_ymd(2019, 1, 1).expect("1 January 2019 is a day");
        let mut serials = BTreeSet::new();
        let mut n = 0usize;
        let mut round = 0u64;
        let target = MIN_CONTRACTS * self.scale;
        // Contract numbers have one width in a corpus (4 digits at scale 1).
        let width = id_width(4, 2 * target);
        // One random stream per (round, customer): fewer than 10,000 customers at any scale.
        assert!(self.customers.len() < 10_000, "{} customers", self.customers.len());
        while self.contracts.len() < target {
            for ci in 0..self.customers.len() {
                let mut rng = Rng::derive(seed, "contracts", round * 10_000 + ci as u64);
                let customer = self.customers[ci].clone();
                let wanted = match (customer.kind, customer.level) {
                    (CustomerKind::Utility, OrgLevel::Province) => 4,
                    (CustomerKind::Utility, OrgLevel::City) => 3,
                    (CustomerKind::Utility, _) => 2,
                    _ => 2,
                } + rng.below(2);
                let wanted = if round == 0 { wanted } else { 1 };
                for _ in 0..wanted {
                    n += 1;
                    let kind_roll = rng.below(100);
                    let kind = match kind_roll {
                        0..=59 => "设备采购合同",
                        60..=74 => "框架协议订单",
                        75..=89 => "技术改造工程合同",
                        _ => "设备采购及运维服务合同",
                    };
                    let frame = kind != "设备采购合同";
                    let weights: Vec<u32> = customer.lines.iter().map(|(_, w)| *w).collect();
                    let line_count = 1 + rng.below(if frame { 3 } else { 2 });
                    let mut chosen_lines: Vec<String> = Vec::new();
                    for _ in 0..line_count {
                        let line = &customer.lines[rng.weighted(&weights)].0;
                        if !chosen_lines.contains(line) && models_by_line.contains_key(line.as_str()) {
                            chosen_lines.push(line.clone());
                        }
                    }
                    if chosen_lines.is_empty() {
                        continue;
                    }
                    let first_line = chosen_lines[0].clone();
                    let months = warranty_months(&first_line, kind != "设备采购合同" && rng.chance(0.5));
                    let expiring = rng.chance(0.12);
                    let (signed, delivered, start, end);
                    if expiring {
                        end = corpus_date.plus_days(rng.range(1, 90));
                        start = end.plus_months(-months);
                        delivered = start.plus_days(-rng.range(10, 100));
                        signed = delivered.plus_days(-rng.range(30, 150));
                    } else {
                        let span = corpus_date.plus_days(-280).days() - earliest.days();
                        signed = Date::from_days(earliest.days() + rng.range(0, span));
                        delivered = signed.plus_days(rng.range(30, 150));
                        start = delivered.plus_days(rng.range(10, 100));
                        end = start.plus_months(months);
                    }
                    let mut lines = Vec::new();
                    let mut device_ids = Vec::new();
                    let ci_sites = customer.sites.clone();
                    for line in &chosen_lines {
                        let models = &models_by_line[line.as_str()];
                        let model = models[rng.below(models.len())];
                        if lines.iter().any(|(m, _): &(String, u32)| m == model) {
                            continue;
                        }
                        let bulk = bulk_line(line);
                        let qty = if bulk { rng.range(20, 400) as u32 } else { rng.range(1, 6) as u32 };
                        let listed = if bulk { rng.range(2, 4) as u32 } else { qty.min(4) };
                        lines.push((model.to_string(), qty));
                        let prefix = authored.lines[line.as_str()].prefix.clone();
                        for _ in 0..listed {
                            let serial = loop {
                                let (y, m, _) = delivered.plus_days(-rng.range(20, 90)).ymd();
                                let s = format!(
                                    "{prefix}{:02}{:02}{}{:05}",
                                    y % 100,
                                    m,
                                    (b'A' + rng.below(8) as u8) as char,
                                    rng.below(100_000)
                                );
                                if serials.insert(s.clone()) {
                                    break s;
                                }
                            };
                            let fitting: Vec<&String> = ci_sites.iter().filter(|s| site_fits(line, s)).collect();
                            let site = if fitting.is_empty() {
                                ci_sites[rng.below(ci_sites.len())].clone()
                            } else {
                                fitting[rng.below(fitting.len())].clone()
                            };
                            let commissioned = start.plus_days(-rng.range(0, 20)).max(delivered);
                            let firmware = format!("V{}.{}.{}", rng.range(1, 4), rng.range(0, 9), rng.range(0, 30));
                            self.devices.push(Device {
                                id: format!("dev-{}", serial.to_ascii_lowercase()),
                                serial,
                                model: model.to_string(),
                                contract: self.contracts.len(),
                                customer: ci,
                                site,
                                commissioned,
                                firmware,
                            });
                            device_ids.push(self.devices.len() - 1);
                        }
                    }
                    let amount_wan = lines
                        .iter()
                        .map(|(m, q)| {
                            let unit = if bulk_line(&authored.models[m].line) { 1 } else { rng.range(6, 60) as u32 };
                            unit * q / if bulk_line(&authored.models[m].line) { 20 } else { 1 }
                        })
                        .sum::<u32>()
                        .max(3);
                    let response = match customer.level {
                        OrgLevel::Province | OrgLevel::Hq => "7×24小时响应，紧急缺陷4小时到场",
                        OrgLevel::City => "7×24小时响应，紧急缺陷8小时到场",
                        OrgLevel::County => "工作日8小时响应，紧急缺陷24小时到场",
                    };
                    let year = signed.year();
                    self.contracts.push(Contract {
                        id: format!("ct-{year}-{n:0width$}"),
                        number: format!("GKHT-{year}-{n:0width$}"),
                        customer: ci,
                        kind,
                        signed,
                        delivered,
                        warranty_start: start,
                        warranty_end: end,
                        months,
                        lines,
                        devices: device_ids,
                        amount_wan,
                        response,
                    });
                    let contract_index = self.contracts.len() - 1;
                    self.customers[ci].contracts.push(contract_index);
                }
            }
            round += 1;
        }
        for (i, d) in self.devices.iter().enumerate() {
            self.devices_by_model.entry(d.model.clone()).or_default().push(i);
        }
    }

    pub fn organisation_entities(&self) -> Vec<Entity> {
        self.orgs
            .iter()
            .map(|o| {
                let mut links = BTreeMap::new();
                if let Some(p) = &o.parent {
                    links.insert("parent".to_string(), vec![p.clone()]);
                }
                let mut attrs = BTreeMap::new();
                attrs.insert("level".into(), json!(o.level.code()));
                attrs.insert("region".into(), json!(o.region_name));
                attrs.insert("fictional".into(), json!(true));
                Entity {
                    id: o.id.clone(),
                    class: EntityClass::Organisation,
                    label: o.label.clone(),
                    aliases: Vec::new(),
                    links,
                    attrs,
                    version: 1,
                }
            })
            .collect()
    }

    pub fn customer_entities(&self) -> Vec<Entity> {
        self.customers
            .iter()
            .map(|c| {
                let mut links = BTreeMap::new();
                links.insert("org".to_string(), vec![c.org.clone()]);
                if let Some(p) = &c.parent {
                    links.insert("parent".to_string(), vec![p.clone()]);
                }
                let contracts: Vec<String> = c.contracts.iter().map(|i| self.contracts[*i].id.clone()).collect();
                if !contracts.is_empty() {
                    links.insert("contract".to_string(), contracts);
                }
                let mut attrs: BTreeMap<String, Value> = BTreeMap::new();
                attrs.insert("level".into(), json!(c.level.code()));
                attrs.insert("type".into(), json!(c.kind.zh()));
                attrs.insert("region".into(), json!(self.region_name(&c.region)));
                attrs.insert("tags".into(), json!(c.tags));
                attrs.insert("sites".into(), json!(c.sites));
                attrs.insert("fictional".into(), json!(true));
                let aliases = if c.short != c.name { vec![c.short.clone()] } else { Vec::new() };
                Entity {
                    id: c.id.clone(),
                    class: EntityClass::Customer,
                    label: c.name.clone(),
                    aliases,
                    links,
                    attrs,
                    version: 1,
                }
            })
            .collect()
    }

    pub fn contract_entities(&self, authored: &Authored, corpus_date: Date) -> Vec<Entity> {
        self.contracts
            .iter()
            .map(|k| {
                let customer = &self.customers[k.customer];
                let mut links = BTreeMap::new();
                links.insert("customer".to_string(), vec![customer.id.clone()]);
                links.insert("model".to_string(), k.lines.iter().map(|(m, _)| m.clone()).collect());
                links.insert("device".to_string(), k.devices.iter().map(|d| self.devices[*d].id.clone()).collect());
                let mut attrs: BTreeMap<String, Value> = BTreeMap::new();
                attrs.insert("number".into(), json!(k.number));
                attrs.insert("type".into(), json!(k.kind));
                attrs.insert("signed".into(), json!(k.signed.to_string()));
                attrs.insert("delivered".into(), json!(k.delivered.to_string()));
                attrs.insert("warranty_start".into(), json!(k.warranty_start.to_string()));
                attrs.insert("warranty_end".into(), json!(k.warranty_end.to_string()));
                attrs.insert("warranty_months".into(), json!(k.months));
                attrs.insert("warranty_status".into(), json!(warranty_status(k.warranty_end, corpus_date)));
                attrs.insert(
                    "items".into(),
                    json!(k.lines.iter().map(|(m, q)| format!("{}×{q}", authored.models[m].code)).collect::<Vec<_>>()),
                );
                attrs.insert(
                    "serials".into(),
                    json!(k.devices.iter().map(|d| self.devices[*d].serial.clone()).collect::<Vec<_>>()),
                );
                attrs.insert("amount_wan_yuan".into(), json!(k.amount_wan));
                attrs.insert("service_level".into(), json!(k.response));
                attrs.insert("fictional".into(), json!(true));
                Entity {
                    id: k.id.clone(),
                    class: EntityClass::Contract,
                    label: format!("{} {}{}", k.number, customer.short, k.kind),
                    aliases: vec![k.number.clone()],
                    links,
                    attrs,
                    version: 1,
                }
            })
            .collect()
    }

    pub fn device_entities(&self, authored: &Authored) -> Vec<Entity> {
        self.devices
            .iter()
            .map(|d| {
                let contract = &self.contracts[d.contract];
                let customer = &self.customers[d.customer];
                let model = &authored.models[&d.model];
                let mut links = BTreeMap::new();
                links.insert("model".to_string(), vec![d.model.clone()]);
                links.insert("contract".to_string(), vec![contract.id.clone()]);
                links.insert("customer".to_string(), vec![customer.id.clone()]);
                let mut attrs: BTreeMap<String, Value> = BTreeMap::new();
                attrs.insert("serial".into(), json!(d.serial));
                attrs.insert("model_code".into(), json!(model.code));
                attrs.insert("site".into(), json!(d.site));
                attrs.insert("commissioned".into(), json!(d.commissioned.to_string()));
                attrs.insert("warranty_end".into(), json!(contract.warranty_end.to_string()));
                attrs.insert("firmware".into(), json!(d.firmware));
                Entity {
                    id: d.id.clone(),
                    class: EntityClass::Device,
                    label: format!("{} {} {}", d.serial, model.code, d.site),
                    aliases: vec![d.serial.clone()],
                    links,
                    attrs,
                    version: 1,
                }
            })
            .collect()
    }
}

/// Whether a product line is installed at a kind of site (a meter in a 台区, not in a dispatch centre).
fn site_fits(line: &str, site: &str) -> bool {
    let any = |words: &[&str]| words.iter().any(|w| site.contains(w));
    match line {
        "pl-dispatch-master" => any(&["调度", "主站"]),
        "pl-smart-meter" | "pl-acquisition-terminal" => {
            any(&["台区", "供电所", "配电室", "配电房", "充电", "方阵", "动力中心", "总降", "升压站"])
        }
        "pl-distribution-terminal" => any(&["线", "开闭所", "台区", "配电"]),
        "pl-ev-charger" => any(&["充电"]),
        "pl-pv-inverter" => any(&["方阵", "光伏"]),
        "pl-storage-pcs" => any(&["储能", "升压站", "配电", "充电", "动力中心"]),
        _ => any(&["变电站", "升压站", "网控室", "总降", "主控楼", "配电室", "配电房", "开闭所", "集控室"]),
    }
}

pub fn warranty_status(end: Date, today: Date) -> &'static str {
    if end < today {
        "已过保"
    } else if end.days() - today.days() <= 90 {
        "90天内到期"
    } else {
        "质保期内"
    }
}

/// The short name people use on the phone: `霁州供电公司`, `恒远风电东湖风电场` → `东湖风电场`.
fn short_name(name: &str) -> String {
    if let Some(i) = name.find("电力公司") {
        let rest = &name[i + "电力公司".len()..];
        if !rest.is_empty() {
            return rest.to_string();
        }
    }
    if let Some(i) = name.find("供电公司") {
        let rest = &name[i + "供电公司".len()..];
        if !rest.is_empty() {
            return rest.to_string();
        }
    }
    if let Some(i) = name.find("有限公司") {
        let rest = &name[i + "有限公司".len()..];
        if !rest.is_empty() {
            return rest.to_string();
        }
        return name[..i].to_string();
    }
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scale_names_its_places_once() {
        for scale in 1..=MAX_SCALE {
            let (provinces, cities, counties) = geography(20_261_101, scale);
            assert_eq!(provinces.len(), PROVINCES.len());
            let city_names: BTreeSet<&String> = cities.iter().flatten().collect();
            assert_eq!(city_names.len(), provinces.len() * CITIES_PER_PROVINCE_AT_SCALE[scale - 1], "scale {scale}");
            let county_names: BTreeSet<&str> =
                counties.iter().flatten().flatten().map(|c| c.trim_end_matches(['县', '区'])).collect();
            for (p, by_city) in counties.iter().enumerate() {
                let in_province: usize = by_city.iter().map(Vec::len).sum();
                assert_eq!(in_province, COUNTIES_PER_CITY * CITIES_PER_PROVINCE * scale, "scale {scale}, province {p}");
                assert!(by_city.iter().all(|c| c.len() >= MIN_COUNTIES_PER_CITY.min(COUNTIES_PER_CITY)));
            }
            assert_eq!(
                county_names.len(),
                counties.iter().flatten().flatten().count(),
                "scale {scale}: a county twice"
            );
        }
    }

    #[test]
    fn ids_widen_only_when_the_count_needs_it() {
        assert_eq!(id_width(5, 12_528), 5);
        assert_eq!(id_width(5, 99_999), 5);
        assert_eq!(id_width(5, 100_000), 6);
        assert_eq!(id_width(4, 2_400), 4);
        assert_eq!(id_width(4, 24_000), 5);
        assert_eq!(id_width(4, 0), 4);
    }
}
