// A directory under $TMPDIR that lives as long as the object, for certificates,
// token files and configs a test writes.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace tether::test {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // Writes `content` to `name` inside the directory and returns the full path.
  std::filesystem::path write(std::string_view name, std::string_view content) const;

 private:
  std::filesystem::path path_;
};

}  // namespace tether::test
