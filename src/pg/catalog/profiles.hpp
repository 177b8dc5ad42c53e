// Connection profiles (Mage's io_config.yaml profiles) of a project: rows of pipeline.profiles,
// owned by the project's owner and readable only by roles with its privileges (row-level
// security), since they hold passwords. Written here, as the extension's owner, for a calling
// role that may act as the project's owner; read by the executor for a run (python_block.cpp),
// which sends a Python block the profiles its run's role may read. A Postgres profile means
// this database unless it says "pg_pipeline_remote": true, which points it at the server its
// POSTGRES_HOST, POSTGRES_PORT, POSTGRES_DBNAME, POSTGRES_USER and POSTGRES_PASSWORD name.
#pragma once

#include <string>
#include <vector>

#include "core/mage_config.hpp"

namespace pgpipe::pg {

// Stores (or replaces) profile `profile` of `project`. 42704 when the project does not exist,
// 42501 when the calling role may not act as its owner, 22023 for a bad name or bad settings
// (not an object; pg_pipeline_remote not a boolean; a remote profile without POSTGRES_HOST,
// POSTGRES_DBNAME or POSTGRES_USER). With `merge`, keys already stored and absent from
// `settings_json` are kept (an import does not undo pipeline.set_profile's pg_pipeline_remote).
void SetProfile(const std::string& project, const std::string& profile, const std::string& settings_json,
                bool merge = false);

// Removes profile `profile` of `project`; false when there was none. Same checks as SetProfile.
bool DropProfile(const std::string& project, const std::string& profile);

}  // namespace pgpipe::pg
