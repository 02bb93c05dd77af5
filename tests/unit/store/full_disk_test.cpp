// A full disk during a write is kStorageFailure to the caller, never a crash, and the
// store works again once space returns. The disk is a small tmpfs mounted by the
// test, which needs root (CI runs the suite as root).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "daemon/store/durable_store.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/store/store_harness.hpp"

namespace tether::daemon::store::test {
namespace {

namespace fs = std::filesystem;

// Fills the file system holding `path` completely, down to the last block.
void fill(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  const std::string chunk(64 * 1024, 'f');
  std::size_t size = chunk.size();
  while (size > 0) {
    const ssize_t n = ::write(fd, chunk.data(), size);
    if (n < 0 && errno == ENOSPC) {
      size /= 2;
      continue;
    }
    ASSERT_GE(n, 0) << std::strerror(errno);
  }
  ::close(fd);
}

class FullDiskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) {
      GTEST_SKIP() << "needs root to mount a small tmpfs as the full disk (CI runs as root)";
    }
    mount_point_ = dir_.path() / "disk";
    fs::create_directory(mount_point_);
    ASSERT_EQ(::mount("tether-test", mount_point_.c_str(), "tmpfs", 0, "size=2m"), 0)
        << "mounting a tmpfs: " << std::strerror(errno);
    mounted_ = true;
  }
  void TearDown() override {
    if (mounted_) ::umount2(mount_point_.c_str(), MNT_DETACH);
  }

  tether::test::TempDir dir_;
  fs::path mount_point_;
  bool mounted_ = false;
};

TEST_F(FullDiskTest, WritesFailWithStorageFailureAndWorkAgainWhenSpaceReturns) {
  DurableStore::Options options;
  options.directory = mount_point_ / "state";
  const fs::path filler = mount_point_ / "filler";
  {
    StoreHarness harness;
    ASSERT_TRUE(harness.open(options).ok());
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(harness.append("log", "before the disk filled").ok());
    ASSERT_TRUE(harness.put("doc", "old").ok());

    fill(filler);
    // Bigger than any slack left in the database file and its WAL.
    const std::string big(256 * 1024, 'b');
    auto failed = harness.append("log", big);
    ASSERT_FALSE(failed.ok());
    EXPECT_EQ(failed.error().code(), ErrorCode::kStorageFailure) << failed.error().message();
    EXPECT_NE(failed.error().message().find("tether.db"), std::string::npos)
        << failed.error().message();
    DocumentChange change;
    change.puts.push_back(Document{"doc", Bytes(256 * 1024, 'n')});
    change.puts.push_back(Document{"doc2", bytes_of("new")});
    const Status failed_commit = harness.commit(change);
    ASSERT_FALSE(failed_commit.ok());
    EXPECT_EQ(failed_commit.error().code(), ErrorCode::kStorageFailure);

    // Reads still work and nothing of the failed writes is visible.
    auto records = harness.read("log", 0);
    ASSERT_TRUE(records.ok()) << records.error().message();
    EXPECT_EQ(records->size(), 5u);
    auto doc = harness.get("doc");
    ASSERT_TRUE(doc.ok() && doc->has_value());
    EXPECT_EQ(text_of(**doc), "old");
    auto doc2 = harness.get("doc2");
    ASSERT_TRUE(doc2.ok());
    EXPECT_FALSE(doc2->has_value());
    EXPECT_EQ(harness.stats("log").count, 5u);

    fs::remove(filler);
    auto recovered = harness.append("log", big);
    ASSERT_TRUE(recovered.ok()) << recovered.error().message();
    EXPECT_EQ(*recovered, 6u);  // the failed append used no sequence number up
    ASSERT_TRUE(harness.commit(change).ok());
  }
  StoreHarness harness;
  ASSERT_TRUE(harness.open(options).ok());
  EXPECT_EQ(harness.stats("log").count, 6u);
  auto doc2 = harness.get("doc2");
  ASSERT_TRUE(doc2.ok() && doc2->has_value());
  EXPECT_EQ(text_of(**doc2), "new");
}

TEST_F(FullDiskTest, OpeningOnAFullDiskIsAStorageFailure) {
  DurableStore::Options options;
  options.directory = mount_point_ / "state";
  fs::create_directory(options.directory);
  fill(mount_point_ / "filler");
  StoreHarness harness;
  const Status status = harness.open(options);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kStorageFailure);
  EXPECT_NE(status.error().message().find((options.directory / "tether.db").string()),
            std::string::npos)
      << status.error().message();
}

}  // namespace
}  // namespace tether::daemon::store::test
