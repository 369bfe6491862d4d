# -*- coding: utf-8 -*-
"""Tiny helper used by the hand-written fault modules (faults_*.py)."""
FAULTS = []


def F(fid, label, aliases, products, cust, eng, causes, sols, tp, title=None, selfcheck=None,
      cites=(), sev="一般"):
    """One fault type.
    fid: id without prefix ('ct-break' -> f-ct-break); products: line short keys or model codes;
    cust / eng: symptoms in customers' / engineers' words; causes / sols: (slug, label) pairs
    (shared across faults by slug); tp: technical point body; selfcheck: optional body of a
    second technical point (what the agent can walk the customer through on the phone)."""
    FAULTS.append(dict(fid=fid, label=label, aliases=list(aliases), products=list(products), cust=cust,
                       eng=eng, causes=list(causes), sols=list(sols), tp=tp.strip(), title=title,
                       selfcheck=selfcheck.strip() if selfcheck else None, cites=list(cites), sev=sev))
