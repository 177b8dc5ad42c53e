"""pg_pipeline's mage_ai.settings (see mage_ai/__init__.py)."""

from mage_ai._unsupported import module_getattr

__getattr__ = module_getattr(__name__)
