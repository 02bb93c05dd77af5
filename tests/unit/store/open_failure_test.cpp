// Every way the database can be unusable at start gives kStorageFailure naming the
// path (the daemon exits 1 with it), and none of them resets the file.
//
// Permissions do not stop root, and these tests run as root in CI: there, the
// unreadable file is opened by a child that has dropped to uid/gid 65534, and the
// unwritable directory is a read-only tmpfs mount.
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "daemon/store/durable_store.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/store/store_harness.hpp"

namespace tether::daemon::store::test {
namespace {

namespace fs = std::filesystem;

DurableStore::Options options_for(const fs::path& directory) {
  DurableStore::Options options;
  options.directory = directory;
  return options;
}

Status open_once(const DurableStore::Options& options) {
  StoreHarness harness;
  return harness.open(options);
}

void expect_storage_failure(const Status& status, const fs::path& path) {
  ASSERT_FALSE(status.ok()) << "opened although it should not";
  std::printf("store error: %s\n", status.error().message().c_str());
  EXPECT_EQ(status.error().code(), ErrorCode::kStorageFailure) << status.error().message();
  EXPECT_NE(status.error().message().find(path.string()), std::string::npos)
      << "the error does not name " << path << ": " << status.error().message();
}

std::string file_content(const fs::path& path) {
  std::string content(fs::file_size(path), '\0');
  std::ifstream in(path, std::ios::binary);
  in.read(content.data(), static_cast<std::streamsize>(content.size()));
  return content;
}

// A database with enough records to span many pages, closed cleanly.
void make_database(const fs::path& directory, int records) {
  StoreHarness harness;
  ASSERT_TRUE(harness.open(options_for(directory)).ok());
  for (int i = 0; i < records; ++i) {
    ASSERT_TRUE(harness.append("log", std::string(1000, static_cast<char>('a' + i % 26))).ok());
  }
}

// Opens the store in a child process running as uid/gid 65534 and returns the error
// code (or -1 on success) and message it reported.
std::pair<int, std::string> open_as_nobody(const DurableStore::Options& options) {
  int fds[2];
  if (::pipe(fds) != 0) return {-2, "pipe failed"};
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    std::string report;
    if (::setgroups(0, nullptr) != 0 || ::setresgid(65534, 65534, 65534) != 0 ||
        ::setresuid(65534, 65534, 65534) != 0) {
      report = "-2 could not drop privileges";
    } else {
      auto loop = EventLoop::create();
      if (!loop.ok()) {
        report = "-2 no loop";
      } else {
        auto opened = DurableStore::open(**loop, options);
        report = opened.ok() ? std::string("-1 opened")
                             : std::to_string(static_cast<int>(opened.error().code())) + " " +
                                   opened.error().message();
      }
    }
    (void)!::write(fds[1], report.data(), report.size());
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string out;
  char buffer[4096];
  ssize_t n = 0;
  while ((n = ::read(fds[0], buffer, sizeof buffer)) > 0)
    out.append(buffer, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  const auto space = out.find(' ');
  if (space == std::string::npos) return {-2, "child said nothing: " + out};
  return {std::stoi(out.substr(0, space)), out.substr(space + 1)};
}

TEST(StoreOpenTest, GarbageFileIsAStorageFailureAndIsLeftAlone) {
  tether::test::TempDir dir;
  const std::string garbage(8192, 'G');
  const fs::path db = dir.write("tether.db", garbage);
  expect_storage_failure(open_once(options_for(dir.path())), db);
  EXPECT_EQ(file_content(db), garbage);
}

TEST(StoreOpenTest, TruncatedDatabaseIsAStorageFailure) {
  tether::test::TempDir dir;
  make_database(dir.path(), 300);
  const fs::path db = dir.path() / "tether.db";
  ASSERT_FALSE(fs::exists(dir.path() / "tether.db-wal") &&
               fs::file_size(dir.path() / "tether.db-wal") > 0);
  const auto size = fs::file_size(db);
  ASSERT_GT(size, 100000u);
  fs::resize_file(db, size / 2);
  expect_storage_failure(open_once(options_for(dir.path())), db);
  EXPECT_EQ(fs::file_size(db), size / 2);
}

TEST(StoreOpenTest, CorruptedPageIsAStorageFailure) {
  tether::test::TempDir dir;
  make_database(dir.path(), 300);
  const fs::path db = dir.path() / "tether.db";
  {
    // Overwrite the middle of the file (b-tree pages of the records) with noise.
    std::fstream file(db, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(static_cast<std::streamoff>(fs::file_size(db) / 2));
    const std::string noise(8192, '\x5a');
    file.write(noise.data(), static_cast<std::streamsize>(noise.size()));
  }
  expect_storage_failure(open_once(options_for(dir.path())), db);
}

TEST(StoreOpenTest, UnreadableFileIsAStorageFailure) {
  tether::test::TempDir dir;
  // A state dir others can enter, holding a database only its owner may read.
  const fs::path state = dir.path() / "state";
  make_database(state, 3);
  fs::permissions(dir.path(), fs::perms::owner_all | fs::perms::others_exec);
  fs::permissions(state, fs::perms::owner_all | fs::perms::others_all);
  const fs::path db = state / "tether.db";
  fs::permissions(db, fs::perms::none);
  if (::geteuid() == 0) {
    auto [code, message] = open_as_nobody(options_for(state));
    std::printf("store error (uid 65534): %s\n", message.c_str());
    EXPECT_EQ(code, static_cast<int>(ErrorCode::kStorageFailure)) << message;
    EXPECT_NE(message.find(db.string()), std::string::npos) << message;
  } else {
    expect_storage_failure(open_once(options_for(state)), db);
  }
}

TEST(StoreOpenTest, DirectoryInPlaceOfTheDatabaseIsAStorageFailure) {
  tether::test::TempDir dir;
  const fs::path db = dir.path() / "tether.db";
  fs::create_directory(db);
  expect_storage_failure(open_once(options_for(dir.path())), db);
  EXPECT_TRUE(fs::is_directory(db));
}

TEST(StoreOpenTest, StateDirThatIsAFileIsAStorageFailure) {
  tether::test::TempDir dir;
  const fs::path not_a_dir = dir.write("state", "plain file");
  expect_storage_failure(open_once(options_for(not_a_dir)), not_a_dir);
}

TEST(StoreOpenTest, UnwritableDirectoryIsAStorageFailure) {
  tether::test::TempDir dir;
  const fs::path state = dir.path() / "state";
  fs::create_directory(state);
  if (::geteuid() == 0) {
    ASSERT_EQ(::mount("tether-test", state.c_str(), "tmpfs", MS_RDONLY, "size=1m"), 0)
        << "mounting a read-only tmpfs: " << std::strerror(errno);
    const Status status = open_once(options_for(state));
    ::umount2(state.c_str(), MNT_DETACH);
    expect_storage_failure(status, state / "tether.db");
  } else {
    fs::permissions(state, fs::perms::owner_read | fs::perms::owner_exec);
    expect_storage_failure(open_once(options_for(state)), state / "tether.db");
  }
}

TEST(StoreOpenTest, ExistingDatabaseInAnUnwritableDirectoryIsAStorageFailure) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "needs root to remount the directory read-only (CI runs as root)";
  }
  tether::test::TempDir dir;
  const fs::path state = dir.path() / "state";
  fs::create_directory(state);
  ASSERT_EQ(::mount("tether-test", state.c_str(), "tmpfs", 0, "size=4m"), 0)
      << std::strerror(errno);
  make_database(state, 3);
  ASSERT_EQ(::mount(nullptr, state.c_str(), nullptr, MS_REMOUNT | MS_RDONLY, nullptr), 0)
      << std::strerror(errno);
  const Status status = open_once(options_for(state));
  ::umount2(state.c_str(), MNT_DETACH);
  expect_storage_failure(status, state / "tether.db");
}

TEST(StoreOpenTest, NewerSchemaVersionIsRefusedNotDowngraded) {
  tether::test::TempDir dir;
  make_database(dir.path(), 1);
  const fs::path db = dir.path() / "tether.db";
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "PRAGMA user_version = 99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(raw);
  const Status status = open_once(options_for(dir.path()));
  expect_storage_failure(status, db);
  EXPECT_NE(status.error().message().find("99"), std::string::npos);
}

TEST(StoreOpenTest, ASecondStoreOnTheSameDatabaseIsRefused) {
  tether::test::TempDir dir;
  StoreHarness first;
  ASSERT_TRUE(first.open(options_for(dir.path())).ok());
  expect_storage_failure(open_once(options_for(dir.path())), dir.path() / "tether.db");
  // The first one is unaffected.
  ASSERT_TRUE(first.append("log", "still works").ok());
}

}  // namespace
}  // namespace tether::daemon::store::test
