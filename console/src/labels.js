// Chinese names of the API's codes (presentation only; the codes and their meaning are the
// server's: docs/schema.md).
export const KIND_LABELS = {
  technical_point: '技术要点',
  answer_standard: '应答规范',
  response_strategy: '应对策略',
  solved_case: '解决案例',
  product_doc: '产品文档',
  business_rule: '业务规则',
  regulation: '法规标准',
  contract_info: '合同信息',
  customer_info: '客户信息',
  fulfilment_info: '履约信息',
}

export const CATEGORY_LABELS = {
  service_complaint: '服务投诉',
  quality_complaint: '质量投诉',
  fault_repair: '故障报修',
  service_request: '服务申请',
  consultation: '业务咨询',
  suggestion: '建议',
  opinion: '意见',
  praise: '表扬',
  complaint: '投诉',
  other: '其他诉求',
}

export const RETRIEVER_LABELS = { lexical: '关键词', dense: '语义', graph: '图谱' }

export const CLASS_LABELS = {
  ProductLine: '产品线',
  ProductModel: '设备型号',
  Component: '部件',
  Fault: '故障',
  Cause: '原因',
  Solution: '处理方法',
  Case: '案例',
  Device: '设备',
  Contract: '合同',
  Customer: '客户',
  Concept: '概念',
  Organisation: '单位',
}

// The corpus's id prefixes (docs/schema.md), to name the class of a graph-path node the response
// did not label.
const ID_PREFIX_CLASSES = {
  pl: 'ProductLine',
  pm: 'ProductModel',
  comp: 'Component',
  f: 'Fault',
  cause: 'Cause',
  sol: 'Solution',
  case: 'Case',
  dev: 'Device',
  ct: 'Contract',
  cust: 'Customer',
  c: 'Concept',
  org: 'Organisation',
}
export const classOfId = (id) => ID_PREFIX_CLASSES[String(id).split('-')[0]] || null

export const RELATION_LABELS = {
  line: '产品线',
  model: '型号',
  component: '部件',
  fault: '故障',
  cause: '原因',
  solution: '处理方法',
  product: '产品',
  contract: '合同',
  customer: '客户',
  case: '案例',
  broader: '上位',
  narrower: '下位',
}

export const kindLabel = (code) => KIND_LABELS[code] || code
export const categoryLabel = (code) => CATEGORY_LABELS[code] || code

export const STATUS_LABELS = { draft: '草稿', review: '审核中', published: '已发布', retired: '已退役' }
export const STATUS_TYPES = { draft: 'info', review: 'warning', published: 'success', retired: 'danger' }
export const ACTION_LABELS = {
  ingest: '导入',
  create: '创建',
  update: '修改',
  submit: '提交审核',
  approve: '批准发布',
  reject: '退回',
  retire: '退役',
  restore: '恢复',
  delete: '删除',
}
export const statusLabel = (code) => STATUS_LABELS[code] || code

export const LEVEL_LABELS = { hq: '总部', province: '省级', city: '市级', county: '县级' }
export const levelLabel = (code) => LEVEL_LABELS[code] || code

/** Item text shown as plain text: Markdown emphasis markers dropped. */
export const plainText = (text) => String(text || '').replace(/\*\*/g, '')

// Agent feedback verdicts (`POST /v1/feedback`), in the order of their keys 1–4.
export const VERDICTS = [
  { code: 'helpful', label: '有用', key: '1' },
  { code: 'solved', label: '已解决', key: '2' },
  { code: 'wrong', label: '错误', key: '3', comment: true },
  { code: 'outdated', label: '过时', key: '4', comment: true },
]
export const VERDICT_LABELS = { helpful: '有用', not_helpful: '没用', solved: '已解决', wrong: '错误', outdated: '过时' }
export const verdictLabel = (code) => VERDICT_LABELS[code] || code

// The editors' knowledge tasks (`GET /v1/tasks/knowledge`).
export const TASK_KIND_LABELS = {
  flagged: '坐席标记错误/过时',
  low_helpful: '有用率低',
  gap: '知识缺口',
  stale: '引用旧版标准',
  overdue_review: '复审逾期',
  duplicate: '疑似重复',
}
export const TASK_STATUS_LABELS = { open: '待处理', done: '已完成', dismissed: '已忽略' }
