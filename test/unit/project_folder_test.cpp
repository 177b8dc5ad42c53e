// A project folder is read without leaving it: no "..", no absolute paths, no symbolic links
// (to files or folders), nothing but regular files, nothing over the bound.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/error.hpp"
#include "core/project_folder.hpp"

using namespace pgpipe::core;

namespace {

class FolderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/pgpipe_folder_test_XXXXXX";
    dir_ = mkdtemp(pattern);
    std::filesystem::create_directories(dir_ + "/a/b");
    std::ofstream(dir_ + "/a/b/file.txt") << "hello";
    std::ofstream(dir_ + "/secret.txt") << "outside";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // The message of the error reading `relative` from folder `root`.
  std::string ErrorOf(const ProjectFolder& folder, const std::string& relative) {
    try {
      folder.Read(relative);
    } catch (const Error& e) {
      return std::string(e.sqlstate()) + " " + e.message();
    }
    return "no error";
  }

  std::string dir_;
};

}  // namespace

TEST_F(FolderTest, ReadsInside) {
  ProjectFolder folder(dir_ + "/a", 100);
  EXPECT_EQ(folder.Read("b/file.txt"), std::optional<std::string>("hello"));
  EXPECT_EQ(folder.Read("b/missing.txt"), std::nullopt);
  EXPECT_EQ(folder.Read("b/file.txt/deeper"), std::nullopt);
  EXPECT_TRUE(folder.Exists("b"));
  EXPECT_EQ(folder.SubFolders(""), std::vector<std::string>{});  // ("" is not a path inside)
  EXPECT_EQ(folder.name(), "a");
}

TEST_F(FolderTest, NeverLeaves) {
  ProjectFolder folder(dir_ + "/a", 100);
  EXPECT_EQ(ErrorOf(folder, "../secret.txt"),
            "42501 path \"../secret.txt\" is not inside the project folder: it goes up out of the folder with \"..\"");
  EXPECT_EQ(ErrorOf(folder, dir_ + "/secret.txt").substr(0, 6), "42501 ");
  EXPECT_EQ(ErrorOf(folder, "b//file.txt").substr(0, 6), "42501 ");
  EXPECT_FALSE(folder.Exists("../secret.txt"));
}

TEST_F(FolderTest, NeverFollowsLinks) {
  ASSERT_EQ(symlink((dir_ + "/secret.txt").c_str(), (dir_ + "/a/link.txt").c_str()), 0);
  ASSERT_EQ(symlink(dir_.c_str(), (dir_ + "/a/up").c_str()), 0);
  ProjectFolder folder(dir_ + "/a", 100);
  EXPECT_EQ(ErrorOf(folder, "link.txt"),
            "42501 \"link.txt\" is or goes through a symbolic link, which the import does not follow");
  EXPECT_EQ(ErrorOf(folder, "up/secret.txt"),
            "42501 \"up/secret.txt\" is or goes through a symbolic link, which the import does not follow");
  EXPECT_FALSE(folder.Exists("link.txt"));
  std::vector<std::string> links;
  EXPECT_EQ(folder.SubFolders(".", &links).size(), 0u);  // ("." is refused too)
  ProjectFolder root(dir_, 100);
  EXPECT_EQ(root.SubFolders("a", &links), std::vector<std::string>{"b"});
  EXPECT_EQ(links, std::vector<std::string>{"up"});
}

TEST_F(FolderTest, OnlyRegularFilesWithinTheBound) {
  ASSERT_EQ(mkfifo((dir_ + "/a/fifo").c_str(), 0600), 0);
  ProjectFolder folder(dir_ + "/a", 3);
  EXPECT_EQ(ErrorOf(folder, "fifo"), "58030 \"fifo\" is not a regular file");
  EXPECT_EQ(ErrorOf(folder, "b"), "58030 \"b\" is not a regular file");
  EXPECT_EQ(ErrorOf(folder, "b/file.txt"), "54000 \"b/file.txt\" is 5 bytes, more than the limit of 3 bytes");
}

TEST_F(FolderTest, AFolderThatIsNotThere) {
  EXPECT_THROW(ProjectFolder(dir_ + "/nope", 10), Error);
}
