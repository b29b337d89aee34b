"""The warehouse sink (through dlt): `rows` is the pure part (types, keys, hashes, what to load), `sink` the load.

dlt reads its settings from environment variables (and `.dlt/*.toml`) once, when it first starts, so those that are
not the user's to choose are set here, before anything of dlt is imported.
"""

import os

DLT_ENV = {
    # No usage reports to dltHub (dlt's default is on): nothing leaves the machine but the load itself.
    "RUNTIME__DLTHUB_TELEMETRY": "false",
    # Each row says which load wrote it (`_dlt_load_id`), as dlt does for rows it normalises itself.
    "NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID": "true",
    # A loaded package's files are deleted (dlt keeps them by default: the working folder would grow every run),
    # and so are the rows left in the `<dataset>_staging` copy after a merge.
    "LOAD__DELETE_COMPLETED_JOBS": "true",
    "LOAD__TRUNCATE_STAGING_DATASET": "true",
}
os.environ.update(DLT_ENV)
