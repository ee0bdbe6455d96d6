"""Loading and validation: every rule on a tiny fixture, with counts worked out by hand."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import analysis
from analysis.data.config import DatasetConfig
from analysis.data.validation import normalise_ids, parse_dates, parse_numbers
from analysis.errors import ConfigError, DataError

ROOT = Path(__file__).resolve().parents[1]


def write(folder: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(text.encode(encoding))
    return path


def assert_invariant(ds) -> None:
    """rows read = rows kept + rows quarantined, for every table, and the files agree."""
    for table, rep in ds.report.tables.items():
        assert rep.rows_read == rep.rows_kept + rep.rows_quarantined, table
        kept = len(getattr(ds, table)) if table != "customers" else rep.rows_kept
        assert rep.rows_kept == kept, table
        assert len(ds.report.quarantine[table]) == rep.rows_quarantined, table


# --------------------------------------------------------------- French export
@pytest.fixture
def french_export(tmp_path: Path) -> Path:
    """A ';'-separated, decimal-comma, Latin-1 export with the usual defects."""
    d = tmp_path / "fr"
    write(d, "commandes.csv",
          "id_client;date_commande;montant\n"
          "17850.0;31/10/2026;12,50\n"      # id read as float, French date, decimal comma
          "17850.0;31/10/2026;12,50\n"      # exact duplicate -> quarantine
          "00042;2026-10-01;-5,00\n"        # refund, ISO date (mixed formats)
          "00042;32/13/2026;7\n"            # unparseable date -> quarantine
          "00043;15/09/2026;1 234,56\n",    # thousands separator
          encoding="latin-1")
    write(d, "clients.csv",
          "customer_id;raison_sociale;secteur;signup_date\n"
          "17850;Société Générale d'Électricité;Énergie;01/01/2026\n"
          "00042;Hélène Services;Santé;01/02/2026\n",
          encoding="latin-1")
    write(d, "dataset.yml",
          "business_model: contractual\n"
          "personal_columns: [raison_sociale]\n"
          "observed_until: 2026-10-31\n"
          "tables:\n"
          "  customers: {file: clients.csv}\n"
          "  orders:\n"
          "    file: commandes.csv\n"
          "    columns: {customer_id: id_client, order_date: date_commande, amount: montant}\n")
    return d


def test_french_export_is_read_through_detection(french_export: Path) -> None:
    ds = analysis.load(french_export)
    rep = ds.report.tables["orders"]
    assert rep.detected["sep"] == ";"
    assert rep.detected["decimal"] == ","
    assert ds.report.tables["customers"].detected["encoding"] in ("cp1252", "latin-1")
    assert ds.customers.set_index("customer_id").loc["17850", "secteur"] == "Énergie"
    assert ds.customers.set_index("customer_id").loc["17850", "raison_sociale"] == "Société Générale d'Électricité"
    orders = ds.orders.set_index("customer_id")
    assert orders.loc["17850", "amount"] == 12.50
    assert orders.loc["00043", "amount"] == pytest.approx(1234.56)
    assert orders.loc["17850", "order_date"] == pd.Timestamp("2026-10-31")
    assert orders.loc["00042", "order_date"] == pd.Timestamp("2026-10-01")
    assert rep.rows_read == 5 and rep.rows_kept == 3
    assert rep.quarantined == {"duplicate_row": 1, "unparseable_date:order_date": 1}
    assert rep.refunds == 1
    assert any("mixes date formats" in n for n in rep.notes)
    assert any("17850.0" in n for n in rep.notes)
    assert_invariant(ds)


def test_quarantine_files_hold_original_values_and_reason(french_export: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    analysis.load(french_export, quarantine_dir=out)
    q = pd.read_csv(out / "quarantine" / "orders.csv", dtype=str)
    assert list(q["reason"]) == ["unparseable_date:order_date", "duplicate_row"]
    assert list(q["source_row"]) == ["5", "3"]          # lines of the file, header = line 1
    assert list(q["date_commande"]) == ["32/13/2026", "31/10/2026"]
    assert not (out / "quarantine" / "customers.csv").exists()


def test_refund_is_kept_but_is_not_a_purchase(french_export: Path) -> None:
    ds = analysis.load(french_export)
    refunds = ds.orders.loc[ds.orders["is_refund"]]
    assert list(refunds["customer_id"]) == ["00042"] and refunds["amount"].iloc[0] == -5.0
    purchases = ds.interactions()
    assert set(purchases["customer_id"]) == {"17850", "00043"}


def test_customer_missing_from_customers_gets_signup_at_first_activity(french_export: Path) -> None:
    ds = analysis.load(french_export)
    c = ds.customers.set_index("customer_id")
    assert c.loc["00043", "signup_date"] == pd.Timestamp("2026-09-15")
    assert len(ds.customers) == 3
    assert any("not in customers" in n for n in ds.report.notes)


# ---------------------------------------------------------------- each rule
def test_missing_required_column_names_file_and_column(tmp_path: Path) -> None:
    write(tmp_path, "orders.csv", "customer_id,amount\nA,1\n")
    with pytest.raises(DataError) as err:
        analysis.load(tmp_path)
    msg = str(err.value)
    assert "orders.csv" in msg and "order_date" in msg and "customer_id, amount" in msg
    assert "dataset.yml" in msg


def test_mapping_to_a_column_that_is_not_there(tmp_path: Path) -> None:
    write(tmp_path, "orders.csv", "client,jour\nA,2026-01-01\n")
    write(tmp_path, "dataset.yml", "tables:\n  orders:\n    columns: {customer_id: client, order_date: date}\n")
    with pytest.raises(DataError, match="maps 'order_date' to column 'date'"):
        analysis.load(tmp_path)


@pytest.mark.parametrize("content", ["", "customer_id,order_date\n"])
def test_empty_file_is_a_clear_error(tmp_path: Path, content: str) -> None:
    write(tmp_path, "orders.csv", content)
    with pytest.raises(DataError, match=r"orders\.csv.*(empty|no data row)"):
        analysis.load(tmp_path)


def test_no_activity_table_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "customers.csv", "customer_id\nA\n")
    with pytest.raises(DataError, match="No activity table"):
        analysis.load(tmp_path)


def test_score_outside_0_10_and_non_integers_are_quarantined() -> None:
    nps = pd.DataFrame({"customer_id": ["a", "a", "b", "c", "d"],
                        "response_date": ["2026-01-01", "2026-02-01", "2026-01-05", "2026-01-06", "2026-01-07"],
                        "score": ["9", "11", "-1", "7.5", "10"]})
    ds = analysis.from_frames(nps=nps)
    assert list(ds.nps["score"]) == [9, 10]
    assert ds.nps["score"].dtype == "int64"
    assert ds.report.tables["nps"].quarantined == {"score_out_of_range": 3}
    assert_invariant(ds)


def test_unknown_event_is_quarantined_and_aliases_are_read() -> None:
    ev = pd.DataFrame({"customer_id": ["a"] * 4, "campaign_id": ["k"] * 4,
                       "event_time": ["2026-01-01 10:00"] * 4,
                       "event": ["sent", "Opened", "bounce", "CLICK"]})
    ds = analysis.from_frames(email_events=ev)
    assert list(ds.email_events["event"].astype(str)) == ["sent", "open", "click"]
    assert ds.report.tables["email_events"].quarantined == {"unknown_event": 1}
    note = " ".join(ds.report.tables["email_events"].notes)
    assert "'bounce'" in note and "row 4" in note


def test_events_before_signup_and_after_dataset_end_are_quarantined() -> None:
    customers = pd.DataFrame({"customer_id": ["a"], "signup_date": ["2026-03-01"]})
    orders = pd.DataFrame({"customer_id": ["a", "a", "a"],
                           "order_date": ["2026-02-28", "2026-03-01", "2026-11-01"],
                           "amount": [1, 2, 3]})
    cfg = DatasetConfig(observed_until="2026-10-31")
    ds = analysis.from_frames(customers=customers, orders=orders, config=cfg)
    assert list(ds.orders["amount"]) == [2.0]
    assert ds.report.tables["orders"].quarantined == {"after_dataset_end": 1, "before_signup": 1}
    assert ds.observed_until == pd.Timestamp("2026-10-31")
    assert_invariant(ds)


def test_event_on_the_last_day_with_a_time_is_inside_the_dataset() -> None:
    ev = pd.DataFrame({"customer_id": ["a"], "campaign_id": ["k"],
                       "event_time": ["2026-10-31 23:59:00"], "event": ["open"]})
    ds = analysis.from_frames(email_events=ev, config=DatasetConfig(observed_until="2026-10-31"))
    assert len(ds.email_events) == 1


def test_duplicate_customers_and_churn_before_signup() -> None:
    customers = pd.DataFrame({"customer_id": ["a", "a", "b"],
                              "signup_date": ["2026-01-01", "2026-02-01", "2026-05-01"],
                              "churn_date": [None, None, "2026-04-01"]})
    orders = pd.DataFrame({"customer_id": ["a"], "order_date": ["2026-06-01"]})
    ds = analysis.from_frames(customers=customers, orders=orders)
    rep = ds.report.tables["customers"]
    assert rep.quarantined == {"duplicate_customer_id": 1, "churn_before_signup": 1}
    assert list(ds.customers["customer_id"]) == ["a"]
    assert ds.customers["signup_date"].iloc[0] == pd.Timestamp("2026-01-01")


def test_duplicates_can_be_kept_for_logs_without_event_ids(tmp_path: Path) -> None:
    write(tmp_path, "orders.csv", "customer_id,order_date,amount\na,2026-01-01,5\na,2026-01-01,5\n")
    write(tmp_path, "dataset.yml", "tables:\n  orders:\n    duplicates: keep\n")
    ds = analysis.load(tmp_path)
    assert len(ds.orders) == 2 and ds.report.rows_quarantined == 0
    assert any("kept as distinct events" in n for n in ds.report.tables["orders"].notes)


def test_parquet_with_ids_stored_as_floats(tmp_path: Path) -> None:
    pd.DataFrame({"customer_id": [17850.0, 12.0], "event_date": pd.to_datetime(["2026-01-01", "2026-01-02"]),
                  "feature": ["export", "report"]}).to_parquet(tmp_path / "usage.parquet")
    ds = analysis.load(tmp_path)
    assert list(ds.usage["customer_id"]) == ["17850", "12"]
    assert list(ds.usage["sessions"]) == [1.0, 1.0]     # sessions default to 1


def test_gzipped_csv_is_read(tmp_path: Path) -> None:
    pd.DataFrame({"customer_id": ["a"], "order_date": ["2026-01-01"], "amount": ["3.5"]}).to_csv(
        tmp_path / "orders.csv.gz", index=False)
    ds = analysis.load(tmp_path)
    assert ds.orders["amount"].tolist() == [3.5]


def test_orders_without_amount_are_usable_and_said() -> None:
    ds = analysis.from_frames(orders=pd.DataFrame({"customer_id": ["a"], "order_date": ["2026-01-01"]}))
    assert not ds.has_amounts
    assert any("no amount column" in n for n in ds.report.tables["orders"].notes)


def test_unknown_config_key_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "orders.csv", "customer_id,order_date\na,2026-01-01\n")
    write(tmp_path, "dataset.yml", "busines_model: contractual\n")
    with pytest.raises(ConfigError, match="busines_model"):
        analysis.load(tmp_path)


# ----------------------------------------------------------- parsing helpers
def test_normalise_ids_keeps_padding_and_fixes_floats() -> None:
    s, n = normalise_ids(pd.Series(["00042", "17850.0", " 7 ", "A-1"]))
    assert list(s) == ["00042", "17850", "7", "A-1"] and n == 1


def test_parse_dates_mixed_formats_and_time_zones() -> None:
    out, used = parse_dates(pd.Series(["2026-10-31", "31/10/2026", "20261031", "2026-10-31T12:00:00+02:00", "x"]))
    assert list(out[:3]) == [pd.Timestamp("2026-10-31")] * 3
    assert out[3] == pd.Timestamp("2026-10-31 12:00")  # no timezone key: local time as written (#13)
    assert pd.isna(out[4])
    assert used == {"ISO8601": 3, "%d/%m/%Y": 1}   # 20261031 is ISO 8601 basic format
    utc, _ = parse_dates(pd.Series(["2026-10-31T12:00:00+02:00"]), timezone="UTC")
    assert utc[0] == pd.Timestamp("2026-10-31 10:00")


def test_parse_numbers_detects_the_decimal_mark() -> None:
    vals, mark = parse_numbers(pd.Series(["1 234,5", "12,00", "-3,25"]))
    assert mark == "," and list(vals) == [1234.5, 12.0, -3.25]
    vals, mark = parse_numbers(pd.Series(["1,234.5", "12.00"]))
    assert mark == "." and list(vals) == [1234.5, 12.0]


# ------------------------------------------------------------------- CDNOW
def test_cdnow_loads_through_its_mapping_alone() -> None:
    ds = analysis.load(ROOT / "examples" / "cdnow")
    assert len(ds.orders) == 69_659
    assert len(ds.customers) == 23_570
    assert ds.orders["order_date"].min() == pd.Timestamp("1997-01-01")
    assert ds.orders["order_date"].max() == pd.Timestamp("1998-06-30")
    assert ds.customers["customer_id"].iloc[0] == "00001"    # zero padding kept
    assert ds.config.business_model == "non_contractual"
    assert ds.orders["amount"].sum() == pytest.approx(2_500_315.63, abs=0.01)
    assert_invariant(ds)


def test_quarantine_can_mask_personal_columns(french_export: Path, tmp_path: Path) -> None:
    (french_export / "clients.csv").write_bytes(
        "customer_id;raison_sociale;secteur;signup_date\n"
        "17850;Société Générale;Énergie;01/01/2026\n"
        "17850;Société Générale;Énergie;01/01/2026\n".encode("latin-1"))
    ds = analysis.load(french_export)
    ds.report.write_quarantine(tmp_path / "masked", mask_columns=("raison_sociale",))
    q = pd.read_csv(tmp_path / "masked" / "quarantine" / "customers.csv", dtype=str)
    assert list(q["raison_sociale"]) == ["***"] and list(q["customer_id"]) == ["17850"]
    assert list(q["reason"]) == ["duplicate_row"]
