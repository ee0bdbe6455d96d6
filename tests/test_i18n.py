"""Labels exist in both languages; numbers and dates are formatted for the language."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.reporting.i18n import fmt_date, fmt_money, fmt_num, fmt_pct, t, texts
from analysis.reporting.plots.risk import feature_label


def test_every_label_has_french_and_english() -> None:
    missing = [k for k, v in texts().items() if not (isinstance(v, dict) and v.get("fr") and v.get("en"))]
    assert missing == []


def test_french_and_english_formats() -> None:
    assert fmt_pct(0.125, "fr") == "12,5 %" and fmt_pct(0.125, "en") == "12.5%"
    assert fmt_num(12345.6, "fr", 1) == "12 345,6" and fmt_num(12345.6, "en", 1) == "12,345.6"
    assert fmt_date("2026-10-31", "fr") == "31/10/2026" and fmt_date(pd.Timestamp("2026-10-31"), "en") == "2026-10-31"
    assert fmt_money(12345, "fr", "EUR") == "12 345 €" and fmt_money(-12345, "en", "EUR") == "-€12,345"
    assert fmt_pct(float("nan"), "fr") == "–" and fmt_date(pd.NaT, "fr") == "–"


def test_placeholders_and_unknown_language() -> None:
    assert t("as_of_label", "fr", date="31/10/2026") == "au 31/10/2026"
    with pytest.raises(Exception, match="language 'de'"):
        t("customers", "de")


def test_feature_labels_are_plain_words() -> None:
    assert feature_label("nps_last", "fr") == "dernière note NPS"
    assert feature_label("seg_plan_Pro", "en") == "plan: Pro"
    assert feature_label("seg_region_Auvergne-Rhône-Alpes", "fr") == "région : Auvergne-Rhône-Alpes"
    assert feature_label("is_email_segment_passive_active", "en") == "email segment: passive active"
    assert feature_label("is_email_segment_passive_active", "fr") == "segment e-mail : actif passif"
    assert feature_label("something_new", "en") == "something_new"


def test_house_style_keeps_interactive_mode_switched_on_by_a_backend() -> None:
    import matplotlib

    from analysis.reporting.plots.style import house_style

    before = matplotlib.is_interactive()
    try:
        matplotlib.interactive(False)
        with house_style():
            matplotlib.interactive(True)   # what Jupyter's inline backend does as it loads
        assert matplotlib.is_interactive()
    finally:
        matplotlib.interactive(before)


def test_quarantine_reasons_in_plain_words() -> None:
    from analysis.reporting.i18n import reason_label

    assert reason_label("unparseable_date:order_date", "fr") == "date illisible (order_date)"
    assert reason_label("duplicate_row", "en") == "exact duplicate of an earlier row"
    assert reason_label("something_else", "en") == "something_else"


def test_every_label_is_text_in_both_languages():
    """A YAML label such as ``en: on`` or ``fr: non`` unquoted would be read as a boolean."""
    from analysis.reporting.i18n import texts

    bad = {k: v for k, v in texts().items()
           if not isinstance(v, dict) or not all(isinstance(v.get(lang), str) for lang in ("fr", "en"))}
    assert bad == {}
