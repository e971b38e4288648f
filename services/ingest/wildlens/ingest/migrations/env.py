from wildlens.common.db.migrations import run_env
from wildlens.common.service.platform import attach_tables
from wildlens.ingest.service import service

spec = service()
attach_tables(spec)
assert spec.metadata is not None
run_env(spec.metadata)
