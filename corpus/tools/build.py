#!/usr/bin/env python3
"""Write the authored core of the gridkb demo corpus (corpus/authored/*.jsonl) from the
hand-written data modules in this directory. Deterministic: same data -> same bytes.
Files are written to a temporary name and renamed, so a reader never sees half a file."""
import json, os, re, sys, importlib
sys.dont_write_bytecode = True

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(os.path.dirname(HERE), "authored")
SOURCE = "gridkb demo corpus (authored)"
sys.path.insert(0, HERE)


def write_jsonl(rel, records):
    path = os.path.join(OUT, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False, sort_keys=False) + "\n")
    os.replace(tmp, path)
    print(f"{len(records):5d}  {rel}")


def uniq(seq, exclude=()):
    out, seen = [], set(exclude)
    for s in seq:
        if s and s not in seen:
            seen.add(s)
            out.append(s)
    return out


def code_variants(code):
    """Loose spellings customers type for a model code, e.g. GKB-931A -> gkb931a, 931A, 931."""
    v = [code.lower(), code.replace("-", ""), code.replace("-", "").lower(), code.replace("-", " ")]
    tail = code.split("-", 1)[1] if "-" in code else code
    v.append(tail)
    m = re.match(r"^([A-Za-z]*)(\d+)", tail)
    if m and m.group(2) and len(m.group(2)) >= 3:
        v.append(m.group(2))
    return v


# boards that smart-substation-only models (SV in, GOOSE out) do not have
CONVENTIONAL_ONLY = {"ac", "bio", "trip", "nonelec"}


def slug(code):
    return "pm-" + code.lower()


def product_entities():
    import data_products as P
    lines, models, comps = [], [], []
    # an automatic loose spelling is kept only if no other model claims it (e.g. "931" is
    # ambiguous between GKB-931A and GKB-931B, so neither gets it automatically)
    claims = {}
    for L in P.LINES:
        for M in L["models"]:
            for a in set(code_variants(M["code"])):
                claims.setdefault(a.lower(), set()).add(M["code"])
            for a in M["aliases"]:
                claims.setdefault(a.lower(), set()).add(M["code"])
    for L in P.LINES:
        lines.append({"class": "ProductLine", "id": L["id"], "label": L["label"],
                      "aliases": uniq(L["aliases"], [L["label"]]), "attrs": L["attrs"]})
        mids = []
        for M in L["models"]:
            mid = slug(M["code"])
            mids.append(mid)
            attrs = {"code": M["code"]}
            attrs.update(M["attrs"])
            models.append({"class": "ProductModel", "id": mid, "label": M["label"],
                           "aliases": uniq([M["code"]] + M["aliases"] + [v for v in code_variants(M["code"])
                                                                          if len(claims[v.lower()]) == 1],
                                           [M["label"]]),
                           "links": {"line": [L["id"]]}, "attrs": attrs})
        prefix = L["attrs"]["prefix"].lower()
        smart = {"pm-" + M["code"].lower() for M in L["models"] if M["attrs"].get("smart_sub") == "专用"}
        for (cs, clabel, caliases, cattrs) in L["components"]:
            cid = f"comp-{prefix}-{cs}"
            if cattrs.get("smart_only"):
                cmodels = [m for m in mids if m in smart]
            elif cs in CONVENTIONAL_ONLY:
                cmodels = [m for m in mids if m not in smart]
            else:
                cmodels = mids
            label = f"{L['attrs']['prefix']}系列{L['label']} {clabel}"
            attrs = {"line": L["id"]}
            attrs.update(cattrs)
            comps.append({"class": "Component", "id": cid, "label": label,
                          "aliases": uniq([clabel] + caliases, [label]),
                          "links": {"model": cmodels}, "attrs": attrs})
    return lines, models, comps


def main():
    lines, models, comps = product_entities()
    write_jsonl("entities/product_lines.jsonl", lines)
    write_jsonl("entities/product_models.jsonl", models)
    write_jsonl("entities/components.jsonl", comps)
    import data_concepts as C
    write_jsonl("entities/concepts.jsonl", [
        {"class": "Concept", "id": "c-" + slug, "label": label, "aliases": uniq(aliases, [label]),
         "links": {"related": list(rel)}, "attrs": {"definition": d}}
        for slug, label, aliases, d, rel in C.CONCEPTS]
        + [{"class": "Concept", "id": "c-" + slug, "label": label, "aliases": uniq(aliases, [label]),
            "attrs": dict({"scheme": "service_category", "major": major}, **({"category": minor} if minor else {}))}
           for slug, label, aliases, major, minor in C.CATEGORY_CONCEPTS]
        + [{"class": "Concept", "id": "c-" + slug, "label": label, "aliases": uniq(aliases, [label]),
            "attrs": {"scheme": "customer_tag", "definition": d}}
           for slug, label, aliases, d in C.TAG_CONCEPTS])
    try:
        import faults_build
    except ImportError:
        return
    faults_build.build(write_jsonl, SOURCE)
    update_readme_counts()


def update_readme_counts():
    """Rewrite the counts table of corpus/README.md (between the counts markers)."""
    import collections, glob
    per_file, kinds, classes, cats = collections.Counter(), collections.Counter(), collections.Counter(), collections.Counter()
    for path in sorted(glob.glob(os.path.join(OUT, "**", "*.jsonl"), recursive=True)):
        rel = os.path.relpath(path, os.path.dirname(OUT))
        for line in open(path, encoding="utf-8"):
            r = json.loads(line)
            per_file[rel] += 1
            if "kind" in r:
                kinds[r["kind"]] += 1
                cats[r.get("category", "(none)")] += 1
            else:
                classes[r["class"]] += 1
    out = ["| file | records |", "|---|---|"] + [f"| `{f}` | {n} |" for f, n in per_file.items()]
    out += ["", f"Items: **{sum(kinds.values())}**", "", "| kind | items |", "|---|---|"]
    out += [f"| {k} | {n} |" for k, n in sorted(kinds.items())]
    out += ["", "| category | items |", "|---|---|"] + [f"| {k} | {n} |" for k, n in sorted(cats.items())]
    out += ["", f"Entities: **{sum(classes.values())}**", "", "| class | entities |", "|---|---|"]
    out += [f"| {k} | {n} |" for k, n in sorted(classes.items())]
    readme = os.path.join(os.path.dirname(OUT), "README.md")
    text = open(readme, encoding="utf-8").read()
    a, b = text.index("<!-- counts -->"), text.index("<!-- /counts -->")
    text = text[:a] + "<!-- counts -->\n" + "\n".join(out) + "\n" + text[b:]
    tmp = readme + ".tmp"
    open(tmp, "w", encoding="utf-8").write(text)
    os.replace(tmp, readme)


if __name__ == "__main__":
    main()
