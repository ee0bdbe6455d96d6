"""Safe by construction: what leaves Churn Radar for people is escaped, masked and spreadsheet-safe.

Three tools, used by the notebooks, :mod:`analysis.reporting.outputs` and the runner:

* :func:`escape`, the ONE helper for every value that comes from the data or the config
  and is rendered: in Markdown (``context="markdown"``, the default), in HTML text
  (``"html"``), in an HTML attribute such as an image's alt text (``"attr"``), or in a
  matplotlib text such as a figure title or legend (``"figure"``).
* :func:`neutralise_formulas` and :func:`write_people_csv`: every CSV meant for people
  (``scores.csv``, ``tables/*.csv``, ``quarantine/*.csv``) has its text cells starting with
  ``=``, ``+``, ``-``, ``@``, a tab or a carriage return prefixed with ``'`` (the OWASP rule
  against CSV injection), while a Parquet copy beside it keeps the exact values.
* :class:`Pseudonymiser`: an identifier that looks like personal data (an e-mail address,
  a phone number) is shown in client pages as a stable pseudonym ``ID-<10 hex>``, the
  HMAC-SHA256 of the value under a key kept outside the report folder
  (:func:`pseudonym_key`).
"""

from __future__ import annotations

import hashlib
import hmac
import html
import os
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.data.personal import detect_personal_columns, looks_personal

__all__ = [
    "FORMULA_PREFIXES", "KEY_ENV", "KEY_FILE", "MASK", "Pseudonymiser", "escape", "mask_personal",
    "write_quarantine_copies",
    "neutralise_formulas", "pseudonym_key", "write_people_csv",
]

#: First characters that make a spreadsheet read a cell as a formula (OWASP, CSV injection).
FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")
#: What a masked personal value becomes in a copy meant for people.
MASK = "***"
#: Environment variable holding the pseudonymisation key (hex or any text); else :data:`KEY_FILE`.
KEY_ENV = "CHURN_RADAR_PSEUDONYM_KEY"
#: File holding the key, in the reports folder (beside, never inside, a month's folder).
KEY_FILE = ".pseudonym-key"

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$])")
_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$")


