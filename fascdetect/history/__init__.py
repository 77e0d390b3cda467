"""History: analysed nights and diary entries kept in one SQLite file, and the report drawn from them.

``store`` is the database (schema, migrations, one transaction per
recording); ``diary`` parses diary entries; ``nights`` turns stored
recordings into per-night figures and plain-word findings; ``report``
renders them as one self-contained HTML file.
"""
