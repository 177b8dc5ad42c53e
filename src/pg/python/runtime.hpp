// Python blocks in a database: whether it can run them, who may, and making it able to.
//
// Python is an untrusted language: a block's code runs as the server's operating-system user.
// So the function that runs one, pipeline._python_block (PL/Python, python/install.sql), exists
// only once a superuser has PL/Python in the database (CREATE EXTENSION plpython3u before
// pg_pipeline, or pipeline.enable_python() after), and only superusers and members of
// pipeline_python may execute it; so does pipeline._compile_block, the compiler of Mage blocks
// import_project calls (it reads their text with ast and never runs it). Without PL/Python everything else works; Python pipelines are
// refused saying how to enable them.
#pragma once

#include <string>

#include "core/mage_compile.hpp"
#include "pg/boundary.hpp"

namespace pgpipe::pg {

// The role whose members may register and run pipelines with Python blocks.
inline constexpr const char* kPythonRole = "pipeline_python";

// Throws 0A000 saying how to enable Python when this database cannot run Python blocks, and
// 42501 when `role` may not (not a superuser, not a member of pipeline_python). `what` names
// what needs it ("pipeline \"p\" has Python blocks (load, shape)").
void RequirePython(Oid role, const std::string& what);

// Makes this database able to run Python blocks: PL/Python (created when it is installed on the
// server and this is not inside CREATE EXTENSION), then pipeline._python_block, executable by
// pipeline_python, as a member of the extension. Superusers only. Returns false when PL/Python
// is not in the database and cannot be created now (CREATE EXTENSION pg_pipeline before
// plpython3u: nothing to do yet).
bool EnablePython();

// The compiler pipeline.import_project hands Mage Python blocks to (core/mage_compile.hpp):
// pipeline._compile_block, run as the calling role in a subtransaction per block, with the
// profiles of `project` as io_config. Without it (native is false, PL/Python is not enabled, or
// the role may not run Python) nothing is compiled, and `unavailable` says why.
core::MageCompiler ImportCompiler(const std::string& project, bool native);

}  // namespace pgpipe::pg
