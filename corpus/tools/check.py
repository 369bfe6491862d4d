#!/usr/bin/env python3
"""Validate the gridkb demo corpus against docs/schema.md (stdlib only).

Usage: python3 corpus/tools/check.py [DIR ...]   (default: the corpus/ directory)

Checks every JSONL record: item vs entity, required fields, allowed kinds / classes /
categories / statuses / owner levels, id pattern, length limits, unknown fields,
field types, duplicate ids, dangling ids (links, products, faults, cites, superseded_by, ...),
that every item links to a product, fault or category, and duplicate texts.
Prints counts; exits 1 on any error.
"""
import json, os, re, sys, collections, datetime

ID_RE = re.compile(r'^[A-Za-z0-9._:-]{1,128}$')
KINDS = {"technical_point", "answer_standard", "response_strategy", "solved_case", "product_doc",
         "business_rule", "regulation", "contract_info", "customer_info", "fulfilment_info"}
CLASSES = {"ProductLine", "ProductModel", "Component", "Fault", "Cause", "Solution", "Customer",
           "Contract", "Device", "Organisation", "Case", "Ticket", "Concept"}
CATEGORIES = {"service_complaint", "quality_complaint", "fault_repair", "service_request",
              "consultation", "suggestion", "opinion", "praise"}
STATUSES = {"draft", "review", "published", "retired"}
LEVELS = {"province", "city", "county", "hq"}
ITEM_FIELDS = {"id", "kind", "title", "body", "products", "faults", "contracts", "cases", "customers",
               "cites", "tags", "category", "owner", "owner_level", "status", "version", "valid_until",
               "superseded_by", "source"}
ENTITY_FIELDS = {"id", "class", "label", "aliases", "links", "attrs", "version"}
ENTITY_LIST_FIELDS = ("products", "faults", "contracts", "cases", "customers")
PRODUCT_CLASSES = {"ProductLine", "ProductModel", "Component", "Device"}
FAULT_CLASSES = {"Fault", "Cause", "Solution"}


def files_under(paths):
    for p in paths:
        if os.path.isfile(p):
            yield p
            continue
        for root, dirs, files in os.walk(p):
            # Labelled ticket sets (a qrels/ folder beside them) hold queries, not records:
            # gridkb ingest skips them the same way.
            dirs[:] = sorted(d for d in dirs if not d.startswith('.')
                             and not os.path.isdir(os.path.join(root, d, 'qrels')))
            for f in sorted(files):
                if f.startswith('.'):
                    continue
                yield os.path.join(root, f)


