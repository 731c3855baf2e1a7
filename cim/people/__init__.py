"""人·地·房 — people, land and housing: housing units, residents and land-use rights in the model.

``cim.people.profile`` says what the tables hold (fields, types, levels, header synonyms);
``cim.people.ingest`` is the ingest pipeline's reader for CSV and Excel; ``cim.people.read`` reads
them for a role — rows masked field by field for roles with person access, k-anonymous counts for
the others — and writes each read of person-level fields to the audit trail (``cim.audit``).
"""