def escape(value: Any, context: str = "markdown") -> str:
    """``value`` as text that renders literally in ``context``.

    Parameters
    ----------
    value : anything (a dataset name, a segment value, a column name...); None gives "".
    context : ``markdown`` (HTML special characters as entities, Markdown punctuation
        backslash-escaped, line breaks as spaces), ``html`` (text between tags), ``attr``
        (inside a quoted attribute, e.g. alt text) or ``figure`` (matplotlib text: ``$``
        would start mathtext, so it is escaped; no HTML is involved).

    Examples
    --------
    >>> escape("<script>alert(1)</script>", "html")
    '&lt;script&gt;alert(1)&lt;/script&gt;'
    >>> escape("a*b_c", "markdown")
    'a\\\\*b\\\\_c'
    """
    text = "" if value is None else str(value)
    if context == "figure":
        return text.replace("$", r"\$")
    if context == "html":
        return html.escape(text, quote=False)
    if context == "attr":
        return html.escape(text.replace("\n", " ").replace("\r", " "), quote=True)
    if context != "markdown":
        raise ValueError(f"escape: unknown context {context!r}; expected markdown, html, attr or figure.")
    text = re.sub(r"[\r\n]+", " ", text)
    text = _MD_SPECIAL.sub(r"\\\1", text)
    # '&' first so that entities are not escaped twice; then the tag characters
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy where every text cell starting with ``= + - @``, a tab or a carriage return is
    prefixed with ``'`` so that a spreadsheet shows it as text (OWASP).

    Numbers stay numbers: numeric columns are untouched, and a text cell that is a plain
    number (``-12.5``, ``+3``) is left as is, since no spreadsheet reads it as a formula.
    Column names are neutralised the same way.
    """
    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if not (s.dtype == object or isinstance(s.dtype, (pd.StringDtype, pd.CategoricalDtype))):
            continue
        text = s.astype("string")
        risky = text.str.startswith(FORMULA_PREFIXES).fillna(False) & ~text.str.fullmatch(_NUMBER.pattern).fillna(False)
        if risky.any():
            out[col] = text.mask(risky, "'" + text).astype(object).where(s.notna(), None)
    if not isinstance(out.columns, pd.MultiIndex):
        out.columns = [_safe_label(c) for c in out.columns]
    return out


def _safe_label(label: Any) -> Any:
    if isinstance(label, str) and label.startswith(FORMULA_PREFIXES) and not _NUMBER.match(label):
        return "'" + label
    return label


def mask_personal(frame: pd.DataFrame, declared: Iterable[str] = (), *,
                  pseudonymiser: Pseudonymiser | None = None, id_columns: Iterable[str] = ("customer_id",),
                  by_name: bool = True) -> pd.DataFrame:
    """A copy of ``frame`` meant for people: personal columns (declared, or detected by name
    or content, :func:`analysis.data.personal.detect_personal_columns`) replaced by
    :data:`MASK`; identifier columns whose values look personal replaced by pseudonyms (when
    a ``pseudonymiser`` is given, else masked). ``by_name=False``: columns are judged by
    their content only (result tables, whose column names are labels)."""
    ids = [c for c in id_columns if c in frame.columns]
    found = detect_personal_columns(frame, declared, skip=ids, by_name=by_name)
    out = frame.copy()
    for col in found:
        if col in ids:
            continue
        out[col] = out[col].astype(object).where(out[col].isna(), MASK)
    for col in ids:
        s = out[col]
        personal = looks_personal(s.astype("string")).to_numpy()
        if personal.any():
            repl = pseudonymiser.pseudonyms(s[personal]) if pseudonymiser is not None else MASK
            out[col] = s.astype(object)
            out.loc[personal, col] = repl
    return out


def write_people_csv(df: pd.DataFrame, path: str | Path, *, parquet: bool = True) -> Path:
    """Write ``df`` as a CSV meant for people (formulas neutralised, :func:`neutralise_formulas`)
    and, unless ``parquet`` is False, a Parquet copy with the exact values beside it
    (``<name>.parquet``). Returns the CSV path.

    Use it for every CSV a person may open in a spreadsheet: ``scores.csv``,
    ``tables/*.csv``, ``quarantine/*.csv``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    neutralise_formulas(df).to_csv(path, index=False)
    if parquet:
        exact = df.reset_index(drop=True)
        exact.columns = [str(c) for c in exact.columns]
        try:
            exact.to_parquet(path.with_suffix(".parquet"), index=False)
        except (TypeError, ValueError, ArithmeticError, ImportError):
            # mixed-type object columns: keep every value, as text
            exact.astype({c: "string" for c in exact.columns if exact[c].dtype == object}).to_parquet(
                path.with_suffix(".parquet"), index=False)
    return path


# --------------------------------------------------------------------------- pseudonyms
def pseudonym_key(reports_dir: str | Path) -> bytes:
    """The pseudonymisation key: ``$CHURN_RADAR_PSEUDONYM_KEY`` if set, else the content of
    ``<reports_dir>/.pseudonym-key`` (created once with 32 random bytes, owner-only), so the
    same customer keeps the same pseudonym month after month. The key is never written
    inside a month's report folder."""
    env = os.environ.get(KEY_ENV)
    if env:
        return env.encode("utf-8")
    folder = Path(reports_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secrets.token_hex(32) + "\n")
    return path.read_text(encoding="ascii").strip().encode("ascii")


class Pseudonymiser:
    """Stable pseudonyms for identifiers that look like personal data.

    ``Pseudonymiser(key).pseudonym("jane@x.fr")`` is ``ID-`` and the first 10 hex digits of
    HMAC-SHA256(key, value): the same value and key give the same pseudonym, and without
    the key the value cannot be found back by hashing guesses.
    """

    prefix = "ID-"

    def __init__(self, key: bytes | Callable[[], bytes]):
        """``key``: the key, or a function returning it, called only when a first pseudonym is
        needed (so no key file is created for a base without personal-looking ids)."""
        if not callable(key) and not key:
            raise ValueError("Pseudonymiser: the key is empty.")
        self._source = key
        self._key: bytes | None = None if callable(key) else bytes(key)

    def pseudonym(self, value: Any) -> str:
        """The pseudonym of one value."""
        if self._key is None:
            self._key = bytes(self._source())
            if not self._key:
                raise ValueError("Pseudonymiser: the key is empty.")
        digest = hmac.new(self._key, str(value).encode("utf-8"), hashlib.sha256).hexdigest()
        return f"{self.prefix}{digest[:10]}"

    def pseudonyms(self, values: pd.Series) -> pd.Series:
        """Pseudonyms of a series of values (computed once per distinct value)."""
        uniq = pd.unique(values.astype(str))
        table = {v: self.pseudonym(v) for v in uniq}
        return values.astype(str).map(table)

    def mapping(self, values: Iterable[Any]) -> dict[str, str]:
        """``{value: pseudonym}`` for the values that look like personal data (e-mail
        addresses, phone numbers); other values are not in the mapping."""
        s = pd.Series(pd.unique(pd.Series(list(values), dtype="string").dropna()), dtype="string")
        personal = s.loc[looks_personal(s)]
        return {str(v): self.pseudonym(v) for v in personal}

    @staticmethod
    def replace_in_text(text: str, mapping: Mapping[str, str]) -> str:
        """``text`` with every value of ``mapping`` replaced by its pseudonym (longest first,
        so ``ab@x.fr`` inside ``cab@x.fr`` is not half-replaced); values are also matched in
        their HTML-escaped form."""
        if not mapping or not text:
            return text
        forms: dict[str, str] = {}
        for value, alias in mapping.items():
            forms[value] = alias
            forms.setdefault(html.escape(value, quote=True), alias)
        pattern = re.compile("|".join(re.escape(v) for v in sorted(forms, key=len, reverse=True)))
        return pattern.sub(lambda m: forms[m.group(0)], text)


def write_quarantine_copies(quarantine: Mapping[str, pd.DataFrame], out: str | Path, *,
                            declared: Iterable[str] = (), mask: bool = True,
                            pseudonymiser: Pseudonymiser | None = None) -> list[Path]:
    """Write ``<out>/quarantine/<table>.csv`` (and its Parquet copy) for every table with
    quarantined rows: formulas neutralised, and with ``mask`` (a folder that may reach a
    client) personal columns masked in every table (declared, or detected by name or
    content) and personal-looking ids pseudonymised (masked without a ``pseudonymiser``)."""
    written = []
    for table, frame in quarantine.items():
        if frame is None or frame.empty:
            continue
        if mask:
            frame = mask_personal(frame, declared, pseudonymiser=pseudonymiser)
        written.append(write_people_csv(frame, Path(out) / "quarantine" / f"{table}.csv"))
    return written
