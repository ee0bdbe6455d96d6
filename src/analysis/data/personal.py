"""Personal data in an export: which columns hold it, and which values look like it.

Protection must not rest on the exact spelling of a column: ``Email``, ``courriel``,
``Téléphone``, ``owner_email``, ``first_name`` or ``Nom`` all name personal data, and a
column called ``contact`` whose values are e-mail addresses is personal too. Two rules,
applied to every table:

* **by name** (case- and accent-insensitive, French and English): the column name, split
  into words on anything that is not a letter or digit and on camelCase, contains one of
  :data:`PERSONAL_WORDS` (``email``, ``mail``, ``courriel``, ``phone``, ``telephone``,
  ``tel``, ``mobile``, ``portable``, ``name``, ``nom``, ``prenom``, ``address``,
  ``adresse`` ...), or is one of :data:`PERSONAL_NAMES` (``firstname``, ``lastname`` ...);
* **by content**: at least half of its (up to :data:`CONTENT_SAMPLE`) distinct non-blank values look
  like e-mail addresses or phone numbers (:func:`looks_like_email`, :func:`looks_like_phone`);
  values are counted once each, so a column of three owners' addresses is personal too.

The declared ``personal_columns`` of ``dataset.yml`` are always personal. The functions
return column names and codes, never text for a reader.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

import pandas as pd

__all__ = [
    "CONTENT_SAMPLE", "PERSONAL_NAMES", "PERSONAL_WORDS", "detect_personal_columns", "is_personal_name",
    "looks_like_email", "looks_like_phone", "looks_personal", "name_words", "personal_share",
]

#: Words that make a column personal wherever they appear in its name.
PERSONAL_WORDS: frozenset[str] = frozenset({
    "email", "mail", "courriel", "mel", "phone", "telephone", "tel", "mobile", "portable", "gsm", "fax",
    "name", "nom", "prenom", "surname", "address", "adresse", "street", "rue", "iban", "siret", "ssn",
    "birthday", "birthdate", "naissance",
})
#: Whole names (after removing separators) that are personal although no word above appears.
PERSONAL_NAMES: frozenset[str] = frozenset({
    "firstname", "lastname", "fullname", "username", "contactname", "givenname", "familyname",
    "nomcomplet", "emailaddress", "phonenumber", "telephonenumber", "numerotelephone", "numtel",
    "dateofbirth", "datenaissance",
})
#: Values inspected per column for the content rule.
CONTENT_SAMPLE = 500

_EMAIL = r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+"
_PHONE_CHARS = r"\+?[\d\s().-]{8,24}"


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def name_words(column: object) -> list[str]:
    """The words of a column name, lower case and without accents (``"Prénom client"`` ->
    ``["prenom", "client"]``, ``"ownerEmail"`` -> ``["owner", "email"]``)."""
    text = _strip_accents(str(column))
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", text)
    return [w for w in re.split(r"[^A-Za-z0-9]+", text.lower()) if w]


def is_personal_name(column: object) -> bool:
    """True if the name of ``column`` says it holds personal data (see the module docstring)."""
    words = name_words(column)
    if any(w in PERSONAL_WORDS for w in words):
        return True
    joined = "".join(words)
    return joined in PERSONAL_NAMES or any(w in PERSONAL_NAMES for w in words) or joined in PERSONAL_WORDS


def looks_like_email(values: pd.Series) -> pd.Series:
    """Boolean series: the value is an e-mail address (``x@y.z``)."""
    s = values.astype("string").str.strip()
    return s.str.fullmatch(_EMAIL).fillna(False).astype(bool)


def looks_like_phone(values: pd.Series) -> pd.Series:
    """Boolean series: the value is written like a phone number: an international number
    (``+`` then 8 to 15 digits) or a French national one (``0`` then 9 digits), with optional
    spaces, dots, dashes or parentheses. Plain ids (``17850``, ``00042``) do not match."""
    s = values.astype("string").str.strip()
    shaped = s.str.fullmatch(_PHONE_CHARS).fillna(False)
    digits = s.str.replace(r"[\s().-]", "", regex=True)
    intl = digits.str.fullmatch(r"\+\d{8,15}").fillna(False)
    national = digits.str.fullmatch(r"0\d{9}").fillna(False)
    return (shaped & (intl | national)).astype(bool)


def looks_personal(values: pd.Series) -> pd.Series:
    """Boolean series: the value looks like an e-mail address or a phone number."""
    return looks_like_email(values) | looks_like_phone(values)


def personal_share(values: pd.Series, sample: int = CONTENT_SAMPLE) -> float:
    """Share of the first ``sample`` distinct non-blank values that look personal (0.0 if none)."""
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
        return 0.0
    s = values.dropna()
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype("string")
    s = s.astype("string").drop_duplicates()
    s = s.loc[s.str.strip().ne("")].head(sample)
    if s.empty:
        return 0.0
    return float(looks_personal(s).mean())


def detect_personal_columns(frame: pd.DataFrame, declared: Iterable[str] = (), *,
                            min_share: float = 0.5, skip: Iterable[str] = (),
                            by_name: bool = True) -> dict[str, str]:
    """The personal columns of ``frame`` with why: ``{column: code}``.

    Codes: ``declared`` (in ``personal_columns``), ``name`` (the name says so), ``content``
    (at least ``min_share`` of the sampled values look like e-mails or phone numbers).
    Columns in ``skip`` (e.g. ``customer_id``, handled by pseudonymisation) are not judged
    by content. Declared names match case- and accent-insensitively. ``by_name=False``
    skips the name rule (for result tables whose column names are labels, not export columns).
    """
    wanted = {"".join(name_words(c)) for c in declared}
    skip = set(skip)
    out: dict[str, str] = {}
    for col in frame.columns:
        if "".join(name_words(col)) in wanted:
            out[str(col)] = "declared"
        elif by_name and is_personal_name(col):
            out[str(col)] = "name"
        elif col not in skip and personal_share(frame[col]) >= min_share:
            out[str(col)] = "content"
    return out
