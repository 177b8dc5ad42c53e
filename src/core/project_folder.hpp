// Reading the files of a project folder that someone else may have written (a Mage project
// being imported): never outside the folder, never through a symbolic link, never more than a
// bound. Paths inside the folder are relative ("pipelines/x/metadata.yaml"); each is opened one
// component at a time from the folder's own descriptor with O_NOFOLLOW, so "..", an absolute
// path or a link anywhere on the way (to /etc/passwd, or to a FIFO that would block) is refused
// before anything is read, and renaming things during the walk cannot lead it out.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace pgpipe::core {

class ProjectFolder {
 public:
  // Opens the folder at `dir` (itself may be reached through links: the caller named it).
  // Files read from it may be at most `max_file_bytes` long. Throws core::Error 58030 when it
  // is not a readable folder.
  ProjectFolder(const std::string& dir, size_t max_file_bytes);
  ~ProjectFolder();
  ProjectFolder(const ProjectFolder&) = delete;
  ProjectFolder& operator=(const ProjectFolder&) = delete;

  // The folder's own name (its last path component, links resolved), and its full path.
  const std::string& name() const { return name_; }
  const std::string& path() const { return path_; }
  size_t max_file_bytes() const { return max_file_bytes_; }

  // The text of the regular file at `relative`, or nullopt when nothing is there. Throws
  // core::Error naming the path: 42501 for a path that leaves the folder or goes through a
  // symbolic link, 54000 for a file over the bound, 58030 for anything that is not a regular
  // file or cannot be read.
  std::optional<std::string> Read(const std::string& relative) const;

  // Whether `relative` names something (a file or a folder), by the same walk (links and
  // paths out of the folder count as absent).
  bool Exists(const std::string& relative) const;

  // The names of the folders directly inside the folder `relative`, sorted; links to folders
  // are listed in `links` instead (when given). Empty when `relative` is absent.
  std::vector<std::string> SubFolders(const std::string& relative,
                                      std::vector<std::string>* links = nullptr) const;

  // Why `relative` cannot name a file inside the folder ("" when it can): absolute, "..",
  // ".", empty components.
  static std::string PathProblem(const std::string& relative);

 private:
  // A descriptor of `relative` opened from the folder without following links; -1 and errno
  // when it fails (EXDEV for a path that leaves the folder).
  int Open(const std::string& relative, int flags) const;

  int fd_ = -1;
  std::string path_;
  std::string name_;
  size_t max_file_bytes_;
};

}  // namespace pgpipe::core
