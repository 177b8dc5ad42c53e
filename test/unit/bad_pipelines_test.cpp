// Every file in test/pipelines/bad must fail with its own precise error: the SQLSTATE, message
// and hint listed for it in test/pipelines/bad/expected_errors.tsv (file<TAB>sqlstate<TAB>
// message<TAB>hint). A bad file without an expectation, or an expectation without a file, fails.
#include <gtest/gtest.h>

#include <dirent.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "core/error.hpp"
#include "core/pipeline_yaml.hpp"

using namespace pgpipe::core;

namespace {

const std::string kDir = std::string(PGPIPE_SOURCE_DIR) + "/test/pipelines/bad/";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Expected {
  std::string sqlstate, message, hint;
};

std::map<std::string, Expected> LoadExpectations() {
  std::map<std::string, Expected> out;
  std::ifstream in(kDir + "expected_errors.tsv");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f;
    std::stringstream ss(line);
    std::string field;
    while (std::getline(ss, field, '\t')) f.push_back(field);
    f.resize(4);
    out[f[0]] = {f[1], f[2], f[3]};
  }
  return out;
}

std::set<std::string> BadFiles() {
  std::set<std::string> files;
  DIR* dir = opendir(kDir.c_str());
  if (!dir) return files;
  while (dirent* entry = readdir(dir)) {
    std::string name = entry->d_name;
    if (name.size() > 5 && name.substr(name.size() - 5) == ".yaml") files.insert(name);
  }
  closedir(dir);
  return files;
}

}  // namespace

TEST(BadPipelines, AtLeastFifteenFilesEachWithAnExpectation) {
  auto files = BadFiles();
  auto expected = LoadExpectations();
  EXPECT_GE(files.size(), 15u);
  for (const auto& f : files) EXPECT_TRUE(expected.count(f)) << f << " has no expectation";
  for (const auto& [f, e] : expected) EXPECT_TRUE(files.count(f)) << f << " is missing";
}

TEST(BadPipelines, EachFailsWithItsOwnPreciseError) {
  auto expected = LoadExpectations();
  std::set<std::string> messages;
  for (const auto& file : BadFiles()) {
    SCOPED_TRACE(file);
    try {
      ParsePipelineYaml(ReadFile(kDir + file));
      ADD_FAILURE() << file << " was accepted";
    } catch (const Error& e) {
      const Expected& want = expected[file];
      EXPECT_EQ(e.sqlstate(), want.sqlstate);
      EXPECT_EQ(std::string(e.message()), want.message);
      EXPECT_EQ(e.hint(), want.hint);
      EXPECT_TRUE(messages.insert(e.message()).second) << "two files share one message";
    }
  }
}
