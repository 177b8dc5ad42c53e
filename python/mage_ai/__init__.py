"""pg_pipeline's stand-in for the parts of Mage (mage.ai) that block files import, so the Python
blocks of Mage projects run unchanged inside PostgreSQL. This is not Mage: it is a small,
compatible subset written for pg_pipeline:

  mage_ai.data_preparation.decorators        data_loader, transformer, data_exporter, custom,
                                             sensor, test, condition, callback, on_success,
                                             on_failure
  mage_ai.data_preparation.variable_manager  get_variable (outputs of the run's blocks)
  mage_ai.io.config                          ConfigFileLoader, ConfigKey
  mage_ai.io.postgres                        Postgres (this database unless the profile is remote)
  mage_ai.settings.repo                      get_repo_path

Any other name fails with an error saying pg_pipeline does not support it.
"""

from mage_ai._unsupported import module_getattr

__getattr__ = module_getattr(__name__)
