#!/usr/bin/env python3
"""Builds two BEIR-layout sets of long documents from gridkb's authored knowledge items.

Manuals: the authored items (everything but the generated cases, contracts, fulfilment and
customer records) grouped by their first product, concatenated in file order as
"【title】\nbody" sections into documents of at most ~1500 tokens (m3e-small wordpiece count).
  manuals-tickets: queries = the dev-split tickets that judge an authored item; a manual's grade
                   is the best grade of the judged items it contains.
  manuals-late:    queries = the titles of items whose section starts beyond the first 510
                   tokens of its manual (so the first window never sees it); qrel: that manual.

Usage: scripts/long-text-sets.py [OUT_DIR]   (default /tmp/longtext), then
  gridkb eval OUT_DIR/manuals-late --long-text mean|first|windows --json
Token counts follow models/m3e-small's tokenizer.json (BERT basic tokenizer + WordPiece): they
match the embed crate's count on the whole corpus (4,779,453 tokens).
"""
import collections, glob, json, os, sys, unicodedata
tj = json.load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'models', 'm3e-small', 'tokenizer.json')))
vocab = tj['model']['vocab']
norm = tj.get('normalizer') or {}
lower = norm.get('lowercase', True)
def is_cjk(c):
    cp = ord(c)
    return (0x4E00<=cp<=0x9FFF or 0x3400<=cp<=0x4DBF or 0x20000<=cp<=0x2A6DF or 0x2A700<=cp<=0x2B73F or
            0x2B740<=cp<=0x2B81F or 0x2B820<=cp<=0x2CEAF or 0xF900<=cp<=0xFAFF or 0x2F800<=cp<=0x2FA1F)
def is_punct(c):
    cp=ord(c)
    if 33<=cp<=47 or 58<=cp<=64 or 91<=cp<=96 or 123<=cp<=126: return True
    return unicodedata.category(c).startswith('P')
def basic(text):
    out=[]; cur=''
    for c in text:
        if lower: c=c.lower()
        if c.isspace():
            if cur: out.append(cur); cur=''
        elif is_cjk(c) or is_punct(c):
            if cur: out.append(cur); cur=''
            out.append(c)
        else: cur+=c
    if cur: out.append(cur)
    return out
def wp(word):
    if len(word)>100: return 1
    n=0; start=0
    while start<len(word):
        end=len(word); found=False
        while start<end:
            s=word[start:end]
            if start>0: s='##'+s
            if s in vocab: found=True; break
            end-=1
        if not found: return 1
        n+=1; start=end
    return n
def count(text):
    """Tokens of `text` without [CLS] and [SEP]."""
    return sum(wp(w) for w in basic(text))


ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'corpus')
OUT = sys.argv[1] if len(sys.argv) > 1 else '/tmp/longtext'
GENERATED = {'solved_cases.jsonl', 'contract_info.jsonl', 'fulfilment_info.jsonl', 'customer_info.jsonl'}
LIMIT = 1500
items = []
for f in sorted(glob.glob(f'{ROOT}/authored/items/*.jsonl')):
    if os.path.basename(f) in GENERATED:
        continue
    for line in open(f):
        if line.strip():
            v = json.loads(line)
            if 'body' in v:
                items.append(v)
groups = collections.OrderedDict()
for v in items:
    key = (v.get('products') or [v['kind']])[0]
    groups.setdefault(key, []).append(v)

manuals = []  # (id, title, text, [(item id, start token)])
for key, members in groups.items():
    part, sections, used = 1, [], 0
    def flush():
        global part
        if sections:
            title = f'{key} 服务知识汇编 第{part}部分'
            manuals.append((f'man-{key}-{part}', title, '\n\n'.join(s for _, s, _ in sections),
                            [(i, start) for i, _, start in sections]))
            part += 1
    for v in members:
        s = f"【{v['title']}】\n{v['body']}"
        n = count(s)
        if sections and used + n > LIMIT:
            flush(); sections, used = [], 0
        start = used + count(f'{key} 服务知识汇编 第{part}部分') + 1  # + [CLS]
        sections.append((v['id'], s, start))
        used += n
    flush()

lengths = [count(f'{t}\n{x}') + 2 for _, t, x, _ in manuals]
print(len(items), 'authored items ->', len(manuals), 'manuals;',
      sum(l > 512 for l in lengths), 'longer than one window; tokens', sum(lengths),
      'mean', sum(lengths) // len(lengths), 'max', max(lengths))
home = {i: m[0] for m in manuals for i, _ in m[3]}

def write(name, queries, qrels):
    d = f'{OUT}/{name}'
    os.makedirs(f'{d}/qrels', exist_ok=True)
    with open(f'{d}/corpus.jsonl', 'w') as f:
        for mid, title, text, _ in manuals:
            f.write(json.dumps({'_id': mid, 'title': title, 'text': text}, ensure_ascii=False) + '\n')
    with open(f'{d}/queries.jsonl', 'w') as f:
        for qid, text in queries:
            f.write(json.dumps({'_id': qid, 'text': text}, ensure_ascii=False) + '\n')
    with open(f'{d}/qrels/test.tsv', 'w') as f:
        f.write('query-id\tcorpus-id\tscore\n')
        for (q, m), g in sorted(qrels.items()):
            f.write(f'{q}\t{m}\t{g}\n')
    print(name, len(queries), 'queries', len(qrels), 'judgements')

tickets = {}
for line in open(f'{ROOT}/tickets/queries.jsonl'):
    v = json.loads(line)
    if v.get('split') == 'dev':
        tickets[v['_id']] = v['text']
qrels = {}
for i, line in enumerate(open(f'{ROOT}/tickets/qrels/dev.tsv')):
    if i == 0:
        continue
    q, d, g = line.rstrip('\n').split('\t')
    if d in home and q in tickets:
        qrels[(q, home[d])] = max(qrels.get((q, home[d]), 0), int(g))
write('manuals-tickets', [(q, tickets[q]) for q in sorted({q for q, _ in qrels})], qrels)

late = [(f'late-{i}', v['title'], m[0]) for m in manuals for i, start in m[3] if start > 510
        for v in [next(x for x in items if x['id'] == i)]]
write('manuals-late', [(q, t) for q, t, _ in late], {(q, m): 1 for q, _, m in late})
