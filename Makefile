# PGXS build of the pg_pipeline extension: one shared library from src/core (Postgres-free C++)
# and src/pg (the only code that includes Postgres headers), plus the control file and install
# script. `make unit` builds and runs the core's GoogleTest suite through CMake/CTest.
EXTENSION   = pg_pipeline
MODULE_big  = pg_pipeline
# (0.3 has no install script of its own: CREATE EXTENSION runs 0.2's, then the update to 0.3)
DATA        = sql/pg_pipeline--0.1.sql sql/pg_pipeline--0.2.sql \
              sql/pg_pipeline--0.1--0.2.sql sql/pg_pipeline--0.2--0.3.sql
PGFILEDESC  = "pg_pipeline - data pipelines inside PostgreSQL"

CORE_SRCS   = $(sort $(wildcard src/core/*.cpp))
PG_SRCS     = $(sort $(wildcard src/pg/*.cpp src/pg/*/*.cpp))
OBJS        = $(CORE_SRCS:.cpp=.o) $(PG_SRCS:.cpp=.o)

REGRESS      = $(basename $(notdir $(filter-out sql/pg_pipeline--%,$(sort $(wildcard sql/*.sql)))))
REGRESS_OPTS = --outputdir=.tmp/regress --load-extension=plpython3u --load-extension=pg_pipeline

PG_CONFIG  ?= pg_config
PGPIPE_WERROR ?= 1

# JIT bitcode for C++ needs clang; the extension has nothing worth inlining into JIT code.
override with_llvm = no

# -MMD -MP: every object depends on the headers it includes (PGXS tracks none by default), so a
# changed struct in a header rebuilds everything that uses it.
PG_CXXFLAGS = -MMD -MP -std=c++17 -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Wno-register \
              -Isrc
ifeq ($(PGPIPE_WERROR),1)
PG_CXXFLAGS += -Werror
endif
SHLIB_LINK += -lcurl -lisal -lz -lyaml-cpp -lstdc++ -lpthread

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# The Python blocks' runtime (python/pg_pipeline_runtime, python/mage_ai) is installed beside the
# extension's scripts: <sharedir>/extension/pg_pipeline/python.
include python/install.mk
install: install-python
uninstall: uninstall-python

# Core objects are compiled without the server include path: a Postgres header there cannot even
# be found, on top of pg_free.hpp's #error.
src/core/%.o: src/core/%.cpp
	$(CXX) $(filter-out -I%,$(CXXFLAGS)) -Isrc -fPIC -c -o $@ $<

-include $(OBJS:.o=.d)
EXTRA_CLEAN = $(OBJS:.o=.d)

.PHONY: unit format
unit:
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build build -j2
	cd build && ctest --output-on-failure

format:
	clang-format -i src/core/*.cpp src/core/*.hpp src/pg/*.cpp src/pg/*.hpp src/pg/*/*.cpp src/pg/*/*.hpp test/unit/*.cpp