def is_str_list(v):
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    roots = argv[1:] or [os.path.dirname(here)]
    base = roots[0] if os.path.isdir(roots[0]) else os.path.dirname(roots[0])
    errors, warnings = [], []
    items, entities = {}, {}
    where = {}
    skipped = collections.Counter()
    per_file = collections.Counter()

    def err(loc, msg):
        errors.append(f"{loc}: {msg}")

    def records(path):
        """Yield (loc, record-or-None) for a JSONL or Markdown file."""
        if path.endswith('.jsonl'):
            with open(path, encoding='utf-8') as fh:
                for n, line in enumerate(fh, 1):
                    loc = f"{os.path.relpath(path, base)}:{n}"
                    if not line.strip():
                        continue
                    try:
                        yield loc, json.loads(line)
                    except json.JSONDecodeError as e:
                        err(loc, f"invalid JSON: {e}")
        else:  # Markdown with front matter (a simple YAML subset: key: value, key: [a, b])
            loc = os.path.relpath(path, base)
            text = open(path, encoding='utf-8').read()
            m = re.match(r'^---\n(.*?)\n---\n(.*)$', text, re.S)
            if not m:
                err(loc, "Markdown file without front matter")
                return
            rec = {}
            for line in m.group(1).splitlines():
                if not line.strip():
                    continue
                k, _, v = line.partition(':')
                v = v.strip()
                if v.startswith('[') and v.endswith(']'):
                    v = [x.strip().strip('"\'') for x in v[1:-1].split(',') if x.strip()]
                elif re.fullmatch(r'\d+', v):
                    v = int(v)
                else:
                    v = v.strip('"\'')
                rec[k.strip()] = v
            body = m.group(2).strip()
            if 'title' not in rec:
                h = re.search(r'^# (.+)$', body, re.M)
                if h:
                    rec['title'] = h.group(1).strip()
            field = 'label' if 'class' in rec else 'body'
            if body and field not in rec:
                rec[field] = body
            yield loc, rec

    for path in files_under(roots):
        if not path.endswith(('.jsonl', '.md', '.markdown')) or os.path.basename(path).lower() == 'readme.md':
            skipped[os.path.splitext(path)[1] or '(none)'] += 1
            continue
        for loc, rec in records(path):
            if not isinstance(rec, dict):
                err(loc, "record is not a JSON object")
                continue
            per_file[os.path.relpath(path, base)] += 1
            has_kind, has_class = 'kind' in rec, 'class' in rec
            if has_kind == has_class:
                err(loc, "record must have exactly one of 'kind' (item) or 'class' (entity)")
                continue
            rid = rec.get('id')
            if not isinstance(rid, str) or not ID_RE.match(rid):
                err(loc, f"bad or missing id {rid!r}")
                continue
            if rid in where:
                err(loc, f"duplicate id {rid} (first at {where[rid]})")
                continue
            where[rid] = loc
            if has_kind:
                check_item(rec, loc, err)
                items[rid] = rec
            else:
                check_entity(rec, loc, err)
                entities[rid] = rec

    # reference checks
    for rid, rec in items.items():
        loc = where[rid]
        for f in ENTITY_LIST_FIELDS:
            for x in rec.get(f, []) or []:
                if x not in entities:
                    err(loc, f"{f}: unknown entity id {x}")
        for x in rec.get('products', []) or []:
            if x in entities and entities[x]['class'] not in PRODUCT_CLASSES:
                warnings.append(f"{loc}: products lists {x} of class {entities[x]['class']}")
        for x in rec.get('faults', []) or []:
            if x in entities and entities[x]['class'] not in FAULT_CLASSES:
                warnings.append(f"{loc}: faults lists {x} of class {entities[x]['class']}")
        for x in rec.get('cites', []) or []:
            if x not in items:
                err(loc, f"cites: unknown item id {x}")
        sb = rec.get('superseded_by')
        if sb is not None and sb not in items:
            err(loc, f"superseded_by: unknown item id {sb}")
        if sb == rid:
            err(loc, "superseded_by points to itself")
        if not (rec.get('products') or rec.get('faults') or rec.get('category')):
            err(loc, "item links to no product, fault or category")
    for rid, rec in entities.items():
        loc = where[rid]
        for rel, ids in (rec.get('links') or {}).items():
            if not isinstance(ids, list):
                continue
            for x in ids:
                if x not in entities:
                    err(loc, f"links.{rel}: unknown entity id {x}" + (" (it is an item)" if x in items else ""))

    # duplicate texts
    seen_text = {}
    dup_texts = 0
    for rid, rec in items.items():
        key = re.sub(r'\s+', '', rec.get('title', '') + '\n' + rec.get('body', ''))
        if key in seen_text:
            dup_texts += 1
            warnings.append(f"{where[rid]}: same text as {seen_text[key]}")
        else:
            seen_text[key] = rid
    bodies = collections.Counter(re.sub(r'\s+', '', r.get('body', '')) for r in items.values())
    dup_bodies = sum(c - 1 for c in bodies.values() if c > 1)
    if dup_bodies:
        errors.append(f"{dup_bodies} item bodies are exact duplicates of another body")

    # report
    print("== files ==")
    for f, c in sorted(per_file.items()):
        print(f"  {c:6d}  {f}")
    if skipped:
        print("  skipped (not .jsonl or .md):", dict(skipped))
    print(f"== items: {len(items)} ==")
    for k, c in sorted(collections.Counter(r['kind'] for r in items.values()).items()):
        print(f"  {c:6d}  {k}")
    print("  by category:", dict(sorted(collections.Counter(r.get('category', '-') for r in items.values()).items())))
    print(f"== entities: {len(entities)} ==")
    for k, c in sorted(collections.Counter(r['class'] for r in entities.values()).items()):
        print(f"  {c:6d}  {k}")
    n = len(items) or 1
    print(f"== distinct_text_ratio (title+body, exact): {len(seen_text) / n:.4f}")
    lens = [len(r.get('body', '')) for r in items.values() if r['kind'] == 'technical_point']
    if lens:
        print(f"== technical_point body length: min {min(lens)}, median {sorted(lens)[len(lens)//2]}, max {max(lens)}")
    for w in warnings[:30]:
        print("warning:", w)
    if len(warnings) > 30:
        print(f"warning: ... {len(warnings) - 30} more")
    for e in errors[:100]:
        print("ERROR:", e)
    if len(errors) > 100:
        print(f"ERROR: ... {len(errors) - 100} more")
    print("OK" if not errors else f"FAILED: {len(errors)} errors")
    return 1 if errors else 0


