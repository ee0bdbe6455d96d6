"""A small customer base full of hostile values, for the hostile-input suite (issue 13).

Built from a 300-customer synthetic sample (2 s): the dataset name and segment values are
HTML/JS markup, some customer ids are e-mail addresses, phone numbers, spreadsheet
formulas or markup, undeclared personal columns hide under many names (``owner_email``
with few values, so it would pass for a segment; ``contact_email``, ``first_name``,
``last_name``, ``mobile``, ``Téléphone``; ``buyer_email`` in orders), and
``personal_columns`` is one string. Every table keeps the same ids.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd

from analysis.data.sample import write_sample

#: Markup a page must never render as a tag (the dataset name, segment values).
NAME = "<script>alert(1)</script><img src=x onerror=alert(1)>"
SECTOR_MARKUP = "<script>alert('Ent')</script>"
REGION_MARKUP = '<img src=x onerror="alert(2)">'
OWNER_MARKUP = "<script>alert('owner')</script>"
CAMPAIGN_MARKUP = '<img src=x onerror="alert(3)">RA'
#: The formula id of the issue, and others starting with each OWASP prefix.
FORMULA_IDS = ['=HYPERLINK("http://x.example/C000259","C000259")', "+SUM(1,2)", "-2+3+cmd|' /C calc'!A0",
               "@SUM(A1:A2)"]
#: Tags whose presence in a page would mean data-borne markup was rendered.
DATA_TAGS = ("<script>alert", "<img src=x", "onerror=", "<i>c0000", "<b>hostile")


def _ids(ids: pd.Series) -> pd.Series:
    """New ids: every 3rd an e-mail address, every 7th a phone number, 4 formulas, 2 markup."""
    n = pd.Series(range(len(ids)), index=ids.index)
    num = ids.str.extract(r"(\d+)$", expand=False)
    new = ids.copy()
    new = new.mask(n % 3 == 0, "client." + num + "@hostile-mail.example")
    new = new.mask(n % 7 == 1, "+33 6 12 " + num.str[-4:-2] + " " + num.str[-2:] + " 00")
    for i, f in enumerate(FORMULA_IDS):
        new.iloc[10 + i] = f
    new.iloc[20] = "<i>C000021</i>"
    new.iloc[21] = "<b>hostile</b>C000022"
    return new


def build(folder: Path, customers: int = 300, seed: int = 7) -> dict[str, object]:
    """Write the hostile base into ``folder``; return what the tests check against."""
    write_sample(folder, customers, seed=seed, business="contractual", months=24, end="2026-10-31",
                 messy=True, fmt="csv")
    cust = pd.read_csv(folder / "customers.csv", dtype="string", keep_default_na=False)
    mapping = dict(zip(cust["customer_id"], _ids(cust["customer_id"]), strict=True))
    cust["customer_id"] = cust["customer_id"].map(mapping)
    sectors = cust["sector"].unique().tolist()
    cust["sector"] = cust["sector"].replace({sectors[0]: SECTOR_MARKUP})
    cust["region"] = cust["region"].replace({cust["region"].iloc[0]: REGION_MARKUP})
    owners = ["anne.owner@agency.example", "bob.owner@agency.example", "chloe.owner@agency.example"]
    cust["owner_email"] = [owners[i % 3] for i in range(len(cust))]
    cust["contact_email"] = "contact" + cust.index.astype(str) + "@client.example"
    cust["first_name"] = "Prénomhostile" + cust.index.astype(str)
    cust["last_name"] = "Nomhostile" + cust.index.astype(str)
    cust["mobile"] = "+33 7 55 " + (cust.index % 90 + 10).astype(str) + " 11 22"
    cust["Téléphone"] = "01 45 " + (cust.index % 90 + 10).astype(str) + " 33 44"
    cust = cust.rename(columns={"email": "Email", "name": "Nom"})
    cust.to_csv(folder / "customers.csv", index=False)
    for table in ("orders", "email_events", "nps", "usage"):
        path = folder / f"{table}.csv.gz"
        frame = pd.read_csv(path, dtype="string", keep_default_na=False)
        frame["customer_id"] = frame["customer_id"].map(mapping).fillna(frame["customer_id"])
        if table == "orders":
            frame["buyer_email"] = "buyer" + frame.index.astype(str) + "@shop.example"
            bad = frame.iloc[:2].copy()
            bad["customer_id"] = [FORMULA_IDS[0], "=1+1"]
            bad["order_date"] = "not a date"  # quarantined, with its formula id
            frame = pd.concat([frame, bad], ignore_index=True)
        with gzip.open(path, "wt", encoding="utf-8", newline="") as fh:
            frame.to_csv(fh, index=False)
    # the team's interventions: same ids, and markup in the owner and campaign names
    actions = pd.read_csv(folder / "interventions.csv", dtype="string", keep_default_na=False)
    actions["customer_id"] = actions["customer_id"].map(mapping).fillna(actions["customer_id"])
    actions["owner"] = actions["owner"].replace({actions["owner"].iloc[0]: OWNER_MARKUP})
    campaigns = actions["campaign_id"][actions["campaign_id"] != ""].unique().tolist()
    if campaigns:
        actions["campaign_id"] = actions["campaign_id"].replace({campaigns[0]: CAMPAIGN_MARKUP})
    actions.to_csv(folder / "interventions.csv", index=False)
    (folder / "dataset.yml").write_text(
        f"name: '{NAME}'\nbusiness_model: contractual\ncurrency: EUR\nlanguage: fr\n"
        "observed_until: '2026-10-31'\npersonal_columns: phone\n", encoding="utf-8")
    personal = {
        "emails": [v for v in mapping.values() if "@" in v][:50],
        "phones": [v for v in mapping.values() if v.startswith("+33")][:30],
        "owners": owners,
        "contacts": cust["contact_email"].head(30).tolist(),
        "names": cust["first_name"].head(30).tolist() + cust["last_name"].head(30).tolist(),
        "buyers": ["buyer0@shop.example", "buyer1@shop.example"],
    }
    return {"mapping": mapping, "personal": personal}
