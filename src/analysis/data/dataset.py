"""The validated dataset: one object holding every table of an export and its validation.

>>> import analysis
>>> ds = analysis.load("data/sample")            # doctest: +SKIP
>>> ds.orders.head()                              # doctest: +SKIP
>>> print(ds.report.to_text())                    # doctest: +SKIP

Tables are pandas DataFrames with the canonical columns of :mod:`analysis.data.schema`.
``customers`` is always present after loading: customers seen only in activity tables
get a row with ``signup_date`` = their first activity, and a blank ``signup_date`` is
filled the same way (both counted in the report).

:func:`load` validates an export once: it then writes a validated copy (Parquet tables and
the validation report, :mod:`analysis.data.cache`) that every later load of the same files
reads instead, so a monthly report validates its export once for all its notebooks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analysis.data.cache import CachedValidation, dataset_hash, read_entry, write_entry
from analysis.data.config import DatasetConfig, read_config, warn_undeclared_business_model
from analysis.data.personal import detect_personal_columns
from analysis.data.reading import find_table_file, read_raw
from analysis.data.schema import ACTION_TABLES, ACTIVITY_TABLES, TABLES
from analysis.data.validation import TableReport, ValidationReport, aggregate_orders, validate_table
from analysis.errors import DataError

__all__ = ["BaseContext", "Dataset", "load", "from_frames"]


@dataclass(frozen=True)
class BaseContext:
    """Whole-base quantities that per-customer code needs when it runs on a partition.

    A partition (:mod:`analysis.data.partitions`) is a :class:`Dataset` holding the rows of
    one bucket of customers. Almost everything computed per customer depends on that
    customer's rows only; the few exceptions read these small whole-base summaries instead
    of the partition's own rows, so a partition gives the numbers of the whole base.

    Attributes
    ----------
    personal_columns, segment_columns : of the whole customers table.
    usage_feature_days : distinct ``feature`` (string) / ``day`` (int64, days since
        1970-01-01) pairs of usage events with a feature, whole base (the usage DUI's
        denominator); None without usage.
    revenue_by_day : ``day`` (int64) and ``amount`` (net order amount of that day, whole
        base; the revenue share's denominator); None without amounts.
    kept_tables : the tables of the whole base that kept at least one row: a partition
        ``has`` such a table even when its own customers have no row in it (they then get
        the values of a customer without rows, not those of a base without the table);
        None: the partition's own rows decide.
    """

    personal_columns: tuple[str, ...] = ()
    segment_columns: tuple[str, ...] = ()
    usage_feature_days: pd.DataFrame | None = None
    revenue_by_day: pd.DataFrame | None = None
    kept_tables: tuple[str, ...] | None = None


@dataclass
class Dataset:
    """Validated tables of one export.

    Attributes
    ----------
    customers : customer_id, signup_date, churn_date, segment attributes (always present).
    orders : customer_id, order_date, amount (if exported), order_id, is_refund; or None.
    email_events : customer_id, campaign_id, event_time, event; or None.
    nps : customer_id, response_date, score, trigger; or None.
    usage : customer_id, event_date, feature, sessions, minutes; or None.
    interventions : customer_id, action_date, action, campaign_id, group, variant, cost,
        channel, owner (what the team did; never an interaction of the customer); or None.
    config : the :class:`~analysis.data.config.DatasetConfig` used.
    report : the :class:`~analysis.data.validation.ValidationReport`.
    observed_from, observed_until : first and last day covered by the export.
    base : None for a whole export; for a partition of customers, the
        :class:`BaseContext` of the whole base (see :mod:`analysis.data.partitions`).
    """

    customers: pd.DataFrame
    orders: pd.DataFrame | None = None
    email_events: pd.DataFrame | None = None
    nps: pd.DataFrame | None = None
    usage: pd.DataFrame | None = None
    interventions: pd.DataFrame | None = None
    config: DatasetConfig = field(default_factory=DatasetConfig)
    report: ValidationReport = field(default_factory=ValidationReport)
    path: Path | None = None
    observed_from: pd.Timestamp | None = None
    observed_until: pd.Timestamp | None = None
    #: personal columns found once per dataset (a point-in-time copy keeps its parent's)
    _personal: list[str] | None = field(default=None, init=False, repr=False, compare=False)
    base: BaseContext | None = field(default=None, repr=False, compare=False)

    # ------------------------------------------------------------------ tables
    def has(self, table: str) -> bool:
        """True if ``table`` was provided and kept at least one row (for a partition: in the
        whole base, :attr:`BaseContext.kept_tables`)."""
        frame = getattr(self, table, None)
        if frame is not None and self.base is not None and self.base.kept_tables is not None:
            return table in self.base.kept_tables
        return frame is not None and not frame.empty

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables present, by canonical name."""
        return {t: getattr(self, t) for t in TABLES if getattr(self, t) is not None}

    @property
    def has_amounts(self) -> bool:
        """True if orders carry an amount (monetary features are possible)."""
        return self.has("orders") and "amount" in self.orders.columns

    def segment_columns(self, max_levels: int = 30) -> list[str]:
        """Customer attributes usable as segments: not personal, at most ``max_levels`` values."""
        if self.base is not None:  # a partition: the segments of the whole base
            return list(self.base.segment_columns)
        base = {"customer_id", "signup_date", "churn_date"}
        personal = set(self.personal_columns())
        cols = []
        for col in self.customers.columns:
            if col in base or col in personal:
                continue
            if self.customers[col].nunique(dropna=True) <= max_levels:
                cols.append(col)
        return cols

    def personal_columns(self) -> list[str]:
        """Customer attributes holding personal data: declared in the config, or detected by
        name or content (:func:`analysis.data.personal.detect_personal_columns`). Never
        segment attributes; masked in every copy meant for people."""
        if self._personal is None and self.base is not None:
            self._personal = list(self.base.personal_columns)
        if self._personal is None:
            attrs = self.customers.drop(columns=["signup_date", "churn_date"], errors="ignore")
            found = detect_personal_columns(attrs, self.config.personal_columns, skip=("customer_id",))
            self._personal = [c for c in found if c != "customer_id"]
        return list(self._personal)

    # ------------------------------------------------------------- derived views
    def interactions(self, kinds: tuple[str, ...] | None = None) -> pd.DataFrame:
        """Significant interactions of every customer, strongest kinds first in the weights.

        Purchases are orders that are not refunds; a support interaction is an NPS answer
        triggered by support; product use is a usage event; reply, click and open come
        from email events.

        Returns
        -------
        DataFrame with columns ``customer_id`` (string), ``time`` (datetime64[ns]),
        ``kind`` (string, one of :data:`analysis.data.schema.INTERACTION_KINDS`), ``weight``
        (float, from the config), sorted by customer_id then time.
        """
        kinds = tuple(kinds or self.config.significant_interactions)
        parts = []
        if "purchase" in kinds and self.has("orders"):
            o = self.orders.loc[~self.orders["is_refund"], ["customer_id", "order_date"]]
            parts.append(o.rename(columns={"order_date": "time"}).assign(kind="purchase"))
        if "support" in kinds and self.has("nps"):
            n = self.nps.loc[self.nps["trigger"].eq("support").fillna(False), ["customer_id", "response_date"]]
            parts.append(n.rename(columns={"response_date": "time"}).assign(kind="support"))
        if "product_use" in kinds and self.has("usage"):
            u = self.usage[["customer_id", "event_date"]]
            parts.append(u.rename(columns={"event_date": "time"}).assign(kind="product_use"))
        email_kinds = [k for k in ("reply", "click", "open") if k in kinds]
        if email_kinds and self.has("email_events"):
            e = self.email_events.loc[self.email_events["event"].isin(email_kinds), ["customer_id", "event_time", "event"]]
            parts.append(e.rename(columns={"event_time": "time", "event": "kind"}).assign(kind=lambda d: d["kind"].astype("string")))
        if not parts:
            return pd.DataFrame({
                "customer_id": pd.Series(dtype="string"), "time": pd.Series(dtype="datetime64[ns]"),
                "kind": pd.Series(dtype="string"), "weight": pd.Series(dtype="float64"),
            })
        out = pd.concat(parts, ignore_index=True)
        out["kind"] = out["kind"].astype("string")
        out["weight"] = out["kind"].map(self.config.interaction_weights).astype("float64")
        return out.sort_values(["customer_id", "time"], kind="stable").reset_index(drop=True)

    def before(self, as_of: str | pd.Timestamp) -> Dataset:
        """A copy holding only events strictly before ``as_of`` (for point-in-time work).

        Customers who signed up on or after ``as_of`` are removed; a ``churn_date`` on or
        after ``as_of`` is not yet known and becomes NaT.
        """
        cut = pd.Timestamp(as_of)
        c = self.customers.loc[self.customers["signup_date"] < cut].copy()
        c.loc[c["churn_date"] >= cut, "churn_date"] = pd.NaT
        kept = {}
        for t in (*ACTIVITY_TABLES, *ACTION_TABLES):
            frame = getattr(self, t)
            if frame is not None:
                kept[t] = frame.loc[frame[TABLES[t].time_column] < cut].reset_index(drop=True)
        past = Dataset(
            customers=c.reset_index(drop=True), config=self.config, report=self.report, path=self.path,
            observed_from=self.observed_from, observed_until=min(self.observed_until, cut - pd.Timedelta(days=1)),
            base=self.base, **kept,
        )
        past._personal = self.personal_columns()  # the same columns at every date
        return past


def _assemble(raw: dict[str, tuple[pd.DataFrame, str, dict]], config: DatasetConfig,
              path: Path | None, external: frozenset[str] = frozenset()) -> Dataset:
    """Validate raw tables, then apply the dataset-level rules (customers, signup, end)."""
    present_activity = [t for t in ACTIVITY_TABLES if t in raw]
    if not present_activity:
        where = f"in {path}" if path else "given"
        raise DataError(
            f"No activity table {where}: expected at least one of "
            f"{', '.join(f'{t}.csv' for t in ACTIVITY_TABLES)} (or .csv.gz / .parquet), "
            "or their file names under 'tables' in dataset.yml."
        )
    end = pd.Timestamp(config.observed_until) if config.observed_until else None
    report = ValidationReport()
    clean: dict[str, pd.DataFrame] = {}
    for table in ("customers", *ACTIVITY_TABLES, *ACTION_TABLES):
        if table not in raw:
            continue
        frame, fname, detected = raw[table]
        tconf = config.table(table)
        opts = config.csv_for(table)
        try:
            df, quarantine, trep = validate_table(
                table, frame, fname, date_format=opts.date_format, decimal=opts.decimal,
                renames=tconf.columns, personal_columns=config.personal_columns,
                observed_until=end, detected=detected, duplicates=tconf.duplicates,
                timezone=config.timezone,
            )
        except DataError as exc:
            if table in external:
                raise _withheld(fname, table, exc) from None
            raise
        clean[table] = df
        report.tables[table] = trep
        report.quarantine[table] = quarantine

    missing = [t for t in ACTIVITY_TABLES if t not in raw]
    if missing:
        report.notes.append(
            f"table(s) not provided: {', '.join(missing)}; the indicators and sections that need "
            "them are skipped."
        )

    # first activity per customer, for customers absent from `customers` or without signup_date
    firsts = [
        clean[t][["customer_id", TABLES[t].time_column]].rename(columns={TABLES[t].time_column: "t"})
        for t in present_activity if not clean[t].empty
    ]
    first = (
        pd.concat(firsts).groupby("customer_id")["t"].min()
        if firsts else pd.Series(dtype="datetime64[ns]")
    )
    if "customers" in clean:
        cust = clean["customers"]
    else:
        cust = pd.DataFrame({
            "customer_id": pd.Series(dtype="string"),
            "signup_date": pd.Series(dtype="datetime64[ns]"),
            "churn_date": pd.Series(dtype="datetime64[ns]"),
        })
        report.notes.append("no customers table: customers are those seen in activity tables, "
                            "signed up at their first activity.")
    unknown = first.index.difference(pd.Index(cust["customer_id"]))
    if len(unknown):
        add = pd.DataFrame({"customer_id": pd.array(unknown, dtype="string"),
                            "signup_date": first.loc[unknown].to_numpy(),
                            "churn_date": pd.NaT})
        if "customers" in clean:
            report.notes.append(
                f"{len(unknown):,} customer(s) appear in activity tables but not in customers; "
                "added with signup_date = first activity."
            )
        cust = pd.concat([cust, add], ignore_index=True)
    blank = cust["signup_date"].isna()
    if blank.any():
        fill = cust.loc[blank, "customer_id"].map(first)
        cust.loc[blank, "signup_date"] = fill
        if "customers" in clean:
            report.notes.append(f"{int(fill.notna().sum()):,} blank signup_date(s) set to the first activity.")
        # customers with neither signup date nor activity cannot be placed in time
        still = cust["signup_date"].isna()
        if still.any():
            q = cust.loc[still].astype("string").assign(reason="no_signup_date_nor_activity")
            report.quarantine["customers"] = pd.concat([report.quarantine["customers"], q])
            _count(report.tables["customers"], "no_signup_date_nor_activity", int(still.sum()))
            report.tables["customers"].rows_kept -= int(still.sum())
        cust = cust.loc[~still]
    cust = cust.reset_index(drop=True)
    cust["customer_id"] = cust["customer_id"].astype("string")
    clean["customers"] = cust

    signup = cust.set_index("customer_id")["signup_date"]
    for table in (*present_activity, *(t for t in ACTION_TABLES if t in clean)):
        df = clean[table]
        tcol = TABLES[table].time_column
        early = df[tcol].dt.normalize() < df["customer_id"].map(signup).dt.normalize()
        if early.any():
            q = df.loc[early].astype("string").assign(reason="before_signup")
            report.quarantine[table] = pd.concat([report.quarantine[table], q])
            _count(report.tables[table], "before_signup", int(early.sum()))
            report.tables[table].rows_kept -= int(early.sum())
            clean[table] = df.loc[~early].reset_index(drop=True)
    if "orders" in clean:  # lines of one order are one purchase (duplicates and dates were judged on lines)
        clean["orders"] = aggregate_orders(clean["orders"], report.tables["orders"],
                                           config.table("orders").cancellation_pattern)

    dates = [clean[t][TABLES[t].time_column] for t in present_activity if not clean[t].empty]
    lo = min(d.min() for d in dates) if dates else None
    hi = end if end is not None else (max(d.max() for d in dates).normalize() if dates else None)
    if end is None and hi is not None:
        report.notes.append(f"observed_until not set: the export is taken to end on {hi.date()}, its last event.")
    if "customers" in report.tables:
        report.tables["customers"].customers = len(cust)
        attrs = cust.drop(columns=["customer_id", "signup_date", "churn_date"], errors="ignore")
        found = detect_personal_columns(attrs, config.personal_columns)
        undeclared = [c for c, why in found.items() if why != "declared"]
        if undeclared:
            report.tables["customers"].notes.append(
                f"personal column(s) {', '.join(undeclared)} recognised by name or content (not declared in "
                "personal_columns): never segments, masked in client copies."
            )
    return Dataset(
        customers=cust, orders=clean.get("orders"), email_events=clean.get("email_events"),
        nps=clean.get("nps"), usage=clean.get("usage"), interventions=clean.get("interventions"),
        config=config, report=report, path=path,
        observed_from=lo.normalize() if lo is not None else None, observed_until=hi,
    )


def _withheld(fname: str, table: str, exc: DataError) -> DataError:
    """The error of a file outside the dataset folder, without any of its content."""
    kind = "required column missing or not mapped" if "column" in str(exc) else "unusable content"
    return DataError(
        f"{fname}: cannot be used as table '{table}' ({kind}); the file lies outside the dataset "
        "folder, so its content is not echoed. Check tables." + table + " in dataset.yml."
    )


def _count(rep: TableReport, reason: str, n: int) -> None:
    rep.quarantined[reason] = rep.quarantined.get(reason, 0) + n


def load(path: str | Path, *, config: DatasetConfig | None = None,
         quarantine_dir: str | Path | None = None, cache: bool = True) -> Dataset:
    """Load the dataset in folder ``path``: validated on first use, then read from its
    validated copy.

    The first load of an export validates it and writes the result (tables as Parquet and
    the validation report) into a cache entry keyed by the dataset's content hash (see
    :mod:`analysis.data.cache`); later loads of the same files and ``dataset.yml``, from
    any process (every notebook of a report), read that copy instead of validating again.
    Both give the same tables and the same report.

    Parameters
    ----------
    path : a folder holding ``customers``, ``orders``, ``email_events``, ``nps`` and/or
        ``usage`` as ``.csv``, ``.csv.gz`` or ``.parquet``, and optionally ``dataset.yml``.
    config : overrides ``dataset.yml`` entirely when given (the cache is then not used).
    quarantine_dir : if given, rejected rows are written to ``<quarantine_dir>/quarantine/<table>.csv``.
    cache : False validates the export again, neither reading nor writing the cache.

    Raises
    ------
    DataError
        If a table cannot be used at all, or no activity table is present.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder. A dataset is a folder of CSV or Parquet tables.")
    config_given = config is not None
    if config is not None or not cache:
        ds = _validate_folder(folder, config or read_config(folder))
    else:
        config = read_config(folder)
        content = dataset_hash(folder)
        cached = read_entry(folder, content)
        if cached is None:
            ds = _validate_folder(folder, config)
            write_entry(folder, content, CachedValidation(
                tables=ds.tables, report=ds.report, observed_from=ds.observed_from,
                observed_until=ds.observed_until))
        else:
            for table, rep in cached.report.tables.items():
                rep.file = str(find_table_file(folder, table, config.table(table),
                                               allow_external=config.allow_external_files))
            ds = Dataset(**cached.tables, config=config, report=cached.report, path=folder,
                         observed_from=cached.observed_from, observed_until=cached.observed_until)
    if config_given is False and ds.config.business_model == "contractual":
        warn_undeclared_business_model(folder, bool(ds.customers["churn_date"].notna().any()))
    if quarantine_dir is not None:
        ds.report.write_quarantine(quarantine_dir)
    return ds


def _validate_folder(folder: Path, config: DatasetConfig) -> Dataset:
    """Read every table of ``folder`` and validate it (the slow step the cache saves)."""
    raw: dict[str, tuple[pd.DataFrame, str, dict]] = {}
    external: set[str] = set()
    for table in TABLES:
        file = find_table_file(folder, table, config.table(table), allow_external=config.allow_external_files)
        if file is None:
            continue
        outside = not file.resolve().is_relative_to(folder.resolve())
        try:
            rt = read_raw(file, table, config.csv_for(table), engine=config.engine)
        except DataError as exc:
            if outside:
                raise _withheld(str(file), table, exc) from None
            raise
        if outside:
            external.add(table)
        raw[table] = (rt.frame, str(file), rt.detected)
    return _assemble(raw, config, folder, frozenset(external))


def from_frames(*, customers: pd.DataFrame | None = None, orders: pd.DataFrame | None = None,
                email_events: pd.DataFrame | None = None, nps: pd.DataFrame | None = None,
                usage: pd.DataFrame | None = None, config: DatasetConfig | None = None,
                interventions: pd.DataFrame | None = None) -> Dataset:
    """Build a validated :class:`Dataset` from in-memory frames (same rules as :func:`load`).

    Frames may hold strings or typed values, under canonical column names (or names mapped
    in ``config``). Used by tests and by notebooks that build a dataset on the fly.
    """
    given = {"customers": customers, "orders": orders, "email_events": email_events,
             "nps": nps, "usage": usage, "interventions": interventions}
    raw = {t: (f.reset_index(drop=True), f"<{t} frame>", {}) for t, f in given.items() if f is not None}
    return _assemble(raw, config or DatasetConfig(), None)
