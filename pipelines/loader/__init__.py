"""The loader: sealed landing files into `pbx55_raw` with dlt, exactly once by key.

load.py             the dlt source, resource and pipeline, and `load_landed_pushes`
typed_pushes.py     landed lines to typed Arrow rows (vectorised in DuckDB)
personal_data.py    HMAC tokens, DDD and masks of callers, documents and e-mails
malformed_lines.py  damaged landing lines set aside so the rest of a file loads
retention.py        expiry of landing files and raw rows
"""
