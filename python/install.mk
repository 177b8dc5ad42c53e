# Installs the Python runtime of Python blocks (python/pg_pipeline_runtime and python/mage_ai)
# into $(datadir)/extension/pg_pipeline/python, where pipeline._python_path() points PL/Python.
# The top-level Makefile includes it after PGXS and hooks it into install and uninstall:
#   include python/install.mk
#   install: install-python
#   uninstall: uninstall-python
PYTHON_SRC_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
PYTHON_DEST    := $(datadir)/extension/pg_pipeline/python
PYTHON_FILES   := $(sort $(shell cd $(PYTHON_SRC_DIR) && find pg_pipeline_runtime mage_ai -name '*.py'))
PYTHON_DIRS    := $(sort $(patsubst %/,%,$(dir $(PYTHON_FILES))))
python_files_in = $(foreach f,$(PYTHON_FILES),$(if $(filter $(1)/,$(dir $(f))),$(PYTHON_SRC_DIR)/$(f)))

.PHONY: install-python uninstall-python

# Copies each package directory's .py files (no __pycache__), replacing an older install.
install-python:
	rm -rf '$(DESTDIR)$(PYTHON_DEST)'
	$(foreach d,$(PYTHON_DIRS),$(MKDIR_P) '$(DESTDIR)$(PYTHON_DEST)/$(d)' && \
	  $(INSTALL_DATA) $(call python_files_in,$(d)) '$(DESTDIR)$(PYTHON_DEST)/$(d)/' &&) true

uninstall-python:
	rm -rf '$(DESTDIR)$(PYTHON_DEST)'
	-rmdir '$(DESTDIR)$(datadir)/extension/pg_pipeline' 2>/dev/null