def check_item(rec, loc, err):
    for f in rec:
        if f not in ITEM_FIELDS:
            err(loc, f"unknown item field {f!r}")
    for f in ("id", "kind", "title", "body"):
        if f not in rec:
            err(loc, f"missing required field {f}")
    if rec.get('kind') not in KINDS:
        err(loc, f"unknown kind {rec.get('kind')!r}")
    t = rec.get('title')
    if not isinstance(t, str) or not (1 <= len(t) <= 200):
        err(loc, "title must be a string of 1-200 chars")
    b = rec.get('body')
    if not isinstance(b, str) or not (1 <= len(b) <= 20000):
        err(loc, "body must be a string of 1-20000 chars")
    for f in ENTITY_LIST_FIELDS + ("cites", "tags"):
        if f in rec:
            v = rec[f]
            if not is_str_list(v):
                err(loc, f"{f} must be a list of strings")
            elif f != "tags":
                for x in v:
                    if not ID_RE.match(x):
                        err(loc, f"{f}: bad id {x!r}")
            if is_str_list(v) and len(set(v)) != len(v):
                err(loc, f"{f} has repeated values")
    if 'category' in rec and rec['category'] not in CATEGORIES:
        err(loc, f"unknown category {rec['category']!r}")
    if 'owner' in rec and not isinstance(rec['owner'], str):
        err(loc, "owner must be a string")
    if 'owner_level' in rec and rec['owner_level'] not in LEVELS:
        err(loc, f"unknown owner_level {rec['owner_level']!r}")
    if 'status' in rec and rec['status'] not in STATUSES:
        err(loc, f"unknown status {rec['status']!r}")
    if 'version' in rec and (not isinstance(rec['version'], int) or isinstance(rec['version'], bool) or rec['version'] < 1):
        err(loc, "version must be an integer >= 1")
    if 'valid_until' in rec:
        try:
            datetime.date.fromisoformat(rec['valid_until'])
            if not re.match(r'^\d{4}-\d{2}-\d{2}$', rec['valid_until']):
                raise ValueError
        except (TypeError, ValueError):
            err(loc, "valid_until must be YYYY-MM-DD")
    if 'superseded_by' in rec and (not isinstance(rec['superseded_by'], str) or not ID_RE.match(rec['superseded_by'])):
        err(loc, "superseded_by must be an item id")
    if 'source' in rec and not isinstance(rec['source'], str):
        err(loc, "source must be a string")


def check_entity(rec, loc, err):
    for f in rec:
        if f not in ENTITY_FIELDS:
            err(loc, f"unknown entity field {f!r}")
    if rec.get('class') not in CLASSES:
        err(loc, f"unknown class {rec.get('class')!r}")
    lab = rec.get('label')
    if not isinstance(lab, str) or not (1 <= len(lab) <= 500):
        err(loc, "label must be a string of 1-500 chars")
    if 'aliases' in rec:
        if not is_str_list(rec['aliases']):
            err(loc, "aliases must be a list of strings")
        elif any(not a.strip() for a in rec['aliases']):
            err(loc, "empty alias")
    if 'links' in rec:
        lk = rec['links']
        if not isinstance(lk, dict):
            err(loc, "links must be an object")
        else:
            for k, v in lk.items():
                if not is_str_list(v):
                    err(loc, f"links.{k} must be a list of ids")
                else:
                    for x in v:
                        if not ID_RE.match(x):
                            err(loc, f"links.{k}: bad id {x!r}")
    if 'attrs' in rec:
        a = rec['attrs']
        if not isinstance(a, dict):
            err(loc, "attrs must be an object")
        else:
            for k, v in a.items():
                ok = isinstance(v, (str, int, float, bool)) or (
                    isinstance(v, list) and all(isinstance(x, (str, int, float, bool)) for x in v))
                if not ok:
                    err(loc, f"attrs.{k} must be a string, number, bool or list of those")
    if 'version' in rec and (not isinstance(rec['version'], int) or isinstance(rec['version'], bool) or rec['version'] < 1):
        err(loc, "version must be an integer >= 1")


if __name__ == '__main__':
    sys.exit(main(sys.argv))
