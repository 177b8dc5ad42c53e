// Confined, bounded reading of a project folder: see project_folder.hpp.
#include "core/project_folder.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "core/error.hpp"
#include "core/pg_free.hpp"

namespace pgpipe::core {

namespace {

// Closes a descriptor when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// The path's components ("a/b//c" has an empty one, which PathProblem refuses).
std::vector<std::string> Components(const std::string& relative) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t slash = relative.find('/', start);
    out.push_back(relative.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return out;
}

// `s` in double quotes, for messages.
std::string Quoted(const std::string& s) { return "\"" + s + "\""; }

}  // namespace

// Resolves the folder once (the caller named it, links and all), then keeps its descriptor.
ProjectFolder::ProjectFolder(const std::string& dir, size_t max_file_bytes)
    : max_file_bytes_(max_file_bytes) {
  char resolved[PATH_MAX];
  if (dir.empty() || realpath(dir.c_str(), resolved) == nullptr)
    throw Error(sqlstate::kIoError, "project folder " + Quoted(dir) + " does not exist");
  path_ = resolved;
  fd_ = open(resolved, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd_ < 0)
    throw Error(sqlstate::kIoError, "could not open project folder " + Quoted(dir) + ": " + std::strerror(errno));
  name_ = path_.substr(path_.find_last_of('/') + 1);
}

// Closes the folder's descriptor.
ProjectFolder::~ProjectFolder() {
  if (fd_ >= 0) close(fd_);
}

// Checked on the text alone, before anything is opened.
std::string ProjectFolder::PathProblem(const std::string& relative) {
  if (relative.empty()) return "it is empty";
  if (relative[0] == '/') return "it is an absolute path";
  if (relative.find('\0') != std::string::npos) return "it holds a NUL byte";
  for (const auto& c : Components(relative)) {
    if (c == "..") return "it goes up out of the folder with \"..\"";
    if (c.empty() || c == ".") return "it has an empty or \".\" component";
  }
  return "";
}

// One openat per component, each without following a link.
int ProjectFolder::Open(const std::string& relative, int flags) const {
  if (!PathProblem(relative).empty()) {
    errno = EXDEV;
    return -1;
  }
  std::vector<std::string> parts = Components(relative);
  int dir = fd_;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    int next = openat(dir, parts[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int error = errno;
    // (O_DIRECTORY makes a link fail with ENOTDIR, like a file would: tell them apart)
    struct stat st;
    if (next < 0 && fstatat(dir, parts[i].c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) error = ELOOP;
    if (dir != fd_) close(dir);
    if (next < 0) {
      errno = error;
      return -1;
    }
    dir = next;
  }
  int fd = openat(dir, parts.back().c_str(), flags | O_NOFOLLOW | O_CLOEXEC);
  int error = errno;
  if (dir != fd_) close(dir);
  errno = error;
  return fd;
}

// Opened by Open, checked by fstat, read up to the bound.
std::optional<std::string> ProjectFolder::Read(const std::string& relative) const {
  std::string problem = PathProblem(relative);
  if (!problem.empty())
    throw Error(sqlstate::kInsufficientPrivilege,
                "path " + Quoted(relative) + " is not inside the project folder: " + problem);
  // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused just below).
  Fd file(Open(relative, O_RDONLY | O_NONBLOCK));
  if (file.get() < 0) {
    int error = errno;
    if (error == ENOENT) return std::nullopt;
    if (error == ELOOP || error == ENOTDIR) {
      // A link somewhere on the way (O_NOFOLLOW), or a file where a folder should be.
      if (error == ELOOP)
        throw Error(sqlstate::kInsufficientPrivilege,
                    Quoted(relative) + " is or goes through a symbolic link, which the import does not follow",
                    "", "Copy the file into the project folder.");
      return std::nullopt;
    }
    throw Error(sqlstate::kIoError, "could not open " + Quoted(relative) + ": " + std::strerror(error));
  }
  struct stat st;
  if (fstat(file.get(), &st) != 0)
    throw Error(sqlstate::kIoError, "could not read " + Quoted(relative) + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw Error(sqlstate::kIoError, Quoted(relative) + " is not a regular file");
  auto too_big = [&](size_t bytes) {
    return Error(sqlstate::kProgramLimitExceeded,
                 Quoted(relative) + " is " + std::to_string(bytes) + " bytes, more than the limit of " +
                     std::to_string(max_file_bytes_) + " bytes",
                 "", "An administrator can raise pipeline.max_pipeline_size.");
  };
  if (static_cast<uint64_t>(st.st_size) > max_file_bytes_) throw too_big(static_cast<size_t>(st.st_size));
  std::string text;
  text.reserve(static_cast<size_t>(st.st_size));
  char buffer[65536];
  while (true) {
    ssize_t n = read(file.get(), buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(sqlstate::kIoError, "could not read " + Quoted(relative) + ": " + std::strerror(errno));
    }
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
    if (text.size() > max_file_bytes_) throw too_big(text.size());  // (it grew while read)
  }
  return text;
}

// Opened by Open as a path only.
bool ProjectFolder::Exists(const std::string& relative) const {
  // (O_PATH with O_NOFOLLOW opens a link itself: fstat tells it apart)
  Fd file(Open(relative, O_PATH));
  struct stat st;
  return file.get() >= 0 && fstat(file.get(), &st) == 0 && !S_ISLNK(st.st_mode);
}

// Listed from the folder's descriptor; each entry is looked at without following it.
std::vector<std::string> ProjectFolder::SubFolders(const std::string& relative,
                                                   std::vector<std::string>* links) const {
  std::vector<std::string> out;
  int fd = Open(relative, O_RDONLY | O_DIRECTORY);
  if (fd < 0) return out;
  DIR* d = fdopendir(fd);
  if (d == nullptr) {
    close(fd);
    return out;
  }
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st;
    if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      out.push_back(name);
    } else if (S_ISLNK(st.st_mode) && links != nullptr) {
      struct stat target;
      if (fstatat(dirfd(d), e->d_name, &target, 0) == 0 && S_ISDIR(target.st_mode)) links->push_back(name);
    }
  }
  closedir(d);  // (closes fd)
  std::sort(out.begin(), out.end());
  if (links) std::sort(links->begin(), links->end());
  return out;
}

}  // namespace pgpipe::core
