// The artifact download against a local HTTPS server: resume after a cut and after a
// "restart" (a partial file left behind), retries with backoff, size limits, final
// errors, a wrong CA, free space and cancellation.
#include <gtest/gtest.h>

#include <curl/curl.h>
#include <openssl/sha.h>

#include <thread>

#include "plugins/update/artifact_download.hpp"
#include "tests/support/artifact_server.hpp"
#include "tests/support/certificates.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/update/key_tools.hpp"

namespace tether::plugins::update {
namespace {

using namespace std::chrono_literals;

std::string make_artifact(std::size_t size) {
  std::string data(size, '\0');
  std::uint32_t x = 12345;
  for (auto& c : data) {
    x = x * 1103515245U + 12345U;
    c = static_cast<char>(x >> 24U);
  }
  return data;
}

std::string hex_sha256(const std::string& data) {
  Sha256Digest d{};
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), d.data());
  return to_hex(d);
}

class DownloadTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { curl_global_init(CURL_GLOBAL_DEFAULT); }

  void SetUp() override {
    auto certs = tether::test::Certificates::make(dir_.path());
    ASSERT_TRUE(certs) << certs.error().message();
    certs_ = *certs;
    auto server = tether::test::ArtifactServer::start(certs_.server_cert, certs_.server_key);
    ASSERT_TRUE(server) << server.error().message();
    server_ = std::move(server.value());
    artifact_ = make_artifact(300 * 1024);
    server_->publish("/a.bin", artifact_);
  }

  DownloadRequest request() const {
    DownloadRequest r;
    r.url = server_->url("/a.bin");
    r.size = artifact_.size();
    r.path = dir_.path() / "artifact";
    r.ca_file = certs_.ca_cert.string();
    r.first_backoff = 20ms;
    r.max_backoff = 100ms;
    r.attempts = 4;
    return r;
  }

  tether::test::TempDir dir_;
  tether::test::CertificateSet certs_;
  std::unique_ptr<tether::test::ArtifactServer> server_;
  std::string artifact_;
  CancelToken cancel_;
};

TEST_F(DownloadTest, DownloadsAndHashesWhileWriting) {
  std::vector<std::uint64_t> seen;
  auto result = download_artifact(request(), cancel_, [&](std::uint64_t b) { seen.push_back(b); });
  ASSERT_TRUE(result) << result.error().message();
  EXPECT_EQ(result->bytes, artifact_.size());
  EXPECT_EQ(to_hex(result->sha256), hex_sha256(artifact_));
  EXPECT_EQ(test::slurp(dir_.path() / "artifact"), artifact_);
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back(), artifact_.size());
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
}

TEST_F(DownloadTest, ResumesWithRangeAfterTheServerCutsHalfWay) {
  server_->cut_next_after(artifact_.size() / 2);
  auto result = download_artifact(request(), cancel_, {});
  ASSERT_TRUE(result) << result.error().message();
  EXPECT_EQ(result->attempts, 2U);
  EXPECT_EQ(to_hex(result->sha256), hex_sha256(artifact_));
  EXPECT_EQ(test::slurp(dir_.path() / "artifact"), artifact_);
  auto ranges = server_->range_starts();
  ASSERT_EQ(ranges.size(), 2U);
  EXPECT_EQ(ranges[0], 0U);
  EXPECT_EQ(ranges[1], artifact_.size() / 2);
}

TEST_F(DownloadTest, ResumesAPartialFileLeftByAnEarlierRun) {
  // What a daemon killed mid-download leaves behind.
  dir_.write("artifact", artifact_.substr(0, 100000));
  auto result = download_artifact(request(), cancel_, {});
  ASSERT_TRUE(result) << result.error().message();
  EXPECT_EQ(to_hex(result->sha256), hex_sha256(artifact_));
  EXPECT_EQ(test::slurp(dir_.path() / "artifact"), artifact_);
  EXPECT_EQ(server_->range_starts(), std::vector<std::uint64_t>{100000});
}

TEST_F(DownloadTest, RetriesServerErrorsWithBackoff) {
  server_->fail_next(503, 2);
  const auto start = std::chrono::steady_clock::now();
  auto result = download_artifact(request(), cancel_, {});
  ASSERT_TRUE(result) << result.error().message();
  EXPECT_EQ(result->attempts, 3U);
  // 20 ms then 40 ms of backoff: never a tight loop.
  EXPECT_GE(std::chrono::steady_clock::now() - start, 60ms);
}

TEST_F(DownloadTest, GivesUpAfterTheAttempts) {
  server_->fail_next(503, 100);
  auto result = download_artifact(request(), cancel_, {});
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message().find("HTTP 503"), std::string::npos);
  EXPECT_EQ(server_->requests(), 4U);
}

TEST_F(DownloadTest, ClientErrorIsFinal) {
  auto r = request();
  r.url = server_->url("/missing.bin");
  auto result = download_artifact(r, cancel_, {});
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message().find("HTTP 404"), std::string::npos);
  EXPECT_EQ(server_->requests(), 1U);
}

TEST_F(DownloadTest, MoreBytesThanOfferedStopsAtOnce) {
  auto r = request();
  r.size = artifact_.size() - 1000;
  auto result = download_artifact(r, cancel_, {});
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message().find("size mismatch"), std::string::npos);
  EXPECT_EQ(server_->requests(), 1U);
}

TEST_F(DownloadTest, FewerBytesThanOfferedEndsShort) {
  auto r = request();
  r.size = artifact_.size() + 1000;
  auto result = download_artifact(r, cancel_, {});
  ASSERT_TRUE(result) << result.error().message();
  EXPECT_EQ(result->bytes, artifact_.size());
}

TEST_F(DownloadTest, UntrustedServerIsRefused) {
  auto r = request();
  r.ca_file = certs_.wrong_ca_cert.string();
  auto result = download_artifact(r, cancel_, {});
  ASSERT_FALSE(result);
  EXPECT_EQ(server_->requests(), 0U);
}

TEST_F(DownloadTest, PlainHttpIsRefused) {
  auto r = request();
  r.url = "http://localhost:1/a.bin";
  auto result = download_artifact(r, cancel_, {});
  ASSERT_FALSE(result);
}

TEST_F(DownloadTest, NotEnoughSpaceIsCheckedFirst) {
  auto r = request();
  r.size = std::uint64_t{1} << 60U;
  auto result = download_artifact(r, cancel_, {});
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message().find("not enough disk space"), std::string::npos);
  EXPECT_EQ(server_->requests(), 0U);
}

TEST_F(DownloadTest, CancelStopsATransferUnderWay) {
  server_->throttle(4096, 20ms);
  std::thread canceller([&] {
    std::this_thread::sleep_for(150ms);
    cancel_.cancel();
  });
  const auto start = std::chrono::steady_clock::now();
  auto result = download_artifact(request(), cancel_, {});
  canceller.join();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().message(), "cancelled");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
}

TEST_F(DownloadTest, HashesAWholeFile) {
  auto file = dir_.write("whole", artifact_);
  auto hashed = hash_file(file);
  ASSERT_TRUE(hashed);
  EXPECT_EQ(hashed->first, artifact_.size());
  EXPECT_EQ(to_hex(hashed->second), hex_sha256(artifact_));
}

}  // namespace
}  // namespace tether::plugins::update
